//! The Redis Functions library (lua/gcra.lua) against the module's Rust core, case by case.
//!
//! Thousands of seeded random calls, with arguments across their whole ranges (and invalid
//! ones), stored TATs and a given "now", go to test-only entries that this test adds to the
//! library; each reply, error text and written value and expiry must be what the module's
//! request pipeline (`gcra_core::pipeline`, through `core_answer`) computes for the same
//! inputs. The edge cases are a table, `tests/function_differential.edges`. A second test checks the
//! library's integer arithmetic against i128 directly.
//!
//! `DIFF_SEED=<n>` replays a run; `DIFF_CASES=<n>` changes its length (default 10,000).

mod common;

use std::time::Instant;

use common::*;
use gcra_core::pipeline::{self, Command, Context, Write};
use gcra_core::{decimal, Error};

/// Where the test-only exact entries go: the end of the library's exact path (text it
/// compiles at its first use), whose local functions they use.
const TEST_HOOK: &str =
    "  -- (tests/function_differential.rs inserts its test-only entries here)\n";

/// Test-only exact entries, added at TEST_HOOK: the exact path's entries with a given "now"
/// (and SOFT's draw), which the shipped library has no way to take from a caller.
const TEST_ENTRIES: &str = r#"
local function given_now(text)
  return function() return parse_time(text) or fail(E.Clock) end
end
local function rest(args)
  local out = {}
  for i = 3, #args do out[i - 2] = args[i] end
  return out
end
-- ARGV: now, SOFT's draw, then the entry's own arguments.
local function test_entry(handler)
  return function(keys, args)
    local draw = tonumber(args[2])
    return entry(handler, given_now(args[1]), function() return draw end)(keys, rest(args))
  end
