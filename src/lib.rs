//! redis-gcra: CL.THROTTLE for Redis and Valkey. Module registration only: name, version,
//! allocator, commands, the INFO section and the load/unload policy.
//!
//! All `unsafe` code is in `host/`, behind safe types; see its module docs for what it
//! promises.
#![deny(unsafe_code)]
#![forbid(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]
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

mod clock;
mod commands;
#[allow(unsafe_code)]
mod host;
mod memory_policy;
mod random;
mod stats;
mod store;

use std::ffi::CStr;

use crate::commands::{Peek, Throttle, ThrottleAll};
use crate::host::{Loading, Module, RegisterError, Server};
use crate::memory_policy::MemoryPolicy;
use crate::stats::Stats;

/// Redis's allocator in the server (so INFO memory counts us); the system one in unit tests,
/// where no server provides it.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: redis_module::alloc::RedisAlloc = redis_module::alloc::RedisAlloc;

/// The module: CL.THROTTLE, CL.THROTTLEALL, CL.PEEK and the INFO section `gcra_stats`.
struct Gcra;

host::export_module!(crate::Gcra);

impl Module for Gcra {
    /// Short and without a dash: INFO prefixes our fields with it (gcra_allowed, ...).
    const NAME: &'static CStr = c"gcra";
    /// MODULE LIST shows major * 10000 + minor * 100 + patch of the crate version.
    const VERSION: i32 = version_number();

    fn load(module: &Loading<'_>, arg_count: usize) -> Result<(), &'static CStr> {
        load(module, arg_count)
    }

    fn unload(server: &Server<'_>) -> bool {
        unload(server)
    }
}

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

/// Loads the module: called by the host once the server's API is in place.
fn load(module: &Loading<'_>, arg_count: usize) -> Result<(), &'static CStr> {
    if arg_count != 0 {
        return Err(c"redis-gcra: not loaded: it takes no arguments; remove them after the path in loadmodule or MODULE LOAD");
    }
    let registered = module
        .register_command::<Throttle>()
        .and_then(|()| module.register_command::<ThrottleAll>())
        .and_then(|()| module.register_command::<Peek>())
        .and_then(|()| module.register_info::<Stats>());
    match registered {
        Ok(()) => {}
        Err(RegisterError::NameTaken) => return Err(c"redis-gcra: not loaded: CL.THROTTLE, CL.THROTTLEALL or CL.PEEK is already defined by another module (redis-cell? see MODULE LIST)"),
        Err(RegisterError::Describe) => return Err(c"redis-gcra: not loaded: could not describe its commands (COMMAND DOCS, key specs, INFO)"),
    }
    MemoryPolicy::check(&module.server());
    module.watch_config::<MemoryPolicy>();
    Ok(())
}

/// Refuses `MODULE UNLOAD`: a client may have a CL.THROTTLE queued in MULTI, and its EXEC
/// would call into the unmapped library and crash the server.
fn unload(server: &Server<'_>) -> bool {
    server.log_warning(c"redis-gcra: refusing MODULE UNLOAD (a CL.THROTTLE queued in MULTI would crash the server at EXEC); to remove the module, restart the server without its loadmodule line");
    false
}
