//! The commands' argument grammar: CL.THROTTLE's (and CL.PEEK's) and CL.THROTTLEALL's
//! arguments into typed, validated values.
//!
//! Works on raw argument bytes (Redis arguments need not be UTF-8). Keys are not parsed, only
//! compared (CL.THROTTLEALL refuses the same key twice); the pipeline says where they are.

#![forbid(unsafe_code)]

use std::collections::HashSet;

use crate::decimal::{parse_i64, parse_seconds_as_nanos};
use crate::error::Error;
use crate::gcra::Limit;
pub use crate::modes::Mode;
use crate::reply::Unit;
use crate::units::{NANOS_PER_MILLI, NANOS_PER_SECOND};

/// An argument's bytes, as the parser reads them: a slice, or a caller's own argument type
/// read only when needed (the module answers Redis's keys requests without reading every
/// argument).
pub trait ArgBytes: Copy {
    fn bytes(&self) -> &[u8];
}

impl ArgBytes for &[u8] {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// One validated CL.THROTTLE (or CL.PEEK) request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub limit: Limit,
    /// Tokens to take: 0 peeks, negative refunds.
    pub quantity: i64,
    pub unit: Unit,
    pub mode: Mode,
}

/// One validated CL.THROTTLEALL request: the limits of distinct keys, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleAll {
    pub limits: Vec<Limit>,
    pub quantity: i64,
    pub unit: Unit,
    pub mode: Mode,
}

/// Most option arguments after the limit: quantity, MS and a mode with its value.
const MAX_OPTION_ARGS: usize = 4;

/// Most arguments CL.THROTTLE takes after the key: max_burst count period and the options.
pub const MAX_ARGS_AFTER_KEY: usize = 3 + MAX_OPTION_ARGS;

/// BLOCK's largest wait: the milliseconds whose nanoseconds fit in 64 bits.
const MAX_BLOCK_MS: i64 = i64::MAX / NANOS_PER_MILLI;

/// SOFT's hard factor: from 1 to 1000, in billionths.
const SOFT_FACTOR_RANGE: std::ops::RangeInclusive<i64> = NANOS_PER_SECOND..=1000 * NANOS_PER_SECOND;

/// Parses the arguments after CL.THROTTLE's key:
/// `max_burst count period [quantity] [MS] [BLOCK ms | ATMOST | SOFT hard_factor]`.
pub fn parse_throttle(args: &[&[u8]]) -> Result<Throttle, Error> {
    let [max_burst, count, period, options @ ..] = args else {
        return Err(Error::WrongArity);
    };
    let limit = parse_limit(max_burst, count, period)?;
    let (quantity, unit, mode) = parse_options(options, Error::WrongArity)?;
    Ok(Throttle {
        limit,
        quantity,
        unit,
        mode,
    })
}

