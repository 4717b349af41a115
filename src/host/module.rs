//! The module's entry points (load, unload) and what only happens at load: checking the
//! API, registering commands, the INFO section and event handlers; plus logging and the
//! server facts that the module reads outside commands.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use redis_module::raw::{
    RedisModuleConfigChangeV1, RedisModuleCtx, RedisModuleEvent, RedisModuleInfoCtx,
    RedisModuleString, REDISMODULE_EVENT_CONFIG, REDISMODULE_EVENT_EVENTLOOP,
    REDISMODULE_OPTION_NO_IMPLICIT_SIGNAL_MODIFIED, REDISMODULE_SUBEVENT_EVENTLOOP_BEFORE_SLEEP,
};

use super::call::{entry, Command};
use super::command_info::{describe, legacy_key_positions};
use super::{has_api, redis_api, ERR, OK};

/// Called by Redis on `loadmodule` / `MODULE LOAD`.
///
/// # Safety
/// Called by Redis with a valid load context and `argc` argument strings.
#[no_mangle]
pub unsafe extern "C" fn RedisModule_OnLoad(
    ctx: *mut RedisModuleCtx,
    _argv: *mut *mut RedisModuleString,
    argc: c_int,
) -> c_int {
    let api_version = redis_module::raw::REDISMODULE_APIVER_1 as c_int;
    // SAFETY: Init reads the API table from Redis's load context and records name and version.
    let init = unsafe {
        redis_module::raw::Export_RedisModule_Init(
            ctx,
            crate::MODULE_NAME.as_ptr(),
            crate::MODULE_VERSION,
            api_version,
        )
    };
    let Some(ctx) = NonNull::new(ctx) else {
        return ERR;
    };
    let loading = Loading {
        ctx,
        _frame: PhantomData,
    };
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
        .and_then(|()| crate::load(&loading, usize::try_from(argc).unwrap_or(usize::MAX)))
        .map(|()| loading.watch_own_load());
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

/// Called by Redis on `MODULE UNLOAD`: allowed while loading; afterwards the module decides.
///
/// # Safety
/// Called by Redis with a valid context.
#[no_mangle]
pub unsafe extern "C" fn RedisModule_OnUnload(ctx: *mut RedisModuleCtx) -> c_int {
    if LOAD_IN_PROGRESS.load(Ordering::Relaxed) {
        return OK;
    }
    let Some(ctx) = NonNull::new(ctx) else {
        return ERR;
    };
    let server = Server {
        ctx,
        _frame: PhantomData,
    };
    if crate::unload(&server) {
        OK
    } else {
        ERR
    }
}

/// The server, as seen from a load context or an event callback.
pub struct Server<'a> {
    ctx: NonNull<RedisModuleCtx>,
    _frame: PhantomData<&'a ()>,
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

/// The module while it loads: what it registers.
pub struct Loading<'a> {
    ctx: NonNull<RedisModuleCtx>,
    _frame: PhantomData<&'a ()>,
}

/// Why a command could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterError {
    /// Another module defines a command of that name.
    NameTaken,
    /// The server refused the command's docs or key specs.
    Describe,
}

/// Every API the module calls: checked at load, so no call can miss one later.
fn has_every_api() -> bool {
    [
        has_api!(RedisModule_CreateCommand),
        has_api!(RedisModule_GetCommand),
        has_api!(RedisModule_SetCommandInfo),
        has_api!(RedisModule_SetModuleOptions),
        has_api!(RedisModule_CreateString),
        has_api!(RedisModule_FreeString),
        has_api!(RedisModule_RegisterInfoFunc),
        has_api!(RedisModule_InfoAddSection),
        has_api!(RedisModule_InfoAddFieldULongLong),
        has_api!(RedisModule_StringPtrLen),
        has_api!(RedisModule_OpenKey),
        has_api!(RedisModule_CloseKey),
        has_api!(RedisModule_KeyType),
        has_api!(RedisModule_StringDMA),
        has_api!(RedisModule_StringTruncate),
        has_api!(RedisModule_SetAbsExpire),
        has_api!(RedisModule_DeleteKey),
        has_api!(RedisModule_Replicate),
        has_api!(RedisModule_NotifyKeyspaceEvent),
        has_api!(RedisModule_SignalModifiedKey),
        has_api!(RedisModule_GetUsedMemoryRatio),
        has_api!(RedisModule_IsKeysPositionRequest),
        has_api!(RedisModule_KeyAtPos),
        has_api!(RedisModule_ReplyWithArray),
        has_api!(RedisModule_ReplyWithLongLong),
        has_api!(RedisModule_ReplyWithError),
        has_api!(RedisModule_GetContextFlags),
        has_api!(RedisModule_BlockClient),
        has_api!(RedisModule_UnblockClient),
        has_api!(RedisModule_GetBlockedClientPrivateData),
        has_api!(RedisModule_CreateTimer),
        has_api!(RedisModule_StopTimer),
        has_api!(RedisModule_SetDisconnectCallback),
    ]
    .iter()
    .all(|&present| present)
}

