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
pub mod decimal;
pub mod error;
mod ffi;
pub mod gcra;
mod store;

use std::ffi::CStr;

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
    flags: &'static CStr,
    /// Shown as @write @fast on Redis 7.2+ and Valkey; Redis 7.0 has no such API.
    acl_categories: &'static CStr,
}

const THROTTLE: CommandSpec = CommandSpec {
    name: c"CL.THROTTLE",
    flags: c"write deny-oom fast",
    acl_categories: c"write fast",
};

/// Registers the commands with our own handlers, which read argv in place instead of
/// copying it into a Vec per call.
fn init(ctx: &Context, _args: &[RedisString]) -> Status {
    // SAFETY: ctx.ctx is the context Redis passed to RedisModule_OnLoad.
    if unsafe { store::init(ctx.ctx) }.is_err() {
        ctx.log_warning("redis-gcra: could not prepare key storage (Redis 7.0 or newer is needed)");
        return Status::Err;
    }
    // SAFETY: as above.
    match unsafe { register(ctx, &THROTTLE) } {
        Ok(()) => Status::Ok,
        Err(reason) => {
            ctx.log_warning(reason);
            Status::Err
        }
    }
}

unsafe fn register(ctx: &Context, spec: &CommandSpec) -> Result<(), &'static str> {
    const MISSING: &str = "redis-gcra: this server is too old (Redis 7.0 or newer is needed)";
    // Refuse to load rather than fail on the first call.
    let needed = [
        has_api!(RedisModule_SetAbsExpire),
        has_api!(RedisModule_StringDMA),
        has_api!(RedisModule_StringTruncate),
        has_api!(RedisModule_Replicate),
    ];
    if needed.contains(&false) {
        return Err(MISSING);
    }
    let created = redis_api!(RedisModule_CreateCommand(
        ctx.ctx,
        spec.name.as_ptr(),
        Some(command::throttle_command),
        spec.flags.as_ptr(),
        1,
        1,
        1,
    ))
    .map_err(|_| MISSING)?;
    if created != OK {
        return Err("redis-gcra: could not create CL.THROTTLE (is redis-cell loaded too?)");
    }
    let Some(set_categories) = redis_module::raw::RedisModule_SetCommandACLCategories else {
        return Ok(());
    };
    let command =
        redis_api!(RedisModule_GetCommand(ctx.ctx, spec.name.as_ptr())).map_err(|_| MISSING)?;
    if command.is_null() || set_categories(command, spec.acl_categories.as_ptr()) != OK {
        ctx.log_warning("redis-gcra: could not set ACL categories; continuing without them");
    }
    Ok(())
}

redis_module! {
    name: "redis-gcra",
    version: MODULE_VERSION,
    allocator: (Allocator, ALLOCATOR),
    data_types: [],
    init: init,
}
