//! The function backend after the library is gone (`FUNCTION FLUSH`; a restart or a new
//! primary without it answers the same): the client loads it again and the call goes on.

mod common;

use gcra_test_support::{redis, Options, Server};
use redis_gcra_client::{Backend, Key, Limit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_is_loaded_again_after_function_flush() {
    let server = Server::start_with(Options {
        with_module: false,
        ..Options::default()
    });
    let limiter = common::connect(&server).await;
    assert_eq!(limiter.backend(), Backend::Function);
    let key = Key::new("flushed").expect("key");
    let limit = Limit::per_minute(10).expect("limit");
    limiter.throttle(&key, &limit, 1).await.expect("throttle");
    for round in 0..2 {
        let _: () = redis::cmd("FUNCTION")
            .arg("FLUSH")
            .query(&mut server.connect())
            .expect("FLUSH");
        // A read-only call first (FCALL_RO), then a write: both find the library again.
        let peek = limiter
            .peek(&key, &limit, 1)
            .await
            .expect("peek after FLUSH");
        assert_eq!(peek.status().remaining, 8 - round, "{peek:?}");
        let _: () = redis::cmd("FUNCTION")
            .arg("FLUSH")
            .query(&mut server.connect())
            .expect("FLUSH");
        let decision = limiter
            .throttle(&key, &limit, 1)
            .await
            .expect("throttle after FLUSH");
        assert_eq!(decision.status().remaining, 8 - round, "{decision:?}");
    }
}
