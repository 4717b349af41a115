//! One request, from its argument bytes to its reply, its writes and its release, with no
//! I/O: the caller reads the keys, the clock and the randomness, and applies the answer.
//! The module, the fuzzer and the differential test of the function library all go through
//! here, so a change to the grammar or a mode is made once.
//!
//! 1. [`parse`] the arguments after the command name into a [`Request`], which says where
//!    its keys are ([`Request::key_positions`]).
//! 2. [`decide`] reads the keys through the caller ([`Keys`]: each as a [`Stored`], in order,
//!    none after the first that cannot be read, so a bad key stops the call before later keys
//!    are even opened) and gives an [`Answer`]: the reply, one [`Write`] per key, the
//!    [`Release`] of a `BLOCK` reservation and what INFO counts ([`Tally`]). Errors come in
//!    the order the module has always given them: the arguments, then each key in turn, then
//!    the clock, then the arithmetic.
//! 4. The caller refuses a call that [`Answer::charges`] tokens when memory is full, applies
//!    the writes, and replies now, or when the release is due with [`Release::reply`] (the
//!    keys read again then).

#![forbid(unsafe_code)]

use crate::args::{
    parse_throttle, parse_throttle_all, too_many_args, GROUP_LEN, MAX_ARGS_AFTER_KEY,
};
use crate::error::Error;
use crate::gcra::{self, decide_all, Decision, Limit, LimitState};
use crate::modes::{self, Mode, Outcome, Sixth};
use crate::reply::{self, Unit};
pub use crate::state::{Stored, Write};
use crate::units::millis_rounded_up;

/// The commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `CL.THROTTLE key max_burst count period [quantity] [MS] [BLOCK ms | ATMOST | SOFT f]`
    Throttle,
    /// `CL.THROTTLEALL numlimits key max_burst count period [...] [quantity] [MS] [mode]`
    ThrottleAll,
    /// `CL.PEEK key max_burst count period [quantity] [MS]`
    Peek,
}

/// The keys of a request, read by the caller when the pipeline asks.
pub trait Keys {
    /// What the key at `index` (in key order) holds. Asked in order, once per key, and never
    /// after a key that could not be read or does not hold a TAT; an error here (such as
    /// `WrongType`, found when the key is opened) is the call's.
    fn stored(&mut self, index: usize) -> Result<Stored<'_>, Error>;
}

/// Values already read (tests, the fuzzer, the differential test of the function library).
impl Keys for [Stored<'_>] {
    fn stored(&mut self, index: usize) -> Result<Stored<'_>, Error> {
        self.get(index).copied().ok_or(Error::Internal)
    }
}

/// What the caller reads outside the pipeline, asked for only when a request needs it.
pub trait Context {
    /// Now, in nanoseconds since the epoch.
    fn now(&mut self) -> Result<i64, Error>;
    /// A uniform random number, for `SOFT`'s admissions.
    fn draw(&mut self) -> u64;
    /// Whether the client may wait for a `BLOCK` answer (not inside `MULTI` or a script);
    /// where it may not, `BLOCK` answers at once, as without it.
    fn can_block(&mut self) -> bool;
}

/// A parsed, validated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    command: Command,
    limits: Limits,
    quantity: i64,
    unit: Unit,
    mode: Mode,
}

/// One limit (the hot path allocates nothing), or several.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Limits {
    One(Limit),
    Many(Vec<Limit>),
}

impl Request {
    pub fn command(&self) -> Command {
        self.command
    }

    /// The limits, in key order.
    pub fn limits(&self) -> &[Limit] {
        match &self.limits {
            Limits::One(limit) => std::slice::from_ref(limit),
            Limits::Many(limits) => limits,
        }
    }

    /// Where each key is among the arguments after the command name, in order.
    pub fn key_positions(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.limits().len()).filter_map(|index| self.key_position(index))
    }

    /// Where the key of limit `index` is among the arguments after the command name.
    #[inline]
    pub fn key_position(&self, index: usize) -> Option<usize> {
        if index >= self.limits().len() {
            return None;
        }
        Some(match self.command {
            Command::ThrottleAll => 1 + index * GROUP_LEN,
            Command::Throttle | Command::Peek => 0,
        })
    }

    pub fn quantity(&self) -> i64 {
        self.quantity
    }

    pub fn unit(&self) -> Unit {
        self.unit
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }
}