end
ENTRIES.cl_test_now = parse_time
-- An error raised in the exact path, as Lua words it: where it was raised.
ENTRIES.cl_test_where = function() local _, e = pcall(function() error('where') end) return e end
ENTRIES.cl_test_throttle = test_entry(throttle)
ENTRIES.cl_test_throttleall = test_entry(throttle_all)
ENTRIES.cl_test_peek = test_entry(peek)
-- ARGV: op x y, op x y, ... with x and y signed decimal integers of any size.
ENTRIES.cl_test_int = function(keys, args)
  local function big(text)
    local sign, digits = string.match(text, '^([+-]?)([0-9]+)$')
    return of_digits(digits, sign == '-')
  end
  local out = {}
  for i = 1, #args, 3 do
    local op, x, y = args[i], big(args[i + 1]), big(args[i + 2])
    if op == 'add' then out[#out + 1] = decimal(add(x, y))
    elseif op == 'sub' then out[#out + 1] = decimal(sub(x, y))
    elseif op == 'mul' then out[#out + 1] = decimal(mul(x, y))
    elseif op == 'cmp' then out[#out + 1] = tostring(cmp(x, y))
    elseif op == 'divmod' then
      local q, r = divmod(x, y)
      out[#out + 1] = decimal(q) .. ' ' .. decimal(r)
    else return redis.error_reply('ERR unknown op ' .. op) end
  end
  return out
end
"#;

/// Appended to the library: the test functions. cl_test_throttle, cl_test_throttleall and
/// cl_test_peek (ARGV: now, SOFT's draw, then the entry's own arguments) try the fast path
/// first with that "now", as the shipped entries do, and count the calls it answers
/// (cl_test_fast_replies); the exact path answers the others.
const TEST_FUNCTIONS: &str = r#"
local fast_replies = 0
local function test_function(name)
  return function(keys, args)
    if not call then bind() end
    local now = exact_entry('cl_test_now')(args[1])
    local reply = now
      and fast(keys, args, 3, name, find, byte, format, call, pcall_redis, ms_as_number, parsed,
        now[1], now[2])
    if reply then
      fast_replies = fast_replies + 1
      return reply
    end
    return exact_entry('cl_test' .. string.sub(name, 3))(keys, args)
  end
end
redis.register_function('cl_test_fast_replies', function() return fast_replies end)
redis.register_function('cl_test_throttle', test_function('cl_throttle'))
redis.register_function('cl_test_throttleall', test_function('cl_throttleall'))
redis.register_function('cl_test_peek', test_function('cl_peek'))
redis.register_function('cl_test_int', function(keys, args) return exact_entry('cl_test_int')(keys, args) end)
redis.register_function('cl_test_where', function() return exact_entry('cl_test_where')() end)
"#;

/// The error only the function gives (see docs/functions.md).
const MAX_BURST_TOO_LARGE: &str = "ERR invalid max_burst: at most 9007199254740991 without the module (Lua replies integers exactly only up to 2^53)";

/// What a key holds before a call.
#[derive(Debug, Clone)]
enum Stored {
    Absent,
    /// A string: a TAT, or anything else (a corrupt state).
    Value(Vec<u8>),
    /// A list.
    WrongType,
}

/// Which entry a call goes to (and which command of the module it stands for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// cl_throttle, CL.THROTTLE
    Throttle,
    /// cl_throttleall, CL.THROTTLEALL
    All,
    /// cl_peek, CL.PEEK
    Peek,
}

impl Entry {
    fn test_function(self) -> &'static str {
        match self {
            Entry::Throttle => "cl_test_throttle",
            Entry::All => "cl_test_throttleall",
            Entry::Peek => "cl_test_peek",
        }
    }
}

/// One call, with the function's KEYS and ARGV, the keys' states, "now" and SOFT's draw.
#[derive(Debug)]
struct Call {
    entry: Entry,
    keys: Vec<Vec<u8>>,
    args: Vec<Vec<u8>>,
    stored: Vec<Stored>,
    now: i64,
    /// Below 10^6.
    draw: u64,
}

/// A function cannot wait, and its "now" and draw are given.
struct Given {
    now: i64,
    draw: u64,
}

impl Context for Given {
    fn now(&mut self) -> Result<i64, Error> {
        Ok(self.now)
    }
    fn draw(&mut self) -> u64 {
        self.draw
    }
    fn can_block(&mut self) -> bool {
        false
    }
}

/// The module's command and its arguments (after the name) for a call of the function:
/// CL.THROTTLEALL takes each key before its limit, FCALL takes the keys first.
fn module_call(call: &Call) -> (Command, Vec<Vec<u8>>) {
    match call.entry {
        Entry::All => {
            let mut module_args = vec![call.keys.len().to_string().into_bytes()];
            for (i, key) in call.keys.iter().enumerate() {
                module_args.push(key.clone());
                module_args.extend(call.args.iter().skip(3 * i).take(3).cloned());
            }
            module_args.extend(call.args.iter().skip(3 * call.keys.len()).cloned());
            (Command::ThrottleAll, module_args)
        }
        entry => {
            let command = match entry {
                Entry::Peek => Command::Peek,
                _ => Command::Throttle,
            };
            let key = call.keys.first().cloned();
            (
                command,
                key.into_iter().chain(call.args.iter().cloned()).collect(),
            )
        }
    }
}

/// What the function must answer, computed by the module's request pipeline: the reply and
/// each key's write, or the error text.
fn core_answer(call: &Call) -> Result<(Vec<i64>, Vec<Write>), String> {
    let text = |error: Error| error.message().to_str().expect("ASCII").to_string();
    let wrong_arity = match call.entry {
        Entry::All => Error::WrongArityAll,
        Entry::Peek => Error::WrongArityPeek,
        Entry::Throttle => Error::WrongArity,
    };
    // Redis checks CL.THROTTLEALL's arity (-6) before the module sees a call; FCALL's
    // single-key entries refuse other than one key as the wrong arity.
    let (command, args) = module_call(call);
    let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    match call.entry {
        Entry::All if args.len() < 5 => return Err(text(wrong_arity)),
        Entry::Throttle | Entry::Peek if call.keys.len() != 1 => return Err(text(wrong_arity)),
        _ => {}
    }
    let request = pipeline::parse(command, &args).map_err(text)?;
    // The function's one difference: a reply above 2^53 cannot be exact.
    if request
        .limits()
        .iter()
        .any(|limit| limit.capacity() > 1 << 53)
    {
        return Err(MAX_BURST_TOO_LARGE.to_string());
    }
    let mut stored: Vec<pipeline::Stored<'_>> = call
        .stored
        .iter()
        .map(|stored| match stored {
            Stored::Absent => pipeline::Stored::Absent,
            Stored::Value(bytes) => pipeline::Stored::Value(bytes),
            Stored::WrongType => pipeline::Stored::WrongType,
        })
        .collect();
    let mut given = Given {
        now: call.now,
        draw: call.draw,
    };
    let answer = pipeline::decide(&request, &mut stored[..], &mut given).map_err(text)?;
    Ok((
        answer.reply.as_slice().to_vec(),
        answer.writes.as_slice().to_vec(),
    ))
}

const I64_MAX: u64 = i64::MAX as u64;
const LUA_EXACT: i64 = 1 << 53;

fn max_burst(rng: &mut Rng) -> String {
    match rng.below(100) {
        0..=44 => rng.below(20).to_string(),
        45..=86 => rng.log_uniform(LUA_EXACT as u64 - 1).to_string(),
        87..=89 => rng
            .pick(&[
                0,
                LUA_EXACT - 2,
                LUA_EXACT - 1,
                LUA_EXACT,
                i64::MAX - 1,
                i64::MAX,
            ])
            .to_string(),
        90..=92 => (rng.log_uniform(I64_MAX - 1)).to_string(),
        93..=96 => format!("+{:03}", rng.below(50)),
        _ => rng
            .pick(&[
                "-1",
                "",
                "x",
                "1.5",
                " 1",
                "-0",
                "99999999999999999999",
                "1e3",
            ])
            .to_string(),
    }
}

/// Seconds with up to nine decimals, written in one of the ways the module accepts.
fn seconds_text(rng: &mut Rng, ns: u64) -> String {
    let (whole, fraction) = (ns / 1_000_000_000, ns % 1_000_000_000);
    let sign = if rng.percent(5) { "+" } else { "" };
    let zeros = if rng.percent(5) { "00" } else { "" };
    if fraction == 0 && rng.percent(60) {
        return format!("{sign}{zeros}{whole}");
    }
    let mut decimals = format!("{fraction:09}");
    // Drop trailing zeros (some of them), as a person would write 0.5 or 0.250.
    while decimals.len() > 1 && decimals.ends_with('0') && rng.percent(80) {
        decimals.pop();
    }
    format!("{sign}{zeros}{whole}.{decimals}")
}

/// max_burst, count, period (as text) and the interval in ns (0 when invalid).
fn limit(rng: &mut Rng) -> [String; 3] {
    let period_ns = match rng.below(10) {
        0..=3 => rng.log_uniform(I64_MAX).max(1),
        4..=6 => rng.pick(&[1, 60, 1, 3600, 86400]) * 1_000_000_000 / rng.pick(&[1, 1, 4, 1000]),
        7 => *rng.pick(&[1, 2, 999, I64_MAX, I64_MAX - 1, 1_000_000_001]),
        _ => rng.below(2_000_000_000).max(1),
    };
    let count = match rng.below(100) {
        0..=44 => rng.below(100) + 1,
        45..=74 => rng.log_uniform(I64_MAX).max(1),
        // Around one token per nanosecond, and just past it.
        75..=82 => period_ns.saturating_add(rng.below(3)).clamp(1, I64_MAX),
        83..=92 => (period_ns / (rng.below(3) + 1)).max(1),
        93..=97 => *rng.pick(&[1, I64_MAX]),
        _ => 0,
    };
    // Mostly a valid rate: at most one token per nanosecond.
    let count = if count > period_ns && rng.percent(80) {
        period_ns
    } else {
        count
    };
    let count = if count == 0 {
        rng.pick(&["0", "-5", "x", "", "1.0"]).to_string()
    } else {
        count.to_string()
    };
    let period = if rng.percent(2) {
        rng.pick(&[
            "0",
            "-1",
            "1.",
            ".5",
            "1e3",
            "1.0000000001",
            "9223372036.854775808",
            "-0.5",
            "nan",
            "9223372037",
            "",
        ])
        .to_string()
    } else {
        seconds_text(rng, period_ns)
    };
    [max_burst(rng), count, period]
}

/// `[quantity] [MS] [BLOCK ms | ATMOST | SOFT hard_factor]`, in any order after the quantity
/// and any case, and sometimes wrong: repeated, conflicting, bad values, junk, too many.
fn options(rng: &mut Rng) -> Vec<String> {
    let mut out = Vec::new();
    let modes = match rng.below(20) {
        0..=9 => 0,
        10..=18 => 1,
        _ => 2, // conflicting
    };
    if modes > 0 && rng.percent(85) {
        // Modes need a quantity of at least 1: mostly give one (or none, which is 1).
        if rng.percent(70) {
            out.push(rng.log_uniform(200).max(1).to_string());
        }
    } else {
        quantity(rng, &mut out);
    }
    let mut options: Vec<Vec<String>> = Vec::new();
    if rng.percent(30) {
        options.push(vec![rng.pick(&["MS", "ms", "Ms", "mS"]).to_string()]);
    }
    let block_ms = |rng: &mut Rng| match rng.below(10) {
        0 => rng
            .pick(&["-1", "9223372036855", "x", "1.5", ""])
            .to_string(),
        1 => rng.pick(&["0", "9223372036854"]).to_string(),
        _ => rng.log_uniform(100_000).to_string(),
    };
    let soft_factor = |rng: &mut Rng| match rng.below(10) {
        0 => rng
            .pick(&["0.5", "0", "1000.000000001", "1001", "x", "1e2"])
            .to_string(),
        1 => rng
            .pick(&["1", "1000", "1.000000001", "999.999999999"])
            .to_string(),
        _ => format!("{}.{}", 1 + rng.below(5), rng.below(1000)),
    };
    for _ in 0..modes {
        options.push(match rng.below(3) {
            0 => vec![rng.pick(&["BLOCK", "block"]).to_string(), block_ms(rng)],
            1 => vec![rng.pick(&["ATMOST", "AtMost"]).to_string()],
            _ => vec![rng.pick(&["SOFT", "soft"]).to_string(), soft_factor(rng)],
        });
    }
    if rng.percent(3) {
        // A repeated MS, a missing value, or junk.
        options.push(vec![rng
            .pick(&["MS", "BLOCK", "SOFT", "SECONDS", "1"])
            .to_string()]);
    }
    // Any order after the quantity.
    for i in (1..options.len()).rev() {
        options.swap(i, rng.below(i as u64 + 1) as usize);
    }
    out.extend(options.into_iter().flatten());
    out
}

/// An explicit quantity, or none (the default, 1).
fn quantity(rng: &mut Rng, out: &mut Vec<String>) {
    match rng.below(20) {
        0..=5 => {}
        6..=7 => out.push("0".into()),
        8..=12 => out.push(rng.signed(20).to_string()),
        13..=15 => out.push(rng.signed(I64_MAX).to_string()),
        16 => out.push(
            rng.pick(&["9223372036854775807", "-9223372036854775808"])
                .to_string(),
        ),
        17 => out.push(rng.below(40).to_string()),
        18 => out.push(
            rng.pick(&["x", "1.5", "MSS", "", "99999999999999999999"])
                .to_string(),
        ),
        _ => {}
    }
}

/// The state of a key before the call, often near the boundaries of the limit.
fn stored(rng: &mut Rng, now: i64, interval_hint: i64) -> Stored {
    let tat = match rng.below(20) {
        0..=4 => return Stored::Absent,
        5..=9 => now.saturating_add(rng.signed(1 << 40)),
        10..=12 => {
            let ahead = interval_hint.saturating_mul(rng.below(25) as i64);
            now.saturating_add(ahead).saturating_add(rng.signed(2))
        }
        13..=14 => now.saturating_add(rng.signed(I64_MAX)),
        15 => *rng.pick(&[
            0,
            i64::MAX,
            now,
            now.saturating_sub(1),
            now.saturating_add(1),
        ]),
        16 => {
            // Leading zeros: the module reads them.
            let tat = now.saturating_add(rng.signed(1 << 36)).max(0);
            return Stored::Value(format!("000{tat}").into_bytes());
        }
        17 => {
            let junk = rng.pick(&["", "abc", "-5", "1.5", "+5", "99999999999999999999", "1 "]);
            return Stored::Value(junk.as_bytes().to_vec());
        }
        18 if rng.percent(30) => return Stored::WrongType,
        _ => now.saturating_add(rng.signed(1 << 33)),
    };
    Stored::Value(tat.max(0).to_string().into_bytes())
}

/// A "now": mostly from the real time on (so written keys expire in the future and can be
/// read back), sometimes anywhere up to i64::MAX, sometimes in the past.
fn now(rng: &mut Rng, real_now: i64) -> i64 {
    match rng.below(10) {
        0..=5 => real_now + rng.log_uniform(10 * 365 * 86_400 * 1_000_000_000) as i64,
        6..=7 => real_now + rng.log_uniform((i64::MAX - real_now) as u64) as i64,
        8 => i64::MAX - rng.below(3) as i64,
        _ => rng.log_uniform(real_now as u64) as i64,
    }
}

/// The interval of a limit's text, for placing stored TATs near its boundaries.
fn interval_hint(limit: &[String; 3]) -> i64 {
    let count: i64 = limit[1].parse().unwrap_or(1).max(1);
    let period_ns = decimal::parse_seconds_as_nanos(limit[2].as_bytes()).unwrap_or(1);
    (period_ns / count).max(1)
}

/// The usual call, which the fast path answers unless a value crosses one of its bounds:
/// a plain-form limit of a few digits (or at the fast path's bounds), a small quantity or
/// none, now near the real time.
fn usual_limit(rng: &mut Rng) -> [String; 3] {
    let max_burst = match rng.below(20) {
        0..=16 => rng.below(1000),
        // Around 15 digits, and tolerances around 2^50 ns (with intervals of 1 and 2 ns).
        17 => *rng.pick(&[999_999_999_999_999, 1_000_000_000_000_000]),
        18 => (1 << 49) - 1 - rng.below(2),
        _ => (1 << 50) - 1 - rng.below(2),
    };
    let period = rng
        .pick(&[
            "1",
            "1",
            "1",
            "60",
            "3600",
            "86400",
            "86400",
            "0.5",
            "0.001",
            "2.25",
            "999999",
            "999999.999999999",
            "1000000",
            "31536000",
            "0.000000001",
            "0.000000002",
        ])
        .to_string();
    let period_ns = decimal::parse_seconds_as_nanos(period.as_bytes()).unwrap_or(1);
    let count = match rng.below(10) {
        0..=6 => rng.below(1000) + 1,
        7 => *rng.pick(&[999_999_999_999_999, 1_000_000_000_000_000]),
        // One token per nanosecond, or the fewest that give an interval just below 2^50 ns.
        8 => period_ns as u64,
        _ => (period_ns as u64 >> 50) + 1,
    };
    [max_burst.to_string(), count.to_string(), period]
}

fn usual_options(rng: &mut Rng) -> Vec<String> {
    let mut out = Vec::new();
    match rng.below(10) {
        0..=4 => {}
        5 => out.push("0".into()),
        6 => out.push(rng.log_uniform(1 << 51).to_string()),
        _ => out.push((rng.below(30) + 1).to_string()),
    }
    if rng.percent(30) {
        out.push(rng.pick(&["MS", "ms", "Ms"]).to_string());
    }
    out
}

fn random_call(rng: &mut Rng, case: usize, real_now: i64) -> Call {
    if rng.percent(40) {
        return usual_call(rng, case, real_now);
    }
    let entry = match rng.below(10) {
        0..=2 => Entry::All,
        3 => Entry::Peek,
        _ => Entry::Throttle,
    };
    let all = entry == Entry::All;
    let now = now(rng, real_now);
    let n = if all {
        *rng.pick(&[1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 0])
    } else if rng.percent(1) {
        *rng.pick(&[0, 2])
    } else {
        1
    };
    let mut keys: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut key = format!("diff:{case}:{i}").into_bytes();
            if rng.percent(10) {
                key.extend_from_slice(b"\x00\xff");
            }
            key
        })
        .collect();
    let mut args = Vec::new();
    let mut stored_states = Vec::new();
    for _ in 0..n.max(1) {
        let limit = limit(rng);
        stored_states.push(stored(rng, now, interval_hint(&limit)));
        args.extend(limit);
    }
    stored_states.truncate(n);
    args.extend(options(rng));
    if rng.percent(2) {
        args.truncate(rng.below(args.len() as u64 + 1) as usize);
    }
    if all && n >= 2 && rng.percent(5) {
        keys[n - 1] = keys[0].clone();
        stored_states[n - 1] = stored_states[0].clone();
    }
    let draw = match rng.below(10) {
        0 => *rng.pick(&[0, 999_999]),
        _ => rng.below(1_000_000),
    };
    Call {
        entry,
        keys,
        args: args.into_iter().map(String::into_bytes).collect(),
        stored: stored_states,
        now,
        draw,
    }
}

fn usual_call(rng: &mut Rng, case: usize, real_now: i64) -> Call {
    let (entry, n) = match rng.below(10) {
        0..=2 => (Entry::All, rng.below(3) as usize + 1),
        3 => (Entry::Peek, 1),
        _ => (Entry::Throttle, 1),
    };
    let now = real_now + rng.log_uniform(1 << 40) as i64;
    let keys = (0..n)
        .map(|i| format!("diff:{case}:{i}").into_bytes())
        .collect();
    let mut args = Vec::new();
    let mut stored_states = Vec::new();
    for _ in 0..n {
        let limit = usual_limit(rng);
        stored_states.push(stored(rng, now, interval_hint(&limit)));
        args.extend(limit);
    }
    args.extend(usual_options(rng));
    Call {
        entry,
        keys,
        args: args.into_iter().map(String::into_bytes).collect(),
        stored: stored_states,
        now,
        draw: rng.below(1_000_000),
    }
}

/// A key as observed: absent, a list, or a string with its absolute expiry (-1 none).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Absent,
    List,
    Text(Vec<u8>, i64),
}

