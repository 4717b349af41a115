//! One running command: its arguments, replication, notifications, and its one reply.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use redis_module::raw::{
    RedisModuleCtx, RedisModuleString, REDISMODULE_CTX_FLAGS_LOADING,
    REDISMODULE_CTX_FLAGS_REPLICATED, REDISMODULE_NOTIFY_GENERIC, REDISMODULE_NOTIFY_STRING,
};

use super::spec::CommandSpec;
use super::strings::{interned_pxat, log_unexpected};
use super::{redis_api, OK};
use gcra_core::Error;

/// A command: its one description, `run` to answer it, `failed` to hear of each error reply
/// (the command counts what it decides), and `key_positions` to answer Redis's "where are the
/// keys?" for commands registered with `getkeys-api` (positions counted after the command
/// name).
pub trait Command {
    const SPEC: CommandSpec;

    fn run(call: &Call<'_>) -> Result<Reply, Error>;

    /// Called with the error a call is answered with (from `run`, or a caught panic).
    fn failed(_error: Error) {}

    fn key_positions(_args: &[Arg<'_>]) -> Vec<usize> {
        Vec::new()
    }
}

/// The C entry point of every command: builds the `Call`, runs the handler under a panic
/// guard and writes exactly one reply.
///
/// # Safety
/// Called by Redis with a valid context and `argc` argument strings that live until it returns.
pub(super) unsafe extern "C" fn entry<C: Command>(
    ctx: *mut RedisModuleCtx,
    argv: *mut *mut RedisModuleString,
    argc: c_int,
) -> c_int {
    // SAFETY: Redis's contract for command callbacks, as stated above.
    let Some(call) = (unsafe { Call::new(ctx, argv, argc) }) else {
        // Arguments Redis never passes; still one reply, if there is a context to send it.
        if !ctx.is_null() {
            send(ctx, Err(Error::Internal));
        }
        return OK;
    };
    // Only commands that report their own keys get keys requests (getkeys-api).
    if C::SPEC.reports_keys() && call.is_keys_position_request() {
        // No reply to a keys request; a panic just reports fewer keys.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(args) = call.args() {
                for at in C::key_positions(&args) {
                    call.key_at_pos(at);
                }
            }
        }));
        return OK;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| C::run(&call))).unwrap_or(Err(Error::Internal));
    if let Err(error) = outcome {
        C::failed(error);
    }
    send(call.ctx(), outcome);
    OK
}

/// Writes a command's one reply: its integers or its error (nothing for an answer given
/// later, by `Call::answer_later`).
pub(super) fn send(ctx: *mut RedisModuleCtx, outcome: Result<Reply, Error>) {
    match outcome {
        Ok(Reply(Inner::Later)) => {}
        Ok(Reply(Inner::Integers { values, len })) => {
            let values = values.get(..len).unwrap_or_default();
            // At most Reply::MAX elements, so the length fits. Array and integer replies
            // always succeed; each status is checked all the same.
            let count = values.len() as std::os::raw::c_long;
            // SAFETY: `ctx` is the context of a command (or its blocked reply) that has not
            // replied yet.
            let status = unsafe { redis_api!(RedisModule_ReplyWithArray(ctx, count)) };
            log_if_failed(
                ctx,
                status,
                c"redis-gcra: RedisModule_ReplyWithArray failed",
            );
            for &value in values {
                // SAFETY: as above, inside the array just opened.
                let status = unsafe { redis_api!(RedisModule_ReplyWithLongLong(ctx, value)) };
                log_if_failed(
                    ctx,
                    status,
                    c"redis-gcra: RedisModule_ReplyWithLongLong failed",
                );
            }
        }
        Err(error) => {
            // SAFETY: as above; the message is a static string.
            let status =
                unsafe { redis_api!(RedisModule_ReplyWithError(ctx, error.message().as_ptr())) };
            log_if_failed(
                ctx,
                status,
                c"redis-gcra: RedisModule_ReplyWithError failed",
            );
        }
    }
}

/// Logs a status the server should never return (see the module docs: writes cannot fail).
fn log_if_failed(ctx: *mut RedisModuleCtx, status: Result<c_int, Error>, what: &CStr) {
    if status != Ok(OK) {
        log_unexpected(ctx, what);
    }
}

/// The arguments and context of the running command, valid for `'a` (the callback's frame).
pub struct Call<'a> {
    pub(super) ctx: NonNull<RedisModuleCtx>,
    /// Every argument, the command name first.
    argv: &'a [*mut RedisModuleString],
}

