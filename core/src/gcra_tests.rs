//! Table tests of the core with a fake clock, plus property tests over the whole i64 range.

use super::*;
use crate::reply::{integers, Unit};
use crate::units::{NANOS_PER_MILLI, NANOS_PER_SECOND};
use proptest::prelude::*;

/// The reply redis-cell would give, durations in seconds.
fn seconds(decision: &Decision) -> [i64; 5] {
    integers(decision, Unit::Seconds)
}

const S: i64 = NANOS_PER_SECOND;
const MS: i64 = NANOS_PER_MILLI;
/// 2025-11-23T00:00:00Z, an arbitrary realistic "now".
const T0: i64 = 1_763_856_000 * S;

/// A key and a clock: applies each decision's write the way the store does.
struct FakeBucket {
    limit: Limit,
    now: i64,
    tat: Option<i64>,
}

impl FakeBucket {
    fn new(max_burst: i64, count: i64, period_s: i64) -> Self {
        let limit = Limit::new(max_burst, count, period_s * S).expect("valid limit");
        FakeBucket {
            limit,
            now: T0,
            tat: None,
        }
    }

    fn advance(&mut self, ns: i64) {
        self.now += ns;
        // The key expires at its TAT, like the real one.
        if self.tat.is_some_and(|tat| tat <= self.now) {
            self.tat = None;
        }
    }

    fn call(&mut self, quantity: i64) -> [i64; 5] {
        let decision = decide(&self.limit, quantity, self.tat, self.now).expect("decision");
        match decision.change {
            TatChange::Keep => {}
            TatChange::Set(tat) => self.tat = Some(tat),
            TatChange::Delete => self.tat = None,
        }
        seconds(&decision)
    }
}

#[test]
fn seed_sequence_user123_15_30_60() {
    let mut bucket = FakeBucket::new(15, 30, 60);
    for i in 1..=16 {
        // "Quick calls": a millisecond apart.
        assert_eq!(bucket.call(1), [0, 16, 16 - i, -1, 2 * i], "call {i}");
        bucket.advance(MS / 10);
    }
    for _ in 0..4 {
        assert_eq!(bucket.call(1), [1, 16, 0, 2, 32]);
        bucket.advance(MS / 10);
    }
}

#[test]
fn seed_burst_zero() {
    let mut bucket = FakeBucket::new(0, 1, 2);
    assert_eq!(bucket.call(1), [0, 1, 0, -1, 2]);
    bucket.advance(1);
    assert_eq!(bucket.call(1), [1, 1, 0, 2, 2]);
}

#[test]
fn seed_quantity_that_never_fits() {
    let mut bucket = FakeBucket::new(15, 30, 60);
    assert_eq!(bucket.call(17), [1, 16, 16, -1, 0]);
    assert_eq!(bucket.tat, None, "a limited call writes nothing");
}

#[test]
fn seed_sub_microsecond_intervals_are_exact() {
    for (count, interval_ns) in [(100_000_000, 10), (666_667, 1_499)] {
        let limit = Limit::new(10, count, S).expect("valid");
        let decision = decide(&limit, 1, None, T0).expect("decision");
        assert_eq!(decision.remaining, 10, "count {count}");
        assert_eq!(decision.change, TatChange::Set(T0 + interval_ns));
    }
}

/// The classic table: burst 4 (capacity 5), one token every 10 s, time advanced
/// between calls. Each row: seconds to advance, quantity, expected reply.
#[test]
fn classic_table_burst_4_one_per_10s() {
    let rows: [(i64, i64, [i64; 5]); 14] = [
        (0, 1, [0, 5, 4, -1, 10]),
        (0, 1, [0, 5, 3, -1, 20]),
        (0, 1, [0, 5, 2, -1, 30]),
        (0, 1, [0, 5, 1, -1, 40]),
        (0, 1, [0, 5, 0, -1, 50]),
        (0, 1, [1, 5, 0, 10, 50]),
        (10, 1, [0, 5, 0, -1, 50]),
        (5, 1, [1, 5, 0, 5, 45]),
        (5, 0, [0, 5, 1, -1, 40]),
        (20, 2, [0, 5, 1, -1, 40]),
        (0, 2, [1, 5, 1, 10, 40]),
        (0, -3, [0, 5, 4, -1, 10]),
        (10, 0, [0, 5, 5, -1, 0]),
        (100, 6, [1, 5, 5, -1, 0]),
    ];
    let mut bucket = FakeBucket::new(4, 1, 10);
    for (row, (advance_s, quantity, expected)) in rows.into_iter().enumerate() {
        bucket.advance(advance_s * S);
        assert_eq!(bucket.call(quantity), expected, "row {row}");
    }
}

