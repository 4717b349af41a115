//! A key opened by the running command: checked when opened, closed when dropped.

use std::marker::PhantomData;
use std::os::raw::{c_char, c_int};
use std::ptr::NonNull;

use redis_module::raw::{
    RedisModuleCtx, RedisModuleKey, RedisModuleString, REDISMODULE_KEYTYPE_EMPTY,
    REDISMODULE_KEYTYPE_STRING, REDISMODULE_READ, REDISMODULE_WRITE,
};

use super::call::{Arg, Call};
use super::redis_api;
use gcra_core::Error;

/// A key that is absent or holds a string (anything else is refused at `open`), open for
/// reading and writing until dropped. Writes cannot fail (see the host module's docs).
pub struct Key<'a> {
    call: &'a Call<'a>,
    raw: NonNull<RedisModuleKey>,
    name: Arg<'a>,
    holds_string: bool,
}

impl<'a> Key<'a> {
    /// Opens `name` for reading and writing: `WRONGTYPE` if it holds anything but a string.
    pub fn open(call: &'a Call<'a>, name: Arg<'a>) -> Result<Key<'a>, Error> {
        let mode = (REDISMODULE_READ | REDISMODULE_WRITE) as c_int;
        // SAFETY: the context and the name belong to the running command. The handle is
        // closed by Drop, before the command returns (the key cannot outlive `'a`).
        let raw = unsafe { redis_api!(RedisModule_OpenKey(call.ctx(), name.raw(), mode)) }?;
        let raw = NonNull::new(raw).ok_or(Error::Internal)?;
        let mut key = Key {
            call,
            raw,
            name,
            holds_string: false,
        };
        // SAFETY: `raw` is an open key handle.
        match unsafe { redis_api!(RedisModule_KeyType(raw.as_ptr())) }? as isize {
            REDISMODULE_KEYTYPE_EMPTY => {}
            REDISMODULE_KEYTYPE_STRING => key.holds_string = true,
            _ => return Err(Error::WrongType),
        }
        Ok(key)
    }

    pub fn name(&self) -> Arg<'a> {
        self.name
    }

    /// The string's bytes, or `None` when the key is absent. (Redis converts an int-encoded
    /// value to raw encoding here; the bytes stay the same.)
    pub fn read(&self) -> Option<&[u8]> {
        // SAFETY: `raw` is open; the slice borrows `self`, so the key can be neither written
        // nor closed while it is alive.
        self.holds_string.then(|| unsafe { read_string(self.raw) })
    }

    /// Replaces the value with `value` in place (creating the string if the key is absent).
    pub fn overwrite(&mut self, value: &[u8]) {
        // SAFETY: `raw` is open for writing and absent or a string.
        let status =
            unsafe { redis_api!(RedisModule_StringTruncate(self.raw.as_ptr(), value.len())) };
        self.call
            .log_if_failed(status, c"redis-gcra: RedisModule_StringTruncate failed");
        let mut len = 0usize;
        // SAFETY: as above; the key now holds a string of `value.len()` bytes.
        let ptr = unsafe {
            redis_api!(RedisModule_StringDMA(
                self.raw.as_ptr(),
                &mut len,
                REDISMODULE_WRITE as c_int
            ))
        };
        match ptr {
            Ok(ptr) if !ptr.is_null() && len == value.len() => {
                // SAFETY: DMA gives `len` writable bytes of the key's own buffer, which
                // cannot overlap `value` (that borrow would conflict with `&mut self`).
                unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), ptr.cast::<u8>(), len) };
            }
            _ => self.call.log_if_failed(
                Ok(super::ERR),
                c"redis-gcra: RedisModule_StringDMA for writing failed",
            ),
        }
        self.holds_string = true;
    }

    /// Sets the key's absolute expiry, in milliseconds since the epoch.
    pub fn expire_at(&mut self, at_ms: i64) {
        // SAFETY: `raw` is open for writing and holds a string.
        let status = unsafe { redis_api!(RedisModule_SetAbsExpire(self.raw.as_ptr(), at_ms)) };
        self.call
            .log_if_failed(status, c"redis-gcra: RedisModule_SetAbsExpire failed");
    }

    pub fn delete(&mut self) {
        // SAFETY: `raw` is open for writing.
        let status = unsafe { redis_api!(RedisModule_DeleteKey(self.raw.as_ptr())) };
        self.call
            .log_if_failed(status, c"redis-gcra: RedisModule_DeleteKey failed");
        self.holds_string = false;
    }
}

