//! The hybrid provider's refunds on a real server: a refund is judged just before it is sent,
//! so one that would land after its bucket refilled is dropped, not credited twice.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gcra_test_support::{redis, Server};
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, RedisFuture, Value};
use redis_gcra_client::{HybridConfig, HybridLimiter, Key, Limit, RedisLimiter};

/// A connection that holds back the refunds of the "filler" keys until a gate opens: a slow
/// flush, made deterministic.
#[derive(Clone)]
struct Gated {
    inner: ConnectionManager,
    gate: Arc<Mutex<Option<tokio::time::Instant>>>,
}

fn is_filler_refund(cmd: &Cmd) -> bool {
    let args: Vec<Vec<u8>> = cmd
        .args_iter()
        .filter_map(|arg| match arg {
            redis::Arg::Simple(bytes) => Some(bytes.to_vec()),
            _ => None,
        })
        .collect();
    args.get(1).is_some_and(|key| key.starts_with(b"filler"))
        && args.iter().any(|a| a.starts_with(b"-"))
}

impl ConnectionLike for Gated {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let gate = *self.gate.lock().expect("gate");
            if let (Some(gate), true) = (gate, is_filler_refund(cmd)) {
                tokio::time::sleep_until(gate).await;
            }
            self.inner.req_packed_command(cmd).await
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.inner.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// One client: a flush that reaches a hot key's leftovers late (behind slow refunds) must not
/// give them back once the bucket has refilled and been charged again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_refund_is_dropped_not_credited_twice() {
    let server = Server::start();
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port)).expect("url");
    let gate = Arc::new(Mutex::new(None));
    let con = Gated {
        inner: ConnectionManager::new(client).await.expect("connect"),
        gate: Arc::clone(&gate),
    };
    let ttl = Duration::from_millis(10);
    let hybrid = HybridLimiter::new(
        RedisLimiter::new(con).await.expect("limiter"),
        HybridConfig {
            lease_ttl: ttl,
            lease_size: Some(10),
            refunds: true,
        },
    )
    .expect("config");
    // 19 keys each left with one leased token, whose refunds the gate holds back: the hot
    // key's refund comes after at least one of them in 19 flushes out of 20.
    let slow = Limit::new(10, 1, Duration::from_secs(60)).expect("limit");
    for i in 0..19 {
        let key = Key::new(format!("filler{i}")).expect("key");
        for _ in 0..2 {
            assert!(hybrid
                .acquire(&key, &slow)
                .await
                .expect("acquire")
                .is_allowed());
        }
    }
    // The hot key: 40 in a burst, 50 a second (20 ms a token). 16 used, 9 leased and unused.
    let limit = Limit::new(40, 50, Duration::from_secs(1)).expect("limit");
    let hot = Key::new("hot").expect("key");
    let t0 = Instant::now();
    for _ in 0..16 {
        assert!(hybrid
            .acquire(&hot, &limit)
            .await
            .expect("acquire")
            .is_allowed());
    }
    tokio::time::sleep(ttl + Duration::from_millis(5)).await;
    let opens = tokio::time::Instant::from_std(t0 + Duration::from_millis(1200));
    *gate.lock().expect("gate") = Some(opens);
    let flusher = hybrid.clone();
    let flush = tokio::spawn(async move { flusher.flush(false).await });
    // After the bucket has refilled: take all it gives, until well after the gate opened.
    tokio::time::sleep_until(tokio::time::Instant::from_std(
        t0 + Duration::from_millis(505),
    ))
    .await;
    let start = Instant::now();
    let mut admitted = Vec::new();
    while tokio::time::Instant::now() < opens + Duration::from_millis(400) {
        if hybrid
            .acquire(&hot, &limit)
            .await
            .expect("acquire")
            .is_allowed()
        {
            admitted.push(Instant::now());
        }
        tokio::time::sleep(Duration::from_micros(300)).await;
    }
    flush.await.expect("flush task").expect("flush");
    assert!(admitted.iter().all(|&at| at >= start));
    // Every window: at most the limit over w + lease_ttl (a full bucket, then the rate).
    for (i, &from) in admitted.iter().enumerate() {
        for (j, &to) in admitted.iter().enumerate().skip(i) {
            let window = to - from + ttl;
            let bound =
                limit.capacity() + (window.as_nanos() / limit.interval().as_nanos()) as u64 + 1;
            let count = (j - i + 1) as u64;
            assert!(
                count <= bound,
                "{count} admitted in {:?}, bound {bound}",
                to - from
            );
        }
    }
}