#[test]
fn peek_on_a_fresh_key_reports_full_capacity_and_writes_nothing() {
    let limit = Limit::new(15, 30, 60 * S).expect("valid");
    let decision = decide(&limit, 0, None, T0).expect("decision");
    assert_eq!(seconds(&decision), [0, 16, 16, -1, 0]);
    assert_eq!(decision.change, TatChange::Keep);
}

#[test]
fn peek_matches_state_without_writing() {
    let mut bucket = FakeBucket::new(4, 1, 10);
    bucket.call(3);
    let before = bucket.tat;
    assert_eq!(bucket.call(0), [0, 5, 2, -1, 30]);
    assert_eq!(bucket.tat, before);
}

#[test]
fn peek_on_an_exhausted_key_is_not_limited() {
    let mut bucket = FakeBucket::new(0, 1, 10);
    bucket.call(1);
    assert_eq!(bucket.call(0), [0, 1, 0, -1, 10]);
}

#[test]
fn refund_never_exceeds_capacity_and_deletes_a_full_bucket() {
    let limit = Limit::new(4, 1, 10 * S).expect("valid");
    let tat = T0 + 20 * S;
    let partial = decide(&limit, -1, Some(tat), T0).expect("decision");
    assert_eq!(partial.change, TatChange::Set(T0 + 10 * S));
    assert_eq!(seconds(&partial), [0, 5, 4, -1, 10]);

    let huge = decide(&limit, -1_000, Some(tat), T0).expect("decision");
    assert_eq!(huge.change, TatChange::Delete);
    assert_eq!(seconds(&huge), [0, 5, 5, -1, 0]);

    let absent = decide(&limit, -1, None, T0).expect("decision");
    assert_eq!(absent.change, TatChange::Keep, "nothing to delete");
}

#[test]
fn limit_validation() {
    assert_eq!(Limit::new(-1, 1, S), Err(Error::InvalidMaxBurst));
    assert_eq!(Limit::new(i64::MAX, 1, S), Err(Error::InvalidMaxBurst));
    assert_eq!(Limit::new(0, 0, S), Err(Error::InvalidCount));
    assert_eq!(Limit::new(0, -3, S), Err(Error::InvalidCount));
    assert_eq!(Limit::new(0, 1, 0), Err(Error::InvalidPeriod));
    assert_eq!(Limit::new(0, S + 1, S), Err(Error::RateTooHigh));
    assert!(
        Limit::new(0, S, S).is_ok(),
        "exactly one token per nanosecond"
    );
    assert!(Limit::new(i64::MAX - 1, 1, i64::MAX).is_ok());
}

#[test]
fn stored_tat_far_in_the_past_acts_like_a_fresh_key() {
    let limit = Limit::new(15, 30, 60 * S).expect("valid");
    let old = decide(&limit, 1, Some(0), T0).expect("decision");
    let fresh = decide(&limit, 1, None, T0).expect("decision");
    assert_eq!(old, fresh);
}

#[test]
fn stored_tat_far_in_the_future_is_limited_with_sane_values() {
    let limit = Limit::new(15, 30, 60 * S).expect("valid");
    let decision = decide(&limit, 1, Some(i64::MAX), T0).expect("decision");
    assert!(decision.limited);
    assert_eq!(decision.remaining, 0);
    assert_eq!(decision.reset_after_ns, i64::MAX - T0);
    assert!(decision.retry_after_ns.is_some_and(|ns| ns > 0));
    assert_eq!(decision.change, TatChange::Keep);
}

#[test]
fn a_tat_that_would_not_fit_is_an_error_not_a_wrap() {
    // Enormous tolerance lets the call through, but the new TAT exceeds i64.
    let limit = Limit::new(i64::MAX - 1, 1, i64::MAX).expect("valid");
    assert_eq!(decide(&limit, 2, None, T0), Err(Error::Overflow));
    // A huge burst with a small interval is fine: the TAT fits.
    let wide = Limit::new(i64::MAX - 1, 1, S).expect("valid");
    let decision = decide(&wide, 1, None, T0).expect("decision");
    assert_eq!(decision.remaining, i64::MAX - 1);
}

