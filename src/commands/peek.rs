//! `CL.PEEK key max_burst count period [quantity] [MS]`: what CL.THROTTLE with the same
//! arguments would reply now, without taking anything. Read-only, so it also runs on
//! read-only replicas and for users who may only read.

use gcra_core::pipeline::{self, Command as Request};
use gcra_core::Error;

use crate::host::spec::{ArgSpec, CommandSpec, KeyAccess, KeySpec};
use crate::host::{Call, Command, Reply};
use crate::stats;
use crate::store::ReadOnlyKey;

use super::docs::{LIMIT_ARGS, MS, SINCE};
use super::{server, with_arg_bytes};

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
        peek(call)
    }

    fn failed(_error: Error) {
        stats::record_error();
    }
}

/// Reads the key without opening it for writing, and writes nothing.
fn peek(call: &Call<'_>) -> Result<Reply, Error> {
    let request = with_arg_bytes(call, 1, |args| pipeline::parse(Request::Peek, args))?;
    let answer = pipeline::decide(&request, &mut ReadOnlyKey::new(call), &mut server(call))?;
    stats::count(answer.tally);
    Ok(Reply::from(answer.reply.as_slice()))
}
