//! A Redis Cluster of real servers, created with `redis-cli --cluster create`.

use std::process::Command;

use super::client::{info_field, wait_until};
use super::replication::wait_for_link;
use super::server::{Options, Server};

/// A Redis Cluster of `primaries` nodes with `replicas` replicas each, every node with the module.
pub struct Cluster {
    pub nodes: Vec<Server>,
}

impl Cluster {
    pub fn start(primaries: usize, replicas: usize) -> Cluster {
        Cluster::start_with(primaries, replicas, true, &[])
    }

    /// A cluster whose nodes have the module or not, with `extra` server arguments each.
    pub fn start_with(
        primaries: usize,
        replicas: usize,
        with_module: bool,
        extra: &[&str],
    ) -> Cluster {
        let nodes: Vec<Server> = (0..primaries * (1 + replicas))
            .map(|_| {
                Server::start_with(Options {
                    with_module,
                    extra: [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "2000",
                    ]
                    .iter()
                    .chain(extra)
                    .map(|s| s.to_string())
                    .collect(),
                    ..Options::default()
                })
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let output = create
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            output.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = Cluster { nodes };
        for node in &cluster.nodes {
            let mut con = node.connect();
            wait_until(30, "cluster_state:ok on every node", || {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut con)
                    .expect("CLUSTER INFO");
                info.contains("cluster_state:ok")
                    && info.contains(&format!("cluster_known_nodes:{}", cluster.nodes.len()))
            });
        }
        for node in &cluster.nodes {
            let mut con = node.connect();
            if info_field(&mut con, "replication", "role") == "slave" {
                wait_for_link(node);
            }
        }
        cluster
    }

    /// Every node's URL.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}/", n.port))
            .collect()
    }

    /// A cluster-aware client that follows MOVED/ASK.
    pub fn client(&self) -> redis::cluster::ClusterConnection {
        redis::cluster::ClusterClient::new(self.urls())
            .expect("cluster client")
            .get_connection()
            .expect("cluster connection")
    }

    /// The node that currently serves `key` as a primary.
    pub fn owner(&self, key: &str) -> &Server {
        self.nodes
            .iter()
            .find(|node| {
                let mut con = node.connect();
                info_field(&mut con, "replication", "role") == "master"
                    && redis::cmd("GET")
                        .arg(key)
                        .query::<Option<Vec<u8>>>(&mut con)
                        .is_ok()
            })
            .expect("an owner for the key")
    }
}
