//! The scenarios: how many members, how many of them send, how many lines, and at what
//! pace. One table row each.
//!
//! - `fanout-100`: 100 members, 10 of them senders writing 1000 lines each as fast as they
//!   can (64 KiB writes): 1,000,000 deliveries.
//! - `fanout-1000`: 1000 members, 2 senders x 500 lines: 1,000,000 deliveries.
//! - `steady-100k`: 500 members, 50 senders, one line every 5 ms in turn (200 lines/s,
//!   100,000 deliveries/s) for 10 s. The point is latency.
//!
//! Three more measure memory: the server's RSS per member, once the room is quiet (see
//! [`crate::run`] for what that counts and what it does not):
//!
//! - `idle-10k`: 10,000 members join, at most 256 connecting at once; each reads its
//!   greeting and then nothing more (all but member 0, which sends the sync line and reads
//!   it back). What the room sends them afterwards (the later members' arrivals) waits in
//!   their own receive buffers.
//! - `quiet-10k`: 10,000 members join the same way and keep reading; the room carries a
//!   little traffic (10 senders x 10 lines at 100 lines/s: 1,000,000 deliveries, checked like
//!   the others), then goes quiet.
//! - `rush-10k`: as `idle-10k`, but all 10,000 members connect at once, as a crowd (or an
//!   attacker's script) would. The server then holds thousands of members waiting to be let
//!   in at the same time, and the memory they held while waiting stays in the heap after
//!   they are in.
//!
//! `--quick` makes each of them shorter (fewer lines, 2000 members for the memory
//! scenarios): a smoke run.

use crate::args::USAGE;

/// How the senders send.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Every sender writes all its lines as fast as the socket takes them.
    Burst,
    /// `lines_per_sec` lines in total, spread evenly in time over the senders (round robin),
    /// until each sender has sent `per_sender`.
    Steady { lines_per_sec: u64 },
    /// Nobody sends: members only join.
    Idle,
}

/// What members read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reading {
    /// Everything the room sends them, as it comes.
    Everything,
    /// Their greeting (the read that brings it), then nothing; member 0 still reads, as it
    /// sends the sync line and must see it come back.
    GreetingOnly,
}

/// How members arrive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arrival {
    /// At most this many connecting (not yet greeted) at once.
    Paced(usize),
    /// All of them connecting at once.
    AllAtOnce,
}

/// Members connecting at once when paced (gochat's listen backlog is 1024).
pub const PACE: usize = 256;

/// One scenario: a row of the table.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub members: usize,
    /// Members 0..senders send; every member, senders included, receives.
    pub senders: usize,
    pub per_sender: usize,
    pub mode: Mode,
    pub reading: Reading,
    pub arrival: Arrival,
    /// Whether the figure is the server's RSS per member once the room is quiet.
    pub memory: bool,
}

impl Scenario {
    /// Lines sent in all.
    pub fn lines(&self) -> u64 {
        (self.senders * self.per_sender) as u64
    }

    /// Deliveries expected: every line to every member.
    pub fn expected(&self) -> u64 {
        self.members as u64 * self.lines()
    }

    /// Whether anybody sends (if not, there is no traffic to measure).
    pub fn has_traffic(&self) -> bool {
        self.mode != Mode::Idle
    }

    /// The most members connecting, not yet greeted, at once.
    pub fn in_flight(&self) -> usize {
        match self.arrival {
            Arrival::Paced(n) => n,
            Arrival::AllAtOnce => self.members,
        }
    }
}

/// A traffic scenario: members that read everything, arriving paced.
fn traffic(
    name: &'static str,
    members: usize,
    senders: usize,
    per_sender: usize,
    mode: Mode,
) -> Scenario {
    Scenario {
        name,
        members,
        senders,
        per_sender,
        mode,
        reading: Reading::Everything,
        arrival: Arrival::Paced(PACE),
        memory: false,
    }
}

/// A memory scenario with nobody sending.
fn idle(name: &'static str, members: usize, arrival: Arrival) -> Scenario {
    Scenario {
        name,
        members,
        senders: 0,
        per_sender: 0,
        mode: Mode::Idle,
        reading: Reading::GreetingOnly,
        arrival,
        memory: true,
    }
}

/// Every scenario, in the table's order.
pub fn all_scenarios(quick: bool) -> Vec<Scenario> {
    let (burst_100, burst_1000, secs, idle_members) = if quick {
        (100, 50, 2, 2000)
    } else {
        (1000, 500, 10, 10_000)
    };
    // steady: 100,000 deliveries/s to 500 members is 200 lines/s, 4 per sender per second.
    let steady_members = 500;
    let steady_senders = 50;
    let lines_per_sec = 100_000 / steady_members as u64;
    let steady = Mode::Steady { lines_per_sec };
    let steady_lines = (lines_per_sec * secs) as usize / steady_senders;
    vec![
        traffic("fanout-100", 100, 10, burst_100, Mode::Burst),
        traffic("fanout-1000", 1000, 2, burst_1000, Mode::Burst),
        traffic(
            "steady-100k",
            steady_members,
            steady_senders,
            steady_lines,
            steady,
        ),
        idle("idle-10k", idle_members, Arrival::Paced(PACE)),
        Scenario {
            memory: true,
            ..traffic("quiet-10k", idle_members, 10, 10, QUIET_PACE)
        },
        idle("rush-10k", idle_members, Arrival::AllAtOnce),
    ]
}

/// The little traffic of `quiet-10k`: 100 lines a second, so a line is in the room every
/// 10 ms and the room never holds more than a few at once.
const QUIET_PACE: Mode = Mode::Steady { lines_per_sec: 100 };

/// The scenarios named (each once, in the order first named), or all of them.
pub fn choose(names: &[String], quick: bool) -> Result<Vec<Scenario>, String> {
    let all = all_scenarios(quick);
    if names.is_empty() {
        return Ok(all);
    }
    let mut chosen: Vec<Scenario> = Vec::new();
    for name in names {
        let sc = all
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| format!("unknown scenario {name:?}\n{USAGE}"))?;
        if !chosen.iter().any(|c| c.name == sc.name) {
            chosen.push(sc.clone());
        }
    }
    Ok(chosen)
}
