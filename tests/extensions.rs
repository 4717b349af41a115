//! What users asked for beyond redis-cell: MS replies, fractional periods, CL.THROTTLEALL,
//! INFO counters and COMMAND DOCS, against a real redis-server.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn all(args: &[&str]) -> redis::Cmd {
    let mut cmd = redis::cmd("CL.THROTTLEALL");
    cmd.arg(args);
    cmd
}

fn throttle_all(con: &mut Connection, args: &[&str]) -> Vec<i64> {
    all(args)
        .query(con)
        .unwrap_or_else(|e| panic!("CL.THROTTLEALL {args:?}: {e}"))
}

#[test]
fn ms_option_replies_in_milliseconds() {
    let server = Server::start();
    let mut con = server.connect();
    assert_eq!(
        throttle(&mut con, b"ms", &["10", "100", "1", "1", "MS"]),
        [0, 11, 10, -1, 10]
    );
    assert_eq!(
        throttle(&mut con, b"ms2", &["15", "30", "60", "ms"]),
        [0, 16, 15, -1, 2000]
    );
    // Limited: retry in under 2 s, given to the millisecond (rounded up), not as "2".
    throttle(&mut con, b"ms3", &["0", "1", "2"]);
    let limited = throttle(&mut con, b"ms3", &["0", "1", "2", "1", "Ms"]);
    assert_eq!(limited[..3], [1, 1, 0]);
    assert!(
        (1900..=2000).contains(&limited[3]) && (1900..=2000).contains(&limited[4]),
        "{limited:?}"
    );
    let message = error_of(
        &mut con,
        redis::cmd("CL.THROTTLE")
            .arg("ms")
            .arg(&["1", "1", "1", "1", "SECONDS"]),
    );
    assert!(message.contains("unknown option"), "{message}");
}

#[test]
fn fractional_periods_are_exact() {
    let server = Server::start();
    let mut con = server.connect();
    assert_eq!(
        throttle(&mut con, b"half", &["4", "1", "0.5"]),
        [0, 5, 4, -1, 1]
    );
    assert_eq!(
        throttle(&mut con, b"quarter", &["4", "1", "0.25", "MS"]),
        [0, 5, 4, -1, 250]
    );
    assert_eq!(
        throttle(&mut con, b"odd", &["0", "1", "1.000000001", "MS"]),
        [0, 1, 0, -1, 1001]
    );
    for bad in [
        "0",
        "0.0",
        "-0.5",
        "1e3",
        "nan",
        "inf",
        ".",
        "1.",
        "0.0000000001",
    ] {
        let message = error_of(
            &mut con,
            redis::cmd("CL.THROTTLE").arg("bad").arg(&["1", "1", bad]),
        );
        assert!(message.contains("period"), "{bad}: {message}");
    }
    assert_eq!(get(&mut con, b"bad"), None);
}

#[test]
fn throttle_all_declares_its_keys() {
    let server = Server::start();
    let mut con = server.connect();
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg(&[
            "GETKEYS",
            "CL.THROTTLEALL",
            "2",
            "ka",
            "1",
            "1",
            "1",
            "kb",
            "1",
            "1",
            "1",
            "3",
            "MS",
        ])
        .query(&mut con)
        .expect("GETKEYS");
    assert_eq!(keys, ["ka", "kb"]);
}

#[test]
fn throttle_all_is_all_or_nothing() {
    let server = Server::start();
    let mut con = server.connect();
    // Per second: capacity 2. Per minute: capacity 3, a token every 20 s.
    let limits = ["2", "s", "1", "1", "1", "m", "2", "3", "60"];
    assert_eq!(throttle_all(&mut con, &limits), [0, 2, 1, -1, 20]);
    assert_eq!(throttle_all(&mut con, &limits), [0, 2, 0, -1, 40]);
    let before = key_states(&mut con, &["s", "m"]);
    for _ in 0..3 {
        // Per second is exhausted; per minute alone would allow, but nothing is charged.
        assert_eq!(throttle_all(&mut con, &limits), [1, 2, 0, 1, 40]);
    }
    assert_eq!(
        key_states(&mut con, &["s", "m"]),
        before,
        "a limited call changes no key"
    );
    // With MS and a quantity, and the same key read back as a single limit (a few ms later).
    assert_eq!(
        throttle_all(&mut con, &["1", "fresh", "9", "10", "1", "5", "MS"]),
        [0, 10, 5, -1, 500]
    );
    let peek = throttle(&mut con, b"fresh", &["9", "10", "1", "0", "MS"]);
    assert_eq!(peek[..4], [0, 10, 5, -1]);
    assert!((400..=500).contains(&peek[4]), "{peek:?}");
}

#[test]
fn throttle_all_errors_write_nothing() {
    let server = Server::start();
    let mut con = server.connect();
    redis::cmd("RPUSH")
        .arg("list")
        .arg("x")
        .query::<()>(&mut con)
        .expect("RPUSH");
    let cases: [(&[&str], &str); 12] = [
        (&["0"], "wrong number of arguments"),
        (
            &["1", "a", "1", "1", "1", "1", "BLOCK", "1", "BLOCK", "2"],
            "an option appears twice",
        ),
        (
            &["1", "a", "1", "1", "1", "SOFT", "2", "ATMOST"],
            "cannot be combined",
        ),
        (&["0", "a", "1", "1", "1"], "numlimits"),
        (&["x", "a", "1", "1", "1"], "numlimits"),
        (&["2", "a", "1", "1", "1"], "numlimits"),
        (
            &["1", "a", "1", "1", "1", "1", "MS", "junk"],
            "unknown option",
        ),
        (
            &["1", "a", "1", "1", "1", "1", "MS", "BLOCK", "5", "junk"],
            "wrong number of arguments",
        ),
        (&["1", "a", "1", "1", "1", "1", "junk"], "unknown option"),
        (&["2", "a", "1", "1", "1", "b", "1", "0", "1"], "count"),
        (&["2", "a", "1", "1", "1", "a", "5", "1", "60"], "same key"),
        (
            &["2", "a", "1", "1", "1", "list", "1", "1", "1"],
            "WRONGTYPE",
        ),
    ];
    for (args, expected) in cases {
        let message = error_of(&mut con, &all(args));
        assert!(message.contains(expected), "{args:?}: {message}");
    }
    assert_eq!(get(&mut con, b"a"), None);
    assert!(error_of(&mut con, &redis::cmd("CL.THROTTLEALL")).contains("wrong number"));
}

