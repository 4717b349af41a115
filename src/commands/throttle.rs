//! `CL.THROTTLE key max_burst count period [quantity] [MS] [BLOCK ms | ATMOST | SOFT f]`:
//! redis-cell's command, plus the modes.

use crate::error::Error;
use crate::host::spec::{ArgSpec, CommandSpec, KeyAccess, KeySpec};
use crate::host::{Call, Command, Reply};
use crate::modes::Mode;
use crate::store::{self, Limiter};
use crate::{clock, gcra, reply, stats};

use super::{
    parse_single, refuse_charge_over_maxmemory, run_with_mode, LIMIT_ARGS, MODE, MS, QUANTITY,
    SINCE,
};

pub struct Throttle;

impl Command for Throttle {
    const SPEC: CommandSpec = CommandSpec {
        name: c"CL.THROTTLE",
        // Not deny-oom: see `refuse_charge_over_maxmemory`.
        // "blocking": with BLOCK it may (as XREAD does with its BLOCK).
        flags: c"write fast blocking",
        acl_categories: c"write fast",
        arity: -5,
        keys: KeySpec::One { at: 1 },
        key_access: KeyAccess::Update,
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
            MODE,
        ],
    };

    fn run(call: &Call<'_>) -> Result<Reply, Error> {
        let request = parse_single(call)?;
        let (mut limiter, stored_tat) = Limiter::open(call, request.key)?;
        if request.mode != Mode::Plain {
            let states = [(request.limit, stored_tat)];
            let (quantity, unit, mode) = (request.quantity, request.unit, request.mode);
            return run_with_mode(call, vec![limiter], &states, quantity, unit, mode);
        }
        // The plain form, redis-cell's: the hot path, without allocating.
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