fn seen(con: &mut Connection, key: &[u8]) -> Seen {
    let kind: String = redis::cmd("TYPE").arg(key).query(con).expect("TYPE");
    match kind.as_str() {
        "none" => Seen::Absent,
        "list" => Seen::List,
        "string" => {
            let (value, expiry) = key_state(con, key);
            Seen::Text(value.expect("a string"), expiry)
        }
        other => panic!("unexpected type {other}"),
    }
}

fn prepare(con: &mut Connection, call: &Call) {
    if call.keys.is_empty() {
        return;
    }
    let mut pipe = redis::pipe();
    for (key, stored) in call.keys.iter().zip(&call.stored) {
        pipe.cmd("DEL").arg(key).ignore();
        match stored {
            Stored::Absent => {}
            Stored::Value(value) => {
                pipe.cmd("SET").arg(key).arg(value).ignore();
            }
            Stored::WrongType => {
                pipe.cmd("RPUSH").arg(key).arg("x").ignore();
            }
        }
    }
    pipe.query::<()>(con).expect("prepare keys");
}

fn server_ms(con: &mut Connection) -> i64 {
    let (seconds, micros): (i64, i64) = redis::cmd("TIME").query(con).expect("TIME");
    seconds * 1000 + micros / 1000
}

/// Runs one call and checks it against the core; returns its reply (or error) and writes.
fn check(con: &mut Connection, call: &Call) -> (Result<Vec<i64>, String>, Vec<Write>) {
    prepare(con, call);
    let before: Vec<Seen> = call.keys.iter().map(|k| seen(con, k)).collect();
    let expected = core_answer(call);

    let (now, draw) = (call.now.to_string(), call.draw.to_string());
    let keys: Vec<&[u8]> = call.keys.iter().map(Vec::as_slice).collect();
    let mut args: Vec<&[u8]> = vec![now.as_bytes(), draw.as_bytes()];
    args.extend(call.args.iter().map(Vec::as_slice));
    let start_ms = server_ms(con);
    let got = outcome(con, &fcall_cmd(call.entry.test_function(), &keys, &args));
    let after: Vec<Seen> = call.keys.iter().map(|k| seen(con, k)).collect();
    let end_ms = server_ms(con);

    let replied = expected.as_ref().map(|(reply, _)| reply.to_vec());
    assert_eq!(got, replied.map_err(|e| e.clone()), "reply of {call:?}");
    let writes = expected.map(|(_, writes)| writes).unwrap_or_default();
    for (i, key) in call.keys.iter().enumerate() {
        let want = match writes.get(i) {
            Some(Write::Set { tat, expire_at_ms }) => {
                let expiry = *expire_at_ms;
                if expiry < start_ms {
                    // "now" was in the past and so is the expiry: SET ... PXAT deletes.
                    Seen::Absent
                } else if expiry > end_ms {
                    Seen::Text(tat.to_string().into_bytes(), expiry)
                } else {
                    continue; // expired during the call or not: either is right
                }
            }
            Some(Write::Delete) => Seen::Absent,
            Some(Write::Keep) | None => before[i].clone(),
        };
        assert_eq!(after[i], want, "key {key:?} after {call:?}");
    }
    (got, writes)
}

