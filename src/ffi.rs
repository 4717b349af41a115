//! Thin wrappers over the raw module API that are not about keys: calling an API
//! function that may be missing, reading arguments, and replying.

use std::ffi::CStr;
use std::os::raw::c_int;

use redis_module::raw::{RedisModuleCtx, RedisModuleString};

use crate::error::Error;

/// Calls `RedisModule_<name>` if the server provides it, else `Err(Error::MissingApi)`.
/// Never unwraps: an old server gets an error reply, not an abort. Callers wrap the
/// call in `unsafe` and vouch for the pointers they pass.
macro_rules! redis_api {
    ($name:ident($($arg:expr),* $(,)?)) => {
        match redis_module::raw::$name {
            Some(function) => Ok(function($($arg),*)),
            None => Err($crate::error::Error::MissingApi),
        }
    };
}
pub(crate) use redis_api;

/// Whether the server provides `RedisModule_<name>` (read by copy: the pointers are `static mut`).
macro_rules! has_api {
    ($name:ident) => {{
        let function = redis_module::raw::$name;
        function.is_some()
    }};
}
pub(crate) use has_api;

pub type Ctx = *mut RedisModuleCtx;
pub type RString = *mut RedisModuleString;

pub const OK: c_int = redis_module::raw::REDISMODULE_OK as c_int;
pub const ERR: c_int = redis_module::raw::REDISMODULE_ERR as c_int;

/// Writes a line to the server's log at warning level.
///
/// # Safety
/// `ctx` must be a valid context (or null, which logs under no module name).
pub unsafe fn log_warning(ctx: Ctx, message: &CStr) {
    log(ctx, c"warning", message);
}

/// Writes a line to the server's log at notice level.
///
/// # Safety
/// As for `log_warning`.
pub unsafe fn log_notice(ctx: Ctx, message: &CStr) {
    log(ctx, c"notice", message);
}

unsafe fn log(ctx: Ctx, level: &CStr, message: &CStr) {
    // The message goes through "%s", never as the format itself.
    let _ = redis_api!(RedisModule_Log(
        ctx,
        level.as_ptr(),
        c"%s".as_ptr(),
        message.as_ptr()
    ));
}

/// The bytes of a module string, borrowed for as long as the string lives.
///
/// # Safety
/// `string` must be a valid module string that outlives the returned slice.
pub unsafe fn bytes<'a>(string: RString) -> Result<&'a [u8], Error> {
    let mut len = 0usize;
    let ptr = redis_api!(RedisModule_StringPtrLen(string, &mut len))?;
    if ptr.is_null() {
        return Err(Error::Internal);
    }
    Ok(std::slice::from_raw_parts(ptr.cast::<u8>(), len))
}

/// Replies with an array of integers.
///
/// # Safety
/// `ctx` must be the context of the running command.
pub unsafe fn reply_integers(ctx: Ctx, values: &[i64]) -> Result<(), Error> {
    let len = std::os::raw::c_long::try_from(values.len()).map_err(|_| Error::Internal)?;
    redis_api!(RedisModule_ReplyWithArray(ctx, len))?;
    for &value in values {
        redis_api!(RedisModule_ReplyWithLongLong(ctx, value))?;
    }
    Ok(())
}

/// Replies with the error's static message.
///
/// # Safety
/// `ctx` must be the context of the running command.
pub unsafe fn reply_error(ctx: Ctx, error: Error) {
    // If even ReplyWithError is missing there is no way left to answer.
    let _ = redis_api!(RedisModule_ReplyWithError(ctx, error.message().as_ptr()));
}

/// Whether used memory is over `maxmemory` (never when no limit is set), as Redis judges it
/// for deny-oom commands.
///
/// # Safety
/// Call from a command handler (the main thread).
pub unsafe fn over_maxmemory() -> bool {
    redis_api!(RedisModule_GetUsedMemoryRatio()).is_ok_and(|ratio| ratio > 1.0)
}
