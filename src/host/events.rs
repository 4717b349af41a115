//! Callbacks the server makes outside commands: the INFO section, and configuration
//! changes.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};
use std::ptr::NonNull;

use redis_module::raw::{
    RedisModuleConfigChangeV1, RedisModuleCtx, RedisModuleEvent, RedisModuleInfoCtx,
};

use super::redis_api;
use super::server::Server;

/// A module INFO section.
pub trait InfoSource {
    fn fill(info: &mut Info<'_>);
}

/// The INFO being built, during an INFO callback.
pub struct Info<'a> {
    ctx: NonNull<RedisModuleInfoCtx>,
    _frame: PhantomData<&'a ()>,
}

impl Info<'_> {
    /// Starts a section, shown as `<module>_<name>`.
    pub fn section(&mut self, name: &CStr) {
        // SAFETY: the INFO context of the running callback.
        let _ = unsafe { redis_api!(RedisModule_InfoAddSection(self.ctx.as_ptr(), name.as_ptr())) };
    }

    /// Adds a field, shown as `<module>_<name>:<value>`.
    pub fn field(&mut self, name: &CStr, value: u64) {
        // SAFETY: as above.
        let _ = unsafe {
            redis_api!(RedisModule_InfoAddFieldULongLong(
                self.ctx.as_ptr(),
                name.as_ptr(),
                value
            ))
        };
    }
}

pub(super) unsafe extern "C" fn info_entry<S: InfoSource>(
    ctx: *mut RedisModuleInfoCtx,
    _for_crash: c_int,
) {
    if let Some(ctx) = NonNull::new(ctx) {
        let mut info = Info {
            ctx,
            _frame: PhantomData,
        };
        S::fill(&mut info);
    }
}

/// Reacts to configuration changes.
pub trait ConfigWatcher {
    /// `names` are the parameters CONFIG SET changed.
    fn changed(server: &Server<'_>, names: &[&CStr]);
}

pub(super) unsafe extern "C" fn config_entry<W: ConfigWatcher>(
    ctx: *mut RedisModuleCtx,
    _event: RedisModuleEvent,
    _subevent: u64,
    data: *mut c_void,
) {
    let (Some(ctx), Some(change)) = (
        NonNull::new(ctx),
        NonNull::new(data.cast::<RedisModuleConfigChangeV1>()),
    ) else {
        return;
    };
    // SAFETY: for the config event, `data` is a RedisModuleConfigChangeV1 that lives for the
    // callback, with `num_changes` C strings at `config_names`.
    let names: Vec<&CStr> = unsafe {
        let change = change.as_ref();
        let count = usize::try_from(change.num_changes).unwrap_or(0);
        if change.config_names.is_null() {
            return;
        }
        std::slice::from_raw_parts(change.config_names, count)
            .iter()
            .filter(|name| !name.is_null())
            .map(|&name| CStr::from_ptr(name))
            .collect()
    };
    // SAFETY: the event's context, valid for the callback.
    let server = unsafe { Server::new(ctx) };
    W::changed(&server, &names);
}
