//! The cluster's fault suite, short: each fault of issue 12 once, with faults that last
//! 5 s where a length is asked (long enough for a heartbeat to expire). Every scenario
//! checks the room's promises and prints its row of the table (`-- --nocapture` shows it);
//! `cargo bench --bench cluster_faults` runs the full table (1, 5 and 30 s), for README.
//!
//! A test that finds no redis-server (or redis-sentinel) says so loudly and skips, unless
//! `GOCHAT_REQUIRE_REDIS=1` (set by `.ci/run`), where it fails with the install command.

#![cfg(feature = "redis")]

mod common;
#[path = "cluster_faults/mod.rs"]
mod faults;
#[path = "common/redis.rs"]
mod redis;

use std::time::Duration;

use faults::{Fault, Row};

/// Runs `fault`, prints its row, and checks the room kept its promises.
fn survives(fault: Fault) {
    let Some(row) = faults::run(fault) else {
        return;
    };
    eprintln!("{}\n{}", Row::header(), row.line());
    row.assert_kept();
}

const FIVE: Duration = Duration::from_secs(5);

#[test]
fn redis_paused_5s() {
    survives(Fault::RedisPaused(FIVE));
}

#[test]
fn redis_killed_and_restarted_empty() {
    survives(Fault::RedisRestartedEmpty);
}

#[test]
fn redis_killed_and_restarted_from_its_aof() {
    survives(Fault::RedisRestartedFromAof);
}

#[test]
fn a_server_cut_off_from_redis_5s() {
    survives(Fault::CutOff(FIVE));
}

#[test]
fn a_server_paused_5s() {
    survives(Fault::ServerPaused(FIVE));
}

#[test]
fn a_server_killed() {
    survives(Fault::ServerKilled);
}

#[test]
fn a_sentinel_failover() {
    survives(Fault::SentinelFailover);
}
