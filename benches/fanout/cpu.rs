//! CPU over a measured window: where the server and the generator run ([`Cores`]), what
//! each used, and whether anything else ran on their cores meanwhile (the machine may be
//! shared, and then the figures are noisy: the report says so).

use std::time::Instant;

use crate::procfs::{core_busy_secs, cpu_of};
use crate::sys::self_cpu_secs;

/// Where the server and the generator run (`None`: not pinned).
#[derive(Clone, Copy)]
pub struct Cores {
    pub server: Option<usize>,
    pub generator: Option<usize>,
}

/// A window opened with [`CpuWindow::start`] and closed with [`CpuWindow::finish`].
pub struct CpuWindow {
    /// The server's processes: one, or a cluster's servers and its Redis.
    pids: Vec<u32>,
    cores: Cores,
    wall: Instant,
    server: Option<f64>,
    generator: f64,
    server_core: Option<f64>,
    generator_core: Option<f64>,
}

/// What a window measured.
pub struct CpuUse {
    /// User + system seconds of the server's processes (None if /proc could not tell).
    pub server: Option<f64>,
    /// User + system seconds of the generator (this process).
    pub generator: f64,
    /// One note per core that also ran other processes.
    pub notes: Vec<String>,
}

impl CpuWindow {
    pub fn start(pids: &[u32], cores: Cores) -> CpuWindow {
        CpuWindow {
            pids: pids.to_vec(),
            cores,
            wall: Instant::now(),
            server: cpu_of(pids),
            generator: self_cpu_secs(),
            server_core: cores.server.and_then(core_busy_secs),
            generator_core: cores.generator.and_then(core_busy_secs),
        }
    }

    pub fn finish(self) -> CpuUse {
        let wall = self.wall.elapsed().as_secs_f64();
        let server = cpu_of(&self.pids).zip(self.server).map(|(b, a)| b - a);
        let generator = self_cpu_secs() - self.generator;
        let notes = [
            others_note(self.cores.server, self.server_core, server, wall),
            others_note(
                self.cores.generator,
                self.generator_core,
                Some(generator),
                wall,
            ),
        ];
        CpuUse {
            server,
            generator,
            notes: notes.into_iter().flatten().collect(),
        }
    }
}

/// A note if `core` was busy for noticeably longer than `ours` (the time our processes
/// used on it) during a window of `wall` seconds that started at `before`.
fn others_note(
    core: Option<usize>,
    before: Option<f64>,
    ours: Option<f64>,
    wall: f64,
) -> Option<String> {
    let (core, before, ours) = (core?, before?, ours?);
    let other = core_busy_secs(core)? - before - ours;
    (other > 0.05 + 0.1 * wall).then(|| {
        format!(
            "core {core} also ran other processes for {other:.2} s of this {wall:.2} s window: \
             the machine is shared, figures are noisy"
        )
    })
}
