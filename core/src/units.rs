//! Time units, shared by the parser, the core, the stored state and the replies.

#![forbid(unsafe_code)]

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
pub const NANOS_PER_MILLI: i64 = 1_000_000;

/// Nanoseconds as whole milliseconds, rounded up (any remainder counts as a millisecond;
/// negative times count as 0). Expiries, release times and `MS` replies all round this way,
/// so that nothing expires, wakes or is announced early.
#[inline(always)]
pub fn millis_rounded_up(ns: i64) -> i64 {
    let ns = ns.max(0);
    // At most i64::MAX / 10^6 + 1: cannot overflow.
    ns / NANOS_PER_MILLI + i64::from(ns % NANOS_PER_MILLI != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_up_any_remainder() {
        assert_eq!(millis_rounded_up(0), 0);
        assert_eq!(millis_rounded_up(1), 1);
        assert_eq!(millis_rounded_up(NANOS_PER_MILLI), 1);
        assert_eq!(millis_rounded_up(NANOS_PER_MILLI + 1), 2);
        assert_eq!(
            millis_rounded_up(1_763_856_000_123_456_789),
            1_763_856_000_124
        );
        assert_eq!(millis_rounded_up(i64::MAX), 9_223_372_036_855);
        assert_eq!(millis_rounded_up(-1), 0);
    }
}
