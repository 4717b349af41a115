//! Arguments, stored values and the clock reading, through the parser, the core and the
//! reply, as the command handlers drive them. Any panic or broken invariant is a crash.
//!
//! Input: byte 0 picks the command (even: CL.THROTTLE, odd: CL.THROTTLEALL); the rest splits
//! on NUL into: now (decimal ns), stored TATs (comma-separated, empty = absent key), then
//! the command's arguments after its name (after the key for CL.THROTTLE).

#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_gcra::args::{parse_throttle, parse_throttle_all};
use redis_gcra::decimal::{parse_digits, parse_i64};
use redis_gcra::gcra::{decide, Decision, TatChange};
use redis_gcra::modes::{decide_with, Mode};
use redis_gcra::reply::integers;

/// 2025-11-23, used when the input's clock field is not a usable time.
const DEFAULT_NOW: i64 = 1_763_856_000_000_000_000;

fn check(decision: &Decision, reply: [i64; 5], now: i64) {
    let [limited, limit, remaining, retry, reset] = reply;
    assert!(limited == 0 || limited == 1);
    assert!(limit >= 1 && (0..=limit).contains(&remaining), "{reply:?}");
    assert!(retry >= -1 && reset >= 0, "{reply:?}");
    assert!(limited == 1 || retry == -1, "{reply:?}");
    if let TatChange::Set(tat) = decision.change {
        assert!(tat > now && !decision.limited, "{decision:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut fields = rest.split(|&b| b == 0);
    let now = fields
        .next()
        .and_then(parse_i64)
        .filter(|now| *now >= 0)
        .unwrap_or(DEFAULT_NOW);
    // A stored value that is not a TAT is an error reply before any decision, as in the store.
    let Some(stored) = fields
        .next()
        .unwrap_or_default()
        .split(|&b| b == b',')
        .map(|v| if v.is_empty() { Some(None) } else { parse_digits(v).map(Some) })
        .collect::<Option<Vec<Option<i64>>>>()
    else {
        return;
    };
    let args: Vec<&[u8]> = fields.collect();
    let tat_for = |i: usize| stored.get(i).copied().flatten();

    // SOFT's random draw, from the input so that a crash replays.
    let draw = data.iter().fold(0x9E37_79B9_7F4A_7C15u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3));
    let (states, quantity, unit, request_mode) = if mode % 2 == 0 {
        let Ok(request) = parse_throttle((), &args) else { return };
        if request.mode == Mode::Plain {
            // The hot path: the core alone.
            if let Ok(decision) = decide(&request.limit, request.quantity, tat_for(0), now) {
                check(&decision, integers(&decision, request.unit), now);
            }
        }
        (vec![(request.limit, tat_for(0))], request.quantity, request.unit, request.mode)
    } else {
        let Ok(request) = parse_throttle_all(&args) else { return };
        let states: Vec<_> = request.limits.iter().enumerate().map(|(i, (_, limit))| (*limit, tat_for(i))).collect();
        (states, request.quantity, request.unit, request.mode)
    };
    let Ok(outcome) = decide_with(request_mode, &states, quantity, now, draw) else { return };
    let decision = outcome.decision;
    assert!(!decision.limited || outcome.changes.is_empty());
    assert!(decision.limited || outcome.changes.len() == states.len() || quantity == 0 || quantity < 0);
    check(&decision, integers(&decision, unit), now);
    match request_mode {
        Mode::AtMost => {
            let granted = outcome.extra.expect("granted");
            assert!((0..=quantity).contains(&granted) && (granted == 0) == decision.limited);
        }
        Mode::Soft { .. } => assert!((0..=1000).contains(&outcome.extra.expect("level"))),
        Mode::Block { max_wait_ns } => {
            if let Some(release) = &outcome.release {
                assert!(release.at > now && release.at - now <= max_wait_ns);
                if let Ok(due) = release.decision(release.at) {
                    assert!(!due.limited, "{due:?}");
                }
            }
        }
        Mode::Plain => assert!(outcome.extra.is_none() && outcome.release.is_none()),
    }
});
