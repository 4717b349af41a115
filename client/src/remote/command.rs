//! A call as the command line of each backend.

use redis::{Cmd, Script, ScriptInvocation};

use crate::request::{Call, Command};

use super::backend::Backend;

/// What to send: a command, or a script invocation (which reloads on `NOSCRIPT`).
pub(crate) enum Invocation<'s> {
    Cmd(Cmd),
    Script(ScriptInvocation<'s>),
}

/// The call's command for `backend` (`script` is the library's script form, loaded).
pub(crate) fn invocation<'s>(
    call: &Call<'_>,
    backend: Backend,
    script: &'s Script,
) -> Invocation<'s> {
    let groups = call.limits.len();
    let entry = match (call.command, groups) {
        (Command::Peek, _) => "cl_peek",
        (Command::Throttle, 1) => "cl_throttle",
        (Command::Throttle, _) => "cl_throttleall",
    };
    match backend {
        Backend::Module => {
            let mut cmd = match (call.command, groups) {
                (Command::Peek, _) => redis::cmd("CL.PEEK"),
                (Command::Throttle, 1) => redis::cmd("CL.THROTTLE"),
                (Command::Throttle, n) => {
                    let mut cmd = redis::cmd("CL.THROTTLEALL");
                    cmd.arg(n);
                    cmd
                }
            };
            for (key, limit) in call.limits {
                cmd.arg(key.as_bytes()).arg(&limit.args()[..]);
            }
            cmd.arg(call.option_args());
            Invocation::Cmd(cmd)
        }
        Backend::Function => {
            let mut cmd = redis::cmd(if call.command == Command::Peek {
                "FCALL_RO"
            } else {
                "FCALL"
            });
            cmd.arg(entry).arg(groups);
            for (key, _) in call.limits {
                cmd.arg(key.as_bytes());
            }
            for (_, limit) in call.limits {
                cmd.arg(&limit.args()[..]);
            }
            cmd.arg(call.option_args());
            Invocation::Cmd(cmd)
        }
        Backend::Script => {
            let mut invocation = script.prepare_invoke();
            for (key, _) in call.limits {
                invocation.key(key.as_bytes());
            }
            invocation.arg(entry);
            for (_, limit) in call.limits {
                invocation.arg(&limit.args()[..]);
            }
            invocation.arg(call.option_args());
            Invocation::Script(invocation)
        }
    }
}