fn any_limit() -> impl Strategy<Value = Limit> {
    // count <= period keeps the interval at one nanosecond or more.
    (1..=i64::MAX)
        .prop_flat_map(|period| (0..i64::MAX, 1..=period, Just(period)))
        .prop_map(|(burst, count, period)| Limit::new(burst, count, period).expect("valid"))
}

fn edge_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0i64),
        Just(-1i64),
        Just(1i64),
        -1000i64..1000,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// Over the whole range no input panics (overflow checks are on in tests),
    /// and every reply is within its documented bounds.
    #[test]
    fn never_panics_and_replies_stay_in_bounds(
        limit in any_limit(),
        quantity in edge_i64(),
        stored in proptest::option::of(0..=i64::MAX),
        now in 0..=i64::MAX,
    ) {
        if let Ok(d) = decide(&limit, quantity, stored, now) {
            let [limited, cap, remaining, retry, reset] = seconds(&d);
            prop_assert!(limited == 0 || limited == 1);
            prop_assert_eq!(cap, limit.capacity());
            prop_assert!((0..=cap).contains(&remaining));
            prop_assert!(retry == -1 || retry >= 0);
            prop_assert!(reset >= 0);
            match d.change {
                TatChange::Set(tat) => prop_assert!(tat > now && !d.limited && quantity != 0),
                TatChange::Delete => prop_assert!(quantity < 0 && stored.is_some()),
                TatChange::Keep => prop_assert!(d.limited || quantity <= 0),
            }
        }
    }

    /// Limited calls and peeks never write; allowed consuming calls always do.
    #[test]
    fn writes_only_when_allowed_and_consuming(
        burst in 0i64..1000,
        count in 1i64..1000,
        period_s in 1i64..100_000,
        quantity in -10i64..2000,
        ahead in -100_000 * S..100_000 * S,
    ) {
        let limit = Limit::new(burst, count, period_s * S).expect("valid");
        let stored = Some(T0 + ahead);
        let d = decide(&limit, quantity, stored, T0).expect("in range");
        if quantity > 0 && !d.limited {
            prop_assert!(matches!(d.change, TatChange::Set(_)));
        }
        if d.limited || quantity == 0 {
            prop_assert_eq!(d.change, TatChange::Keep);
        }
    }

    /// The bucket never lets through more than capacity + elapsed / interval.
    #[test]
    fn allowed_tokens_never_exceed_the_rate(
        burst in 0i64..20,
        count in 1i64..50,
        steps in proptest::collection::vec((0i64..3 * S, 1i64..4), 1..200),
    ) {
        let limit = Limit::new(burst, count, 10 * S).expect("valid");
        let interval = 10 * S / count;
        let (mut now, mut tat, mut allowed) = (T0, None, 0i64);
        for (gap, quantity) in steps {
            now += gap;
            let d = decide(&limit, quantity, tat, now).expect("in range");
            if let TatChange::Set(new_tat) = d.change {
                tat = Some(new_tat);
                allowed += quantity;
            }
        }
        prop_assert!(allowed <= burst + 1 + (now - T0) / interval);
    }
}

#[test]
fn ms_reply_of_100_per_second() {
    let limit = Limit::new(10, 100, S).expect("valid");
    let decision = decide(&limit, 1, None, T0).expect("decision");
    assert_eq!(integers(&decision, Unit::Milliseconds), [0, 11, 10, -1, 10]);
    assert_eq!(integers(&decision, Unit::Seconds), [0, 11, 10, -1, 1]);
}

#[test]
fn half_second_period() {
    let limit = Limit::new(4, 1, S / 2).expect("valid");
    assert_eq!(
        integers(
            &decide(&limit, 1, None, T0).expect("decision"),
            Unit::Seconds
        ),
        [0, 5, 4, -1, 1]
    );
    let quarter = Limit::new(4, 1, S / 4).expect("valid");
    assert_eq!(
        integers(
            &decide(&quarter, 1, None, T0).expect("decision"),
            Unit::Milliseconds
        )[4],
        250
    );
}