/// A key opened for reading only (so it also works on read-only replicas), checked like
/// `Key`, closed when dropped.
pub struct ReadKey<'a> {
    /// None when the key does not exist (a read-only open gives no handle then).
    raw: Option<NonNull<RedisModuleKey>>,
    holds_string: bool,
    _command: PhantomData<&'a Call<'a>>,
}

impl<'a> ReadKey<'a> {
    pub fn open(call: &'a Call<'a>, name: Arg<'a>) -> Result<ReadKey<'a>, Error> {
        // SAFETY: the context and the name belong to the running command, alive for `'a`.
        unsafe { ReadKey::open_raw(call.ctx(), name.raw()) }
    }

    /// # Safety
    /// `ctx` and `name` must be valid for `'a`.
    unsafe fn open_raw(
        ctx: *mut RedisModuleCtx,
        name: *mut RedisModuleString,
    ) -> Result<ReadKey<'a>, Error> {
        // SAFETY: the caller's contract; the handle, if any, is closed by Drop, within `'a`.
        let raw = unsafe { redis_api!(RedisModule_OpenKey(ctx, name, REDISMODULE_READ as c_int)) }?;
        let mut key = ReadKey {
            raw: NonNull::new(raw),
            holds_string: false,
            _command: PhantomData,
        };
        if let Some(raw) = key.raw {
            // SAFETY: `raw` is an open key handle.
            match unsafe { redis_api!(RedisModule_KeyType(raw.as_ptr())) }? as isize {
                REDISMODULE_KEYTYPE_EMPTY => {}
                REDISMODULE_KEYTYPE_STRING => key.holds_string = true,
                _ => return Err(Error::WrongType),
            }
        }
        Ok(key)
    }

    /// The string's bytes, or `None` when the key is absent.
    pub fn read(&self) -> Option<&[u8]> {
        let raw = self.raw.filter(|_| self.holds_string)?;
        // SAFETY: as for `Key::read`.
        Some(unsafe { read_string(raw) })
    }
}

impl Drop for ReadKey<'_> {
    fn drop(&mut self) {
        if let Some(raw) = self.raw {
            // SAFETY: the handle came from OpenKey and is closed exactly once, here.
            let _ = unsafe { redis_api!(RedisModule_CloseKey(raw.as_ptr())) };
        }
    }
}

/// Calls `read` with the bytes of the string at `name` in `ctx`'s database (`None` if absent),
/// outside any command (a blocked client's reply): the name is made into a string for the
/// read and freed after it.
pub(super) fn read_named<R>(
    ctx: NonNull<RedisModuleCtx>,
    name: &[u8],
    read: impl FnOnce(Option<&[u8]>) -> R,
) -> Result<R, Error> {
    let ctx = ctx.as_ptr();
    // SAFETY: a live context; CreateString copies `name`'s bytes.
    let string = unsafe {
        redis_api!(RedisModule_CreateString(
            ctx,
            name.as_ptr().cast::<c_char>(),
            name.len()
        ))
    }?;
    let string = NonNull::new(string).ok_or(Error::Internal)?;
    // SAFETY: the context and the string live until the string is freed below, after the
    // key is dropped.
    let result = unsafe { ReadKey::open_raw(ctx, string.as_ptr()) }.map(|key| read(key.read()));
    // SAFETY: made above, freed once (no automatic memory in this module).
    let _ = unsafe { redis_api!(RedisModule_FreeString(ctx, string.as_ptr())) };
    result
}

/// The bytes of an open string key.
///
/// # Safety
/// `raw` must be an open key holding a string; the slice is valid until the key is written
/// or closed (callers tie it to a borrow of their key).
unsafe fn read_string<'k>(raw: NonNull<RedisModuleKey>) -> &'k [u8] {
    let mut len = 0usize;
    // SAFETY: the caller's contract.
    let ptr = unsafe {
        redis_api!(RedisModule_StringDMA(
            raw.as_ptr(),
            &mut len,
            REDISMODULE_READ as c_int
        ))
    };
    match ptr {
        // SAFETY: DMA gives a pointer to the string's `len` bytes.
        Ok(ptr) if !ptr.is_null() => unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) },
        // Unreachable for a string key; empty bytes are not a valid state and read as such.
        _ => &[],
    }
}

impl Drop for Key<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle came from OpenKey and is closed exactly once, here.
        let _ = unsafe { redis_api!(RedisModule_CloseKey(self.raw.as_ptr())) };
    }
}
