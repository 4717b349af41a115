//! A typed decision: what the command's reply says, with durations as [`Duration`]s.

use std::time::Duration;

use gcra_core::gcra;
use gcra_core::units::millis_rounded_up;

use crate::error::Error;
use crate::mode::Mode;

/// The bucket after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The tokens a full bucket holds (the reply's `limit`; the tightest limit's with
    /// `throttle_all`).
    pub limit: u64,
    /// Tokens left after this call.
    pub remaining: u64,
    /// Time until the bucket is full again (whole milliseconds, rounded up).
    pub reset_after: Duration,
}

/// What a call decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed. `granted` is the tokens taken: the quantity, or with [`Mode::AtMost`] what
    /// fitted (at least 1); 0 for a peek or a refund.
    Allowed { granted: u64, status: Status },
    /// Refused. `retry_after` is the time until the same request can pass (whole
    /// milliseconds, rounded up); `None` when it never can (more than the capacity).
    Limited {
        retry_after: Option<Duration>,
        status: Status,
    },
    /// [`Mode::Soft`] inside its band (past the capacity, short of the hard limit): admitted
    /// or not by a draw whose odds fall as the bucket runs further over. `level` is how far
    /// into the band the request took the bucket, in per mille (1 to 999).
    Suppressed {
        allowed: bool,
        level: u16,
        retry_after: Option<Duration>,
        status: Status,
    },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        match self {
            Decision::Allowed { .. } => true,
            Decision::Limited { .. } => false,
            Decision::Suppressed { allowed, .. } => *allowed,
        }
    }

    /// Tokens taken by this call.
    pub fn granted(&self) -> u64 {
        match self {
            Decision::Allowed { granted, .. } => *granted,
            _ => 0,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Decision::Allowed { .. } => None,
            Decision::Limited { retry_after, .. } | Decision::Suppressed { retry_after, .. } => {
                *retry_after
            }
        }
    }

    pub fn status(&self) -> &Status {
        match self {
            Decision::Allowed { status, .. }
            | Decision::Limited { status, .. }
            | Decision::Suppressed { status, .. } => status,
        }
    }

    /// The decision of the plain form straight from the core's: what [`Decision::from_reply`]
    /// makes of its reply in milliseconds, without the reply.
    #[inline]
    pub(crate) fn from_core(decision: &gcra::Decision, quantity: i64) -> Decision {
        let ms = |ns: i64| Duration::from_millis(millis_rounded_up(ns).unsigned_abs());
        let status = Status {
            limit: decision.capacity.unsigned_abs(),
            remaining: decision.remaining.max(0).unsigned_abs(),
            reset_after: ms(decision.reset_after_ns),
        };
        if decision.limited {
            Decision::Limited {
                retry_after: decision.retry_after_ns.map(ms),
                status,
            }
        } else {
            Decision::Allowed {
                granted: quantity.max(0).unsigned_abs(),
                status,
            }
        }
    }

    /// The decision a reply in milliseconds (`MS`) describes, for a request of `quantity`
    /// tokens in `mode`: every provider turns the same integers into a decision here.
    pub(crate) fn from_reply(reply: &[i64], quantity: i64, mode: Mode) -> Result<Decision, Error> {
        let expected = match mode {
            Mode::AtMost | Mode::Soft { .. } => 6,
            Mode::Plain | Mode::Block { .. } => 5,
        };
        let unexpected = || Error::UnexpectedReply(format!("{reply:?}"));
        let &[limited, limit, remaining, retry_after, reset_after] = reply
            .get(..5)
            .and_then(|r| <&[i64; 5]>::try_from(r).ok())
            .ok_or_else(unexpected)?;
        let sixth = reply.get(5).copied();
        if reply.len() != expected || !(0..=1).contains(&limited) {
            return Err(unexpected());
        }
        let unsigned = |v: i64| u64::try_from(v).map_err(|_| unexpected());
        let status = Status {
            limit: unsigned(limit)?,
            remaining: unsigned(remaining)?,
            reset_after: Duration::from_millis(unsigned(reset_after)?),
        };
        let retry_after = match retry_after {
            -1 => None,
            ms => Some(Duration::from_millis(unsigned(ms)?)),
        };
        let limited = limited == 1;
        let plain = |granted: u64| {
            if limited {
                Decision::Limited {
                    retry_after,
                    status,
                }
            } else {
                Decision::Allowed { granted, status }
            }
        };
        Ok(match (mode, sixth) {
            (Mode::AtMost, Some(granted)) => plain(unsigned(granted)?),
            (Mode::Soft { .. }, Some(level)) if (1..1000).contains(&level) => {
                Decision::Suppressed {
                    allowed: !limited,
                    level: u16::try_from(level).map_err(|_| unexpected())?,
                    retry_after,
                    status,
                }
            }
            _ => plain(quantity.max(0).unsigned_abs()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(remaining: u64, reset_ms: u64) -> Status {
        Status {
            limit: 16,
            remaining,
            reset_after: Duration::from_millis(reset_ms),
        }
    }

    #[test]
    fn replies_become_decisions() {
        assert_eq!(
            Decision::from_reply(&[0, 16, 15, -1, 2000], 1, Mode::Plain).ok(),
            Some(Decision::Allowed {
                granted: 1,
                status: status(15, 2000)
            })
        );
        assert_eq!(
            Decision::from_reply(&[1, 16, 0, 1500, 32000], 1, Mode::Plain).ok(),
            Some(Decision::Limited {
                retry_after: Some(Duration::from_millis(1500)),
                status: status(0, 32000)
            })
        );
        assert_eq!(
            Decision::from_reply(&[0, 16, 0, -1, 32000, 3], 5, Mode::AtMost)
                .ok()
                .map(|d| d.granted()),
            Some(3)
        );
        assert!(matches!(
            Decision::from_reply(&[1, 16, 0, 10, 32000, 0], 5, Mode::AtMost),
            Ok(Decision::Limited { .. })
        ));
        assert!(matches!(
            Decision::from_reply(
                &[1, 16, 0, 10, 32000, 608],
                1,
                Mode::Soft {
                    hard_factor_e9: 2_000_000_000
                }
            ),
            Ok(Decision::Suppressed {
                allowed: false,
                level: 608,
                ..
            })
        ));
        assert!(Decision::from_reply(&[0, 16, 15, -1], 1, Mode::Plain).is_err());
        assert!(Decision::from_reply(&[0, 16, 15, -1, 2, 3], 1, Mode::Plain).is_err());
        assert!(Decision::from_reply(&[2, 16, 15, -1, 2], 1, Mode::Plain).is_err());
        assert!(Decision::from_reply(&[0, -16, 15, -1, 2], 1, Mode::Plain).is_err());
    }
}
