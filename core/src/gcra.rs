//! The generic cell rate algorithm, in exact integer nanoseconds.
//!
//! Integers in, a decision out: no Redis, no clock, no I/O. The caller passes the
//! stored theoretical arrival time (TAT) and "now", and applies `Decision::change`.
//!
//! Arithmetic runs in i128: every input is an i64, so no product or sum below can
//! leave i128 (|interval * quantity| < 2^126, tolerance < 2^126, TATs < 2^63).
//! Only values that must be stored or replied are narrowed back to i64, and a
//! value that does not fit is an `Error::Overflow`, never a wrap.

#![forbid(unsafe_code)]

use crate::error::Error;
use crate::units::NANOS_PER_SECOND;

/// A validated limit: `count` tokens per `period`, with bursts of `max_burst + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    max_burst: i64,
    /// Nanoseconds between two tokens at the steady rate (emission interval).
    interval: i128,
    /// How far ahead of now the TAT may run: interval * (max_burst + 1).
    tolerance: i128,
}

impl Limit {
    pub fn new(max_burst: i64, count: i64, period_ns: i64) -> Result<Limit, Error> {
        // max_burst + 1 is replied as "limit", so it must fit too.
        if !(0..i64::MAX).contains(&max_burst) {
            return Err(Error::InvalidMaxBurst);
        }
        if count < 1 {
            return Err(Error::InvalidCount);
        }
        if period_ns < 1 {
            return Err(Error::InvalidPeriod);
        }
        let interval = i128::from(period_ns / count);
        if interval < 1 {
            return Err(Error::RateTooHigh);
        }
        Ok(Limit {
            max_burst,
            interval,
            tolerance: interval * (i128::from(max_burst) + 1),
        })
    }

    /// The most tokens a full bucket holds (redis-cell's "limit").
    pub fn capacity(&self) -> i64 {
        self.max_burst + 1
    }

    /// Nanoseconds between two tokens at the steady rate: `period / count`.
    pub fn interval_ns(&self) -> i64 {
        // At most the period, an i64.
        i64::try_from(self.interval).unwrap_or(i64::MAX)
    }

    /// The same rate with the tolerance scaled by `factor_e9` billionths (SOFT's hard limit).
    /// A tolerance past 2^126 ns is capped there: no TAT that fits in 64 bits reaches it.
    pub fn scaled(&self, factor_e9: i64) -> Limit {
        const CAP: i128 = 1 << 126;
        let tolerance = self
            .tolerance
            .checked_mul(i128::from(factor_e9))
            .map_or(CAP, |scaled| {
                (scaled / i128::from(NANOS_PER_SECOND)).min(CAP)
            });
        Limit { tolerance, ..*self }
    }
}

/// How far into SOFT's band (between `soft`'s tolerance and `hard`'s) a request for
/// `quantity` tokens would take the bucket, in millionths of the band: 0 at or below the
/// soft limit, 1,000,000 at the hard one. `soft` and `hard` share their rate.
pub fn band_level_ppm(
    soft: &Limit,
    hard: &Limit,
    quantity: i64,
    tat: Option<i64>,
    now: i64,
) -> i64 {
    const WHOLE: i128 = 1_000_000;
    let now = i128::from(now);
    let new_tat = tat.map_or(now, i128::from).max(now) + soft.interval * i128::from(quantity);
    let excess = new_tat - now - soft.tolerance;
    let band = hard.tolerance - soft.tolerance;
    if excess <= 0 {
        return 0;
    }
    if excess >= band {
        return WHOLE as i64;
    }
    // excess < band, so the level is below WHOLE; a band too wide to multiply is divided first.
    let level = match excess.checked_mul(WHOLE) {
        Some(scaled) => scaled / band,
        None => excess / (band / WHOLE),
    };
    i64::try_from(level.min(WHOLE)).unwrap_or(0)
}

/// A limit with the TAT stored for it: `None` when there is no key (a full bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitState {
    pub limit: Limit,
    pub tat: Option<i64>,
}

impl LimitState {
    pub fn new(limit: Limit, tat: Option<i64>) -> LimitState {
        LimitState { limit, tat }
    }

    /// The same limit with its TAT after `change`.
    pub fn after(self, change: TatChange) -> LimitState {
        match change {
            TatChange::Set(tat) => LimitState::new(self.limit, Some(tat)),
            TatChange::Delete => LimitState::new(self.limit, None),
            TatChange::Keep => self,
        }
    }
}

/// What the caller must do to the stored TAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TatChange {
    Keep,
    /// Store this TAT; it is always later than now.
    Set(i64),
    /// Remove the key: the bucket is full again.
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub limited: bool,
    /// The most tokens the bucket holds (redis-cell's "limit").
    pub capacity: i64,
    pub remaining: i64,
    /// Nanoseconds until the same request could succeed; `None` when allowed or
    /// when the quantity can never fit.
    pub retry_after_ns: Option<i64>,
    /// Nanoseconds until the bucket is full again.
    pub reset_after_ns: i64,
    pub change: TatChange,
}

