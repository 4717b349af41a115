//! The arguments the commands share, as `COMMAND DOCS` describes them.

use crate::host::spec::{ArgKind, ArgSpec};

/// The module version that introduced the commands.
pub(super) const SINCE: &std::ffi::CStr = c"0.1.0";

/// The arguments every limit takes after its key.
pub(super) const LIMIT_ARGS: [ArgSpec; 3] = [
    ArgSpec::new(
        c"max_burst",
        ArgKind::Integer,
        c"extra requests allowed at once; capacity is max_burst + 1",
    ),
    ArgSpec::new(c"count", ArgKind::Integer, c"requests allowed per period"),
    ArgSpec::new(
        c"period",
        ArgKind::Double,
        c"period in seconds, up to 9 decimals",
    ),
];

pub(super) const QUANTITY: ArgSpec = ArgSpec::new(
    c"quantity",
    ArgKind::Integer,
    c"tokens to take (default 1); 0 peeks, negative refunds",
)
.optional();

pub(super) const MS: ArgSpec = ArgSpec::new(
    c"ms",
    ArgKind::PureToken,
    c"reply retry_after and reset_after in milliseconds",
)
.token(c"MS")
.optional();

/// `[BLOCK ms | ATMOST | SOFT hard_factor]`
pub(super) const MODE: ArgSpec = ArgSpec::new(c"mode", ArgKind::OneOf, c"")
    .without_summary()
    .optional()
    .with(&[
        ArgSpec::new(
            c"milliseconds",
            ArgKind::Integer,
            c"if limited but the tokens fit within this wait, reserve them now and answer when they are due",
        )
        .token(c"BLOCK"),
        ArgSpec::new(
            c"atmost",
            ArgKind::PureToken,
            c"take what fits now, up to the quantity; a sixth element says how many",
        )
        .token(c"ATMOST"),
        ArgSpec::new(
            c"hard_factor",
            ArgKind::Double,
            c"past capacity and up to hard_factor times it, admit with a falling probability; a sixth element gives the suppression in per mille",
        )
        .token(c"SOFT"),
    ]);
