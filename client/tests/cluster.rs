//! The Redis provider on a 3-primary Redis Cluster: with the module, and with the script only
//! through a failover to a replica that lost its script cache (the next call meets
//! `NOSCRIPT`, loads the script again and goes on with the replicated state).

mod common;

use std::time::Duration;

use gcra_test_support::{info_field, redis, wait_for_link, wait_until, Cluster, Server};
use redis_gcra_client::{Backend, Error, Key, Limit, Mode, RedisLimiter};

async fn limiter(cluster: &Cluster) -> RedisLimiter<redis::cluster_async::ClusterConnection> {
    let urls = cluster.urls();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    RedisLimiter::connect_cluster(&urls).await.expect("cluster")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_module_on_a_cluster() {
    let cluster = Cluster::start(3, 0);
    let limiter = limiter(&cluster).await;
    assert_eq!(limiter.backend(), Backend::Module);
    let limit = Limit::per_minute(5).expect("limit");
    for i in 0..60 {
        let key = Key::new(format!("user:{i}")).expect("key");
        for expected in [4, 3] {
            let decision = limiter.throttle(&key, &limit, 1).await.expect("throttle");
            assert_eq!(decision.status().remaining, expected, "{key:?}");
        }
    }
    let sec = Key::new("{u7}:sec").expect("key");
    let day = Key::new("{u7}:day").expect("key");
    let per_sec = Limit::per_second(2).expect("limit");
    let per_day = Limit::per_day(3).expect("limit");
    let both = [(&sec, &per_sec), (&day, &per_day)];
    for _ in 0..2 {
        assert!(limiter
            .throttle_all(&both, 1, Mode::Plain)
            .await
            .expect("all")
            .is_allowed());
    }
    let third = limiter
        .throttle_all(&both, 1, Mode::Plain)
        .await
        .expect("all");
    assert!(!third.is_allowed(), "{third:?}");
    let other = Key::new("elsewhere").expect("key");
    let cross = limiter
        .throttle_all(&[(&sec, &per_sec), (&other, &per_day)], 1, Mode::Plain)
        .await;
    assert!(cross.is_err(), "keys of different slots: {cross:?}");
}

/// The replica of the primary that holds `key`.
fn replica_of<'a>(cluster: &'a Cluster, owner: &Server) -> &'a Server {
    cluster
        .nodes
        .iter()
        .find(|node| {
            let mut con = node.connect();
            info_field(&mut con, "replication", "role") == "slave"
                && info_field(&mut con, "replication", "master_port") == owner.port.to_string()
        })
        .expect("a replica of the owner")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_survives_a_failover_to_a_replica_without_it() {
    let mut cluster = Cluster::start_with(3, 1, false, &["--rename-command", "FUNCTION", ""]);
    let limiter = limiter(&cluster).await;
    assert_eq!(limiter.backend(), Backend::Script);
    let key = Key::new("failover").expect("key");
    let limit = Limit::new(10, 1, Duration::from_secs(3600)).expect("limit");
    for expected in [9, 8, 7] {
        let decision = limiter.throttle(&key, &limit, 1).await.expect("throttle");
        assert_eq!(decision.status().remaining, expected);
    }
    // The replica restarts (its script cache is gone), resyncs, then takes over.
    let owner_port = cluster.owner("failover").port;
    let replica_port = {
        let owner = cluster
            .nodes
            .iter()
            .find(|n| n.port == owner_port)
            .expect("owner");
        replica_of(&cluster, owner).port
    };
    let replica = cluster
        .nodes
        .iter_mut()
        .find(|n| n.port == replica_port)
        .expect("replica");
    replica.restart();
    wait_for_link(replica);
    let mut con = replica.connect();
    // Votes travel on the cluster bus, which the other nodes reconnect to the restarted node
    // on their own time: an election can fail at first; ask again.
    for attempt in 0.. {
        let _: () = redis::cmd("CLUSTER")
            .arg("FAILOVER")
            .query(&mut con)
            .expect("FAILOVER");
        let deadline = std::time::Instant::now() + Duration::from_secs(8);
        while std::time::Instant::now() < deadline
            && info_field(&mut con, "replication", "role") != "master"
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        if info_field(&mut con, "replication", "role") == "master" {
            break;
        }
        assert!(attempt < 5, "the replica never took over");
    }
    for node in &cluster.nodes {
        let mut con = node.connect();
        wait_until(30, "cluster_state:ok", || {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query(&mut con)
                .expect("INFO");
            info.contains("cluster_state:ok")
        });
    }
    // The first call after the failover meets NOSCRIPT, reloads, and sees the replicated TAT.
    let mut decision = limiter.throttle(&key, &limit, 1).await;
    for _ in 0..50 {
        // Until the client learns the new topology, a call may fail over with it.
        if !matches!(decision, Err(Error::Connection(_)) | Err(Error::Server(_))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        decision = limiter.throttle(&key, &limit, 1).await;
    }
    let decision = decision.expect("throttle after the failover");
    assert_eq!(decision.status().remaining, 6, "{decision:?}");
    let mut con = cluster
        .nodes
        .iter()
        .find(|n| n.port == replica_port)
        .expect("new primary")
        .connect();
    let errors: String = redis::cmd("INFO")
        .arg("errorstats")
        .query(&mut con)
        .expect("INFO");
    assert!(
        errors.contains("errorstat_NOSCRIPT"),
        "no NOSCRIPT met: {errors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_is_loaded_again_after_script_flush() {
    let server = common::server_for(Backend::Script);
    let limiter = common::connect(&server).await;
    assert_eq!(limiter.backend(), Backend::Script);
    let key = Key::new("flushed").expect("key");
    let limit = Limit::per_minute(10).expect("limit");
    limiter.throttle(&key, &limit, 1).await.expect("throttle");
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut server.connect())
        .expect("FLUSH");
    let decision = limiter
        .throttle(&key, &limit, 1)
        .await
        .expect("after SCRIPT FLUSH");
    assert_eq!(decision.status().remaining, 8);
}

/// `CL.THROTTLEALL <n> key...` goes to the node of its first key at once: no node answers
/// `MOVED` (its first argument, the count, is not a key to route by).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_all_goes_to_its_keys_node() {
    let cluster = Cluster::start(3, 0);
    let limiter = limiter(&cluster).await;
    let limit = Limit::per_second(1_000_000).expect("limit");
    let tags = ["{u1}", "{u2}", "{u3}", "{user:9}"];
    for node in &cluster.nodes {
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query(&mut node.connect())
            .expect("RESETSTAT");
    }
    for round in 0..20 {
        let tag = tags[round % tags.len()];
        let (a, b) = (
            Key::new(format!("{tag}:a")).expect("key"),
            Key::new(format!("{tag}:b")).expect("key"),
        );
        let both = [(&a, &limit), (&b, &limit)];
        let decision = limiter.throttle_all(&both, 1, Mode::Plain).await;
        assert!(decision.expect("all").is_allowed());
    }
    for node in &cluster.nodes {
        let errors: String = redis::cmd("INFO")
            .arg("errorstats")
            .query(&mut node.connect())
            .expect("INFO");
        assert!(
            !errors.contains("errorstat_MOVED"),
            "{}: {errors}",
            node.port
        );
    }
}
