//! Counters of decisions, shown by INFO in the section `gcra_stats`.
//!
//! Commands run on Redis's main thread only, so each counter is bumped with a relaxed load
//! and store (no locked instruction on the hot path); atomics just make the statics safe.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use gcra_core::pipeline::Tally;

use crate::host::{Info, InfoSource};

static ALLOWED: AtomicU64 = AtomicU64::new(0);
static LIMITED: AtomicU64 = AtomicU64::new(0);
static PEEKED: AtomicU64 = AtomicU64::new(0);
static REFUNDED: AtomicU64 = AtomicU64::new(0);
static ERRORS: AtomicU64 = AtomicU64::new(0);
static BLOCKED: AtomicU64 = AtomicU64::new(0);
static RELEASED: AtomicU64 = AtomicU64::new(0);
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
}

/// Counts one call, as the pipeline tallied it.
pub fn count(tally: Tally) {
    match tally {
        Tally::Allowed => bump(&ALLOWED),
        Tally::Limited => bump(&LIMITED),
        Tally::Peeked => bump(&PEEKED),
        Tally::Refunded => bump(&REFUNDED),
        // A reservation counts as blocked now, and as released when answered.
        Tally::Blocked => bump(&BLOCKED),
        // A SOFT refusal inside the band: limited, and suppressed.
        Tally::Suppressed => {
            bump(&LIMITED);
            bump(&SUPPRESSED);
        }
    }
}

/// A call answered with an error.
pub fn record_error() {
    bump(&ERRORS);
}

/// A blocked call answered when its reservation was due.
pub fn record_released() {
    bump(&RELEASED);
}

/// The INFO section. Redis prefixes names with the module's: `gcra_stats`, `gcra_allowed`...
pub struct Stats;

impl InfoSource for Stats {
    fn fill(info: &mut Info<'_>) {
        info.section(c"stats");
        let fields = [
            (c"allowed", &ALLOWED),
            (c"limited", &LIMITED),
            (c"peeked", &PEEKED),
            (c"refunded", &REFUNDED),
            (c"errors", &ERRORS),
            (c"blocked", &BLOCKED),
            (c"released", &RELEASED),
            (c"suppressed", &SUPPRESSED),
        ];
        for (name, counter) in fields {
            info.field(name, counter.load(Relaxed));
        }
        // A gauge: blocked calls waiting for their release now.
        let waiting = crate::host::waiting_clients();
        info.field(c"waiting", u64::try_from(waiting).unwrap_or(u64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tally_lands_in_its_counters() {
        let all = [
            &ALLOWED,
            &LIMITED,
            &PEEKED,
            &REFUNDED,
            &BLOCKED,
            &SUPPRESSED,
        ];
        let snapshot = || all.map(|c| c.load(Relaxed));
        let cases = [
            (Tally::Allowed, [1, 0, 0, 0, 0, 0]),
            (Tally::Limited, [0, 1, 0, 0, 0, 0]),
            (Tally::Peeked, [0, 0, 1, 0, 0, 0]),
            (Tally::Refunded, [0, 0, 0, 1, 0, 0]),
            (Tally::Blocked, [0, 0, 0, 0, 1, 0]),
            (Tally::Suppressed, [0, 1, 0, 0, 0, 1]),
        ];
        for (tally, bumped) in cases {
            let before = snapshot();
            count(tally);
            let after = snapshot();
            for ((b, a), n) in before.iter().zip(after).zip(bumped) {
                assert_eq!(a, b + n, "{tally:?}");
            }
        }
    }
}
