//! One call, validated, as every provider sends or decides it.

use std::collections::HashSet;

use crate::error::Error;
use crate::key::Key;
use crate::limit::Limit;
use crate::mode::Mode;

/// Which command a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// `CL.THROTTLE` (one limit) or `CL.THROTTLEALL` (several).
    Throttle,
    /// `CL.PEEK`: writes nothing.
    Peek,
}

/// A validated call: distinct keys, a quantity that fits, a mode that needs one only with one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub command: Command,
    pub limits: &'a [(&'a Key, &'a Limit)],
    pub quantity: i64,
    pub mode: Mode,
}

impl<'a> Call<'a> {
    pub fn new(
        command: Command,
        limits: &'a [(&'a Key, &'a Limit)],
        quantity: i64,
        mode: Mode,
    ) -> Result<Call<'a>, Error> {
        if limits.is_empty() {
            return Err(Error::InvalidLimits("at least one limit is needed"));
        }
        if limits.len() > 1 {
            let mut seen = HashSet::with_capacity(limits.len());
            if !limits.iter().all(|(key, _)| seen.insert(key.as_bytes())) {
                return Err(Error::InvalidLimits("the same key appears twice"));
            }
        }
        let mode = mode.validated()?;
        if mode != Mode::Plain && quantity < 1 {
            return Err(Error::InvalidQuantity);
        }
        Ok(Call {
            command,
            limits,
            quantity,
            mode,
        })
    }

    /// Whether the call is the module's plain one-key form (the hot path).
    pub fn is_plain_single(&self) -> bool {
        self.limits.len() == 1 && self.mode == Mode::Plain
    }

    /// The arguments after the keys' groups: `quantity MS [mode]`.
    pub fn option_args(&self) -> Vec<String> {
        let mut args = vec![self.quantity.to_string(), "MS".to_string()];
        args.extend(self.mode.args());
        args
    }
}

/// A quantity of tokens as the command takes it.
pub(crate) fn quantity(tokens: u64) -> Result<i64, Error> {
    i64::try_from(tokens).map_err(|_| Error::InvalidQuantity)
}

/// A refund of `tokens`: a negative quantity.
pub(crate) fn refund_quantity(tokens: u64) -> Result<i64, Error> {
    quantity(tokens).map(|q| -q)
}
