//! The request modes on top of the core, for one limit or several (CL.THROTTLEALL):
//! - `BLOCK`: a limited request that fits within the wait is decided as of the time it fits
//!   (GCRA: conforming later is moving the TAT now), so it is reserved now and answered then;
//! - `ATMOST`: take what fits now, up to the quantity;
//! - `SOFT`: between the capacity and `hard_factor` times it, admit with a probability that
//!   falls from 1 to 0 across that band. Admitted requests move the TAT like any other, so
//!   under sustained overload the TAT settles inside the band where the admission
//!   probability equals rate / offered rate, and the admitted rate converges on the rate.
//!
//! Pure: limits, stored TATs, "now" and a random draw in; a decision, writes and the sixth
//! reply element out.

#![forbid(unsafe_code)]

use crate::error::Error;
use crate::gcra::{band_level_ppm, decide, decide_all, Decision, LimitState, TatChange};
use crate::units::NANOS_PER_MILLI;

/// What a request does besides taking its tokens now: at most one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    /// `BLOCK <ms>`: if the tokens fit within this wait, reserve them now and answer then.
    Block {
        max_wait_ns: i64,
    },
    /// `ATMOST`: take what fits now, up to the quantity.
    AtMost,
    /// `SOFT <hard_factor>`: past capacity, up to `hard_factor` times it, admit with a
    /// probability that falls as the bucket runs further over (factor in billionths).
    Soft {
        hard_factor_e9: i64,
    },
}

/// A decided request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The combined decision to reply now (unless `release` says to answer later).
    pub decision: Decision,
    /// One change per limit when the request writes; empty when it writes nothing.
    pub changes: Vec<TatChange>,
    /// The reply's sixth element, for ATMOST and SOFT.
    pub sixth: Option<Sixth>,
    /// BLOCK: the reservation to answer when it is due.
    pub release: Option<Release>,
    /// SOFT: refused inside the band (by the draw, not by the hard limit).
    pub suppressed: bool,
}

/// The sixth element of a reply with a mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sixth {
    /// ATMOST: the tokens granted.
    Granted(i64),
    /// SOFT: how far into the band the request took the bucket, in per mille.
    Suppression(i64),
}

impl Sixth {
    pub fn value(self) -> i64 {
        match self {
            Sixth::Granted(n) | Sixth::Suppression(n) => n,
        }
    }
}

/// A reservation: due at `at` (ns since the epoch), leaving each limit as `after` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub at: i64,
    pub after: Vec<LimitState>,
}

impl Release {
    /// The reply due at `now` if the buckets are as the reservation left them (nothing
    /// reserved behind it): allowed, by construction.
    pub fn decision(&self, now: i64) -> Result<Decision, Error> {
        Ok(decide_all(&self.after, 0, now)?.0)
    }
}

impl Outcome {
    fn plain((decision, changes): (Decision, Vec<TatChange>)) -> Outcome {
        Outcome {
            decision,
            changes,
            sixth: None,
            release: None,
            suppressed: false,
        }
    }
}

/// Decides a request for `quantity` tokens against every limit in `states` (each with its
/// stored TAT) in `mode`. `draw` is a uniform random number, used by SOFT only.
pub fn decide_with(
    mode: Mode,
    states: &[LimitState],
    quantity: i64,
    now: i64,
    draw: u64,
) -> Result<Outcome, Error> {
    match mode {
        Mode::Plain => Ok(Outcome::plain(decide_all(states, quantity, now)?)),
        Mode::Block { max_wait_ns } => block(states, quantity, now, max_wait_ns),
        Mode::AtMost => at_most(states, quantity, now),
        Mode::Soft { hard_factor_e9 } => soft(states, quantity, now, hard_factor_e9, draw),
    }
}

fn block(
    states: &[LimitState],
    quantity: i64,
    now: i64,
    max_wait_ns: i64,
) -> Result<Outcome, Error> {
    let immediate = decide_all(states, quantity, now)?;
    let wait = match immediate.0.retry_after_ns {
        Some(wait) if immediate.0.limited && wait <= max_wait_ns => wait,
        // Allowed now, never fits, or not within the wait: as without BLOCK.
        _ => return Ok(Outcome::plain(immediate)),
    };
    let Some(at) = now.checked_add(wait) else {
        return Ok(Outcome::plain(immediate));
    };
    let (reserved, changes) = decide_all(states, quantity, at)?;
    if reserved.limited {
        // Cannot happen (at `at` every limit conforms); answer as without BLOCK.
        return Ok(Outcome::plain(immediate));
    }
    Ok(Outcome {
        release: Some(Release {
            at,
            after: after(states, &changes),
        }),
        ..Outcome::plain((reserved, changes))
    })
}

