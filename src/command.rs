//! CL.THROTTLE: parse -> read TAT -> decide -> write + replicate -> reply.

use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::args::parse_throttle;
use crate::error::Error;
use crate::ffi::{self, Ctx, RString};
use crate::store::LimiterKey;
use crate::{clock, gcra};

/// Arguments after the key that any CL.THROTTLE form may take.
const MAX_ARGS_AFTER_KEY: usize = 4;

/// The handler Redis calls. Replies with five integers or one error, and never unwinds
/// into Redis: a panic (a bug, none is reachable by design) becomes an error reply.
///
/// # Safety
/// Called by Redis with a valid context and `argc` valid argument strings.
pub unsafe extern "C" fn throttle_command(ctx: Ctx, argv: *mut RString, argc: c_int) -> c_int {
    let outcome = catch_unwind(AssertUnwindSafe(|| throttle(ctx, argv, argc)));
    match outcome.unwrap_or(Err(Error::Internal)) {
        Ok(reply) => {
            if let Err(error) = ffi::reply_integers(ctx, &reply) {
                ffi::reply_error(ctx, error);
            }
        }
        Err(error) => ffi::reply_error(ctx, error),
    }
    ffi::OK
}

unsafe fn throttle(ctx: Ctx, argv: *mut RString, argc: c_int) -> Result<[i64; 5], Error> {
    let argc = usize::try_from(argc).map_err(|_| Error::WrongArity)?;
    if argv.is_null() {
        return Err(Error::WrongArity);
    }
    let argv = std::slice::from_raw_parts(argv, argc);
    let Some((&key, after_key)) = argv.get(1..).and_then(<[RString]>::split_first) else {
        return Err(Error::WrongArity);
    };
    if after_key.len() > MAX_ARGS_AFTER_KEY {
        return Err(Error::WrongArity);
    }
    let mut bytes: [&[u8]; MAX_ARGS_AFTER_KEY] = [&[]; MAX_ARGS_AFTER_KEY];
    for (slot, &arg) in bytes.iter_mut().zip(after_key) {
        *slot = ffi::bytes(arg)?;
    }
    let given = bytes.get(..after_key.len()).ok_or(Error::WrongArity)?;
    let request = parse_throttle(given)?;

    let limiter = LimiterKey::open(ctx, key)?;
    let stored_tat = limiter.tat()?;
    let now = clock::now_ns()?;
    let decision = gcra::decide(&request.limit, request.quantity, stored_tat, now)?;
    limiter.apply(decision.write)?;
    Ok(decision.reply_in_seconds())
}