/// Added after TEST_ENTRIES and TEST_FUNCTIONS: every call takes the exact path (the fast
/// path declines all) and every decision there the limbs (`ahead_exact`), which otherwise only
/// values beyond 2^50 ns take.
const EXACT_PATH_ONLY: (&str, &str) = (
    "fits_small = function() return false end\n",
    "fast = function() return nil end\n",
);

/// A server without the module, with the library and its test entries.
fn test_server(exact_path_only: bool) -> (Server, Connection) {
    let server = Server::start_with(Options {
        with_module: false,
        ..Options::default()
    });
    let mut con = server.connect();
    load_functions(&mut con, &test_library(exact_path_only));
    (server, con)
}

/// The library with the test entries and functions.
fn test_library(exact_path_only: bool) -> String {
    let library = function_library();
    assert_eq!(
        library.matches(TEST_HOOK).count(),
        1,
        "lua/gcra.lua's test hook"
    );
    let (mut entries, mut functions) = (TEST_ENTRIES.to_string(), TEST_FUNCTIONS.to_string());
    if exact_path_only {
        entries += EXACT_PATH_ONLY.0;
        functions += EXACT_PATH_ONLY.1;
    }
    library.replacen(TEST_HOOK, &entries, 1) + &functions
}

/// The exact path is text compiled at its first use, as if in its place: an error raised
/// there names the library's line, as one raised in the rest of the library does.
#[test]
fn exact_path_errors_name_the_library_lines() {
    let library = test_library(false);
    let line = 1 + library
        .lines()
        .position(|l| l.contains("error('where')"))
        .expect("cl_test_where");
    let (_server, mut con) = test_server(false);
    let got: String = redis::cmd("FCALL")
        .arg("cl_test_where")
        .arg(0)
        .query(&mut con)
        .expect("cl_test_where");
    assert_eq!(got, format!("user_function:{line}: where"));
}

