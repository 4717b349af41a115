//! Strict base-10 integers, parsed from and written to raw bytes without allocating.
//!
//! Redis arguments and stored values are byte strings, not UTF-8: anything that is
//! not exactly an optional sign followed by ASCII digits is rejected.

#![forbid(unsafe_code)]

use crate::units::NANOS_PER_SECOND;

/// Parses `[+-]?[0-9]+` into an i64. `None` on anything else or on overflow.
#[inline]
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    match bytes.split_first()? {
        (b'-', digits) => 0i64.checked_sub_unsigned(parse_u64(digits)?),
        (b'+', digits) => parse_digits(digits),
        _ => parse_digits(bytes),
    }
}

/// Parses `[0-9]+` (no sign) into a non-negative i64. `None` on anything else.
#[inline(always)]
pub fn parse_digits(bytes: &[u8]) -> Option<i64> {
    i64::try_from(parse_u64(bytes)?).ok()
}

/// Any 19 digits fit in a u64 (10^19 - 1 < 2^64), so they need no overflow checks.
const UNCHECKED_DIGITS: usize = 19;

/// Parses `[0-9]+` into a u64 of at most 19 significant digits (leading zeros allowed).
#[inline]
fn parse_u64(bytes: &[u8]) -> Option<u64> {
    match bytes.len() {
        0 => None,
        // Arguments are short: a plain loop, nothing to set up.
        1..=7 => push_digits(0, bytes),
        _ => parse_long_u64(bytes),
    }
}

/// Stored TATs have 19 digits and are read on every call: eight digits at a time.
fn parse_long_u64(bytes: &[u8]) -> Option<u64> {
    let mut rest = bytes;
    if rest.len() > UNCHECKED_DIGITS {
        // Only leading zeros can make a longer string fit; all zeros is 0.
        let zeros = rest.iter().take_while(|&&byte| byte == b'0').count();
        rest = rest.get(zeros..).unwrap_or_default();
        if rest.len() > UNCHECKED_DIGITS {
            return None;
        }
    }
    let mut value = 0u64;
    while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
        value = value * 100_000_000 + eight_digits(*chunk)?;
        rest = tail;
    }
    push_digits(value, rest)
}

/// `value` followed by `digits` (together at most 19 digits, so no overflow).
#[inline]
fn push_digits(mut value: u64, digits: &[u8]) -> Option<u64> {
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u64::from(digit);
    }
    Some(value)
}

