//! Calls and reads the tests make on a connection: replies, errors, key states, INFO fields.

use std::thread::sleep;
use std::time::{Duration, Instant};

use redis::{Connection, Value};

/// Runs CL.THROTTLE and returns its five integers.
pub fn throttle(con: &mut Connection, key: &[u8], args: &[&str]) -> Vec<i64> {
    redis::cmd("CL.THROTTLE")
        .arg(key)
        .arg(args)
        .query(con)
        .unwrap_or_else(|e| panic!("CL.THROTTLE {args:?}: {e}"))
}

/// Runs a command that must fail and returns "CODE detail".
pub fn error_of(con: &mut Connection, cmd: &redis::Cmd) -> String {
    match cmd.query::<Value>(con) {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
    }
}

pub fn get(con: &mut Connection, key: &[u8]) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query(con).expect("GET")
}

/// The TAT a key holds, in nanoseconds (the key must hold one).
pub fn tat_of(con: &mut Connection, key: &[u8]) -> i64 {
    let value = get(con, key).expect("a stored TAT");
    String::from_utf8(value)
        .expect("ASCII")
        .parse()
        .expect("decimal")
}

/// A key's value and absolute expiry: what "nothing was written" and "identical" compare.
pub type KeyState = (Option<Vec<u8>>, i64);

pub fn key_state(con: &mut Connection, key: &[u8]) -> KeyState {
    (get(con, key), pexpiretime(con, key))
}

pub fn key_states<K: AsRef<[u8]>>(con: &mut Connection, keys: &[K]) -> Vec<KeyState> {
    keys.iter().map(|k| key_state(con, k.as_ref())).collect()
}

/// Absolute expiry in ms (-1 no expiry, -2 no key).
pub fn pexpiretime(con: &mut Connection, key: &[u8]) -> i64 {
    redis::cmd("PEXPIRETIME")
        .arg(key)
        .query(con)
        .expect("PEXPIRETIME")
}

pub fn info_field(con: &mut Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(con).expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .to_string()
}

pub fn wall_clock_ns() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_nanos()).expect("fits")
}

/// Waits until `check` holds, polling every 50 ms; panics with `what` after `seconds`.
pub fn wait_until(seconds: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(50));
    }
}

/// The five integers of a reply, or its error as "CODE detail" (the full error text).
pub fn outcome(con: &mut Connection, cmd: &redis::Cmd) -> Result<Vec<i64>, String> {
    cmd.query::<Vec<i64>>(con)
        .map_err(|e| format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")))
}
