//! Shared by the integration tests, one file per job: real servers (`server`), calls on a
//! connection (`client`), replicas (`replication`), a cluster (`cluster`), the function
//! library (`functions`) and seeded inputs (`rng`).

// Each test binary uses a different part of this module.
#![allow(dead_code, unused_imports)]

mod client;
mod cluster;
mod functions;
mod replication;
mod rng;
mod server;

pub use client::*;
pub use cluster::*;
pub use functions::*;
pub use replication::*;
pub use rng::*;
pub use server::*;

pub use redis::{Connection, Value};
