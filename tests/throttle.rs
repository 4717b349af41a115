//! CL.THROTTLE against a real redis-server: replies, storage format, errors, types,
//! MULTI/Lua and command metadata.

mod common;

use common::*;

const SECOND_NS: i64 = 1_000_000_000;

fn cl(key: &[u8], args: &[&[u8]]) -> redis::Cmd {
    let mut cmd = redis::cmd("CL.THROTTLE");
    cmd.arg(key);
    for arg in args {
        cmd.arg(*arg);
    }
    cmd
}

#[test]
fn seed_sequence_twenty_quick_calls() {
    let server = Server::start();
    let mut con = server.connect();
    for i in 1..=16 {
        assert_eq!(
            throttle(&mut con, b"user123", &["15", "30", "60"]),
            [0, 16, 16 - i, -1, 2 * i]
        );
    }
    for _ in 0..4 {
        assert_eq!(
            throttle(&mut con, b"user123", &["15", "30", "60"]),
            [1, 16, 0, 2, 32]
        );
    }
}

#[test]
fn seed_burst_zero_and_oversized_quantity() {
    let server = Server::start();
    let mut con = server.connect();
    assert_eq!(
        throttle(&mut con, b"k", &["0", "1", "2", "1"]),
        [0, 1, 0, -1, 2]
    );
    assert_eq!(
        throttle(&mut con, b"k", &["0", "1", "2", "1"]),
        [1, 1, 0, 2, 2]
    );
    assert_eq!(
        throttle(&mut con, b"big", &["15", "30", "60", "17"]),
        [1, 16, 16, -1, 0]
    );
    assert_eq!(get(&mut con, b"big"), None, "a limited call writes nothing");
}

#[test]
fn nanosecond_intervals_are_exact_and_stored_as_redis_cell_does() {
    let server = Server::start();
    let mut con = server.connect();
    for (count, interval_ns) in [("100000000", 10i64), ("666667", 1_499)] {
        let key = format!("exact:{count}");
        let before = wall_clock_ns();
        // In one transaction: the key expires about a millisecond after it is written.
        let (reply, stored, expiry): (Vec<i64>, Vec<u8>, i64) = redis::pipe()
            .atomic()
            .cmd("CL.THROTTLE")
            .arg(&key)
            .arg(&["10", count, "1"])
            .cmd("GET")
            .arg(&key)
            .cmd("PEXPIRETIME")
            .arg(&key)
            .query(&mut con)
            .expect("EXEC");
        let after = wall_clock_ns();
        assert_eq!(reply[2], 10);
        assert!(stored.iter().all(u8::is_ascii_digit), "{stored:?}");
        let tat: i64 = String::from_utf8(stored)
            .expect("ascii")
            .parse()
            .expect("integer");
        // Server and test share the machine's clock.
        assert!(
            (before + interval_ns..=after + interval_ns).contains(&tat),
            "{tat}"
        );
        let expected_ms = tat / 1_000_000 + i64::from(tat % 1_000_000 != 0);
        assert_eq!(expiry, expected_ms);
    }
}

#[test]
fn peeks_reply_like_a_call_and_write_nothing() {
    let server = Server::start();
    let mut con = server.connect();
    assert_eq!(
        throttle(&mut con, b"p", &["15", "30", "60", "0"]),
        [0, 16, 16, -1, 0]
    );
    assert_eq!(get(&mut con, b"p"), None);

    throttle(&mut con, b"p", &["15", "30", "60", "3"]);
    let before = key_state(&mut con, b"p");
    for _ in 0..3 {
        assert_eq!(
            throttle(&mut con, b"p", &["15", "30", "60", "0"]),
            [0, 16, 13, -1, 6]
        );
    }
    assert_eq!(key_state(&mut con, b"p"), before);
}

#[test]
fn refunds_give_tokens_back_and_delete_a_full_bucket() {
    let server = Server::start();
    let mut con = server.connect();
    throttle(&mut con, b"r", &["4", "1", "10", "3"]);
    assert_eq!(
        throttle(&mut con, b"r", &["4", "1", "10", "-1"]),
        [0, 5, 3, -1, 20]
    );
    assert_eq!(
        throttle(&mut con, b"r", &["4", "1", "10", "-100"]),
        [0, 5, 5, -1, 0]
    );
    assert_eq!(get(&mut con, b"r"), None);
}

