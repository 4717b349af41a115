//! State survives a crash through the AOF, and the AOF replays without the module.

mod common;

use common::*;

fn aof_server() -> Server {
    Server::start_with(Options {
        extra: ["--appendonly", "yes", "--appendfsync", "always"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..Options::default()
    })
}

#[test]
fn sigkilled_aof_instance_restarts_with_byte_identical_state() {
    let mut server = aof_server();
    let mut con = server.connect();
    let keys: [&[u8]; 4] = [b"a", b"b", b"\xffbinary\x00", b"refunded"];
    for key in keys {
        throttle(&mut con, key, &["10", "1", "3600", "4"]);
    }
    throttle(&mut con, b"refunded", &["10", "1", "3600", "-10"]);
    throttle(&mut con, b"a", &["10", "1", "3600", "0"]);
    let before = key_states(&mut con, &keys);
    assert_eq!(before[3], (None, -2));

    let aof = aof_bytes(&server);
    assert!(
        aof.windows(4).any(|w| w == b"PXAT"),
        "effects are logged as SET ... PXAT"
    );
    assert!(
        !aof.windows(11)
            .any(|w| w.eq_ignore_ascii_case(b"CL.THROTTLE")),
        "never the command"
    );

    server.restart();
    let mut con = server.connect();
    let after = key_states(&mut con, &keys);
    assert_eq!(before, after);
    assert_eq!(
        throttle(&mut con, b"b", &["10", "1", "3600", "0"])[2],
        7,
        "limiter state resumed"
    );

    server.restart_with_module(false);
    let mut con = server.connect();
    let replayed = key_states(&mut con, &keys);
    assert_eq!(
        before, replayed,
        "the AOF replays on a server without the module"
    );
}

/// RDB save points ("save 60 1000") count changes: our writes must count like SET's.
#[test]
fn writes_count_as_changes_for_rdb_save_points() {
    let server = Server::start();
    let mut con = server.connect();
    let changes = |con: &mut Connection| -> i64 {
        info_field(con, "persistence", "rdb_changes_since_last_save")
            .parse()
            .expect("integer")
    };
    let before = changes(&mut con);
    for _ in 0..3 {
        throttle(&mut con, b"counted", &["1", "1", "60"]);
    }
    assert_eq!(
        changes(&mut con),
        before + 2,
        "two allowed writes, one limited call"
    );
    throttle(&mut con, b"counted", &["1", "1", "60", "0"]);
    assert_eq!(changes(&mut con), before + 2, "a peek changes nothing");
    throttle(&mut con, b"counted", &["1", "1", "60", "-5"]);
    assert_eq!(
        changes(&mut con),
        before + 3,
        "a refund that deletes is a change"
    );
}

#[test]
fn rdb_snapshot_restores_identical_state_and_running_expiries() {
    let mut server = Server::start();
    let mut con = server.connect();
    let keys: [&[u8]; 3] = [b"r1", b"r2", b"\x00r3"];
    for key in keys {
        throttle(&mut con, key, &["3", "1", "3600", "2"]);
    }
    let before = key_states(&mut con, &keys);
    redis::cmd("SAVE").query::<()>(&mut con).expect("SAVE");
    server.restart();
    let mut con = server.connect();
    assert_eq!(key_states(&mut con, &keys), before);
    let now_ms = wall_clock_ns() / 1_000_000;
    for (_, expiry) in &before {
        assert!(*expiry > now_ms, "the expiry is still running");
    }
    assert_eq!(
        throttle(&mut con, b"r1", &["3", "1", "3600", "0"])[2],
        2,
        "state resumed"
    );
}

#[test]
fn aof_rewrite_then_restart_keeps_identical_state() {
    let mut server = aof_server();
    let mut con = server.connect();
    let keys: [&[u8]; 3] = [b"w1", b"w2", b"w3"];
    for key in keys {
        throttle(&mut con, key, &["3", "1", "3600", "2"]);
    }
    redis::cmd("BGREWRITEAOF")
        .query::<()>(&mut con)
        .expect("BGREWRITEAOF");
    wait_until(20, "the AOF rewrite", || {
        info_field(&mut con, "persistence", "aof_rewrite_in_progress") == "0"
            && info_field(&mut con, "persistence", "aof_rewrite_scheduled") == "0"
    });
    throttle(&mut con, b"w1", &["3", "1", "3600", "1"]);
    let before = key_states(&mut con, &keys);
    server.restart();
    let mut con = server.connect();
    assert_eq!(key_states(&mut con, &keys), before);
}

#[test]
fn keys_expire_when_their_tat_passes() {
    let server = Server::start();
    let mut con = server.connect();
    throttle(&mut con, b"short", &["0", "1", "0.2"]);
    throttle(&mut con, b"long", &["0", "1", "60"]);
    assert!(get(&mut con, b"short").is_some());
    wait_until(5, "the short key to expire", || {
        let exists: i64 = redis::cmd("EXISTS")
            .arg("short")
            .query(&mut con)
            .expect("EXISTS");
        exists == 0
    });
    assert!(
        get(&mut con, b"long").is_some(),
        "keys whose TAT is ahead stay"
    );
    assert_eq!(
        throttle(&mut con, b"short", &["0", "1", "0.2", "0"]),
        [0, 1, 1, -1, 0]
    );
}
