//! `CL.THROTTLEALL numlimits key max_burst count period [key ...] [quantity] [MS]
//! [BLOCK ms | ATMOST | SOFT f]`: one request against several limits, allowed only if every
//! limit allows it.

use gcra_core::args::{throttle_all_key_positions, GROUP_LEN};
use gcra_core::pipeline::{self, Command as Request};
use gcra_core::Error;

use crate::host::spec::{ArgKind, ArgSpec, CommandSpec, KeyAccess, KeySpec};
use crate::host::{Arg, Call, Command, Reply};
use crate::stats;
use crate::store::AllKeys;

use super::docs::{LIMIT_ARGS, MODE, MS, QUANTITY, SINCE};
use super::{apply, server, with_arg_bytes};

pub struct ThrottleAll;

impl Command for ThrottleAll {
    const SPEC: CommandSpec = CommandSpec {
        name: c"CL.THROTTLEALL",
        // O(numlimits), so not "fast"; its keys are reported by `key_positions`.
        flags: c"write blocking getkeys-api",
        acl_categories: c"write",
        arity: -6,
        keys: KeySpec::Counted {
            count_at: 1,
            step: GROUP_LEN as i32,
        },
        key_access: KeyAccess::Update,
        summary:
            c"Counts one request against several limits atomically: allowed only if all allow it",
        complexity: c"O(N) where N is numlimits, plus the total bytes of the keys",
        since: SINCE,
        args: &[
            ArgSpec::new(
                c"numlimits",
                ArgKind::Integer,
                c"how many key max_burst count period groups follow",
            ),
            ArgSpec::new(c"limit", ArgKind::Block, c"")
                .without_summary()
                .multiple()
                .with(&[
                    ArgSpec::key(c"key"),
                    LIMIT_ARGS[0],
                    LIMIT_ARGS[1],
                    LIMIT_ARGS[2],
                ]),
            QUANTITY,
            MS,
            MODE,
        ],
    };

    fn run(call: &Call<'_>) -> Result<Reply, Error> {
        throttle_all(call)
    }

    fn failed(_error: Error) {
        stats::record_error();
    }

    fn key_positions(args: &[Arg<'_>]) -> Vec<usize> {
        throttle_all_key_positions(args).collect()
    }
}

/// Opens the keys in order as the pipeline reads them: a key that cannot be read stops the
/// call before the keys after it are opened.
fn throttle_all(call: &Call<'_>) -> Result<Reply, Error> {
    let request = with_arg_bytes(call, 0, |args| pipeline::parse(Request::ThrottleAll, args))?;
    let mut keys = AllKeys::new(call, &request);
    let answer = pipeline::decide(&request, &mut keys, &mut server(call))?;
    apply(call, keys.opened(), answer)
}
