//! Starts and stops real redis-server processes on 127.0.0.1 for the integration tests.
//!
//! The server binary comes from `REDIS_SERVER` (default `redis-server` on PATH), the module
//! from `REDIS_GCRA_MODULE` (default: the newest `libredis_gcra.so` under target/debug).

#![allow(dead_code)] // each test binary uses a different part of this module

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

pub use redis::{Connection, Value};

static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// A port that nothing listens on, from a per-process range so parallel runs don't collide,
/// below Linux's default ephemeral range (32768+) so outgoing connections rarely take it.
/// Its cluster bus port (+10000, at most 65535) must be free too.
fn free_port() -> u16 {
    let base = 10_000 + (std::process::id() % 200) as u16 * 100;
    loop {
        let offset = NEXT_PORT.fetch_add(1, Ordering::SeqCst) % 100;
        let port = base + offset;
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return port;
        }
    }
}

/// Between choosing a port and the server binding it, a client's outgoing connection can take
/// it as its ephemeral source port; the server then exits at once with this line in its log.
fn lost_port_race(log: &str) -> bool {
    log.contains("Address already in use")
}

/// Why a server did not come up: whether it only lost its port to another socket (which this
/// start logged, not an earlier one in the same log), and what to report.
struct Failure {
    port_taken: bool,
    report: String,
}

pub fn redis_server_binary() -> String {
    std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_string())
}

pub fn module_path() -> PathBuf {
    if let Ok(path) = std::env::var("REDIS_GCRA_MODULE") {
        return PathBuf::from(path);
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug");
    [
        target.join("libredis_gcra.so"),
        target.join("deps/libredis_gcra.so"),
    ]
    .into_iter()
    .filter_map(|path| Some((path.metadata().ok()?.modified().ok()?, path)))
    .max()
    .map(|(_, path)| path)
    .expect("module not built: run `cargo build` first (scripts/test does)")
}

/// A running redis-server, killed (by PID) and reaped on drop.
pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

pub struct Options {
    pub with_module: bool,
    pub extra: Vec<String>,
    pub dir: Option<PathBuf>,
    pub port: Option<u16>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            with_module: true,
            extra: Vec::new(),
            dir: None,
            port: None,
        }
    }
}

impl Server {
    /// A standalone server with the module loaded, no persistence.
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    /// Starts a server; if it lost its chosen port to another socket, tries again on another one.
    pub fn start_with(options: Options) -> Server {
        let mut attempts = 0;
        loop {
            let mut server = Server::configure(&options);
            match server.try_spawn() {
                Ok(()) => return server,
                Err(failure) if failure.port_taken && options.port.is_none() && attempts < 5 => {
                    attempts += 1;
                }
                Err(failure) => panic!("{}", failure.report),
            }
        }
    }

    fn configure(options: &Options) -> Server {
        let port = options.port.unwrap_or_else(free_port);
        let dir = options.dir.clone().unwrap_or_else(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/test-servers")
                .join(format!("{}-{port}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            dir
        });
        std::fs::create_dir_all(&dir).expect("server dir");
        let mut args: Vec<String> = [
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--dir",
            dir.to_str().expect("utf-8 dir"),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            "server.log",
            "--protected-mode",
            "yes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if options.with_module {
            args.push("--loadmodule".into());
            args.push(module_path().to_str().expect("utf-8 path").into());
        }
        args.extend(options.extra.iter().cloned());
        Server {
            port,
            dir,
            args,
            child: None,
        }
    }

    /// Starts the process again with the same arguments; a port briefly held by another socket
    /// (an outgoing connection's source port) is waited for.
    fn spawn(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.try_spawn() {
                Ok(()) => return,
                Err(failure) if failure.port_taken && Instant::now() < deadline => {
                    sleep(Duration::from_millis(200));
                }
                Err(failure) => panic!("{}", failure.report),
            }
        }
    }

