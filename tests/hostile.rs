//! Bounded black-box fuzzing of a live server: random argument vectors against keys of every
//! type and corrupt or extreme stored values. The server must answer every call sanely and
//! stay up, and every key the module wrote must have an expiry.
//!
//! `FUZZ_SEED=<n>` replays a run; `FUZZ_CALLS=<n>` changes its length (default 4000).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;

const KEYS: [&[u8]; 14] = [
    b"list",
    b"hash",
    b"set",
    b"zset",
    b"stream",
    b"corrupt:word",
    b"corrupt:empty",
    b"corrupt:negative",
    b"corrupt:decimal",
    b"corrupt:huge",
    b"corrupt:binary",
    b"tat:past",
    b"tat:future",
    b"fresh",
];

fn prepare(con: &mut Connection) -> HashMap<Vec<u8>, Option<Vec<u8>>> {
    let run = |con: &mut Connection, args: &[&[u8]]| {
        redis::cmd(std::str::from_utf8(args[0]).expect("ascii"))
            .arg(&args[1..])
            .query::<()>(con)
            .expect("setup");
    };
    run(con, &[b"RPUSH", b"list", b"a"]);
    run(con, &[b"HSET", b"hash", b"f", b"v"]);
    run(con, &[b"SADD", b"set", b"m"]);
    run(con, &[b"ZADD", b"zset", b"1", b"m"]);
    run(con, &[b"XADD", b"stream", b"*", b"f", b"v"]);
    let strings: [(&[u8], &[u8]); 8] = [
        (b"corrupt:word", b"foo"),
        (b"corrupt:empty", b""),
        (b"corrupt:negative", b"-5"),
        (b"corrupt:decimal", b"1.5"),
        (b"corrupt:huge", b"99999999999999999999"),
        (b"corrupt:binary", b"\xff\x00\x7f"),
        (b"tat:past", b"0"),
        (b"tat:future", b"9223372036854775807"),
    ];
    for (key, value) in strings {
        run(con, &[b"SET", key, value]);
    }
    KEYS.iter().map(|k| (k.to_vec(), get_any(con, k))).collect()
}

/// The value of a string key, or None for a missing key or another type.
fn get_any(con: &mut Connection, key: &[u8]) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(key)
        .query::<Option<Vec<u8>>>(con)
        .ok()
        .flatten()
}

fn argument(rng: &mut Rng) -> Vec<u8> {
    let edges: [&[u8]; 27] = [
        b"0",
        b"1",
        b"-1",
        b"2",
        b"15",
        b"60",
        b"9223372036854775807",
        b"9223372036854775806",
        b"-9223372036854775808",
        b"9223372036854775808",
        b"1000000000",
        b"0.5",
        b"1.000000001",
        b"0.0000000001",
        b"",
        b" ",
        b" 1",
        b"1e3",
        b"nan",
        b"inf",
        b"MS",
        b"ms",
        b"BLOCK",
        b"ATMOST",
        b"soft",
        b"\xff\xfe",
        b"+7",
    ];
    match rng.below(4) {
        0 => rng.next().to_string().into_bytes(),
        1 => (rng.next() as i64 % 1000).to_string().into_bytes(),
        2 => (0..rng.below(6)).map(|_| rng.next() as u8).collect(),
        _ => rng.pick(&edges).to_vec(),
    }
}

/// Mostly a plausible value, sometimes a hostile one.
fn field(rng: &mut Rng, plausible: &[&str]) -> Vec<u8> {
    if rng.below(8) == 0 {
        argument(rng)
    } else {
        rng.pick(plausible).as_bytes().to_vec()
    }
}

/// Half the time one of a few limiter keys, else one of the prepared hostile keys.
fn key(rng: &mut Rng) -> Vec<u8> {
    if rng.below(2) == 0 {
        format!("k:{}", rng.below(40)).into_bytes()
    } else {
        rng.pick(&KEYS).to_vec()
    }
}

fn limit_group(rng: &mut Rng, cmd: &mut redis::Cmd) {
    cmd.arg(key(rng));
    cmd.arg(field(rng, &["0", "1", "4", "15", "100"]));
    cmd.arg(field(rng, &["1", "2", "30", "1000"]));
    cmd.arg(field(rng, &["1", "60", "0.5", "2", "86400"]));
}

