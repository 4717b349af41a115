//! What a hostile operator can do to the server: one huge CL.THROTTLEALL, MODULE UNLOAD under
//! a queued call, eviction policies, maxmemory, odd MODULE LOAD lines.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

fn with_module_command() -> Options {
    Options {
        extra: vec!["--enable-module-command".into(), "yes".into()],
        ..Options::default()
    }
}

/// 40,000 distinct keys sharing a 1 KB prefix: a quadratic duplicate check took about 20 s
/// on such a call; a linear one costs a small multiple of MSET on the same keys.
#[test]
fn throttle_all_is_linear_in_limits_and_key_bytes() {
    const LIMITS: usize = 40_000;
    let server = Server::start();
    let mut con = server.connect();
    let prefix = "p".repeat(1024);
    let keys: Vec<String> = (0..LIMITS).map(|i| format!("{prefix}:{i}")).collect();

    // The server must keep answering other clients: PING every 5 ms from another connection.
    let stop = Arc::new(AtomicBool::new(false));
    let mut pinger_con = server.connect();
    let pinger = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let (mut pings, mut slowest) = (0u32, Duration::ZERO);
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let pong: String = redis::cmd("PING").query(&mut pinger_con).expect("PING");
                assert_eq!(pong, "PONG");
                slowest = slowest.max(sent.elapsed());
                pings += 1;
                thread::sleep(Duration::from_millis(5));
            }
            (pings, slowest)
        })
    };

    // MSET of the same keys in another database: the native command of the same size.
    let mut mset = redis::cmd("MSET");
    for key in &keys {
        mset.arg(key).arg("1");
    }
    redis::cmd("SELECT")
        .arg(1)
        .query::<()>(&mut con)
        .expect("SELECT");
    let started = Instant::now();
    mset.query::<()>(&mut con).expect("MSET");
    let mset_time = started.elapsed();
    redis::cmd("SELECT")
        .arg(0)
        .query::<()>(&mut con)
        .expect("SELECT");

    let mut all = redis::cmd("CL.THROTTLEALL");
    all.arg(LIMITS);
    for key in &keys {
        all.arg(key).arg(1).arg(1).arg(60);
    }
    let started = Instant::now();
    let reply: Vec<i64> = all.query(&mut con).expect("CL.THROTTLEALL");
    let all_time = started.elapsed();
    assert_eq!(reply, [0, 2, 1, -1, 60]);

    let mut getkeys = redis::cmd("COMMAND");
    getkeys.arg("GETKEYS").arg("CL.THROTTLEALL").arg(LIMITS);
    for key in &keys {
        getkeys.arg(key).arg(1).arg(1).arg(60);
    }
    let started = Instant::now();
    let reported: Vec<String> = getkeys.query(&mut con).expect("GETKEYS");
    let getkeys_time = started.elapsed();
    assert_eq!(reported, keys);

    stop.store(true, Ordering::Relaxed);
    let (pings, slowest_ping) = pinger.join().expect("pinger");
    let dbsize: usize = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(dbsize, LIMITS, "every limit charged");

    // Generous: the measured ratio is about 3-6 (release) on a busy 2-core machine; the
    // quadratic check was over 100.
    let bound = mset_time * 25 + Duration::from_millis(200);
    let times = format!(
        "MSET {mset_time:?}, CL.THROTTLEALL {all_time:?}, GETKEYS {getkeys_time:?}, \
         slowest PING {slowest_ping:?} of {pings}"
    );
    eprintln!("{LIMITS} limits with 1 KB keys: {times}");
    assert!(all_time < bound, "{times}");
    assert!(getkeys_time < bound, "{times}");
    assert!(slowest_ping < bound, "{times}");
    assert!(pings > 0, "{times}");
}

#[test]
fn duplicate_keys_are_still_refused_among_many() {
    let server = Server::start();
    let mut con = server.connect();
    let mut all = redis::cmd("CL.THROTTLEALL");
    all.arg(1001);
    for i in 0..1000 {
        all.arg(format!("k{i}")).arg(1).arg(1).arg(1);
    }
    all.arg("k500").arg(1).arg(1).arg(1);
    let error = error_of(&mut con, &all);
    assert!(error.contains("same key appears twice"), "{error}");
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(dbsize, 0, "an error writes nothing");
}