    /// Starts the process and waits until it answers PING; on failure, says why with its log.
    fn try_spawn(&mut self) -> Result<(), Failure> {
        // A restart appends to the same log: only what this start writes tells why it failed.
        let logged = self.log().len();
        let child = Command::new(redis_server_binary())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (install it, or set REDIS_SERVER)");
        self.child = Some(child);
        self.wait_ready().map_err(|report| Failure {
            port_taken: self.log().get(logged..).is_some_and(lost_port_race),
            report,
        })
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "redis-server exited with {status}; log:\n{}",
                        self.log()
                    ));
                }
            }
            if let Ok(mut con) = self.try_connect() {
                // LOADING replies are errors; wait until the data set is loaded.
                if redis::cmd("PING").query::<String>(&mut con).is_ok() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!("redis-server not ready; log:\n{}", self.log()));
            }
            sleep(Duration::from_millis(20));
        }
    }

    fn try_connect(&self) -> redis::RedisResult<Connection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        client.get_connection_with_timeout(Duration::from_secs(2))
    }

    /// A connection whose calls fail after a minute instead of hanging the test run.
    pub fn connect(&self) -> Connection {
        let con = self.try_connect().expect("connect");
        con.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("read timeout");
        con
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no final fsync or save.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the same server again (same port, dir and arguments) after `kill`.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Restarts with other module settings, keeping port and dir.
    pub fn restart_with_module(&mut self, with_module: bool) {
        self.kill();
        if let Some(at) = self.args.iter().position(|a| a == "--loadmodule") {
            self.args.drain(at..at + 2);
        }
        if with_module {
            self.args.push("--loadmodule".into());
            self.args
                .push(module_path().to_str().expect("utf-8 path").into());
        }
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs CL.THROTTLE and returns its five integers.
pub fn throttle(con: &mut Connection, key: &[u8], args: &[&str]) -> Vec<i64> {
    redis::cmd("CL.THROTTLE")
        .arg(key)
        .arg(args)
        .query(con)
        .unwrap_or_else(|e| panic!("CL.THROTTLE {args:?}: {e}"))
}

/// Runs a command that must fail and returns "CODE detail".
pub fn error_of(con: &mut Connection, cmd: &redis::Cmd) -> String {
    match cmd.query::<Value>(con) {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
    }
}

pub fn get(con: &mut Connection, key: &[u8]) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query(con).expect("GET")
}

/// A key's value and absolute expiry: what "nothing was written" and "identical" compare.
pub type KeyState = (Option<Vec<u8>>, i64);

pub fn key_state(con: &mut Connection, key: &[u8]) -> KeyState {
    (get(con, key), pexpiretime(con, key))
}

pub fn key_states<K: AsRef<[u8]>>(con: &mut Connection, keys: &[K]) -> Vec<KeyState> {
    keys.iter().map(|k| key_state(con, k.as_ref())).collect()
}

/// Absolute expiry in ms (-1 no expiry, -2 no key).
pub fn pexpiretime(con: &mut Connection, key: &[u8]) -> i64 {
    redis::cmd("PEXPIRETIME")
        .arg(key)
        .query(con)
        .expect("PEXPIRETIME")
}

pub fn info_field(con: &mut Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(con).expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .to_string()
}

pub fn wall_clock_ns() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_nanos()).expect("fits")
}

/// Waits until `check` holds, polling every 50 ms; panics with `what` after `seconds`.
pub fn wait_until(seconds: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(50));
    }
}

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

/// A Redis Cluster of `primaries` nodes with `replicas` replicas each, every node with the module.
pub struct Cluster {
    pub nodes: Vec<Server>,
}

impl Cluster {
    pub fn start(primaries: usize, replicas: usize) -> Cluster {
        let nodes: Vec<Server> = (0..primaries * (1 + replicas))
            .map(|_| {
                Server::start_with(Options {
                    extra: [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "2000",
                    ]
                    .iter()
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

    /// A cluster-aware client that follows MOVED/ASK.
    pub fn client(&self) -> redis::cluster::ClusterConnection {
        let urls: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}/", n.port))
            .collect();
        redis::cluster::ClusterClient::new(urls)
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

/// The Redis Functions library (lua/gcra.lua): the commands without the module.
pub fn function_library() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("lua/gcra.lua");
    std::fs::read_to_string(path).expect("read lua/gcra.lua")
}

/// `FUNCTION LOAD REPLACE code`.
pub fn load_functions(con: &mut Connection, code: &str) {
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(code)
        .query(con)
        .expect("FUNCTION LOAD");
}

/// A server without the module, with the library loaded.
pub fn function_server() -> Server {
    let server = Server::start_with(Options {
        with_module: false,
        ..Options::default()
    });
    load_functions(&mut server.connect(), &function_library());
    server
}

/// The five integers of a reply, or its error as "CODE detail" (the full error text).
pub fn outcome(con: &mut Connection, cmd: &redis::Cmd) -> Result<Vec<i64>, String> {
    cmd.query::<Vec<i64>>(con)
        .map_err(|e| format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")))
}

/// `FCALL function numkeys keys.. args..`
pub fn fcall_cmd(function: &str, keys: &[&[u8]], args: &[&[u8]]) -> redis::Cmd {
    let mut cmd = redis::cmd("FCALL");
    cmd.arg(function).arg(keys.len()).arg(keys).arg(args);
    cmd
}

/// `FCALL cl_throttle 1 key args..`, which must succeed: its five integers.
pub fn fcall_throttle(con: &mut Connection, key: &[u8], args: &[&str]) -> Vec<i64> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    outcome(con, &fcall_cmd("cl_throttle", &[key], &args))
        .unwrap_or_else(|e| panic!("FCALL cl_throttle {args:?}: {e}"))
}

/// Every file of the multi-part AOF (Redis 7) or the single file (older), concatenated.
pub fn aof_bytes(server: &Server) -> Vec<u8> {
    let mut bytes = Vec::new();
    for dir in [server.dir.join("appendonlydir"), server.dir.clone()] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with("appendonly") && entry.path().is_file() {
                bytes.extend(std::fs::read(entry.path()).expect("read AOF"));
            }
        }
    }
    bytes
}

/// xorshift64*: small, seedable, good enough to pick test inputs (the same seed gives the
/// same inputs on every run).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// In 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}
