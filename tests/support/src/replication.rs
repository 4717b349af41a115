//! Primaries and replicas: starting a replica, waiting for its link and its acknowledgements.

use redis::Connection;

use super::client::{info_field, wait_until};
use super::server::{Options, Server};

/// Waits until a replica has completed its sync with its primary.
pub fn wait_for_link(replica: &Server) {
    let mut con = replica.connect();
    wait_until(20, "the replica to sync", || {
        info_field(&mut con, "replication", "master_link_status") == "up"
    });
}

/// A server with the module that sends no periodic PINGs to replicas, so that its
/// replication offset moves only with writes.
pub fn quiet_primary() -> Server {
    Server::start_with(Options {
        extra: vec!["--repl-ping-replica-period".into(), "3600".into()],
        ..Options::default()
    })
}

/// A replica of `primary`, with or without the module.
pub fn start_replica(primary: &Server, with_module: bool) -> Server {
    let replica = Server::start_with(Options {
        with_module,
        extra: vec![
            "--replicaof".into(),
            "127.0.0.1".into(),
            primary.port.to_string(),
        ],
        ..Options::default()
    });
    wait_for_link(&replica);
    replica
}

/// `WAIT replicas 5000`, asserting that all of them acknowledged.
pub fn wait_for_replicas(con: &mut Connection, replicas: i64) {
    let acked: i64 = redis::cmd("WAIT")
        .arg(replicas)
        .arg(5000)
        .query(con)
        .expect("WAIT");
    assert_eq!(acked, replicas, "replicas did not acknowledge");
}
