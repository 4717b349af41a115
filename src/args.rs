//! Parsing of CL.THROTTLE arguments into typed, validated values.
//!
//! Works on raw argument bytes (Redis arguments need not be UTF-8) and allocates nothing.

use crate::decimal::parse_i64;
use crate::error::Error;
use crate::gcra::{Limit, NANOS_PER_SECOND};

/// One validated CL.THROTTLE request (the key is handled by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub limit: Limit,
    /// Tokens to take: 0 peeks, negative refunds.
    pub quantity: i64,
}

/// Parses `max_burst count period [quantity]`, the arguments after the key.
pub fn parse_throttle(args: &[&[u8]]) -> Result<Throttle, Error> {
    let (max_burst, count, period, quantity) = match *args {
        [max_burst, count, period] => (max_burst, count, period, None),
        [max_burst, count, period, quantity] => (max_burst, count, period, Some(quantity)),
        _ => return Err(Error::WrongArity),
    };
    let max_burst = parse_i64(max_burst).ok_or(Error::InvalidMaxBurst)?;
    let count = parse_i64(count).ok_or(Error::InvalidCount)?;
    let period_ns = parse_i64(period)
        .and_then(|seconds| seconds.checked_mul(NANOS_PER_SECOND))
        .ok_or(Error::InvalidPeriod)?;
    let quantity = match quantity {
        Some(bytes) => parse_i64(bytes).ok_or(Error::InvalidQuantity)?,
        None => 1,
    };
    Ok(Throttle {
        limit: Limit::new(max_burst, count, period_ns)?,
        quantity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
            (&["1", "1", "1", "1", "1"], Error::WrongArity),
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
            args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..22), 0..7)
        ) {
            let slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let _ = parse_throttle(&slices);
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
