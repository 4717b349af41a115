//! The module's commands, each described once (name, flags, arity, keys, docs) next to
//! its handler.

#![forbid(unsafe_code)]

mod peek;
mod throttle;
mod throttle_all;

pub use peek::Peek;
pub use throttle::Throttle;
pub use throttle_all::ThrottleAll;

use crate::args::{parse_throttle, Throttle as Request, MAX_ARGS_AFTER_KEY};
use crate::error::Error;
use crate::gcra::{decide_all, Decision, Limit};
use crate::host::spec::{ArgKind, ArgSpec};
use crate::host::{Arg, Call, Reply, Wakeup};
use crate::modes::{self, Mode};
use crate::reply::{self, Unit};
use crate::store::{self, Limiter, PreparedWrite};
use crate::units::NANOS_PER_MILLI;
use crate::{clock, memory_policy, random, stats};

/// The module version that introduced both commands.
const SINCE: &std::ffi::CStr = c"0.1.0";

/// The arguments every limit takes after its key.
const LIMIT_ARGS: [ArgSpec; 3] = [
    ArgSpec::new(
        c"max_burst",
        ArgKind::Integer,
        c"extra requests allowed at once; capacity is max_burst + 1",
    ),
    ArgSpec::new(c"count", ArgKind::Integer, c"requests allowed per period"),
    ArgSpec::new(
        c"period",
        ArgKind::Double,
        c"period in seconds, up to 9 decimals",
    ),
];

const QUANTITY: ArgSpec = ArgSpec::new(
    c"quantity",
    ArgKind::Integer,
    c"tokens to take (default 1); 0 peeks, negative refunds",
)
.optional();

const MS: ArgSpec = ArgSpec::new(
    c"ms",
    ArgKind::PureToken,
    c"reply retry_after and reset_after in milliseconds",
)
.token(c"MS")
.optional();

/// `[BLOCK ms | ATMOST | SOFT hard_factor]`
const MODE: ArgSpec = ArgSpec::new(c"mode", ArgKind::OneOf, c"")
    .without_summary()
    .optional()
    .with(&[
        ArgSpec::new(
            c"milliseconds",
            ArgKind::Integer,
            c"if limited but the tokens fit within this wait, reserve them now and answer when they are due",
        )
        .token(c"BLOCK"),
        ArgSpec::new(
            c"atmost",
            ArgKind::PureToken,
            c"take what fits now, up to the quantity; a sixth element says how many",
        )
        .token(c"ATMOST"),
        ArgSpec::new(
            c"hard_factor",
            ArgKind::Double,
            c"past capacity and up to hard_factor times it, admit with a falling probability; a sixth element gives the suppression in per mille",
        )
        .token(c"SOFT"),
    ]);

/// CL.THROTTLE's and CL.PEEK's arguments, read in place (no allocation on this hot path).
/// Inlined: returning the request through memory costs the hot path about 60 instructions.
#[inline(always)]
fn parse_single<'a>(call: &Call<'a>) -> Result<Request<Arg<'a>>, Error> {
    /// No key, or more arguments than the cap: the wrong arity, unless an option is given
    /// twice (`BLOCK 1 BLOCK 2`). Out of line, and the only part that allocates: the hot path
    /// below is as it was.
    #[cold]
    #[inline(never)]
    fn arity_error(call: &Call<'_>) -> Error {
        match call.args() {
            Ok(args) => crate::args::too_many_args(args.get(1..).unwrap_or_default()),
            Err(error) => error,
        }
    }
    let after_key = call.arg_count().saturating_sub(1);
    if call.arg_count() == 0 || after_key > MAX_ARGS_AFTER_KEY {
        return Err(arity_error(call));
    }
    let mut bytes: [&[u8]; MAX_ARGS_AFTER_KEY] = [&[]; MAX_ARGS_AFTER_KEY];
    for (i, slot) in bytes.iter_mut().take(after_key).enumerate() {
        *slot = call.arg(i + 1)?.bytes();
    }
    parse_throttle(call.arg(0)?, bytes.get(..after_key).unwrap_or_default())
}

