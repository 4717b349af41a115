//! A call decided by the core, as the module decides it: the same functions the pipeline
//! calls (`gcra::decide` for the plain one-key form, `modes::decide_with` for the rest), the
//! same checked writes, and the reply's integers in milliseconds (`MS`), which become a
//! [`Decision`] the way a server's reply does.

use gcra_core::gcra::{self, decide_all, LimitState};
use gcra_core::modes::{self, Sixth};
use gcra_core::reply::{integers, Unit};
use gcra_core::state::Write;
use gcra_core::Error as CoreError;

use crate::request::{Call, Command};

/// What a call does to the keys and replies, before anything is written.
#[derive(Debug)]
pub(crate) struct Decided {
    /// `[limited, limit, remaining, retry_after_ms, reset_after_ms, sixth]`, `len` used.
    pub reply: [i64; 6],
    pub len: usize,
    /// One checked write per key when the call writes; empty when it does not.
    pub writes: Vec<Write>,
    /// `BLOCK`: when the reservation is due (ns since the epoch).
    pub due: Option<i64>,
}

impl Decided {
    pub fn reply(&self) -> &[i64] {
        self.reply.get(..self.len).unwrap_or(&self.reply)
    }
}

/// Decides `call` against the keys' stored TATs at `now`. `can_block`: whether a `BLOCK`
/// reservation may be made (the caller will wait).
#[inline]
pub(crate) fn decide(
    call: &Call<'_>,
    tats: &[Option<i64>],
    now: i64,
    draw: u64,
) -> Result<Decided, CoreError> {
    if call.is_plain_single() {
        let (limit, tat) = match (call.limits.first(), tats.first()) {
            (Some((_, limit)), Some(tat)) => (limit.core(), *tat),
            _ => return Err(CoreError::Internal),
        };
        let decision = gcra::decide(limit, call.quantity, tat, now)?;
        let writes = match call.command {
            Command::Peek => Vec::new(),
            Command::Throttle => vec![Write::prepare(decision.change)?],
        };
        return Ok(Decided {
            reply: five(integers(&decision, Unit::Milliseconds)),
            len: 5,
            writes,
            due: None,
        });
    }
    let states: Vec<LimitState> = call
        .limits
        .iter()
        .zip(tats)
        .map(|((_, limit), tat)| LimitState::new(*limit.core(), *tat))
        .collect();
    let outcome = modes::decide_with(call.mode.core(), &states, call.quantity, now, draw)?;
    let writes = outcome
        .changes
        .iter()
        .map(|&change| Write::prepare(change))
        .collect::<Result<Vec<_>, CoreError>>()?;
    let mut reply = five(integers(&outcome.decision, Unit::Milliseconds));
    let len = match outcome.sixth {
        Some(Sixth::Granted(n) | Sixth::Suppression(n)) => {
            reply[5] = n;
            6
        }
        None => 5,
    };
    Ok(Decided {
        reply,
        len,
        writes: if call.command == Command::Peek {
            Vec::new()
        } else {
            writes
        },
        due: outcome.release.map(|release| release.at),
    })
}

/// The reply of a `BLOCK` reservation released at `now`, with the keys' TATs read then: the
/// module's `Release::reply` (allowed, describing the buckets after its own charge and any
/// reservation made behind it).
pub(crate) fn released(
    call: &Call<'_>,
    tats: &[Option<i64>],
    now: i64,
) -> Result<Decided, CoreError> {
    let states: Vec<LimitState> = call
        .limits
        .iter()
        .zip(tats)
        .map(|((_, limit), tat)| LimitState::new(*limit.core(), *tat))
        .collect();
    let decision = decide_all(&states, 0, now)?.0;
    Ok(Decided {
        reply: five(integers(&decision, Unit::Milliseconds)),
        len: 5,
        writes: Vec::new(),
        due: None,
    })
}

fn five([a, b, c, d, e]: [i64; 5]) -> [i64; 6] {
    [a, b, c, d, e, 0]
}
