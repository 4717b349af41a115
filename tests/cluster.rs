//! Redis Cluster: keys are routed to their slot's primary, limited there, and survive failover.

mod common;

use common::*;

fn cl(key: &str, args: &[&str]) -> redis::Cmd {
    let mut cmd = redis::cmd("CL.THROTTLE");
    cmd.arg(key).arg(args);
    cmd
}

#[test]
fn three_primaries_route_and_limit_every_key() {
    let cluster = Cluster::start(3, 0);
    let mut client = cluster.client();
    let keys: Vec<String> = (0..60).map(|i| format!("user:{i}")).collect();
    for key in &keys {
        // Capacity 2: two calls allowed, the third limited, on whichever node owns the key.
        for expected in [0, 0, 1] {
            let reply: Vec<i64> = cl(key, &["1", "1", "60"])
                .query(&mut client)
                .expect("CL.THROTTLE");
            assert_eq!(reply[0], expected, "{key}: {reply:?}");
        }
    }
    // The keys landed on all three primaries, each holding only keys of its own slots.
    let mut total = 0;
    for node in &cluster.nodes {
        let mut con = node.connect();
        let held: i64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
        assert!(held > 0, "node {} holds no key", node.port);
        total += held;
    }
    assert_eq!(total, keys.len() as i64);

    // A node asked for a key it does not own redirects instead of answering.
    let key = &keys[0];
    let owner = cluster.owner(key).port;
    let other = cluster
        .nodes
        .iter()
        .find(|n| n.port != owner)
        .expect("another node");
    let message = error_of(&mut other.connect(), &cl(key, &["1", "1", "60"]));
    assert!(message.starts_with("MOVED"), "{message}");

    // Several limits of one user in one slot work through the cluster client too.
    let all: Vec<i64> = redis::cmd("CL.THROTTLEALL")
        .arg(&["2", "{u7}:sec", "4", "5", "1", "{u7}:min", "9", "100", "60"])
        .query(&mut client)
        .expect("CL.THROTTLEALL");
    assert_eq!(all[..3], [0, 5, 4]);
}

#[test]
fn limiter_state_survives_a_cluster_failover() {
    let cluster = Cluster::start(3, 1);
    let mut client = cluster.client();
    let key = "tenant:42";
    for _ in 0..3 {
        let _: Vec<i64> = cl(key, &["2", "1", "3600"])
            .query(&mut client)
            .expect("CL.THROTTLE");
    }
    let limited: Vec<i64> = cl(key, &["2", "1", "3600"])
        .query(&mut client)
        .expect("CL.THROTTLE");
    assert_eq!(limited[0], 1);

    let primary = cluster.owner(key);
    let mut p = primary.connect();
    let tat = get(&mut p, key.as_bytes()).expect("state");
    let expiry = pexpiretime(&mut p, key.as_bytes());
    wait_for_replicas(&mut p, 1);

    let primary_id: String = redis::cmd("CLUSTER")
        .arg("MYID")
        .query(&mut p)
        .expect("MYID");
    let replica = cluster
        .nodes
        .iter()
        .find(|node| {
            let nodes: String = redis::cmd("CLUSTER")
                .arg("NODES")
                .query(&mut node.connect())
                .expect("NODES");
            // "<id> <addr> <flags> <primary id> ...": this node's own line, as a replica of ours.
            nodes.lines().any(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                fields.len() > 3
                    && fields[2].contains("myself")
                    && fields[2].contains("slave")
                    && fields[3] == primary_id
            })
        })
        .expect("the replica of the key's primary");
    let mut r = replica.connect();
    redis::cmd("CLUSTER")
        .arg("FAILOVER")
        .query::<()>(&mut r)
        .expect("CLUSTER FAILOVER");
    wait_until(30, "the replica to take over", || {
        info_field(&mut r, "replication", "role") == "master"
    });

    // The new primary holds the same TAT and expiry, and the key is still limited.
    assert_eq!(get(&mut r, key.as_bytes()), Some(tat.clone()));
    assert_eq!(pexpiretime(&mut r, key.as_bytes()), expiry);
    let after: Vec<i64> = cl(key, &["2", "1", "3600"])
        .query(&mut r)
        .expect("CL.THROTTLE on the new primary");
    assert_eq!(after[0], 1, "still limited after failover: {after:?}");
    assert_eq!(
        get(&mut r, key.as_bytes()),
        Some(tat),
        "a limited call does not write"
    );
}