/// The reply: the five integers, and the mode's sixth when it has one.
fn reply_of(decision: &Decision, unit: Unit, extra: Option<i64>) -> Reply {
    let [a, b, c, d, e] = reply::integers(decision, unit);
    match extra {
        Some(extra) => Reply::from([a, b, c, d, e, extra]),
        None => Reply::from([a, b, c, d, e]),
    }
}

/// A request in any mode over opened limiters (CL.THROTTLEALL, and CL.THROTTLE with BLOCK,
/// ATMOST or SOFT): decide, prepare every write, write them all, reply now or when due.
fn run_with_mode(
    call: &Call<'_>,
    mut limiters: Vec<Limiter<'_>>,
    states: &[(Limit, Option<i64>)],
    quantity: i64,
    unit: Unit,
    mode: Mode,
) -> Result<Reply, Error> {
    let now = clock::now_ns()?;
    let mode = match mode {
        // Where the client cannot wait (MULTI, scripts), BLOCK answers at once.
        Mode::Block { .. } if !call.can_block() => Mode::Plain,
        _ => mode,
    };
    let draw = if matches!(mode, Mode::Soft { .. }) {
        random::draw()
    } else {
        0
    };
    let outcome = modes::decide_with(mode, states, quantity, now, draw)?;
    let writes = outcome
        .changes
        .iter()
        .map(|&change| store::prepare(change))
        .collect::<Result<Vec<_>, Error>>()?;
    refuse_charge_over_maxmemory(call, quantity, &writes)?;
    let reply = reply_of(&outcome.decision, unit, outcome.extra);
    // Everything that can fail has been checked: the first write is here, and from here on
    // nothing can fail.
    for (limiter, write) in limiters.iter_mut().zip(&writes) {
        limiter.commit(write);
    }
    stats::record_outcome(&outcome, quantity);
    let Some(release) = outcome.release else {
        return Ok(reply);
    };
    let names: Vec<Vec<u8>> = limiters.iter().map(|l| l.name().to_vec()).collect();
    // Due at `release.at`: the timer rounds up to the millisecond, never early.
    let due_ms = millis_rounded_up(release.at);
    let delay_ms = millis_rounded_up(release.at.saturating_sub(now));
    call.answer_later(
        due_ms,
        delay_ms,
        Box::new(move |wakeup| {
            let decision = released_decision(wakeup, &names, &release.after)?;
            stats::record_released();
            Ok(reply_of(&decision, unit, None))
        }),
    )
}

/// A released waiter's reply: allowed, with the buckets as they are at release (its own
/// charge and the reservations made after it included), i.e. what a plain call could take
/// now and when the stored TAT is reached. A key that no longer holds a TAT (overwritten
/// meanwhile) counts as the reservation left it.
fn released_decision(
    wakeup: &Wakeup<'_>,
    names: &[Vec<u8>],
    reserved: &[(Limit, Option<i64>)],
) -> Result<Decision, Error> {
    let now = clock::now_ns()?;
    let states: Vec<(Limit, Option<i64>)> = names
        .iter()
        .zip(reserved)
        .map(|(name, &(limit, reserved_tat))| {
            let stored = store::read_tat_when_released(wakeup, name);
            (limit, stored.unwrap_or(reserved_tat))
        })
        .collect();
    Ok(decide_all(&states, 0, now)?.0)
}

fn millis_rounded_up(ns: i64) -> i64 {
    ns / NANOS_PER_MILLI + i64::from(ns % NANOS_PER_MILLI > 0)
}

/// What the deny-oom flag would do for the calls that need it: a call that charges tokens
/// (and may create a key) gets Redis's OOM error while used memory is over maxmemory and the
/// policy cannot make room (`noeviction`; an evicting policy frees memory, lazily at times,
/// as it would for SET). Peeks, limited calls and refunds (which free memory) still answer,
/// and so do calls from the replication link or an AOF being loaded, which must apply.
fn refuse_charge_over_maxmemory(
    call: &Call<'_>,
    quantity: i64,
    writes: &[PreparedWrite],
) -> Result<(), Error> {
    let refused = quantity > 0
        && writes.iter().any(PreparedWrite::stores)
        && call.over_maxmemory()
        && !memory_policy::evicts()
        && !call.is_replicated_or_loading();
    if refused {
        return Err(Error::OutOfMemory);
    }
    Ok(())
}
