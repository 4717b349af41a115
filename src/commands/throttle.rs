//! `CL.THROTTLE key max_burst count period [quantity] [MS] [BLOCK ms | ATMOST | SOFT f]`:
//! redis-cell's command, plus the modes.

use gcra_core::pipeline::{self, Command as Request};
use gcra_core::Error;

use crate::host::spec::{ArgSpec, CommandSpec, KeyAccess, KeySpec};
use crate::host::{Call, Command, Reply};
use crate::stats;
use crate::store::OneKey;

use super::docs::{LIMIT_ARGS, MODE, MS, QUANTITY, SINCE};
use super::{apply, server, with_arg_bytes};

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
        throttle(call)
    }

    fn failed(_error: Error) {
        stats::record_error();
    }
}

/// The hot path: one key, read in place, no allocation in the plain form.
#[inline(always)]
fn throttle(call: &Call<'_>) -> Result<Reply, Error> {
    let request = with_arg_bytes(call, 1, |args| pipeline::parse(Request::Throttle, args))?;
    let mut key = OneKey::new(call);
    let answer = pipeline::decide(&request, &mut key, &mut server(call))?;
    apply(call, key.opened(), answer)
}
