//! The Redis Functions library (lua/gcra.lua) loaded into a server without the module.

use redis::Connection;

use super::client::outcome;
use super::server::{workspace_root, Options, Server};

/// The Redis Functions library (lua/gcra.lua): the commands without the module.
pub fn function_library() -> String {
    let path = workspace_root().join("lua/gcra.lua");
    std::fs::read_to_string(path).expect("read lua/gcra.lua")
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
