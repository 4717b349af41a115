//! redis-gcra: CL.THROTTLE for Redis and Valkey. Module registration only.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable
    )
)]

// The pure parts are public so that benches and fuzz targets can drive them directly.
pub mod args;
mod clock;
mod command;
mod command_info;
pub mod decimal;
pub mod error;
mod ffi;
pub mod gcra;
mod memory_policy;
mod stats;
mod store;

use std::ffi::CStr;
use std::os::raw::c_int;

use redis_module::raw::RedisModuleCommand;

use crate::ffi::{has_api, redis_api, ERR, OK};

/// Redis's allocator in the server (so INFO memory counts us); the system one in unit tests,
/// benches and fuzzing (feature `system-alloc`), where no server provides it.
#[cfg(not(any(test, feature = "system-alloc")))]
#[global_allocator]
static ALLOCATOR: redis_module::alloc::RedisAlloc = redis_module::alloc::RedisAlloc;
#[cfg(any(test, feature = "system-alloc"))]
#[global_allocator]
static ALLOCATOR: std::alloc::System = std::alloc::System;

/// MODULE LIST shows major * 10000 + minor * 100 + patch of the crate version.
const MODULE_VERSION: i32 = version_number();

const fn version_number() -> i32 {
    parse_version_part(env!("CARGO_PKG_VERSION_MAJOR")) * 10_000
        + parse_version_part(env!("CARGO_PKG_VERSION_MINOR")) * 100
        + parse_version_part(env!("CARGO_PKG_VERSION_PATCH"))
}

// Evaluated at compile time only: an out-of-range index would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
const fn parse_version_part(part: &str) -> i32 {
    let bytes = part.as_bytes();
    let mut value = 0;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as i32;
        i += 1;
    }
    value
}

struct CommandSpec {
    name: &'static CStr,
    handler: unsafe extern "C" fn(ffi::Ctx, *mut ffi::RString, c_int) -> c_int,
    flags: &'static CStr,
    /// First key, last key, step: the legacy key positions (0 0 0 when the handler reports
    /// them itself, with the getkeys-api flag).
    keys: (c_int, c_int, c_int),
    /// Shown on Redis 7.2+ and Valkey; Redis 7.0 has no API for module ACL categories.
    acl_categories: &'static CStr,
    describe: unsafe fn(*mut RedisModuleCommand) -> Result<(), error::Error>,
}

const COMMANDS: [CommandSpec; 2] = [
    CommandSpec {
        name: c"CL.THROTTLE",
        handler: command::throttle_command,
        // Not deny-oom: under maxmemory, peeks, limited calls and refunds (which free memory)
        // still answer; only a call that would charge tokens gets the OOM error.
        flags: c"write fast",
        keys: (1, 1, 1),
        acl_categories: c"write fast",
        describe: command_info::describe_throttle,
    },
    CommandSpec {
        name: c"CL.THROTTLEALL",
        handler: command::throttle_all_command,
        // O(numlimits), so not "fast"; its keys are reported by the handler (see command_info).
        flags: c"write getkeys-api",
        keys: (0, 0, 0),
        acl_categories: c"write",
        describe: command_info::describe_throttle_all,
    },
];

/// Called by Redis on `loadmodule` / `MODULE LOAD`. Our own entry point rather than the
/// `redis_module!` macro's: it says why a load fails, refuses arguments, and registers
/// nothing we do not use (the macro's defrag registration logs a warning on every load on
/// Redis 7.0 and Valkey).
///
/// # Safety
/// Called by Redis with a valid load context and `argc` argument strings.
#[no_mangle]
pub unsafe extern "C" fn RedisModule_OnLoad(
    ctx: ffi::Ctx,
    _argv: *mut ffi::RString,
    argc: c_int,
) -> c_int {
    let name = c"gcra";
    let api_version = redis_module::raw::REDISMODULE_APIVER_1 as c_int;
    if redis_module::raw::Export_RedisModule_Init(ctx, name.as_ptr(), MODULE_VERSION, api_version)
        != OK
    {
        // Init fills in the API table before it checks the name, so logging works here.
        ffi::log_warning(
            ctx,
            c"redis-gcra: not loaded: a module named 'gcra' is already loaded (MODULE LIST shows it)",
        );
        return ERR;
    }
    if argc != 0 {
        ffi::log_warning(
            ctx,
            c"redis-gcra: not loaded: it takes no arguments; remove them after the path in loadmodule or MODULE LOAD",
        );
        return ERR;
    }
    match load(ctx) {
        Ok(()) => OK,
        Err(reason) => {
            ffi::log_warning(ctx, reason);
            ERR
        }
    }
}

/// Called by Redis on `MODULE UNLOAD`: always refuses. A client may have a CL.THROTTLE
/// queued in MULTI, and its EXEC would call into the unmapped library and crash the server.
///
/// # Safety
/// Called by Redis with a valid context.
#[no_mangle]
pub unsafe extern "C" fn RedisModule_OnUnload(ctx: ffi::Ctx) -> c_int {
    ffi::log_warning(
        ctx,
        c"redis-gcra: refusing MODULE UNLOAD (a CL.THROTTLE queued in MULTI would crash the server at EXEC); to remove the module, restart the server without its loadmodule line",
    );
    ERR
}

unsafe fn load(ctx: ffi::Ctx) -> Result<(), &'static CStr> {
    const TOO_OLD: &CStr =
        c"redis-gcra: not loaded: this server is too old (Redis 7.0 or newer is needed)";
    // Refuse to load rather than fail on the first call.
    let needed = [
        has_api!(RedisModule_SetAbsExpire),
        has_api!(RedisModule_StringDMA),
        has_api!(RedisModule_StringTruncate),
        has_api!(RedisModule_Replicate),
        has_api!(RedisModule_SetCommandInfo),
        has_api!(RedisModule_GetUsedMemoryRatio),
    ];
    if needed.contains(&false) {
        return Err(TOO_OLD);
    }
    store::init(ctx).map_err(|_| TOO_OLD)?;
    for spec in &COMMANDS {
        register(ctx, spec)?;
    }
    redis_api!(RedisModule_RegisterInfoFunc(ctx, Some(stats::info))).map_err(|_| TOO_OLD)?;
    memory_policy::watch(ctx);
    Ok(())
}

unsafe fn register(ctx: ffi::Ctx, spec: &CommandSpec) -> Result<(), &'static CStr> {
    let (first, last, step) = spec.keys;
    let created = redis_api!(RedisModule_CreateCommand(
        ctx,
        spec.name.as_ptr(),
        Some(spec.handler),
        spec.flags.as_ptr(),
        first,
        last,
        step,
    ))
    .map_err(|_| TAKEN)?;
    let command = redis_api!(RedisModule_GetCommand(ctx, spec.name.as_ptr())).map_err(|_| TAKEN)?;
    if created != OK || command.is_null() {
        return Err(TAKEN);
    }
    (spec.describe)(command).map_err(|_| {
        c"redis-gcra: not loaded: could not describe its commands (COMMAND DOCS, key specs)"
    })?;
    if let Some(set_categories) = redis_module::raw::RedisModule_SetCommandACLCategories {
        if set_categories(command, spec.acl_categories.as_ptr()) != OK {
            ffi::log_warning(
                ctx,
                c"redis-gcra: could not set ACL categories; continuing without them",
            );
        }
    }
    Ok(())
}

/// The only way CreateCommand fails for a valid name and flags: the name is taken.
const TAKEN: &CStr = c"redis-gcra: not loaded: CL.THROTTLE or CL.THROTTLEALL is already defined by another module (redis-cell? see MODULE LIST)";
