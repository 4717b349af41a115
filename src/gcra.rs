//! The generic cell rate algorithm, in exact integer nanoseconds.
//!
//! Integers in, a decision out: no Redis, no clock, no I/O. The caller passes the
//! stored theoretical arrival time (TAT) and "now", and applies `Decision::write`.
//!
//! Arithmetic runs in i128: every input is an i64, so no product or sum below can
//! leave i128 (|interval * quantity| < 2^126, tolerance < 2^126, TATs < 2^63).
//! Only values that must be stored or replied are narrowed back to i64, and a
//! value that does not fit is an `Error::Overflow`, never a wrap.

use crate::error::Error;

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
pub const NANOS_PER_MILLI: i64 = 1_000_000;

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
}

/// What the caller must do to the stored TAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Nothing,
    /// Store this TAT; it is always later than now.
    Set(i64),
    /// Remove the key: the bucket is full again.
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub limited: bool,
    pub limit: i64,
    pub remaining: i64,
    /// Nanoseconds until the same request could succeed; `None` when allowed or
    /// when the quantity can never fit.
    pub retry_after_ns: Option<i64>,
    /// Nanoseconds until the bucket is full again.
    pub reset_after_ns: i64,
    pub write: Write,
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

    let (limited, retry_after_ns, ttl, write) = if quantity > 0 && diff < 0 {
        let retry = if increment <= limit.tolerance {
            Some(narrow(-diff)?)
        } else {
            None
        };
        (true, retry, (tat - now_wide).max(0), Write::Nothing)
    } else {
        // A refund never takes the bucket past full: the TAT stays at or after now.
        let new_tat = new_tat.max(now_wide);
        let write = if quantity > 0 {
            Write::Set(narrow(new_tat)?)
        } else if quantity == 0 {
            Write::Nothing
        } else if new_tat > now_wide {
            Write::Set(narrow(new_tat)?)
        } else if stored_tat.is_some() {
            Write::Delete
        } else {
            Write::Nothing
        };
        (false, None, new_tat - now_wide, write)
    };

    let headroom = limit.tolerance - ttl;
    let remaining = if headroom >= 0 {
        narrow(headroom / limit.interval)?
    } else {
        0
    };
    Ok(Decision {
        limited,
        limit: limit.capacity(),
        remaining,
        retry_after_ns,
        reset_after_ns: narrow(ttl)?,
        write,
    })
}

fn narrow(value: i128) -> Result<i64, Error> {
    i64::try_from(value).map_err(|_| Error::Overflow)
}

/// The unit of retry_after and reset_after in a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// redis-cell's: whole milliseconds, then rounded up to seconds.
    Seconds,
    /// Rounded up: any sub-millisecond remainder counts as a millisecond.
    Milliseconds,
}

impl Decision {
    /// The five integers of redis-cell's reply, durations in seconds.
    pub fn reply_in_seconds(&self) -> [i64; 5] {
        self.reply(Unit::Seconds)
    }

    /// `[limited, limit, remaining, retry_after, reset_after]`, durations in `unit`.
    pub fn reply(&self, unit: Unit) -> [i64; 5] {
        let convert = match unit {
            Unit::Seconds => seconds_rounded_up,
            Unit::Milliseconds => milliseconds_rounded_up,
        };
        [
            i64::from(self.limited),
            self.limit,
            self.remaining,
            self.retry_after_ns.map_or(-1, convert),
            convert(self.reset_after_ns),
        ]
    }
}

/// redis-cell's rounding: drop the sub-millisecond part, then round up to seconds.
pub fn seconds_rounded_up(ns: i64) -> i64 {
    let millis = ns.max(0) / NANOS_PER_MILLI;
    // At most i64::MAX / 10^6 + 999: cannot overflow.
    (millis + 999) / 1000
}

pub fn milliseconds_rounded_up(ns: i64) -> i64 {
    let ns = ns.max(0);
    ns / NANOS_PER_MILLI + i64::from(ns % NANOS_PER_MILLI != 0)
}

/// Decides one request against several limits at once (CL.THROTTLEALL): it is allowed only
/// if every limit allows it, and then every limit is charged; otherwise nothing is.
///
/// `states` pairs each limit with its stored TAT. Returns the combined decision and, when
/// allowed, one write per limit (in order); when limited, no writes at all.
pub fn decide_all(
    states: &[(Limit, Option<i64>)],
    quantity: i64,
    now: i64,
) -> Result<(Decision, Vec<Write>), Error> {
    let decisions = states
        .iter()
        .map(|(limit, tat)| decide(limit, quantity, *tat, now))
        .collect::<Result<Vec<_>, Error>>()?;
    if !decisions.iter().any(|d| d.limited) {
        let writes = decisions.iter().map(|d| d.write).collect();
        return Ok((combine(&decisions), writes));
    }
    // Nothing is charged, so limits that would have allowed report their state as it is.
    let uncharged = states
        .iter()
        .zip(&decisions)
        .map(|((limit, tat), decision)| {
            if decision.limited {
                Ok(*decision)
            } else {
                decide(limit, 0, *tat, now)
            }
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok((combine(&uncharged), Vec::new()))
}

/// The combining rule of CL.THROTTLEALL's reply:
/// - limited if any limit is limited;
/// - limit and remaining of the limit with the least remaining (the first on ties);
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
        limit: tightest.map_or(0, |d| d.limit),
        remaining: tightest.map_or(0, |d| d.remaining),
        retry_after_ns,
        reset_after_ns: decisions
            .iter()
            .map(|d| d.reset_after_ns)
            .max()
            .unwrap_or(0),
        write: Write::Nothing,
    }
}

#[cfg(test)]
#[path = "gcra_tests.rs"]
mod tests;