fn at_most(states: &[LimitState], quantity: i64, now: i64) -> Result<Outcome, Error> {
    // The combined peek's remaining is the least over the limits: what fits in all of them.
    let available = decide_all(states, 0, now)?.0.remaining;
    let granted = quantity.min(available).max(0);
    // Nothing fits: the reply of a one-token request (limited, with its retry_after).
    let decided = decide_all(states, granted.max(1), now)?;
    Ok(Outcome {
        sixth: Some(Sixth::Granted(granted)),
        ..Outcome::plain(decided)
    })
}

fn soft(
    states: &[LimitState],
    quantity: i64,
    now: i64,
    hard_factor_e9: i64,
    draw: u64,
) -> Result<Outcome, Error> {
    const PER_MILLE: i64 = 1_000;
    let within_soft = decide_all(states, quantity, now)?;
    if !within_soft.0.limited {
        return Ok(Outcome {
            sixth: Some(Sixth::Suppression(0)),
            ..Outcome::plain(within_soft)
        });
    }
    let hard: Vec<LimitState> = states
        .iter()
        .map(|state| LimitState::new(state.limit.scaled(hard_factor_e9), state.tat))
        .collect();
    let (over_hard, changes) = decide_all(&hard, quantity, now)?;
    // Whether the band can ever admit it (-1 only when not even the hard limit fits it).
    let fits_hard = !over_hard.limited || over_hard.retry_after_ns.is_some();
    let refuse = || refused(states, quantity, now, within_soft.0, fits_hard);
    if over_hard.limited {
        return Ok(Outcome {
            sixth: Some(Sixth::Suppression(PER_MILLE)),
            ..Outcome::plain((refuse()?, Vec::new()))
        });
    }
    // Inside the band: the limit furthest into its band sets the level.
    let level_ppm = states
        .iter()
        .zip(&hard)
        .map(|(soft, hard)| band_level_ppm(&soft.limit, &hard.limit, quantity, soft.tat, now))
        .max()
        .unwrap_or(0);
    let level = level_ppm / PER_MILLE;
    // Admitted with probability 1 - level.
    if (draw % 1_000_000) as i64 >= level_ppm {
        // The reply shows the soft limit's view: allowed, nothing remaining, its reset.
        let decision = decide_all(&after(states, &changes), 0, now)?.0;
        Ok(Outcome {
            sixth: Some(Sixth::Suppression(level)),
            ..Outcome::plain((decision, changes))
        })
    } else {
        Ok(Outcome {
            sixth: Some(Sixth::Suppression(level)),
            suppressed: true,
            ..Outcome::plain((refuse()?, Vec::new()))
        })
    }
}

/// The reply to a refused SOFT request: the soft limit's decision (limited), with a
/// retry_after that is never 0 in either unit, since a client that honours it would retry at
/// once, in a loop, which is the load SOFT exists to shed:
/// - a request that fits the capacity: the time until it surely passes, at least 1 ms;
/// - a larger one, which never surely passes but may inside the band: the time until the
///   bucket drains, when its chance is best, and at least one emission interval (period /
///   count) of the limits that refuse it, and 1 ms. Once drained its chance stays the same,
///   so a retry sooner would only draw again: this paces such retries at the limit's rate;
/// - one that not even the hard limit fits: never (-1), as without SOFT.
fn refused(
    states: &[LimitState],
    quantity: i64,
    now: i64,
    within_soft: Decision,
    fits_hard: bool,
) -> Result<Decision, Error> {
    let retry_after_ns = match within_soft.retry_after_ns {
        Some(wait) => Some(wait.max(NANOS_PER_MILLI)),
        None if fits_hard => {
            let mut wait = within_soft.reset_after_ns.max(NANOS_PER_MILLI);
            for state in states {
                if decide(&state.limit, quantity, state.tat, now)?.limited {
                    wait = wait.max(state.limit.interval_ns());
                }
            }
            Some(wait)
        }
        None => None,
    };
    Ok(Decision {
        retry_after_ns,
        ..within_soft
    })
}

/// Each limit with its TAT after `changes` (no changes: as it was).
fn after(states: &[LimitState], changes: &[TatChange]) -> Vec<LimitState> {
    states
        .iter()
        .enumerate()
        .map(|(i, state)| state.after(changes.get(i).copied().unwrap_or(TatChange::Keep)))
        .collect()
}

#[cfg(test)]
#[path = "modes_tests.rs"]
mod tests;