/// Before: EXEC ran a command whose handler had been unmapped, and the server died (SIGSEGV).
#[test]
fn module_unload_is_refused_so_a_queued_call_still_runs() {
    let server = Server::start_with(with_module_command());
    let mut queued = server.connect();
    let mut operator = server.connect();

    redis::cmd("MULTI").query::<()>(&mut queued).expect("MULTI");
    let status: String = redis::cmd("CL.THROTTLE")
        .arg("k")
        .arg(&[1, 1, 1])
        .query(&mut queued)
        .expect("queue");
    assert_eq!(status, "QUEUED");

    let error = error_of(
        &mut operator,
        redis::cmd("MODULE").arg("UNLOAD").arg("gcra"),
    );
    assert!(error.contains("unloading module"), "{error}");

    let replies: Vec<Vec<i64>> = redis::cmd("EXEC").query(&mut queued).expect("EXEC");
    assert_eq!(replies, [vec![0, 2, 1, -1, 1]]);
    assert_eq!(
        throttle(&mut operator, b"k", &["1", "1", "1"])[..3],
        [0, 2, 0]
    );
    assert!(
        server.log().contains("refusing MODULE UNLOAD")
            && server
                .log()
                .contains("restart the server without its loadmodule line"),
        "{}",
        server.log()
    );
}

/// A refused second load of the same path runs the module's OnLoad again in the same library;
/// it used to reopen the unload guard, and the queued call then crashed the server at EXEC.
#[test]
fn a_refused_second_load_keeps_unload_refused() {
    let server = Server::start_with(with_module_command());
    let mut queued = server.connect();
    let mut operator = server.connect();
    let path = module_path();
    let path = path.to_str().expect("utf-8 path");

    redis::cmd("MULTI").query::<()>(&mut queued).expect("MULTI");
    redis::cmd("CL.THROTTLE")
        .arg(&["mk", "1", "1", "1"])
        .query::<()>(&mut queued)
        .expect("queued");
    let reloads: [&[&str]; 3] = [
        &["LOAD", path],
        &["LOADEX", path, "ARGS", "x"],
        &["LOADEX", path],
    ];
    for reload in reloads {
        let refused = error_of(&mut operator, redis::cmd("MODULE").arg(reload));
        assert!(refused.contains("Error loading"), "{reload:?}: {refused}");
        let error = error_of(&mut operator, redis::cmd("MODULE").arg(&["UNLOAD", "gcra"]));
        assert!(
            error.contains("unloading module"),
            "after {reload:?}: {error}"
        );
    }
    assert!(
        server
            .log()
            .contains("a module named 'gcra' is already loaded"),
        "{}",
        server.log()
    );
    let replies: Vec<Vec<i64>> = redis::cmd("EXEC").query(&mut queued).expect("EXEC");
    assert_eq!(replies, [vec![0, 2, 1, -1, 1]]);
    let pong: String = redis::cmd("PING").query(&mut operator).expect("alive");
    assert_eq!(pong, "PONG");
}

#[test]
fn evicting_policies_are_warned_about_at_load_and_on_config_set() {
    let volatile = Server::start_with(Options {
        extra: ["--maxmemory", "100mb", "--maxmemory-policy", "volatile-lru"]
            .map(String::from)
            .to_vec(),
        ..Options::default()
    });
    let log = volatile.log();
    assert!(
        log.contains("redis-gcra: maxmemory-policy volatile-lru with maxmemory 104857600 evicts keys with a TTL first"),
        "{log}"
    );

    let quiet = Server::start();
    let mut con = quiet.connect();
    assert!(!quiet.log().contains("maxmemory-policy"), "{}", quiet.log());
    for (name, value) in [("maxmemory", "50mb"), ("maxmemory-policy", "allkeys-lfu")] {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query::<()>(&mut con)
            .expect("CONFIG SET");
    }
    let log = quiet.log();
    assert!(
        log.contains("maxmemory-policy allkeys-lfu with maxmemory 52428800 evicts any key"),
        "{log}"
    );
}

