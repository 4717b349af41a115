//! Strict base-10 integers, parsed from and written to raw bytes without allocating.
//!
//! Redis arguments and stored values are byte strings, not UTF-8: anything that is
//! not exactly an optional sign followed by ASCII digits is rejected.

#![forbid(unsafe_code)]

use crate::units::NANOS_PER_SECOND;

/// Parses `[+-]?[0-9]+` into an i64. `None` on anything else or on overflow.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    match bytes.split_first()? {
        (b'-', digits) => accumulate(digits, |acc, digit| acc.checked_sub(digit)),
        (b'+', digits) => parse_digits(digits),
        _ => parse_digits(bytes),
    }
}

/// Parses `[0-9]+` (no sign) into a non-negative i64. `None` on anything else.
pub fn parse_digits(bytes: &[u8]) -> Option<i64> {
    accumulate(bytes, |acc, digit| acc.checked_add(digit))
}

fn accumulate(digits: &[u8], step: impl Fn(i64, i64) -> Option<i64>) -> Option<i64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0i64, |acc, &byte| {
        if !byte.is_ascii_digit() {
            return None;
        }
        step(acc.checked_mul(10)?, i64::from(byte - b'0'))
    })
}

/// Nanoseconds are the finest unit: at most nine digits after the point.
const MAX_FRACTION_DIGITS: usize = 9;

/// Parses seconds written `[+]digits` or `[+]digits.digits` (up to nine fractional digits)
/// into exact nanoseconds. No exponents, no `nan`/`inf`, no bare `.`, `1.` or `.5`.
/// Negative values parse (and are rejected by the caller's range check).
pub fn parse_seconds_as_nanos(bytes: &[u8]) -> Option<i64> {
    let (whole, fraction) = match bytes.iter().position(|&b| b == b'.') {
        Some(dot) => (bytes.get(..dot)?, Some(bytes.get(dot + 1..)?)),
        None => (bytes, None),
    };
    let whole_ns = parse_i64(whole)?.checked_mul(NANOS_PER_SECOND)?;
    let Some(fraction) = fraction else {
        return Some(whole_ns);
    };
    // The whole part needs a digit right before the point ("-.5" and "+.5" are out too).
    if fraction.is_empty()
        || fraction.len() > MAX_FRACTION_DIGITS
        || !whole.last()?.is_ascii_digit()
    {
        return None;
    }
    let scale = 10i64.checked_pow(u32::try_from(MAX_FRACTION_DIGITS - fraction.len()).ok()?)?;
    let fraction_ns = parse_digits(fraction)?.checked_mul(scale)?;
    if whole.first() == Some(&b'-') {
        whole_ns.checked_sub(fraction_ns)
    } else {
        whole_ns.checked_add(fraction_ns)
    }
}

/// Room for the 20 digits of u64::MAX.
pub const MAX_DIGITS: usize = 20;

/// A non-negative integer written in decimal, without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digits {
    buf: [u8; MAX_DIGITS],
    start: usize,
}

impl Digits {
    /// Two digits per step: TATs have 19 digits and are written on every allowed call.
    pub fn of(value: u64) -> Digits {
        let mut buf = [b'0'; MAX_DIGITS];
        let mut start = MAX_DIGITS;
        let mut rest = value;
        while rest >= 100 {
            // Below 100, so the pair index is in bounds and the cast cannot truncate.
            let pair = (rest % 100) as usize * 2;
            rest /= 100;
            start -= 2;
            if let (Some(slot), Some(digits)) = (
                buf.get_mut(start..start + 2),
                DIGIT_PAIRS.get(pair..pair + 2),
            ) {
                slot.copy_from_slice(digits);
            }
        }
        // 0..=99 left: one or two digits.
        let pair = rest as usize * 2;
        let (digits, len) = if rest >= 10 {
            (DIGIT_PAIRS.get(pair..pair + 2), 2)
        } else {
            (DIGIT_PAIRS.get(pair + 1..pair + 2), 1)
        };
        start -= len;
        if let (Some(slot), Some(digits)) = (buf.get_mut(start..start + len), digits) {
            slot.copy_from_slice(digits);
        }
        Digits { buf, start }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }
}