/// Parses the arguments after the command name.
#[inline(always)]
pub fn parse(command: Command, args: &[&[u8]]) -> Result<Request, Error> {
    match command {
        Command::Throttle => parse_single(Command::Throttle, args),
        Command::Peek => {
            let request = parse_single(Command::Peek, args).map_err(|error| match error {
                Error::WrongArity => Error::WrongArityPeek,
                other => other,
            })?;
            if request.mode != Mode::Plain {
                return Err(Error::PeekMode);
            }
            Ok(request)
        }
        Command::ThrottleAll => {
            let parsed = parse_throttle_all(args)?;
            Ok(Request {
                command,
                limits: Limits::Many(parsed.limits),
                quantity: parsed.quantity,
                unit: parsed.unit,
                mode: parsed.mode,
            })
        }
    }
}

/// `key max_burst count period [options]`: more arguments than any valid request has are
/// refused before the limit is read, as Redis refuses a wrong arity.
#[inline(always)]
fn parse_single(command: Command, args: &[&[u8]]) -> Result<Request, Error> {
    let [_key, after_key @ ..] = args else {
        return Err(Error::WrongArity);
    };
    if after_key.len() > MAX_ARGS_AFTER_KEY {
        return Err(too_many_args(after_key));
    }
    let parsed = parse_throttle(after_key)?;
    Ok(Request {
        command,
        limits: Limits::One(parsed.limit),
        quantity: parsed.quantity,
        unit: parsed.unit,
        mode: parsed.mode,
    })
}

/// A decided request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The reply to send now (unless `release` says to answer later).
    pub reply: Reply,
    /// One write per key, in key order (none when nothing is written, as when limited).
    pub writes: Writes,
    /// `BLOCK`: the reservation to answer when it is due.
    /// Boxed: rare, and without it an answer is too large to move without a `memcpy` call.
    pub release: Option<Box<Release>>,
    /// What `INFO gcra_stats` counts for this call.
    pub tally: Tally,
    /// Whether the call takes tokens and stores a TAT (and may create a key): the calls a
    /// server refuses when its memory is full.
    pub charges: bool,
}

/// The writes of a call, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writes {
    None,
    One(Write),
    Many(Vec<Write>),
}

impl Writes {
    pub fn as_slice(&self) -> &[Write] {
        match self {
            Writes::None => &[],
            Writes::One(write) => std::slice::from_ref(write),
            Writes::Many(writes) => writes,
        }
    }
}

/// A reply: the five integers, and a sixth with `ATMOST` or `SOFT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    values: [i64; 6],
    len: usize,
}

impl Reply {
    #[inline(always)]
    fn of(decision: &Decision, unit: Unit, sixth: Option<Sixth>) -> Reply {
        let [a, b, c, d, e] = reply::integers(decision, unit);
        let (f, len) = sixth.map_or((0, 5), |sixth| (sixth.value(), 6));
        Reply {
            values: [a, b, c, d, e, f],
            len,
        }
    }

    pub fn as_slice(&self) -> &[i64] {
        self.values.get(..self.len).unwrap_or_default()
    }

    /// The six slots (the sixth is 0 when unused) and how many are used: a fixed-size copy
    /// for a caller that keeps replies in arrays of its own.
    #[inline(always)]
    pub fn to_array(&self) -> ([i64; 6], usize) {
        (self.values, self.len)
    }
}

/// What INFO counts for a call (the `gcra_stats` field of the same name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    Allowed,
    Limited,
    /// A zero quantity, or any `CL.PEEK`.
    Peeked,
    Refunded,
    /// A `BLOCK` reservation (counted as released when answered).
    Blocked,
    /// A `SOFT` refusal inside the band: limited, and suppressed.
    Suppressed,
}

impl Tally {
    #[inline(always)]
    fn of(decision: &Decision, quantity: i64) -> Tally {
        match quantity {
            _ if decision.limited => Tally::Limited,
            0 => Tally::Peeked,
            q if q < 0 => Tally::Refunded,
            _ => Tally::Allowed,
        }
    }

    fn of_outcome(outcome: &Outcome, quantity: i64) -> Tally {
        if outcome.release.is_some() {
            Tally::Blocked
        } else if outcome.suppressed {
            Tally::Suppressed
        } else {
            Tally::of(&outcome.decision, quantity)
        }
    }
}

