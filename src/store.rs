//! Limiter state on keys: reading the TAT, and writing or deleting it with its effect
//! replicated.
//!
//! State is redis-cell's: a plain string key holding the TAT as decimal nanoseconds since
//! the epoch, expiring at the TAT. Writes go through the key API, which Redis does not
//! propagate by itself, so each write also replicates its *effect* (`SET key tat PXAT ms` or
//! `DEL key`): replicas and AOF replays need no module and end with byte-identical values.
//!
//! A write is prepared first (`prepare`, which can fail) and committed after (`commit`,
//! which cannot), so a command can check everything before it writes anything.

#![forbid(unsafe_code)]

use crate::decimal::{parse_digits, Digits};
use crate::error::Error;
use crate::gcra::TatChange;
use crate::host::{Arg, Call, Event, Key, ReadKey, Wakeup};
use crate::units::NANOS_PER_MILLI;

/// A limiter's key, opened once for the whole command.
pub struct Limiter<'a> {
    call: &'a Call<'a>,
    key: Key<'a>,
}

/// A change to a limiter's key with everything that can fail already done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreparedWrite {
    Keep,
    Set {
        tat: Digits,
        expire_at_ms: i64,
        expire_at: Digits,
    },
    Delete,
}

impl PreparedWrite {
    /// Whether the write stores a TAT (and may create a key).
    pub fn stores(&self) -> bool {
        matches!(self, PreparedWrite::Set { .. })
    }
}

/// Formats a change for the store: a TAT before the epoch cannot be stored.
#[inline]
pub fn prepare(change: TatChange) -> Result<PreparedWrite, Error> {
    Ok(match change {
        TatChange::Keep => PreparedWrite::Keep,
        TatChange::Delete => PreparedWrite::Delete,
        TatChange::Set(tat) => {
            let tat = u64::try_from(tat).map_err(|_| Error::Overflow)?;
            let expire_at_ms = expire_at_ms(tat);
            PreparedWrite::Set {
                tat: Digits::of(tat),
                expire_at_ms: i64::try_from(expire_at_ms).map_err(|_| Error::Overflow)?,
                expire_at: Digits::of(expire_at_ms),
            }
        }
    })
}

/// A limiter's TAT, read without opening the key for writing (CL.PEEK, also on read-only
/// replicas): errors as for `Limiter::open`.
pub fn read_tat<'a>(call: &'a Call<'a>, name: Arg<'a>) -> Result<Option<i64>, Error> {
    let key = ReadKey::open(call, name)?;
    key.read().map(parse_tat).transpose()
}

/// A limiter's TAT when a blocked call is released: `Err` when the key holds something that
/// is not a TAT.
pub fn read_tat_when_released(wakeup: &Wakeup<'_>, name: &[u8]) -> Result<Option<i64>, Error> {
    wakeup.read_string(name, |value| value.map(parse_tat).transpose())?
}

fn parse_tat(value: &[u8]) -> Result<i64, Error> {
    parse_digits(value).ok_or(Error::CorruptState)
}

impl<'a> Limiter<'a> {
    /// Opens the limiter's key and reads its TAT: `None` when the key is absent, `WRONGTYPE`
    /// for another type, `CorruptState` for a string that is not a TAT.
    pub fn open(call: &'a Call<'a>, name: Arg<'a>) -> Result<(Limiter<'a>, Option<i64>), Error> {
        let key = Key::open(call, name)?;
        let tat = key.read().map(parse_tat).transpose()?;
        Ok((Limiter { call, key }, tat))
    }

    /// The key's name.
    pub fn name(&self) -> &[u8] {
        self.key.name().bytes()
    }

    /// Writes, replicates and announces a prepared change: the value in place, its expiry,
    /// then `SET key tat PXAT ms` to replicas and AOF and the events SET would send (or the
    /// same for DEL). Cannot fail.
    pub fn commit(&mut self, write: &PreparedWrite) {
        let name = self.key.name();
        match write {
            PreparedWrite::Keep => return,
            PreparedWrite::Set {
                tat,
                expire_at_ms,
                expire_at,
            } => {
                self.key.overwrite(tat.as_bytes());
                self.key.expire_at(*expire_at_ms);
                self.call
                    .replicate_set_pxat(name, tat.as_bytes(), expire_at.as_bytes());
                self.call.notify(Event::Set, name);
                self.call.notify(Event::Expire, name);
            }
            PreparedWrite::Delete => {
                self.key.delete();
                self.call.replicate_del(name);
                self.call.notify(Event::Del, name);
            }
        }
        self.call.signal_modified(name);
    }
}

/// The key expires at its TAT, rounded up to the next whole millisecond.
fn expire_at_ms(tat: u64) -> u64 {
    const NANOS_PER_MILLI_U: u64 = NANOS_PER_MILLI as u64;
    // At most u64::MAX / 10^6 + 1: cannot overflow.
    tat / NANOS_PER_MILLI_U + u64::from(tat % NANOS_PER_MILLI_U != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_rounds_up_to_the_millisecond() {
        assert_eq!(expire_at_ms(0), 0);
        assert_eq!(expire_at_ms(1), 1);
        assert_eq!(expire_at_ms(1_000_000), 1);
        assert_eq!(expire_at_ms(1_000_001), 2);
        assert_eq!(expire_at_ms(1_763_856_000_123_456_789), 1_763_856_000_124);
        assert_eq!(expire_at_ms(i64::MAX as u64), 9_223_372_036_855);
    }

    #[test]
    fn prepare_formats_tat_and_expiry_and_refuses_negative_tats() {
        let prepared = prepare(TatChange::Set(1_763_856_000_123_456_789)).expect("valid");
        let PreparedWrite::Set {
            tat,
            expire_at_ms,
            expire_at,
        } = prepared
        else {
            panic!("expected a Set, got {prepared:?}");
        };
        assert_eq!(tat.as_bytes(), b"1763856000123456789");
        assert_eq!(expire_at_ms, 1_763_856_000_124);
        assert_eq!(expire_at.as_bytes(), b"1763856000124");
        assert_eq!(prepare(TatChange::Set(-1)), Err(Error::Overflow));
        assert_eq!(prepare(TatChange::Keep), Ok(PreparedWrite::Keep));
        assert_eq!(prepare(TatChange::Delete), Ok(PreparedWrite::Delete));
    }
}
