//! The local provider under threads: exact counts on a hot key, several limits at once
//! without deadlock, and idle keys swept; bad input gets typed errors and stores nothing.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis_gcra_client::{Clock, Error, Key, Limit, LocalLimiter, Mode};

#[derive(Clone, Default)]
struct ManualClock(Arc<AtomicI64>);

impl Clock for ManualClock {
    fn now_ns(&self) -> Option<i64> {
        Some(self.0.load(Ordering::SeqCst))
    }
}

#[test]
fn threads_on_one_key_take_exactly_the_capacity() {
    let limiter = Arc::new(LocalLimiter::new());
    let limit = Limit::new(100, 1, Duration::from_secs(3600)).expect("limit");
    let key = Key::new("hot").expect("key");
    let allowed: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (limiter, key) = (limiter.clone(), key.clone());
                scope.spawn(move || {
                    (0..1000)
                        .filter(|_| {
                            limiter
                                .throttle(&key, &limit, 1)
                                .expect("throttle")
                                .is_allowed()
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    });
    assert_eq!(allowed, 100);
}

#[test]
fn several_limits_at_once_from_many_threads_neither_deadlock_nor_overspend() {
    let limiter = Arc::new(LocalLimiter::new());
    let limit = Limit::new(300, 1, Duration::from_secs(3600)).expect("limit");
    let keys: Vec<Key> = ["a", "b", "c", "d"]
        .iter()
        .map(|k| Key::new(k).expect("key"))
        .collect();
    std::thread::scope(|scope| {
        for t in 0..6 {
            let (limiter, keys) = (limiter.clone(), keys.clone());
            scope.spawn(move || {
                for i in 0..500 {
                    // Overlapping sets, in different orders per thread.
                    let (x, y) = ((t + i) % 4, (t + i + 1 + t % 2) % 4);
                    if x == y {
                        continue;
                    }
                    let pairs = [(&keys[x], &limit), (&keys[y], &limit)];
                    limiter.throttle_all(&pairs, 1, Mode::Plain).expect("all");
                    limiter.throttle(&keys[y], &limit, 1).expect("one");
                }
            });
        }
    });
    for key in &keys {
        let peek = limiter.peek(key, &limit, 1).expect("peek");
        assert!(peek.status().remaining <= 300);
    }
}

#[test]
fn idle_keys_are_swept_as_the_module_expires_them() {
    let clock = ManualClock::default();
    clock.0.store(1_767_225_600_000_000_000, Ordering::SeqCst);
    let limiter = LocalLimiter::with_clock(clock.clone());
    let limit = Limit::per_second(10).expect("limit");
    for i in 0..5000 {
        let key = Key::new(format!("k{i}")).expect("key");
        limiter.throttle(&key, &limit, 1).expect("throttle");
    }
    assert!(limiter.len() >= 1000, "{}", limiter.len());
    clock.0.fetch_add(200_000_000, Ordering::SeqCst);
    let held = limiter.len();
    assert_eq!(limiter.cleanup(), held);
    assert!(limiter.is_empty());
    // Inserting keeps the map near its live size: sweeps run as keys come in.
    for i in 0..20_000 {
        clock.0.fetch_add(1_000_000, Ordering::SeqCst);
        let key = Key::new(format!("n{i}")).expect("key");
        limiter.throttle(&key, &limit, 1).expect("throttle");
    }
    assert!(
        limiter.len() <= 2 * 1024 + 200,
        "{} keys held",
        limiter.len()
    );
}

#[test]
fn block_sleeps_until_the_reservation_is_due() {
    let limiter = LocalLimiter::new();
    let limit = Limit::new(1, 10, Duration::from_secs(1)).expect("limit");
    let key = Key::new("wait").expect("key");
    assert!(limiter
        .throttle(&key, &limit, 1)
        .expect("first")
        .is_allowed());
    let started = std::time::Instant::now();
    let mode = Mode::block(Duration::from_secs(1)).expect("block");
    let waited = limiter.throttle_with(&key, &limit, 1, mode).expect("block");
    assert!(waited.is_allowed(), "{waited:?}");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(90), "{elapsed:?}");
}

#[test]
fn bad_input_is_a_typed_error_and_stores_nothing() {
    let limiter = LocalLimiter::new();
    let limit = Limit::per_second(10).expect("limit");
    let key = Key::new("fresh").expect("key");
    let other = Key::new("other").expect("key");
    let too_many = limiter.throttle(&key, &limit, u64::MAX);
    assert!(
        matches!(too_many, Err(Error::InvalidQuantity)),
        "{too_many:?}"
    );
    let no_quantity = limiter.throttle_with(&key, &limit, 0, Mode::AtMost);
    assert!(
        matches!(no_quantity, Err(Error::InvalidQuantity)),
        "{no_quantity:?}"
    );
    let twice = limiter.throttle_all(&[(&key, &limit), (&key, &limit)], 1, Mode::Plain);
    assert!(matches!(twice, Err(Error::InvalidLimits(_))), "{twice:?}");
    let none = limiter.throttle_all(&[], 1, Mode::Plain);
    assert!(matches!(none, Err(Error::InvalidLimits(_))), "{none:?}");
    // Allowed, but the new TAT would not fit 64 bits: refused, on one key and on several.
    let huge = Limit::new((1 << 62) - 1, 1, Duration::from_secs(9_000_000_000)).expect("limit");
    let overflow = limiter.throttle(&key, &huge, 2);
    assert!(matches!(overflow, Err(Error::Overflow)), "{overflow:?}");
    let overflow_all = limiter.throttle_all(&[(&other, &limit), (&key, &huge)], 2, Mode::Plain);
    assert!(
        matches!(overflow_all, Err(Error::Overflow)),
        "{overflow_all:?}"
    );
    assert_eq!(limiter.stored_tat(&key), None);
    assert_eq!(limiter.stored_tat(&other), None, "all or nothing");
}
