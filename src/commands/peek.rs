//! `CL.PEEK key max_burst count period [quantity] [MS]`: what CL.THROTTLE with the same
//! arguments would reply now, without taking anything. Read-only, so it also runs on
//! read-only replicas and for users who may only read.

use crate::error::Error;
use crate::host::spec::{ArgSpec, CommandSpec, KeyAccess, KeySpec};
use crate::host::{Call, Command, Reply};
use crate::modes::Mode;
use crate::{clock, gcra, reply, stats, store};

use super::{parse_single, LIMIT_ARGS, MS, SINCE};

pub struct Peek;

impl Command for Peek {
    const SPEC: CommandSpec = CommandSpec {
        name: c"CL.PEEK",
        flags: c"readonly fast",
        acl_categories: c"read fast",
        arity: -5,
        keys: KeySpec::One { at: 1 },
        key_access: KeyAccess::Read,
        summary: c"Replies what CL.THROTTLE with the same arguments would reply now, without taking anything",
        complexity: c"O(1)",
        since: SINCE,
        args: &[
            ArgSpec::key(c"key"),
            LIMIT_ARGS[0],
            LIMIT_ARGS[1],
            LIMIT_ARGS[2],
            ArgSpec::new(
                c"quantity",
                crate::host::spec::ArgKind::Integer,
                c"tokens the request would take (default 1)",
            )
            .optional(),
            MS,
        ],
    };

    fn run(call: &Call<'_>) -> Result<Reply, Error> {
        let request = parse_single(call).map_err(|error| match error {
            Error::WrongArity => Error::WrongArityPeek,
            other => other,
        })?;
        if request.mode != Mode::Plain {
            return Err(Error::PeekMode);
        }
        let stored_tat = store::read_tat(call, request.key)?;
        let decision = gcra::decide(
            &request.limit,
            request.quantity,
            stored_tat,
            clock::now_ns()?,
        )?;
        stats::record_peek();
        Ok(Reply::from(reply::integers(&decision, request.unit)))
    }
}
