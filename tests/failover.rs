//! Replication topologies: promotion after a crash, chained replicas.

mod common;

use common::*;

#[test]
fn promoted_replica_keeps_the_limited_state_after_the_primary_dies() {
    let mut primary = Server::start();
    let replica = start_replica(&primary, true);
    let mut p = primary.connect();
    for _ in 0..2 {
        throttle(&mut p, b"api:user:7", &["1", "1", "3600"]);
    }
    assert_eq!(throttle(&mut p, b"api:user:7", &["1", "1", "3600"])[0], 1);
    let tat = get(&mut p, b"api:user:7").expect("state");
    let expiry = pexpiretime(&mut p, b"api:user:7");
    wait_for_replicas(&mut p, 1);

    primary.kill();
    let mut r = replica.connect();
    redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query::<()>(&mut r)
        .expect("REPLICAOF NO ONE");
    assert_eq!(info_field(&mut r, "replication", "role"), "master");

    assert_eq!(get(&mut r, b"api:user:7"), Some(tat.clone()));
    assert_eq!(pexpiretime(&mut r, b"api:user:7"), expiry);
    assert_eq!(
        throttle(&mut r, b"api:user:7", &["1", "1", "3600"])[0],
        1,
        "still limited"
    );
    assert_eq!(get(&mut r, b"api:user:7"), Some(tat), "byte-identical TAT");
}

#[test]
fn chained_replicas_converge_to_identical_values() {
    let primary = Server::start();
    let middle = start_replica(&primary, true);
    let leaf = start_replica(&middle, false);
    let mut p = primary.connect();
    let keys: Vec<String> = (0..25).map(|i| format!("chain:{i}")).collect();
    for (i, key) in keys.iter().enumerate() {
        throttle(
            &mut p,
            key.as_bytes(),
            &["5", "10", "60", &(1 + i % 3).to_string()],
        );
    }
    throttle(&mut p, keys[0].as_bytes(), &["5", "10", "60", "-100"]);
    let _: Vec<i64> = redis::cmd("CL.THROTTLEALL")
        .arg(&["2", "chain:a", "1", "1", "1", "chain:b", "1", "1", "1"])
        .query(&mut p)
        .expect("CL.THROTTLEALL");
    wait_for_replicas(&mut p, 1);
    let mut l = leaf.connect();
    let target: i64 = info_field(&mut p, "replication", "master_repl_offset")
        .parse()
        .expect("offset");
    wait_until(10, "the leaf to catch up", || {
        info_field(&mut l, "replication", "slave_repl_offset")
            .parse::<i64>()
            .unwrap_or(0)
            >= target
    });
    let mut all: Vec<String> = keys.clone();
    all.extend(["chain:a".to_string(), "chain:b".to_string()]);
    for key in &all {
        assert_eq!(
            key_state(&mut p, key.as_bytes()),
            key_state(&mut l, key.as_bytes()),
            "{key}"
        );
    }
    assert_eq!(
        get(&mut l, b"chain:0"),
        None,
        "the refund's DEL reached the leaf"
    );
}
