//! The modes with a fake clock; SOFT's overload runs use a seeded generator.

use super::*;
use crate::gcra::{decide, Limit};
use crate::units::{NANOS_PER_MILLI, NANOS_PER_SECOND};

const S: i64 = NANOS_PER_SECOND;
const MS: i64 = NANOS_PER_MILLI;
/// 2025-11-23T00:00:00Z.
const T0: i64 = 1_763_856_000 * S;

fn one(limit: Limit, tat: Option<i64>) -> Vec<LimitState> {
    vec![LimitState::new(limit, tat)]
}

fn states(pairs: &[(Limit, Option<i64>)]) -> Vec<LimitState> {
    pairs
        .iter()
        .map(|&(limit, tat)| LimitState::new(limit, tat))
        .collect()
}

/// The sixth element's value, whichever mode gave it.
fn sixth(outcome: &Outcome) -> Option<i64> {
    outcome.sixth.map(Sixth::value)
}

fn stored(outcome: &Outcome, before: Option<i64>) -> Option<i64> {
    match outcome.changes.first() {
        Some(TatChange::Set(tat)) => Some(*tat),
        Some(TatChange::Delete) => None,
        Some(TatChange::Keep) | None => before,
    }
}

#[test]
fn plain_is_the_core_decision() {
    let limit = Limit::new(4, 1, 10 * S).expect("valid");
    for (quantity, tat) in [
        (1, None),
        (3, Some(T0 + 30 * S)),
        (0, Some(T0)),
        (-2, Some(T0 + S)),
    ] {
        let outcome = decide_with(Mode::Plain, &one(limit, tat), quantity, T0, 7).expect("decided");
        let (decision, changes) = decide_all(&one(limit, tat), quantity, T0).expect("decided");
        assert_eq!((sixth(&outcome), &outcome.release), (None, &None));
        assert_eq!((outcome.decision, outcome.changes), (decision, changes));
    }
}

#[test]
fn block_reserves_in_arrival_order_and_answers_when_due() {
    // One token per second, no burst: the first call takes it, the next ones queue.
    let limit = Limit::new(0, 1, S).expect("valid");
    let block = Mode::Block {
        max_wait_ns: 2_500 * MS,
    };
    let first = decide_with(block, &one(limit, None), 1, T0, 0).expect("decided");
    assert!(!first.decision.limited && first.release.is_none());
    let mut tat = stored(&first, None);

    for (n, arrival) in [(1, T0 + MS), (2, T0 + 2 * MS)] {
        let queued = decide_with(block, &one(limit, tat), 1, arrival, 0).expect("decided");
        let release = queued.release.clone().expect("reserved");
        assert_eq!(release.at, T0 + n * S, "due when its token is");
        assert_eq!(queued.changes, [TatChange::Set(T0 + (n + 1) * S)]);
        let due = release.decision(release.at).expect("decided");
        assert_eq!(
            (
                due.limited,
                due.remaining,
                due.retry_after_ns,
                due.reset_after_ns
            ),
            (false, 0, None, S)
        );
        tat = stored(&queued, tat);
    }

    // The third would wait 3 s, past its 2.5 s: limited now, nothing written.
    let late = decide_with(block, &one(limit, tat), 1, T0 + 3 * MS, 0).expect("decided");
    assert!(late.decision.limited && late.release.is_none() && late.changes.is_empty());
    assert_eq!(late.decision.retry_after_ns, Some(3 * S - 3 * MS));
}

#[test]
fn block_does_not_wait_for_what_never_fits() {
    let limit = Limit::new(1, 1, S).expect("valid");
    let outcome = decide_with(
        Mode::Block {
            max_wait_ns: 3_600 * S,
        },
        &one(limit, None),
        5,
        T0,
        0,
    )
    .expect("decided");
    assert!(outcome.decision.limited && outcome.release.is_none());
    assert_eq!(outcome.decision.retry_after_ns, None);
}

#[test]
fn block_over_several_limits_charges_each_as_of_the_release() {
    // Per second (bursts of 2) and per minute (10): the minute limit binds.
    let second = Limit::new(1, 1, S).expect("valid");
    let minute = Limit::new(9, 10, 60 * S).expect("valid");
    let full_minute = Some(T0 + 60 * S);
    let states = states(&[(second, None), (minute, full_minute)]);
    let outcome = decide_with(
        Mode::Block {
            max_wait_ns: 10 * S,
        },
        &states,
        1,
        T0,
        0,
    )
    .expect("decided");
    let release = outcome.release.expect("reserved");
    assert_eq!(release.at, T0 + 6 * S, "one minute token every 6 s");
    // The per-second bucket is charged at the release time, not now.
    assert_eq!(
        outcome.changes,
        [TatChange::Set(T0 + 7 * S), TatChange::Set(T0 + 66 * S)]
    );
}

