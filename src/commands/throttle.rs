//! `CL.THROTTLE key max_burst count period [quantity] [MS]`: redis-cell's command.

use crate::args::{parse_throttle, Throttle as Request, MAX_ARGS_AFTER_KEY};
use crate::error::Error;
use crate::host::spec::{ArgSpec, CommandSpec, KeySpec};
use crate::host::{Call, Command, Reply};
use crate::store::{self, Limiter};
use crate::{clock, gcra, reply, stats};

use super::{refuse_charge_over_maxmemory, LIMIT_ARGS, MS, QUANTITY, SINCE};

pub struct Throttle;

impl Command for Throttle {
    const SPEC: CommandSpec = CommandSpec {
        name: c"CL.THROTTLE",
        // Not deny-oom: see `refuse_charge_over_maxmemory`.
        flags: c"write fast",
        acl_categories: c"write fast",
        arity: -5,
        keys: KeySpec::One { at: 1 },
        summary: c"Rate limits a key with the generic cell rate algorithm (GCRA), like redis-cell",
        complexity: c"O(1)",
        since: SINCE,
        args: &[
            ArgSpec::key(c"key"),
            LIMIT_ARGS[0],
            LIMIT_ARGS[1],
            LIMIT_ARGS[2],
            QUANTITY,
            MS,
        ],
    };

    fn run(call: &Call<'_>) -> Result<Reply, Error> {
        let request = parse(call)?;
        let (mut limiter, stored_tat) = Limiter::open(call, request.key)?;
        let decision = gcra::decide(
            &request.limit,
            request.quantity,
            stored_tat,
            clock::now_ns()?,
        )?;
        let write = store::prepare(decision.change)?;
        refuse_charge_over_maxmemory(call, request.quantity, &[write])?;
        let reply = Reply::from(reply::integers(&decision, request.unit));
        // Everything that can fail has been checked: the first write is here, and from
        // here on nothing can fail.
        limiter.commit(&write);
        stats::record(&decision, request.quantity);
        Ok(reply)
    }
}

/// The arguments, read in place (no allocation on this hot path).
fn parse<'a>(call: &Call<'a>) -> Result<Request<crate::host::Arg<'a>>, Error> {
    let after_key = call.arg_count().saturating_sub(1);
    if call.arg_count() == 0 || after_key > MAX_ARGS_AFTER_KEY {
        return Err(Error::WrongArity);
    }
    let mut bytes: [&[u8]; MAX_ARGS_AFTER_KEY] = [&[]; MAX_ARGS_AFTER_KEY];
    for (i, slot) in bytes.iter_mut().take(after_key).enumerate() {
        *slot = call.arg(i + 1)?.bytes();
    }
    parse_throttle(call.arg(0)?, bytes.get(..after_key).unwrap_or_default())
}
