//! CL.THROTTLE from Rust with the `redis` crate: a burst, a limited call with its
//! retry_after, a peek. Run: `cargo run --example client` (REDIS_URL, default
//! redis://127.0.0.1:6379). Prints what happened and exits with status 1 on a wrong reply.

use std::process::exit;
use std::time::{SystemTime, UNIX_EPOCH};

/// [limited, limit, remaining, retry_after, reset_after]
fn throttle(con: &mut redis::Connection, key: &str, quantity: i64) -> redis::RedisResult<[i64; 5]> {
    // 3 requests at once (max_burst 2), then 1 every 10 seconds (6 per minute).
    let reply: Vec<i64> = redis::cmd("CL.THROTTLE")
        .arg(key)
        .arg(&[2, 6, 60])
        .arg(quantity)
        .query(con)?;
    reply.try_into().map_err(|_| {
        (
            redis::ErrorKind::UnexpectedReturnType,
            "expected 5 integers",
        )
            .into()
    })
}

fn expect(what: &str, actual: i64, expected: i64) {
    if actual != expected {
        eprintln!("FAILED: {what}: got {actual}, expected {expected}");
        exit(1);
    }
}

fn run() -> redis::RedisResult<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut con = redis::Client::open(url)?.get_connection()?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let key = format!("example:rust:{nanos}"); // a fresh limiter each run

    for i in 0..3 {
        let [limited, limit, remaining, _, reset_after] = throttle(&mut con, &key, 1)?;
        expect(&format!("request {} allowed", i + 1), limited, 0);
        expect(&format!("request {} remaining", i + 1), remaining, 2 - i);
        println!(
            "request {}: allowed, {remaining} of {limit} left, full again in {reset_after} s",
            i + 1
        );
    }
    let [limited, _, _, retry_after, _] = throttle(&mut con, &key, 1)?;
    expect("request 4 limited", limited, 1);
    expect("request 4 retry_after", retry_after, 10);
    println!("request 4: limited, retry in {retry_after} s");

    let before: Option<String> = redis::cmd("GET").arg(&key).query(&mut con)?;
    let [limited, limit, remaining, _, reset_after] = throttle(&mut con, &key, 0)?;
    expect("peek not limited", limited, 0);
    expect("peek remaining", remaining, 0);
    let after: Option<String> = redis::cmd("GET").arg(&key).query(&mut con)?;
    if before != after {
        eprintln!("FAILED: the peek changed the key");
        exit(1);
    }
    println!("peek: {remaining} of {limit} left, full again in {reset_after} s, nothing spent");
    redis::cmd("DEL").arg(&key).query::<()>(&mut con)?;
    println!("rust example: all replies as expected");
    Ok(())
}

fn main() {
    if let Err(error) = run() {
        eprintln!("FAILED: {error}");
        exit(1);
    }
}