/// `DIFF_SEED` or a fresh seed, and `DIFF_CASES` or `default` cases.
fn seed_and_cases(default: usize) -> (u64, usize) {
    let seed = std::env::var("DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| (wall_clock_ns() as u64) | 1);
    let cases = std::env::var("DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    (seed, cases)
}

/// Runs `cases` random calls and checks each against the core.
fn random_cases(con: &mut Connection, seed: u64, cases: usize, label: &str) -> usize {
    eprintln!("{label}: DIFF_SEED={seed} DIFF_CASES={cases}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let real_now = wall_clock_ns();
    let (mut decisions, mut limited, mut sets, mut deletes, mut with_sixth) = (0, 0, 0, 0, 0);
    let mut errors = std::collections::BTreeMap::<String, usize>::new();
    for case in 0..cases {
        let call = random_call(&mut rng, case, real_now);
        let (got, writes) = check(con, &call);
        match got {
            Ok(reply) => {
                decisions += 1;
                limited += reply[0];
                with_sixth += usize::from(reply.len() == 6);
            }
            Err(error) => *errors.entry(error.chars().take(40).collect()).or_default() += 1,
        }
        for write in writes {
            match write {
                Write::Set { .. } => sets += 1,
                Write::Delete => deletes += 1,
                Write::Keep => {}
            }
        }
        let keys: Vec<&[u8]> = call.keys.iter().map(Vec::as_slice).collect();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL").arg(&keys).query(con).expect("DEL");
        }
    }
    eprintln!(
        "{label}: {cases} cases in {:.1} s: {decisions} decisions ({limited} limited, \
         {with_sixth} ATMOST or SOFT; writes: {sets} SET, {deletes} DEL), {} errors",
        started.elapsed().as_secs_f64(),
        cases - decisions,
    );
    let fast = fast_replies(con);
    eprintln!("{label}: {fast} replies by the fast path");
    eprintln!("{label}: errors {errors:#?}");
    // Every kind of outcome must be well represented, or the generator has drifted.
    assert!(decisions > cases / 3, "{decisions} decisions of {cases}");
    assert!(cases - decisions > cases / 20, "too few errors");
    assert!(limited > cases as i64 / 20, "too few limited");
    assert!(sets > cases / 10 && deletes > cases / 200, "too few writes");
    assert!(with_sixth > cases / 50, "too few ATMOST or SOFT decisions");
    fast
}

/// How many calls the fast path has answered on this server.
fn fast_replies(con: &mut Connection) -> usize {
    redis::cmd("FCALL")
        .arg("cl_test_fast_replies")
        .arg(0)
        .query(con)
        .expect("cl_test_fast_replies")
}

#[test]
fn function_agrees_with_the_rust_core() {
    let (seed, cases) = seed_and_cases(10_000);
    let (_server, mut con) = test_server(false);
    let fast = random_cases(&mut con, seed, cases, "function_differential");
    // Both paths must be well represented.
    assert!(fast > cases / 10, "{fast} of {cases} by the fast path");
    assert!(fast < cases / 2, "{fast} of {cases} by the fast path");
}

#[test]
fn exact_path_alone_agrees_with_the_rust_core() {
    let (seed, cases) = seed_and_cases(3_000);
    let (_server, mut con) = test_server(true);
    let fast = random_cases(
        &mut con,
        seed,
        cases,
        "function_differential (exact path only)",
    );
    assert_eq!(fast, 0, "the fast path answered");
}

#[test]
fn edge_cases_agree_with_the_rust_core() {
    for exact_path_only in [false, true] {
        edge_cases(exact_path_only);
    }
}

fn edge_cases(exact_path_only: bool) {
    let (_server, mut con) = test_server(exact_path_only);
    let real_now = wall_clock_ns();
    let cases = edge_table(include_str!("function_differential.edges"), real_now);
    for (i, (args, stored, now)) in cases.into_iter().enumerate() {
        let call = Call {
            entry: Entry::Throttle,
            keys: vec![format!("edge:{i}").into_bytes()],
            args: args.into_iter().map(String::into_bytes).collect(),
            stored: vec![stored],
            now,
            draw: 500_000,
        };
        let _ = check(&mut con, &call);
        // The same as a one-limit CL.THROTTLEALL and as CL.PEEK, and with each mode.
        let all = Call {
            entry: Entry::All,
            keys: vec![format!("edge:all:{i}").into_bytes()],
            ..call
        };
        let _ = check(&mut con, &all);
        let peek = Call {
            entry: Entry::Peek,
            keys: vec![format!("edge:peek:{i}").into_bytes()],
            ..all
        };
        let _ = check(&mut con, &peek);
        for mode in [
            &["ATMOST"][..],
            &["SOFT", "2"],
            &["SOFT", "1000"],
            &["BLOCK", "60000"],
        ] {
            let mut args = peek.args.clone();
            args.extend(mode.iter().map(|m| m.as_bytes().to_vec()));
            for (entry, draw) in [(Entry::Throttle, 0), (Entry::All, 999_999)] {
                let call = Call {
                    entry,
                    keys: vec![format!("edge:mode:{i}").into_bytes()],
                    args: args.clone(),
                    stored: peek.stored.clone(),
                    now: peek.now,
                    draw,
                };
                let _ = check(&mut con, &call);
            }
        }
    }
    soft_refusals_over_several_limits(&mut con, real_now);
    let fast = fast_replies(&mut con);
    eprintln!("edge cases (exact path only: {exact_path_only}): {fast} replies by the fast path");
    assert_eq!(
        fast == 0,
        exact_path_only,
        "{fast} replies by the fast path"
    );
}

/// SOFT over two limits (issue 19): a request larger than the first limit's capacity is told
/// to wait at least the longest interval among the limits that refuse it, never 0.
fn soft_refusals_over_several_limits(con: &mut Connection, real_now: i64) {
    let second = ["0", "1", "1"];
    let minute = ["1", "10", "60"];
    // (the per-minute TAT, the reply the function must give)
    let cases: [(Stored, [i64; 6]); 3] = [
        (Stored::Absent, [1, 1, 1, 1_000, 0, 500]),
        (
            Stored::Value((real_now + 1_000_000_000).to_string().into_bytes()),
            [1, 1, 1, 6_000, 1_000, 500],
        ),
        (
            Stored::Value((real_now + 10_000_000_000).to_string().into_bytes()),
            [1, 2, 0, 10_000, 10_000, 500],
        ),
    ];
    for (i, (minute_tat, want)) in cases.into_iter().enumerate() {
        let call = Call {
            entry: Entry::All,
            keys: vec![
                format!("edge:soft:{i}:s").into_bytes(),
                format!("edge:soft:{i}:m").into_bytes(),
            ],
            args: [&second[..], &minute[..], &["2", "SOFT", "3", "MS"][..]]
                .concat()
                .iter()
                .map(|a| a.as_bytes().to_vec())
                .collect(),
            stored: vec![Stored::Absent, minute_tat],
            now: real_now,
            draw: 0,
        };
        let (got, writes) = check(con, &call);
        assert_eq!(got, Ok(want.to_vec()), "{call:?}");
        assert!(writes.is_empty(), "refused: nothing written");
    }
}

/// The edge table (tests/function_differential.edges): per case, the arguments after the key,
/// what the key holds and "now".
fn edge_table(table: &str, real_now: i64) -> Vec<(Vec<String>, Stored, i64)> {
    let time = |text: &str| -> i64 {
        let mut terms = text.split_whitespace();
        let term = |word: &str| match word {
            "now" => real_now,
            "max" => i64::MAX,
            number => number
                .parse()
                .unwrap_or_else(|_| panic!("bad time {text:?}")),
        };
        let mut value = term(terms.next().expect("a time"));
        while let (Some(sign), Some(word)) = (terms.next(), terms.next()) {
            value = match sign {
                "+" => value + term(word),
                "-" => value - term(word),
                _ => panic!("bad time {text:?}"),
            };
        }
        value
    };
    table
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let [args, stored, now] = line.split('|').collect::<Vec<_>>()[..] else {
                panic!("bad edge line {line:?}");
            };
            let stored = match stored.trim().split_once(' ') {
                None if stored.trim() == "absent" => Stored::Absent,
                Some(("tat", at)) => Stored::Value(time(at).to_string().into_bytes()),
                Some(("value", text)) => {
                    Stored::Value(unescape(&text.replace("{now}", &real_now.to_string())))
                }
                _ => panic!("bad stored value in {line:?}"),
            };
            let args = args.split_whitespace().map(String::from).collect();
            (args, stored, time(now))
        })
        .collect()
}

