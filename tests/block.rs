//! BLOCK: a limited request that fits within the wait is reserved at once (written and
//! replicated) and answered when due, first come first served; otherwise, or where a client
//! cannot block, it is answered at once as without BLOCK.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::*;

fn blocking(con: &mut Connection, key: &str, limit: [&str; 3], wait_ms: u64) -> Vec<i64> {
    redis::cmd("CL.THROTTLE")
        .arg(key)
        .arg(&limit)
        .arg(&["1", "BLOCK", &wait_ms.to_string(), "MS"])
        .query(con)
        .expect("CL.THROTTLE ... BLOCK")
}

#[test]
fn queued_clients_are_released_in_order_when_their_tokens_are_due() {
    const WAITERS: u64 = 4;
    // One token per 500 ms: wide enough that a busy machine cannot blur the order.
    const SLOW: [&str; 3] = ["0", "1", "0.5"];
    let primary = Server::start();
    let replica = start_replica(&primary, false);
    let mut con = primary.connect();
    let start = Instant::now();
    assert_eq!(
        throttle(&mut con, b"q", &SLOW)[0],
        0,
        "the first takes the token"
    );

    let waiters: Vec<_> = (1..=WAITERS)
        .map(|n| {
            let mut client = primary.connect();
            // Staggered so that they arrive in order.
            thread::sleep(Duration::from_millis(15));
            thread::spawn(move || {
                let reply = blocking(&mut client, "q", SLOW, 5_000);
                (n, start.elapsed(), reply)
            })
        })
        .collect();

    // The reservations are written and replicated at the call, long before any release.
    thread::sleep(Duration::from_millis(60));
    assert!(
        start.elapsed() < Duration::from_millis(450),
        "the test itself ran late"
    );
    wait_for_replicas(&mut con, 1);
    let reserved = key_state(&mut con, b"q");
    assert_eq!(key_state(&mut replica.connect(), b"q"), reserved);
    let pong: String = redis::cmd("PING").query(&mut con).expect("PING");
    assert_eq!(pong, "PONG", "the server answers while clients wait");

    let mut released: Vec<(u64, Duration, Vec<i64>)> = waiters
        .into_iter()
        .map(|w| w.join().expect("waiter"))
        .collect();
    released.sort_by_key(|&(_, at, _)| at);
    let order: Vec<u64> = released.iter().map(|&(n, _, _)| n).collect();
    assert_eq!(
        order,
        (1..=WAITERS).collect::<Vec<_>>(),
        "first come, first served"
    );
    for (n, at, reply) in &released {
        let due = Duration::from_millis(500 * n);
        assert!(
            // (Late by up to a second on a loaded machine; the wait was 5 s.)
            *at + Duration::from_millis(2) >= due && *at < due + Duration::from_millis(1_000),
            "waiter {n} released at {at:?}, due at {due:?}"
        );
        assert_eq!(reply[..4], [0, 1, 0, -1], "waiter {n}: {reply:?}");
        // The bucket at release: the reservations behind this waiter still stand. The final
        // TAT is 500 ms per call after the first call (made after `start`), and the release
        // came after this waiter was due and before `at`.
        let behind = 500 * (WAITERS + 1 - n) as i64;
        let least = 500 * (WAITERS + 1) as i64 - at.as_millis() as i64;
        assert!(
            (least..=behind).contains(&reply[4]),
            "waiter {n}: {reply:?}"
        );
    }
    let mut stats = |field| info_field(&mut con, "gcra_stats", field);
    assert_eq!(stats("gcra_blocked"), WAITERS.to_string());
    assert_eq!(stats("gcra_released"), WAITERS.to_string());
}

/// A released reply describes the bucket at release, after its own charge: the reservations
/// made after it count (they used to be ignored, as if each waiter were the last).
#[test]
fn a_released_reply_counts_the_reservations_behind_it() {
    // One token per 100 ms, taken; then six waiters 5 ms apart, each due 100 ms after the one
    // before. When one is released, the stored TAT stands after the reservations behind it.
    const LIMIT: [&str; 3] = ["0", "10", "1"];
    let server = Server::start();
    let mut con = server.connect();
    let first = throttle(&mut con, b"rq", &["0", "10", "1", "1", "MS"]);
    assert_eq!(first[..3], [0, 1, 0]);
    let waiters: Vec<_> = (1..=6i64)
        .map(|i| {
            let mut client = server.connect();
            thread::sleep(Duration::from_millis(5));
            thread::spawn(move || {
                let sent = wall_clock_ns();
                let reply = blocking(&mut client, "rq", LIMIT, 3_000);
                (i, sent, wall_clock_ns(), reply)
            })
        })
        .collect();
    let replies: Vec<_> = waiters
        .into_iter()
        .map(|w| w.join().expect("waiter"))
        .collect();
    // Nothing writes the key after the last reservation: its TAT is the final one.
    let final_tat = tat_of(&mut con, b"rq");
    const MS: i64 = 1_000_000;
    for (i, sent, replied, reply) in replies {
        assert_eq!(reply[..4], [0, 1, 0, -1], "waiter {i}: {reply:?}");
        // reset_after is the final TAT less the release time, which came after the call was
        // sent and before this thread read the reply (one reservation alone would say 100).
        let (least, most) = ((final_tat - replied) / MS, (final_tat - sent) / MS + 1);
        assert!(
            (least..=most).contains(&reply[4]),
            "waiter {i}: {reply:?}, expected {least}..={most} ms"
        );
    }
}

