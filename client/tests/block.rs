//! `BLOCK` with the module through `RedisLimiter::connect`: a wait longer than the redis
//! crate's usual response timeout is answered, and other calls are not held behind it.

mod common;

use std::time::Duration;

use gcra_test_support::{info_field, Server};
use redis_gcra_client::{Backend, Key, Limit, Mode, RedisLimiter};

async fn limiter(server: &Server) -> RedisLimiter {
    let limiter = common::connect(server).await;
    assert_eq!(limiter.backend(), Backend::Module);
    limiter
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_longer_than_the_response_timeout_is_allowed() {
    let server = Server::start();
    let limiter = limiter(&server).await;
    let key = Key::new("long").expect("key");
    // One token every 1.5 s: the second is due 1.5 s after the first.
    let limit = Limit::new(1, 2, Duration::from_secs(3)).expect("limit");
    assert!(limiter
        .throttle(&key, &limit, 1)
        .await
        .expect("first")
        .is_allowed());
    let waited = limiter
        .throttle_with(
            &key,
            &limit,
            1,
            Mode::block(Duration::from_secs(3)).expect("mode"),
        )
        .await
        .expect("a 1.5 s BLOCK");
    assert!(waited.is_allowed(), "{waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_does_not_hold_other_calls() {
    let server = Server::start();
    let limiter = limiter(&server).await;
    let (slow_key, other) = (
        Key::new("slow").expect("key"),
        Key::new("other").expect("key"),
    );
    let slow = Limit::new(1, 2, Duration::from_secs(3)).expect("limit");
    let fast = Limit::per_second(1000).expect("limit");
    assert!(limiter
        .throttle(&slow_key, &slow, 1)
        .await
        .expect("first")
        .is_allowed());
    let blocking = limiter.clone();
    let blocker = tokio::spawn(async move {
        let mode = Mode::block(Duration::from_secs(3)).expect("mode");
        blocking.throttle_with(&slow_key, &slow, 1, mode).await
    });
    // Until the server holds the BLOCK call (bounded: 10 s).
    let mut admin = server.connect();
    for _ in 0..1000 {
        if info_field(&mut admin, "clients", "blocked_clients") != "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_ne!(info_field(&mut admin, "clients", "blocked_clients"), "0");
    // A call on a clone, on another key: answered while the BLOCK call still waits.
    let answered = limiter.throttle(&other, &fast, 1).await.expect("other key");
    assert!(answered.is_allowed());
    assert!(
        !blocker.is_finished(),
        "the other call was held until the BLOCK call ended"
    );
    let blocked = blocker.await.expect("task").expect("BLOCK");
    assert!(blocked.is_allowed(), "{blocked:?}");
}