/// Only a call that charges tokens is refused over maxmemory; one that is limited, peeks or
/// refunds (freeing memory) answers as usual.
#[test]
fn over_maxmemory_only_charging_calls_are_refused() {
    let server = Server::start();
    let mut con = server.connect();
    assert_eq!(throttle(&mut con, b"drained", &["0", "1", "60"])[0], 0);
    assert_eq!(throttle(&mut con, b"busy", &["4", "1", "60", "3"])[0], 0);
    let busy_before = key_state(&mut con, b"busy");
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(1)
        .query::<()>(&mut con)
        .expect("CONFIG SET");

    let oom = "OOM command not allowed when used memory > 'maxmemory'.";
    let take = redis::cmd("CL.THROTTLE")
        .arg("fresh")
        .arg(&[5, 1, 60])
        .clone();
    assert_eq!(error_of(&mut con, &take), oom);
    let take_all = redis::cmd("CL.THROTTLEALL")
        .arg(&["2", "fresh", "5", "1", "60", "fresh2", "5", "1", "60"])
        .clone();
    assert_eq!(error_of(&mut con, &take_all), oom);
    assert_eq!(key_state(&mut con, b"fresh"), (None, -2), "nothing created");
    assert_eq!(key_state(&mut con, b"busy"), busy_before, "nothing charged");

    assert_eq!(
        throttle(&mut con, b"drained", &["0", "1", "60"])[0],
        1,
        "limited"
    );
    assert_eq!(
        throttle(&mut con, b"busy", &["4", "1", "60", "0"])[2],
        2,
        "peek"
    );
    assert_eq!(
        throttle(&mut con, b"busy", &["4", "1", "60", "-1"])[2],
        3,
        "refund"
    );
    assert_eq!(
        throttle(&mut con, b"drained", &["0", "1", "60", "-1"])[2],
        1
    );
    assert_eq!(
        get(&mut con, b"drained"),
        None,
        "a full refund deletes the key"
    );

    redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(0)
        .query::<()>(&mut con)
        .expect("CONFIG SET");
    assert_eq!(throttle(&mut con, b"fresh", &["5", "1", "60"])[0], 0);
}

#[test]
fn module_load_says_why_it_fails() {
    let server = Server::start_with(Options {
        with_module: false,
        ..with_module_command()
    });
    let mut con = server.connect();
    let path = module_path();
    let path = path.to_str().expect("utf-8 path");
    let load = |con: &mut Connection, extra: &[&str]| {
        redis::cmd("MODULE")
            .arg("LOAD")
            .arg(path)
            .arg(extra)
            .query::<()>(con)
    };

    assert!(load(&mut con, &["bogus", "arg"]).is_err());
    assert!(
        server
            .log()
            .contains("redis-gcra: not loaded: it takes no arguments"),
        "{}",
        server.log()
    );
    load(&mut con, &[]).expect("a plain load works");
    assert!(load(&mut con, &[]).is_err());
    assert!(
        server
            .log()
            .contains("redis-gcra: not loaded: a module named 'gcra' is already loaded"),
        "{}",
        server.log()
    );
    assert_eq!(throttle(&mut con, b"k", &["1", "1", "1"])[0], 0);
}

/// Alerting on warning lines must not fire on a plain load (the redis-module crate's defrag
/// registration used to log one on Redis 7.0 and Valkey).
#[test]
fn a_plain_load_logs_no_warning() {
    let server = Server::start();
    let log = server.log();
    assert!(log.contains("Module 'gcra' loaded"), "{log}");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(" # ") && (line.contains("gcra") || line.contains("<module>")))
        .collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(!log.to_lowercase().contains("defrag"), "{log}");
}

/// Documented in docs/production.md: the DMA read that every call does converts an int-encoded value
/// (a plain SET of digits, RESTORE, a promoted replica) to raw encoding in place. The bytes,
/// expiry, events and WATCH are untouched.
#[test]
fn a_peek_on_an_int_encoded_tat_changes_only_the_encoding() {
    let server = Server::start();
    let mut con = server.connect();
    let mut watcher = server.connect();
    let tat = (wall_clock_ns() + 30_000_000_000).to_string();
    redis::cmd("SET")
        .arg("k")
        .arg(&tat)
        .arg("EX")
        .arg(60)
        .query::<()>(&mut con)
        .expect("SET");
    let encoding = |con: &mut Connection| -> String {
        redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg("k")
            .query(con)
            .expect("OBJECT ENCODING")
    };
    assert_eq!(encoding(&mut con), "int");
    let before = key_state(&mut con, b"k");

    redis::cmd("WATCH")
        .arg("k")
        .query::<()>(&mut watcher)
        .expect("WATCH");
    assert_eq!(
        throttle(&mut con, b"k", &["0", "1", "60", "0"])[..2],
        [0, 1]
    );
    assert_eq!(key_state(&mut con, b"k"), before);
    assert_eq!(encoding(&mut con), "raw");
    redis::cmd("MULTI")
        .query::<()>(&mut watcher)
        .expect("MULTI");
    redis::cmd("PING").query::<()>(&mut watcher).expect("queue");
    let exec: Value = redis::cmd("EXEC").query(&mut watcher).expect("EXEC");
    assert_ne!(exec, Value::Nil, "the peek did not invalidate WATCH");
}

