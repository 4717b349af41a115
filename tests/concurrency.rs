//! Exactness under concurrency: many pipelined clients hammering one key get exactly the
//! rate the limit allows, no more and (within scheduling slack) no less.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

const CAPACITY: i64 = 10; // max_burst 9
const INTERVAL: Duration = Duration::from_millis(5); // 200 per second
const CLIENTS: usize = 8;
const BATCH: usize = 20;
const RUN: Duration = Duration::from_millis(1500);

/// Runs the hammering and returns (allowed calls, wall time from first send to last reply).
fn hammer(server: &Server, key: &'static str) -> (i64, Duration) {
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let mut con = server.connect();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let deadline = Instant::now() + RUN;
                let mut allowed = 0i64;
                while Instant::now() < deadline {
                    let mut pipe = redis::pipe();
                    for _ in 0..BATCH {
                        pipe.cmd("CL.THROTTLE").arg(key).arg(&["9", "200", "1"]);
                    }
                    let replies: Vec<Vec<i64>> = pipe.query(&mut con).expect("pipeline");
                    allowed += replies.iter().filter(|r| r[0] == 0).count() as i64;
                }
                allowed
            })
        })
        .collect();
    // The clock starts before the workers are released: on a busy machine this thread may
    // run late after the barrier, and a late start would make the bound too tight.
    let started = Instant::now();
    barrier.wait();
    let allowed = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    (allowed, started.elapsed())
}

fn assert_exact(allowed: i64, elapsed: Duration) {
    let ideal = CAPACITY + (elapsed.as_nanos() / INTERVAL.as_nanos()) as i64;
    // Every call falls inside the measured window, so never more than the limit allows over
    // it (+1 for the server's wall clock against this monotonic one).
    assert!(
        allowed <= ideal + 1,
        "allowed {allowed} > {ideal} in {elapsed:?}"
    );
    // Start-up and wind-down of the clients cost a few intervals, scheduling a few percent.
    let slack = ideal / 20 + 10;
    assert!(
        allowed >= ideal - slack,
        "allowed {allowed} < {ideal} - {slack} in {elapsed:?}"
    );
}

#[test]
fn many_clients_on_one_key_get_exactly_the_rate() {
    let server = Server::start();
    let (allowed, elapsed) = hammer(&server, "hot");
    eprintln!("alone: {allowed} allowed in {elapsed:?}");
    assert_exact(allowed, elapsed);
}

#[test]
fn the_same_holds_with_a_replica_attached_and_it_ends_identical() {
    let primary = Server::start();
    let replica = start_replica(&primary, false);
    let (allowed, elapsed) = hammer(&primary, "hot");
    eprintln!("with a replica: {allowed} allowed in {elapsed:?}");
    assert_exact(allowed, elapsed);
    let mut p = primary.connect();
    wait_for_replicas(&mut p, 1);
    let mut r = replica.connect();
    assert_eq!(key_state(&mut p, b"hot"), key_state(&mut r, b"hot"));
}
