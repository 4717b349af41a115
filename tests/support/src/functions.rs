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

/// The library's exact path is text from this line to `]==]`, compiled at its first use (a
/// function keeps what it compiled), as if at its place: the line above gives that place.
const EXACT_PATH_OPENS: &str = "local EXACT_PATH = [==[";
const EXACT_PATH_CLOSES: &str = "]==]";

/// The library as a script for EVAL/EVALSHA: its first line (`#!lua name=gcra`) says where
/// the script comes from instead, and the exact path's text becomes the body of
/// `build_exact` (a script keeps nothing between calls: it would compile the text at every
/// call the fast path declines), which replaces the text's place line, its opening line, and
/// its closing line with the function that compiles it. Nothing else changes. Checks the
/// place line on the way.
pub fn script_form(library: &str) -> String {
    let lines: Vec<&str> = library.lines().collect();
    assert!(lines[0].starts_with("#!lua name="), "{}", lines[0]);
    let once = |line: &str| {
        let at: Vec<usize> = (0..lines.len()).filter(|&i| lines[i] == line).collect();
        assert_eq!(at.len(), 1, "lua/gcra.lua has the line {line:?} once");
        at[0]
    };
    let (opens, closes) = (once(EXACT_PATH_OPENS), once(EXACT_PATH_CLOSES));
    let place = format!("local EXACT_PATH_LINE = {} ", opens + 1);
    assert!(
        lines[opens - 1].starts_with(&place),
        "the line above {EXACT_PATH_OPENS:?} must start with {place:?} (its line number)"
    );
    // The compiling function follows the text, up to the first line `end`.
    let function_ends = closes
        + lines[closes..]
            .iter()
            .position(|l| *l == "end")
            .expect("end");
    let compiler = lines[closes..function_ends].join("\n");
    assert!(
        compiler.contains("local function build_exact()") && compiler.contains("loadstring("),
        "build_exact follows the exact path's text: {compiler}"
    );
    let mut script = vec![
        "-- lua/gcra.lua as a script for EVAL/EVALSHA, made by tests/function.rs: edit that file, not this one.",
    ];
    script.extend(&lines[1..opens - 1]);
    script.push("local function build_exact()");
    script.extend(&lines[opens + 1..closes]);
    script.extend(&lines[function_ends..]);
    script.join("\n") + "\n"
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
