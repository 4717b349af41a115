//! The Redis Functions library (lua/gcra.lua) loaded into a server without the module.

use redis::Connection;

use super::client::outcome;
use super::server::{workspace_root, Options, Server};

/// The Redis Functions library (lua/gcra.lua): the commands without the module.
pub fn function_library() -> String {
    let path = workspace_root().join("lua/gcra.lua");
    std::fs::read_to_string(path).expect("read lua/gcra.lua")
}

/// Where the script form is kept, made from the library by [`script_form`].
pub const SCRIPT_FILE: &str = "lua/gcra_script.lua";

/// The script form as kept in the repository (lua/gcra_script.lua).
pub fn script_file() -> String {
    let path = workspace_root().join(SCRIPT_FILE);
    std::fs::read_to_string(path).expect("read lua/gcra_script.lua")
}

/// The library's exact path: text, compiled at its first use (a function keeps it).
const EXACT_PATH_OPENS: &str = "local EXACT_PATH = [==[\n";
const EXACT_PATH_CLOSES: &str = "]==]\nlocal function build_exact()\n  return assert(loadstring(EXACT_PATH, '=lua/gcra.lua exact path'))()\nend\n";

/// The library as a script for EVAL/EVALSHA: its first line (`#!lua name=gcra`) says where
/// the script comes from instead, and the exact path's text becomes the body of
/// `build_exact` (a script keeps nothing between calls: it would compile the text at every
/// call the fast path declines). Nothing else changes.
pub fn script_form(library: &str) -> String {
    let (first_line, rest) = library.split_once('\n').expect("a first line");
    assert!(first_line.starts_with("#!lua name="), "{first_line}");
    for part in [EXACT_PATH_OPENS, EXACT_PATH_CLOSES] {
        assert_eq!(
            rest.matches(part).count(),
            1,
            "lua/gcra.lua has {part:?} once"
        );
    }
    let rest = rest
        .replacen(EXACT_PATH_OPENS, "local function build_exact()\n", 1)
        .replacen(EXACT_PATH_CLOSES, "end\n", 1);
    format!("-- lua/gcra.lua as a script for EVAL/EVALSHA, made by tests/function.rs: edit that file, not this one.\n{rest}")
}

/// `FUNCTION LOAD REPLACE code`.
pub fn load_functions(con: &mut Connection, code: &str) {
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(code)
        .query(con)
        .expect("FUNCTION LOAD");
}

/// A server without the module, with the library loaded.
pub fn function_server() -> Server {
    let server = Server::start_with(Options {
        with_module: false,
        ..Options::default()
    });
    load_functions(&mut server.connect(), &function_library());
    server
}

/// `FCALL function numkeys keys.. args..`
pub fn fcall_cmd(function: &str, keys: &[&[u8]], args: &[&[u8]]) -> redis::Cmd {
    let mut cmd = redis::cmd("FCALL");
    cmd.arg(function).arg(keys.len()).arg(keys).arg(args);
    cmd
}

/// `FCALL cl_throttle 1 key args..`, which must succeed: its five integers.
pub fn fcall_throttle(con: &mut Connection, key: &[u8], args: &[&str]) -> Vec<i64> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    outcome(con, &fcall_cmd("cl_throttle", &[key], &args))
        .unwrap_or_else(|e| panic!("FCALL cl_throttle {args:?}: {e}"))
}
