//! Rate limiting with redis-gcra's exact GCRA, from Rust: typed limits and decisions, and
//! three providers on the same core.
//!
//! - [`LocalLimiter`]: in this process, for many threads; decides with the module's own core
//!   (`gcra-core`), so it answers exactly as the module would for the same arguments and now.
//! - [`RedisLimiter`]: on Redis or Valkey (async, tokio); one command per call: the module's
//!   `CL.THROTTLE` when the server has it, else the project's function library (`FCALL`), else
//!   the library's script form (`EVALSHA`), with the same decisions and stored state.
//! - [`HybridLimiter`]: a local fast path that serves tokens leased from the server in
//!   batches (`ATMOST`), caches denials until their retry time and refunds what it did not
//!   use; it never admits a token the server did not grant.
//!
//! ```no_run
//! # async fn example() -> Result<(), redis_gcra_client::Error> {
//! use redis_gcra_client::{Key, Limit, LocalLimiter};
//! let limiter = LocalLimiter::new();
//! let limit = Limit::per_minute(30)?.with_capacity(16)?;
//! let decision = limiter.throttle(&Key::new("user42")?, &limit, 1)?;
//! if let Some(wait) = decision.retry_after() {
//!     println!("limited: retry in {wait:?}");
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod clock;
mod decision;
mod error;
mod hybrid;
mod key;
mod limit;
mod local;
mod mode;
mod remote;
mod request;

pub use clock::{wall_clock_ns, Clock, CounterClock, SystemClock};
pub use decision::{Decision, Status};
pub use error::Error;
pub use hybrid::{HybridConfig, HybridLimiter, Local};
pub use key::{Key, KeyError, MAX_KEY_LEN};
pub use limit::{Limit, LimitError};
pub use local::LocalLimiter;
pub use mode::Mode;
pub use remote::{Backend, RedisLimiter};
