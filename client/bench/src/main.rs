//! The client's side-by-side benchmark (a benchmark, not a test): this crate's local, Redis
//! and hybrid providers against trypema 2.2.1 (local, Redis, hybrid; absolute) and governor
//! (keyed, local), in the same rounds on this machine: 1 and 16 concurrent workers, a hot key
//! and 100,000 keys, all with one limit (10,000 per second, bursts of 1,000). Prints markdown:
//! ops/s, p50/p99 latency, admissions, and for the server rows the Redis commands per 1,000
//! admitted requests: limiter calls sent (EVALSHA, FCALL, CL.*: round trips) and commands the
//! server ran (INFO's total_commands_processed, a script's own calls included). `maps` first
//! measures the concurrent maps the local provider could use.
//!
//! Run: `REDIS_SERVER=<redis 8.2 or valkey> REDIS_GCRA_MODULE=<libredis_gcra.so> cargo run
//! --release -p redis-gcra-client-bench -- [--quick] [--rounds N] [--only maps|local|remote]`
//! (trypema's Redis providers need Redis 7.2 or newer).

mod local_rows;
mod maps;
mod measure;
mod remote_rows;
mod report;
mod sent;

use std::time::Duration;

use gcra_test_support::{info_field, Server};
use measure::Sample;
use report::{median, Row};

/// The limit every contender gets: 10,000 per second, bursts of 1,000.
pub const RATE: u64 = 10_000;
pub const BURST: u64 = 1_000;
pub const KEYS: usize = 100_000;

/// The key a worker uses at its i-th operation: the hot key, or a spread over KEYS.
pub fn key_index(hot: bool, worker: usize, i: u64) -> usize {
    if hot {
        0
    } else {
        (i as usize * 7919 + worker * 104_729) % KEYS
    }
}

struct Options {
    rounds: usize,
    local_run: Duration,
    remote_run: Duration,
    only: Option<String>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    Options {
        rounds: value("--rounds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(if quick { 1 } else { 3 }),
        local_run: Duration::from_millis(if quick { 200 } else { 1000 }),
        remote_run: Duration::from_millis(if quick { 500 } else { 2000 }),
        only: value("--only"),
    }
}

/// One map's run: workers, hot key or not, how long.
type MapRun = fn(usize, bool, Duration) -> Sample;

const CELLS: [(usize, bool); 4] = [(1, true), (16, true), (1, false), (16, false)];

fn main() {
    let options = options();
    let wants = |part: &str| options.only.as_deref().is_none_or(|only| only == part);
    if wants("maps") {
        run_maps(&options);
    }
    if wants("local") {
        run_local(&options);
    }
    if wants("remote") {
        run_remote(&options);
    }
}

fn run_maps(options: &Options) {
    let maps: [(&str, MapRun); 3] = [
        ("papaya 0.2", maps::papaya),
        ("dashmap 6", maps::dashmap),
        ("scc 2", maps::scc),
    ];
    let mut rows = Vec::new();
    for &(workers, hot) in &CELLS {
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); maps.len()];
        for round in 0..options.rounds {
            for k in 0..maps.len() {
                let at = (k + round) % maps.len();
                samples[at].push((maps[at].1)(workers, hot, options.local_run));
            }
        }
        for (k, (name, _)) in maps.iter().enumerate() {
            rows.push(Row::new(name, workers, hot, median(&samples[k]), None));
        }
    }
    report::print_maps("Concurrent maps, the local provider's workload", &rows);
}

fn run_local(options: &Options) {
    let contenders = local_rows::Contender::ALL;
    let mut rows = Vec::new();
    for &(workers, hot) in &CELLS {
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); contenders.len()];
        for round in 0..options.rounds {
            for k in 0..contenders.len() {
                let at = (k + round) % contenders.len();
                samples[at].push(local_rows::run(
                    contenders[at],
                    workers,
                    hot,
                    options.local_run,
                ));
            }
        }
        for (k, contender) in contenders.iter().enumerate() {
            rows.push(Row::new(
                contender.name(),
                workers,
                hot,
                median(&samples[k]),
                None,
            ));
        }
    }
    report::print("In process", &rows);
}

fn run_remote(options: &Options) {
    let server = Server::start();
    let mut info = server.connect();
    let version = info_field(&mut info, "server", "redis_version");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let url = format!("redis://127.0.0.1:{}/", server.port);
    let contenders = remote_rows::Contender::ALL;
    let mut rows = Vec::new();
    let mut run_id = 0;
    for &(workers, hot) in &CELLS {
        let mut samples: Vec<Vec<(Sample, sent::Counts)>> = vec![Vec::new(); contenders.len()];
        for round in 0..options.rounds {
            for k in 0..contenders.len() {
                let at = (k + round) % contenders.len();
                run_id += 1;
                let prefix = format!("b{run_id}_");
                let commands = |info: &mut redis::Connection| -> u64 {
                    info_field(info, "stats", "total_commands_processed")
                        .parse()
                        .expect("a count")
                };
                // The last run's background work (trypema's hybrid commits its pending counts
                // after its provider is dropped) ends before this one is counted.
                for _ in 0..40 {
                    let seen = commands(&mut info);
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    if commands(&mut info) == seen + 1 {
                        break;
                    }
                }
                let sent_before = sent::limiter_calls(&mut info);
                let before = commands(&mut info);
                let sample = runtime.block_on(async {
                    let client = redis::Client::open(url.as_str()).expect("url");
                    let con = client.get_connection_manager().await.expect("connect");
                    remote_rows::run(
                        contenders[at],
                        con,
                        &prefix,
                        workers,
                        hot,
                        options.remote_run,
                    )
                    .await
                });
                // The first INFO is counted once it has run: it is not the contender's.
                let ran = commands(&mut info).saturating_sub(before + 1);
                let sent = sent::limiter_calls(&mut info)
                    .zip(sent_before)
                    .map(|(after, before)| after.saturating_sub(before));
                samples[at].push((sample, sent::Counts { sent, ran }));
                let _: () = redis::cmd("FLUSHALL").query(&mut info).expect("FLUSHALL");
            }
        }
        for (k, contender) in contenders.iter().enumerate() {
            let (sample, figures) = report::median_with(&samples[k]);
            rows.push(Row::new(
                contender.name(),
                workers,
                hot,
                sample,
                Some(figures),
            ));
        }
    }
    report::print(
        &format!("On a server (Redis {version}, module loaded)"),
        &rows,
    );
}