#[test]
fn at_most_takes_what_fits_and_says_how_much() {
    let limit = Limit::new(4, 1, S).expect("valid");
    let burst = decide_with(Mode::AtMost, &one(limit, None), 50, T0, 0).expect("decided");
    assert_eq!(sixth(&burst), Some(5));
    assert!(!burst.decision.limited);
    assert_eq!(burst.decision.remaining, 0);
    let tat = stored(&burst, None);
    assert_eq!(tat, Some(T0 + 5 * S));

    let empty = decide_with(Mode::AtMost, &one(limit, tat), 3, T0, 0).expect("decided");
    assert_eq!(sixth(&empty), Some(0));
    assert!(empty.decision.limited && empty.changes.is_empty());
    assert_eq!(
        empty.decision.retry_after_ns,
        Some(S),
        "retry for one token"
    );

    let later = decide_with(Mode::AtMost, &one(limit, tat), 3, T0 + 2 * S, 0).expect("decided");
    assert_eq!(sixth(&later), Some(2));
    assert_eq!(stored(&later, tat), Some(T0 + 7 * S));

    let fits = decide_with(Mode::AtMost, &one(limit, None), 2, T0, 0).expect("decided");
    assert_eq!(sixth(&fits), Some(2), "never more than asked");
}

#[test]
fn at_most_over_several_limits_takes_what_fits_in_all() {
    let wide = Limit::new(99, 100, S).expect("valid");
    let narrow = Limit::new(2, 1, S).expect("valid");
    let outcome = decide_with(
        Mode::AtMost,
        &states(&[(wide, None), (narrow, None)]),
        10,
        T0,
        0,
    )
    .expect("decided");
    assert_eq!(sixth(&outcome), Some(3));
    assert_eq!(outcome.changes.len(), 2);
}

/// xorshift64*, seeded: the overload runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Offers `load` times the rate for `seconds`, evenly spaced, to a SOFT limit of 100 per
/// second (bursts of 10, hard factor 3). Returns (admitted, offered) after the first 10 s,
/// and the largest suppression level seen.
fn overload(load: i64, seconds: i64, seed: u64) -> (i64, i64, i64) {
    let limit = Limit::new(9, 100, S).expect("valid");
    let soft = Mode::Soft {
        hard_factor_e9: 3 * S,
    };
    let mut rng = Rng(seed);
    let mut tat = None;
    let (mut admitted, mut offered, mut highest) = (0, 0, 0);
    let spacing = 10 * MS / load;
    let mut now = T0;
    while now < T0 + seconds * S {
        if tat.is_some_and(|t| t <= now) {
            tat = None; // the key expired
        }
        let outcome = decide_with(soft, &one(limit, tat), 1, now, rng.next()).expect("decided");
        tat = stored(&outcome, tat);
        if now >= T0 + 10 * S {
            offered += 1;
            admitted += i64::from(!outcome.decision.limited);
        }
        highest = highest.max(sixth(&outcome).expect("level"));
        now += spacing;
    }
    (admitted, offered, highest)
}

#[test]
fn soft_admits_the_rate_under_steady_overload() {
    for (load, seed) in [(2, 1), (2, 99), (4, 7), (4, 12_345)] {
        let (admitted, offered, highest) = overload(load, 70, seed);
        let fraction = admitted as f64 / offered as f64;
        let ideal = 1.0 / load as f64;
        eprintln!("SOFT at {load}x, seed {seed}: admitted {admitted} of {offered} ({fraction:.4})");
        assert!(
            (fraction - ideal).abs() <= ideal * 0.1,
            "{load}x overload, seed {seed}: admitted {admitted} of {offered} ({fraction:.3})"
        );
        assert!(highest > 0 && highest < 1000, "{highest}");
    }
}

#[test]
fn soft_suppresses_nothing_below_the_soft_limit() {
    // Half the rate: every request fits the normal capacity.
    let (admitted, offered, highest) = overload_below();
    assert_eq!(admitted, offered);
    assert_eq!(highest, 0);
}