/// A `BLOCK` reservation: written now, answered when due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// When it is due, in milliseconds since the epoch (rounded up: never early).
    pub due_ms: i64,
    /// How long until then from the call's "now", in milliseconds (rounded up).
    pub delay_ms: i64,
    reservation: modes::Release,
    unit: Unit,
}

impl Release {
    fn new(reservation: modes::Release, now: i64, unit: Unit) -> Release {
        Release {
            due_ms: millis_rounded_up(reservation.at),
            delay_ms: millis_rounded_up(reservation.at.saturating_sub(now)),
            reservation,
            unit,
        }
    }

    /// The reply when the client is released at `now`, with `stored` read from the keys
    /// then: allowed, describing the buckets as they are after this reservation's own charge,
    /// with the reservations made behind it (`remaining` is what a plain call could take
    /// now, `reset_after` the time until the stored TAT). A key deleted meanwhile reads as a
    /// full bucket; one that no longer holds a TAT reads as this reservation left it.
    pub fn reply(&self, stored: &[Stored<'_>], now: i64) -> Result<Reply, Error> {
        let states: Vec<LimitState> = self
            .reservation
            .after
            .iter()
            .enumerate()
            .map(|(i, reserved)| {
                let tat = stored
                    .get(i)
                    .map_or(Ok(reserved.tat), |stored| stored.tat())
                    .unwrap_or(reserved.tat);
                LimitState::new(reserved.limit, tat)
            })
            .collect();
        Ok(Reply::of(&decide_all(&states, 0, now)?.0, self.unit, None))
    }

    /// When the reservation's tokens are due, in ns since the epoch.
    pub fn at(&self) -> i64 {
        self.reservation.at
    }
}

/// Decides a parsed request, reading its keys through `keys`. Inlined into its caller: the
/// hot path then builds its answer in place instead of returning it through memory.
#[inline(always)]
pub fn decide(
    request: &Request,
    keys: &mut (impl Keys + ?Sized),
    context: &mut impl Context,
) -> Result<Answer, Error> {
    match (&request.limits, request.mode) {
        // redis-cell's plain form and CL.PEEK: the hot path, without allocating.
        (Limits::One(limit), Mode::Plain) if request.command != Command::ThrottleAll => {
            let tat = keys.stored(0)?.tat()?;
            let decision = gcra::decide(limit, request.quantity, tat, context.now()?)?;
            let reply = Reply::of(&decision, request.unit, None);
            if request.command == Command::Peek {
                return Ok(Answer {
                    reply,
                    writes: Writes::None,
                    release: None,
                    tally: Tally::Peeked,
                    charges: false,
                });
            }
            let write = Write::prepare(decision.change)?;
            Ok(Answer {
                reply,
                writes: Writes::One(write),
                release: None,
                tally: Tally::of(&decision, request.quantity),
                charges: request.quantity > 0 && write.stores(),
            })
        }
        _ => decide_in_mode(request, keys, context),
    }
}

/// CL.THROTTLEALL, and any request with a mode.
fn decide_in_mode(
    request: &Request,
    keys: &mut (impl Keys + ?Sized),
    context: &mut impl Context,
) -> Result<Answer, Error> {
    let states = request
        .limits()
        .iter()
        .enumerate()
        .map(|(i, &limit)| Ok(LimitState::new(limit, keys.stored(i)?.tat()?)))
        .collect::<Result<Vec<_>, Error>>()?;
    let now = context.now()?;
    let mode = match request.mode {
        Mode::Block { .. } if !context.can_block() => Mode::Plain,
        mode => mode,
    };
    let draw = match mode {
        Mode::Soft { .. } => context.draw(),
        _ => 0,
    };
    let outcome = modes::decide_with(mode, &states, request.quantity, now, draw)?;
    let writes = outcome
        .changes
        .iter()
        .map(|&change| Write::prepare(change))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Answer {
        reply: Reply::of(&outcome.decision, request.unit, outcome.sixth),
        charges: request.quantity > 0 && writes.iter().any(Write::stores),
        writes: Writes::Many(writes),
        tally: Tally::of_outcome(&outcome, request.quantity),
        release: outcome
            .release
            .map(|reservation| Box::new(Release::new(reservation, now, request.unit))),
    })
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
