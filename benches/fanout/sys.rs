//! The system calls the bench makes about itself, through `rustix` (no `unsafe`): which
//! cores it may use and pinning itself to one, its open file limit, and its CPU time.
//!
//! Children are pinned differently, before they run a single instruction: see
//! [`crate::launch::tied_command`].

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
use rustix::time::{ClockId, clock_gettime};

/// Pins this thread (the generator: the bench is one thread) to `core`.
pub fn pin_self(core: usize) -> std::io::Result<()> {
    let mut set = CpuSet::new();
    set.set(core);
    sched_setaffinity(None, &set)?;
    Ok(())
}

/// The cores this process may run on.
pub fn allowed_cores() -> Vec<usize> {
    let Ok(set) = sched_getaffinity(None) else {
        return Vec::new();
    };
    (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect()
}

/// Raises the soft open file limit to the hard one; returns the soft limit now in force.
pub fn raise_open_file_limit() -> u64 {
    let limit = getrlimit(Resource::Nofile);
    let (Some(current), max) = (limit.current, limit.maximum) else {
        return u64::MAX; // unlimited already
    };
    if max.is_none_or(|max| current < max) {
        let raised = Rlimit {
            current: max,
            maximum: max,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return max.unwrap_or(u64::MAX);
        }
    }
    current
}

/// CPU seconds (user + system) used so far by this process, all threads: the kernel's
/// scheduler run time, the same clock [`crate::procfs::proc_cpu_secs`] reads for the
/// server, so the two figures compare.
pub fn self_cpu_secs() -> f64 {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}