/// Eight ASCII digits, most significant first, as their value; `None` if any byte is not
/// a digit. Works on all eight bytes at once (one byte per digit inside a u64).
fn eight_digits(chunk: [u8; 8]) -> Option<u64> {
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let word = u64::from_le_bytes(chunk);
    // A digit is 0x30..=0x39: high nibble 3, and still 3 after adding 6 (0x3A.. become 0x40..).
    // Once every high nibble is 3 no byte can carry into the next.
    if word & HIGH_NIBBLES != ZEROS
        || word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES != ZEROS
    {
        return None;
    }
    let digits = word - ZEROS;
    // Merge neighbours: digit pairs in 16-bit lanes, then 4 digits in 32-bit lanes, then 8.
    let pairs = (digits * 10 + (digits >> 8)) & 0x00FF_00FF_00FF_00FF;
    let quads = (pairs * 100 + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((quads.wrapping_mul(10_000) + (quads >> 32)) & 0xFFFF_FFFF)
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
    /// TATs have 19 digits and are written on every allowed call: eight digits at a time
    /// from the right, then the rest two at a time. Inlined: each caller formats with
    /// constants known to it, and a call costs the hot path more than the copy.
    #[inline(always)]
    pub fn of(value: u64) -> Digits {
        let mut buf = [b'0'; MAX_DIGITS];
        let mut start = MAX_DIGITS;
        let mut rest = value;
        while rest >= 100_000_000 {
            // Below 10^8, so the cast cannot truncate.
            let group = (rest % 100_000_000) as u32;
            rest /= 100_000_000;
            start -= 8;
            if let Some(slot) = buf.get_mut(start..start + 8) {
                slot.copy_from_slice(&eight_ascii_digits(group));
            }
        }
        // Below 10^8 now: fits a u32, whose divisions are cheaper.
        let mut rest = rest as u32;
        while rest >= 100 {
            start -= 2;
            put_two_digits(&mut buf, start, rest % 100);
            rest /= 100;
        }
        // 0..=99 left: always write two digits (a fixed-size copy, no memcpy call), then
        // drop the leading zero of a single digit by starting after it.
        start -= 2;
        put_two_digits(&mut buf, start, rest);
        start += usize::from(rest < 10);
        Digits { buf, start }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }
}

/// Writes `value` (below 100) as two digits at `buf[at..at + 2]`.
#[inline(always)]
fn put_two_digits(buf: &mut [u8; MAX_DIGITS], at: usize, value: u32) {
    let pair = value as usize * 2;
    if let (Some(slot), Some(digits)) = (buf.get_mut(at..at + 2), DIGIT_PAIRS.get(pair..pair + 2)) {
        slot.copy_from_slice(digits);
    }
}

/// A value below 10^8 as exactly eight ASCII digits (leading zeros kept), most significant
/// first. Splits it in lanes of one u64: two 4-digit halves in 32-bit lanes, then 2-digit
/// pairs in 16-bit lanes, then one digit per byte. The divisions by 100 and 10 are
/// multiplications by 10486 / 2^20 and 103 / 2^10, exact for lanes below 10^4 and 100.
#[inline(always)]
fn eight_ascii_digits(value: u32) -> [u8; 8] {
    let value = u64::from(value);
    let halves = (value / 10_000) | ((value % 10_000) << 32);
    let high = ((halves * 10_486) >> 20) & 0x0000_007F_0000_007F;
    let pairs = high | ((halves - high * 100) << 16);
    let tens = ((pairs * 103) >> 10) & 0x000F_000F_000F_000F;
    let digits = tens | ((pairs - tens * 10) << 8);
    (digits | 0x3030_3030_3030_3030).to_le_bytes()
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
        assert_eq!(parse_digits(b"0000000000000000000000000"), Some(0));
        assert_eq!(parse_digits(b"0000009223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_digits(b"9223372036854775808"), None);
        assert_eq!(parse_digits(b"18446744073709551616"), None);
        assert_eq!(parse_digits(b"99999999999999999999"), None);
        assert_eq!(parse_digits(b"1234567:"), None);
        assert_eq!(parse_digits(b"12345678/"), None);
    }

    #[test]
    fn eight_digits_refuse_every_other_byte_in_every_place() {
        for place in 0..8 {
            for byte in (0..=u8::MAX).filter(|byte| !byte.is_ascii_digit()) {
                let mut chunk = *b"59595959";
                chunk[place] = byte;
                assert_eq!(eight_digits(chunk), None, "{chunk:?}");
            }
        }
        assert_eq!(eight_digits(*b"59595959"), Some(59_595_959));
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
            (99_999_999, "99999999"),
            (100_000_000, "100000000"),
            (100_000_001, "100000001"),
            (10_000_000_000_000_000, "10000000000000000"),
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
        fn parse_agrees_with_std_on_digit_strings(text in "[+-]?0{0,6}[0-9]{0,22}") {
            prop_assert_eq!(parse_i64(text.as_bytes()), text.parse::<i64>().ok());
            let unsigned = text.strip_prefix(|c| c == '+' || c == '-').is_none();
            let expected = text.parse::<i64>().ok().filter(|value| unsigned && *value >= 0);
            prop_assert_eq!(parse_digits(text.as_bytes()), expected);
        }

        #[test]
        fn parse_refuses_one_wrong_byte_anywhere(digits in "[0-9]{1,24}", at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            prop_assume!(!byte.is_ascii_digit());
            let mut bytes = digits.into_bytes();
            let at = at.index(bytes.len());
            bytes[at] = byte;
            prop_assert_eq!(parse_digits(&bytes), None);
        }

        #[test]
        fn eight_ascii_digits_match_std(value in 0u32..100_000_000) {
            let expected = format!("{value:08}");
            prop_assert_eq!(&eight_ascii_digits(value)[..], expected.as_bytes());
        }

        #[test]
        fn parse_never_panics_and_agrees_with_std_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            let ours = parse_i64(&bytes);
            let std = std::str::from_utf8(&bytes).ok().and_then(|s| s.parse::<i64>().ok());
            prop_assert_eq!(ours, std);
        }
    }
}
