//! The module's commands, each described once (name, flags, arity, keys, docs) next to
//! its handler.

#![forbid(unsafe_code)]

mod throttle;
mod throttle_all;

pub use throttle::Throttle;
pub use throttle_all::ThrottleAll;

use crate::error::Error;
use crate::host::spec::{ArgKind, ArgSpec};
use crate::host::Call;
use crate::store::PreparedWrite;

/// The module version that introduced both commands.
const SINCE: &std::ffi::CStr = c"0.1.0";

/// The arguments every limit takes after its key.
const LIMIT_ARGS: [ArgSpec; 3] = [
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

const QUANTITY: ArgSpec = ArgSpec::new(
    c"quantity",
    ArgKind::Integer,
    c"tokens to take (default 1); 0 peeks, negative refunds",
)
.optional();

const MS: ArgSpec = ArgSpec::new(
    c"ms",
    ArgKind::PureToken,
    c"reply retry_after and reset_after in milliseconds",
)
.token(c"MS")
.optional();

/// What the deny-oom flag would do for the calls that need it: a call that charges tokens
/// (and may create a key) gets Redis's OOM error while used memory is over maxmemory.
/// Peeks, limited calls and refunds (which free memory) still answer.
fn refuse_charge_over_maxmemory(
    call: &Call<'_>,
    quantity: i64,
    writes: &[PreparedWrite],
) -> Result<(), Error> {
    if quantity > 0 && writes.iter().any(PreparedWrite::stores) && call.over_maxmemory() {
        return Err(Error::OutOfMemory);
    }
    Ok(())
}