impl Loading<'_> {
    pub fn server(&self) -> Server<'_> {
        Server {
            ctx: self.ctx,
            _frame: PhantomData,
        }
    }

    /// What the host needs before any command runs: every API, the module option that keeps
    /// an open-for-writing key from counting as modified, and the interned PXAT argument.
    fn prepare(&self) -> Result<(), &'static CStr> {
        const TOO_OLD: &CStr =
            c"redis-gcra: not loaded: this server is too old (Redis 7.0 or newer is needed)";
        if !has_every_api() {
            return Err(TOO_OLD);
        }
        let ctx = self.ctx.as_ptr();
        let option = REDISMODULE_OPTION_NO_IMPLICIT_SIGNAL_MODIFIED as c_int;
        // SAFETY: the load context.
        unsafe { redis_api!(RedisModule_SetModuleOptions(ctx, option)) }.map_err(|_| TOO_OLD)?;
        // A null context: the string is never freed automatically (it lives as long as the
        // module, which cannot be unloaded).
        // SAFETY: a static 4-byte buffer.
        let pxat = unsafe {
            redis_api!(RedisModule_CreateString(
                std::ptr::null_mut(),
                c"PXAT".as_ptr(),
                4
            ))
        }
        .map_err(|_| TOO_OLD)?;
        if pxat.is_null() {
            return Err(TOO_OLD);
        }
        PXAT.store(pxat, Ordering::Release);
        Ok(())
    }

    /// Registers `C` as its spec says: name, flags, key positions, docs and ACL categories.
    pub fn register_command<C: Command>(&self) -> Result<(), RegisterError> {
        let spec = &C::SPEC;
        let ctx = self.ctx.as_ptr();
        let (first, last, step) = legacy_key_positions(&spec.keys);
        // SAFETY: the load context; static C strings; `entry::<C>` lives as long as the module.
        let created = unsafe {
            redis_api!(RedisModule_CreateCommand(
                ctx,
                spec.name.as_ptr(),
                Some(entry::<C>),
                spec.flags.as_ptr(),
                first,
                last,
                step,
            ))
        };
        // SAFETY: the load context and a static name.
        let command = unsafe { redis_api!(RedisModule_GetCommand(ctx, spec.name.as_ptr())) };
        let command = match (created, command) {
            (Ok(OK), Ok(command)) if !command.is_null() => command,
            // CreateCommand fails for valid names and flags only when the name is taken.
            _ => return Err(RegisterError::NameTaken),
        };
        // SAFETY: `command` was just returned by GetCommand during load.
        unsafe { describe(command, spec) }.map_err(|_| RegisterError::Describe)?;
        // SAFETY: a plain read of a function pointer set at load (absent on Redis 7.0).
        let set_categories = unsafe { redis_module::raw::RedisModule_SetCommandACLCategories };
        if let Some(set_categories) = set_categories {
            // SAFETY: `command` is valid; the categories are a static C string.
            if unsafe { set_categories(command, spec.acl_categories.as_ptr()) } != OK {
                self.server().log_warning(
                    c"redis-gcra: could not set ACL categories; continuing without them",
                );
            }
        }
        Ok(())
    }

    /// Ends `LOAD_IN_PROGRESS` at the event loop's next sleep (Redis does not tell a module
    /// about its own load). If Redis unloads the module before that, it drops the
    /// subscription with it.
    fn watch_own_load(&self) {
        // SAFETY: the load context; `first_sleep` lives as long as the module.
        let subscribed = unsafe {
            redis_api!(RedisModule_SubscribeToServerEvent(
                self.ctx.as_ptr(),
                EVENT_LOOP,
                Some(first_sleep)
            ))
        };
        if subscribed != Ok(OK) {
            // Without the event the load cannot be told from later: refuse unloads from now.
            LOAD_IN_PROGRESS.store(false, Ordering::Relaxed);
        }
    }

    /// Registers `S` as the module's INFO section.
    pub fn register_info<S: InfoSource>(&self) -> Result<(), RegisterError> {
        // SAFETY: the load context; `info_entry::<S>` lives as long as the module.
        match unsafe {
            redis_api!(RedisModule_RegisterInfoFunc(
                self.ctx.as_ptr(),
                Some(info_entry::<S>)
            ))
        } {
            Ok(OK) => Ok(()),
            _ => Err(RegisterError::Describe),
        }
    }

    /// Calls `W::changed` after each CONFIG SET (Redis 7.0+ and Valkey; ignored elsewhere).
    pub fn watch_config<W: ConfigWatcher>(&self) {
        let config_event = RedisModuleEvent {
            id: REDISMODULE_EVENT_CONFIG,
            dataver: 1,
        };
        // SAFETY: the load context; `config_entry::<W>` lives as long as the module.
        let _ = unsafe {
            redis_api!(RedisModule_SubscribeToServerEvent(
                self.ctx.as_ptr(),
                config_event,
                Some(config_entry::<W>)
            ))
        };
    }
}

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

unsafe extern "C" fn info_entry<S: InfoSource>(ctx: *mut RedisModuleInfoCtx, _for_crash: c_int) {
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

const EVENT_LOOP: RedisModuleEvent = RedisModuleEvent {
    id: REDISMODULE_EVENT_EVENTLOOP,
    dataver: 1,
};

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

unsafe extern "C" fn config_entry<W: ConfigWatcher>(
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
    let server = Server {
        ctx,
        _frame: PhantomData,
    };
    W::changed(&server, &names);
}

/// The interned "PXAT" argument of replicated SETs, created once at load so that each
/// replication allocates one object fewer.
static PXAT: AtomicPtr<RedisModuleString> = AtomicPtr::new(std::ptr::null_mut());

pub(super) fn interned_pxat() -> Option<*mut RedisModuleString> {
    let pxat = PXAT.load(Ordering::Acquire);
    (!pxat.is_null()).then_some(pxat)
}

fn log(ctx: *mut RedisModuleCtx, level: &CStr, message: &CStr) {
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
