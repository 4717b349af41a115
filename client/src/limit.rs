//! A validated limit: `count` tokens per `period`, with bursts of up to `capacity` at once.

use std::fmt;
use std::time::Duration;

use gcra_core::gcra;
use gcra_core::Error as CoreError;

/// Why a limit is not valid. Every constructor returns one of these instead of panicking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitError {
    /// A capacity of 0: a bucket must hold at least one token.
    ZeroCapacity,
    /// A capacity above 2^63 - 1 (the command's `max_burst + 1`).
    CapacityTooLarge,
    /// A count of 0 tokens per period.
    ZeroCount,
    /// A count above 2^63 - 1.
    CountTooLarge,
    /// A period of zero.
    ZeroPeriod,
    /// A period longer than 2^63 - 1 nanoseconds (about 292 years).
    PeriodTooLong,
    /// More than one token per nanosecond.
    RateTooHigh,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitError::ZeroCapacity => "capacity must be at least 1",
            LimitError::CapacityTooLarge => "capacity must be at most 2^63 - 1",
            LimitError::ZeroCount => "count must be at least 1",
            LimitError::CountTooLarge => "count must be at most 2^63 - 1",
            LimitError::ZeroPeriod => "period must be above zero",
            LimitError::PeriodTooLong => "period must be at most 2^63 - 1 nanoseconds",
            LimitError::RateTooHigh => "more than one token per nanosecond",
        })
    }
}

impl std::error::Error for LimitError {}

/// `count` tokens per `period` at the steady rate; a full bucket holds `capacity` tokens
/// (redis-cell's `max_burst + 1`), which can be taken at once.
///
/// Exact: the emission interval is `period / count` in integer nanoseconds, as the module
/// computes it from the same arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    capacity: u64,
    count: u64,
    period_ns: i64,
    core: gcra::Limit,
}

const NANOS_PER_SECOND: u64 = 1_000_000_000;

impl Limit {
    /// `count` per `period`, with bursts of `capacity`.
    pub fn new(capacity: u64, count: u64, period: Duration) -> Result<Limit, LimitError> {
        if capacity == 0 {
            return Err(LimitError::ZeroCapacity);
        }
        let max_burst = i64::try_from(capacity - 1).map_err(|_| LimitError::CapacityTooLarge)?;
        let count_i = i64::try_from(count).map_err(|_| LimitError::CountTooLarge)?;
        if period.is_zero() {
            return Err(LimitError::ZeroPeriod);
        }
        let period_ns = i64::try_from(period.as_nanos()).map_err(|_| LimitError::PeriodTooLong)?;
        let core =
            gcra::Limit::new(max_burst, count_i, period_ns).map_err(|error| match error {
                CoreError::InvalidMaxBurst => LimitError::CapacityTooLarge,
                CoreError::InvalidCount => LimitError::ZeroCount,
                CoreError::InvalidPeriod => LimitError::ZeroPeriod,
                _ => LimitError::RateTooHigh,
            })?;
        Ok(Limit {
            capacity,
            count,
            period_ns,
            core,
        })
    }

    /// `count` per second, bursts of `count` (one second's worth).
    pub fn per_second(count: u64) -> Result<Limit, LimitError> {
        Limit::new(count, count, Duration::from_secs(1))
    }

    /// `count` per minute, bursts of `count`.
    pub fn per_minute(count: u64) -> Result<Limit, LimitError> {
        Limit::new(count, count, Duration::from_secs(60))
    }

    /// `count` per hour, bursts of `count`.
    pub fn per_hour(count: u64) -> Result<Limit, LimitError> {
        Limit::new(count, count, Duration::from_secs(3600))
    }

    /// `count` per day, bursts of `count`.
    pub fn per_day(count: u64) -> Result<Limit, LimitError> {
        Limit::new(count, count, Duration::from_secs(86_400))
    }

    /// The same rate with another capacity.
    pub fn with_capacity(self, capacity: u64) -> Result<Limit, LimitError> {
        Limit::new(capacity, self.count, self.period())
    }

    /// The tokens a full bucket holds.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The command's `max_burst`: `capacity - 1`.
    pub fn max_burst(&self) -> u64 {
        self.capacity - 1
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.period_ns.unsigned_abs())
    }

    /// Time between two tokens at the steady rate: `period / count`, in whole nanoseconds.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.core.interval_ns().unsigned_abs())
    }

    /// The core's limit, as the module builds it from the same arguments.
    pub(crate) fn core(&self) -> &gcra::Limit {
        &self.core
    }

    /// `max_burst count period` as the command takes them (the period in decimal seconds).
    pub(crate) fn args(&self) -> [String; 3] {
        let period = self.period_ns.unsigned_abs();
        let (seconds, nanos) = (period / NANOS_PER_SECOND, period % NANOS_PER_SECOND);
        let period = if nanos == 0 {
            seconds.to_string()
        } else {
            format!("{seconds}.{nanos:09}")
        };
        [self.max_burst().to_string(), self.count.to_string(), period]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_validate_instead_of_panicking() {
        assert_eq!(Limit::per_second(0), Err(LimitError::ZeroCapacity));
        assert_eq!(
            Limit::new(1, 0, Duration::from_secs(1)),
            Err(LimitError::ZeroCount)
        );
        assert_eq!(
            Limit::new(1, 1, Duration::ZERO),
            Err(LimitError::ZeroPeriod)
        );
        assert_eq!(
            Limit::new(1, 1, Duration::from_secs(u64::MAX)),
            Err(LimitError::PeriodTooLong)
        );
        assert_eq!(
            Limit::new(1, 2_000_000_000, Duration::from_secs(1)),
            Err(LimitError::RateTooHigh)
        );
        assert_eq!(
            Limit::new(u64::MAX, 1, Duration::from_secs(1)),
            Err(LimitError::CapacityTooLarge)
        );
        assert_eq!(
            Limit::new(1, u64::MAX, Duration::from_secs(1)),
            Err(LimitError::CountTooLarge)
        );
        assert!(Limit::new(1 << 63, 1, Duration::from_secs(1)).is_err());
        assert!(Limit::new((1 << 63) - 1, 1, Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn arguments_are_the_commands() {
        let limit = Limit::per_minute(30).and_then(|l| l.with_capacity(16));
        assert_eq!(
            limit.map(|l| l.args()),
            Ok(["15".to_string(), "30".to_string(), "60".to_string()])
        );
        let limit = Limit::new(5, 1, Duration::from_millis(250));
        assert_eq!(
            limit.map(|l| l.args()),
            Ok(["4".to_string(), "1".to_string(), "0.250000000".to_string()])
        );
        let limit = Limit::per_second(3).map(|l| l.interval());
        assert_eq!(limit, Ok(Duration::from_nanos(333_333_333)));
    }
}
