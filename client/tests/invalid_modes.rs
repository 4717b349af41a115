//! Modes built from their public variants, bypassing `Mode::block` and `Mode::soft`: out of
//! range, they are refused with `Error::InvalidMode` locally and on every backend, and
//! nothing is written.

mod common;

use std::time::Duration;

use gcra_test_support::key_state;
use redis_gcra_client::{Backend, Error, Key, Limit, LocalLimiter, Mode};

const BAD: [Mode; 4] = [
    Mode::Block { max_wait_ms: -5 },
    Mode::Soft { hard_factor_e9: 0 },
    Mode::Soft {
        hard_factor_e9: -3_000_000_000,
    },
    Mode::Soft {
        hard_factor_e9: 500_000_000,
    },
];

#[test]
fn the_local_provider_refuses_them() {
    let local = LocalLimiter::new();
    let limit = Limit::new(2, 1, Duration::from_secs(10)).expect("limit");
    let key = Key::new("bad").expect("key");
    for mode in BAD {
        let decision = local.throttle_with(&key, &limit, 1, mode);
        assert!(
            matches!(decision, Err(Error::InvalidMode(_))),
            "{mode:?}: {decision:?}"
        );
        assert_eq!(local.stored_tat(&key), None, "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_refuses_them() {
    for backend in [Backend::Module, Backend::Function, Backend::Script] {
        let server = common::server_for(backend);
        let limiter = common::connect(&server).await;
        assert_eq!(limiter.backend(), backend);
        let limit = Limit::new(2, 1, Duration::from_secs(10)).expect("limit");
        let key = Key::new("bad").expect("key");
        for mode in BAD {
            let decision = limiter.throttle_with(&key, &limit, 1, mode).await;
            assert!(
                matches!(decision, Err(Error::InvalidMode(_))),
                "{backend:?} {mode:?}: {decision:?}"
            );
            assert_eq!(key_state(&mut server.connect(), b"bad"), (None, -2));
        }
    }
}