#[test]
fn replica_without_module_converges_after_throttle_all() {
    let primary = quiet_primary();
    let replica = start_replica(&primary, false);
    let mut r = replica.connect();
    let mut p = primary.connect();
    // "sec" is 5 per 10 s here, so its key outlives slow runs (valgrind).
    let limits = [
        "3", "{u}:sec", "4", "5", "1", "{u}:min", "50", "100", "60", "{u}:day", "500", "1000",
        "86400",
    ];
    throttle_all(&mut p, &limits);
    throttle_all(
        &mut p,
        &[&["1", "{u}:sec", "4", "5", "10"][..], &["3"]].concat(),
    );
    let offset = info_field(&mut p, "replication", "master_repl_offset");
    // A limited call (quantity beyond the per-second capacity) propagates nothing.
    assert_eq!(throttle_all(&mut p, &[&limits[..], &["6"]].concat())[0], 1);
    assert_eq!(
        info_field(&mut p, "replication", "master_repl_offset"),
        offset
    );
    wait_for_replicas(&mut p, 1);
    let keys = ["{u}:sec", "{u}:min", "{u}:day"];
    let on_primary = key_states(&mut p, &keys);
    assert!(on_primary
        .iter()
        .all(|(value, expiry)| value.is_some() && *expiry > 0));
    assert_eq!(on_primary, key_states(&mut r, &keys));
}

#[test]
fn info_counts_decisions() {
    let server = Server::start();
    let mut con = server.connect();
    let count = |con: &mut Connection, field: &str| -> u64 {
        info_field(con, "gcra_stats", &format!("gcra_{field}"))
            .parse()
            .expect("integer")
    };
    throttle(&mut con, b"i", &["0", "1", "60"]);
    throttle(&mut con, b"i", &["0", "1", "60"]);
    throttle(&mut con, b"i", &["0", "1", "60", "0"]);
    throttle(&mut con, b"i", &["0", "1", "60", "-1"]);
    throttle_all(&mut con, &["1", "j", "0", "1", "60"]);
    let _ = error_of(
        &mut con,
        redis::cmd("CL.THROTTLE").arg("i").arg(&["x", "1", "1"]),
    );
    let expected = [
        ("allowed", 2),
        ("limited", 1),
        ("peeked", 1),
        ("refunded", 1),
        ("errors", 1),
    ];
    for (field, value) in expected {
        assert_eq!(count(&mut con, field), value, "{field}");
    }
}

#[test]
fn commands_describe_themselves() {
    let server = Server::start();
    let mut con = server.connect();
    for (command, arguments) in [
        (
            "CL.THROTTLE",
            &["key", "max_burst", "count", "period", "quantity", "ms"][..],
        ),
        (
            "CL.THROTTLEALL",
            &["numlimits", "limit", "quantity", "ms"][..],
        ),
    ] {
        let docs: Value = redis::cmd("COMMAND")
            .arg("DOCS")
            .arg(command)
            .query(&mut con)
            .expect("DOCS");
        let text = format!("{docs:?}");
        for expected in ["summary", "since", "0.1.0", "complexity", "arguments"] {
            assert!(text.contains(expected), "{command}: {expected} in {text}");
        }
        for argument in arguments {
            assert!(
                text.contains(&format!("\"{argument}\"")),
                "{command}: {argument} in {text}"
            );
        }
    }
}

/// A one-node cluster owning every slot: enough to see CROSSSLOT checks on our keys.
#[test]
fn cluster_rejects_cross_slot_limits_and_accepts_hash_tags() {
    let server = Server::start_with(Options {
        extra: vec![
            "--cluster-enabled".into(),
            "yes".into(),
            "--cluster-config-file".into(),
            "nodes.conf".into(),
        ],
        ..Options::default()
    });
    let mut con = server.connect();
    redis::cmd("CLUSTER")
        .arg(&["ADDSLOTSRANGE", "0", "16383"])
        .query::<()>(&mut con)
        .expect("ADDSLOTSRANGE");
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(&mut con, "cluster", "cluster_enabled") != "1"
        || !redis::cmd("CLUSTER")
            .arg("INFO")
            .query::<String>(&mut con)
            .expect("INFO")
            .contains("cluster_state:ok")
    {
        assert!(Instant::now() < deadline, "cluster never became ok");
        std::thread::sleep(Duration::from_millis(50));
    }
    let message = error_of(
        &mut con,
        &all(&["2", "a", "1", "1", "1", "b", "1", "1", "1"]),
    );
    assert!(message.starts_with("CROSSSLOT"), "{message}");
    assert_eq!(
        throttle_all(
            &mut con,
            &["2", "{user1}:a", "1", "1", "1", "{user1}:b", "1", "1", "1"]
        )[0],
        0
    );
}
