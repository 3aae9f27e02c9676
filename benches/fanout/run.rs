//! One run of one scenario on one server: start the server (or servers), join and sync the
//! members, measure (deliveries, latency, loss and order when anybody sends; memory for the
//! memory scenarios), then stop everything and collect the notes that explain the figures.
//!
//! # What "RSS per member" counts
//!
//! The server's resident memory (VmRSS) once the room is quiet again (its CPU time has
//! stopped moving, every member that reads has caught up), minus what it was before the
//! first member connected, divided by the members still in the room. That is everything the
//! server's process holds for them: each member's state (its link, reader and writer
//! tasks, its registration with the reactor), what the room's feed still keeps, and also
//! what the allocator keeps after it was freed: memory that members held only on their way
//! in, when it lies between pages still in use, stays resident (`rush-10k` shows how much
//! that can be). It does not count the kernel's memory for the connection (socket, file,
//! epoll entry: a few KiB per connection, not in any process's RSS), nor socket buffers:
//! what a member has not read waits in its own receive buffer and then in the server's
//! send buffer, both kernel memory. The run's line shows how much TCP buffer memory the
//! machine gained per member (both ends of every connection, so the generator's receive
//! buffers too).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::cpu::{Cores, CpuUse, CpuWindow};
use crate::generator::{Dial, Gen};
use crate::launch::{Launch, RedisProc, ServerProc, Target};
use crate::procfs::{
    cpu_of, proc_cpu_secs, proc_status_bytes, softnet_dropped, tcp_buffer_bytes, tcp_retransmits,
};
use crate::scenario::Scenario;

/// The longest an external server is given to take in a run's departures.
const SETTLE_CAP: Duration = Duration::from_secs(60);

/// The server is quiet once it used less than [`QUIET_CPU`] of CPU time over this long.
const QUIET_WINDOW: Duration = Duration::from_millis(500);
/// CPU time a quiet server may still use in [`QUIET_WINDOW`] (timers, a runtime's
/// housekeeping): 1%.
const QUIET_CPU: f64 = 0.005;
/// The longest the bench waits for the server to go quiet before reading its memory.
const QUIET_CAP: Duration = Duration::from_secs(30);

/// What one run measured.
#[derive(Default, Clone)]
pub struct RunResult {
    pub deliveries_per_s: Option<f64>,
    pub mb_per_s: Option<f64>,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub p999_us: Option<f64>,
    pub lost: Option<u64>,
    pub order_ok: Option<bool>,
    pub peak_rss: Option<u64>,
    pub rss_per_idle: Option<f64>,
    /// Machine-wide TCP buffer memory gained per member in the room (memory scenarios).
    pub tcp_buffers_per_member: Option<f64>,
    pub server_cpu: Option<f64>,
    pub gen_cpu: f64,
    /// The generator used at least as much CPU as the server during the window.
    pub gen_bound: bool,
    pub window_s: f64,
    pub join_s: f64,
    pub notes: Vec<String>,
}

impl RunResult {
    fn add_cpu(&mut self, cpu: CpuUse) {
        self.server_cpu = cpu.server;
        self.gen_cpu = cpu.generator;
        self.notes.extend(cpu.notes);
    }
}

/// Why a run failed.
pub enum RunError {
    /// The server did not start: the next runs will not do better.
    Start(String),
    /// Something went wrong during the run.
    Run(String),
}

impl From<String> for RunError {
    fn from(e: String) -> Self {
        RunError::Run(e)
    }
}

/// The servers of one run, killed when dropped.
struct Servers {
    /// The gochat (or other) servers, in the order members are spread over them.
    procs: Vec<ServerProc>,
    /// The cluster's Redis.
    redis: Option<RedisProc>,
    addrs: Vec<SocketAddr>,
    /// The (first) server's pid, for memory.
    pid: Option<u32>,
    /// Every process of the server side, for CPU.
    pids: Vec<u32>,
}

/// Starts what `launch` says for run `tag`.
fn start_servers(launch: &Launch, core: Option<usize>, tag: u64) -> Result<Servers, String> {
    let mut servers = Servers {
        procs: Vec::new(),
        redis: None,
        addrs: Vec::new(),
        pid: None,
        pids: Vec::new(),
    };
    match launch {
        Launch::Spawn { program, args } => {
            let (server, addr) = ServerProc::start(program, args, core)?;
            servers.add(server, addr);
        }
        Launch::External { addr, pid } => {
            servers.addrs.push(*addr);
            servers.pid = *pid;
            servers.pids.extend(pid);
        }
        Launch::Cluster {
            program,
            servers: n,
        } => {
            let store = RedisProc::start(core)?;
            let args = cluster_args(&store, tag);
            for _ in 0..*n {
                let (server, addr) = ServerProc::start(program, &args, core)?;
                servers.add(server, addr);
            }
            servers.pids.push(store.pid());
            servers.redis = Some(store);
        }
    }
    Ok(servers)
}

