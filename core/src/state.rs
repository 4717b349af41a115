//! The stored state, redis-cell's: a plain string key holding the TAT as decimal
//! nanoseconds since the epoch, expiring at the TAT rounded up to the millisecond.
//!
//! Reading: what was found at a key ([`Stored`]) becomes a TAT or an error. Writing: a
//! [`TatChange`] becomes a checked [`Write`], so that a caller can check everything before it
//! writes anything, and [`digits`] gives the bytes to store.

#![forbid(unsafe_code)]

use crate::decimal::{parse_digits, Digits};
use crate::error::Error;
use crate::gcra::TatChange;
use crate::units::millis_rounded_up;

/// What a limiter's key held when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored<'a> {
    /// No key: a full bucket.
    Absent,
    /// A string's bytes.
    Value(&'a [u8]),
    /// Another type (a list, a hash...).
    WrongType,
}

impl Stored<'_> {
    /// The stored TAT: `None` for no key; `CorruptState` for a string that is not a TAT,
    /// `WrongType` for another type.
    #[inline(always)]
    pub fn tat(self) -> Result<Option<i64>, Error> {
        match self {
            Stored::Absent => Ok(None),
            Stored::Value(bytes) => parse_digits(bytes).map(Some).ok_or(Error::CorruptState),
            Stored::WrongType => Err(Error::WrongType),
        }
    }
}

/// A change to a limiter's key, checked: applying it cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Keep,
    /// Store `tat`, expiring at `expire_at_ms` (the TAT rounded up to the millisecond).
    Set {
        tat: u64,
        expire_at_ms: i64,
    },
    Delete,
}

impl Write {
    /// Checks a change: a TAT before the epoch cannot be stored.
    #[inline(always)]
    pub fn prepare(change: TatChange) -> Result<Write, Error> {
        Ok(match change {
            TatChange::Keep => Write::Keep,
            TatChange::Delete => Write::Delete,
            TatChange::Set(tat) => Write::Set {
                tat: u64::try_from(tat).map_err(|_| Error::Overflow)?,
                expire_at_ms: millis_rounded_up(tat),
            },
        })
    }

    /// Whether the write stores a TAT (and may create a key).
    pub fn stores(&self) -> bool {
        matches!(self, Write::Set { .. })
    }
}

/// The stored value of a TAT, and its expiry as `PXAT` takes it: decimal digits.
#[inline]
pub fn digits(tat: u64, expire_at_ms: i64) -> (Digits, Digits) {
    // The expiry is not negative: the TAT is not.
    (Digits::of(tat), Digits::of(expire_at_ms.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_formats_tat_and_expiry_and_refuses_negative_tats() {
        let prepared = Write::prepare(TatChange::Set(1_763_856_000_123_456_789)).expect("valid");
        let Write::Set { tat, expire_at_ms } = prepared else {
            panic!("expected a Set, got {prepared:?}");
        };
        assert_eq!(expire_at_ms, 1_763_856_000_124);
        let (tat, expire_at) = digits(tat, expire_at_ms);
        assert_eq!(tat.as_bytes(), b"1763856000123456789");
        assert_eq!(expire_at.as_bytes(), b"1763856000124");
        assert_eq!(Write::prepare(TatChange::Set(-1)), Err(Error::Overflow));
        assert_eq!(Write::prepare(TatChange::Keep), Ok(Write::Keep));
        assert_eq!(Write::prepare(TatChange::Delete), Ok(Write::Delete));
    }

    #[test]
    fn expiry_rounds_up_to_the_millisecond() {
        let expiry = |tat| match Write::prepare(TatChange::Set(tat)) {
            Ok(Write::Set { expire_at_ms, .. }) => expire_at_ms,
            other => panic!("{other:?}"),
        };
        assert_eq!(expiry(0), 0);
        assert_eq!(expiry(1), 1);
        assert_eq!(expiry(1_000_000), 1);
        assert_eq!(expiry(1_000_001), 2);
        assert_eq!(expiry(i64::MAX), 9_223_372_036_855);
    }

    #[test]
    fn stored_values_read_as_tats_or_errors() {
        assert_eq!(Stored::Absent.tat(), Ok(None));
        assert_eq!(
            Stored::Value(b"1763856000123456789").tat(),
            Ok(Some(1_763_856_000_123_456_789))
        );
        assert_eq!(Stored::Value(b"12x").tat(), Err(Error::CorruptState));
        assert_eq!(Stored::Value(b"-5").tat(), Err(Error::CorruptState));
        assert_eq!(Stored::Value(b"").tat(), Err(Error::CorruptState));
        assert_eq!(Stored::WrongType.tat(), Err(Error::WrongType));
    }
}
