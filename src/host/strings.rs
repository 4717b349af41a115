//! The C strings the host hands to Redis outside any command's arguments: log lines, and
//! the "PXAT" argument of replicated SETs, interned once at load.

use std::ffi::CStr;
use std::sync::atomic::{AtomicPtr, Ordering};

use redis_module::raw::{RedisModuleCtx, RedisModuleString};

use super::redis_api;

/// The interned "PXAT" argument of replicated SETs, created once at load so that each
/// replication allocates one object fewer.
static PXAT: AtomicPtr<RedisModuleString> = AtomicPtr::new(std::ptr::null_mut());

/// Creates the interned "PXAT" (at load, before any command runs).
pub(super) fn intern_pxat() -> Option<()> {
    // A null context: the string is never freed automatically (it lives as long as the
    // module, which cannot be unloaded once loaded).
    // SAFETY: a static 4-byte buffer.
    let pxat = unsafe {
        redis_api!(RedisModule_CreateString(
            std::ptr::null_mut(),
            c"PXAT".as_ptr(),
            4
        ))
    }
    .ok()?;
    if pxat.is_null() {
        return None;
    }
    PXAT.store(pxat, Ordering::Release);
    Some(())
}

pub(super) fn interned_pxat() -> Option<*mut RedisModuleString> {
    let pxat = PXAT.load(Ordering::Acquire);
    (!pxat.is_null()).then_some(pxat)
}

/// Writes `message` to the server's log at `level` ("warning", "notice"...).
pub(super) fn log(ctx: *mut RedisModuleCtx, level: &CStr, message: &CStr) {
    // SAFETY: a valid (or null) context; the message goes through "%s", never as the format.
    let _ = unsafe {
        redis_api!(RedisModule_Log(
            ctx,
            level.as_ptr(),
            c"%s".as_ptr(),
            message.as_ptr()
        ))
    };
}

/// Logs a status the server should never return, at warning level.
pub(super) fn log_unexpected(ctx: *mut RedisModuleCtx, what: &CStr) {
    log(ctx, c"warning", what);
}
