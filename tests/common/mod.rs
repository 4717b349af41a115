//! Shared by the integration tests: the workspace's dev-only crate `gcra-test-support`
//! (tests/support/), one file per job: real servers, calls on a connection, replicas, a
//! cluster, the function library, a frozen clock and seeded inputs.

// Each test binary uses a different part of it.
#![allow(unused_imports)]

pub use gcra_test_support::*;

pub use redis::{Connection, Value};
