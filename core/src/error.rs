//! Every way a call can fail, each mapped to one static reply.
//!
//! The strings are C strings so a reply needs no allocation. An error is always
//! returned before anything is written, so an error reply means "nothing changed".

#![forbid(unsafe_code)]

use std::ffi::CStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    WrongArity,
    WrongArityAll,
    InvalidNumLimits,
    WrongArityPeek,
    /// A trailing argument that is not an option.
    UnknownOption,
    /// The same option twice.
    RepeatedOption,
    /// More than one of BLOCK, ATMOST and SOFT.
    ConflictingOptions,
    InvalidBlock,
    InvalidSoft,
    /// BLOCK, ATMOST or SOFT with a quantity below 1.
    ModeNeedsQuantity,
    /// CL.PEEK with BLOCK, ATMOST or SOFT.
    PeekMode,
    /// The same key twice in one CL.THROTTLEALL.
    DuplicateKey,
    InvalidMaxBurst,
    InvalidCount,
    InvalidPeriod,
    InvalidQuantity,
    /// `count` tokens in `period` would need an interval below one nanosecond.
    RateTooHigh,
    /// The key holds a type other than a string.
    WrongType,
    /// The key holds a string that is not a TAT written by us or redis-cell.
    CorruptState,
    /// The new TAT or a reply value would not fit in a signed 64-bit integer.
    Overflow,
    /// The system clock could not be read or is before the Unix epoch.
    Clock,
    /// Used memory is over maxmemory and the call would charge tokens (Redis's own reply).
    OutOfMemory,
    /// The server lacks a module API call we need (too old a server).
    MissingApi,
    /// A bug: a panic was caught at the command boundary.
    Internal,
}

impl Error {
    pub fn message(self) -> &'static CStr {
        match self {
            Error::WrongArity => c"ERR wrong number of arguments for 'CL.THROTTLE' command",
            Error::WrongArityAll => {
                c"ERR wrong number of arguments for 'CL.THROTTLEALL' command"
            }
            Error::InvalidNumLimits => {
                c"ERR invalid numlimits: expected an integer >= 1, followed by that many key max_burst count period groups"
            }
            Error::WrongArityPeek => c"ERR wrong number of arguments for 'CL.PEEK' command",
            Error::UnknownOption => {
                c"ERR unknown option: expected MS, BLOCK <ms>, ATMOST or SOFT <hard_factor> after the quantity"
            }
            Error::RepeatedOption => c"ERR an option appears twice",
            Error::ConflictingOptions => {
                c"ERR BLOCK, ATMOST and SOFT cannot be combined: give at most one"
            }
            Error::InvalidBlock => {
                c"ERR invalid BLOCK: expected milliseconds from 0 to 9223372036854"
            }
            Error::InvalidSoft => {
                c"ERR invalid SOFT: expected a hard_factor from 1 to 1000, with at most 9 decimals"
            }
            Error::ModeNeedsQuantity => {
                c"ERR BLOCK, ATMOST and SOFT need a quantity of at least 1"
            }
            Error::PeekMode => c"ERR CL.PEEK only looks: it takes [quantity] [MS], not BLOCK, ATMOST or SOFT",
            Error::DuplicateKey => {
                c"ERR the same key appears twice in CL.THROTTLEALL: give each limit its own key"
            }
            Error::InvalidMaxBurst => {
                c"ERR invalid max_burst: expected an integer from 0 to 9223372036854775806"
            }
            Error::InvalidCount => {
                c"ERR invalid count: expected an integer from 1 to 9223372036854775807"
            }
            Error::InvalidPeriod => {
                c"ERR invalid period: expected seconds above 0 and up to 9223372036.854775807, with at most 9 decimals"
            }
            Error::InvalidQuantity => {
                c"ERR invalid quantity: expected a 64-bit integer (or an option: MS, BLOCK, ATMOST, SOFT)"
            }
            Error::RateTooHigh => {
                c"ERR invalid count: more than one token per nanosecond (count must not exceed period in nanoseconds)"
            }
            Error::WrongType => c"WRONGTYPE Operation against a key holding the wrong kind of value",
            Error::CorruptState => {
                c"ERR key holds a string that is not a rate limiter state (expected a TAT: nanoseconds since the Unix epoch)"
            }
            Error::Overflow => {
                c"ERR quantity or period too large: the rate limiter state would overflow a 64-bit integer"
            }
            Error::Clock => c"ERR cannot read the system clock (or it is before 1970)",
            Error::OutOfMemory => c"OOM command not allowed when used memory > 'maxmemory'.",
            Error::MissingApi => c"ERR this server lacks a module API that redis-gcra needs",
            Error::Internal => c"ERR internal error in redis-gcra (nothing was written; please report it)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Error; 24] = [
        Error::WrongArity,
        Error::WrongArityAll,
        Error::WrongArityPeek,
        Error::InvalidNumLimits,
        Error::UnknownOption,
        Error::RepeatedOption,
        Error::ConflictingOptions,
        Error::InvalidBlock,
        Error::InvalidSoft,
        Error::ModeNeedsQuantity,
        Error::PeekMode,
        Error::DuplicateKey,
        Error::InvalidMaxBurst,
        Error::InvalidCount,
        Error::InvalidPeriod,
        Error::InvalidQuantity,
        Error::RateTooHigh,
        Error::WrongType,
        Error::CorruptState,
        Error::Overflow,
        Error::Clock,
        Error::OutOfMemory,
        Error::MissingApi,
        Error::Internal,
    ];

    #[test]
    fn every_message_is_a_resp_error_on_one_line() {
        for error in ALL {
            let text = error.message().to_str().expect("ASCII message");
            assert!(
                ["ERR ", "WRONGTYPE ", "OOM "]
                    .iter()
                    .any(|prefix| text.starts_with(prefix)),
                "{text}"
            );
            assert!(!text.contains('\r') && !text.contains('\n'), "{text}");
        }
    }

    #[test]
    fn argument_errors_name_their_argument() {
        let named = [
            (Error::InvalidMaxBurst, "max_burst"),
            (Error::InvalidCount, "count"),
            (Error::InvalidPeriod, "period"),
            (Error::InvalidQuantity, "quantity"),
            (Error::RateTooHigh, "count"),
            (Error::InvalidNumLimits, "numlimits"),
            (Error::UnknownOption, "MS"),
            (Error::InvalidBlock, "BLOCK"),
            (Error::InvalidSoft, "SOFT"),
        ];
        for (error, argument) in named {
            let text = error.message().to_str().expect("ASCII message");
            assert!(text.contains(argument), "{text} should name {argument}");
        }
    }
}
