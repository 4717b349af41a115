//! Answering a command later: the client is blocked, and a module timer releases it when
//! its answer is due. The server keeps serving everyone else meanwhile.
//!
//! Ownership of the pending answer: a Box made here goes to the timer; the timer hands it
//! to Redis as the blocked client's private data; Redis passes it to `reply_entry` (unless
//! the client disconnected) and then to `free_entry`, which drops it. So it is freed exactly
//! once, whether the client is still there or not. A client that goes away early (closed
//! connection, CLIENT KILL, a primary turning replica) has its timer stopped and is unblocked
//! at once, so nothing of it is kept until its answer would have been due.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::null_mut;

use redis_module::raw::{
    RedisModuleBlockedClient, RedisModuleCtx, RedisModuleString, RedisModuleTimerID,
    REDISMODULE_CTX_FLAGS_DENY_BLOCKING, REDISMODULE_CTX_FLAGS_LUA, REDISMODULE_CTX_FLAGS_MULTI,
};

use super::call::{send, Call, Reply};
use super::module::log_unexpected;
use super::{redis_api, OK};
use crate::error::Error;

/// Computes the reply when it is due.
pub type Answer = Box<dyn FnOnce() -> Result<Reply, Error>>;

thread_local! {
    /// Each waiting client's timer. Commands, timers and disconnections all run on Redis's
    /// main thread.
    static TIMERS: RefCell<HashMap<usize, RedisModuleTimerID>> = RefCell::new(HashMap::new());
}

fn remember_timer(client: *mut RedisModuleBlockedClient, timer: RedisModuleTimerID) {
    let _ = TIMERS.try_with(|timers| {
        if let Ok(mut timers) = timers.try_borrow_mut() {
            timers.insert(client as usize, timer);
        }
    });
}

fn forget_timer(client: *mut RedisModuleBlockedClient) -> Option<RedisModuleTimerID> {
    TIMERS
        .try_with(|timers| timers.try_borrow_mut().ok()?.remove(&(client as usize)))
        .ok()
        .flatten()
}

struct Pending {
    client: *mut RedisModuleBlockedClient,
    answer: Option<Answer>,
}

impl Call<'_> {
    /// Whether the client may be blocked: not inside MULTI or a script, and not a caller the
    /// server keeps from blocking.
    pub fn can_block(&self) -> bool {
        let refused = (REDISMODULE_CTX_FLAGS_MULTI
            | REDISMODULE_CTX_FLAGS_LUA
            | REDISMODULE_CTX_FLAGS_DENY_BLOCKING) as c_int;
        // SAFETY: the context belongs to the running command.
        unsafe { redis_api!(RedisModule_GetContextFlags(self.ctx())) }
            .is_ok_and(|flags| flags & refused == 0)
    }

    /// Blocks the client and answers after `delay_ms` with what `answer` gives then. Only
    /// when `can_block()`; return the result as the command's reply.
    pub fn answer_later(&self, delay_ms: i64, answer: Answer) -> Result<Reply, Error> {
        // SAFETY: the context belongs to the running command, which may block (checked by
        // the caller); the callbacks live as long as the module. No timeout: the timer ends it.
        let client = unsafe {
            redis_api!(RedisModule_BlockClient(
                self.ctx(),
                Some(reply_entry),
                None,
                Some(free_entry),
                0
            ))
        }
        .unwrap_or(null_mut());
        if client.is_null() {
            log_unexpected(
                self.ctx(),
                c"redis-gcra: RedisModule_BlockClient failed; answering now",
            );
            return answer();
        }
        // SAFETY: `client` was just blocked; the callback lives as long as the module.
        let _ = unsafe {
            redis_api!(RedisModule_SetDisconnectCallback(
                client,
                Some(disconnected)
            ))
        };
        let pending = Box::into_raw(Box::new(Pending {
            client,
            answer: Some(answer),
        }));
        // SAFETY: the context is valid; `pending` is handed to the timer, which owns it.
        let timer = unsafe {
            redis_api!(RedisModule_CreateTimer(
                self.ctx(),
                delay_ms.max(0),
                Some(timer_entry),
                pending.cast::<c_void>()
            ))
        };
        if let Ok(timer) = timer {
            remember_timer(client, timer);
        }
        Ok(Reply::later())
    }
}

/// The answer is due: unblock the client, handing the pending answer to Redis.
unsafe extern "C" fn timer_entry(_ctx: *mut RedisModuleCtx, data: *mut c_void) {
    let pending = data.cast::<Pending>();
    if pending.is_null() {
        return;
    }
    // SAFETY: `data` is the Box made in `answer_later`, owned by this timer until now.
    let client = unsafe { (*pending).client };
    forget_timer(client);
    // SAFETY: `client` is blocked and not yet unblocked (each timer fires once); Redis
    // now owns `pending` and gives it back through `reply_entry` and `free_entry`.
    let _ = unsafe { redis_api!(RedisModule_UnblockClient(client, data)) };
}

/// The waiting client went away: stop its timer and unblock it now, handing the pending
/// answer to Redis to free (no reply is sent to a client that is gone).
unsafe extern "C" fn disconnected(ctx: *mut RedisModuleCtx, client: *mut RedisModuleBlockedClient) {
    let Some(timer) = forget_timer(client) else {
        return;
    };
    let mut data: *mut c_void = null_mut();
    // SAFETY: the disconnect callback's context belongs to this module, which made the timer.
    let stopped = unsafe { redis_api!(RedisModule_StopTimer(ctx, timer, &mut data)) };
    if stopped == Ok(OK) && !data.is_null() {
        // SAFETY: `client` is still blocked (its timer had not fired); `data` is its Pending,
        // which Redis now owns and frees through `free_entry`.
        let _ = unsafe { redis_api!(RedisModule_UnblockClient(client, data)) };
    }
}

/// Writes the due answer to the (still connected) client.
unsafe extern "C" fn reply_entry(
    ctx: *mut RedisModuleCtx,
    _argv: *mut *mut RedisModuleString,
    _argc: c_int,
) -> c_int {
    // SAFETY: in a blocked client's reply callback, the private data is our Pending.
    let pending =
        unsafe { redis_api!(RedisModule_GetBlockedClientPrivateData(ctx)) }.unwrap_or(null_mut());
    let answer = if pending.is_null() {
        None
    } else {
        // SAFETY: Redis keeps `pending` alive until `free_entry`, after this callback.
        unsafe { (*pending.cast::<Pending>()).answer.take() }
    };
    let reply = match answer {
        Some(answer) => catch_unwind(AssertUnwindSafe(answer)).unwrap_or(Err(Error::Internal)),
        None => Err(Error::Internal),
    };
    send(ctx, reply);
    OK
}

/// Frees the pending answer, whether or not the client was still connected.
unsafe extern "C" fn free_entry(_ctx: *mut RedisModuleCtx, privdata: *mut c_void) {
    if !privdata.is_null() {
        // SAFETY: the Box made in `answer_later`, freed only here, once.
        drop(unsafe { Box::from_raw(privdata.cast::<Pending>()) });
    }
}
