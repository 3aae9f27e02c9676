//! What the bench reads from /proc: a process's memory and CPU time, a core's busy time,
//! the cores online, and the kernel's loopback drops and TCP retransmits (the machine-wide
//! signs that a run's figures were disturbed).

use std::fs::read_to_string;

/// The kernel's clock ticks per second, the unit of /proc/PID/stat and /proc/stat.
fn clock_ticks_per_second() -> f64 {
    rustix::param::clock_ticks_per_second().max(1) as f64
}

/// A `VmRSS:`/`VmHWM:` style figure from /proc/PID/status, in bytes.
pub fn proc_status_bytes(pid: u32, key: &str) -> Option<u64> {
    let status = read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(key).is_some_and(|r| r.starts_with(':')))?;
    let kb: u64 = line[key.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// CPU seconds (user + system) used so far by process `pid`, all threads: the sum of
/// every thread's run time in /proc/PID/task/*/schedstat (nanoseconds; threads that have
/// exited are not counted), else utime + stime from /proc/PID/stat (clock ticks).
pub fn proc_cpu_secs(pid: u32) -> Option<f64> {
    schedstat_secs(pid).or_else(|| stat_cpu_secs(pid))
}

fn schedstat_secs(pid: u32) -> Option<f64> {
    let mut ns = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        let Ok(text) = read_to_string(path) else {
            continue; // the thread just exited
        };
        ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 / 1e9)
}

fn stat_cpu_secs(pid: u32) -> Option<f64> {
    let stat = read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start with field 3, state.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks_per_second())
}

/// CPU seconds used so far by all of `pids` (None if any cannot be read, or none given).
pub fn cpu_of(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| proc_cpu_secs(p)).sum()
}

/// User+nice+system time of one core so far, in seconds, from /proc/stat.
pub fn core_busy_secs(core: usize) -> Option<f64> {
    let stat = read_to_string("/proc/stat").ok()?;
    let name = format!("cpu{core} ");
    let line = stat.lines().find(|l| l.starts_with(&name))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(3)
        .filter_map(|f| f.parse().ok())
        .collect();
    (ticks.len() == 3).then(|| ticks.iter().sum::<u64>() as f64 / clock_ticks_per_second())
}

/// The cores online: /proc/stat has a `cpuN` line for each (at least 1).
pub fn online_cores() -> usize {
    let Ok(stat) = read_to_string("/proc/stat") else {
        return 1;
    };
    let per_core = |l: &&str| {
        l.strip_prefix("cpu")
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    };
    stat.lines().filter(per_core).count().max(1)
}

/// Packets the kernel dropped because a core's input backlog was full (all cores), from
/// /proc/net/softnet_stat. On loopback every packet goes through that backlog.
pub fn softnet_dropped() -> Option<u64> {
    let text = read_to_string("/proc/net/softnet_stat").ok()?;
    let mut sum = 0;
    for line in text.lines() {
        sum += u64::from_str_radix(line.split_whitespace().nth(1)?, 16).ok()?;
    }
    Some(sum)
}

/// TCP segments retransmitted so far, machine-wide, from /proc/net/snmp.
pub fn tcp_retransmits() -> Option<u64> {
    let text = read_to_string("/proc/net/snmp").ok()?;
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next()?, tcp.next()?);
    let at = names.split_whitespace().position(|n| n == "RetransSegs")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// Bytes the kernel holds in TCP socket buffers, machine-wide (both ends of every
/// loopback connection, and every other process's), from /proc/net/sockstat.
pub fn tcp_buffer_bytes() -> Option<u64> {
    let text = read_to_string("/proc/net/sockstat").ok()?;
    let tcp = text.lines().find(|l| l.starts_with("TCP:"))?;
    let mut words = tcp.split_whitespace();
    words.find(|&w| w == "mem")?;
    let pages: u64 = words.next()?.parse().ok()?;
    Some(pages * rustix::param::page_size() as u64)
}

/// The load average line, for the header.
pub fn loadavg() -> Option<String> {
    read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.trim().to_string())
}