#[test]
fn what_does_not_fit_the_wait_is_answered_at_once() {
    // One token per 10 s: the next is due in about 10 s, beyond the 5 s wait, so the call
    // answers at once; having waited would take 5 s at least (far from any scheduling noise).
    let slow = ["0", "1", "10"];
    let server = Server::start();
    let mut con = server.connect();
    throttle(&mut con, b"k", &slow);
    let before = key_state(&mut con, b"k");
    let started = Instant::now();
    let reply = blocking(&mut con, "k", slow, 5_000);
    assert!(started.elapsed() < Duration::from_millis(2_500));
    assert_eq!(reply[..3], [1, 1, 0]);
    assert!((9_000..=10_000).contains(&reply[3]), "{reply:?}");
    assert_eq!(key_state(&mut con, b"k"), before, "nothing reserved");

    // A quantity that can never fit does not wait either.
    let never: Vec<i64> = redis::cmd("CL.THROTTLE")
        .arg("k")
        .arg(&slow)
        .arg(&["5", "BLOCK", "60000"])
        .query(&mut con)
        .expect("CL.THROTTLE");
    assert_eq!(never[..4], [1, 1, 0, -1]);
}

#[test]
fn transactions_and_scripts_do_not_block() {
    // One token per 2 s: the next fits the 5 s wait, so a call that did wait would take about
    // 2 s, far from the at-once bound below.
    let slow = ["0", "1", "2"];
    let server = Server::start();
    let mut con = server.connect();
    throttle(&mut con, b"k", &slow);
    let before = key_state(&mut con, b"k");

    redis::cmd("MULTI").query::<()>(&mut con).expect("MULTI");
    redis::cmd("CL.THROTTLE")
        .arg("k")
        .arg(&slow)
        .arg(&["1", "BLOCK", "5000"])
        .query::<()>(&mut con)
        .expect("queued");
    let started = Instant::now();
    let replies: Vec<Vec<i64>> = redis::cmd("EXEC").query(&mut con).expect("EXEC");
    assert!(started.elapsed() < Duration::from_millis(1_000));
    assert_eq!(replies[0][..2], [1, 1], "limited, as without BLOCK");

    let script = "return redis.call('CL.THROTTLE', KEYS[1], '0', '1', '2', '1', 'BLOCK', '5000')";
    let started = Instant::now();
    let reply: Vec<i64> = redis::cmd("EVAL")
        .arg(script)
        .arg(1)
        .arg("k")
        .query(&mut con)
        .expect("EVAL");
    assert!(started.elapsed() < Duration::from_millis(1_000));
    assert_eq!(reply[..2], [1, 1]);
    assert_eq!(key_state(&mut con, b"k"), before, "nothing reserved");
}

/// docs/reference.md says: a reservation whose client disconnects stays spent.
#[test]
fn a_disconnected_waiter_keeps_its_reservation() {
    // One token per second: the first call takes it, the leaver reserves the next one
    // (due in 1 s) and disconnects at once.
    let limit = ["0", "1", "1"];
    let server = Server::start();
    let mut con = server.connect();
    let start = Instant::now();
    throttle(&mut con, b"k", &limit);
    let taken = key_state(&mut con, b"k");
    {
        // A raw connection: the command is sent, and the socket closed while it waits.
        let mut leaver = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        let waiting = [
            "CL.THROTTLE",
            "k",
            limit[0],
            limit[1],
            limit[2],
            "1",
            "BLOCK",
            "5000",
        ];
        std::io::Write::write_all(&mut leaver, &resp(&waiting)).expect("send");
        wait_until(5, "the waiter to block", || {
            info_field(&mut con, "clients", "blocked_clients") == "1"
        });
    }
    wait_until(5, "the waiter to go", || {
        info_field(&mut con, "clients", "blocked_clients") == "0"
    });
    let reserved = key_state(&mut con, b"k");
    assert_ne!(reserved, taken, "the reservation was written");

    // Past the time it was due: nothing was refunded, nobody was released.
    thread::sleep(Duration::from_millis(1_200).saturating_sub(start.elapsed()));
    assert_eq!(key_state(&mut con, b"k"), reserved);
    assert_eq!(info_field(&mut con, "gcra_stats", "gcra_released"), "0");
    // Its token stays spent: the next request waits behind it (until 2 s after the start).
    let reply = throttle(&mut con, b"k", &["0", "1", "1", "1", "MS"]);
    assert_eq!(reply[0], 1, "{reply:?}");
    // 800 ms, plus the moments between this test's clock starting and the first call.
    assert!(reply[3] > 0 && reply[3] <= 900, "{reply:?}");
    let pong: String = redis::cmd("PING").query(&mut con).expect("PING");
    assert_eq!(pong, "PONG");
}