#[test]
fn bad_arguments_are_named_and_write_nothing() {
    let server = Server::start();
    let mut con = server.connect();
    throttle(&mut con, b"existing", &["5", "1", "60"]);
    let before = key_state(&mut con, b"existing");
    let cases: [(&[&[u8]], &str); 18] = [
        (&[], "wrong number of arguments"),
        (&[b"1", b"1"], "wrong number of arguments"),
        (
            &[b"1", b"1", b"1", b"1", b"MS", b"BLOCK", b"1", b"1"],
            "wrong number of arguments",
        ),
        // More arguments than the cap, because an option is given twice (issue 19).
        (
            &[b"15", b"30", b"60", b"1", b"BLOCK", b"1", b"BLOCK", b"2"],
            "an option appears twice",
        ),
        (
            &[b"15", b"30", b"60", b"1", b"ATMOST", b"ATMOST"],
            "an option appears twice",
        ),
        (&[b"1", b"1", b"1", b"1", b"SECONDS"], "unknown option"),
        (&[b"1", b"1", b"0.0000000001"], "period"),
        (&[b"x", b"1", b"1"], "max_burst"),
        (&[b"-1", b"1", b"1"], "max_burst"),
        (&[b"1.5", b"1", b"1"], "max_burst"),
        (&[b"1", b"0", b"1"], "count"),
        (&[b"1", b"\xff\xfe", b"1"], "count"),
        (&[b"1", b" 1", b"1"], "count"),
        (&[b"1", b"1", b"0"], "period"),
        (&[b"1", b"1", b""], "period"),
        (&[b"1", b"1", b"99999999999"], "period"),
        (&[b"1", b"1", b"1", b"9223372036854775808"], "quantity"),
        (&[b"1", b"5000000000", b"1"], "count"),
    ];
    for key in [&b"fresh"[..], b"existing"] {
        for (args, named) in cases {
            let message = error_of(&mut con, &cl(key, args));
            assert!(message.starts_with("ERR "), "{message}");
            assert!(
                message.contains(named),
                "{args:?}: {message} should name {named}"
            );
        }
    }
    assert_eq!(
        error_of(&mut con, &redis::cmd("CL.THROTTLE")),
        error_of(&mut con, &cl(b"k", &[]))
    );
    assert_eq!(get(&mut con, b"fresh"), None);
    assert_eq!(key_state(&mut con, b"existing"), before);
}

#[test]
fn other_types_get_wrongtype_and_stay_intact() {
    let server = Server::start();
    let mut con = server.connect();
    redis::cmd("RPUSH")
        .arg("list")
        .arg("a")
        .query::<()>(&mut con)
        .expect("RPUSH");
    redis::cmd("HSET")
        .arg("hash")
        .arg("f")
        .arg("v")
        .query::<()>(&mut con)
        .expect("HSET");
    redis::cmd("SADD")
        .arg("set")
        .arg("m")
        .query::<()>(&mut con)
        .expect("SADD");
    redis::cmd("ZADD")
        .arg("zset")
        .arg(1)
        .arg("m")
        .query::<()>(&mut con)
        .expect("ZADD");
    redis::cmd("XADD")
        .arg("stream")
        .arg("*")
        .arg("f")
        .arg("v")
        .query::<()>(&mut con)
        .expect("XADD");
    for (key, kind) in [
        ("list", "list"),
        ("hash", "hash"),
        ("set", "set"),
        ("zset", "zset"),
        ("stream", "stream"),
    ] {
        for quantity in ["1", "0", "-1"] {
            let message = error_of(
                &mut con,
                &cl(key.as_bytes(), &[b"1", b"1", b"1", quantity.as_bytes()]),
            );
            assert!(message.starts_with("WRONGTYPE"), "{key}: {message}");
        }
        let actual: String = redis::cmd("TYPE").arg(key).query(&mut con).expect("TYPE");
        assert_eq!(actual, kind);
    }
    let items: Vec<String> = redis::cmd("LRANGE")
        .arg("list")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .expect("LRANGE");
    assert_eq!(items, ["a"]);
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).expect("PING"),
        "PONG"
    );
}