fn options(rng: &mut Rng, cmd: &mut redis::Cmd) {
    if rng.below(2) == 0 {
        cmd.arg(field(rng, &["1", "0", "-1", "3", "-100"]));
    }
    if rng.below(3) == 0 {
        cmd.arg(field(rng, &["MS", "ms"]));
    }
    // The modes; BLOCK waits at most a few milliseconds, so the run stays short.
    match rng.below(8) {
        0 => {
            cmd.arg(field(rng, &["BLOCK", "block"]));
            cmd.arg(field(rng, &["0", "1", "5"]));
        }
        1 => {
            cmd.arg(field(rng, &["ATMOST", "atmost"]));
        }
        2 => {
            cmd.arg(field(rng, &["SOFT", "Soft"]));
            cmd.arg(field(rng, &["1", "1.5", "2", "3", "1000"]));
        }
        _ => {}
    }
}

/// A third are shaped like real calls (CL.THROTTLE or CL.PEEK) with mutated fields, a third
/// CL.THROTTLEALL likewise, a third arbitrary arity and bytes.
fn random_command(rng: &mut Rng) -> redis::Cmd {
    match rng.below(3) {
        0 => {
            let mut cmd = redis::cmd(if rng.below(4) == 0 {
                "CL.PEEK"
            } else {
                "CL.THROTTLE"
            });
            limit_group(rng, &mut cmd);
            options(rng, &mut cmd);
            cmd
        }
        1 => {
            let mut cmd = redis::cmd("CL.THROTTLEALL");
            let groups = 1 + rng.below(3);
            cmd.arg(field(rng, &[&groups.to_string()]));
            for _ in 0..groups {
                limit_group(rng, &mut cmd);
            }
            options(rng, &mut cmd);
            cmd
        }
        _ => {
            let names = ["CL.THROTTLE", "CL.THROTTLEALL", "CL.PEEK"];
            let name = *rng.pick(&names);
            let mut cmd = redis::cmd(name);
            for _ in 0..rng.below(10) {
                if rng.below(3) == 0 {
                    cmd.arg(key(rng));
                } else {
                    cmd.arg(argument(rng));
                }
            }
            cmd
        }
    }
}

/// How long one call may take before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(2);

/// Whether the call asks to wait (`BLOCK n`, any case) for longer than `PATIENCE`.
fn waits_longer_than_patience(cmd: &redis::Cmd) -> bool {
    let args: Vec<&[u8]> = cmd
        .args_iter()
        .filter_map(|arg| match arg {
            redis::Arg::Simple(bytes) => Some(bytes),
            _ => None,
        })
        .collect();
    args.windows(2).any(|pair| {
        pair[0].eq_ignore_ascii_case(b"BLOCK")
            && std::str::from_utf8(pair[1])
                .ok()
                .and_then(|n| n.parse::<u128>().ok())
                .is_some_and(|ms| ms > PATIENCE.as_millis())
    })
}

/// Checks one reply; true when it was a decision (not an error).
fn check_reply(cmd: &redis::Cmd, result: redis::RedisResult<Value>) -> bool {
    let value = match result {
        Err(e) => {
            let code = e.code().unwrap_or("?");
            assert!(
                matches!(code, "ERR" | "WRONGTYPE"),
                "{cmd:?}: unexpected error {e}"
            );
            return false;
        }
        Ok(value) => value,
    };
    let Value::Array(items) = &value else {
        panic!("{cmd:?}: not an array: {value:?}")
    };
    let ints: Vec<i64> = items
        .iter()
        .map(|v| match v {
            Value::Int(i) => *i,
            other => panic!("{cmd:?}: not an integer: {other:?}"),
        })
        .collect();
    // Five integers, and a sixth with ATMOST (tokens granted) or SOFT (per mille).
    let (&[limited, limit, remaining, retry, reset], extra) = ints.split_at(5.min(ints.len()))
    else {
        panic!("{cmd:?}: {ints:?}")
    };
    match extra {
        [] => {}
        [sixth] => assert!(
            (0..=1000).contains(sixth) || *sixth >= 0,
            "{cmd:?}: {ints:?}"
        ),
        _ => panic!("{cmd:?}: {ints:?}"),
    }
    assert!(limited == 0 || limited == 1, "{cmd:?}: {ints:?}");
    assert!(
        limit >= 1 && (0..=limit).contains(&remaining),
        "{cmd:?}: {ints:?}"
    );
    assert!(retry >= -1 && reset >= 0, "{cmd:?}: {ints:?}");
    assert!(limited == 1 || retry == -1, "{cmd:?}: {ints:?}");
    true
}

