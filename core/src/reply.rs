//! A decision as redis-cell's five integers: `[limited, limit, remaining, retry_after,
//! reset_after]`, durations in the unit the caller asked for.

#![forbid(unsafe_code)]

use crate::gcra::Decision;
use crate::units::{millis_rounded_up, NANOS_PER_MILLI};

/// The unit of retry_after and reset_after in a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// redis-cell's: whole milliseconds, then rounded up to seconds.
    Seconds,
    /// Rounded up: any sub-millisecond remainder counts as a millisecond.
    Milliseconds,
}

#[inline]
pub fn integers(decision: &Decision, unit: Unit) -> [i64; 5] {
    let convert = match unit {
        Unit::Seconds => seconds_rounded_up,
        Unit::Milliseconds => millis_rounded_up,
    };
    [
        i64::from(decision.limited),
        decision.capacity,
        decision.remaining,
        decision.retry_after_ns.map_or(-1, convert),
        convert(decision.reset_after_ns),
    ]
}

/// redis-cell's rounding: drop the sub-millisecond part, then round up to seconds.
pub fn seconds_rounded_up(ns: i64) -> i64 {
    let millis = ns.max(0) / NANOS_PER_MILLI;
    // At most i64::MAX / 10^6 + 999: cannot overflow.
    (millis + 999) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::NANOS_PER_SECOND;

    #[test]
    fn reply_seconds_drop_sub_millisecond_then_round_up() {
        assert_eq!(seconds_rounded_up(0), 0);
        assert_eq!(seconds_rounded_up(999_999), 0);
        assert_eq!(seconds_rounded_up(1_000_000), 1);
        assert_eq!(seconds_rounded_up(NANOS_PER_SECOND), 1);
        assert_eq!(seconds_rounded_up(NANOS_PER_SECOND + 999_999), 1);
        assert_eq!(seconds_rounded_up(NANOS_PER_SECOND + NANOS_PER_MILLI), 2);
        assert_eq!(seconds_rounded_up(i64::MAX), 9_223_372_037);
        assert_eq!(seconds_rounded_up(-5), 0);
    }
}