/// One argument of the running command.
#[derive(Clone, Copy)]
pub struct Arg<'a> {
    raw: NonNull<RedisModuleString>,
    _command: PhantomData<&'a RedisModuleString>,
}

impl<'a> Arg<'a> {
    /// The argument's bytes, read when asked (a key name is passed on, not read).
    pub fn bytes(&self) -> &'a [u8] {
        let mut len = 0usize;
        // SAFETY: `raw` is one of the running command's argument strings, alive for `'a`.
        let ptr = unsafe { redis_api!(RedisModule_StringPtrLen(self.raw.as_ptr(), &mut len)) };
        match ptr {
            Ok(ptr) if !ptr.is_null() => {
                // SAFETY: StringPtrLen gives the string's `len` bytes; argument strings are
                // not modified while the command runs, and live for `'a`.
                unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }
            }
            // Unreachable for a live string; empty bytes fail every parse.
            _ => &[],
        }
    }

    pub(super) fn raw(&self) -> *mut RedisModuleString {
        self.raw.as_ptr()
    }
}

/// Keyspace events, as the native commands with the same effect send them.
#[derive(Clone, Copy)]
pub enum Event {
    Set,
    Expire,
    Del,
}

impl<'a> Call<'a> {
    /// # Safety
    /// `ctx` and the `argc` strings at `argv` must be valid for `'a`.
    unsafe fn new(
        ctx: *mut RedisModuleCtx,
        argv: *mut *mut RedisModuleString,
        argc: c_int,
    ) -> Option<Call<'a>> {
        let ctx = NonNull::new(ctx)?;
        let argc = usize::try_from(argc).ok()?;
        if argv.is_null() {
            return None;
        }
        // SAFETY: Redis passes `argc` valid string pointers at `argv`, alive for `'a`.
        let argv = unsafe { std::slice::from_raw_parts(argv, argc) };
        Some(Call { ctx, argv })
    }

    pub(super) fn ctx(&self) -> *mut RedisModuleCtx {
        self.ctx.as_ptr()
    }

    /// How many arguments follow the command name.
    pub fn arg_count(&self) -> usize {
        self.argv.len().saturating_sub(1)
    }

    /// The `index`-th argument after the command name.
    pub fn arg(&self, index: usize) -> Result<Arg<'a>, Error> {
        let raw = self
            .argv
            .get(index + 1)
            .and_then(|&raw| NonNull::new(raw))
            .ok_or(Error::Internal)?;
        Ok(Arg {
            raw,
            _command: PhantomData,
        })
    }

    /// Every argument after the command name.
    pub fn args(&self) -> Result<Vec<Arg<'a>>, Error> {
        (0..self.arg_count()).map(|i| self.arg(i)).collect()
    }

    /// Replicates `SET <name> <value> PXAT <at_ms>` (the effect of a write, never the command).
    pub fn replicate_set_pxat(&self, name: Arg<'_>, value: &[u8], at_ms: &[u8]) {
        let Some(pxat) = interned_pxat() else {
            log_unexpected(
                self.ctx(),
                c"redis-gcra: PXAT string missing; write not replicated",
            );
            return;
        };
        // SAFETY: the context and `name` belong to the running command; the "b" arguments
        // are pointer and length of live slices; `pxat` lives as long as the module.
        let status = unsafe {
            redis_api!(RedisModule_Replicate(
                self.ctx(),
                c"SET".as_ptr(),
                c"sbsb".as_ptr(),
                name.raw(),
                value.as_ptr().cast::<c_char>(),
                value.len(),
                pxat,
                at_ms.as_ptr().cast::<c_char>(),
                at_ms.len(),
            ))
        };
        self.log_if_failed(status, c"redis-gcra: RedisModule_Replicate (SET) failed");
    }

    /// Replicates `DEL <name>`.
    pub fn replicate_del(&self, name: Arg<'_>) {
        // SAFETY: the context and `name` belong to the running command.
        let status = unsafe {
            redis_api!(RedisModule_Replicate(
                self.ctx(),
                c"DEL".as_ptr(),
                c"s".as_ptr(),
                name.raw()
            ))
        };
        self.log_if_failed(status, c"redis-gcra: RedisModule_Replicate (DEL) failed");
    }

    pub fn notify(&self, event: Event, name: Arg<'_>) {
        let (class, event_name): (c_int, &CStr) = match event {
            Event::Set => (REDISMODULE_NOTIFY_STRING, c"set"),
            Event::Expire => (REDISMODULE_NOTIFY_GENERIC, c"expire"),
            Event::Del => (REDISMODULE_NOTIFY_GENERIC, c"del"),
        };
        // SAFETY: the context and `name` belong to the running command.
        let status = unsafe {
            redis_api!(RedisModule_NotifyKeyspaceEvent(
                self.ctx(),
                class,
                event_name.as_ptr(),
                name.raw()
            ))
        };
        self.log_if_failed(
            status,
            c"redis-gcra: RedisModule_NotifyKeyspaceEvent failed",
        );
    }

    /// Tells WATCH and client-side caching that the key changed (the module opts out of
    /// Redis doing it on every open for writing, see `Loading::prepare`).
    pub fn signal_modified(&self, name: Arg<'_>) {
        // SAFETY: the context and `name` belong to the running command.
        let status = unsafe { redis_api!(RedisModule_SignalModifiedKey(self.ctx(), name.raw())) };
        self.log_if_failed(status, c"redis-gcra: RedisModule_SignalModifiedKey failed");
    }

    /// Whether used memory is over `maxmemory` (never when no limit is set), as Redis judges
    /// it for deny-oom commands.
    pub fn over_maxmemory(&self) -> bool {
        // SAFETY: no arguments; called on the main thread inside a command.
        unsafe { redis_api!(RedisModule_GetUsedMemoryRatio()) }.is_ok_and(|ratio| ratio > 1.0)
    }

    /// Whether the command came from the replication link or an AOF being loaded (a
    /// primary's verbatim CL.THROTTLE, as redis-cell replicates it): such commands must apply
    /// whatever this server's memory limits say.
    pub fn is_replicated_or_loading(&self) -> bool {
        let flags = (REDISMODULE_CTX_FLAGS_REPLICATED | REDISMODULE_CTX_FLAGS_LOADING) as c_int;
        // SAFETY: the context belongs to the running command.
        unsafe { redis_api!(RedisModule_GetContextFlags(self.ctx())) }
            .is_ok_and(|context| context & flags != 0)
    }

    fn is_keys_position_request(&self) -> bool {
        // SAFETY: the context belongs to the running command.
        unsafe { redis_api!(RedisModule_IsKeysPositionRequest(self.ctx())) }.unwrap_or(0) != 0
    }

    /// Reports the argument at `index` (after the command name) as a key.
    fn key_at_pos(&self, index: usize) {
        // +1: Redis counts the command name as position 0.
        let Ok(pos) = c_int::try_from(index + 1) else {
            return;
        };
        // SAFETY: the context belongs to a keys-position request.
        let _ = unsafe { redis_api!(RedisModule_KeyAtPos(self.ctx(), pos)) };
    }

    /// Logs a status the server should never return (see the module docs: writes cannot fail).
    pub(super) fn log_if_failed(&self, status: Result<c_int, Error>, what: &CStr) {
        log_if_failed(self.ctx(), status, what);
    }
}

