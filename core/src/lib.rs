//! The rate limiter of redis-gcra without Redis: everything that decides a request and
//! needs no server. Read top to bottom:
//!
//! - [`gcra`]: the generic cell rate algorithm in exact integer nanoseconds (a limit, a
//!   stored TAT and "now" in; a decision out);
//! - [`modes`]: `BLOCK`, `ATMOST` and `SOFT` on top of it;
//! - [`args`]: the commands' argument grammar over raw bytes, and [`decimal`] for the
//!   numbers in it and in stored values;
//! - [`reply`]: a decision as the reply's integers, in seconds or milliseconds ([`units`]);
//! - [`error`]: every way a call fails, each with its reply text;
//! - [`pipeline`]: one request from its argument bytes to its reply, its writes and its
//!   release, with the reading of keys, the clock and the randomness left to the caller
//!   (the module, the fuzzer, the differential test of the function library).
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable
    )
)]

pub mod args;
pub mod decimal;
pub mod error;
pub mod gcra;
pub mod modes;
pub mod pipeline;
pub mod reply;
pub mod state;
pub mod units;

pub use error::Error;
