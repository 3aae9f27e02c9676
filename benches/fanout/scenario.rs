//! The scenarios: how many members, how many of them send, how many lines, and at what
//! pace. One table row each.
//!
//! - `fanout-100`: 100 members, 10 of them senders writing 1000 lines each as fast as they
//!   can (64 KiB writes): 1,000,000 deliveries.
//! - `fanout-1000`: 1000 members, 2 senders x 500 lines: 1,000,000 deliveries.
//! - `steady-100k`: 500 members, 50 senders, one line every 5 ms in turn (200 lines/s,
//!   100,000 deliveries/s) for 10 s. The point is latency.
//! - `idle-10k`: 10,000 members join and stay silent; the figure is the server's RSS per
//!   member.
//!
//! `--quick` makes each of them shorter (fewer lines, 2000 idle members): a smoke run.

use crate::args::USAGE;

/// How the senders send.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Every sender writes all its lines as fast as the socket takes them.
    Burst,
    /// `lines_per_sec` lines in total, spread evenly in time over the senders (round robin),
    /// until each sender has sent `per_sender`.
    Steady { lines_per_sec: u64 },
    /// Members only join; the figure is memory.
    Idle,
}

/// One scenario: a row of the table.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub members: usize,
    /// Members 0..senders send; every member, senders included, receives.
    pub senders: usize,
    pub per_sender: usize,
    pub mode: Mode,
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

    /// Whether the scenario measures memory rather than traffic.
    pub fn is_idle(&self) -> bool {
        self.mode == Mode::Idle
    }
}

/// Every scenario, in the table's order.
pub fn all_scenarios(quick: bool) -> Vec<Scenario> {
    let (burst_100, burst_1000, secs, idle) = if quick {
        (100, 50, 2, 2000)
    } else {
        (1000, 500, 10, 10_000)
    };
    // steady: 100,000 deliveries/s to 500 members is 200 lines/s, 4 per sender per second.
    let steady_members = 500;
    let steady_senders = 50;
    let lines_per_sec = 100_000 / steady_members as u64;
    vec![
        Scenario {
            name: "fanout-100",
            members: 100,
            senders: 10,
            per_sender: burst_100,
            mode: Mode::Burst,
        },
        Scenario {
            name: "fanout-1000",
            members: 1000,
            senders: 2,
            per_sender: burst_1000,
            mode: Mode::Burst,
        },
        Scenario {
            name: "steady-100k",
            members: steady_members,
            senders: steady_senders,
            per_sender: (lines_per_sec * secs) as usize / steady_senders,
            mode: Mode::Steady { lines_per_sec },
        },
        Scenario {
            name: "idle-10k",
            members: idle,
            senders: 0,
            per_sender: 0,
            mode: Mode::Idle,
        },
    ]
}

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
