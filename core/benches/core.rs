//! Nanoseconds per decision of the pure GCRA core (no Redis, no clock).
//! Run: `cargo bench -p gcra-core` (scripts/bench prints it too).

use std::hint::black_box;
use std::time::Instant;

use gcra_core::args::parse_throttle;
use gcra_core::gcra::{decide, Limit, TatChange};
use gcra_core::pipeline::{self, Command, Context, Stored};
use gcra_core::reply::{integers, Unit};
use gcra_core::units::NANOS_PER_SECOND;
use gcra_core::Error;

/// The clock of a benchmark: "now" moves with the iteration.
struct Clock(i64);

impl Context for Clock {
    fn now(&mut self) -> Result<i64, Error> {
        Ok(self.0)
    }
    fn draw(&mut self) -> u64 {
        0
    }
    fn can_block(&mut self) -> bool {
        false
    }
}

const T0: i64 = 1_763_856_000 * NANOS_PER_SECOND;
const ITERATIONS: i64 = 20_000_000;

/// Runs `step` ITERATIONS times, best of five, and prints ns per iteration.
fn measure(name: &str, mut step: impl FnMut(i64)) {
    let best = (0..5)
        .map(|_| {
            let start = Instant::now();
            for i in 0..ITERATIONS {
                step(i);
            }
            start.elapsed().as_secs_f64() * 1e9 / ITERATIONS as f64
        })
        .fold(f64::INFINITY, f64::min);
    println!("{name:<40} {best:>6.1} ns");
}

fn main() {
    let limit = Limit::new(1_000_000, 1_000_000, NANOS_PER_SECOND).expect("valid limit");
    let mut tat = None;
    measure("decide: allowed (state carried over)", |i| {
        let decision = decide(black_box(&limit), 1, tat, T0 + i * 2_000).expect("in range");
        if let TatChange::Set(new_tat) = decision.change {
            tat = Some(new_tat);
        }
        black_box(integers(&decision, Unit::Seconds));
    });

    let strict = Limit::new(0, 1, 86_400 * NANOS_PER_SECOND).expect("valid limit");
    let stored = Some(T0 + 86_400 * NANOS_PER_SECOND);
    measure("decide: limited", |i| {
        let decision = decide(black_box(&strict), 1, stored, T0 + i).expect("in range");
        black_box(integers(&decision, Unit::Seconds));
    });

    measure("decide: peek", |i| {
        black_box(decide(black_box(&limit), 0, stored, T0 + i).expect("in range"));
    });

    let args: [&[u8]; 4] = [b"15", b"30", b"60", b"1"];
    measure("parse arguments + decide", |i| {
        let request = parse_throttle(black_box(&args)).expect("valid");
        black_box(decide(&request.limit, request.quantity, None, T0 + i).expect("in range"));
    });

    // The module's whole request: key and arguments in, reply and write out.
    let call: [&[u8]; 4] = [b"user123", b"15", b"30", b"60"];
    let stored = b"1763856000000000000";
    measure("pipeline: parse + decide (stored TAT)", |i| {
        let request = pipeline::parse(Command::Throttle, black_box(&call)).expect("valid");
        let answer = pipeline::decide(
            &request,
            &mut [Stored::Value(stored)][..],
            &mut Clock(T0 + i),
        )
        .expect("in range");
        black_box(answer);
    });
}
