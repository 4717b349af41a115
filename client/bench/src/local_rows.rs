//! The in-process contenders: this crate's `LocalLimiter`, governor (keyed, GCRA) and
//! trypema's local absolute limiter, each with the same limit (10,000 per second; bursts of
//! 1,000 where the limiter has bursts) and the same pre-built keys.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use redis_gcra_client::{Key, Limit, LocalLimiter};
use trypema::local::LocalRateLimiterProvider;
use trypema::{BucketSize, RateLimit, RateLimitDecision, RateLimiterBuilder, WindowSize};

use crate::measure::{threads, Sample};
use crate::{key_index, BURST, KEYS, RATE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contender {
    Ours,
    Governor,
    Trypema,
}

impl Contender {
    pub const ALL: [Contender; 3] = [Contender::Ours, Contender::Governor, Contender::Trypema];

    pub fn name(self) -> &'static str {
        match self {
            Contender::Ours => "redis-gcra-client local",
            Contender::Governor => "governor 0.10 keyed",
            Contender::Trypema => "trypema 2.2.1 local absolute",
        }
    }
}

fn names(keys: usize) -> Vec<String> {
    (0..keys).map(|i| format!("user{i}")).collect()
}

fn admitted(decision: RateLimitDecision) -> bool {
    match decision {
        RateLimitDecision::Allowed => true,
        RateLimitDecision::Rejected { .. } => false,
        RateLimitDecision::Suppressed { is_allowed, .. } => is_allowed,
    }
}

pub fn run(contender: Contender, workers: usize, hot: bool, run: Duration) -> Sample {
    let keys = if hot { 1 } else { KEYS };
    match contender {
        Contender::Ours => {
            let limiter = LocalLimiter::new();
            let limit = Limit::new(BURST, RATE, Duration::from_secs(1)).expect("limit");
            let keys: Vec<Key> = names(keys)
                .iter()
                .map(|k| Key::new(k).expect("key"))
                .collect();
            threads(workers, run, |worker, i| {
                let key = &keys[key_index(hot, worker, i)];
                limiter
                    .throttle(key, &limit, 1)
                    .is_ok_and(|d| d.is_allowed())
            })
        }
        Contender::Governor => {
            let quota = Quota::per_second(NonZeroU32::new(RATE as u32).expect("rate"))
                .allow_burst(NonZeroU32::new(BURST as u32).expect("burst"));
            let limiter: DefaultKeyedRateLimiter<String> = RateLimiter::keyed(quota);
            let keys = names(keys);
            threads(workers, run, |worker, i| {
                limiter.check_key(&keys[key_index(hot, worker, i)]).is_ok()
            })
        }
        Contender::Trypema => {
            let provider: Arc<LocalRateLimiterProvider> = LocalRateLimiterProvider::builder()
                .window_size(WindowSize::seconds_or_panic(1))
                .bucket_size(BucketSize::milliseconds_or_panic(10))
                .build()
                .expect("trypema");
            let rate = RateLimit::per_second_or_panic(RATE as f64);
            let keys = names(keys);
            threads(workers, run, |worker, i| {
                admitted(
                    provider
                        .absolute()
                        .inc(&keys[key_index(hot, worker, i)], &rate, 1),
                )
            })
        }
    }
}
