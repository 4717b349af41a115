//! The markdown tables.

use crate::measure::Sample;
use crate::sent::Counts;
use crate::{BURST, RATE};

/// Per 1,000 admitted: limiter calls sent, commands run; and requests per limiter call.
pub type Figures = [Option<f64>; 3];

pub struct Row {
    name: String,
    workers: usize,
    hot: bool,
    sample: Sample,
    figures: Option<Figures>,
}

impl Row {
    pub fn new(
        name: &str,
        workers: usize,
        hot: bool,
        sample: Sample,
        figures: Option<Figures>,
    ) -> Row {
        Row {
            name: name.to_string(),
            workers,
            hot,
            sample,
            figures,
        }
    }

    fn keys(&self) -> &'static str {
        if self.hot {
            "hot key"
        } else {
            "100,000"
        }
    }
}

/// The sample with the median throughput.
pub fn median(samples: &[Sample]) -> Sample {
    let mut sorted: Vec<&Sample> = samples.iter().collect();
    sorted.sort_by(|a, b| a.ops_per_sec().total_cmp(&b.ops_per_sec()));
    sorted
        .get(sorted.len() / 2)
        .map(|s| (*s).clone())
        .unwrap_or_default()
}

/// The sample with the median throughput, and the median command counts per 1,000 admitted
/// (each run's counts over that run's admissions).
pub fn median_with(samples: &[(Sample, Counts)]) -> (Sample, Figures) {
    let sample = median(&samples.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>());
    let middle = |mut figures: Vec<f64>| {
        figures.sort_by(f64::total_cmp);
        figures.get(figures.len() / 2).copied()
    };
    let per_admitted = |n: u64, s: &Sample| n as f64 * 1000.0 / s.admitted.max(1) as f64;
    let sent: Option<Vec<f64>> = samples
        .iter()
        .map(|(s, c)| c.sent.map(|n| per_admitted(n, s)))
        .collect();
    let requests_per_sent: Option<Vec<f64>> = samples
        .iter()
        .map(|(s, c)| c.sent.map(|n| s.ops as f64 / n.max(1) as f64))
        .collect();
    let ran = samples
        .iter()
        .map(|(s, c)| per_admitted(c.ran, s))
        .collect();
    (
        sample,
        [
            sent.and_then(middle),
            middle(ran),
            requests_per_sent.and_then(middle),
        ],
    )
}

fn latency(ns: u32) -> String {
    match ns {
        0..=9_999 => format!("{ns} ns"),
        10_000..=9_999_999 => format!("{:.1} µs", f64::from(ns) / 1e3),
        _ => format!("{:.1} ms", f64::from(ns) / 1e6),
    }
}

/// For the hot key: admissions as a share of what an exact limiter admits over the run.
fn of_limit(sample: &Sample) -> f64 {
    let exact = BURST as f64 + RATE as f64 * sample.elapsed.as_secs_f64();
    100.0 * sample.admitted as f64 / exact
}

fn figure(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |v| format!("{v:.1}"))
}

/// Limiters: throughput, latency, admissions and, on a server, commands.
pub fn print(title: &str, rows: &[Row]) {
    println!("\n### {title}\n");
    let server = rows.iter().any(|row| row.figures.is_some());
    print!("| contender | workers | keys | ops/s | p50 | p99 | admitted | hot key: admitted / exact limit |");
    if server {
        print!(" limiter calls per 1,000 admitted | commands run per 1,000 admitted | requests per limiter call |");
    }
    println!();
    print!("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |");
    if server {
        print!(" ---: | ---: | ---: |");
    }
    println!();
    for row in rows {
        let s = &row.sample;
        print!(
            "| {} | {} | {} | {:.0} | {} | {} | {:.1}% | {} |",
            row.name,
            row.workers,
            row.keys(),
            s.ops_per_sec(),
            latency(s.percentile(0.5)),
            latency(s.percentile(0.99)),
            100.0 * s.admitted as f64 / s.ops.max(1) as f64,
            if row.hot {
                format!("{:.1}%", of_limit(s))
            } else {
                String::new()
            },
        );
        if let Some([sent, ran, per_sent]) = row.figures {
            print!(
                " {} | {} | {} |",
                figure(sent),
                figure(ran),
                figure(per_sent)
            );
        }
        println!();
    }
}

/// The map measurement: throughput and latency only (every call admits there).
pub fn print_maps(title: &str, rows: &[Row]) {
    println!("\n### {title}\n");
    println!("| map | threads | keys | ops/s | p50 | p99 |");
    println!("| --- | ---: | --- | ---: | ---: | ---: |");
    for row in rows {
        let s = &row.sample;
        println!(
            "| {} | {} | {} | {:.0} | {} | {} |",
            row.name,
            row.workers,
            row.keys(),
            s.ops_per_sec(),
            latency(s.percentile(0.5)),
            latency(s.percentile(0.99)),
        );
    }
}
