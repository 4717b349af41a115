//! The hybrid provider's guarantee on a real server: several hybrid clients (each its own
//! connection and leases) hammer one key far above its limit; over every window of length
//! `w` they admit at most what the limit allows over `w + lease_ttl`, in total no more than
//! the server granted, with at least 10x fewer server calls than requests. Prints how much
//! they under-admit against an exact limiter.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gcra_test_support::Server;
use redis_gcra_client::{Decision, HybridConfig, HybridLimiter, Key, Limit, Local};

const CLIENTS: usize = 4;
const TASKS_PER_CLIENT: usize = 4;
const RUN: Duration = Duration::from_secs(3);
const TTL: Duration = Duration::from_millis(50);

async fn hybrid(server: &Server, config: HybridConfig) -> HybridLimiter {
    let remote = common::connect(server).await;
    HybridLimiter::new(remote, config).expect("config")
}

/// The most an exact limiter admits over a window of `window`: a full bucket, then the rate.
fn allowed_over(limit: &Limit, window: Duration) -> u64 {
    limit.capacity() + (window.as_nanos() / limit.interval().as_nanos()) as u64 + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_hybrid_clients_never_overshoot() {
    let server = Server::start();
    let limit = Limit::new(50, 500, Duration::from_secs(1)).expect("limit");
    let config = HybridConfig {
        lease_ttl: TTL,
        lease_size: None,
        refunds: true,
    };
    // What the rate yields in one TTL (25), at most half the capacity (25).
    assert_eq!(config.lease_for(&limit), 25);
    let key = Key::new("hot").expect("key");
    let admitted: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let requests = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(hybrid(&server, config).await);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for client in &clients {
        for _ in 0..TASKS_PER_CLIENT {
            let (client, key, admitted, requests) = (
                client.clone(),
                key.clone(),
                admitted.clone(),
                requests.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                while start.elapsed() < RUN {
                    requests.fetch_add(1, Ordering::Relaxed);
                    let decision = client.acquire(&key, &limit).await.expect("acquire");
                    if decision.is_allowed() {
                        mine.push(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
                admitted.lock().expect("lock").extend(mine);
            }));
        }
    }
    for task in tasks {
        task.await.expect("task");
    }
    let elapsed = start.elapsed();
    let mut refunded = 0;
    for client in &clients {
        refunded += client.flush(true).await.expect("flush");
    }
    let mut times = admitted.lock().expect("lock").clone();
    times.sort();
    let total = times.len() as u64;
    let requests = requests.load(Ordering::Relaxed);
    let calls: u64 = clients.iter().map(HybridLimiter::server_calls).sum();

    // Every window, from every admission: at most the limit over w + lease_ttl.
    for window in [10, 50, 100, 250, 1000, 3000].map(Duration::from_millis) {
        let bound = allowed_over(&limit, window + TTL);
        let mut worst = 0;
        let mut end = 0;
        for (i, &from) in times.iter().enumerate() {
            while end < times.len() && times[end] <= from + window {
                end += 1;
            }
            worst = worst.max(end - i);
        }
        println!("window {window:?}: at most {worst} admitted (bound {bound})");
        assert!(
            worst as u64 <= bound,
            "window {window:?}: {worst} > {bound}"
        );
    }
    // In total: no more than an exact limiter could have admitted.
    let exact = allowed_over(&limit, elapsed);
    let under = 100.0 * (1.0 - total as f64 / exact as f64);
    println!(
        "{CLIENTS} clients x {TASKS_PER_CLIENT} tasks, {elapsed:?}: {requests} requests, {total} admitted \
         (an exact limiter: {exact}; under-admission {under:.1}%), {calls} server calls \
         ({:.1} per 1,000 admitted), {refunded} tokens refunded at the end",
        calls as f64 * 1000.0 / total as f64
    );
    assert!(total <= exact, "{total} admitted, exact limiter {exact}");
    assert!(
        calls * 10 <= requests,
        "{calls} server calls for {requests} requests"
    );
    assert!(under < 25.0, "under-admission {under:.1}%");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_acquire_answers_locally_or_asks_for_the_server() {
    let server = Server::start();
    let client = hybrid(
        &server,
        HybridConfig {
            lease_ttl: Duration::from_secs(5),
            lease_size: Some(3),
            refunds: true,
        },
    )
    .await;
    let key = Key::new("local").expect("key");
    let limit = Limit::new(4, 1, Duration::from_secs(60)).expect("limit");
    assert_eq!(client.try_acquire(&key, &limit), Local::NeedsServer);
    // A new key's first lease is one token; a lease used up doubles the next (at most 3).
    assert!(client
        .acquire(&key, &limit)
        .await
        .expect("acquire")
        .is_allowed());
    assert_eq!(client.try_acquire(&key, &limit), Local::NeedsServer);
    assert!(client
        .acquire(&key, &limit)
        .await
        .expect("acquire")
        .is_allowed());
    assert_eq!(client.server_calls(), 2);
    match client.try_acquire(&key, &limit) {
        Local::Decided(Decision::Allowed { status, .. }) => assert_eq!(status.remaining, 0),
        other => panic!("expected a local grant, got {other:?}"),
    }
    assert_eq!(client.try_acquire(&key, &limit), Local::NeedsServer);
    // The last token of the bucket: a lease of 3 granted 1 (ATMOST). Less than asked: the
    // bucket is empty, so the next request is refused locally, without a call.
    assert!(client
        .acquire(&key, &limit)
        .await
        .expect("acquire")
        .is_allowed());
    let denied = client.acquire(&key, &limit).await.expect("acquire");
    assert!(!denied.is_allowed(), "{denied:?}");
    let calls = client.server_calls();
    assert_eq!(calls, 3);
    // Denied: answered locally until the retry time, no server call.
    for _ in 0..100 {
        match client.acquire(&key, &limit).await.expect("acquire") {
            Decision::Limited { retry_after, .. } => assert!(retry_after.is_some()),
            other => panic!("expected a cached denial, got {other:?}"),
        }
    }
    assert_eq!(client.server_calls(), calls);
    assert!(matches!(
        client.try_acquire(&key, &limit),
        Local::Decided(Decision::Limited { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_tokens_are_refunded_when_the_lease_ends() {
    let server = Server::start();
    let client = hybrid(
        &server,
        HybridConfig {
            lease_ttl: Duration::from_millis(300),
            lease_size: Some(10),
            refunds: true,
        },
    )
    .await;
    let key = Key::new("refund").expect("key");
    let limit = Limit::new(10, 1, Duration::from_secs(60)).expect("limit");
    // Leases of 1, 2 and 4 tokens: 4 used, 3 left in the last lease.
    assert_eq!(common::allowed_of(&client, &key, &limit, 4).await, 4);
    assert_eq!(client.server_calls(), 3);
    let peek = client.remote().peek(&key, &limit, 0).await.expect("peek");
    assert_eq!(peek.status().remaining, 3, "the lease holds 3: {peek:?}");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(client.flush(false).await.expect("flush"), 3);
    let peek = client.remote().peek(&key, &limit, 0).await.expect("peek");
    assert_eq!(peek.status().remaining, 6, "{peek:?}");
}

/// With refunds off (the strict bound for several processes), a lease's leftovers stay
/// charged on the server: no call, nothing given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_refunds_leftovers_stay_charged() {
    let server = Server::start();
    let client = hybrid(
        &server,
        HybridConfig {
            lease_ttl: Duration::from_millis(300),
            lease_size: Some(10),
            refunds: false,
        },
    )
    .await;
    let key = Key::new("kept").expect("key");
    let limit = Limit::new(10, 1, Duration::from_secs(60)).expect("limit");
    // Leases of 1, 2 and 4 tokens: 4 used, 3 left in the last lease.
    assert_eq!(common::allowed_of(&client, &key, &limit, 4).await, 4);
    assert_eq!(client.server_calls(), 3);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(client.flush(true).await.expect("flush"), 0);
    assert_eq!(client.server_calls(), 3, "no refund sent");
    let peek = client.remote().peek(&key, &limit, 0).await.expect("peek");
    assert_eq!(
        peek.status().remaining,
        3,
        "the leftovers stay charged: {peek:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_are_dropped_once_the_bucket_may_have_refilled() {
    let server = Server::start();
    let client = hybrid(
        &server,
        HybridConfig {
            lease_ttl: Duration::from_millis(50),
            lease_size: Some(4),
            refunds: true,
        },
    )
    .await;
    let key = Key::new("late").expect("key");
    // 10 tokens, one every 100 ms.
    let limit = Limit::new(10, 10, Duration::from_secs(1)).expect("limit");
    // Leases of 1, 2 and 4: 7 charged, 3 left, the bucket full again 700 ms after the grant.
    assert_eq!(common::allowed_of(&client, &key, &limit, 4).await, 4);
    assert_eq!(client.server_calls(), 3);
    // 500 ms on, the bucket without the 3 leftovers (worth 300 ms) would be full by now:
    // giving them back could credit them twice, so they are dropped, with no call.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(client.flush(false).await.expect("flush"), 0);
    assert_eq!(client.server_calls(), 3);
}
