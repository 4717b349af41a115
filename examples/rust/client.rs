//! CL.THROTTLE from Rust with the `redis` crate: a burst, a limited call with its
//! retry_after, a peek. Works with or without the module: `Limiter::connect` picks the
//! module's command, the Redis Functions library (lua/gcra.lua) or its script form.
//! Run: `cargo run --example client` (REDIS_URL, default redis://127.0.0.1:6379). Prints what
//! happened and exits with status 1 on a wrong reply.

use std::process::exit;
use std::time::{SystemTime, UNIX_EPOCH};

/// The Redis Functions library, for servers without the module.
const LIBRARY: &str = include_str!("../../lua/gcra.lua");
/// The library's script form, for servers without `FUNCTION` too.
const SCRIPT: &str = include_str!("../../lua/gcra_script.lua");

/// How CL.THROTTLE is reached on this server.
enum Limiter {
    /// The module's command.
    Module,
    /// `FCALL cl_throttle`, after `FUNCTION LOAD REPLACE` of the library.
    Function,
    /// `EVALSHA` of the library's script form (no FUNCTION command: Redis before
    /// 7.0, or the command refused), by the script's SHA-1.
    Script(String),
}

fn load_script(con: &mut redis::Connection) -> redis::RedisResult<String> {
    redis::cmd("SCRIPT").arg("LOAD").arg(SCRIPT).query(con)
}

impl Limiter {
    fn connect(con: &mut redis::Connection) -> redis::RedisResult<Limiter> {
        let info: Vec<redis::Value> = redis::cmd("COMMAND")
            .arg("INFO")
            .arg("CL.THROTTLE")
            .query(con)?;
        if !matches!(info.first(), Some(redis::Value::Nil) | None) {
            return Ok(Limiter::Module);
        }
        let loaded: redis::RedisResult<String> = redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg("REPLACE")
            .arg(LIBRARY)
            .query(con);
        Ok(match loaded {
            Ok(_) => Limiter::Function,
            Err(_) => Limiter::Script(load_script(con)?),
        })
    }

    fn via(&self) -> &'static str {
        match self {
            Limiter::Module => "module",
            Limiter::Function => "function",
            Limiter::Script(_) => "script",
        }
    }

    /// [limited, limit, remaining, retry_after, reset_after]
    fn throttle(
        &self,
        con: &mut redis::Connection,
        key: &str,
        args: &[i64],
    ) -> redis::RedisResult<[i64; 5]> {
        let reply: Vec<i64> = match self {
            Limiter::Module => redis::cmd("CL.THROTTLE").arg(key).arg(args).query(con)?,
            Limiter::Function => redis::cmd("FCALL")
                .arg("cl_throttle")
                .arg(1)
                .arg(key)
                .arg(args)
                .query(con)?,
            Limiter::Script(sha) => {
                // The script's first argument after the keys names the entry.
                let mut evalsha = redis::cmd("EVALSHA");
                evalsha
                    .arg(sha)
                    .arg(1)
                    .arg(key)
                    .arg("cl_throttle")
                    .arg(args);
                match evalsha.query(con) {
                    // The server forgot the script (a restart, SCRIPT FLUSH): load it again.
                    Err(e) if e.code() == Some("NOSCRIPT") => {
                        load_script(con)?;
                        evalsha.query(con)?
                    }
                    reply => reply?,
                }
            }
        };
        reply.try_into().map_err(|_| {
            (
                redis::ErrorKind::UnexpectedReturnType,
                "expected 5 integers",
            )
                .into()
        })
    }
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
    let limiter = Limiter::connect(&mut con)?;
    println!("limiter: {}", limiter.via());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let key = format!("example:rust:{nanos}"); // a fresh limiter each run
                                               // 3 requests at once (max_burst 2), then 1 every 10 seconds (6 per minute).
    let throttle =
        |con: &mut redis::Connection, quantity| limiter.throttle(con, &key, &[2, 6, 60, quantity]);

    for i in 0..3 {
        let [limited, limit, remaining, _, reset_after] = throttle(&mut con, 1)?;
        expect(&format!("request {} allowed", i + 1), limited, 0);
        expect(&format!("request {} remaining", i + 1), remaining, 2 - i);
        println!(
            "request {}: allowed, {remaining} of {limit} left, full again in {reset_after} s",
            i + 1
        );
    }
    let [limited, _, _, retry_after, _] = throttle(&mut con, 1)?;
    expect("request 4 limited", limited, 1);
    expect("request 4 retry_after", retry_after, 10);
    println!("request 4: limited, retry in {retry_after} s");

    let before: Option<String> = redis::cmd("GET").arg(&key).query(&mut con)?;
    let [limited, limit, remaining, _, reset_after] = throttle(&mut con, 0)?;
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