fn overload_below() -> (i64, i64, i64) {
    let limit = Limit::new(9, 100, S).expect("valid");
    let soft = Mode::Soft {
        hard_factor_e9: 3 * S,
    };
    let (mut tat, mut admitted, mut offered, mut highest) = (None, 0, 0, 0);
    let mut rng = Rng(5);
    let mut now = T0;
    while now < T0 + 20 * S {
        let outcome = decide_with(soft, &one(limit, tat), 1, now, rng.next()).expect("decided");
        tat = stored(&outcome, tat);
        offered += 1;
        admitted += i64::from(!outcome.decision.limited);
        highest = highest.max(sixth(&outcome).expect("level"));
        now += 20 * MS;
    }
    (admitted, offered, highest)
}

#[test]
fn soft_admits_nothing_past_the_hard_limit() {
    // Capacity 10, hard factor 3: the TAT 30 tokens ahead is at the hard limit.
    let limit = Limit::new(9, 100, S).expect("valid");
    let at_hard = Some(T0 + 300 * MS);
    let soft = Mode::Soft {
        hard_factor_e9: 3 * S,
    };
    for draw in [0, 999_999, u64::MAX, 123_456_789] {
        let outcome = decide_with(soft, &one(limit, at_hard), 1, T0, draw).expect("decided");
        assert!(outcome.decision.limited && outcome.changes.is_empty());
        assert_eq!((sixth(&outcome), outcome.suppressed), (Some(1000), false));
    }
    // Just inside the band: a low draw is refused, a high one admitted, and the reply shows
    // the soft view (allowed, nothing remaining).
    let in_band = Some(T0 + 200 * MS);
    let refused = decide_with(soft, &one(limit, in_band), 1, T0, 0).expect("decided");
    assert!(refused.decision.limited && refused.suppressed);
    assert_eq!(sixth(&refused), Some(550), "11 of 20 tokens into the band");
    let admitted = decide_with(soft, &one(limit, in_band), 1, T0, 999_999).expect("decided");
    assert!(!admitted.decision.limited && !admitted.suppressed);
    assert_eq!(admitted.decision.remaining, 0);
    assert_eq!(admitted.changes, [TatChange::Set(T0 + 210 * MS)]);
}

#[test]
fn soft_with_a_factor_of_one_is_the_plain_limit() {
    let limit = Limit::new(0, 1, S).expect("valid");
    let tat = Some(T0 + S);
    let soft = decide_with(
        Mode::Soft { hard_factor_e9: S },
        &one(limit, tat),
        1,
        T0,
        999_999,
    )
    .expect("decided");
    let plain = decide(&limit, 1, tat, T0).expect("decided");
    assert_eq!(soft.decision, plain);
    assert_eq!(sixth(&soft), Some(1000));
    // Except that its retry_after is never below 1 ms (plain's 400 us says "0 s").
    let close = Some(T0 + 400_000);
    let soft = decide_with(
        Mode::Soft { hard_factor_e9: S },
        &one(limit, close),
        1,
        T0,
        0,
    )
    .expect("decided");
    let plain = decide(&limit, 1, close, T0).expect("decided");
    assert_eq!(plain.retry_after_ns, Some(400_000));
    assert_eq!(
        soft.decision,
        Decision {
            retry_after_ns: Some(MS),
            ..plain
        }
    );
}

#[test]
fn soft_gives_a_retry_time_to_what_only_the_band_can_admit() {
    // Capacity 1, hard factor 3: two tokens never fit the capacity, but may fit the band.
    let limit = Limit::new(0, 1, S).expect("valid");
    let soft = Mode::Soft {
        hard_factor_e9: 3 * S,
    };
    let (mut admitted, mut refused) = (0, 0);
    for draw in (0..1_000_000u64).step_by(99_991) {
        let outcome =
            decide_with(soft, &one(limit, Some(T0 + S / 2)), 2, T0, draw).expect("decided");
        if outcome.decision.limited {
            refused += 1;
            assert_eq!(
                outcome.decision.retry_after_ns,
                Some(S),
                "the bucket drains in 0.5 s, but no sooner than one interval"
            );
        } else {
            admitted += 1;
        }
    }
    assert!(
        admitted > 0 && refused > 0,
        "{admitted} admitted, {refused} refused"
    );
    // Draining takes longer than an interval: when the bucket drains (here past the hard
    // limit: 1.5 s + 2 s ahead of now is over 3 s).
    let full =
        decide_with(soft, &one(limit, Some(T0 + 3 * S / 2)), 2, T0, 999_999).expect("decided");
    assert_eq!((sixth(&full), full.suppressed), (Some(1000), false));
    assert_eq!(full.decision.retry_after_ns, Some(3 * S / 2));
    // Four tokens do not fit even the hard limit (3): never.
    let never = decide_with(soft, &one(limit, None), 4, T0, 999_999).expect("decided");
    assert_eq!(never.decision.retry_after_ns, None);
}

