//! Real redis-server processes on 127.0.0.1: start, connect, restart, kill (by PID, on drop).
//!
//! The server binary comes from `REDIS_SERVER` (default `redis-server` on PATH), the module
//! from `REDIS_GCRA_MODULE` (default: the newest `libredis_gcra.so` under the debug build of
//! `CARGO_TARGET_DIR`, or of the workspace's target/).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use redis::Connection;

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

/// The workspace's root directory (this crate is `tests/support` in it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn module_path() -> PathBuf {
    if let Ok(path) = std::env::var("REDIS_GCRA_MODULE") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map_or_else(|_| workspace_root().join("target"), PathBuf::from)
        .join("debug");
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
    env: Vec<(String, String)>,
    child: Option<Child>,
}

pub struct Options {
    pub with_module: bool,
    pub extra: Vec<String>,
    /// Environment variables for the server process (e.g. a preloaded clock).
    pub env: Vec<(String, String)>,
    pub dir: Option<PathBuf>,
    pub port: Option<u16>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            with_module: true,
            extra: Vec::new(),
            env: Vec::new(),
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
            let dir = workspace_root()
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
            env: options.env.clone(),
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
            .envs(self.env.iter().map(|(k, v)| (k, v)))
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
