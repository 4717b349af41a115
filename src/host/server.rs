//! The server, as seen outside commands: its log, and the memory facts the module reads.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr::NonNull;

use redis_module::raw::RedisModuleCtx;

use super::redis_api;
use super::strings::log;

/// The server, as seen from a load context or an event callback.
pub struct Server<'a> {
    ctx: NonNull<RedisModuleCtx>,
    _frame: PhantomData<&'a ()>,
}

impl Server<'_> {
    /// # Safety
    /// `ctx` must be valid for the returned value's lifetime.
    pub(super) unsafe fn new<'a>(ctx: NonNull<RedisModuleCtx>) -> Server<'a> {
        Server {
            ctx,
            _frame: PhantomData,
        }
    }
}

impl Server<'_> {
    pub fn log_warning(&self, message: &CStr) {
        log(self.ctx.as_ptr(), c"warning", message);
    }

    pub fn log_notice(&self, message: &CStr) {
        log(self.ctx.as_ptr(), c"notice", message);
    }

    /// `maxmemory_policy` and `maxmemory` from INFO memory.
    pub fn memory_limits(&self) -> Option<(Vec<u8>, u64)> {
        let ctx = self.ctx.as_ptr();
        // SAFETY: a valid context; the INFO data is freed below, after its fields are copied.
        let info = unsafe { redis_api!(RedisModule_GetServerInfo(ctx, c"memory".as_ptr())) }
            .ok()
            .and_then(NonNull::new)?;
        let mut error: c_int = 0;
        // SAFETY: `info` is live INFO data; field names are static C strings.
        let maxmemory = unsafe {
            redis_api!(RedisModule_ServerInfoGetFieldUnsigned(
                info.as_ptr(),
                c"maxmemory".as_ptr(),
                &mut error
            ))
        };
        // SAFETY: as above; the string belongs to `info`, so it is copied before the free.
        let policy = unsafe {
            match redis_api!(RedisModule_ServerInfoGetFieldC(
                info.as_ptr(),
                c"maxmemory_policy".as_ptr()
            )) {
                Ok(ptr) if !ptr.is_null() => CStr::from_ptr(ptr).to_bytes().to_vec(),
                _ => Vec::new(),
            }
        };
        // SAFETY: `info` came from GetServerInfo and is freed once.
        let _ = unsafe { redis_api!(RedisModule_FreeServerInfo(ctx, info.as_ptr())) };
        match (maxmemory, error) {
            (Ok(maxmemory), 0) => Some((policy, maxmemory)),
            _ => None,
        }
    }
}