/// Decides one request for `quantity` tokens (0 peeks, negative refunds).
/// `stored_tat` is `None` when the key is absent; both times are ns since the epoch.
pub fn decide(
    limit: &Limit,
    quantity: i64,
    stored_tat: Option<i64>,
    now: i64,
) -> Result<Decision, Error> {
    let now_wide = i128::from(now);
    let tat = stored_tat.map_or(now_wide, i128::from);
    let increment = limit.interval * i128::from(quantity);
    let new_tat = tat.max(now_wide) + increment;
    let allow_at = new_tat - limit.tolerance;
    let diff = now_wide - allow_at;

    let (limited, retry_after_ns, ttl, change) = if quantity > 0 && diff < 0 {
        let retry = if increment <= limit.tolerance {
            Some(narrow(-diff)?)
        } else {
            None
        };
        (true, retry, (tat - now_wide).max(0), TatChange::Keep)
    } else {
        // A refund never takes the bucket past full: the TAT stays at or after now.
        let new_tat = new_tat.max(now_wide);
        let change = if quantity > 0 {
            TatChange::Set(narrow(new_tat)?)
        } else if quantity == 0 {
            TatChange::Keep
        } else if new_tat > now_wide {
            TatChange::Set(narrow(new_tat)?)
        } else if stored_tat.is_some() {
            TatChange::Delete
        } else {
            TatChange::Keep
        };
        (false, None, new_tat - now_wide, change)
    };

    let headroom = limit.tolerance - ttl;
    let remaining = match (i64::try_from(headroom), i64::try_from(limit.interval)) {
        (Ok(headroom), _) if headroom < 0 => 0,
        // The common case, in 64-bit division (a 128-bit one is a library call).
        (Ok(headroom), Ok(interval)) => headroom / interval,
        _ => narrow(headroom / limit.interval)?,
    };
    Ok(Decision {
        limited,
        capacity: limit.capacity(),
        remaining,
        retry_after_ns,
        reset_after_ns: narrow(ttl)?,
        change,
    })
}

fn narrow(value: i128) -> Result<i64, Error> {
    i64::try_from(value).map_err(|_| Error::Overflow)
}

/// Decides one request against several limits at once (CL.THROTTLEALL): it is allowed only
/// if every limit allows it, and then every limit is charged; otherwise nothing is.
///
/// Returns the combined decision and, when allowed, one change per limit (in order); when
/// limited, none at all.
pub fn decide_all(
    states: &[LimitState],
    quantity: i64,
    now: i64,
) -> Result<(Decision, Vec<TatChange>), Error> {
    let decisions = states
        .iter()
        .map(|state| decide(&state.limit, quantity, state.tat, now))
        .collect::<Result<Vec<_>, Error>>()?;
    if !decisions.iter().any(|d| d.limited) {
        let changes = decisions.iter().map(|d| d.change).collect();
        return Ok((combine(&decisions), changes));
    }
    // Nothing is charged, so limits that would have allowed report their state as it is.
    let uncharged = states
        .iter()
        .zip(&decisions)
        .map(|(state, decision)| {
            if decision.limited {
                Ok(*decision)
            } else {
                decide(&state.limit, 0, state.tat, now)
            }
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok((combine(&uncharged), Vec::new()))
}

/// The combining rule of CL.THROTTLEALL's reply:
/// - limited if any limit is limited;
/// - capacity and remaining of the limit with the least remaining (the first on ties);
/// - retry_after the largest among the limited ones, or "never" if any of them can never fit;
/// - reset_after the largest of all.
pub fn combine(decisions: &[Decision]) -> Decision {
    let tightest = decisions.iter().reduce(|best, d| {
        if d.remaining < best.remaining {
            d
        } else {
            best
        }
    });
    let limited: Vec<&Decision> = decisions.iter().filter(|d| d.limited).collect();
    let retry_after_ns = if limited.iter().any(|d| d.retry_after_ns.is_none()) {
        None
    } else {
        limited.iter().filter_map(|d| d.retry_after_ns).max()
    };
    Decision {
        limited: !limited.is_empty(),
        capacity: tightest.map_or(0, |d| d.capacity),
        remaining: tightest.map_or(0, |d| d.remaining),
        retry_after_ns,
        reset_after_ns: decisions
            .iter()
            .map(|d| d.reset_after_ns)
            .max()
            .unwrap_or(0),
        change: TatChange::Keep,
    }
}

#[cfg(test)]
#[path = "gcra_tests.rs"]
mod tests;