/// A command in RESP, as a client sends it.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend(format!("${}\r\n{arg}\r\n", arg.len()).into_bytes());
    }
    out
}

#[test]
fn block_errors_write_nothing() {
    let server = Server::start();
    let mut con = server.connect();
    let cases: [(&[&str], &str); 5] = [
        (&["k", "1", "1", "1", "BLOCK"], "ERR invalid BLOCK"),
        (&["k", "1", "1", "1", "BLOCK", "-5"], "ERR invalid BLOCK"),
        (
            &["k", "1", "1", "1", "BLOCK", "5", "ATMOST"],
            "ERR BLOCK, ATMOST and SOFT cannot be combined",
        ),
        (
            &["k", "1", "1", "1", "0", "BLOCK", "5"],
            "ERR BLOCK, ATMOST and SOFT need a quantity",
        ),
        (
            &["k", "1", "1", "1", "1", "BLOCK", "5", "BLOCK", "5"],
            "ERR",
        ),
    ];
    for (args, expected) in cases {
        let error = error_of(&mut con, redis::cmd("CL.THROTTLE").arg(args));
        assert!(error.starts_with(expected), "{args:?}: {error}");
    }
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(dbsize, 0);
}

#[test]
fn throttle_all_waits_for_every_limit() {
    let server = Server::start();
    let mut con = server.connect();
    // Per 200 ms (no burst) and per second (bursts of 2): after two calls the second binds.
    let all = |con: &mut Connection, extra: &[&str]| -> Vec<i64> {
        redis::cmd("CL.THROTTLEALL")
            .arg(&["2", "{u}a", "0", "1", "0.2", "{u}b", "1", "2", "1"])
            .arg(extra)
            .query(con)
            .expect("CL.THROTTLEALL")
    };
    assert_eq!(all(&mut con, &[])[0], 0);
    let (a, b) = (tat_of(&mut con, b"{u}a"), tat_of(&mut con, b"{u}b"));
    let started = Instant::now();
    let second = all(&mut con, &["1", "BLOCK", "1000", "MS"]);
    let waited = started.elapsed();
    assert_eq!(second[0], 0, "{second:?}");
    // Released when the per-200-ms limit allowed it, never before (a loaded machine may
    // answer later: the reservation, not the clock, says what it waited for) ...
    assert!(waited >= Duration::from_millis(190), "{waited:?}");
    // ... and both limits were charged once, as one reservation.
    assert_eq!(tat_of(&mut con, b"{u}a"), a + 200_000_000);
    assert_eq!(tat_of(&mut con, b"{u}b"), b + 500_000_000);
}

/// A waiter that goes away is unblocked at once: nothing of it is kept until its answer would
/// have been due (here up to 400 s later). Redis keeps the temporary clients of blocked calls
/// in a pool for reuse, so a second round of leavers must not take more memory than the first.
#[test]
fn disconnected_waiters_are_let_go_at_once() {
    const LEAVERS: usize = 200;
    let server = Server::start();
    let mut con = server.connect();
    throttle(&mut con, b"slow", &["0", "1", "1"]);
    let used = |con: &mut Connection| -> i64 {
        info_field(con, "memory", "used_memory")
            .parse()
            .expect("used_memory")
    };
    let waiting = [
        "CL.THROTTLE",
        "slow",
        "0",
        "1",
        "1",
        "1",
        "BLOCK",
        "1000000",
    ];
    let mut after_round = Vec::new();
    for _round in 0..2 {
        let leavers: Vec<std::net::TcpStream> = (0..LEAVERS)
            .map(|_| {
                let mut leaver =
                    std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
                std::io::Write::write_all(&mut leaver, &resp(&waiting)).expect("send");
                leaver
            })
            .collect();
        wait_until(10, "every leaver to block", || {
            info_field(&mut con, "clients", "blocked_clients") == LEAVERS.to_string()
        });
        drop(leavers);
        wait_until(10, "every leaver to go", || {
            info_field(&mut con, "clients", "blocked_clients") == "0"
                && info_field(&mut con, "clients", "connected_clients") == "1"
        });
        after_round.push(used(&mut con));
    }
    // Held until due, each round's waiters kept about 35 KB each (7 MB here).
    let growth = after_round[1] - after_round[0];
    assert!(
        growth < 1_000_000,
        "used_memory after round 1: {}, after round 2: {}",
        after_round[0],
        after_round[1]
    );
    assert_eq!(info_field(&mut con, "gcra_stats", "gcra_released"), "0");
    assert_eq!(
        info_field(&mut con, "gcra_stats", "gcra_blocked"),
        (2 * LEAVERS).to_string()
    );
}
