//! Loading and unloading: what a module provides ([`Module`]), the C entry points Redis
//! calls (defined in the module's crate by [`export_module!`], as `redis_module!` does), and
//! the load window during which unloading is safe.

use std::ffi::CStr;
use std::os::raw::{c_int, c_void};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};

use redis_module::raw::{
    RedisModuleCtx, RedisModuleEvent, RedisModuleString, REDISMODULE_EVENT_EVENTLOOP,
    REDISMODULE_SUBEVENT_EVENTLOOP_BEFORE_SLEEP,
};

use super::registry::Loading;
use super::server::Server;
use super::{redis_api, ERR, OK};

/// A loadable module: its name and version, what it registers, and its unload policy.
pub trait Module {
    /// Short and without a dash: INFO prefixes the module's fields with it.
    const NAME: &'static CStr;
    /// As MODULE LIST shows it.
    const VERSION: i32;

    /// Registers everything; `arg_count` is the number of arguments after the path. An
    /// error is logged, and the load refused.
    fn load(module: &Loading<'_>, arg_count: usize) -> Result<(), &'static CStr>;

    /// Whether `MODULE UNLOAD` may go ahead, once the module's own load is over.
    fn unload(server: &Server<'_>) -> bool;
}

/// Defines `RedisModule_OnLoad` and `RedisModule_OnUnload` for a [`Module`].
macro_rules! export_module {
    ($module:ty) => {
        /// Called by Redis on `loadmodule` / `MODULE LOAD`.
        ///
        /// # Safety
        /// Called by Redis with a valid load context and `argc` argument strings.
        #[no_mangle]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn RedisModule_OnLoad(
            ctx: *mut redis_module::raw::RedisModuleCtx,
            argv: *mut *mut redis_module::raw::RedisModuleString,
            argc: std::os::raw::c_int,
        ) -> std::os::raw::c_int {
            // SAFETY: passed on as Redis gave them.
            unsafe { $crate::host::on_load::<$module>(ctx, argv, argc) }
        }

        /// Called by Redis on `MODULE UNLOAD`.
        ///
        /// # Safety
        /// Called by Redis with a valid context.
        #[no_mangle]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn RedisModule_OnUnload(
            ctx: *mut redis_module::raw::RedisModuleCtx,
        ) -> std::os::raw::c_int {
            // SAFETY: passed on as Redis gave it.
            unsafe { $crate::host::on_unload::<$module>(ctx) }
        }
    };
}
pub(crate) use export_module;

/// `RedisModule_OnLoad` for `M`.
///
/// # Safety
/// `ctx` must be Redis's load context, with `argc` argument strings.
pub unsafe fn on_load<M: Module>(
    ctx: *mut RedisModuleCtx,
    _argv: *mut *mut RedisModuleString,
    argc: c_int,
) -> c_int {
    let api_version = redis_module::raw::REDISMODULE_APIVER_1 as c_int;
    // SAFETY: Init reads the API table from Redis's load context and records name and version.
    let init = unsafe {
        redis_module::raw::Export_RedisModule_Init(ctx, M::NAME.as_ptr(), M::VERSION, api_version)
    };
    let Some(ctx) = NonNull::new(ctx) else {
        return ERR;
    };
    // SAFETY: the load context, valid for this call.
    let loading = unsafe { Loading::new(ctx) };
    if init != OK {
        // Init fills in the API table before it checks the name, so logging works here.
        loading.server().log_warning(
            c"redis-gcra: not loaded: a module named 'gcra' is already loaded (MODULE LIST shows it)",
        );
        return ERR;
    }
    // Only now, past the name check: a refused second load of the same path runs in the
    // same library (same statics) and must not reopen the loaded instance's unload guard.
    LOAD_IN_PROGRESS.store(true, Ordering::Relaxed);
    let loaded = loading
        .prepare()
        .and_then(|()| M::load(&loading, usize::try_from(argc).unwrap_or(usize::MAX)))
        .map(|()| watch_own_load(&loading));
    match loaded {
        Ok(()) => OK,
        Err(reason) => {
            loading.server().log_warning(reason);
            ERR
        }
    }
}

/// True from a successful `RedisModule_Init` until the event loop next goes to sleep, after
/// the command that loaded the module has finished. Until then no client can have queued one
/// of its commands, so unloading is safe: Redis 8 unloads a module whose `MODULE LOADEX ...
/// CONFIG` arguments it did not use, and aborts if the unload is refused.
static LOAD_IN_PROGRESS: AtomicBool = AtomicBool::new(false);

/// `RedisModule_OnUnload` for `M`: allowed while loading; afterwards `M` decides.
///
/// # Safety
/// `ctx` must be a valid context.
pub unsafe fn on_unload<M: Module>(ctx: *mut RedisModuleCtx) -> c_int {
    if LOAD_IN_PROGRESS.load(Ordering::Relaxed) {
        return OK;
    }
    let Some(ctx) = NonNull::new(ctx) else {
        return ERR;
    };
    // SAFETY: Redis's context, valid for this call.
    let server = unsafe { Server::new(ctx) };
    if M::unload(&server) {
        OK
    } else {
        ERR
    }
}

const EVENT_LOOP: RedisModuleEvent = RedisModuleEvent {
    id: REDISMODULE_EVENT_EVENTLOOP,
    dataver: 1,
};

/// Ends `LOAD_IN_PROGRESS` at the event loop's next sleep (Redis does not tell a module
/// about its own load). If Redis unloads the module before that, it drops the
/// subscription with it.
fn watch_own_load(loading: &Loading<'_>) {
    // SAFETY: the load context; `first_sleep` lives as long as the module.
    let subscribed = unsafe {
        redis_api!(RedisModule_SubscribeToServerEvent(
            loading.ctx(),
            EVENT_LOOP,
            Some(first_sleep)
        ))
    };
    if subscribed != Ok(OK) {
        // Without the event the load cannot be told from later: refuse unloads from now.
        LOAD_IN_PROGRESS.store(false, Ordering::Relaxed);
    }
}

/// The first time the event loop sleeps after the load: the load is over.
unsafe extern "C" fn first_sleep(
    ctx: *mut RedisModuleCtx,
    _event: RedisModuleEvent,
    subevent: u64,
    _data: *mut c_void,
) {
    if subevent != REDISMODULE_SUBEVENT_EVENTLOOP_BEFORE_SLEEP
        || !LOAD_IN_PROGRESS.swap(false, Ordering::Relaxed)
    {
        return;
    }
    // The event fires on every loop iteration, so the subscription ends; but not from here:
    // Redis reads the listener after this callback returns, so removing it now would free
    // memory still in use. A timer runs outside the event, on the next pass of the loop.
    // (If the timer cannot be made, the callback stays, returning at once.)
    // SAFETY: the event's context belongs to this module; `stop_watching_load` lives as long
    // as the module, which can no longer be unloaded.
    let _ = unsafe {
        redis_api!(RedisModule_CreateTimer(
            ctx,
            0,
            Some(stop_watching_load),
            std::ptr::null_mut()
        ))
    };
}

/// Ends the subscription that `first_sleep` no longer needs.
unsafe extern "C" fn stop_watching_load(ctx: *mut RedisModuleCtx, _data: *mut c_void) {
    // SAFETY: a timer's context of this module; a null callback removes the subscription.
    let _ = unsafe { redis_api!(RedisModule_SubscribeToServerEvent(ctx, EVENT_LOOP, None)) };
}
