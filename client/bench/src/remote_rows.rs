//! The contenders on a server: this crate's `RedisLimiter` (the module's command) and
//! `HybridLimiter`, and trypema's Redis and hybrid absolute limiters (a Lua script per
//! call; local counts synced every 10 ms), with the same limit and keys, from tokio tasks.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis_gcra_client::{HybridConfig, HybridLimiter, Key, Limit, RedisLimiter};
use trypema::hybrid::{HybridRateLimiterProvider, SyncInterval};
use trypema::redis::{RedisKey, RedisRateLimiterProvider};
use trypema::{BucketSize, RateLimit, RateLimitDecision, RateLimiterBuilder, WindowSize};

use crate::measure::{tasks, Sample};
use crate::{key_index, BURST, KEYS, RATE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contender {
    Redis,
    Hybrid,
    TrypemaRedis,
    TrypemaHybrid,
}

impl Contender {
    pub const ALL: [Contender; 4] = [
        Contender::Redis,
        Contender::TrypemaRedis,
        Contender::Hybrid,
        Contender::TrypemaHybrid,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Contender::Redis => "redis-gcra-client Redis (module)",
            Contender::Hybrid => "redis-gcra-client hybrid",
            Contender::TrypemaRedis => "trypema 2.2.1 Redis absolute",
            Contender::TrypemaHybrid => "trypema 2.2.1 hybrid absolute",
        }
    }
}

/// The bench's key names as trypema's keys (both of its providers take them).
fn trypema_keys(names: &[String]) -> Arc<Vec<RedisKey>> {
    Arc::new(
        names
            .iter()
            .map(|k| RedisKey::try_from(k.as_str()).expect("key"))
            .collect(),
    )
}

fn admitted(decision: RateLimitDecision) -> bool {
    match decision {
        RateLimitDecision::Allowed => true,
        RateLimitDecision::Rejected { .. } => false,
        RateLimitDecision::Suppressed { is_allowed, .. } => is_allowed,
    }
}

/// Runs `contender` with keys under `prefix` (fresh state per run).
pub async fn run(
    contender: Contender,
    con: ConnectionManager,
    prefix: &str,
    workers: usize,
    hot: bool,
    run: Duration,
) -> Sample {
    let count = if hot { 1 } else { KEYS };
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}u{i}")).collect();
    let rate = RateLimit::per_second_or_panic(RATE as f64);
    match contender {
        Contender::Redis | Contender::Hybrid => {
            let limit = Limit::new(BURST, RATE, Duration::from_secs(1)).expect("limit");
            let keys: Arc<Vec<Key>> =
                Arc::new(names.iter().map(|k| Key::new(k).expect("key")).collect());
            let remote = RedisLimiter::new(con).await.expect("limiter");
            if contender == Contender::Redis {
                tasks(workers, run, move |worker, i| {
                    let (remote, keys) = (remote.clone(), keys.clone());
                    async move {
                        let key = &keys[key_index(hot, worker, i)];
                        remote
                            .throttle(key, &limit, 1)
                            .await
                            .is_ok_and(|d| d.is_allowed())
                    }
                })
                .await
            } else {
                let hybrid = HybridLimiter::new(remote, HybridConfig::default())
                    .expect("the default config is valid");
                let sample = tasks(workers, run, {
                    let hybrid = hybrid.clone();
                    move |worker, i| {
                        let (hybrid, keys) = (hybrid.clone(), keys.clone());
                        async move {
                            let key = &keys[key_index(hot, worker, i)];
                            hybrid
                                .acquire(key, &limit)
                                .await
                                .is_ok_and(|d| d.is_allowed())
                        }
                    }
                })
                .await;
                let _ = hybrid.flush(true).await;
                sample
            }
        }
        Contender::TrypemaRedis => {
            let provider = RedisRateLimiterProvider::builder(con)
                .prefix(RedisKey::try_from(format!("{prefix}t")).expect("prefix"))
                .window_size(WindowSize::seconds_or_panic(1))
                .bucket_size(BucketSize::milliseconds_or_panic(10))
                .disable_cleanup()
                .build()
                .expect("trypema redis");
            let keys = trypema_keys(&names);
            tasks(workers, run, move |worker, i| {
                let (provider, keys) = (provider.clone(), keys.clone());
                async move {
                    let key = &keys[key_index(hot, worker, i)];
                    provider
                        .absolute()
                        .inc(key, &rate, 1)
                        .await
                        .is_ok_and(admitted)
                }
            })
            .await
        }
        Contender::TrypemaHybrid => {
            let provider = HybridRateLimiterProvider::builder(con)
                .prefix(RedisKey::try_from(format!("{prefix}h")).expect("prefix"))
                .window_size(WindowSize::seconds_or_panic(1))
                .bucket_size(BucketSize::milliseconds_or_panic(10))
                .sync_interval(SyncInterval::milliseconds_or_panic(10))
                .disable_cleanup()
                .build()
                .expect("trypema hybrid");
            let keys = trypema_keys(&names);
            tasks(workers, run, move |worker, i| {
                let (provider, keys) = (provider.clone(), keys.clone());
                async move {
                    let key = &keys[key_index(hot, worker, i)];
                    provider
                        .absolute()
                        .inc(key, &rate, 1)
                        .await
                        .is_ok_and(admitted)
                }
            })
            .await
        }
    }
}