#[test]
fn random_arguments_never_hurt_the_server() {
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| (wall_clock_ns() as u64) | 1);
    let calls: usize = std::env::var("FUZZ_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4000);
    eprintln!("hostile: FUZZ_SEED={seed} FUZZ_CALLS={calls}");
    let server = Server::start();
    let connect = || {
        let con = server.connect();
        con.set_read_timeout(Some(PATIENCE)).expect("read timeout");
        con
    };
    let mut con = connect();
    let before = prepare(&mut con);
    let mut rng = Rng(seed);
    let (mut decisions, mut abandoned) = (0, 0);
    for _ in 0..calls {
        let cmd = random_command(&mut rng);
        match cmd.query::<Value>(&mut con) {
            Err(e) if e.is_timeout() => {
                // A valid call may wait as long as it was told to: give up on it, as a client
                // would, and check that the server lets the waiter go.
                assert!(
                    waits_longer_than_patience(&cmd),
                    "{cmd:?} hung (seed {seed})"
                );
                abandoned += 1;
                con = connect();
                wait_until(5, "the abandoned waiter to go", || {
                    info_field(&mut con, "clients", "blocked_clients") == "0"
                });
            }
            result => decisions += usize::from(check_reply(&cmd, result)),
        }
    }
    eprintln!(
        "hostile: {decisions} of {calls} calls reached a decision, {abandoned} waited too long"
    );
    // Many vectors are rejected by the parser; enough must get through to the store.
    assert!(
        decisions * 10 >= calls,
        "only {decisions} decisions (seed {seed})"
    );
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).expect("PING"),
        "PONG",
        "seed {seed}"
    );

    // Other types and corrupt values are untouched; what the module wrote expires.
    for key in KEYS {
        let now = get_any(&mut con, key);
        let was = &before[key];
        let ttl: i64 = redis::cmd("PTTL").arg(key).query(&mut con).expect("PTTL");
        if key.starts_with(b"corrupt:") || !key.starts_with(b"tat:") && key != b"fresh" {
            assert_eq!(&now, was, "{key:?} changed (seed {seed})");
        } else if now.is_some() && &now != was {
            assert!(
                ttl > 0,
                "{key:?} was written without an expiry (seed {seed})"
            );
        }
    }
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut con).expect("KEYS");
    for key in keys.iter().filter(|k| !KEYS.contains(&k.as_slice())) {
        let ttl: i64 = redis::cmd("PTTL").arg(key).query(&mut con).expect("PTTL");
        assert!(ttl > 0 || ttl == -2, "{key:?} has no expiry (seed {seed})");
    }
}

/// What a clock jump leaves behind: TATs the module stored (with their expiry) that are now far
/// in the past or the future. Replies stay sane and every key keeps an expiry.
#[test]
fn stored_tats_after_clock_jumps_give_sane_replies_and_keep_expiries() {
    let server = Server::start();
    let mut con = server.connect();
    let now = wall_clock_ns();
    let day = 86_400_000_000_000i64;
    let tats = [
        1,
        now - 365 * day,
        now - 1,
        now + day,
        now + 100 * 365 * day,
        i64::MAX - 1,
        i64::MAX,
    ];
    let limits: [&[&str]; 4] = [
        &["15", "30", "60"],
        &["0", "1", "1"],
        &["1000000", "1", "1"],
        &["5", "1000000000", "0.5"],
    ];
    for (i, tat) in tats.iter().enumerate() {
        for (j, limit) in limits.iter().enumerate() {
            for quantity in ["1", "0", "-1", "7"] {
                let key = format!("jump:{i}:{j}:{quantity}");
                let expire_ms = tat / 1_000_000 + 1;
                redis::cmd("SET")
                    .arg(&key)
                    .arg(tat.to_string())
                    .arg("PXAT")
                    .arg(expire_ms)
                    .query::<()>(&mut con)
                    .expect("SET");
                let mut cmd = redis::cmd("CL.THROTTLE");
                cmd.arg(&key).arg(*limit).arg(quantity);
                let result = cmd.query::<Value>(&mut con);
                check_reply(&cmd, result);
                let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut con).expect("PTTL");
                assert!(ttl > 0 || ttl == -2, "{key}: no expiry after {cmd:?}");
            }
        }
    }
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).expect("PING"),
        "PONG"
    );
}
