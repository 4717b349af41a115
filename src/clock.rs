//! Where "now" comes from: the wall clock, in nanoseconds since the Unix epoch.
//!
//! The TAT is an absolute wall-clock time (redis-cell's format), so the clock must be
//! CLOCK_REALTIME. Redis 7.0 has no module API for microsecond time, so we read it here.

#![forbid(unsafe_code)]

use gcra_core::units::NANOS_PER_SECOND;
use gcra_core::Error;

use crate::host;

#[inline(always)]
pub fn now_ns() -> Result<i64, Error> {
    let (seconds, nanos) = host::wall_clock().ok_or(Error::Clock)?;
    epoch_nanos(seconds, nanos).ok_or(Error::Clock)
}

/// A clock before 1970, a malformed nanosecond field or a time past year 2262 is unusable.
fn epoch_nanos(seconds: i64, nanos: i64) -> Option<i64> {
    if seconds < 0 || !(0..NANOS_PER_SECOND).contains(&nanos) {
        return None;
    }
    seconds.checked_mul(NANOS_PER_SECOND)?.checked_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_plausible_time() {
        let now = now_ns().expect("clock");
        // After 2020-01-01 and before 2200-01-01.
        assert!(now > 1_577_836_800 * NANOS_PER_SECOND, "{now}");
        assert!(now < 7_258_118_400 * NANOS_PER_SECOND, "{now}");
    }

    #[test]
    fn rejects_unusable_readings() {
        assert_eq!(epoch_nanos(-1, 0), None);
        assert_eq!(epoch_nanos(0, -1), None);
        assert_eq!(epoch_nanos(0, NANOS_PER_SECOND), None);
        assert_eq!(epoch_nanos(i64::MAX, 0), None);
        assert_eq!(epoch_nanos(9_223_372_036, 854_775_808), None);
        assert_eq!(epoch_nanos(9_223_372_036, 854_775_807), Some(i64::MAX));
        assert_eq!(epoch_nanos(1, 5), Some(NANOS_PER_SECOND + 5));
    }
}
