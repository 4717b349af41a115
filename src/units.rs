//! Time units, shared by the parser, the clock, the core and the replies.

#![forbid(unsafe_code)]

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
pub const NANOS_PER_MILLI: i64 = 1_000_000;