/// An edge table value's bytes: `\xHH` (two hexadecimal digits) is the byte HH, for a space
/// or a zero byte at an end.
fn unescape(text: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        match tail {
            [b'x', high, low, ..]
                if byte == b'\\' && high.is_ascii_hexdigit() && low.is_ascii_hexdigit() =>
            {
                let hex = [*high, *low];
                let hex = std::str::from_utf8(&hex).expect("ASCII");
                bytes.push(u8::from_str_radix(hex, 16).expect("two hexadecimal digits"));
                rest = &tail[3..];
            }
            _ => {
                bytes.push(byte);
                rest = tail;
            }
        }
    }
    bytes
}

/// Random signed integers of up to 127 bits, built to stress carries and long division:
/// limbs of the library's base (10^7) at their extremes, and powers of ten and two nearby.
fn big(rng: &mut Rng, max_bits: u32) -> i128 {
    let magnitude: u128 = match rng.below(4) {
        0 => {
            let mut value: u128 = 0;
            for _ in 0..rng.below(7) {
                let limb = *rng.pick(&[0u128, 1, 4_999_999, 5_000_000, 9_999_998, 9_999_999]);
                let limb = if rng.percent(30) {
                    u128::from(rng.below(10_000_000))
                } else {
                    limb
                };
                value = value.saturating_mul(10_000_000).saturating_add(limb);
            }
            value
        }
        1 => {
            let base = if rng.percent(50) {
                10u128.pow(rng.below(38) as u32)
            } else {
                1u128 << rng.below(127)
            };
            base.wrapping_add(rng.signed(3) as i128 as u128)
        }
        _ => {
            let bits = rng.below(u64::from(max_bits) + 1) as u32;
            let high = u128::from(rng.next()) << 64 | u128::from(rng.next());
            if bits == 0 {
                0
            } else {
                high >> (128 - bits)
            }
        }
    };
    let magnitude = (magnitude & ((1u128 << max_bits) - 1)) as i128;
    if rng.percent(50) {
        -magnitude
    } else {
        magnitude
    }
}

