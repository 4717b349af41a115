//! One key's local state in the hybrid limiter: the tokens leased from the server and not
//! yet used, until when they may be used, and until when the server said no.

use std::time::{Duration, Instant};

use crate::decision::{Decision, Status};
use crate::limit::Limit;

/// What the local state answers, without the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// Decided locally: a leased token taken, or a cached denial.
    Decided(Decision),
    /// No leased token left and no denial in force: ask the server
    /// ([`crate::HybridLimiter::acquire`]).
    NeedsServer,
}

#[derive(Debug)]
pub(crate) struct Lease {
    /// The limit the tokens were leased under (a refund must use the same).
    pub limit: Limit,
    /// Tokens granted by the server and not used yet.
    pub tokens: u64,
    /// After this instant the tokens may no longer be used (they are refunded).
    pub expires: Instant,
    /// Until this instant the server is not asked again: it said no.
    pub denied_until: Option<Instant>,
    /// The server's last word on the bucket, and when it said it.
    pub status: Status,
    pub said_at: Instant,
    /// When the bucket would be full again had nothing else been charged since the grant
    /// (from before the call was sent: never later than the server's own time).
    pub full_at: Instant,
    /// The next lease's size: 1 on a new key, doubled each time a lease is used up, halved
    /// each time one ends with tokens left (so a key seen once costs one call, no refund).
    pub next_size: u64,
}

impl Lease {
    pub fn empty(limit: Limit, now: Instant) -> Lease {
        Lease {
            limit,
            tokens: 0,
            expires: now,
            denied_until: None,
            status: Status {
                limit: limit.capacity(),
                remaining: 0,
                reset_after: Duration::ZERO,
            },
            said_at: now,
            full_at: now,
            next_size: 1,
        }
    }

    /// Takes one token locally, or answers the cached denial, or says the server is needed.
    pub fn try_take(&mut self, limit: &Limit, now: Instant) -> Local {
        if self.limit != *limit {
            return Local::NeedsServer;
        }
        if self.tokens > 0 && now < self.expires {
            self.tokens -= 1;
            return Local::Decided(Decision::Allowed {
                granted: 1,
                status: self.status_at(now),
            });
        }
        match self.denied_until {
            Some(until) if now < until => Local::Decided(Decision::Limited {
                retry_after: Some(round_up_ms(until - now)),
                status: self.status_at(now),
            }),
            _ => Local::NeedsServer,
        }
    }

    /// The lease's leftovers once it has ended (or at once, `force`): `None` if there were
    /// none. A lease that ends with tokens left makes the next one half as large. Whether
    /// they are given back is decided when the refund is sent ([`Leftover::refundable`]).
    pub fn take_unused(&mut self, now: Instant, force: bool) -> Option<Leftover> {
        if !(force || now >= self.expires) || self.tokens == 0 {
            return None;
        }
        self.next_size = (self.next_size / 2).max(1);
        let tokens = std::mem::take(&mut self.tokens);
        Some(Leftover {
            tokens,
            limit: self.limit,
            full_at: self.full_at,
        })
    }

    /// Whether the lease has ended (or `force`) with tokens left.
    pub fn has_ended(&self, now: Instant, force: bool) -> bool {
        self.tokens > 0 && (force || now >= self.expires)
    }

    /// Whether the entry says nothing any more (no tokens, no denial): it can be dropped.
    pub fn is_idle(&self, now: Instant) -> bool {
        self.tokens == 0 && !matches!(self.denied_until, Some(until) if until > now)
    }

    /// The status locally: this client's leased tokens as `remaining`, the server's reset
    /// time counted down.
    fn status_at(&self, now: Instant) -> Status {
        Status {
            limit: self.status.limit,
            remaining: self.tokens,
            reset_after: round_up_ms(
                self.status
                    .reset_after
                    .saturating_sub(now.saturating_duration_since(self.said_at)),
            ),
        }
    }
}

/// Tokens taken from an ended lease, not yet given back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leftover {
    pub tokens: u64,
    /// The limit they were leased under (the refund must use the same).
    pub limit: Limit,
    /// The lease's `full_at`: when the bucket would be full again without them.
    pub full_at: Instant,
}

impl Leftover {
    /// How many to give back if the refund is sent at `now` and reaches the server within
    /// `margin`: all of them while they surely still weigh on the bucket (it would not be
    /// full before `full_at` less their worth), else none. A refund that lands after the
    /// bucket refilled past them would credit them twice (a burst above the limit); so this
    /// is asked just before each refund is sent, never ahead of a batch.
    pub fn refundable(&self, now: Instant, margin: Duration) -> u64 {
        let worth = self
            .limit
            .interval()
            .saturating_mul(u32::try_from(self.tokens).unwrap_or(u32::MAX));
        let lands_by = now.checked_add(margin.saturating_add(worth));
        match lands_by {
            Some(at) if at < self.full_at => self.tokens,
            _ => 0,
        }
    }
}

/// A duration in whole milliseconds, rounded up (as the server's replies are).
pub(crate) fn round_up_ms(duration: Duration) -> Duration {
    let ms = duration.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// `at + by`, or as late as an `Instant` goes (100 years on): a server's long retry time or
/// reset time must not overflow the clock.
pub(crate) fn later(at: Instant, by: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    at.checked_add(by)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}