/// `gochat serve` joined to the room of run `tag` on `store`.
fn cluster_args(store: &RedisProc, tag: u64) -> Vec<String> {
    let room = format!("bench{tag}");
    [
        "serve",
        "127.0.0.1:0",
        "--redis",
        &store.url(),
        "--room",
        &room,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

impl Servers {
    fn add(&mut self, server: ServerProc, addr: SocketAddr) {
        self.pid.get_or_insert(server.pid());
        self.pids.push(server.pid());
        self.addrs.push(addr);
        self.procs.push(server);
    }

    /// Kills the servers (before the members close, so they do not spend time telling the
    /// room about 10,000 departures) and notes what they said on stderr.
    fn finish(&mut self, r: &mut RunResult) {
        for server in &mut self.procs {
            if let Some(status) = server.exited() {
                r.notes
                    .push(format!("the server exited during the run: {status}"));
            }
        }
        for server in self.procs.drain(..) {
            let log = server.finish();
            if log.too_slow > 0 {
                r.notes.push(format!(
                    "the server removed {} members as too slow",
                    log.too_slow
                ));
            }
            if log.other_count > 0 {
                r.notes.push(format!(
                    "the server wrote {} other stderr lines, e.g. {}",
                    log.other_count,
                    log.other.join(" | ")
                ));
            }
        }
    }
}

/// Runs scenario `sc` once on `target`; `tag` marks this run's lines.
pub fn run_once(
    target: &Target,
    sc: &Scenario,
    cores: Cores,
    tag: u64,
) -> Result<RunResult, RunError> {
    let mut servers = start_servers(&target.launch, cores.server, tag).map_err(RunError::Start)?;
    let mut gener = Gen::new(servers.addrs.clone(), Dial::Tcp, sc, tag)?;
    let mut r = RunResult::default();

    let drops_before = softnet_dropped();
    let retrans_before = tcp_retransmits();
    let memory_before = MemoryBefore::read(servers.pid);
    let join_cpu = CpuWindow::start(&servers.pids, cores);
    let join_started = Instant::now();
    if let Some(note) = gener.join_all(sc.members)? {
        r.notes.push(note);
    }
    if let Some(note) = gener.sync_all()? {
        r.notes.push(note);
    }
    r.join_s = join_started.elapsed().as_secs_f64();

    if sc.has_traffic() {
        measure_traffic(&mut gener, sc, &servers.pids, cores, &mut r);
    } else {
        r.window_s = r.join_s;
        r.add_cpu(join_cpu.finish());
    }
    if sc.memory {
        await_quiet(&mut gener, &servers.pids, &mut r)?;
        measure_memory(&gener, sc, servers.pid, memory_before, &mut r);
    }
    note_kernel_drops(drops_before, retrans_before, &mut r);
    note_generator(&gener, &mut r);
    r.peak_rss = servers.pid.and_then(|p| proc_status_bytes(p, "VmHWM"));
    servers.finish(&mut r);
    drop(gener);
    drop(servers);
    if let Launch::External { pid, .. } = target.launch {
        settle_external(pid);
    }
    Ok(r)
}

/// What the memory figures start from: read before the first member connects.
#[derive(Clone, Copy)]
struct MemoryBefore {
    rss: Option<u64>,
    tcp_buffers: Option<u64>,
}

impl MemoryBefore {
    fn read(pid: Option<u32>) -> MemoryBefore {
        MemoryBefore {
            rss: pid.and_then(|p| proc_status_bytes(p, "VmRSS")),
            tcp_buffers: tcp_buffer_bytes(),
        }
    }
}

/// Keeps the members reading until the server's processes have used (almost) no CPU for
/// [`QUIET_WINDOW`]: every write it had to make is made, so its memory is what it keeps.
fn await_quiet(gener: &mut Gen, pids: &[u32], r: &mut RunResult) -> Result<(), String> {
    let started = Instant::now();
    let Some(mut last) = cpu_of(pids) else {
        return Ok(()); // an external server without --pid: nothing to watch
    };
    loop {
        gener.pump_for(QUIET_WINDOW)?;
        let Some(now) = cpu_of(pids) else {
            return Ok(());
        };
        if now - last < QUIET_CPU {
            return Ok(());
        }
        if started.elapsed() > QUIET_CAP {
            r.notes.push(format!(
                "the server was still busy after {} s; its memory was read anyway",
                QUIET_CAP.as_secs()
            ));
            return Ok(());
        }
        last = now;
    }
}

/// The memory figure: the server's RSS per member still in the room. With `--addr` the
/// server is not fresh, so this only counts what it did not already hold.
fn measure_memory(
    gener: &Gen,
    sc: &Scenario,
    pid: Option<u32>,
    before: MemoryBefore,
    r: &mut RunResult,
) {
    let rss_after = pid.and_then(|p| proc_status_bytes(p, "VmRSS"));
    // Per member still in the room (every one, unless the server dropped some).
    let in_room = gener.in_room().max(1);
    let per_member = |before: Option<u64>, after: Option<u64>| {
        let (before, after) = (before?, after?);
        Some((after as f64 - before as f64) / in_room as f64)
    };
    r.rss_per_idle = per_member(before.rss, rss_after);
    r.tcp_buffers_per_member = per_member(before.tcp_buffers, tcp_buffer_bytes());
    if in_room < sc.members {
        r.notes.push(format!(
            "RSS per idle member is over the {in_room} members still in the room"
        ));
    }
}

/// Sends the scenario's lines and measures their delivery.
fn measure_traffic(gener: &mut Gen, sc: &Scenario, pids: &[u32], cores: Cores, r: &mut RunResult) {
    let expected = sc.expected();
    let cpu = CpuWindow::start(pids, cores);
    if let Some(note) = gener.traffic(sc, expected) {
        r.notes.push(note);
    }
    r.add_cpu(cpu.finish());
    if let Some(server_cpu) = r.server_cpu {
        if r.gen_cpu >= server_cpu {
            r.gen_bound = true;
            r.notes.push(format!(
                "the generator used more CPU ({:.3} s) than the server ({server_cpu:.3} s): \
                 deliveries/s and latency here are bounded by the generator",
                r.gen_cpu
            ));
        }
    }
    delivery_figures(gener, expected, r);
    order_figures(gener, sc, r);
}

/// Deliveries/s, MB/s, latency percentiles and loss.
fn delivery_figures(gener: &mut Gen, expected: u64, r: &mut RunResult) {
    let st = &mut gener.st;
    let first = st.first_send_ns.unwrap_or(0);
    let window = st.last_delivery_ns.saturating_sub(first) as f64 / 1e9;
    r.window_s = window;
    if st.valid > 0 && window > 0.0 {
        r.deliveries_per_s = Some(st.valid as f64 / window);
        r.mb_per_s = Some(st.bytes as f64 / window / 1e6);
    }
    st.lat_ns.sort_unstable();
    r.p50_us = percentile(&st.lat_ns, 0.50);
    r.p99_us = percentile(&st.lat_ns, 0.99);
    r.p999_us = percentile(&st.lat_ns, 0.999);
    r.lost = Some(expected.saturating_sub(st.valid));
}

/// Whether every member saw one order, and notes on those that did not.
fn order_figures(gener: &Gen, sc: &Scenario, r: &mut RunResult) {
    let st = &gener.st;
    let members_ok = gener.members.iter().all(|m| m.order_ok);
    r.order_ok = Some(members_ok && st.disorder == 0);
    if !members_ok {
        let bad = gener.members.iter().filter(|m| !m.order_ok).count();
        r.notes.push(format!("{bad} members saw a different order"));
    }
    if st.disorder > 0 {
        r.notes.push(format!(
            "{} duplicate or reordered lines from one sender",
            st.disorder
        ));
    }
    let short = gener
        .members
        .iter()
        .filter(|m| (m.pos as u64) < sc.lines())
        .count();
    if short > 0 {
        r.notes.push(format!(
            "{short} members got fewer than all {} lines",
            sc.lines()
        ));
    }
}

/// The value at quantile `q` of sorted nanoseconds, in microseconds.
fn percentile(sorted: &[u64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1] as f64 / 1000.0)
}

/// A note if the kernel dropped loopback packets during the run.
fn note_kernel_drops(drops_before: Option<u64>, retrans_before: Option<u64>, r: &mut RunResult) {
    let (Some(before), Some(after)) = (drops_before, softnet_dropped()) else {
        return;
    };
    if after > before {
        let retrans = tcp_retransmits()
            .zip(retrans_before)
            .map_or_else(|| "?".into(), |(a, b)| a.saturating_sub(b).to_string());
        r.notes.push(format!(
            "the kernel dropped {} loopback packets (a core's input backlog was full, \
             /proc/net/softnet_stat; see net.core.netdev_max_backlog) and TCP retransmitted \
             {retrans} segments machine-wide: some deliveries waited for a retransmit",
            after - before
        ));
    }
}

/// Notes on members closed and lines that were not this run's.
fn note_generator(gener: &Gen, r: &mut RunResult) {
    let st = &gener.st;
    if st.closed > 0 {
        r.notes.push(format!(
            "{} members closed during the run: {}",
            st.closed,
            st.closed_reasons.join("; ")
        ));
    }
    if st.malformed > 0 {
        r.notes
            .push(format!("{} malformed marked lines", st.malformed));
    }
    if st.stale > 0 {
        r.notes.push(format!("{} lines from another run", st.stale));
    }
}

/// After closing a run's members on an external server, gives it time to process the
/// departures before the next run: until its CPU time stops moving (with --pid), else 2 s.
fn settle_external(pid: Option<u32>) {
    let Some(pid) = pid else {
        std::thread::sleep(Duration::from_secs(2));
        return;
    };
    let deadline = Instant::now() + SETTLE_CAP;
    let mut last = proc_cpu_secs(pid);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        let now = proc_cpu_secs(pid);
        if now == last {
            return;
        }
        last = now;
    }
}
