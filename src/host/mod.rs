//! The host layer: the only code that talks to the Redis module API, and the only `unsafe`
//! in the crate. Everything above it is safe Rust, and it imports nothing from above it
//! (the module reaches it through `Module`, `Command`, `InfoSource` and `ConfigWatcher`).
//!
//! What it promises to the rest of the crate:
//! - Every argument (`Arg<'a>`) and open key (`Key<'a>`) is tied to the running command by
//!   its lifetime: none can be kept after the command returns.
//! - A `Key` is checked when it is opened (absent or a string, else `WRONGTYPE`), so reading
//!   and writing it cannot meet another type, and it is closed when dropped.
//! - Writes (`Key::overwrite`, `expire_at`, `delete`, `Call::replicate_*`, `notify`,
//!   `signal_modified`) cannot fail: every API they use is checked at load, and their inputs
//!   are validated before the first of them. A status the server should never return is
//!   logged, not turned into a reply after part of the work is done.
//! - Each command gets exactly one reply (an integer array or one error), written after the
//!   handler returns, and a panic in a handler becomes `ERR internal error`, never an abort.
//! - Writes are replicated only as the effects the caller asks for (`SET key v PXAT ms`,
//!   `DEL key`): nothing is propagated implicitly, and opening a key never signals it modified.

mod blocking;
mod call;
mod command_info;
mod events;
mod key;
mod load;
mod registry;
mod server;
pub mod spec;
mod strings;

pub use blocking::{waiting_clients, Wakeup};
pub use call::{Arg, Call, Command, Event, Reply};
pub use events::{ConfigWatcher, Info, InfoSource};
pub use key::{Key, ReadKey};
pub(crate) use load::export_module;
pub use load::{on_load, on_unload, Module};
pub use registry::{Loading, RegisterError};
pub use server::Server;

/// Calls `RedisModule_<name>` if the server provides it, else `Err(Error::MissingApi)`.
/// Never unwraps: a missing function is an error, not an abort. Callers wrap the call in
/// `unsafe` and say why the pointers they pass are valid.
macro_rules! redis_api {
    ($name:ident($($arg:expr),* $(,)?)) => {
        match redis_module::raw::$name {
            Some(function) => Ok(function($($arg),*)),
            None => Err(gcra_core::Error::MissingApi),
        }
    };
}
use redis_api;

/// Whether the server provides `RedisModule_<name>` (read by copy: the pointers are `static mut`).
macro_rules! has_api {
    ($name:ident) => {{
        // SAFETY: a plain read of a function pointer that Redis set once, at module load.
        let function = unsafe { redis_module::raw::$name };
        function.is_some()
    }};
}
use has_api;

const OK: std::os::raw::c_int = redis_module::raw::REDISMODULE_OK as std::os::raw::c_int;
const ERR: std::os::raw::c_int = redis_module::raw::REDISMODULE_ERR as std::os::raw::c_int;

/// The wall clock (CLOCK_REALTIME) as seconds and nanoseconds, or `None` if it cannot be read.
pub fn wall_clock() -> Option<(i64, i64)> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } != 0 {
        return None;
    }
    // time_t and c_long are i64 on 64-bit targets but narrower elsewhere.
    #[allow(clippy::useless_conversion)]
    Some((
        i64::try_from(ts.tv_sec).ok()?,
        i64::try_from(ts.tv_nsec).ok()?,
    ))
}
