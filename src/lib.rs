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
mod stats;
mod store;

use std::ffi::CStr;
use std::os::raw::c_int;

use redis_module::raw::RedisModuleCommand;
use redis_module::{redis_module, Context, RedisString, Status};

use crate::ffi::{has_api, redis_api, OK};

/// Redis's allocator in the server (so INFO memory counts us); the system one in unit tests,
/// benches and fuzzing (feature `system-alloc`), where no server provides it.
#[cfg(not(any(test, feature = "system-alloc")))]
type Allocator = redis_module::alloc::RedisAlloc;
#[cfg(not(any(test, feature = "system-alloc")))]
const ALLOCATOR: Allocator = redis_module::alloc::RedisAlloc;
#[cfg(any(test, feature = "system-alloc"))]
type Allocator = std::alloc::System;
#[cfg(any(test, feature = "system-alloc"))]
const ALLOCATOR: Allocator = std::alloc::System;

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
        flags: c"write deny-oom fast",
        keys: (1, 1, 1),
        acl_categories: c"write fast",
        describe: command_info::describe_throttle,
    },
    CommandSpec {
        name: c"CL.THROTTLEALL",
        handler: command::throttle_all_command,
        // O(numlimits), so not "fast"; its keys are reported by the handler (see command_info).
        flags: c"write deny-oom getkeys-api",
        keys: (0, 0, 0),
        acl_categories: c"write",
        describe: command_info::describe_throttle_all,
    },
];

/// Registers the commands with our own handlers, which read argv in place instead of
/// copying it into a Vec per call, plus the INFO section.
fn init(ctx: &Context, _args: &[RedisString]) -> Status {
    // SAFETY: ctx.ctx is the context Redis passed to RedisModule_OnLoad.
    let loaded = unsafe { load(ctx) };
    match loaded {
        Ok(()) => Status::Ok,
        Err(reason) => {
            ctx.log_warning(reason);
            Status::Err
        }
    }
}

unsafe fn load(ctx: &Context) -> Result<(), &'static str> {
    const TOO_OLD: &str = "redis-gcra: this server is too old (Redis 7.0 or newer is needed)";
    // Refuse to load rather than fail on the first call.
    let needed = [
        has_api!(RedisModule_SetAbsExpire),
        has_api!(RedisModule_StringDMA),
        has_api!(RedisModule_StringTruncate),
        has_api!(RedisModule_Replicate),
        has_api!(RedisModule_SetCommandInfo),
    ];
    if needed.contains(&false) {
        return Err(TOO_OLD);
    }
    store::init(ctx.ctx).map_err(|_| TOO_OLD)?;
    for spec in &COMMANDS {
        register(ctx, spec)?;
    }
    // Replaces the redis-module crate's empty INFO callback with ours.
    redis_api!(RedisModule_RegisterInfoFunc(ctx.ctx, Some(stats::info))).map_err(|_| TOO_OLD)?;
    Ok(())
}

unsafe fn register(ctx: &Context, spec: &CommandSpec) -> Result<(), &'static str> {
    const FAILED: &str = "redis-gcra: could not register its commands (is redis-cell loaded too?)";
    let (first, last, step) = spec.keys;
    let created = redis_api!(RedisModule_CreateCommand(
        ctx.ctx,
        spec.name.as_ptr(),
        Some(spec.handler),
        spec.flags.as_ptr(),
        first,
        last,
        step,
    ))
    .map_err(|_| FAILED)?;
    let command =
        redis_api!(RedisModule_GetCommand(ctx.ctx, spec.name.as_ptr())).map_err(|_| FAILED)?;
    if created != OK || command.is_null() {
        return Err(FAILED);
    }
    (spec.describe)(command)
        .map_err(|_| "redis-gcra: could not describe its commands (COMMAND DOCS, key specs)")?;
    if let Some(set_categories) = redis_module::raw::RedisModule_SetCommandACLCategories {
        if set_categories(command, spec.acl_categories.as_ptr()) != OK {
            ctx.log_warning("redis-gcra: could not set ACL categories; continuing without them");
        }
    }
    Ok(())
}

redis_module! {
    // Short and without a dash: INFO prefixes our fields with it (gcra_allowed, ...).
    name: "gcra",
    version: MODULE_VERSION,
    allocator: (Allocator, ALLOCATOR),
    data_types: [],
    init: init,
}