#[test]
fn corrupt_values_are_errors_and_stay_intact() {
    let server = Server::start();
    let mut con = server.connect();
    let corrupt: [&[u8]; 9] = [
        b"foo",
        b"",
        b"-5",
        b"+5",
        b"1.5",
        b" 123",
        b"99999999999999999999",
        b"\xff\x00\x01",
        b"1e18",
    ];
    for (i, value) in corrupt.iter().enumerate() {
        let key = format!("corrupt:{i}");
        redis::cmd("SET")
            .arg(&key)
            .arg(*value)
            .query::<()>(&mut con)
            .expect("SET");
        for quantity in [&b"1"[..], b"0", b"-1"] {
            let message = error_of(&mut con, &cl(key.as_bytes(), &[b"1", b"1", b"1", quantity]));
            assert!(
                message.starts_with("ERR ") && message.contains("TAT"),
                "{value:?}: {message}"
            );
        }
        assert_eq!(
            key_state(&mut con, key.as_bytes()),
            (Some(value.to_vec()), -1),
            "{value:?}"
        );
    }
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).expect("PING"),
        "PONG"
    );
}

#[test]
fn stored_tats_far_in_the_past_or_future_give_sane_replies() {
    let server = Server::start();
    let mut con = server.connect();
    redis::cmd("SET")
        .arg("past")
        .arg("0")
        .query::<()>(&mut con)
        .expect("SET");
    assert_eq!(
        throttle(&mut con, b"past", &["15", "30", "60"]),
        [0, 16, 15, -1, 2]
    );
    assert!(
        pexpiretime(&mut con, b"past") > 0,
        "rewritten with an expiry"
    );

    redis::cmd("SET")
        .arg("future")
        .arg(i64::MAX.to_string())
        .query::<()>(&mut con)
        .expect("SET");
    let reply = throttle(&mut con, b"future", &["15", "30", "60"]);
    let now_s = wall_clock_ns() / SECOND_NS;
    assert_eq!(reply[..3], [1, 16, 0]);
    assert!(reply[3] > 0 && reply[4] > 0, "{reply:?}");
    assert!(
        (reply[4] - (i64::MAX / SECOND_NS - now_s)).abs() <= 2,
        "{reply:?}"
    );
    assert_eq!(
        get(&mut con, b"future"),
        Some(i64::MAX.to_string().into_bytes())
    );

    let message = error_of(
        &mut con,
        &cl(
            b"huge",
            &[b"9223372036854775806", b"1", b"9223372036", b"3"],
        ),
    );
    assert!(message.contains("overflow"), "{message}");
    assert_eq!(get(&mut con, b"huge"), None);
}

#[test]
fn keys_are_binary_safe() {
    let server = Server::start();
    let mut con = server.connect();
    let key = b"\x00user\xff\r\n";
    assert_eq!(
        throttle(&mut con, key, &["1", "1", "60"]),
        [0, 2, 1, -1, 60]
    );
    assert_eq!(
        throttle(&mut con, key, &["1", "1", "60"]),
        [0, 2, 0, -1, 120]
    );
    assert!(get(&mut con, key).is_some());
    assert_eq!(get(&mut con, b"\x00user"), None);
}

#[test]
fn works_inside_multi_exec_and_lua() {
    let server = Server::start();
    let mut con = server.connect();
    let replies: Vec<Vec<i64>> = redis::pipe()
        .atomic()
        .cmd("CL.THROTTLE")
        .arg("tx")
        .arg(0)
        .arg(1)
        .arg(60)
        .cmd("CL.THROTTLE")
        .arg("tx")
        .arg(0)
        .arg(1)
        .arg(60)
        .query(&mut con)
        .expect("EXEC");
    assert_eq!(replies, [vec![0, 1, 0, -1, 60], vec![1, 1, 0, 60, 60]]);

    let script = "return redis.call('CL.THROTTLE', KEYS[1], ARGV[1], ARGV[2], ARGV[3])";
    let reply: Vec<i64> = redis::cmd("EVAL")
        .arg(script)
        .arg(1)
        .arg("lua")
        .arg(2)
        .arg(1)
        .arg(10)
        .query(&mut con)
        .expect("EVAL");
    assert_eq!(reply, [0, 3, 2, -1, 10]);
    assert!(get(&mut con, b"lua").is_some());

    let failing = "return redis.pcall('CL.THROTTLE', KEYS[1], 'x', 1, 1)";
    let message = error_of(&mut con, redis::cmd("EVAL").arg(failing).arg(1).arg("lua2"));
    assert!(message.contains("max_burst"), "{message}");
}