fn decision(limited: bool, remaining: i64, retry: Option<i64>, reset: i64) -> Decision {
    Decision {
        limited,
        capacity: 100 + remaining,
        remaining,
        retry_after_ns: retry,
        reset_after_ns: reset,
        change: TatChange::Keep,
    }
}

#[test]
fn combine_takes_the_tightest_limit_and_the_longest_waits() {
    let combined = combine(&[
        decision(false, 5, None, 10),
        decision(true, 2, Some(7), 30),
        decision(true, 2, Some(9), 20),
        decision(false, 3, None, 40),
    ]);
    assert!(combined.limited);
    assert_eq!(
        (combined.capacity, combined.remaining),
        (102, 2),
        "first of the ties"
    );
    assert_eq!(combined.retry_after_ns, Some(9));
    assert_eq!(combined.reset_after_ns, 40);
}

#[test]
fn combine_says_never_if_any_limited_limit_can_never_fit() {
    let combined = combine(&[decision(true, 0, Some(7), 1), decision(true, 4, None, 2)]);
    assert_eq!(combined.retry_after_ns, None);
    let allowed = combine(&[decision(false, 1, None, 1), decision(false, 0, None, 2)]);
    assert!(!allowed.limited);
    assert_eq!(
        (
            allowed.remaining,
            allowed.retry_after_ns,
            allowed.reset_after_ns
        ),
        (0, None, 2)
    );
}

#[test]
fn several_limits_are_all_or_nothing() {
    let per_second = Limit::new(1, 1, S).expect("valid");
    let per_minute = Limit::new(2, 3, 60 * S).expect("valid");
    let mut tats = [None, None];
    let call = |now: i64, tats: &mut [Option<i64>; 2]| {
        let states = [
            LimitState::new(per_second, tats[0]),
            LimitState::new(per_minute, tats[1]),
        ];
        let (decision, writes) = decide_all(&states, 1, now).expect("decision");
        for (tat, write) in tats.iter_mut().zip(&writes) {
            if let TatChange::Set(new_tat) = write {
                *tat = Some(*new_tat);
            }
        }
        (seconds(&decision), writes.len())
    };
    // Per second (capacity 2) is the tightest at first; reset follows per minute (20 s a token).
    assert_eq!(call(T0, &mut tats), ([0, 2, 1, -1, 20], 2));
    assert_eq!(call(T0, &mut tats), ([0, 2, 0, -1, 40], 2));
    let before = tats;
    // Per second is now exhausted: limited, nothing charged anywhere.
    assert_eq!(call(T0, &mut tats), ([1, 2, 0, 1, 40], 0));
    assert_eq!(tats, before);
    assert_eq!(call(T0 + 2 * S, &mut tats), ([0, 3, 0, -1, 58], 2));
    // Per minute is exhausted now; per second alone would allow.
    assert_eq!(call(T0 + 4 * S, &mut tats), ([1, 3, 0, 16, 56], 0));
}

proptest! {
    /// CL.THROTTLEALL charges every limit or none, and its reply is never looser than any limit.
    #[test]
    fn decide_all_is_all_or_nothing(
        limits in proptest::collection::vec((0i64..50, 1i64..100, 1i64..3600, -3_600i64..3_600), 1..6),
        quantity in -5i64..20,
    ) {
        let states: Vec<LimitState> = limits
            .iter()
            .map(|&(burst, count, period_s, ahead_s)| {
                let limit = Limit::new(burst, count, period_s * S).expect("valid");
                LimitState::new(limit, Some(T0 + ahead_s * S))
            })
            .collect();
        let (combined, writes) = decide_all(&states, quantity, T0).expect("in range");
        let singles: Vec<Decision> = states
            .iter()
            .map(|state| decide(&state.limit, quantity, state.tat, T0).expect("in range"))
            .collect();
        prop_assert_eq!(combined.limited, singles.iter().any(|d| d.limited));
        if combined.limited {
            prop_assert!(writes.is_empty());
        } else {
            prop_assert_eq!(writes, singles.iter().map(|d| d.change).collect::<Vec<_>>());
            prop_assert_eq!(combined.remaining, singles.iter().map(|d| d.remaining).min().unwrap_or(0));
            prop_assert_eq!(combined.reset_after_ns, singles.iter().map(|d| d.reset_after_ns).max().unwrap_or(0));
        }
    }
}