/// Issue 19: `CL.THROTTLE sx 2 1 1 5 SOFT 2` on an empty key said `[1, 3, 3, 0, 0, 666]`:
/// limited, retry at once. Its chance is already the best it gets, so it is told to wait one
/// emission interval, in either unit.
#[test]
fn soft_never_says_retry_in_zero() {
    let soft = |hard_factor_e9| Mode::Soft { hard_factor_e9 };
    let integers = |outcome: &Outcome| {
        [
            crate::reply::integers(&outcome.decision, crate::reply::Unit::Seconds),
            crate::reply::integers(&outcome.decision, crate::reply::Unit::Milliseconds),
        ]
    };
    let limit = Limit::new(2, 1, S).expect("valid");
    let outcome = decide_with(soft(2 * S), &one(limit, None), 5, T0, 0).expect("decided");
    assert_eq!((sixth(&outcome), outcome.suppressed), (Some(666), true));
    assert_eq!(outcome.decision.retry_after_ns, Some(S));
    assert_eq!(integers(&outcome), [[1, 3, 3, 1, 0], [1, 3, 3, 1_000, 0]]);

    // An interval below 1 ms (1 us): at least 1 ms, so the seconds reply says 1.
    let fast = Limit::new(0, 1_000_000, S).expect("valid");
    let outcome = decide_with(soft(3 * S), &one(fast, None), 2, T0, 0).expect("decided");
    assert!(outcome.suppressed);
    assert_eq!(outcome.decision.retry_after_ns, Some(MS));
    assert_eq!(integers(&outcome), [[1, 1, 1, 1, 0], [1, 1, 1, 1, 0]]);

    // A request that fits the capacity, refused just inside the band: the time until it
    // surely passes (0.5 ms) is raised to 1 ms, not to an interval (10 ms).
    let limit = Limit::new(9, 100, S).expect("valid");
    let tat = Some(T0 + 90 * MS + MS / 2);
    let outcome = decide_with(soft(3 * S), &one(limit, tat), 1, T0, 0).expect("decided");
    let plain = decide(&limit, 1, tat, T0).expect("decided");
    assert_eq!(plain.retry_after_ns, Some(MS / 2));
    assert_eq!((sixth(&outcome), outcome.suppressed), (Some(2), true));
    assert_eq!(outcome.decision.retry_after_ns, Some(MS));
    assert_eq!(integers(&outcome), [[1, 10, 0, 1, 1], [1, 10, 0, 1, 91]]);
    // Where the time until it surely passes is longer, it is kept as it is.
    let deeper = Some(T0 + 150 * MS);
    let outcome = decide_with(soft(3 * S), &one(limit, deeper), 1, T0, 0).expect("decided");
    assert!(outcome.suppressed);
    assert_eq!(outcome.decision.retry_after_ns, Some(60 * MS));
}

#[test]
fn soft_paces_an_oversized_request_at_the_slowest_limit_that_refuses_it() {
    // Two tokens: more than the per-second limit's capacity (1); the per-minute one (bursts
    // of 2, an interval of 6 s) refuses them only while it holds less than two.
    let second = Limit::new(0, 1, S).expect("valid");
    let minute = Limit::new(1, 10, 60 * S).expect("valid");
    let soft = Mode::Soft {
        hard_factor_e9: 3 * S,
    };
    let retry = |minute_tat| {
        let outcome = decide_with(
            soft,
            &states(&[(second, None), (minute, minute_tat)]),
            2,
            T0,
            0,
        )
        .expect("decided");
        assert!(
            outcome.decision.limited && outcome.suppressed,
            "{outcome:?}"
        );
        outcome.decision.retry_after_ns
    };
    assert_eq!(
        retry(None),
        Some(S),
        "the per-minute limit does not refuse: not 6 s"
    );
    assert_eq!(
        retry(Some(T0 + S)),
        Some(6 * S),
        "both refuse: the longer interval"
    );
    assert_eq!(
        retry(Some(T0 + 10 * S)),
        Some(10 * S),
        "when both have drained"
    );
}