/// Redis 8 unloads a module whose MODULE LOADEX CONFIG arguments it did not use, and aborted
/// when the module refused; every server now answers with an error and stays up.
#[test]
fn loadex_with_config_arguments_fails_cleanly_and_unload_stays_refused_after() {
    let server = Server::start_with(Options {
        with_module: false,
        ..with_module_command()
    });
    let mut con = server.connect();
    let path = module_path();
    let path = path.to_str().expect("utf-8 path");
    let loadex = redis::cmd("MODULE")
        .arg(&["LOADEX", path, "CONFIG", "gcra.anything", "1"])
        .query::<Value>(&mut con);
    assert!(loadex.is_err(), "{loadex:?}");
    let pong: String = redis::cmd("PING")
        .query(&mut con)
        .expect("the server is up");
    assert_eq!(pong, "PONG");

    // A plain load at runtime, then the queued-call sequence: unloading is refused again.
    redis::cmd("MODULE")
        .arg(&["LOAD", path])
        .query::<()>(&mut con)
        .expect("MODULE LOAD");
    let mut queued = server.connect();
    redis::cmd("MULTI").query::<()>(&mut queued).expect("MULTI");
    redis::cmd("CL.THROTTLE")
        .arg(&["k", "1", "1", "1"])
        .query::<()>(&mut queued)
        .expect("queued");
    let error = error_of(&mut con, redis::cmd("MODULE").arg(&["UNLOAD", "gcra"]));
    assert!(error.contains("unloading module"), "{error}");
    let replies: Vec<Vec<i64>> = redis::cmd("EXEC").query(&mut queued).expect("EXEC");
    assert_eq!(replies, [vec![0, 2, 1, -1, 1]]);
}

/// A verbatim CL.THROTTLE from an AOF (as redis-cell writes them) must apply, whatever this
/// server's maxmemory says: loading never refuses a write.
#[test]
fn commands_loaded_from_an_aof_apply_over_maxmemory() {
    let dir = std::env::temp_dir().join(format!("gcra-aof-oom-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mut aof = Vec::new();
    let mut command = |args: &[&[u8]]| {
        aof.extend(format!("*{}\r\n", args.len()).into_bytes());
        for arg in args {
            aof.extend(format!("${}\r\n", arg.len()).into_bytes());
            aof.extend_from_slice(arg);
            aof.extend(b"\r\n");
        }
    };
    let big = vec![b'x'; 1 << 20];
    for i in 0..16 {
        command(&[b"SET", format!("big:{i}").as_bytes(), &big]);
    }
    command(&[b"CL.THROTTLE", b"cellkey", b"10", b"1", b"3600", b"5"]);
    command(&[b"SET", b"after", b"1"]);
    std::fs::write(dir.join("appendonly.aof"), aof).expect("write AOF");

    let server = Server::start_with(Options {
        dir: Some(dir.clone()),
        extra: ["--appendonly", "yes", "--maxmemory", "4mb"]
            .map(String::from)
            .to_vec(),
        ..Options::default()
    });
    let mut con = server.connect();
    assert!(get(&mut con, b"after").is_some(), "{}", server.log());
    assert!(get(&mut con, b"cellkey").is_some(), "{}", server.log());
    assert_eq!(info_field(&mut con, "gcra_stats", "gcra_errors"), "0");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An evicting policy makes room for writes itself (lazily, on Valkey): no OOM for them.
#[test]
fn an_evicting_policy_gets_no_oom() {
    let server = Server::start();
    let mut con = server.connect();
    for (name, value) in [("maxmemory-policy", "allkeys-lru"), ("maxmemory", "1")] {
        redis::cmd("CONFIG")
            .arg(&["SET", name, value])
            .query::<()>(&mut con)
            .expect("CONFIG SET");
    }
    assert_eq!(throttle(&mut con, b"k", &["5", "1", "60"])[0], 0);
    redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory-policy", "noeviction"])
        .query::<()>(&mut con)
        .expect("CONFIG SET");
    let error = error_of(
        &mut con,
        redis::cmd("CL.THROTTLE").arg(&["j", "5", "1", "60"]),
    );
    assert!(error.starts_with("OOM"), "{error}");
}