/// A command's reply: up to `Reply::MAX` integers, built before anything is sent, or the
/// promise of an answer later (`Call::answer_later`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply(Inner);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inner {
    Integers {
        values: [i64; Reply::MAX],
        len: usize,
    },
    Later,
}

impl Reply {
    pub const MAX: usize = 8;

    pub(super) fn later() -> Reply {
        Reply(Inner::Later)
    }
}

impl<const N: usize> From<([i64; N], usize)> for Reply {
    /// The first `len` of `values` (at most `Reply::MAX`), copied at a fixed size.
    #[inline(always)]
    fn from((integers, len): ([i64; N], usize)) -> Reply {
        let mut values = [0; Reply::MAX];
        for (slot, value) in values.iter_mut().zip(integers) {
            *slot = value;
        }
        Reply(Inner::Integers {
            values,
            len: len.min(N).min(Reply::MAX),
        })
    }
}

impl From<&[i64]> for Reply {
    /// At most `Reply::MAX` integers (a longer slice is a bug, and is cut to `MAX`).
    fn from(integers: &[i64]) -> Reply {
        let mut values = [0; Reply::MAX];
        for (slot, value) in values.iter_mut().zip(integers) {
            *slot = *value;
        }
        Reply(Inner::Integers {
            values,
            len: integers.len().min(Reply::MAX),
        })
    }
}

impl<const N: usize> From<[i64; N]> for Reply {
    /// At most `Reply::MAX` integers (a longer array is a bug, and is cut to `MAX`).
    fn from(array: [i64; N]) -> Reply {
        let mut values = [0; Reply::MAX];
        for (slot, value) in values.iter_mut().zip(array) {
            *slot = value;
        }
        Reply(Inner::Integers {
            values,
            len: N.min(Reply::MAX),
        })
    }
}
