//! The markdown tables.

use crate::measure::Sample;
use crate::{BURST, RATE};

pub struct Row {
    name: String,
    workers: usize,
    hot: bool,
    sample: Sample,
    commands_per_thousand: Option<f64>,
}

impl Row {
    pub fn new(
        name: &str,
        workers: usize,
        hot: bool,
        sample: Sample,
        commands_per_thousand: Option<f64>,
    ) -> Row {
        Row {
            name: name.to_string(),
            workers,
            hot,
            sample,
            commands_per_thousand,
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

/// The sample with the median throughput, and the median of the other figure.
pub fn median_with(samples: &[(Sample, f64)]) -> (Sample, f64) {
    let sample = median(&samples.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>());
    let mut figures: Vec<f64> = samples.iter().map(|(_, f)| *f).collect();
    figures.sort_by(f64::total_cmp);
    (
        sample,
        figures.get(figures.len() / 2).copied().unwrap_or(0.0),
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

pub fn print(title: &str, rows: &[Row]) {
    println!("\n### {title}\n");
    println!("| contender | workers | keys | ops/s | p50 | p99 | admitted | hot key: admitted / exact limit | Redis commands per 1,000 admitted |");
    println!("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in rows {
        let s = &row.sample;
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {:.1}% | {} | {} |",
            row.name,
            row.workers,
            if row.hot { "hot key" } else { "100,000" },
            s.ops_per_sec(),
            latency(s.percentile(0.5)),
            latency(s.percentile(0.99)),
            100.0 * s.admitted as f64 / s.ops.max(1) as f64,
            if row.hot {
                format!("{:.1}%", of_limit(s))
            } else {
                "".into()
            },
            row.commands_per_thousand
                .map_or(String::new(), |c| format!("{c:.1}")),
        );
    }
}
