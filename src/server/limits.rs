//! The process's open file limit: every member is a descriptor, so `gochat serve` raises
//! its soft limit to the hard one at start, and fits `--max-clients` under it.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors kept free for everything that is not a member: stdio, the listeners, the
/// poller, the signal pipe, executor threads, the spare descriptor. `--max-clients` is
/// capped at the open file limit minus this.
pub const FD_MARGIN: usize = 32;

/// Raises the soft open file limit to the hard limit and returns the limit now in force
/// (`usize::MAX` for none).
pub fn raise_open_file_limit() -> usize {
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    let in_force = if limit.current != limit.maximum && setrlimit(Resource::Nofile, raised).is_ok()
    {
        limit.maximum
    } else {
        limit.current
    };
    // `None` is no limit at all.
    in_force.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// The most members an open file `limit` leaves room for.
pub fn member_ceiling(limit: usize) -> usize {
    limit.saturating_sub(FD_MARGIN).max(1)
}
