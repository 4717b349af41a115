//! The hybrid provider: a local fast path over the Redis provider that never admits a token
//! the server did not grant.
//!
//! - Tokens are leased from the server in batches (`ATMOST`, up to the lease size, never
//!   more than the capacity) and served locally, one per request, until the lease ends: it
//!   is used up, or its time to live passes. Then what was not used is refunded, while it
//!   surely still weighs on the bucket, judged just before each refund is sent (else the
//!   bucket may have refilled past it, and a refund would credit it twice: it is dropped). A key's
//!   first lease is one token (a key seen once costs one call and no refund); each lease
//!   used up doubles the next, each that ends with tokens left halves it.
//! - A denial is cached until its retry time, stretched to when a whole lease's worth of
//!   tokens is due (the bucket keeps them meanwhile: nothing is lost while it is not full):
//!   no server call while denied.
//! - [`HybridLimiter::try_acquire`] answers synchronously from the local state or says the
//!   server is needed; [`HybridLimiter::acquire`] asks the server then (one refill at a time
//!   per key in this process).
//!
//! The guarantee: every token admitted was granted by the server (ATMOST, which charges the
//! shared bucket) and is admitted within the lease's time to live after the grant. So over
//! any window of length `w`, N hybrid clients together admit at most what the limit allows
//! over `w + lease_ttl` (`capacity + (w + lease_ttl) / interval`), and never more than the
//! server granted (net of refunds): no overshoot. Refunds keep that bound exactly within
//! one process (a refund is sent only while it surely still weighs on the bucket, judged
//! just before it is sent, with `lease_ttl` as the margin for reaching the server); across
//! several processes another's refund can lower the bucket below this one's grant, so a
//! late refund may give back up to what such refunds returned. With
//! [`HybridConfig::refunds`] off the bound is exact for any number of processes. What it
//! gives up is admission: tokens leased to one client and not yet used are not available to
//! the others until refunded (or, without refunds, at all).

mod lease;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager};

use crate::decision::Decision;
use crate::error::Error;
use crate::key::Key;
use crate::limit::Limit;
use crate::mode::Mode;
use crate::remote::RedisLimiter;

pub use lease::Local;
use lease::{later, round_up_ms, Lease, Leftover};

/// How the hybrid limiter leases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HybridConfig {
    /// How long leased tokens may be used after the grant (the guarantee's slack).
    pub lease_ttl: Duration,
    /// Most tokens leased at once; `None`: what the limit's rate yields in one `lease_ttl`,
    /// at most half the capacity. Always at least 1 and at most the limit's capacity.
    pub lease_size: Option<u64>,
    /// Whether a lease's unused tokens are given back to the server when it ends. A refund
    /// is judged against this process's own grant: another process's refund can lower the
    /// bucket below it, so with several processes on one key a late refund may give back
    /// tokens the bucket had already regained. `false` keeps the window bound exact for any
    /// number of processes, at the cost of the leftovers (each lease that ends with some
    /// halves the next).
    pub refunds: bool,
}

impl Default for HybridConfig {
    fn default() -> Self {
        HybridConfig {
            lease_ttl: Duration::from_millis(100),
            lease_size: None,
            refunds: true,
        }
    }
}

/// The longest `lease_ttl`: leased tokens are meant to be used soon.
const MAX_LEASE_TTL: Duration = Duration::from_secs(24 * 3600);

impl HybridConfig {
    /// The config if it is one the limiter can use: a `lease_ttl` from 1 ns to one day.
    pub fn validated(self) -> Result<HybridConfig, Error> {
        if self.lease_ttl.is_zero() || self.lease_ttl > MAX_LEASE_TTL {
            return Err(Error::InvalidConfig("lease_ttl is from 1 ns to one day"));
        }
        Ok(self)
    }

