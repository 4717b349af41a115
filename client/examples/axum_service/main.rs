//! A small HTTP API on axum that rate-limits each client IP through a tower layer on this
//! crate's Redis provider (`layer.rs`): a per-minute and a per-day limit, checked atomically.
//! The same service as examples/http/server.py, so the same check runs against both
//! (`python3 examples/http/check.py <this binary>`). Works with or without the module.
//!
//! Environment: REDIS_URL (redis://127.0.0.1:6379), HOST (127.0.0.1), PORT (8080),
//! PER_MINUTE (5), PER_DAY (100), KEY_PREFIX (ratelimit).
//! Run: `cargo run -p redis-gcra-client --example axum_service`, then
//! `curl -i http://127.0.0.1:8080/`.

mod layer;

use std::net::SocketAddr;
use std::process::exit;

use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use http::StatusCode;
use redis_gcra_client::{Decision, Limit, RedisLimiter};

use layer::{json, Policy, RateLimitLayer};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn number(name: &str, default: u64) -> u64 {
    env_or(name, &default.to_string())
        .parse()
        .unwrap_or_else(|_| {
            eprintln!("{name} must be a positive integer");
            exit(2)
        })
}

async fn hello(Extension(decision): Extension<Decision>) -> Response {
    let remaining = decision.status().remaining;
    json(
        StatusCode::OK,
        format!(r#"{{"hello":"world","remaining":{remaining}}}"#),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = env_or("REDIS_URL", "redis://127.0.0.1:6379");
    let (per_minute, per_day) = (number("PER_MINUTE", 5), number("PER_DAY", 100));
    let limits = Limit::per_minute(per_minute).and_then(|m| Ok((m, Limit::per_day(per_day)?)));
    let Ok((per_minute_limit, per_day_limit)) = limits else {
        eprintln!("PER_MINUTE and PER_DAY must be at least 1");
        exit(2)
    };
    let limiter = match RedisLimiter::connect(&url).await {
        Ok(limiter) => limiter,
        Err(error) => {
            eprintln!("cannot reach {url}: {error}");
            exit(1)
        }
    };
    let via = limiter.backend().name();
    let policy = Policy {
        prefix: env_or("KEY_PREFIX", "ratelimit"),
        per_minute: per_minute_limit,
        per_day: per_day_limit,
    };
    let app = Router::new()
        .route("/", get(hello))
        .layer(RateLimitLayer::new(limiter, policy));
    let address = format!("{}:{}", env_or("HOST", "127.0.0.1"), env_or("PORT", "8080"));
    let listener = match tokio::net::TcpListener::bind(&address).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {address}: {error}");
            exit(1)
        }
    };
    println!(
        "listening on http://{address}/ ({per_minute}/minute, {per_day}/day per client IP, limiter: {via})"
    );
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(error) = axum::serve(listener, service).await {
        eprintln!("server: {error}");
        exit(1);
    }
}
