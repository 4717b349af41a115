//! What the client's test files share: a test server offering a given backend, a Redis
//! provider on it, and a count of what a run of hybrid acquires admitted.

// Each test file is its own crate and uses only part of this.
#![allow(dead_code)]

use gcra_test_support::{Options, Server};
use redis_gcra_client::{Backend, HybridLimiter, Key, Limit, RedisLimiter};

/// A test server on which `RedisLimiter::connect` picks `backend`: the module loaded, or no
/// module (the function), or no module and `FUNCTION` renamed away (the script).
pub fn server_for(backend: Backend) -> Server {
    match backend {
        Backend::Module => Server::start(),
        Backend::Function => Server::start_with(Options {
            with_module: false,
            ..Options::default()
        }),
        Backend::Script => Server::start_with(Options {
            with_module: false,
            extra: vec!["--rename-command".into(), "FUNCTION".into(), String::new()],
            ..Options::default()
        }),
    }
}

/// A `RedisLimiter` on the test server (its backend as the server offers: module, function
/// or script).
pub async fn connect(server: &Server) -> RedisLimiter {
    RedisLimiter::connect(&format!("redis://127.0.0.1:{}/", server.port))
        .await
        .expect("connect")
}

/// How many of `calls` acquires in a row on `key` were allowed.
pub async fn allowed_of(hybrid: &HybridLimiter, key: &Key, limit: &Limit, calls: usize) -> usize {
    let mut allowed = 0;
    for _ in 0..calls {
        if hybrid
            .acquire(key, limit)
            .await
            .expect("acquire")
            .is_allowed()
        {
            allowed += 1;
        }
    }
    allowed
}
