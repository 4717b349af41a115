//! Counters of decisions, shown by INFO in the section `gcra_stats`.
//!
//! Commands run on Redis's main thread only, so each counter is bumped with a relaxed load
//! and store (no locked instruction on the hot path); atomics just make the statics safe.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::gcra::Decision;
use crate::host::{Info, InfoSource};
use crate::modes::Outcome;

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

/// Counts one call's (combined) decision.
pub fn record(decision: &Decision, quantity: i64) {
    bump(match quantity {
        _ if decision.limited => &LIMITED,
        0 => &PEEKED,
        q if q < 0 => &REFUNDED,
        _ => &ALLOWED,
    });
}

pub fn record_error() {
    bump(&ERRORS);
}

/// A call with a mode: a reservation counts as blocked (and later as released), a SOFT
/// refusal inside the band as limited and suppressed, anything else as `record` does.
pub fn record_outcome(outcome: &Outcome, quantity: i64) {
    if outcome.release.is_some() {
        bump(&BLOCKED);
        return;
    }
    record(&outcome.decision, quantity);
    if outcome.suppressed {
        bump(&SUPPRESSED);
    }
}

/// A blocked call answered when its reservation was due.
pub fn record_released() {
    bump(&RELEASED);
}

/// A CL.PEEK.
pub fn record_peek() {
    bump(&PEEKED);
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
    use crate::gcra::{decide, Limit};

    #[test]
    fn each_call_lands_in_one_counter() {
        let limit = Limit::new(0, 1, 60_000_000_000).expect("valid");
        let snapshot = || [&ALLOWED, &LIMITED, &PEEKED, &REFUNDED].map(|c| c.load(Relaxed));
        let before = snapshot();
        let allowed = decide(&limit, 1, None, 1).expect("decision");
        record(&allowed, 1);
        let limited = decide(&limit, 1, Some(60_000_000_001), 1).expect("decision");
        record(&limited, 1);
        record(&decide(&limit, 0, None, 1).expect("decision"), 0);
        record(&decide(&limit, -1, None, 1).expect("decision"), -1);
        let after = snapshot();
        for (b, a) in before.iter().zip(after) {
            assert_eq!(a, b + 1);
        }
    }
}
