//! ATMOST and SOFT on a live server, the sixth reply element, and the modes' COMMAND DOCS.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn at_most_takes_what_fits_and_says_how_much() {
    let server = Server::start();
    let mut con = server.connect();
    assert_eq!(
        throttle(&mut con, b"k", &["4", "1", "10", "50", "ATMOST"]),
        [0, 5, 0, -1, 50, 5]
    );
    assert_eq!(
        throttle(&mut con, b"k", &["4", "1", "10", "3", "atmost"]),
        [1, 5, 0, 10, 50, 0],
        "nothing fits: limited, retry_after for one token"
    );
    assert_eq!(
        throttle(&mut con, b"j", &["4", "1", "10", "2", "ATMOST", "MS"]),
        [0, 5, 3, -1, 20_000, 2],
        "never more than asked"
    );
    assert_eq!(
        throttle(&mut con, b"j", &["4", "1", "10"]).len(),
        5,
        "plain stays five"
    );

    let all: Vec<i64> = redis::cmd("CL.THROTTLEALL")
        .arg(&[
            "2",
            "{u}wide",
            "99",
            "100",
            "1",
            "{u}narrow",
            "2",
            "1",
            "1",
            "10",
            "ATMOST",
        ])
        .query(&mut con)
        .expect("CL.THROTTLEALL");
    assert_eq!(all[5], 3, "what fits in every limit: {all:?}");
    assert_eq!(all[..3], [0, 3, 0]);
}

/// SOFT with a rate of 50 per second (bursts of 10, hard factor 3), offered twice the rate
/// for 4 s: past the first second, the admitted rate settles on the rate.
#[test]
fn soft_admits_the_rate_under_overload_and_nothing_past_the_hard_limit() {
    let server = Server::start();
    let mut con = server.connect();
    let args = ["9", "50", "1", "1", "SOFT", "3"];
    let start = Instant::now();
    let (mut admitted, mut offered, mut levels) = (0u32, 0u32, Vec::new());
    for n in 0..400u32 {
        // An absolute schedule: a late request does not shift the ones after it.
        let due = Duration::from_millis(10) * n;
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            thread::sleep(wait);
        }
        let reply = throttle(&mut con, b"soft", &args);
        assert_eq!(reply.len(), 6);
        if start.elapsed() >= Duration::from_secs(1) {
            offered += 1;
            admitted += u32::from(reply[0] == 0);
            levels.push(reply[5]);
        }
    }
    let window = start.elapsed().as_secs_f64() - 1.0;
    let rate = f64::from(admitted) / window;
    let report = format!("admitted {admitted} of {offered} in {window:.2} s: {rate:.1}/s");
    eprintln!("SOFT at 2x: {report}");
    // Timing on a busy machine moves the offered load; the admitted rate is what SOFT bounds.
    assert!((42.5..=57.5).contains(&rate), "{report}");
    assert!(levels.iter().any(|&l| l > 0 && l < 1000), "{levels:?}");
    let suppressed: u32 = info_field(&mut con, "gcra_stats", "gcra_suppressed")
        .parse()
        .expect("counter");
    assert!(suppressed > 0, "{report}");

    // A bucket past the hard limit (a TAT an hour ahead) admits nothing.
    let hour_ahead = (wall_clock_ns() + 3_600_000_000_000).to_string();
    redis::cmd("SET")
        .arg(&["far", &hour_ahead, "EX", "3600"])
        .query::<()>(&mut con)
        .expect("SET");
    for _ in 0..20 {
        let reply = throttle(&mut con, b"far", &args);
        assert_eq!((reply[0], reply[5]), (1, 1000), "{reply:?}");
    }
    assert_eq!(get(&mut con, b"far"), Some(hour_ahead.into_bytes()));
}

#[test]
fn soft_suppresses_nothing_below_the_soft_limit() {
    let server = Server::start();
    let mut con = server.connect();
    for _ in 0..10 {
        let reply = throttle(&mut con, b"calm", &["9", "50", "1", "1", "SOFT", "2.5"]);
        assert_eq!((reply[0], reply[5]), (0, 0), "{reply:?}");
    }
}

#[test]
fn mode_errors_write_nothing_and_docs_list_the_modes() {
    let server = Server::start();
    let mut con = server.connect();
    let cases: [(&[&str], &str); 5] = [
        (&["k", "1", "1", "1", "SOFT", "0.5"], "ERR invalid SOFT"),
        (&["k", "1", "1", "1", "SOFT", "1001"], "ERR invalid SOFT"),
        (
            &["k", "1", "1", "1", "0", "ATMOST"],
            "ERR BLOCK, ATMOST and SOFT need a quantity",
        ),
        (
            &["k", "1", "1", "1", "ATMOST", "SOFT", "2"],
            "ERR BLOCK, ATMOST and SOFT cannot be combined",
        ),
        (&["k", "1", "1", "1", "1", "FAST"], "ERR unknown option"),
    ];
    for (args, expected) in cases {
        let error = error_of(&mut con, redis::cmd("CL.THROTTLE").arg(args));
        assert!(error.starts_with(expected), "{args:?}: {error}");
    }
    let error = error_of(
        &mut con,
        redis::cmd("CL.THROTTLEALL").arg(&["1", "k", "1", "1", "1", "SOFT", "x"]),
    );
    assert!(error.starts_with("ERR invalid SOFT"), "{error}");
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut con).expect("DBSIZE");
    assert_eq!(dbsize, 0);

    for command in ["CL.THROTTLE", "CL.THROTTLEALL"] {
        let docs: Value = redis::cmd("COMMAND")
            .arg("DOCS")
            .arg(command)
            .query(&mut con)
            .expect("COMMAND DOCS");
        let text = format!("{docs:?}");
        for token in ["BLOCK", "ATMOST", "SOFT", "oneof", "hard_factor"] {
            assert!(text.contains(token), "{command} docs lack {token}: {text}");
        }
    }
}
