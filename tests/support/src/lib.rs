//! Shared by the workspace's integration tests (the module's, in tests/, and the client's),
//! one file per job: real servers (`server`), calls on a connection (`client`), replicas
//! (`replication`), a cluster (`cluster`), the function library (`functions`), a frozen wall
//! clock for the servers (`clock`) and seeded inputs (`rng`).

mod client;
mod clock;
mod cluster;
mod functions;
mod replication;
mod rng;
mod server;

pub use client::*;
pub use clock::*;
pub use cluster::*;
pub use functions::*;
pub use replication::*;
pub use rng::*;
pub use server::*;

pub use redis;
