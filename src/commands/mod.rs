//! The module's commands, each described once (name, flags, arity, keys, docs) next to its
//! handler. A handler only does I/O around the core's pipeline (`gcra_core::pipeline`): read
//! the arguments, open and read the keys, ask the pipeline, refuse a charge when memory is
//! full, write, reply now or when the answer is due.

#![forbid(unsafe_code)]

mod docs;
mod peek;
mod throttle;
mod throttle_all;

pub use peek::Peek;
pub use throttle::Throttle;
pub use throttle_all::ThrottleAll;

use gcra_core::args::{ArgBytes, MAX_ARGS_AFTER_KEY};
use gcra_core::pipeline::{Answer, Context, Release, Stored, Writes};
use gcra_core::Error;

use crate::host::{Arg, Call, Reply, Wakeup};
use crate::store::Limiter;
use crate::{clock, memory_policy, random, stats};

/// The grammar reads an argument's bytes only when it needs them (Redis's keys requests
/// look at `numlimits` alone).
impl ArgBytes for Arg<'_> {
    fn bytes(&self) -> &[u8] {
        Arg::bytes(self)
    }
}

/// Calls `parse` with the arguments after the command name as bytes: in place for as many
/// as a CL.THROTTLE or CL.PEEK can validly have (the hot path allocates nothing), collected
/// for more. The first `unread` arguments are passed empty, not read: CL.THROTTLE's key
/// only has to be there (the grammar never looks at it; the key is opened by its handle).
#[inline(always)]
fn with_arg_bytes<R>(
    call: &Call<'_>,
    unread: usize,
    parse: impl FnOnce(&[&[u8]]) -> Result<R, Error>,
) -> Result<R, Error> {
    const IN_PLACE: usize = 1 + MAX_ARGS_AFTER_KEY;
    let count = call.arg_count();
    if count > IN_PLACE {
        let mut bytes: Vec<&[u8]> = vec![&[]; count];
        for (i, slot) in bytes.iter_mut().enumerate().skip(unread) {
            *slot = call.arg(i)?.bytes();
        }
        return parse(&bytes);
    }
    let mut bytes: [&[u8]; IN_PLACE] = [&[]; IN_PLACE];
    let mut i = unread;
    while let Some(slot) = bytes.get_mut(i).filter(|_| i < count) {
        *slot = call.arg(i)?.bytes();
        i += 1;
    }
    parse(bytes.get(..count).unwrap_or_default())
}

/// The server around the pipeline: its clock, SOFT's randomness, and whether the calling
/// client may wait.
struct Server<'c, 'a> {
    call: &'c Call<'a>,
}

impl Context for Server<'_, '_> {
    #[inline(always)]
    fn now(&mut self) -> Result<i64, Error> {
        clock::now_ns()
    }

    fn draw(&mut self) -> u64 {
        random::draw()
    }

    fn can_block(&mut self) -> bool {
        self.call.can_block()
    }
}

fn server<'c, 'a>(call: &'c Call<'a>) -> Server<'c, 'a> {
    Server { call }
}

/// After the pipeline: refuse a charge over maxmemory, write every key, count the call, and
/// reply now or when the reservation is due.
#[inline(always)]
fn apply(call: &Call<'_>, limiters: &mut [Limiter<'_>], answer: Answer) -> Result<Reply, Error> {
    if answer.charges {
        refuse_charge_over_maxmemory(call)?;
    }
    let reply = Reply::from(answer.reply.to_array());
    // Everything that can fail has been checked: the first write is here, and from here on
    // nothing can fail.
    match (&answer.writes, &mut *limiters) {
        // The hot path: one key, no loop.
        (Writes::One(write), [limiter]) => limiter.commit(write),
        (writes, limiters) => {
            for (limiter, write) in limiters.iter_mut().zip(writes.as_slice()) {
                limiter.commit(write);
            }
        }
    }
    stats::count(answer.tally);
    match answer.release {
        None => Ok(reply),
        Some(release) => answer_when_due(call, limiters, release),
    }
}

/// Blocks the client until its reservation is due, then replies with the buckets as they
/// are then (its keys read again).
#[cold]
fn answer_when_due(
    call: &Call<'_>,
    limiters: &[Limiter<'_>],
    release: Box<Release>,
) -> Result<Reply, Error> {
    let names: Vec<Vec<u8>> = limiters.iter().map(|l| l.name().to_vec()).collect();
    let (due_ms, delay_ms) = (release.due_ms, release.delay_ms);
    call.answer_later(
        due_ms,
        delay_ms,
        Box::new(move |wakeup| {
            let reply = released_reply(wakeup, &names, &release);
            match reply {
                Ok(_) => stats::record_released(),
                Err(_) => stats::record_error(),
            }
            reply
        }),
    )
}

fn released_reply(
    wakeup: &Wakeup<'_>,
    names: &[Vec<u8>],
    release: &Release,
) -> Result<Reply, Error> {
    let values: Vec<Result<Option<Vec<u8>>, Error>> = names
        .iter()
        .map(|name| wakeup.read_string(name, |value| value.map(<[u8]>::to_vec)))
        .collect();
    let stored: Vec<Stored<'_>> = values
        .iter()
        .map(|value| match value {
            Ok(Some(bytes)) => Stored::Value(bytes),
            Ok(None) => Stored::Absent,
            Err(_) => Stored::WrongType,
        })
        .collect();
    let reply = release.reply(&stored, clock::now_ns()?)?;
    Ok(Reply::from(reply.as_slice()))
}

/// What the deny-oom flag would do for the calls that need it: a call that charges tokens
/// (and may create a key) gets Redis's OOM error while used memory is over maxmemory and the
/// policy cannot make room (`noeviction`; an evicting policy frees memory, lazily at times,
/// as it would for SET). Peeks, limited calls and refunds (which free memory) still answer,
/// and so do calls from the replication link or an AOF being loaded, which must apply.
fn refuse_charge_over_maxmemory(call: &Call<'_>) -> Result<(), Error> {
    let refused =
        call.over_maxmemory() && !memory_policy::evicts() && !call.is_replicated_or_loading();
    if refused {
        return Err(Error::OutOfMemory);
    }
    Ok(())
}
