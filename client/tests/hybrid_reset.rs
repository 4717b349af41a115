//! `HybridLimiter::reset`: the server's bucket is full again and the process's cached denial
//! and lease are gone with it.

mod common;

use gcra_test_support::Server;
use redis_gcra_client::{HybridConfig, HybridLimiter, Key, Limit, Local};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_drops_the_cached_denial() {
    let server = Server::start();
    let remote = common::connect(&server).await;
    let hybrid = HybridLimiter::new(remote, HybridConfig::default()).expect("config");
    let key = Key::new("reset").expect("key");
    let limit = Limit::per_hour(2).expect("limit");
    assert_eq!(common::allowed_of(&hybrid, &key, &limit, 4).await, 2);
    assert!(matches!(hybrid.try_acquire(&key, &limit), Local::Decided(d) if !d.is_allowed()));
    hybrid.reset(&key).await.expect("reset");
    assert_eq!(hybrid.try_acquire(&key, &limit), Local::NeedsServer);
    let after = hybrid.acquire(&key, &limit).await.expect("acquire");
    assert!(after.is_allowed(), "{after:?}");
    let peek = hybrid.remote().peek(&key, &limit, 0).await.expect("peek");
    assert_eq!(peek.status().remaining, 1, "{peek:?}");
}
