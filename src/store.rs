//! The only file that touches keys, expiry and replication.
//!
//! State is redis-cell's: a plain string key holding the TAT as decimal nanoseconds
//! since the epoch, expiring at the TAT. Writes go through the low-level key API,
//! which Redis does not propagate by itself, so each write also replicates its
//! *effect* (`SET key tat PXAT ms` or `DEL key`): replicas and AOF replays need no
//! module and end with byte-identical values.

use std::os::raw::{c_char, c_int};
use std::sync::atomic::{AtomicPtr, Ordering};

use redis_module::raw::{
    RedisModuleKey, RedisModuleString, REDISMODULE_KEYTYPE_EMPTY, REDISMODULE_KEYTYPE_STRING,
    REDISMODULE_NOTIFY_GENERIC, REDISMODULE_NOTIFY_STRING,
    REDISMODULE_OPTION_NO_IMPLICIT_SIGNAL_MODIFIED, REDISMODULE_READ, REDISMODULE_WRITE,
};

use crate::decimal::{format_u64, parse_digits, MAX_DIGITS};
use crate::error::Error;
use crate::ffi::{redis_api, Ctx, RString, OK};
use crate::gcra::{Write, NANOS_PER_MILLI};

/// An open key, closed on drop.
struct OpenKey(*mut RedisModuleKey);

impl OpenKey {
    /// A null handle (what a read-only open of a missing key gives) counts as empty.
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

/// The interned "PXAT" argument of the replicated SET, created once at load so that
/// each replication allocates one object fewer.
static PXAT: AtomicPtr<RedisModuleString> = AtomicPtr::new(std::ptr::null_mut());

/// Prepares the store at module load. The module signals modified keys itself, so that
/// opening a key for writing does not invalidate WATCH when nothing gets written.
///
/// # Safety
/// `ctx` must be the context passed to `RedisModule_OnLoad`.
pub unsafe fn init(ctx: Ctx) -> Result<(), Error> {
    redis_api!(RedisModule_SetModuleOptions(
        ctx,
        REDISMODULE_OPTION_NO_IMPLICIT_SIGNAL_MODIFIED as c_int
    ))?;
    // A null context: the string is never freed automatically (it lives as long as the module).
    let pxat = redis_api!(RedisModule_CreateString(
        std::ptr::null_mut(),
        c"PXAT".as_ptr(),
        4
    ))?;
    if pxat.is_null() {
        return Err(Error::Internal);
    }
    PXAT.store(pxat, Ordering::Release);
    Ok(())
}

/// A limiter's key, opened once for the whole command (read, then maybe write).
pub struct LimiterKey {
    ctx: Ctx,
    name: RString,
    key: OpenKey,
}

impl LimiterKey {
    /// # Safety
    /// `ctx` and `name` must belong to the running command and outlive the handle.
    pub unsafe fn open(ctx: Ctx, name: RString) -> Result<LimiterKey, Error> {
        let key = OpenKey::open(ctx, name, REDISMODULE_READ | REDISMODULE_WRITE)?;
        Ok(LimiterKey { ctx, name, key })
    }

    /// The stored TAT: `None` when absent, an error for another type or a string that
    /// is not a TAT.
    pub unsafe fn tat(&self) -> Result<Option<i64>, Error> {
        if !self.key.is_string()? {
            return Ok(None);
        }
        let mut len = 0usize;
        let ptr = redis_api!(RedisModule_StringDMA(
            self.key.0,
            &mut len,
            REDISMODULE_READ as c_int
        ))?;
        if ptr.is_null() {
            return Err(Error::CorruptState);
        }
        let value = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
        parse_digits(value).map(Some).ok_or(Error::CorruptState)
    }

    /// Applies the core's decision and replicates its effect. Call `tat` first: it
    /// checks that the key is absent or a string.
    pub unsafe fn apply(&self, write: Write) -> Result<(), Error> {
        match write {
            Write::Nothing => return Ok(()),
            Write::Set(tat) => self.set_tat(tat)?,
            Write::Delete => self.delete()?,
        }
        redis_api!(RedisModule_SignalModifiedKey(self.ctx, self.name))?;
        Ok(())
    }

    unsafe fn set_tat(&self, tat: i64) -> Result<(), Error> {
        let (ctx, name, key) = (self.ctx, self.name, self.key.0);
        let mut tat_buf = [0u8; MAX_DIGITS];
        let tat_digits = format_u64(
            u64::try_from(tat).map_err(|_| Error::Overflow)?,
            &mut tat_buf,
        );
        let expire_at_ms = expire_at_ms(tat);
        let mut ms_buf = [0u8; MAX_DIGITS];
        let ms_digits = format_u64(
            u64::try_from(expire_at_ms).map_err(|_| Error::Overflow)?,
            &mut ms_buf,
        );

        // Resize and fill in place: no new string object when the key already exists.
        if redis_api!(RedisModule_StringTruncate(key, tat_digits.len()))? != OK {
            return Err(Error::Internal);
        }
        let mut len = 0usize;
        let ptr = redis_api!(RedisModule_StringDMA(
            key,
            &mut len,
            REDISMODULE_WRITE as c_int
        ))?;
        if ptr.is_null() || len != tat_digits.len() {
            // Unreachable for a string key; the zero-filled value would read as TAT 0 (a full bucket).
            return Err(Error::Internal);
        }
        std::ptr::copy_nonoverlapping(tat_digits.as_ptr(), ptr.cast::<u8>(), len);
        if redis_api!(RedisModule_SetAbsExpire(key, expire_at_ms))? != OK {
            return Err(Error::Internal);
        }

        let pxat = PXAT.load(Ordering::Acquire);
        if pxat.is_null() {
            return Err(Error::Internal);
        }
        redis_api!(RedisModule_Replicate(
            ctx,
            c"SET".as_ptr(),
            c"sbsb".as_ptr(),
            name,
            tat_digits.as_ptr().cast::<c_char>(),
            tat_digits.len(),
            pxat,
            ms_digits.as_ptr().cast::<c_char>(),
            ms_digits.len(),
        ))?;
        notify(ctx, REDISMODULE_NOTIFY_STRING, c"set", name);
        notify(ctx, REDISMODULE_NOTIFY_GENERIC, c"expire", name);
        Ok(())
    }

    unsafe fn delete(&self) -> Result<(), Error> {
        if redis_api!(RedisModule_DeleteKey(self.key.0))? != OK {
            return Err(Error::Internal);
        }
        redis_api!(RedisModule_Replicate(
            self.ctx,
            c"DEL".as_ptr(),
            c"s".as_ptr(),
            self.name
        ))?;
        notify(self.ctx, REDISMODULE_NOTIFY_GENERIC, c"del", self.name);
        Ok(())
    }
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
