//! How the limiter is reached on a server: the module's commands, the function library
//! (lua/gcra.lua, loaded with `FUNCTION LOAD REPLACE`, again on `Function not found`), or its script form
//! (lua/gcra_script.lua through `EVALSHA`, loaded again whenever the server answers `NOSCRIPT`: after a failover to a
//! replica, a restart or `SCRIPT FLUSH`). Same replies, same stored state either way.

use redis::aio::ConnectionLike;
use redis::Value;

use crate::error::Error;

/// The project's Redis Functions library.
pub(crate) const LIBRARY: &str = include_str!("../../../lua/gcra.lua");

/// The library's script form, made from it (its exact path compiled with the script).
pub(crate) const SCRIPT: &str = include_str!("../../../lua/gcra_script.lua");

/// Which way the limiter reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `CL.THROTTLE`, `CL.THROTTLEALL`, `CL.PEEK`: the module is loaded.
    Module,
    /// `FCALL cl_throttle`...: the function library (loaded by the client if missing).
    Function,
    /// `EVALSHA` of the library's script form: no module, no `FUNCTION` (or refused).
    Script,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Module => "module",
            Backend::Function => "function",
            Backend::Script => "script",
        }
    }
}

/// Asks the server for `CL.THROTTLE`; without it, loads the library; where `FUNCTION` is
/// missing or refused, the script.
pub(crate) async fn detect<C: ConnectionLike + Send>(con: &mut C) -> Result<Backend, Error> {
    let info: Vec<Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("CL.THROTTLE")
        .query_async(con)
        .await?;
    if !matches!(info.first(), Some(Value::Nil) | None) {
        return Ok(Backend::Module);
    }
    match load_library(con).await {
        Ok(()) => Ok(Backend::Function),
        Err(Error::Connection(error)) => Err(Error::Connection(error)),
        // A read-only replica cannot load it, but has it if its primary does.
        Err(_) if library_loaded(con).await => Ok(Backend::Function),
        Err(_) => Ok(Backend::Script),
    }
}

/// Whether the server has the library (`FUNCTION LIST LIBRARYNAME gcra`).
async fn library_loaded<C: ConnectionLike + Send>(con: &mut C) -> bool {
    redis::cmd("FUNCTION")
        .arg("LIST")
        .arg("LIBRARYNAME")
        .arg("gcra")
        .query_async::<Vec<Value>>(con)
        .await
        .is_ok_and(|libraries| !libraries.is_empty())
}

/// `FUNCTION LOAD REPLACE` the library (on every primary of a cluster).
pub(crate) async fn load_library<C: ConnectionLike + Send>(con: &mut C) -> Result<(), Error> {
    redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(LIBRARY)
        .query_async::<Value>(con)
        .await?;
    Ok(())
}

/// Whether the server answered that the library's function does not exist.
pub(crate) fn is_missing(error: &redis::RedisError) -> bool {
    error.code() == Some("ERR")
        && error
            .detail()
            .is_some_and(|detail| detail.contains("Function not found"))
}