/// "00" to "99", back to back.
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_plain_signed_and_padded_integers() {
        let cases: [(&[u8], i64); 9] = [
            (b"0", 0),
            (b"-0", 0),
            (b"+0", 0),
            (b"15", 15),
            (b"+15", 15),
            (b"-15", -15),
            (b"007", 7),
            (b"9223372036854775807", i64::MAX),
            (b"-9223372036854775808", i64::MIN),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_i64(input), Some(expected), "{:?}", input);
        }
    }

    #[test]
    fn rejects_everything_else() {
        let cases: [&[u8]; 17] = [
            b"",
            b"-",
            b"+",
            b" 1",
            b"1 ",
            b"1.0",
            b"1e3",
            b"0x10",
            b"--1",
            b"+-1",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999999",
            b"\xff",
            b"1\x00",
            "١".as_bytes(),
            b"nan",
        ];
        for input in cases {
            assert_eq!(parse_i64(input), None, "{:?}", input);
        }
    }

    #[test]
    fn unsigned_parse_refuses_signs() {
        assert_eq!(parse_digits(b"123"), Some(123));
        assert_eq!(parse_digits(b"+123"), None);
        assert_eq!(parse_digits(b"-123"), None);
        assert_eq!(parse_digits(b""), None);
    }

    #[test]
    fn formats_edges() {
        for (value, text) in [
            (0, "0"),
            (7, "7"),
            (10, "10"),
            (99, "99"),
            (100, "100"),
            (1_000_000, "1000000"),
        ] {
            assert_eq!(Digits::of(value).as_bytes(), text.as_bytes());
        }
        assert_eq!(
            Digits::of(1_763_883_600_123_456_789).as_bytes(),
            b"1763883600123456789"
        );
        assert_eq!(Digits::of(u64::MAX).as_bytes(), b"18446744073709551615");
    }

    #[test]
    fn seconds_parse_exactly_into_nanoseconds() {
        let cases: [(&[u8], i64); 10] = [
            (b"1", 1_000_000_000),
            (b"60", 60_000_000_000),
            (b"0.5", 500_000_000),
            (b"0.25", 250_000_000),
            (b"1.000000001", 1_000_000_001),
            (b"0.000000001", 1),
            (b"+2.5", 2_500_000_000),
            (b"-0.5", -500_000_000),
            (b"9223372036.854775807", i64::MAX),
            (b"0", 0),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_seconds_as_nanos(input), Some(expected), "{:?}", input);
        }
    }

    #[test]
    fn seconds_reject_inexact_or_odd_forms() {
        let cases: [&[u8]; 16] = [
            b"",
            b".",
            b"1.",
            b".5",
            b"+.5",
            b"-.5",
            b"1.0000000001",
            b"1e3",
            b"1.5e3",
            b"nan",
            b"inf",
            b"1..5",
            b"1.5.",
            b" 1.5",
            b"9223372036.854775808",
            b"0x1p3",
        ];
        for input in cases {
            assert_eq!(parse_seconds_as_nanos(input), None, "{:?}", input);
        }
    }

    proptest! {
        #[test]
        fn seconds_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            let _ = parse_seconds_as_nanos(&bytes);
        }

        #[test]
        fn seconds_match_integer_arithmetic(whole in 0i64..9_223_372_036, fraction in 0i64..1_000_000_000) {
            let text = format!("{whole}.{fraction:09}");
            prop_assert_eq!(parse_seconds_as_nanos(text.as_bytes()), Some(whole * 1_000_000_000 + fraction));
        }

        #[test]
        fn parse_agrees_with_std(value in any::<i64>()) {
            prop_assert_eq!(parse_i64(value.to_string().as_bytes()), Some(value));
        }

        #[test]
        fn format_round_trips(value in any::<u64>()) {
            let expected = value.to_string();
            let digits = Digits::of(value);
            prop_assert_eq!(digits.as_bytes(), expected.as_bytes());
        }

        #[test]
        fn parse_never_panics_and_agrees_with_std_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            let ours = parse_i64(&bytes);
            let std = std::str::from_utf8(&bytes).ok().and_then(|s| s.parse::<i64>().ok());
            prop_assert_eq!(ours, std);
        }
    }
}
