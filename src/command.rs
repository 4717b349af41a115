//! The command handlers: parse -> read TATs -> decide -> write + replicate -> reply.

use std::collections::HashSet;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::args::{parse_throttle, parse_throttle_all, throttle_all_key_positions};
use crate::error::Error;
use crate::ffi::{self, redis_api, Ctx, RString};
use crate::store::LimiterKey;
use crate::{clock, gcra, stats};

/// Arguments after the key that CL.THROTTLE may take: max_burst count period [quantity] [MS].
const MAX_ARGS_AFTER_KEY: usize = 5;

/// `CL.THROTTLE key max_burst count period [quantity] [MS]`
///
/// # Safety
/// Called by Redis with a valid context and `argc` valid argument strings.
pub unsafe extern "C" fn throttle_command(ctx: Ctx, argv: *mut RString, argc: c_int) -> c_int {
    respond(ctx, || {
        throttle(ctx, arguments(argv, argc, Error::WrongArity)?)
    })
}

/// `CL.THROTTLEALL numlimits key max_burst count period [key ...] [quantity] [MS]`
///
/// # Safety
/// Called by Redis with a valid context and `argc` valid argument strings.
pub unsafe extern "C" fn throttle_all_command(ctx: Ctx, argv: *mut RString, argc: c_int) -> c_int {
    if redis_api!(RedisModule_IsKeysPositionRequest(ctx)).unwrap_or(0) != 0 {
        report_key_positions(ctx, argv, argc);
        return ffi::OK;
    }
    respond(ctx, || {
        throttle_all(ctx, arguments(argv, argc, Error::WrongArityAll)?)
    })
}

/// Answers Redis's "where are the keys?" (COMMAND GETKEYS, cluster routing, ACL key checks).
unsafe fn report_key_positions(ctx: Ctx, argv: *mut RString, argc: c_int) {
    let Ok(args) = arguments(argv, argc, Error::WrongArityAll) else {
        return;
    };
    let Ok(bytes) = all_bytes(args) else {
        return;
    };
    for at in throttle_all_key_positions(&bytes) {
        // +1: Redis counts the command name as position 0.
        if let Ok(pos) = c_int::try_from(at + 1) {
            let _ = redis_api!(RedisModule_KeyAtPos(ctx, pos));
        }
    }
}

/// The bytes of every argument (CL.THROTTLEALL takes any number, so these go in a Vec).
unsafe fn all_bytes<'a>(args: &[RString]) -> Result<Vec<&'a [u8]>, Error> {
    args.iter().map(|&arg| ffi::bytes(arg)).collect()
}

/// Replies with five integers or one error, and never unwinds into Redis: a panic (a bug,
/// none is reachable by design) becomes an error reply. Errors are returned before any write.
unsafe fn respond(ctx: Ctx, handler: impl FnOnce() -> Result<[i64; 5], Error>) -> c_int {
    match catch_unwind(AssertUnwindSafe(handler)).unwrap_or(Err(Error::Internal)) {
        Ok(reply) => {
            if let Err(error) = ffi::reply_integers(ctx, &reply) {
                ffi::reply_error(ctx, error);
            }
        }
        Err(error) => {
            stats::record_error();
            ffi::reply_error(ctx, error);
        }
    }
    ffi::OK
}

/// The arguments after the command name.
unsafe fn arguments<'a>(
    argv: *mut RString,
    argc: c_int,
    arity: Error,
) -> Result<&'a [RString], Error> {
    let argc = usize::try_from(argc).map_err(|_| arity)?;
    if argv.is_null() || argc == 0 {
        return Err(arity);
    }
    Ok(std::slice::from_raw_parts(argv, argc)
        .get(1..)
        .unwrap_or_default())
}

unsafe fn throttle(ctx: Ctx, args: &[RString]) -> Result<[i64; 5], Error> {
    let Some((&key, after_key)) = args.split_first() else {
        return Err(Error::WrongArity);
    };
    if after_key.len() > MAX_ARGS_AFTER_KEY {
        return Err(Error::WrongArity);
    }
    let mut bytes: [&[u8]; MAX_ARGS_AFTER_KEY] = [&[]; MAX_ARGS_AFTER_KEY];
    for (slot, &arg) in bytes.iter_mut().zip(after_key) {
        *slot = ffi::bytes(arg)?;
    }
    let request = parse_throttle(bytes.get(..after_key.len()).ok_or(Error::WrongArity)?)?;

    let limiter = LimiterKey::open(ctx, key)?;
    let stored_tat = limiter.tat()?;
    let decision = gcra::decide(
        &request.limit,
        request.quantity,
        stored_tat,
        clock::now_ns()?,
    )?;
    refuse_charge_over_maxmemory(request.quantity, &[decision.write])?;
    limiter.apply(decision.write)?;
    stats::record(&decision, request.quantity);
    Ok(decision.reply(request.unit))
}

/// What the deny-oom flag would do for the calls that need it: a call that charges tokens
/// (and may create a key) gets Redis's OOM error while used memory is over maxmemory.
/// Peeks, limited calls and refunds (which free memory) still answer.
unsafe fn refuse_charge_over_maxmemory(quantity: i64, writes: &[gcra::Write]) -> Result<(), Error> {
    let charges = quantity > 0 && writes.iter().any(|w| matches!(w, gcra::Write::Set(_)));
    if charges && ffi::over_maxmemory() {
        return Err(Error::OutOfMemory);
    }
    Ok(())
}

unsafe fn throttle_all(ctx: Ctx, args: &[RString]) -> Result<[i64; 5], Error> {
    let bytes = all_bytes(args)?;
    let request = parse_throttle_all(&bytes)?;
    let mut keys = Vec::with_capacity(request.limits.len());
    // Hashed, so the check is linear in the number and bytes of the keys (SipHash with a
    // random key: no crafted set of names makes it quadratic).
    let mut seen = HashSet::with_capacity(request.limits.len());
    for &(at, _) in &request.limits {
        let (Some(&key), Some(&name)) = (args.get(at), bytes.get(at)) else {
            return Err(Error::Internal);
        };
        // Two limits on one key would race on one TAT: refuse rather than guess.
        if !seen.insert(name) {
            return Err(Error::DuplicateKey);
        }
        keys.push((key, name));
    }

    let limiters = keys
        .iter()
        .map(|&(key, _)| LimiterKey::open(ctx, key))
        .collect::<Result<Vec<_>, Error>>()?;
    let states = limiters
        .iter()
        .zip(&request.limits)
        .map(|(limiter, &(_, limit))| Ok((limit, limiter.tat()?)))
        .collect::<Result<Vec<_>, Error>>()?;
    let (decision, writes) = gcra::decide_all(&states, request.quantity, clock::now_ns()?)?;
    refuse_charge_over_maxmemory(request.quantity, &writes)?;
    for (limiter, write) in limiters.iter().zip(writes) {
        limiter.apply(write)?;
    }
    stats::record(&decision, request.quantity);
    Ok(decision.reply(request.unit))
}
