//! `CL.THROTTLEALL numlimits key max_burst count period [key ...] [quantity] [MS]`: one
//! request against several limits, allowed only if every limit allows it.

use crate::args::{parse_throttle_all, throttle_all_key_positions, GROUP_LEN};
use crate::error::Error;
use crate::host::spec::{ArgKind, ArgSpec, CommandSpec, KeyAccess, KeySpec};
use crate::host::{Arg, Call, Command, Reply};
use crate::store::Limiter;

use super::{run_with_mode, LIMIT_ARGS, MODE, MS, QUANTITY, SINCE};

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

    /// Parse (with the duplicate-key check), open and read every key, then decide, prepare
    /// every write and write them all (`run_with_mode`).
    fn run(call: &Call<'_>) -> Result<Reply, Error> {
        let args = call.args()?;
        let request = parse_throttle_all(&args)?;
        let mut limiters = Vec::with_capacity(request.limits.len());
        let mut states = Vec::with_capacity(request.limits.len());
        for &(key, limit) in &request.limits {
            let (limiter, tat) = Limiter::open(call, key)?;
            limiters.push(limiter);
            states.push((limit, tat));
        }
        run_with_mode(
            call,
            limiters,
            &states,
            request.quantity,
            request.unit,
            request.mode,
        )
    }

    fn key_positions(args: &[Arg<'_>]) -> Vec<usize> {
        throttle_all_key_positions(args).collect()
    }
}
