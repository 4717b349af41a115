//! A replica started without the module converges to byte-identical values and expiries,
//! because the module replicates the effect (SET ... PXAT / DEL), never the command.

mod common;

use common::*;

/// A primary with the module and a replica of it without the module.
fn primary_and_plain_replica() -> (Server, Server) {
    let primary = quiet_primary();
    let replica = start_replica(&primary, false);
    (primary, replica)
}

fn keys(con: &mut Connection) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).expect("KEYS");
    keys.sort();
    keys
}

#[test]
fn replica_without_module_holds_identical_values_and_expiries() {
    let (primary, replica) = primary_and_plain_replica();
    let mut p = primary.connect();
    let mut r = replica.connect();

    for i in 0..20 {
        throttle(
            &mut p,
            format!("user:{i}").as_bytes(),
            &["5", "10", "60", &(i % 4).to_string()],
        );
    }
    throttle(&mut p, b"\x00bin\xff", &["1", "1", "1"]);
    throttle(&mut p, b"refunded", &["3", "1", "10", "2"]);
    throttle(&mut p, b"refunded", &["3", "1", "10", "-5"]);
    throttle(&mut p, b"partly", &["3", "1", "10", "3"]);
    throttle(&mut p, b"partly", &["3", "1", "10", "-1"]);
    let _: Vec<Vec<i64>> = redis::pipe()
        .atomic()
        .cmd("CL.THROTTLE")
        .arg("tx")
        .arg(1)
        .arg(1)
        .arg(60)
        .cmd("CL.THROTTLE")
        .arg("tx")
        .arg(1)
        .arg(1)
        .arg(60)
        .query(&mut p)
        .expect("EXEC");
    let _: Vec<i64> = redis::cmd("EVAL")
        .arg("return redis.call('CL.THROTTLE', KEYS[1], 1, 1, 60)")
        .arg(1)
        .arg("lua")
        .query(&mut p)
        .expect("EVAL");
    wait_for_replicas(&mut p, 1);

    let primary_keys = keys(&mut p);
    assert_eq!(primary_keys, keys(&mut r));
    assert!(
        !primary_keys.contains(&b"refunded".to_vec()),
        "a full refund deletes"
    );
    assert_eq!(
        primary_keys.len(),
        20 - 5 + 4,
        "quantity 0 keys are never created"
    );
    for key in &primary_keys {
        let on_primary = key_state(&mut p, key);
        assert!(on_primary.1 > 0, "{key:?} has an expiry");
        assert_eq!(
            on_primary,
            key_state(&mut r, key),
            "value and expiry of {key:?}"
        );
    }
}

#[test]
fn limited_calls_peeks_and_errors_propagate_nothing() {
    let (primary, _replica) = primary_and_plain_replica();
    let mut p = primary.connect();
    throttle(&mut p, b"k", &["0", "1", "60"]);
    redis::cmd("SET")
        .arg("corrupt")
        .arg("nope")
        .query::<()>(&mut p)
        .expect("SET");
    wait_for_replicas(&mut p, 1);

    let offset_before = info_field(&mut p, "replication", "master_repl_offset");
    for _ in 0..5 {
        assert_eq!(throttle(&mut p, b"k", &["0", "1", "60"])[0], 1, "limited");
        throttle(&mut p, b"k", &["0", "1", "60", "0"]);
        throttle(&mut p, b"fresh", &["0", "1", "60", "0"]);
        throttle(&mut p, b"fresh", &["0", "1", "60", "-1"]);
        let _ = error_of(
            &mut p,
            redis::cmd("CL.THROTTLE").arg("k").arg("x").arg(1).arg(1),
        );
        let _ = error_of(
            &mut p,
            redis::cmd("CL.THROTTLE")
                .arg("corrupt")
                .arg(1)
                .arg(1)
                .arg(1),
        );
    }
    let offset_after = info_field(&mut p, "replication", "master_repl_offset");
    assert_eq!(offset_before, offset_after);

    throttle(&mut p, b"other", &["0", "1", "60"]);
    let offset_written = info_field(&mut p, "replication", "master_repl_offset");
    assert_ne!(
        offset_after, offset_written,
        "an allowed call does propagate"
    );
}