#[test]
fn integer_arithmetic_is_exact() {
    let seed = (wall_clock_ns() as u64) | 1;
    eprintln!("integer_arithmetic_is_exact: seed {seed}");
    let (_server, mut con) = test_server(false);
    let mut rng = Rng(seed);
    let mut total = 0;
    for _ in 0..20 {
        let mut ops: Vec<(String, i128, i128, String)> = Vec::new();
        for _ in 0..1000 {
            let (op, x, y, want) = match rng.below(5) {
                0 => {
                    let (x, y) = (big(&mut rng, 126), big(&mut rng, 126));
                    ("add", x, y, (x + y).to_string())
                }
                1 => {
                    let (x, y) = (big(&mut rng, 126), big(&mut rng, 126));
                    ("sub", x, y, (x - y).to_string())
                }
                2 => {
                    let (x, y) = (big(&mut rng, 63), big(&mut rng, 63));
                    ("mul", x, y, (x * y).to_string())
                }
                3 => {
                    let (x, y) = (big(&mut rng, 127), big(&mut rng, 127));
                    ("cmp", x, y, (x.cmp(&y) as i8).to_string())
                }
                _ => {
                    let x = big(&mut rng, 127).abs();
                    let bits = *rng.pick(&[24, 48, 63, 64, 100, 127]);
                    let y = big(&mut rng, bits).abs().max(1);
                    // Numerators just below and at multiples of the divisor.
                    let x = match rng.below(3) {
                        0 => x,
                        _ => (x / y * y).saturating_sub(rng.below(2) as i128).max(0),
                    };
                    ("divmod", x, y, format!("{} {}", x / y, x % y))
                }
            };
            ops.push((op.to_string(), x, y, want));
        }
        let mut cmd = redis::cmd("FCALL");
        cmd.arg("cl_test_int").arg(0);
        for (op, x, y, _) in &ops {
            cmd.arg(op).arg(x.to_string()).arg(y.to_string());
        }
        let got: Vec<String> = cmd.query(&mut con).expect("cl_test_int");
        for ((op, x, y, want), got) in ops.iter().zip(&got) {
            assert_eq!(got, want, "{op} {x} {y}");
        }
        total += ops.len();
    }
    eprintln!("integer_arithmetic_is_exact: {total} operations");
}

#[test]
fn shipped_library_has_no_test_entries() {
    let server = function_server();
    let mut con = server.connect();
    let list: Value = redis::cmd("FUNCTION")
        .arg("LIST")
        .query(&mut con)
        .expect("FUNCTION LIST");
    let text = format!("{list:?}");
    for name in ["cl_throttle", "cl_throttleall", "cl_peek"] {
        assert!(text.contains(name), "{name} in {text}");
    }
    assert!(!text.contains("cl_test"), "{text}");
    let error = outcome(
        &mut con,
        &fcall_cmd("cl_test_throttle", &[b"k"], &[b"0", b"1", b"1", b"1"]),
    )
    .expect_err("no test entry");
    assert!(error.contains("Function not found"), "{error}");
}
