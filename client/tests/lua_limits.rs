//! Without the module (the function, the script), a max_burst past 2^53 - 1 (Lua's exact
//! integers) is a typed `Error::Overflow`, as the module's overflow is, and writes nothing.

mod common;

use std::time::Duration;

use gcra_test_support::key_state;
use redis_gcra_client::{Backend, Error, Key, Limit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_past_2_pow_53_is_overflow_without_the_module() {
    for backend in [Backend::Function, Backend::Script] {
        let server = common::server_for(backend);
        let limiter = common::connect(&server).await;
        assert_eq!(limiter.backend(), backend);
        let key = Key::new("big").expect("key");
        let big = Limit::new((1 << 53) + 1, 1, Duration::from_secs(3600)).expect("limit");
        let decision = limiter.throttle(&key, &big, 1).await;
        assert!(
            matches!(decision, Err(Error::Overflow)),
            "{backend:?}: {decision:?}"
        );
        assert_eq!(key_state(&mut server.connect(), b"big"), (None, -2));
        // The largest it serves.
        let most = Limit::new(1 << 53, 1, Duration::from_secs(3600)).expect("limit");
        let served = limiter
            .throttle(&key, &most, 1)
            .await
            .expect("2^53 - 1 burst");
        assert!(served.is_allowed(), "{backend:?}: {served:?}");
    }
}