    /// The largest lease for `limit`.
    pub fn lease_for(&self, limit: &Limit) -> u64 {
        let per_ttl = self.lease_ttl.as_nanos() / limit.interval().as_nanos().max(1);
        let size = self.lease_size.unwrap_or_else(|| {
            u64::try_from(per_ttl)
                .unwrap_or(u64::MAX)
                .min(limit.capacity() / 2)
        });
        size.clamp(1, limit.capacity())
    }
}

struct Entry {
    lease: Mutex<Lease>,
    /// One refill at a time per key in this process.
    refill: tokio::sync::Mutex<()>,
}

impl Entry {
    fn lease(&self) -> MutexGuard<'_, Lease> {
        self.lease
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A hybrid limiter: cheap to clone (clones share the leases).
#[derive(Clone)]
pub struct HybridLimiter<C = ConnectionManager> {
    remote: RedisLimiter<C>,
    config: HybridConfig,
    entries: Arc<papaya::HashMap<Key, Arc<Entry>>>,
    server_calls: Arc<AtomicU64>,
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> HybridLimiter<C> {
    /// A hybrid limiter over `remote`; `Error::InvalidConfig` if `config` is not valid
    /// ([`HybridConfig::validated`]).
    pub fn new(remote: RedisLimiter<C>, config: HybridConfig) -> Result<HybridLimiter<C>, Error> {
        Ok(HybridLimiter {
            remote,
            config: config.validated()?,
            entries: Arc::new(papaya::HashMap::new()),
            server_calls: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The Redis provider underneath.
    pub fn remote(&self) -> &RedisLimiter<C> {
        &self.remote
    }

    /// Commands sent to the server so far (leases, refunds).
    pub fn server_calls(&self) -> u64 {
        self.server_calls.load(Ordering::Relaxed)
    }

    /// One token from the local state, synchronously: a leased token, a cached denial, or
    /// [`Local::NeedsServer`].
    pub fn try_acquire(&self, key: &Key, limit: &Limit) -> Local {
        let entries = self.entries.pin();
        match entries.get(key) {
            Some(entry) => entry.lease().try_take(limit, Instant::now()),
            None => Local::NeedsServer,
        }
    }

    /// One token: from the local state, or else from the server (a new lease).
    pub async fn acquire(&self, key: &Key, limit: &Limit) -> Result<Decision, Error> {
        if let Local::Decided(decision) = self.try_acquire(key, limit) {
            return Ok(decision);
        }
        let entry = self.entry(key, limit);
        let _refill = entry.refill.lock().await;
        // Another task may have refilled while this one waited.
        let (left, size) = {
            let mut lease = entry.lease();
            let now = Instant::now();
            if let Local::Decided(decision) = lease.try_take(limit, now) {
                return Ok(decision);
            }
            let changed = lease.limit != *limit;
            let left = lease.take_unused(now, changed);
            if left.is_none() && lease.said_at < lease.expires {
                // The last lease was used up in time: lease more.
                lease.next_size = lease.next_size.saturating_mul(2);
            }
            let size = lease.next_size.clamp(1, self.config.lease_for(limit));
            lease.next_size = size;
            (left, size)
        };
        if let Some(left) = left {
            self.give_back(key, left).await?;
        }
        self.server_calls.fetch_add(1, Ordering::Relaxed);
        // The lease's time counts from before the grant: its tokens are used within
        // lease_ttl of the server granting them.
        let asked = Instant::now();
        let granted = self
            .remote
            .throttle_with(key, limit, size, Mode::AtMost)
            .await?;
        let now = Instant::now();
        let mut lease = entry.lease();
        *lease = Lease {
            next_size: size,
            ..Lease::empty(*limit, now)
        };
        lease.status = *granted.status();
        // The reply's time to a full bucket is rounded up to the millisecond: take one off.
        lease.full_at = later(asked, lease.status.reset_after)
            .checked_sub(Duration::from_millis(1))
            .unwrap_or(asked);
        match granted {
            Decision::Allowed { granted, status } => {
                lease.tokens = granted.saturating_sub(1);
                lease.expires = later(asked, self.config.lease_ttl);
                // Less than a lease: the bucket is empty. Once these run out, wait until a
                // lease's worth is due rather than asking for a token or two at a time.
                if granted < size {
                    lease.denied_until = Some(later(asked, self.batch_wait(limit, size - granted)));
                }
                Ok(Decision::Allowed {
                    granted: 1,
                    status: crate::decision::Status {
                        remaining: lease.tokens,
                        ..status
                    },
                })
            }
            Decision::Limited {
                retry_after,
                status,
            } => {
                // Wait for a whole lease's worth: the bucket keeps the tokens meanwhile.
                let batch = self.batch_wait(limit, size.saturating_sub(1));
                lease.denied_until = retry_after.map(|wait| later(now, wait.saturating_add(batch)));
                Ok(Decision::Limited {
                    retry_after: retry_after.map(round_up_ms),
                    status,
                })
            }
            suppressed @ Decision::Suppressed { .. } => Ok(suppressed),
        }
    }

    /// Refunds the unused tokens of every lease that has ended, and drops idle keys;
    /// `force` ends every lease now (before shutting down). Returns the tokens refunded.
    pub async fn flush(&self, force: bool) -> Result<u64, Error> {
        let ended: Vec<(Key, Arc<Entry>)> = {
            let now = Instant::now();
            let entries = self.entries.pin();
            let ended = entries
                .iter()
                .filter(|(_, entry)| entry.lease().has_ended(now, force))
                .map(|(key, entry)| (key.clone(), Arc::clone(entry)))
                .collect();
            entries
                .retain(|_, entry| entry.refill.try_lock().is_err() || !entry.lease().is_idle(now));
            ended
        };
        let mut total = 0;
        for (key, entry) in ended {
            // Under the key's refill lock: this process's grants and refunds on a key take
            // turns, so a refund is judged against the very lease it comes from, just before
            // it is sent (a refund judged earlier could land after the bucket refilled).
            let _refill = entry.refill.lock().await;
            let left = entry.lease().take_unused(Instant::now(), force);
            if let Some(left) = left {
                total += self.give_back(&key, left).await?;
            }
        }
        Ok(total)
    }

    /// Forgets a key: `DEL` on the server (its bucket is full again), then this process's
    /// lease and cached denial (leased tokens go with the old bucket, nothing is refunded).
    /// Other processes keep theirs until they end: a denial cached there still answers until
    /// its retry time.
    pub async fn reset(&self, key: &Key) -> Result<(), Error> {
        self.remote.reset(key).await?;
        self.entries.pin().remove(key);
        Ok(())
    }

    /// Runs [`HybridLimiter::flush`] every `every` on the current tokio runtime, until the
    /// returned handle is aborted.
    pub fn spawn_flush(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                let _ = this.flush(false).await;
            }
        })
    }

    /// How long `tokens` take to come due, at most one lease's time to live.
    fn batch_wait(&self, limit: &Limit, tokens: u64) -> Duration {
        limit
            .interval()
            .saturating_mul(u32::try_from(tokens).unwrap_or(u32::MAX))
            .min(self.config.lease_ttl)
    }

    /// Refunds a lease's leftovers if they still weigh on the bucket when sent; the lease's
    /// time to live is the margin for the refund to reach the server. Returns the tokens given.
    async fn give_back(&self, key: &Key, left: Leftover) -> Result<u64, Error> {
        if !self.config.refunds {
            return Ok(0);
        }
        let tokens = left.refundable(Instant::now(), self.config.lease_ttl);
        if tokens > 0 {
            self.server_calls.fetch_add(1, Ordering::Relaxed);
            self.remote.refund(key, &left.limit, tokens).await?;
        }
        Ok(tokens)
    }

    fn entry(&self, key: &Key, limit: &Limit) -> Arc<Entry> {
        let entries = self.entries.pin();
        Arc::clone(entries.get_or_insert_with(key.clone(), || {
            Arc::new(Entry {
                lease: Mutex::new(Lease::empty(*limit, Instant::now())),
                refill: tokio::sync::Mutex::new(()),
            })
        }))
    }
}
