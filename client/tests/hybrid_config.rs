//! `HybridConfig` is checked when the limiter is made (a typed error, not a panic deep in a
//! call), and the longest valid lease and the longest retry times do not overflow the clock.

mod common;

use std::time::Duration;

use gcra_test_support::Server;
use redis_gcra_client::{Error, HybridConfig, HybridLimiter, Key, Limit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_out_of_range_is_a_typed_error() {
    let server = Server::start();
    let day = Duration::from_secs(24 * 3600);
    for lease_ttl in [Duration::MAX, Duration::ZERO, day + Duration::from_nanos(1)] {
        let config = HybridConfig {
            lease_ttl,
            lease_size: None,
            refunds: true,
        };
        let made = HybridLimiter::new(common::connect(&server).await, config);
        assert!(
            matches!(made, Err(Error::InvalidConfig(_))),
            "{lease_ttl:?}"
        );
    }
    // The longest lease, on a limit whose retry times are decades: no overflow anywhere.
    let config = HybridConfig {
        lease_ttl: day,
        lease_size: None,
        refunds: true,
    };
    let hybrid = HybridLimiter::new(common::connect(&server).await, config).expect("config");
    let key = Key::new("long").expect("key");
    let limit = Limit::new(2, 1, Duration::from_secs(2_000_000_000)).expect("limit");
    assert_eq!(common::allowed_of(&hybrid, &key, &limit, 4).await, 2);
    hybrid.flush(true).await.expect("flush");
}
