//! What a request does besides taking its tokens now: the command's `BLOCK`, `ATMOST` and
//! `SOFT`.

use std::time::Duration;

use gcra_core::modes::Mode as CoreMode;

use crate::error::Error;

/// BLOCK's longest wait, in milliseconds (the command's bound).
const MAX_BLOCK_MS: u128 = (i64::MAX / 1_000_000) as u128;
/// SOFT's factor 1, in billionths.
const E9: i64 = 1_000_000_000;

/// A request's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Take the tokens now or be refused.
    #[default]
    Plain,
    /// Wait in line: if the tokens fit within the wait, reserve them now and answer when they
    /// are due (whole milliseconds).
    Block { max_wait_ms: i64 },
    /// Take what fits now, up to the quantity ([`crate::Decision::granted`] says how many).
    AtMost,
    /// Past the capacity, up to `hard_factor` times it, admit with a falling probability
    /// (the factor in billionths).
    Soft { hard_factor_e9: i64 },
}

impl Mode {
    /// `BLOCK`: wait up to `max_wait` (whole milliseconds, rounded down).
    pub fn block(max_wait: Duration) -> Result<Mode, Error> {
        let ms = max_wait.as_millis();
        if ms > MAX_BLOCK_MS {
            return Err(Error::InvalidMode("BLOCK waits at most 9223372036854 ms"));
        }
        Ok(Mode::Block {
            max_wait_ms: i64::try_from(ms).unwrap_or(i64::MAX),
        })
    }

    /// `SOFT hard_factor`: from 1 to 1000, at most 9 decimals (rounded to the nearest).
    pub fn soft(hard_factor: f64) -> Result<Mode, Error> {
        if !(1.0..=1000.0).contains(&hard_factor) {
            return Err(Error::InvalidMode("SOFT's hard factor is from 1 to 1000"));
        }
        Ok(Mode::Soft {
            hard_factor_e9: (hard_factor * 1e9).round() as i64,
        })
    }

    /// The mode if its value is one the command takes: the variants are public, so a mode
    /// built without [`Mode::block`] or [`Mode::soft`] is checked before every call.
    pub(crate) fn validated(self) -> Result<Mode, Error> {
        match self {
            Mode::Block { max_wait_ms } if !(0..=MAX_BLOCK_MS as i64).contains(&max_wait_ms) => {
                Err(Error::InvalidMode("BLOCK waits 0 to 9223372036854 ms"))
            }
            Mode::Soft { hard_factor_e9 } if !(E9..=1000 * E9).contains(&hard_factor_e9) => {
                Err(Error::InvalidMode("SOFT's hard factor is from 1 to 1000"))
            }
            mode => Ok(mode),
        }
    }

    /// The core's mode, as the module parses it from the same arguments.
    pub(crate) fn core(self) -> CoreMode {
        match self {
            Mode::Plain => CoreMode::Plain,
            Mode::Block { max_wait_ms } => CoreMode::Block {
                max_wait_ns: max_wait_ms.saturating_mul(1_000_000),
            },
            Mode::AtMost => CoreMode::AtMost,
            Mode::Soft { hard_factor_e9 } => CoreMode::Soft { hard_factor_e9 },
        }
    }

    /// The mode's arguments on the command line.
    pub(crate) fn args(self) -> Vec<String> {
        match self {
            Mode::Plain => Vec::new(),
            Mode::Block { max_wait_ms } => vec!["BLOCK".into(), max_wait_ms.to_string()],
            Mode::AtMost => vec!["ATMOST".into()],
            Mode::Soft { hard_factor_e9 } => {
                let (whole, frac) = (
                    hard_factor_e9 / 1_000_000_000,
                    hard_factor_e9 % 1_000_000_000,
                );
                vec!["SOFT".into(), format!("{whole}.{frac:09}")]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_validated_and_written_as_the_command_takes_them() {
        assert!(Mode::soft(0.5).is_err());
        assert!(Mode::soft(f64::NAN).is_err());
        assert!(Mode::soft(1001.0).is_err());
        assert_eq!(
            Mode::soft(2.5).ok().map(Mode::args),
            Some(vec!["SOFT".to_string(), "2.500000000".to_string()])
        );
        assert_eq!(
            Mode::block(Duration::from_micros(1500))
                .ok()
                .map(Mode::args),
            Some(vec!["BLOCK".to_string(), "1".to_string()])
        );
        assert!(Mode::block(Duration::from_secs(u64::MAX)).is_err());
        for bad in [
            Mode::Block { max_wait_ms: -5 },
            Mode::Block {
                max_wait_ms: i64::MAX,
            },
            Mode::Soft { hard_factor_e9: 0 },
            Mode::Soft {
                hard_factor_e9: 999_999_999,
            },
            Mode::Soft {
                hard_factor_e9: 1000 * E9 + 1,
            },
        ] {
            assert!(
                matches!(bad.validated(), Err(Error::InvalidMode(_))),
                "{bad:?}"
            );
        }
        assert!(Mode::Soft { hard_factor_e9: E9 }.validated().is_ok());
        assert!(Mode::Block { max_wait_ms: 0 }.validated().is_ok());
    }
}
