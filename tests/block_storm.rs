//! Thousands of BLOCK waiters due in the same millisecond: a waiter must cost the same whether
//! or not others are due with it (Redis keys module timers by microsecond, and a timer per
//! waiter made N waiters due together cost O(N^2)), every waiter gets exactly one reply, and
//! releases come in order and never early.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use common::*;

const WAITERS: usize = 3_000;

/// A command in RESP, as a client sends it.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend(format!("${}\r\n{arg}\r\n", arg.len()).into_bytes());
    }
    out
}

/// Reads one reply of five integers from a raw connection.
fn one_reply(socket: &mut TcpStream) -> Vec<i64> {
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 256];
    // "*5\r\n" and five ":n\r\n": six lines.
    while bytes.windows(2).filter(|w| w == b"\r\n").count() < 6 {
        let n = socket.read(&mut buffer).expect("a reply");
        assert!(n > 0, "closed before its reply: {bytes:?}");
        bytes.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8(bytes).expect("utf-8");
    assert_eq!(
        text.matches("\r\n").count(),
        6,
        "more than one reply: {text}"
    );
    let mut lines = text.split("\r\n");
    assert_eq!(lines.next(), Some("*5"), "{text}");
    lines
        .take(5)
        .map(|line| line.strip_prefix(':').expect(&text).parse().expect(&text))
        .collect()
}

/// Nothing more has come on any connection: exactly one reply each.
fn no_second_reply(sockets: &mut [TcpStream]) {
    let mut buffer = [0u8; 64];
    for socket in sockets {
        socket.set_nonblocking(true).expect("nonblocking");
        match socket.read(&mut buffer) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("more than one reply: {other:?}"),
        }
    }
}

/// Server-side microseconds per CL.THROTTLE call since the last CONFIG RESETSTAT (the call and
/// its release), and how many calls.
fn throttle_cost(con: &mut Connection) -> (f64, u64) {
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(con)
        .expect("INFO");
    let line = stats
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("cmdstat_cl.throttle:"))
        .expect("CL.THROTTLE in commandstats");
    let field = |name: &str| -> f64 {
        line.split([':', ','])
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .expect(line)
    };
    (field("usec_per_call"), field("calls") as u64)
}

/// Sends WAITERS calls `key 0 count 1 1 BLOCK 60000 MS` behind a TAT 5 s ahead, each on
/// its own connection, and reads every reply in the order they were sent. Returns the replies
/// and the server's microseconds per call (arrival and release).
fn storm(server: &Server, key: &str, count: &str) -> (Vec<Vec<i64>>, f64) {
    let t = std::time::Instant::now();
    let mut con = server.connect();
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query::<()>(&mut con)
        .expect("RESETSTAT");
    let blocked_before: usize = info_field(&mut con, "gcra_stats", "gcra_blocked")
        .parse()
        .expect("gcra_blocked");
    // Far enough ahead that every waiter has arrived before the first is due.
    let tat = wall_clock_ns() + 5_000_000_000;
    redis::cmd("SET")
        .arg(&[
            key,
            &tat.to_string(),
            "PXAT",
            &(tat / 1_000_000 + 1).to_string(),
        ])
        .query::<()>(&mut con)
        .expect("SET");
    let call = resp(&[
        "CL.THROTTLE",
        key,
        "0",
        count,
        "1",
        "1",
        "BLOCK",
        "60000",
        "MS",
    ]);
    let mut waiters: Vec<TcpStream> = (0..WAITERS)
        .map(|_| {
            let mut waiter = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
            waiter.write_all(&call).expect("send");
            waiter
        })
        .collect();
    wait_until(30, "every waiter to block", || {
        info_field(&mut con, "gcra_stats", "gcra_blocked") == (blocked_before + WAITERS).to_string()
    });
    assert_eq!(
        info_field(&mut con, "gcra_stats", "gcra_waiting"),
        WAITERS.to_string()
    );
    eprintln!("blocked after {:?}", t.elapsed());
    let replies: Vec<Vec<i64>> = waiters.iter_mut().map(one_reply).collect();
    eprintln!("replied after {:?}", t.elapsed());
    thread::sleep(Duration::from_millis(50));
    no_second_reply(&mut waiters);
    let (usec_per_call, calls) = throttle_cost(&mut con);
    assert_eq!(calls, WAITERS as u64);
    assert_eq!(info_field(&mut con, "gcra_stats", "gcra_waiting"), "0");
    (replies, usec_per_call)
}

#[test]
fn waiters_due_together_cost_what_waiters_due_apart_cost() {
    let server = Server::start_with(Options {
        extra: vec!["--maxclients".into(), "10000".into()],
        ..Options::default()
    });
    // One token per millisecond: waiter i is due 5 s + i ms from now, each in its own
    // millisecond.
    let (apart, apart_usec) = storm(&server, "apart", "1000");
    // One token per nanosecond: all due in the same millisecond.
    let (together, together_usec) = storm(&server, "together", "1000000000");

    for (i, reply) in apart.iter().enumerate() {
        assert_eq!(
            [reply[0], reply[1], reply[3]],
            [0, 1, -1],
            "waiter {i}: {reply:?}"
        );
        // A capacity of one: the token is back exactly when the TAT is reached.
        assert_eq!(reply[2], i64::from(reply[4] == 0), "waiter {i}: {reply:?}");
        // At its release the stored TAT stands after every reservation: (WAITERS - i) ms
        // ahead if released when due, less if late, never more (released early).
        let behind = (WAITERS - i) as i64;
        assert!(reply[4] <= behind, "waiter {i} released early: {reply:?}");
    }
    // In the order they came: what stands ahead of each release only shrinks.
    for (i, pair) in apart.windows(2).enumerate() {
        assert!(
            pair[1][4] <= pair[0][4],
            "waiters {i} and {}: {pair:?}",
            i + 1
        );
    }
    for (i, reply) in together.iter().enumerate() {
        // Released past its due millisecond, after every reservation's nanosecond: the
        // bucket has refilled by then, unless the millisecond was just about to end.
        assert_eq!(
            [reply[0], reply[1], reply[3]],
            [0, 1, -1],
            "waiter {i}: {reply:?}"
        );
        assert!(reply[2] <= 1 && reply[4] <= 1, "waiter {i}: {reply:?}");
    }
    let mut con = server.connect();
    assert_eq!(
        info_field(&mut con, "gcra_stats", "gcra_released"),
        (2 * WAITERS).to_string()
    );
    // A timer per waiter cost 5x more per call together than apart at 3,000 waiters (and
    // grew with their number); with one timer per due millisecond the two are alike.
    assert!(
        together_usec <= 2.0 * apart_usec + 5.0,
        "µs per call: {together_usec} due together, {apart_usec} due apart"
    );
    eprintln!("µs per call: {together_usec} due together, {apart_usec} due apart");
}
