//! The only file that touches keys, expiry and replication.
//!
//! State is redis-cell's: a plain string key holding the TAT as decimal nanoseconds
//! since the epoch, expiring at the TAT. Writes go through the low-level key API,
//! which Redis does not propagate by itself, so each write also replicates its
//! *effect* (`SET key tat PXAT ms` or `DEL key`): replicas and AOF replays need no
//! module and end with byte-identical values.

use std::os::raw::{c_char, c_int, c_longlong};

use redis_module::raw::{
    RedisModuleKey, REDISMODULE_KEYTYPE_EMPTY, REDISMODULE_KEYTYPE_STRING,
    REDISMODULE_NOTIFY_GENERIC, REDISMODULE_NOTIFY_STRING, REDISMODULE_READ, REDISMODULE_WRITE,
};

use crate::decimal::{format_u64, parse_digits, MAX_DIGITS};
use crate::error::Error;
use crate::ffi::{redis_api, Ctx, RString, OK};
use crate::gcra::Write;

const NANOS_PER_MILLI: i64 = 1_000_000;

/// An open key, closed on drop.
struct OpenKey(*mut RedisModuleKey);

impl OpenKey {
    /// Opening a missing key for reading gives a null handle, which the API treats as empty.
    unsafe fn open(ctx: Ctx, name: RString, mode: u32) -> Result<OpenKey, Error> {
        let mode = c_int::try_from(mode).map_err(|_| Error::Internal)?;
        Ok(OpenKey(redis_api!(RedisModule_OpenKey(ctx, name, mode))?))
    }

    unsafe fn is_string(&self) -> Result<bool, Error> {
        if self.0.is_null() {
            return Ok(false);
        }
        match redis_api!(RedisModule_KeyType(self.0))? as isize {
            REDISMODULE_KEYTYPE_EMPTY => Ok(false),
            REDISMODULE_KEYTYPE_STRING => Ok(true),
            _ => Err(Error::WrongType),
        }
    }
}

impl Drop for OpenKey {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the handle came from OpenKey and is closed exactly once.
            let _ = unsafe { redis_api!(RedisModule_CloseKey(self.0)) };
        }
    }
}

/// Reads the TAT at `name`: `None` when absent, an error for another type or a
/// string that is not a TAT. Opens read-only, so WATCH is not disturbed.
///
/// # Safety
/// `ctx` and `name` must belong to the running command.
pub unsafe fn read_tat(ctx: Ctx, name: RString) -> Result<Option<i64>, Error> {
    let key = OpenKey::open(ctx, name, REDISMODULE_READ)?;
    if !key.is_string()? {
        return Ok(None);
    }
    let mut len = 0usize;
    let ptr = redis_api!(RedisModule_StringDMA(
        key.0,
        &mut len,
        REDISMODULE_READ as c_int
    ))?;
    if ptr.is_null() {
        return Err(Error::CorruptState);
    }
    let value = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
    parse_digits(value).map(Some).ok_or(Error::CorruptState)
}

/// Applies the core's decision to the key and replicates its effect.
///
/// # Safety
/// `ctx` and `name` must belong to the running command, and the key must have been
/// checked by `read_tat` in this same command (so it is absent or a string).
pub unsafe fn apply(ctx: Ctx, name: RString, write: Write) -> Result<(), Error> {
    match write {
        Write::Nothing => Ok(()),
        Write::Set(tat) => set_tat(ctx, name, tat),
        Write::Delete => delete(ctx, name),
    }
}

unsafe fn set_tat(ctx: Ctx, name: RString, tat: i64) -> Result<(), Error> {
    let mut buf = [0u8; MAX_DIGITS];
    let digits = format_u64(u64::try_from(tat).map_err(|_| Error::Overflow)?, &mut buf);
    let expire_at_ms = expire_at_ms(tat);

    let key = OpenKey::open(ctx, name, REDISMODULE_READ | REDISMODULE_WRITE)?;
    // Resize and fill in place: no new string object when the key already exists.
    if redis_api!(RedisModule_StringTruncate(key.0, digits.len()))? != OK {
        return Err(Error::Internal);
    }
    let mut len = 0usize;
    let ptr = redis_api!(RedisModule_StringDMA(
        key.0,
        &mut len,
        REDISMODULE_WRITE as c_int
    ))?;
    if ptr.is_null() || len != digits.len() {
        // Unreachable for a string key; the zero-filled value would read as TAT 0 (a full bucket).
        return Err(Error::Internal);
    }
    std::ptr::copy_nonoverlapping(digits.as_ptr(), ptr.cast::<u8>(), len);
    if redis_api!(RedisModule_SetAbsExpire(key.0, expire_at_ms))? != OK {
        return Err(Error::Internal);
    }
    drop(key);

    redis_api!(RedisModule_Replicate(
        ctx,
        c"SET".as_ptr(),
        c"sbcl".as_ptr(),
        name,
        digits.as_ptr().cast::<c_char>(),
        digits.len(),
        c"PXAT".as_ptr(),
        expire_at_ms as c_longlong,
    ))?;
    notify(ctx, REDISMODULE_NOTIFY_STRING, c"set", name);
    notify(ctx, REDISMODULE_NOTIFY_GENERIC, c"expire", name);
    Ok(())
}

unsafe fn delete(ctx: Ctx, name: RString) -> Result<(), Error> {
    let key = OpenKey::open(ctx, name, REDISMODULE_READ | REDISMODULE_WRITE)?;
    if redis_api!(RedisModule_DeleteKey(key.0))? != OK {
        return Err(Error::Internal);
    }
    drop(key);
    redis_api!(RedisModule_Replicate(
        ctx,
        c"DEL".as_ptr(),
        c"s".as_ptr(),
        name
    ))?;
    notify(ctx, REDISMODULE_NOTIFY_GENERIC, c"del", name);
    Ok(())
}

/// Keyspace notifications, as SET ... PXAT and DEL would send them.
unsafe fn notify(ctx: Ctx, class: c_int, event: &std::ffi::CStr, name: RString) {
    let _ = redis_api!(RedisModule_NotifyKeyspaceEvent(
        ctx,
        class,
        event.as_ptr(),
        name
    ));
}

/// The key expires at its TAT, rounded up to the next whole millisecond.
fn expire_at_ms(tat: i64) -> i64 {
    // tat >= 0, so the sum cannot overflow: i64::MAX / 10^6 + 1 fits.
    tat / NANOS_PER_MILLI + i64::from(tat % NANOS_PER_MILLI != 0)
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
        assert_eq!(expire_at_ms(i64::MAX), 9_223_372_036_855);
    }
}
