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
    /// none, else how many to give back. A lease that ends with tokens left makes the next
    /// one half as large.
    ///
    /// A refund is sent only while the leftovers surely still weigh on the bucket: before the
    /// time it would be full again without them (`full_at` less their worth). Later, the
    /// bucket may have refilled past them, and giving them back would credit them twice
    /// (letting a burst after an idle spell through above the limit); they are dropped.
    pub fn take_unused(&mut self, now: Instant, force: bool) -> Option<u64> {
        if !(force || now >= self.expires) || self.tokens == 0 {
            return None;
        }
        self.next_size = (self.next_size / 2).max(1);
        let left = std::mem::take(&mut self.tokens);
        let worth = self
            .limit
            .interval()
            .saturating_mul(u32::try_from(left).unwrap_or(u32::MAX));
        Some(if now + worth < self.full_at { left } else { 0 })
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

/// A duration in whole milliseconds, rounded up (as the server's replies are).
pub(crate) fn round_up_ms(duration: Duration) -> Duration {
    let ms = duration.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}
