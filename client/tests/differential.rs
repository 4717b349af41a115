//! The local provider decides exactly as the module does: the same seeded stream of calls
//! (one limit or several, every mode but BLOCK, peeks, refunds, fractional periods, large
//! quantities, the same key under different limits) goes to a real server with the module,
//! whose wall clock is frozen and moved by the test, and to a `LocalLimiter` whose clock
//! reads the same time. Every decision (or error) must be equal, and so must every key's
//! stored TAT (a key the module let expire may be a full bucket not yet swept locally).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gcra_test_support::{redis, FrozenClock, Options, Rng, Server};
use redis_gcra_client::{
    Backend, Clock, Decision, Error, Key, Limit, LocalLimiter, Mode, RedisLimiter,
};

/// 2026-01-01 00:00:00.123456789 UTC, as scripts/ab starts.
const START_NS: i64 = 1_767_225_600_123_456_789;
const CALLS: usize = 3000;

/// The test's clock: the same "now" as the server's, and the draw the test chooses.
#[derive(Clone, Default)]
struct TestClock {
    now: Arc<AtomicI64>,
    draw: Arc<AtomicU64>,
}

impl Clock for TestClock {
    fn now_ns(&self) -> Option<i64> {
        Some(self.now.load(Ordering::SeqCst))
    }
    fn draw(&self) -> u64 {
        self.draw.load(Ordering::SeqCst)
    }
    fn sleep(&self, duration: Duration) {
        let ns = i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
        self.now.fetch_add(ns, Ordering::SeqCst);
    }
}

fn limits() -> Vec<Limit> {
    let ns = Duration::from_nanos;
    [
        (1, 1, ns(1_000_000_000)),
        (16, 30, ns(60_000_000_000)),
        (5, 1, ns(250_000_000)),
        (3, 3, ns(1_000_000_000)),
        (100, 1000, ns(1_000_000_000)),
        (2, 7, ns(1_000_000_001)),
        (10, 3, ns(7_000_000_000)),
        (1 << 40, 1 << 30, ns(1_000_000_000_000)),
        (50, 1_000_000, ns(1_000_000)),
        (4, 1, ns(10_000_000_000)),
    ]
    .into_iter()
    .map(|(capacity, count, period)| Limit::new(capacity, count, period).expect("valid limit"))
    .collect()
}

/// Errors compared by kind (the server's texts are the module's own).
fn comparable(result: Result<Decision, Error>) -> Result<Decision, String> {
    result.map_err(|error| match error {
        Error::Server(text) => text,
        other => format!("{other:?}"),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_decides_exactly_as_the_module() {
    let frozen = FrozenClock::new("differential", START_NS);
    let server = Server::start_with(Options {
        env: frozen.env(),
        ..Options::default()
    });
    let url = format!("redis://127.0.0.1:{}/", server.port);
    let remote = RedisLimiter::connect(&url).await.expect("connect");
    assert_eq!(remote.backend(), Backend::Module);
    let clock = TestClock::default();
    clock.now.store(START_NS, Ordering::SeqCst);
    let local = LocalLimiter::with_clock(clock.clone());
    let mut sync = server.connect();

    let keys: Vec<Key> = (0..5)
        .map(|i| Key::new(format!("d:{i}")).expect("key"))
        .collect();
    let limits = limits();
    let quantities = [0, 1, 1, 1, 2, 3, 5, 17, 1 << 40];
    let modes = [
        Mode::AtMost,
        Mode::soft(2.0).expect("soft"),
        Mode::soft(1.5).expect("soft"),
        Mode::soft(1000.0).expect("soft"),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut now = START_NS;
    let mut counts = [0usize; 6];
    for step in 0..CALLS {
        now += match rng.below(6) {
            0 => 0,
            1 => 1,
            2 => rng.below(1_000_000) as i64,
            3 => rng.below(100_000_000) as i64,
            4 => rng.below(3_000_000_000) as i64,
            _ => rng.below(20_000_000_000) as i64,
        };
        frozen.set(now);
        clock.now.store(now, Ordering::SeqCst);

        let key = rng.pick(&keys).clone();
        let limit = *rng.pick(&limits);
        let tokens = *rng.pick(&quantities);
        let kind = rng.below(10);
        let mode = *rng.pick(&modes);
        let mut touched = vec![key.clone()];
        if std::env::var("DIFF_TRACE").is_ok() {
            eprintln!("step {step} now {now} key {key:?} limit {limit:?} tokens {tokens} kind {kind} mode {mode:?}");
        }
        let (expected, actual) = match kind {
            0..=3 => {
                counts[0] += 1;
                let expected = remote.throttle(&key, &limit, tokens).await;
                (expected, local.throttle(&key, &limit, tokens))
            }
            4 => {
                counts[1] += 1;
                let tokens = tokens.min(5);
                let expected = remote.refund(&key, &limit, tokens).await;
                (expected, local.refund(&key, &limit, tokens))
            }
            5 => {
                counts[2] += 1;
                let expected = remote.peek(&key, &limit, tokens).await;
                (expected, local.peek(&key, &limit, tokens))
            }
            6 | 7 => {
                counts[3] += 1;
                let tokens = tokens.max(1);
                let expected = remote.throttle_with(&key, &limit, tokens, mode).await;
                // SOFT inside its band: the local draw admits exactly when the module's did.
                let admitted = expected.as_ref().is_ok_and(Decision::is_allowed);
                clock
                    .draw
                    .store(if admitted { 999_999 } else { 0 }, Ordering::SeqCst);
                (expected, local.throttle_with(&key, &limit, tokens, mode))
            }
            _ => {
                counts[4] += 1;
                let n = 2 + rng.below(3) as usize;
                let start = rng.below(keys.len() as u64) as usize;
                touched = (0..n)
                    .map(|i| keys[(start + i) % keys.len()].clone())
                    .collect();
                let chosen: Vec<Limit> = (0..n).map(|_| *rng.pick(&limits)).collect();
                let pairs: Vec<(&Key, &Limit)> = touched.iter().zip(&chosen).collect();
                let mode = if rng.percent(50) { Mode::Plain } else { mode };
                let tokens = tokens.max(1);
                let expected = remote.throttle_all(&pairs, tokens, mode).await;
                let admitted = expected.as_ref().is_ok_and(Decision::is_allowed);
                clock
                    .draw
                    .store(if admitted { 999_999 } else { 0 }, Ordering::SeqCst);
                (expected, local.throttle_all(&pairs, tokens, mode))
            }
        };
        if matches!(expected, Ok(Decision::Allowed { .. })) {
            counts[5] += 1;
        }
        let (expected, actual) = (comparable(expected), comparable(actual));
        assert_eq!(
            actual, expected,
            "step {step}: decision differs (keys {touched:?})"
        );
        for key in &touched {
            let stored: Option<String> = redis::cmd("GET")
                .arg(key.as_bytes())
                .query(&mut sync)
                .expect("GET");
            let stored = stored.map(|v| v.parse::<i64>().expect("a TAT"));
            let held = local.stored_tat(key);
            match stored {
                Some(tat) => assert_eq!(held, Some(tat), "step {step}: {key:?} stored TAT"),
                None => assert!(
                    held.is_none_or(|tat| tat <= now),
                    "step {step}: {key:?} held {held:?} locally, nothing on the server"
                ),
            }
        }
    }
    // The stream covered every kind of call, and allowed and refused ones.
    assert!(counts.iter().all(|&n| n > 100), "coverage: {counts:?}");
    assert!(counts[5] < CALLS * 9 / 10, "coverage: {counts:?}");
}
