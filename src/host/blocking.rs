//! Answering a command later: the client is blocked, and a module timer releases it when
//! its answer is due. The server keeps serving everyone else meanwhile.
//!
//! Waiters are kept in the module's own queue, ordered by due millisecond and then by
//! arrival, with one Redis timer per distinct due millisecond: Redis keys its timers by
//! microsecond and moves a colliding one forward a microsecond at a time, so a timer per
//! waiter made N waiters due in one millisecond cost O(N^2) at arrival. Here a waiter costs
//! O(log N) whatever the others' due times.
//!
//! Ownership of a pending answer: a Box made here waits in the queue; when due (or when its
//! client goes away) it is handed to Redis as the blocked client's private data; Redis passes
//! it to `reply_entry` (unless the client disconnected) and then to `free_entry`, which drops
//! it. So it is freed exactly once, whether the client is still there or not. A client that
//! goes away early (closed connection, CLIENT KILL, a primary turning replica) leaves the
//! queue and is unblocked at once, so nothing of it is kept until its answer would be due.

use std::cell::RefCell;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{null_mut, NonNull};

use redis_module::raw::{
    RedisModuleBlockedClient, RedisModuleCtx, RedisModuleString, RedisModuleTimerID,
    REDISMODULE_CTX_FLAGS_DENY_BLOCKING, REDISMODULE_CTX_FLAGS_LUA, REDISMODULE_CTX_FLAGS_MULTI,
};

use super::call::{send, Call, Reply};
use super::key::read_named;
use super::strings::log_unexpected;
use super::{redis_api, OK};
use gcra_core::Error;

/// Computes the reply when it is due, reading what it needs through the `Wakeup`.
pub type Answer = Box<dyn FnOnce(&Wakeup<'_>) -> Result<Reply, Error>>;

/// A blocked client's reply callback, when its answer is due: keys can be read (in the
/// client's database) to describe the state as it is now.
pub struct Wakeup<'a> {
    ctx: NonNull<RedisModuleCtx>,
    _frame: PhantomData<&'a ()>,
}

impl Wakeup<'_> {
    /// Calls `read` with the bytes of the string at `name` (`None` if absent); `WRONGTYPE`
    /// for another type.
    pub fn read_string<R>(
        &self,
        name: &[u8],
        read: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, Error> {
        read_named(self.ctx, name, read)
    }
}

struct Pending {
    client: *mut RedisModuleBlockedClient,
    answer: Option<Answer>,
}

/// Where a waiter stands in the queue: its due millisecond, then its arrival.
type Place = (i64, u64);

/// The waiting clients, in release order.
#[derive(Default)]
struct Queue {
    waiters: BTreeMap<Place, Box<Pending>>,
    /// Each waiting client's place, for a disconnect.
    places: HashMap<usize, Place>,
    /// The Redis timer of each due millisecond that has waiters.
    timers: BTreeMap<i64, RedisModuleTimerID>,
    arrivals: u64,
}

thread_local! {
    /// Commands, timers and disconnections all run on Redis's main thread.
    static QUEUE: RefCell<Queue> = RefCell::new(Queue::default());
}

fn with_queue<R>(f: impl FnOnce(&mut Queue) -> R) -> Option<R> {
    QUEUE
        .try_with(|queue| queue.try_borrow_mut().ok().map(|mut queue| f(&mut queue)))
        .ok()
        .flatten()
}

/// How many clients wait for a BLOCK answer now.
pub fn waiting_clients() -> usize {
    with_queue(|queue| queue.waiters.len()).unwrap_or(0)
}

impl Queue {
    fn has_due(&self, due_ms: i64) -> bool {
        self.waiters
            .range((due_ms, 0)..=(due_ms, u64::MAX))
            .next()
            .is_some()
    }

    fn push(&mut self, due_ms: i64, pending: Box<Pending>) {
        let place = (due_ms, self.arrivals);
        self.arrivals = self.arrivals.wrapping_add(1);
        self.places.insert(pending.client as usize, place);
        self.waiters.insert(place, pending);
    }

    /// Takes every waiter due at or before `due_ms`, in order, with the timers of the
    /// milliseconds they leave empty (other than `due_ms`'s own, which is firing).
    fn take_due(
        &mut self,
        due_ms: i64,
    ) -> (BTreeMap<Place, Box<Pending>>, Vec<RedisModuleTimerID>) {
        let later_waiters = self.waiters.split_off(&(due_ms.saturating_add(1), 0));
        let due = std::mem::replace(&mut self.waiters, later_waiters);
        let later_timers = self.timers.split_off(&due_ms.saturating_add(1));
        let mut emptied = std::mem::replace(&mut self.timers, later_timers);
        emptied.remove(&due_ms);
        for pending in due.values() {
            self.places.remove(&(pending.client as usize));
        }
        (due, emptied.into_values().collect())
    }

    /// Takes `client`'s waiter out, with its millisecond's timer if no one else is due then.
    fn take_client(
        &mut self,
        client: *mut RedisModuleBlockedClient,
    ) -> Option<(Box<Pending>, Option<RedisModuleTimerID>)> {
        let place = self.places.remove(&(client as usize))?;
        let pending = self.waiters.remove(&place)?;
        let timer = if self.has_due(place.0) {
            None
        } else {
            self.timers.remove(&place.0)
        };
        Some((pending, timer))
    }
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

