//! Every way a call fails, typed. A limit, key, quantity or mode that is not valid is refused
//! before anything is sent or written; so is a key of another type or a corrupt stored value
//! (the server, or the local store, writes nothing then).

use std::fmt;

use gcra_core::Error as CoreError;

use crate::key::KeyError;
use crate::limit::LimitError;

#[derive(Debug)]
pub enum Error {
    Limit(LimitError),
    Key(KeyError),
    /// A quantity that does not fit a signed 64-bit integer, or 0 where a mode needs one.
    InvalidQuantity,
    /// A mode's value out of range, or a mode where it has no meaning.
    InvalidMode(&'static str),
    /// A provider's configuration out of range (e.g. `HybridConfig::lease_ttl`).
    InvalidConfig(&'static str),
    /// `throttle_all` with no limits, or the same key twice.
    InvalidLimits(&'static str),
    /// The key holds a list, a hash, a set...
    WrongType,
    /// The key holds a string that is not a limiter's state.
    CorruptState,
    /// The new TAT or a reply would overflow 64 bits (without the module: a capacity past
    /// 2^53, what Lua replies exactly).
    Overflow,
    /// Used memory is over `maxmemory` and the call would take tokens.
    OutOfMemory,
    /// The local clock is before 1970 (or past 2262).
    Clock,
    /// Redis Cluster: the keys of one `throttle_all` are in different slots (use a hash tag).
    CrossSlot,
    /// Another error reply from the server, as it said it.
    Server(String),
    /// A reply that is not what the command answers.
    UnexpectedReply(String),
    /// The connection failed, or timed out.
    Connection(redis::RedisError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Limit(error) => write!(f, "invalid limit: {error}"),
            Error::Key(error) => write!(f, "invalid key: {error}"),
            Error::InvalidQuantity => f.write_str("invalid quantity"),
            Error::InvalidMode(why) => write!(f, "invalid mode: {why}"),
            Error::InvalidConfig(why) => write!(f, "invalid configuration: {why}"),
            Error::InvalidLimits(why) => write!(f, "invalid limits: {why}"),
            Error::WrongType => f.write_str("the key holds another type of value"),
            Error::CorruptState => {
                f.write_str("the key holds a string that is not a limiter state")
            }
            Error::Overflow => {
                f.write_str("quantity or period too large: the state would overflow")
            }
            Error::OutOfMemory => f.write_str("the server is out of memory (maxmemory)"),
            Error::Clock => f.write_str("the clock is before 1970 or past 2262"),
            Error::CrossSlot => f.write_str("the keys are in different cluster slots"),
            Error::Server(text) => write!(f, "server error: {text}"),
            Error::UnexpectedReply(reply) => write!(f, "unexpected reply: {reply}"),
            Error::Connection(error) => write!(f, "connection: {error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Limit(error) => Some(error),
            Error::Key(error) => Some(error),
            Error::Connection(error) => Some(error),
            _ => None,
        }
    }
}

impl From<LimitError> for Error {
    fn from(error: LimitError) -> Error {
        Error::Limit(error)
    }
}

impl From<KeyError> for Error {
    fn from(error: KeyError) -> Error {
        Error::Key(error)
    }
}

impl From<CoreError> for Error {
    fn from(error: CoreError) -> Error {
        match error {
            CoreError::WrongType => Error::WrongType,
            CoreError::CorruptState => Error::CorruptState,
            CoreError::Overflow => Error::Overflow,
            CoreError::DuplicateKey => Error::InvalidLimits("the same key appears twice"),
            CoreError::InvalidQuantity | CoreError::ModeNeedsQuantity => Error::InvalidQuantity,
            CoreError::Clock => Error::Clock,
            other => Error::Server(other.message().to_string_lossy().into_owned()),
        }
    }
}

impl From<redis::RedisError> for Error {
    /// Error replies the limiter gives (module, function or script: the same texts) become
    /// their variants; anything else stays a connection error.
    fn from(error: redis::RedisError) -> Error {
        let Some(code) = error.code() else {
            return Error::Connection(error);
        };
        let detail = error.detail().unwrap_or("");
        match code {
            "WRONGTYPE" => Error::WrongType,
            "OOM" => Error::OutOfMemory,
            "CROSSSLOT" => Error::CrossSlot,
            "ERR" if detail.contains("not a rate limiter state") => Error::CorruptState,
            "ERR" if detail.contains("would overflow") => Error::Overflow,
            // The function and the script serve a max_burst up to 2^53 - 1 only (Lua's
            // exact integers): past it, its reply would not fit, as the module's past 2^63.
            "ERR" if detail.contains("max_burst: at most") => Error::Overflow,
            "ERR" if detail.contains("same key appears twice") => {
                Error::InvalidLimits("the same key appears twice")
            }
            "ERR" | "ERROR" if detail.contains("OOM command not allowed") => Error::OutOfMemory,
            _ if error.is_io_error() || error.is_timeout() || error.is_connection_dropped() => {
                Error::Connection(error)
            }
            _ => Error::Server(format!("{code} {detail}")),
        }
    }
}