#[test]
fn limited_calls_and_peeks_do_not_touch_watched_keys() {
    let server = Server::start();
    let mut watcher = server.connect();
    let mut other = server.connect();
    throttle(&mut other, b"w", &["0", "1", "60"]);
    for quantity in ["1", "0"] {
        redis::cmd("WATCH")
            .arg("w")
            .query::<()>(&mut watcher)
            .expect("WATCH");
        throttle(&mut other, b"w", &["0", "1", "60", quantity]);
        let result: Option<Vec<String>> = redis::pipe()
            .atomic()
            .cmd("PING")
            .query(&mut watcher)
            .expect("EXEC");
        assert!(
            result.is_some(),
            "quantity {quantity}: EXEC aborted, the key was signalled"
        );
    }
    redis::cmd("WATCH")
        .arg("w")
        .query::<()>(&mut watcher)
        .expect("WATCH");
    throttle(&mut other, b"w", &["5", "1", "60"]);
    let result: Option<Vec<String>> = redis::pipe()
        .atomic()
        .cmd("PING")
        .query(&mut watcher)
        .expect("EXEC");
    assert!(result.is_none(), "an allowed call must invalidate WATCH");
}

#[test]
fn registered_like_a_redis_command() {
    let server = Server::start();
    let mut con = server.connect();
    let modules: Vec<Vec<Value>> = redis::cmd("MODULE")
        .arg("LIST")
        .query(&mut con)
        .expect("MODULE LIST");
    let field = |module: &[Value], name: &str| -> Option<Value> {
        let at = module
            .iter()
            .position(|v| *v == Value::BulkString(name.as_bytes().to_vec()))?;
        module.get(at + 1).cloned()
    };
    let ours = modules
        .iter()
        .find(|m| field(m, "name") == Some(Value::BulkString(b"gcra".to_vec())))
        .expect("gcra in MODULE LIST");
    let version = env!("CARGO_PKG_VERSION").split('.').fold(0, |acc, part| {
        acc * 100 + part.parse::<i64>().expect("numeric version")
    });
    assert_eq!(field(ours, "ver"), Some(Value::Int(version)));

    let info: Value = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("CL.THROTTLE")
        .query(&mut con)
        .expect("COMMAND INFO");
    let text = format!("{info:?}");
    for flag in ["write", "fast"] {
        assert!(text.contains(flag), "{flag} in {text}");
    }
    // Not deny-oom: the handler refuses only calls that charge tokens (tests/operator.rs).
    assert!(!text.contains("denyoom"), "{text}");
    let keys: Vec<Vec<u8>> = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("CL.THROTTLE")
        .arg("the-key")
        .arg(1)
        .arg(1)
        .arg(1)
        .query(&mut con)
        .expect("GETKEYS");
    assert_eq!(keys, [b"the-key".to_vec()]);
}

#[test]
fn writes_send_the_keyspace_events_of_set_and_del() {
    let server = Server::start();
    let mut con = server.connect();
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query::<()>(&mut con)
        .expect("CONFIG");
    let mut subscriber = server.connect();
    let mut pubsub = subscriber.as_pubsub();
    pubsub.psubscribe("__keyevent@0__:*").expect("PSUBSCRIBE");
    pubsub
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .expect("timeout");

    throttle(&mut con, b"ev", &["0", "1", "60"]); // allowed: set + expire
    throttle(&mut con, b"ev", &["0", "1", "60"]); // limited: nothing
    throttle(&mut con, b"ev", &["0", "1", "60", "0"]); // peek: nothing
    throttle(&mut con, b"ev", &["0", "1", "60", "-1"]); // full refund: del
    let mut events = Vec::new();
    while let Ok(message) = pubsub.get_message() {
        let payload: Vec<u8> = message.get_payload().expect("payload");
        events.push((message.get_channel_name().to_string(), payload));
    }
    let expected: Vec<(String, Vec<u8>)> = ["set", "expire", "del"]
        .iter()
        .map(|event| (format!("__keyevent@0__:{event}"), b"ev".to_vec()))
        .collect();
    assert_eq!(events, expected);
}
