//! Running one contender for a fixed time from N threads or tasks: operations, admissions and
//! every operation's latency.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub ops: u64,
    pub admitted: u64,
    pub elapsed: Duration,
    /// Latency of every operation, in nanoseconds (sorted).
    pub latencies: Vec<u32>,
}

impl Sample {
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> u32 {
        let at = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(at).copied().unwrap_or(0)
    }

    fn merge(parts: Vec<(u64, u64, Vec<u32>)>, elapsed: Duration) -> Sample {
        let mut sample = Sample {
            elapsed,
            ..Sample::default()
        };
        for (ops, admitted, latencies) in parts {
            sample.ops += ops;
            sample.admitted += admitted;
            sample.latencies.extend(latencies);
        }
        sample.latencies.sort_unstable();
        sample
    }
}

fn nanos(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_nanos()).unwrap_or(u32::MAX)
}

/// `workers` threads call `op(worker, i)` for `run`; `op` says whether it admitted.
pub fn threads(workers: usize, run: Duration, op: impl Fn(usize, u64) -> bool + Sync) -> Sample {
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let parts = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (op, stop) = (&op, &stop);
                scope.spawn(move || {
                    let (mut ops, mut admitted) = (0u64, 0u64);
                    let mut latencies = Vec::with_capacity(1 << 20);
                    while !stop.load(Ordering::Relaxed) {
                        let at = Instant::now();
                        admitted += u64::from(op(worker, ops));
                        latencies.push(nanos(at));
                        ops += 1;
                    }
                    (ops, admitted, latencies)
                })
            })
            .collect();
        std::thread::sleep(run);
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect::<Vec<_>>()
    });
    Sample::merge(parts, start.elapsed())
}

/// `workers` tokio tasks call `op(worker, i)` for `run`.
pub async fn tasks<F, Fut>(workers: usize, run: Duration, op: F) -> Sample
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|worker| {
            let (op, stop) = (op.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut ops, mut admitted) = (0u64, 0u64);
                let mut latencies = Vec::with_capacity(1 << 16);
                while !stop.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    admitted += u64::from(op(worker, ops).await);
                    latencies.push(nanos(at));
                    ops += 1;
                    // Decisions made locally complete without awaiting: let other tasks run.
                    if ops % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                (ops, admitted, latencies)
            })
        })
        .collect();
    tokio::time::sleep(run).await;
    stop.store(true, Ordering::Relaxed);
    let mut parts = Vec::new();
    for handle in handles {
        parts.push(handle.await.expect("task"));
    }
    Sample::merge(parts, start.elapsed())
}