/// Parses `numlimits key max_burst count period [key max_burst count period ...] [quantity]
/// [MS] [BLOCK ms | ATMOST | SOFT hard_factor]`, the arguments after the command name. The same key twice is an error: two limits on one
/// key would race on one TAT. The check hashes each key once, so it is linear in the number
/// and bytes of the keys (SipHash with a random key: no crafted names make it quadratic).
pub fn parse_throttle_all<K: ArgBytes>(args: &[K]) -> Result<ThrottleAll, Error> {
    let [numlimits, rest @ ..] = args else {
        return Err(Error::WrongArityAll);
    };
    let groups = parse_i64(numlimits.bytes())
        .filter(|&n| n >= 1)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(Error::InvalidNumLimits)?;
    let (group_args, options) = groups
        .checked_mul(GROUP_LEN)
        .and_then(|len| rest.split_at_checked(len))
        .ok_or(Error::InvalidNumLimits)?;
    let limits = group_args
        .chunks_exact(GROUP_LEN)
        .map(|group| match group {
            [_key, max_burst, count, period] => {
                parse_limit(max_burst.bytes(), count.bytes(), period.bytes())
            }
            _ => Err(Error::InvalidNumLimits),
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let options: Vec<&[u8]> = options.iter().map(ArgBytes::bytes).collect();
    let (quantity, unit, mode) = parse_options(&options, Error::WrongArityAll)?;
    let mut seen = HashSet::with_capacity(limits.len());
    let mut keys = group_args.iter().step_by(GROUP_LEN);
    if !keys.all(|key| seen.insert(key.bytes())) {
        return Err(Error::DuplicateKey);
    }
    Ok(ThrottleAll {
        limits,
        quantity,
        unit,
        mode,
    })
}

/// Where CL.THROTTLEALL's keys are among the arguments after the command name, as far as
/// they can be found (for Redis's getkeys requests, which come before any validation).
pub fn throttle_all_key_positions<K: ArgBytes>(args: &[K]) -> impl Iterator<Item = usize> {
    let groups = args
        .first()
        .and_then(|numlimits| parse_i64(numlimits.bytes()))
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    let len = args.len();
    (0..groups)
        .map(|i| 1 + i * GROUP_LEN)
        .take_while(move |&at| at < len)
}

/// `key max_burst count period`
pub const GROUP_LEN: usize = 4;

fn parse_limit(max_burst: &[u8], count: &[u8], period: &[u8]) -> Result<Limit, Error> {
    let max_burst = parse_i64(max_burst).ok_or(Error::InvalidMaxBurst)?;
    let count = parse_i64(count).ok_or(Error::InvalidCount)?;
    let period_ns = parse_seconds_as_nanos(period).ok_or(Error::InvalidPeriod)?;
    Limit::new(max_burst, count, period_ns)
}

/// `[quantity] [MS] [BLOCK ms | ATMOST | SOFT hard_factor]`: the quantity (default 1) comes
/// first; the options follow in any order, each at most once, in any case.
fn parse_options(options: &[&[u8]], too_many: Error) -> Result<(i64, Unit, Mode), Error> {
    if options.is_empty() {
        // redis-cell's plain form: the hot path.
        return Ok((1, Unit::Seconds, Mode::Plain));
    }
    if options.len() > MAX_OPTION_ARGS {
        return Err(too_many_options(options, too_many));
    }
    let (quantity, mut rest) = match options.split_first() {
        Some((first, rest)) if !is_option(first) => (parse_quantity(first)?, rest),
        _ => (1, options),
    };
    let (mut unit, mut mode, mut seen) = (Unit::Seconds, Mode::Plain, Keywords::default());
    while let Some((&option, after)) = rest.split_first() {
        rest = after;
        let keyword = Keyword::of(option).ok_or(Error::UnknownOption)?;
        // A repeat or a second mode is wrong whatever value follows: said before reading it.
        if !seen.insert(keyword) {
            return Err(Error::RepeatedOption);
        }
        if keyword != Keyword::Ms && mode != Mode::Plain {
            return Err(Error::ConflictingOptions);
        }
        match keyword {
            Keyword::Ms => unit = Unit::Milliseconds,
            Keyword::AtMost => mode = Mode::AtMost,
            Keyword::Block => {
                let (&ms, after) = rest.split_first().ok_or(Error::InvalidBlock)?;
                rest = after;
                let ms = parse_i64(ms)
                    .filter(|ms| (0..=MAX_BLOCK_MS).contains(ms))
                    .ok_or(Error::InvalidBlock)?;
                mode = Mode::Block {
                    max_wait_ns: ms * NANOS_PER_MILLI,
                };
            }
            Keyword::Soft => {
                let (&factor, after) = rest.split_first().ok_or(Error::InvalidSoft)?;
                rest = after;
                let hard_factor_e9 = parse_seconds_as_nanos(factor)
                    .filter(|f| SOFT_FACTOR_RANGE.contains(f))
                    .ok_or(Error::InvalidSoft)?;
                mode = Mode::Soft { hard_factor_e9 };
            }
        }
    }
    if mode != Mode::Plain && quantity < 1 {
        return Err(Error::ModeNeedsQuantity);
    }
    Ok((quantity, unit, mode))
}

/// CL.THROTTLE's (and CL.PEEK's) error for more than [`MAX_ARGS_AFTER_KEY`] arguments after
/// the key, which the handler gives before it reads the limit (as Redis checks an arity).
pub fn too_many_args<K: ArgBytes>(args_after_key: &[K]) -> Error {
    too_many_options(
        args_after_key.get(3..).unwrap_or_default(),
        Error::WrongArity,
    )
}

/// The error for more option arguments than any valid request has (a quantity, MS and a mode
/// with its value): an option given twice, if one is, names the mistake (`BLOCK 1 BLOCK 2`);
/// otherwise the command's wrong arity. The options are read as the parser reads them (BLOCK
/// and SOFT take the next argument as their value; anything else is passed over), and past
/// the cap only: this may read every argument, the hot path never comes here.
fn too_many_options<K: ArgBytes>(options: &[K], wrong_arity: Error) -> Error {
    let (mut seen, mut rest) = (Keywords::default(), options);
    while let Some((option, after)) = rest.split_first() {
        rest = after;
        let Some(keyword) = Keyword::of(option.bytes()) else {
            continue;
        };
        if !seen.insert(keyword) {
            return Error::RepeatedOption;
        }
        if matches!(keyword, Keyword::Block | Keyword::Soft) {
            rest = rest.get(1..).unwrap_or_default();
        }
    }
    wrong_arity
}

/// An option's keyword (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    Ms,
    Block,
    AtMost,
    Soft,
}

impl Keyword {
    fn of(arg: &[u8]) -> Option<Keyword> {
        [
            (Keyword::Ms, &b"MS"[..]),
            (Keyword::Block, b"BLOCK"),
            (Keyword::AtMost, b"ATMOST"),
            (Keyword::Soft, b"SOFT"),
        ]
        .into_iter()
        .find_map(|(keyword, name)| arg.eq_ignore_ascii_case(name).then_some(keyword))
    }
}

/// The keywords given so far.
#[derive(Default)]
struct Keywords(u8);

impl Keywords {
    /// Adds `keyword`; false if it was given already.
    fn insert(&mut self, keyword: Keyword) -> bool {
        let bit = 1 << keyword as u8;
        let new = self.0 & bit == 0;
        self.0 |= bit;
        new
    }
}

fn is_option(arg: &[u8]) -> bool {
    Keyword::of(arg).is_some()
}

fn parse_quantity(bytes: &[u8]) -> Result<i64, Error> {
    parse_i64(bytes).ok_or(Error::InvalidQuantity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::NANOS_PER_SECOND;
    use proptest::prelude::*;

    fn parse(args: &[&str]) -> Result<Throttle, Error> {
        let bytes: Vec<&[u8]> = args.iter().map(|arg| arg.as_bytes()).collect();
        parse_throttle(&bytes)
    }

    #[test]
    fn parses_the_plain_form_with_default_quantity() {
        let throttle = parse(&["15", "30", "60"]).expect("valid");
        assert_eq!(throttle.quantity, 1);
        assert_eq!(
            throttle.limit,
            Limit::new(15, 30, 60 * NANOS_PER_SECOND).expect("valid")
        );
    }

    #[test]
    fn parses_explicit_signed_quantities() {
        assert_eq!(parse(&["1", "1", "1", "0"]).map(|t| t.quantity), Ok(0));
        assert_eq!(parse(&["1", "1", "1", "-3"]).map(|t| t.quantity), Ok(-3));
        assert_eq!(parse(&["1", "1", "1", "+7"]).map(|t| t.quantity), Ok(7));
    }

    #[test]
    fn each_bad_argument_is_named() {
        let cases: [(&[&str], Error); 16] = [
            (&[], Error::WrongArity),
            (&["1", "1"], Error::WrongArity),
            (
                &["1", "1", "1", "1", "MS", "BLOCK", "1", "x"],
                Error::WrongArity,
            ),
            (&["x", "1", "1"], Error::InvalidMaxBurst),
            (&["-1", "1", "1"], Error::InvalidMaxBurst),
            (&["9223372036854775807", "1", "1"], Error::InvalidMaxBurst),
            (&["1", "0", "1"], Error::InvalidCount),
            (&["1", "1.5", "1"], Error::InvalidCount),
            (&["1", "", "1"], Error::InvalidCount),
            (&["1", "1", "0"], Error::InvalidPeriod),
            (&["1", "1", "-60"], Error::InvalidPeriod),
            (&["1", "1", " 60"], Error::InvalidPeriod),
            (&["1", "1", "9223372037"], Error::InvalidPeriod),
            (&["1", "1", "1", "1e3"], Error::InvalidQuantity),
            (
                &["1", "1", "1", "99999999999999999999"],
                Error::InvalidQuantity,
            ),
            (&["1", "2000000000", "1"], Error::RateTooHigh),
        ];
        for (args, expected) in cases {
            assert_eq!(parse(args), Err(expected), "{args:?}");
        }
    }

    #[test]
    fn ms_option_in_any_case_with_or_without_quantity() {
        let cases: [(&[&str], i64, Unit); 6] = [
            (&["15", "30", "60", "MS"], 1, Unit::Milliseconds),
            (&["15", "30", "60", "ms"], 1, Unit::Milliseconds),
            (&["15", "30", "60", "mS"], 1, Unit::Milliseconds),
            (&["15", "30", "60", "3", "MS"], 3, Unit::Milliseconds),
            (&["15", "30", "60", "0", "Ms"], 0, Unit::Milliseconds),
            (&["15", "30", "60", "-2"], -2, Unit::Seconds),
        ];
        for (args, quantity, unit) in cases {
            let throttle = parse(args).expect("valid");
            assert_eq!(
                (throttle.quantity, throttle.unit),
                (quantity, unit),
                "{args:?}"
            );
        }
    }

    #[test]
    fn unknown_options_and_extra_arguments_are_errors() {
        let cases: [(&[&str], Error); 7] = [
            (&["1", "1", "1", "1", "SECONDS"], Error::UnknownOption),
            (&["1", "1", "1", "1", "MSS"], Error::UnknownOption),
            (&["1", "1", "1", "FOO"], Error::InvalidQuantity),
            (&["1", "1", "1", "MS", "1"], Error::UnknownOption),
            (&["1", "1", "1", "1", "1"], Error::UnknownOption),
            (&["1", "1", "1", "1", "MS", "MS"], Error::RepeatedOption),
            (&["1", "1", "1", "ms", "Ms"], Error::RepeatedOption),
        ];
        for (args, expected) in cases {
            assert_eq!(parse(args), Err(expected), "{args:?}");
        }
    }

    #[test]
    fn modes_parse_in_any_order_after_the_quantity() {
        let cases: [(&[&str], i64, Unit, Mode); 8] = [
            (&["1", "1", "1"], 1, Unit::Seconds, Mode::Plain),
            (
                &["1", "1", "1", "BLOCK", "250"],
                1,
                Unit::Seconds,
                Mode::Block {
                    max_wait_ns: 250_000_000,
                },
            ),
            (
                &["1", "1", "1", "3", "block", "0", "ms"],
                3,
                Unit::Milliseconds,
                Mode::Block { max_wait_ns: 0 },
            ),
            (
                &["1", "1", "1", "50", "ATMOST"],
                50,
                Unit::Seconds,
                Mode::AtMost,
            ),
            (
                &["1", "1", "1", "MS", "atmost"],
                1,
                Unit::Milliseconds,
                Mode::AtMost,
            ),
            (
                &["1", "1", "1", "SOFT", "2"],
                1,
                Unit::Seconds,
                Mode::Soft {
                    hard_factor_e9: 2_000_000_000,
                },
            ),
            (
                &["1", "1", "1", "2", "soft", "1.5", "MS"],
                2,
                Unit::Milliseconds,
                Mode::Soft {
                    hard_factor_e9: 1_500_000_000,
                },
            ),
            (
                &["1", "1", "1", "SOFT", "1000"],
                1,
                Unit::Seconds,
                Mode::Soft {
                    hard_factor_e9: 1_000_000_000_000,
                },
            ),
        ];
        for (args, quantity, unit, mode) in cases {
            let throttle = parse(args).expect("valid");
            assert_eq!(
                (throttle.quantity, throttle.unit, throttle.mode),
                (quantity, unit, mode),
                "{args:?}"
            );
        }
    }

    #[test]
    fn bad_modes_are_named() {
        let cases: [(&[&str], Error); 13] = [
            (&["1", "1", "1", "BLOCK"], Error::InvalidBlock),
            (&["1", "1", "1", "BLOCK", "-1"], Error::InvalidBlock),
            (&["1", "1", "1", "BLOCK", "1.5"], Error::InvalidBlock),
            (
                &["1", "1", "1", "BLOCK", "9223372036855"],
                Error::InvalidBlock,
            ),
            (&["1", "1", "1", "SOFT"], Error::InvalidSoft),
            (&["1", "1", "1", "SOFT", "0.999999999"], Error::InvalidSoft),
            (
                &["1", "1", "1", "SOFT", "1000.000000001"],
                Error::InvalidSoft,
            ),
            (&["1", "1", "1", "SOFT", "2e1"], Error::InvalidSoft),
            (&["1", "1", "1", "ATMOST", "ATMOST"], Error::RepeatedOption),
            (
                &["1", "1", "1", "ATMOST", "BLOCK", "5"],
                Error::ConflictingOptions,
            ),
            (&["1", "1", "1", "0", "ATMOST"], Error::ModeNeedsQuantity),
            (
                &["1", "1", "1", "-1", "SOFT", "2"],
                Error::ModeNeedsQuantity,
            ),
            (&["1", "1", "1", "BLOCK", "5", "1"], Error::UnknownOption),
        ];
        for (args, expected) in cases {
            assert_eq!(parse(args), Err(expected), "{args:?}");
        }
    }

    #[test]
    fn an_option_twice_is_named_before_its_value_and_past_the_cap() {
        let cases: [(&[&str], Error); 18] = [
            // The same mode twice, within the cap and past it.
            (&["1", "1", "1", "atmost", "ATMOST"], Error::RepeatedOption),
            (
                &["1", "1", "1", "SOFT", "2", "soft", "3"],
                Error::RepeatedOption,
            ),
            (
                &["1", "1", "1", "BLOCK", "1", "BLOCK", "x"],
                Error::RepeatedOption,
            ),
            (
                &["1", "1", "1", "1", "BLOCK", "1", "BLOCK", "2"],
                Error::RepeatedOption,
            ),
            (
                &["1", "1", "1", "1", "SOFT", "2", "SOFT", "2"],
                Error::RepeatedOption,
            ),
            (
                &["1", "1", "1", "1", "ATMOST", "MS", "ATMOST", "MS"],
                Error::RepeatedOption,
            ),
            (
                &["1", "1", "1", "MS", "x", "y", "z", "ms"],
                Error::RepeatedOption,
            ),
            // Two different modes: whatever value follows the second.
            (
                &["1", "1", "1", "ATMOST", "BLOCK", "x"],
                Error::ConflictingOptions,
            ),
            (
                &["1", "1", "1", "BLOCK", "5", "SOFT"],
                Error::ConflictingOptions,
            ),
            (
                &["1", "1", "1", "SOFT", "2", "BLOCK", "5"],
                Error::ConflictingOptions,
            ),
            // A value is a value, even one spelled like an option.
            (&["1", "1", "1", "BLOCK", "BLOCK"], Error::InvalidBlock),
            (&["1", "1", "1", "SOFT", "ms", "MS"], Error::InvalidSoft),
            // Past the cap with no option twice: too many arguments.
            (&["1", "1", "1", "1", "2", "3", "4", "5"], Error::WrongArity),
            (
                &["1", "1", "1", "1", "BLOCK", "MS", "MS", "x"],
                Error::WrongArity,
            ),
            (
                &["1", "1", "1", "1", "SOFT", "SOFT", "2", "x"],
                Error::WrongArity,
            ),
            (
                &["1", "1", "1", "1", "ATMOST", "BLOCK", "1", "SOFT", "2"],
                Error::WrongArity,
            ),
            (
                &["1", "1", "1", "1", "MS", "ATMOST", "junk", "junk"],
                Error::WrongArity,
            ),
            (
                &["1", "1", "1", "MS", "BLOCK", "1", "x", "ATMOST", "x"],
                Error::WrongArity,
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(parse(args), Err(expected), "{args:?}");
            let bytes: Vec<&[u8]> = args.iter().map(|arg| arg.as_bytes()).collect();
            if args.len() > MAX_ARGS_AFTER_KEY {
                // The handler's error past the cap is the parser's.
                assert_eq!(too_many_args(&bytes), expected, "{args:?}");
            }
        }
    }

    #[test]
    fn past_the_cap_the_error_comes_before_the_limit_is_read() {
        let args = |list: &[&'static str]| -> Vec<&'static [u8]> {
            list.iter().map(|arg| arg.as_bytes()).collect()
        };
        let cases: [(&[&str], Error); 5] = [
            (
                &["x", "x", "x", "1", "MS", "MS", "x", "x"],
                Error::RepeatedOption,
            ),
            (&["x", "x", "x", "1", "2", "3", "4", "5"], Error::WrongArity),
            // The limit's three places are never read as options.
            (
                &["MS", "MS", "x", "1", "2", "3", "4", "5"],
                Error::WrongArity,
            ),
            (
                &["1", "1", "1", "ms", "1", "BLOCK", "2", "Ms"],
                Error::RepeatedOption,
            ),
            (&[], Error::WrongArity),
        ];
        for (list, expected) in cases {
            assert_eq!(too_many_args(&args(list)), expected, "{list:?}");
        }
    }

    #[test]
    fn fractional_periods_are_exact() {
        let half = parse(&["4", "1", "0.5"]).expect("valid");
        assert_eq!(half.limit, Limit::new(4, 1, 500_000_000).expect("valid"));
        let odd = parse(&["0", "1", "1.000000001"]).expect("valid");
        assert_eq!(odd.limit, Limit::new(0, 1, 1_000_000_001).expect("valid"));
        for bad in [
            "0",
            "0.0",
            "-0.5",
            "1e3",
            "nan",
            "inf",
            ".",
            "1.",
            "0.0000000001",
        ] {
            assert_eq!(parse(&["1", "1", bad]), Err(Error::InvalidPeriod), "{bad}");
        }
    }

    fn parse_all(args: &[&str]) -> Result<ThrottleAll, Error> {
        let bytes: Vec<&[u8]> = args.iter().map(|arg| arg.as_bytes()).collect();
        parse_throttle_all(&bytes)
    }

    #[test]
    fn throttle_all_finds_each_group_and_the_options() {
        let all = parse_all(&["2", "ka", "1", "1", "1", "kb", "5", "10", "0.5", "3", "MS"])
            .expect("valid");
        assert_eq!(all.quantity, 3);
        assert_eq!(all.unit, Unit::Milliseconds);
        assert_eq!(
            all.limits,
            vec![
                Limit::new(1, 1, NANOS_PER_SECOND).expect("valid"),
                Limit::new(5, 10, 500_000_000).expect("valid"),
            ]
        );
        let one = parse_all(&["1", "k", "0", "1", "60"]).expect("valid");
        assert_eq!(
            (one.limits.len(), one.quantity, one.unit),
            (1, 1, Unit::Seconds)
        );
    }

    #[test]
    fn throttle_all_rejects_bad_counts_groups_and_junk() {
        let cases: [(&[&str], Error); 15] = [
            (&[], Error::WrongArityAll),
            (
                &["2", "k", "1", "1", "1", "k", "1", "1", "1"],
                Error::DuplicateKey,
            ),
            (
                &["2", "k", "1", "1", "1", "k", "1", "1", "x"],
                Error::InvalidPeriod,
            ),
            (&["0"], Error::InvalidNumLimits),
            (&["-1", "k", "1", "1", "1"], Error::InvalidNumLimits),
            (&["x", "k", "1", "1", "1"], Error::InvalidNumLimits),
            (&["2", "k", "1", "1", "1"], Error::InvalidNumLimits),
            (
                &["99999999999999999", "k", "1", "1", "1"],
                Error::InvalidNumLimits,
            ),
            (&["1", "k", "1", "1", "x"], Error::InvalidPeriod),
            (
                &["1", "k", "1", "1", "1", "1", "MS", "junk"],
                Error::UnknownOption,
            ),
            (
                &["1", "k", "1", "1", "1", "1", "MS", "BLOCK", "1", "junk"],
                Error::WrongArityAll,
            ),
            (
                &["1", "k", "1", "1", "1", "1", "BLOCK", "1", "BLOCK", "2"],
                Error::RepeatedOption,
            ),
            (
                &["1", "k", "1", "1", "1", "ATMOST", "atmost"],
                Error::RepeatedOption,
            ),
            (
                &["1", "k", "1", "1", "1", "ATMOST", "SOFT", "2"],
                Error::ConflictingOptions,
            ),
            (
                &["1", "k", "1", "1", "1", "1", "junk"],
                Error::UnknownOption,
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(parse_all(args), Err(expected), "{args:?}");
        }
    }

    #[test]
    fn key_positions_follow_numlimits_and_stop_at_the_end() {
        let positions = |args: &[&str]| -> Vec<usize> {
            let bytes: Vec<&[u8]> = args.iter().map(|arg| arg.as_bytes()).collect();
            throttle_all_key_positions(&bytes).collect()
        };
        assert_eq!(
            positions(&["2", "ka", "1", "1", "1", "kb", "1", "1", "1", "3", "MS"]),
            [1, 5]
        );
        assert_eq!(positions(&["3", "ka", "1", "1", "1", "kb"]), [1, 5]);
        assert_eq!(positions(&["x", "ka"]), Vec::<usize>::new());
        assert_eq!(positions(&["-1", "ka"]), Vec::<usize>::new());
        assert_eq!(positions(&["99999999999999999"]), Vec::<usize>::new());
        assert_eq!(positions(&[]), Vec::<usize>::new());
    }

    #[test]
    fn non_utf8_arguments_are_errors() {
        let args: [&[u8]; 3] = [b"1", b"\xff\xfe", b"1"];
        assert_eq!(parse_throttle(&args), Err(Error::InvalidCount));
    }

    #[test]
    fn largest_period_is_accepted() {
        assert!(parse(&["0", "1", "9223372036"]).is_ok());
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(
            args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..22), 0..12)
        ) {
            let slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let _ = parse_throttle(&slices);
            let _ = parse_throttle_all(&slices);
        }

        #[test]
        fn never_panics_on_any_integers(
            burst in any::<i64>(), count in any::<i64>(), period in any::<i64>(), quantity in any::<i64>()
        ) {
            let owned = [burst, count, period, quantity].map(|v| v.to_string());
            let slices: Vec<&[u8]> = owned.iter().map(|s| s.as_bytes()).collect();
            if let Ok(throttle) = parse_throttle(&slices) {
                prop_assert_eq!(throttle.quantity, quantity);
                prop_assert_eq!(throttle.limit.capacity(), burst + 1);
            }
        }
    }
}
