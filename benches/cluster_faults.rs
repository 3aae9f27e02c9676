//! The cluster's fault table (issue 12): each fault, at 1, 5 and 30 s where it has a
//! length, on one room of two gochat servers and a Redis, with four members counting every
//! line. Prints one Markdown row per scenario, as README's Cluster section shows them.
//!
//! Run with: `cargo bench --bench cluster_faults` (about four minutes), or
//! `cargo bench --bench cluster_faults -- --quick` for the short list `cargo test` runs.
//! It needs redis-server and redis-sentinel (Debian: `apt install redis-server
//! redis-sentinel`); the scenarios run one after another, each on its own processes.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/cluster_faults/mod.rs"]
mod faults;
#[path = "../tests/common/redis.rs"]
mod redis;

use std::process::ExitCode;
use std::time::Duration;

use faults::{Fault, Row};

fn main() -> ExitCode {
    let quick = std::env::args().any(|a| a == "--quick");
    let secs = Duration::from_secs;
    let lengths: &[u64] = if quick { &[5] } else { &[1, 5, 30] };
    let mut scenarios: Vec<Fault> = lengths
        .iter()
        .map(|s| Fault::RedisPaused(secs(*s)))
        .collect();
    scenarios.extend([Fault::RedisRestartedEmpty, Fault::RedisRestartedFromAof]);
    scenarios.extend(lengths.iter().map(|s| Fault::CutOff(secs(*s))));
    scenarios.extend([
        Fault::ServerPaused(secs(5)),
        Fault::ServerKilled,
        Fault::SentinelFailover,
    ]);
    println!("{}", Row::header());
    let mut kept = true;
    for fault in scenarios {
        let Some(row) = faults::run(fault) else {
            println!(
                "| {} | not run: redis-server or redis-sentinel missing |",
                fault.name()
            );
            kept = false;
            continue;
        };
        println!("{}", row.line());
        if let Err(broken) = std::panic::catch_unwind(|| row.assert_kept()) {
            let why = broken.downcast_ref::<String>().cloned().unwrap_or_default();
            eprintln!("cluster_faults: a promise broken: {why}");
            kept = false;
        }
    }
    if kept {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