    /// Blocks the client and answers at `due_ms` (milliseconds since the epoch, `delay_ms`
    /// from now) with what `answer` gives then; clients due in the same millisecond are
    /// answered in the order they came. Only when `can_block()`; return the result as the
    /// command's reply.
    pub fn answer_later(&self, due_ms: i64, delay_ms: i64, answer: Answer) -> Result<Reply, Error> {
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
            return answer(&Wakeup {
                ctx: self.ctx,
                _frame: PhantomData,
            });
        }
        // SAFETY: `client` was just blocked; the callback lives as long as the module.
        let _ = unsafe {
            redis_api!(RedisModule_SetDisconnectCallback(
                client,
                Some(disconnected)
            ))
        };
        let mut pending = Some(Box::new(Pending {
            client,
            answer: Some(answer),
        }));
        let ctx = self.ctx();
        let queued = with_queue(|queue| {
            if let Entry::Vacant(slot) = queue.timers.entry(due_ms) {
                slot.insert(start_timer(ctx, due_ms, delay_ms)?);
            }
            queue.push(due_ms, pending.take()?);
            Some(())
        })
        .flatten();
        if queued.is_none() {
            log_unexpected(
                ctx,
                c"redis-gcra: could not schedule a BLOCK answer; answering now",
            );
            // Its tokens are reserved: answering early beats leaving the client blocked.
            if let Some(pending) = pending {
                release(client, Some(pending));
            }
        }
        Ok(Reply::later())
    }
}

fn start_timer(ctx: *mut RedisModuleCtx, due_ms: i64, delay_ms: i64) -> Option<RedisModuleTimerID> {
    // The timer's data is its due millisecond, not a pointer (epoch milliseconds are positive
    // and fit in a pointer on the 64-bit targets Redis modules run on).
    let data = usize::try_from(due_ms).ok()? as *mut c_void;
    // SAFETY: the command's context; `timer_entry` lives as long as the module.
    unsafe {
        redis_api!(RedisModule_CreateTimer(
            ctx,
            delay_ms.max(0),
            Some(timer_entry),
            data
        ))
    }
    .ok()
}

/// Unblocks `client`, handing its pending answer (or none: an error reply) to Redis.
fn release(client: *mut RedisModuleBlockedClient, pending: Option<Box<Pending>>) {
    let data = pending.map_or(null_mut(), |pending| {
        Box::into_raw(pending).cast::<c_void>()
    });
    // SAFETY: `client` is blocked and not yet unblocked (it has just left the queue); Redis
    // now owns `data` and gives it back through `reply_entry` and `free_entry`.
    let _ = unsafe { redis_api!(RedisModule_UnblockClient(client, data)) };
}

/// A due millisecond has come: release everyone due by then, in order.
unsafe extern "C" fn timer_entry(ctx: *mut RedisModuleCtx, data: *mut c_void) {
    let Ok(due_ms) = i64::try_from(data as usize) else {
        return;
    };
    let (due, emptied) = with_queue(|queue| queue.take_due(due_ms)).unwrap_or_default();
    for timer in emptied {
        stop_timer(ctx, timer);
    }
    for pending in due.into_values() {
        release(pending.client, Some(pending));
    }
}

fn stop_timer(ctx: *mut RedisModuleCtx, timer: RedisModuleTimerID) {
    let mut data: *mut c_void = null_mut();
    // SAFETY: a context of this module, which made the timer; its data is no pointer to free.
    let _ = unsafe { redis_api!(RedisModule_StopTimer(ctx, timer, &mut data)) };
}

/// The waiting client went away: take it out of the queue and unblock it now, handing the
/// pending answer to Redis to free (no reply is sent to a client that is gone).
unsafe extern "C" fn disconnected(ctx: *mut RedisModuleCtx, client: *mut RedisModuleBlockedClient) {
    // None: already released, its answer is Redis's.
    let Some((pending, timer)) = with_queue(|queue| queue.take_client(client)).flatten() else {
        return;
    };
    if let Some(timer) = timer {
        stop_timer(ctx, timer);
    }
    release(client, Some(pending));
}

/// Writes the due answer to the (still connected) client.
unsafe extern "C" fn reply_entry(
    ctx: *mut RedisModuleCtx,
    _argv: *mut *mut RedisModuleString,
    _argc: c_int,
) -> c_int {
    let Some(ctx) = NonNull::new(ctx) else {
        return OK;
    };
    // SAFETY: in a blocked client's reply callback, the private data is our Pending (or null).
    let pending = unsafe { redis_api!(RedisModule_GetBlockedClientPrivateData(ctx.as_ptr())) }
        .unwrap_or(null_mut());
    let answer = if pending.is_null() {
        None
    } else {
        // SAFETY: Redis keeps `pending` alive until `free_entry`, after this callback.
        unsafe { (*pending.cast::<Pending>()).answer.take() }
    };
    let wakeup = Wakeup {
        ctx,
        _frame: PhantomData,
    };
    let reply = match answer {
        Some(answer) => {
            catch_unwind(AssertUnwindSafe(|| answer(&wakeup))).unwrap_or(Err(Error::Internal))
        }
        None => Err(Error::Internal),
    };
    send(ctx.as_ptr(), reply);
    OK
}

/// Frees the pending answer, whether or not the client was still connected.
unsafe extern "C" fn free_entry(_ctx: *mut RedisModuleCtx, privdata: *mut c_void) {
    if !privdata.is_null() {
        // SAFETY: a Box made in `answer_later` and released by `release`, freed only here,
        // once.
        drop(unsafe { Box::from_raw(privdata.cast::<Pending>()) });
    }
}
