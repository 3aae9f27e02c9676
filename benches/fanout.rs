//! `cargo bench --bench fanout`: the project's proof of speed and memory.
//!
//! Starts `gochat serve 127.0.0.1:0` (a fresh process per scenario per run), joins members
//! over loopback, drives a scenario and prints one table of medians. Options (after `--`):
//!
//! ```text
//! --runs N             runs per scenario (default 3; the table shows medians)
//! --scenario NAME      fanout-100, fanout-1000, steady-100k, idle-10k (repeatable, or a comma list)
//! --quick              a short smoke version: 1 run, fewer lines, fewer idle members
//! --no-pin             do not pin the server to core 0 and the generator to core 1
//! --addr HOST:PORT     measure an already running line-based chat server instead
//! --pid PID            with --addr: that server's pid, for RSS and CPU figures
//! --compare-seed       also build tests/seed/server.go (needs go) and measure it the same way
//! --cluster            also measure one room on 2 gochat servers joined by a redis-server of
//!                      the bench's own (members and senders split between them; servers and
//!                      Redis share the server core; CPU is theirs together)
//! --server-cmd "CMD"   also measure another server: CMD ARGS, `{addr}` replaced by 127.0.0.1:0
//!                      (appended if absent); it must print `listening on ADDR` to stderr
//! ```
//!
//! Scenarios (every sent line is 63 bytes of text and `\n`):
//!
//! - `fanout-100`: 100 members, 10 of them senders writing 1000 lines each as fast as they
//!   can (64 KiB writes): 1,000,000 deliveries.
//! - `fanout-1000`: 1000 members, 2 senders x 500 lines: 1,000,000 deliveries.
//! - `steady-100k`: 500 members, 50 senders, one line every 5 ms in turn (200 lines/s,
//!   100,000 deliveries/s) for 10 s. The point is latency.
//! - `idle-10k`: 10,000 members join and stay silent; the figure is the server's RSS per
//!   member ((after - before) / members). With `--addr` the server is not fresh, so this
//!   only counts what it did not already hold from an earlier run.
//!
//! Every member reads its greeting before anything is sent, then member 0 sends a sync line
//! (again, until every member has one: the seed adds a newcomer to the room only after
//! greeting it), so all arrivals have settled before the clock starts.
//!
//! The generator is one thread, pinned to its own core: a level-triggered epoll loop over
//! every member socket, one shared 256 KiB read buffer, lines split with memchr, markers
//! found with memchr, their fields parsed eight digits at a time, no allocation per line.
//! Each sent line carries a marker `~gcb RUN SENDER SEQ SEND_NS~`, stamped just before the
//! write that hands it to the kernel; receivers find the marker anywhere in a received line,
//! so the server's prefix does not matter. Latency is the time a member's `read` returned
//! the line minus its stamp (one clock: senders and receivers are this process).
//!
//! Order: every member must see the same sequence of (sender, seq) as the first member to
//! get each position, and each sender's seq strictly increasing. Lost: expected deliveries
//! minus valid ones, after waiting until nothing has moved for 10 s. CPU: user + system of
//! the server (all its threads, /proc) and of this process (getrusage) over the measured
//! window. When the generator used as much CPU as the server, the figure is marked `*`: it
//! measures the generator as much as the server. Notes after each run say when members were
//! dropped, when the server complained on stderr, and when other processes ran on the two
//! cores (a shared machine makes the figures noisy).
//!
//! Exit status: 0, or 1 if a run failed, lost lines or saw a different order; 2 for bad
//! usage.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use memchr::memmem;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

// ---------------------------------------------------------------------------------------
// Wire format of the generator's lines.

/// Bytes per sent line on the wire, `\n` included.
const LINE_LEN: usize = 64;
/// What every marker starts with.
const MARK: &[u8] = b"~gc";
/// A data line: `~gcb RRRR SSSS QQQQQQQ NNNNNNNNNNNNNNN~`, then padding to 63 bytes and `\n`.
const RUN_AT: usize = 5;
const SENDER_AT: usize = 10;
const SEQ_AT: usize = 15;
const NS_AT: usize = 23;
const NS_WIDTH: usize = 15;
const DATA_MARK_LEN: usize = 39;
/// A sync line: `~gcs RRRR KKKK~\n`.
const SYNC_MARK_LEN: usize = 15;

// ---------------------------------------------------------------------------------------
// Limits: every wait is bounded.

/// How long a server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Joining or syncing fails after this long without any byte moving.
const SETUP_STALL: Duration = Duration::from_secs(30);
/// The longest joining, or syncing, may take (the seed's idle-10k takes half an hour: 50
/// million arrival lines, one write each).
const SETUP_CAP: Duration = Duration::from_secs(3600);
/// Once the runs of one scenario on one server have taken this long, the remaining runs
/// are skipped (the table says so): one run of the seed's idle-10k already takes longer.
const SCENARIO_BUDGET: Duration = Duration::from_secs(600);
/// Stragglers are given up on after this long without any byte moving.
const STRAGGLER_STALL: Duration = Duration::from_secs(10);
/// The longest the traffic phase of a scenario may take.
const TRAFFIC_CAP: Duration = Duration::from_secs(300);
/// Members connecting but not yet greeted at once (gochat's listen backlog is 1024).
const IN_FLIGHT: usize = 256;
/// Bytes asked for per `read`.
const READ_SIZE: usize = 256 * 1024;
/// The longest partial line kept between reads; longer lines are dropped as malformed.
const MAX_CARRY: usize = 64 * 1024;
/// Lines per write for senders that send as fast as they can (64 KiB).
const CHUNK_LINES: usize = 1024;
/// epoll token of the steady scenario's timer.
const TIMER_TOKEN: u64 = u64::MAX;

// ---------------------------------------------------------------------------------------
// Command line.

struct Args {
    runs: Option<usize>,
    scenarios: Vec<String>,
    quick: bool,
    pin: bool,
    addr: Option<String>,
    pid: Option<u32>,
    compare_seed: bool,
    cluster: bool,
    server_cmd: Option<String>,
}

const USAGE: &str = "usage: cargo bench --bench fanout -- [--runs N] [--scenario NAME[,NAME]]... \
[--quick] [--no-pin] [--addr HOST:PORT [--pid PID]] [--compare-seed] [--cluster] \
[--server-cmd \"CMD ARGS\"]\n\
scenarios: fanout-100, fanout-1000, steady-100k, idle-10k";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        runs: None,
        scenarios: Vec::new(),
        quick: false,
        pin: true,
        addr: None,
        pid: None,
        compare_seed: false,
        cluster: false,
        server_cmd: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{key} needs a value"))
        };
        match key.as_str() {
            "--runs" => {
                let v = value()?;
                let n: usize = v
                    .parse()
                    .map_err(|_| format!("--runs: not a number: {v:?}"))?;
                if n == 0 {
                    return Err("--runs must be at least 1".into());
                }
                args.runs = Some(n);
            }
            "--scenario" => {
                let v = value()?;
                args.scenarios.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                );
            }
            "--quick" => args.quick = true,
            "--no-pin" => args.pin = false,
            "--addr" => args.addr = Some(value()?),
            "--cluster" => args.cluster = true,
            "--pid" => {
                let v = value()?;
                args.pid = Some(v.parse().map_err(|_| format!("--pid: not a pid: {v:?}"))?);
            }
            "--compare-seed" => args.compare_seed = true,
            "--server-cmd" => args.server_cmd = Some(value()?),
            // cargo bench passes --bench to harness = false benches.
            "--bench" => {}
            "--help" | "-h" => return Err(String::new()),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if args.pid.is_some() && args.addr.is_none() {
        return Err("--pid only makes sense with --addr".into());
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------
// Scenarios.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Every sender writes all its lines as fast as the socket takes them.
    Burst,
    /// `lines_per_sec` lines in total, spread evenly in time over the senders (round robin),
    /// until each sender has sent `per_sender`.
    Steady { lines_per_sec: u64 },
    /// Members only join; the figure is memory.
    Idle,
}

#[derive(Clone, Debug)]
struct Scenario {
    name: &'static str,
    members: usize,
    senders: usize,
    per_sender: usize,
    mode: Mode,
}

impl Scenario {
    fn lines(&self) -> u64 {
        (self.senders * self.per_sender) as u64
    }
    fn expected(&self) -> u64 {
        self.members as u64 * self.lines()
    }
}

fn all_scenarios(quick: bool) -> Vec<Scenario> {
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

// ---------------------------------------------------------------------------------------
// Processes: the server under test, /proc, CPU pinning.

/// What the server's stderr said besides its listening line.
#[derive(Default)]
struct ServerLog {
    done: bool,
    too_slow: u64,
    other_count: u64,
    other: Vec<String>,
}

/// A spawned server, killed when dropped (error paths included).
struct ServerProc {
    child: Child,
    log: Arc<Mutex<ServerLog>>,
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to get a server for one run.
enum Launch {
    Spawn {
        program: PathBuf,
        args: Vec<String>,
    },
    External {
        addr: SocketAddr,
        pid: Option<u32>,
    },
    /// `servers` gochat servers forming one room on a redis-server of their own.
    Cluster {
        program: PathBuf,
        servers: usize,
    },
}

struct Target {
    label: String,
    launch: Launch,
}

fn listening_addr(line: &str) -> Option<String> {
    let at = line.find("listening on ")?;
    let rest = &line[at + "listening on ".len()..];
    let first = rest.split(", ").next()?.trim();
    (!first.is_empty()).then(|| first.to_string())
}

fn resolve(addr: &str) -> Result<SocketAddr, String> {
    let mut found = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr:?} resolves to no address"))?;
    // A server listening on every interface is reached over loopback.
    if found.ip().is_unspecified() {
        found.set_ip(match found.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Ok(found)
}

impl ServerProc {
    /// Starts `program args`, pinned to `core`, and waits for `listening on ADDR` on stderr.
    fn start(
        program: &Path,
        args: &[String],
        core: Option<usize>,
    ) -> Result<(ServerProc, SocketAddr), String> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        tie_to_bench(&mut cmd, core);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let stderr = child.stderr.take();
        let log = Arc::new(Mutex::new(ServerLog::default()));
        let mut server = ServerProc {
            child,
            log: Arc::clone(&log),
        };
        let Some(stderr) = stderr else {
            return Err("no stderr pipe to the server".into());
        };
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.is_some() {
                    if let Some(addr) = listening_addr(&line) {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(addr);
                        }
                        continue;
                    }
                }
                let Ok(mut log) = log.lock() else { break };
                if line.contains("too slow") {
                    log.too_slow += 1;
                } else {
                    log.other_count += 1;
                    if log.other.len() < 5 {
                        log.other.push(line);
                    }
                }
            }
            if let Ok(mut log) = log.lock() {
                log.done = true;
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => {
                let addr = resolve(&addr)
                    .map_err(|e| format!("{}: bad listening line: {e}", program.display()))?;
                Ok((server, addr))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "{} did not print `listening on ADDR` within {} s{}",
                program.display(),
                START_TIMEOUT.as_secs(),
                server.stderr_tail()
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Stderr closed: the server exited (or is exiting) without listening.
                let deadline = Instant::now() + Duration::from_secs(2);
                let mut status = None;
                while Instant::now() < deadline {
                    if let Ok(Some(s)) = server.child.try_wait() {
                        status = Some(s);
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let status = status.map_or_else(|| "still running".into(), |s| s.to_string());
                Err(format!(
                    "{} exited before listening ({status}){}",
                    program.display(),
                    server.stderr_tail()
                ))
            }
        }
    }

    /// Kills the server and returns what its stderr said (waiting at most 1 s for the
    /// reader thread to see the end of it).
    fn finish(mut self) -> ServerLog {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            if let Ok(mut log) = self.log.lock() {
                if log.done || Instant::now() > deadline {
                    return std::mem::take(&mut *log);
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr_tail(&self) -> String {
        // Give the reader thread a moment to collect the last words.
        std::thread::sleep(Duration::from_millis(100));
        match self.log.lock() {
            Ok(log) if !log.other.is_empty() => format!("; its stderr: {}", log.other.join(" | ")),
            _ => String::new(),
        }
    }

    /// `Some(description)` if the server has exited.
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }
}

/// Makes a child the bench starts die with the bench (even if it is killed hard), and
/// pins it to `core`.
fn tie_to_bench(cmd: &mut Command, core: Option<usize>) {
    // SAFETY: the closure runs in the child between fork and exec and only makes two
    // system calls (prctl, sched_setaffinity) on stack data: async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if let Some(core) = core {
                set_affinity(0, core)?;
            }
            Ok(())
        });
    }
}

fn set_affinity(pid: libc::pid_t, core: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; zeroed is its empty set; the pointer and size passed
    // to sched_setaffinity describe that local set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        if libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The cores this process may run on.
fn allowed_cores() -> Vec<usize> {
    // SAFETY: as in set_affinity, a local set filled by the kernel.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

fn online_cores() -> usize {
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    n.max(1) as usize
}

/// Raises the soft open file limit to the hard one; returns the soft limit now in force.
fn raise_open_file_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the local struct only.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
    }
    lim.rlim_cur
}

/// A `VmRSS:`/`VmHWM:` style figure from /proc/PID/status, in bytes.
fn proc_status_bytes(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
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
fn proc_cpu_secs(pid: u32) -> Option<f64> {
    schedstat_secs(pid).or_else(|| stat_cpu_secs(pid))
}

fn schedstat_secs(pid: u32) -> Option<f64> {
    let mut ns = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // the thread just exited
        };
        ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 / 1e9)
}

fn stat_cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start with field 3, state.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no memory effects.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some((utime + stime) as f64 / tick.max(1) as f64)
}

/// Packets the kernel dropped because a core's input backlog was full (all cores), from
/// /proc/net/softnet_stat. On loopback every packet goes through that backlog.
fn softnet_dropped() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/softnet_stat").ok()?;
    let mut sum = 0;
    for line in text.lines() {
        sum += u64::from_str_radix(line.split_whitespace().nth(1)?, 16).ok()?;
    }
    Some(sum)
}

/// TCP segments retransmitted so far, machine-wide, from /proc/net/snmp.
fn tcp_retransmits() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next()?, tcp.next()?);
    let at = names.split_whitespace().position(|n| n == "RetransSegs")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// CPU seconds (user + system) used so far by this process.
fn self_cpu_secs() -> f64 {
    // SAFETY: getrusage fills the local struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

// ---------------------------------------------------------------------------------------
// The generator: members, senders and the epoll loop.

struct Member {
    sock: Option<Socket>,
    /// A partial line left over from the last read.
    carry: Vec<u8>,
    joined: bool,
    synced: bool,
    /// The first line seen before the greeting, for error messages.
    first_line: Option<String>,
    /// Valid deliveries so far: also this member's position in the room's order.
    pos: usize,
    order_ok: bool,
    /// The sender this member's socket belongs to, if any.
    sender: Option<usize>,
    /// Whether EPOLLOUT is in this socket's interest set.
    want_out: bool,
}

struct Sender {
    member: usize,
    /// Lines handed to `buf` so far (the next sequence number).
    next_seq: usize,
    /// Lines this sender may send by now (all of them in burst mode).
    released: usize,
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    off: usize,
}

/// Everything the receive path updates.
struct Stats {
    tag: u64,
    nsenders: usize,
    per_sender: usize,
    /// The room's order of (sender, seq), as the first member to get each position saw it.
    order: Vec<u64>,
    /// Per member and sender: 1 + the last seq received (0: none yet).
    last_seq: Vec<u32>,
    lat_ns: Vec<u64>,
    valid: u64,
    /// Lines whose seq was not above the last one from that sender (duplicate or reordered).
    disorder: u64,
    malformed: u64,
    stale: u64,
    bytes: u64,
    counting: bool,
    first_send_ns: Option<u64>,
    last_delivery_ns: u64,
    joined: usize,
    synced: usize,
    closed: usize,
    closed_reasons: Vec<String>,
    /// The highest sync number the sync member got back.
    sync_echo: Option<u64>,
    /// Last time any byte moved.
    progress: Instant,
}

struct Schedule {
    start: Instant,
    period_ns: u64,
    next: u64,
    total: u64,
}

struct Gen {
    epoll: OwnedFd,
    timer: OwnedFd,
    events: Vec<libc::epoll_event>,
    buf: Vec<u8>,
    members: Vec<Member>,
    senders: Vec<Sender>,
    st: Stats,
    epoch: Instant,
    /// Where members connect: member i goes to `addrs[i % addrs.len()]` (several servers of
    /// one room in the cluster scenario).
    addrs: Vec<SocketAddr>,
    template: [u8; LINE_LEN],
    schedule: Option<Schedule>,
}

fn put_num(dst: &mut [u8], mut v: u64) {
    for b in dst.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// A fixed-width decimal field; `None` unless every byte is a digit.
fn get_num(src: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    let mut bad = false;
    for &b in src {
        let d = b.wrapping_sub(b'0');
        bad |= d > 9;
        v = v * 10 + u64::from(d);
    }
    (!bad).then_some(v)
}

/// The decimal field of `width` (at most 8) digits at `at` in a data marker; `None` unless
/// every byte is a digit. Eight bytes at once (SWAR): it runs five times per delivery.
#[inline(always)]
fn field(mk: &[u8; DATA_MARK_LEN], at: usize, width: usize) -> Option<u64> {
    const HI: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let end = at + width;
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&mk[end - 8..end]);
    // Little endian: the first byte is the lowest; the bytes before the field become '0'.
    let mut chunk = u64::from_le_bytes(bytes);
    if width < 8 {
        let mask = (1u64 << ((8 - width) * 8)) - 1;
        chunk = (chunk & !mask) | (ZEROS & mask);
    }
    if chunk & HI != ZEROS || chunk.wrapping_add(0x0606_0606_0606_0606) & HI != ZEROS {
        return None;
    }
    let v = chunk - ZEROS;
    let v = v.wrapping_mul(10) + (v >> 8);
    let v = ((v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32)))
        .wrapping_add(((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    Some(v)
}

/// Where the marker (`~gc`) starts in a line, if anywhere.
#[inline(always)]
fn find_marker(line: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'~', &line[from..]) {
        let at = from + p;
        if line.get(at + 1..at + 3) == Some(&MARK[1..]) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn lossy(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned()
}

fn nanos_since(epoch: Instant, now: Instant) -> u64 {
    now.saturating_duration_since(epoch).as_nanos() as u64
}

impl Stats {
    fn on_line(&mut self, m: &mut Member, i: usize, line: &[u8], now_ns: u64, sync_member: usize) {
        if !m.joined {
            if memmem::find(line, b"You are ").is_some() {
                m.joined = true;
                self.joined += 1;
            } else if m.first_line.is_none() {
                m.first_line = Some(lossy(line));
            }
            return;
        }
        let Some(p) = find_marker(line) else {
            return;
        };
        let mk = &line[p..];
        match mk.get(3..5) {
            Some(b"b ") if mk.len() >= DATA_MARK_LEN && mk[DATA_MARK_LEN - 1] == b'~' => {
                if let Ok(mk) = mk[..DATA_MARK_LEN].try_into() {
                    self.on_data(m, i, mk, now_ns)
                }
            }
            Some(b"s ") if mk.len() >= SYNC_MARK_LEN && mk[SYNC_MARK_LEN - 1] == b'~' => {
                let (Some(run), Some(k)) = (get_num(&mk[5..9]), get_num(&mk[10..14])) else {
                    self.malformed += 1;
                    return;
                };
                if run != self.tag {
                    self.stale += 1;
                    return;
                }
                if i == sync_member {
                    self.sync_echo = Some(self.sync_echo.map_or(k, |e| e.max(k)));
                }
                if !m.synced {
                    m.synced = true;
                    self.synced += 1;
                }
            }
            _ => self.malformed += 1,
        }
    }

    fn on_data(&mut self, m: &mut Member, i: usize, mk: &[u8; DATA_MARK_LEN], now_ns: u64) {
        let fields = (
            field(mk, RUN_AT, 4),
            field(mk, SENDER_AT, 4),
            field(mk, SEQ_AT, 7),
            field(mk, NS_AT, 7),
            field(mk, NS_AT + 7, 8),
        );
        let (Some(run), Some(sender), Some(seq), Some(ns_hi), Some(ns_lo)) = fields else {
            self.malformed += 1;
            return;
        };
        let sent_ns = ns_hi * 100_000_000 + ns_lo;
        if run != self.tag {
            self.stale += 1;
            return;
        }
        let (sender, seq) = (sender as usize, seq as usize);
        if sender >= self.nsenders || seq >= self.per_sender {
            self.malformed += 1;
            return;
        }
        let last = &mut self.last_seq[i * self.nsenders + sender];
        if seq < *last as usize {
            // A duplicate, or an older line after a newer one.
            m.order_ok = false;
            self.disorder += 1;
            return;
        }
        *last = seq as u32 + 1;
        let key = ((sender as u64) << 32) | seq as u64;
        if m.order_ok {
            if m.pos == self.order.len() {
                self.order.push(key);
            } else if self.order[m.pos] != key {
                m.order_ok = false;
            }
        }
        m.pos += 1;
        self.valid += 1;
        self.lat_ns.push(now_ns.saturating_sub(sent_ns));
        self.last_delivery_ns = now_ns;
    }
}

fn epoll_ctl(ep: &OwnedFd, op: libc::c_int, fd: i32, events: u32, token: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: token };
    // SAFETY: ev is a valid local event; the kernel copies it.
    if unsafe { libc::epoll_ctl(ep.as_raw_fd(), op, fd, &mut ev) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Gen {
    fn new(addrs: Vec<SocketAddr>, sc: &Scenario, tag: u64) -> Result<Gen, String> {
        // SAFETY: plain system calls creating new descriptors, owned right away.
        let epoll = unsafe {
            let fd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            if fd < 0 {
                return Err(format!("epoll_create1: {}", io::Error::last_os_error()));
            }
            OwnedFd::from_raw_fd(fd)
        };
        // SAFETY: as above.
        let timer = unsafe {
            let fd = libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            );
            if fd < 0 {
                return Err(format!("timerfd_create: {}", io::Error::last_os_error()));
            }
            OwnedFd::from_raw_fd(fd)
        };
        epoll_ctl(
            &epoll,
            libc::EPOLL_CTL_ADD,
            timer.as_raw_fd(),
            libc::EPOLLIN as u32,
            TIMER_TOKEN,
        )
        .map_err(|e| format!("epoll_ctl(timer): {e}"))?;

        let mut template = [b'.'; LINE_LEN];
        template[..DATA_MARK_LEN].copy_from_slice(b"~gcb 0000 0000 0000000 000000000000000~");
        put_num(&mut template[RUN_AT..RUN_AT + 4], tag);
        // Padding that looks like text, so no server treats the line specially.
        for (k, b) in template[DATA_MARK_LEN..LINE_LEN - 1].iter_mut().enumerate() {
            *b = b"abcdefghijklmnopqrstuvwxyz"[k % 26];
        }
        template[DATA_MARK_LEN] = b' ';
        template[LINE_LEN - 1] = b'\n';

        let senders = (0..sc.senders)
            .map(|s| Sender {
                member: s,
                next_seq: 0,
                released: 0,
                buf: Vec::with_capacity(CHUNK_LINES * LINE_LEN),
                off: 0,
            })
            .collect();
        Ok(Gen {
            epoll,
            timer,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 1024],
            buf: vec![0; READ_SIZE + MAX_CARRY],
            members: Vec::with_capacity(sc.members),
            senders,
            st: Stats {
                tag,
                nsenders: sc.senders,
                per_sender: sc.per_sender,
                order: Vec::with_capacity(sc.lines() as usize),
                last_seq: vec![0; sc.members * sc.senders],
                lat_ns: Vec::with_capacity(sc.expected() as usize),
                valid: 0,
                disorder: 0,
                malformed: 0,
                stale: 0,
                bytes: 0,
                counting: false,
                first_send_ns: None,
                last_delivery_ns: 0,
                joined: 0,
                synced: 0,
                closed: 0,
                closed_reasons: Vec::new(),
                sync_echo: None,
                progress: Instant::now(),
            },
            epoch: Instant::now(),
            addrs,
            template,
            schedule: None,
        })
    }

    fn live(&self) -> usize {
        self.members.len() - self.st.closed
    }

    /// Starts a non-blocking connect for the next member.
    fn connect_next(&mut self) -> Result<(), String> {
        let i = self.members.len();
        let addr = self.addrs[i % self.addrs.len()];
        let fail = |what: &str, e: io::Error| format!("member {i}: {what}: {e}");
        let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(|e| fail("socket", e))?;
        sock.set_nonblocking(true)
            .map_err(|e| fail("set_nonblocking", e))?;
        sock.set_tcp_nodelay(true)
            .map_err(|e| fail("TCP_NODELAY", e))?;
        match sock.connect(&SockAddr::from(addr)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(fail(&format!("connect to {addr}"), e)),
        }
        epoll_ctl(
            &self.epoll,
            libc::EPOLL_CTL_ADD,
            sock.as_raw_fd(),
            libc::EPOLLIN as u32,
            i as u64,
        )
        .map_err(|e| fail("epoll_ctl", e))?;
        let sender = (i < self.senders.len()).then_some(i);
        self.members.push(Member {
            sock: Some(sock),
            carry: Vec::new(),
            joined: false,
            synced: false,
            first_line: None,
            pos: 0,
            order_ok: true,
            sender,
            want_out: false,
        });
        self.st.progress = Instant::now();
        Ok(())
    }

    fn close_member(&mut self, i: usize, why: String) {
        let m = &mut self.members[i];
        let Some(sock) = m.sock.take() else { return };
        let _ = epoll_ctl(&self.epoll, libc::EPOLL_CTL_DEL, sock.as_raw_fd(), 0, 0);
        drop(sock);
        self.st.closed += 1;
        if self.st.closed_reasons.len() < 3 {
            let mut why = why;
            if !m.joined {
                if let Some(line) = &m.first_line {
                    let _ = write!(why, " (before its greeting; it said {line:?})");
                } else {
                    why.push_str(" (before its greeting)");
                }
            }
            self.st.closed_reasons.push(format!("member {i}: {why}"));
        }
    }

    /// One epoll_wait and everything it reported.
    fn poll_once(&mut self, timeout_ms: i32) -> Result<(), String> {
        // SAFETY: events is a valid buffer of the length passed.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.len() as i32,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(format!("epoll_wait: {e}"));
        }
        for k in 0..n as usize {
            let (flags, token) = (self.events[k].events, self.events[k].u64);
            if token == TIMER_TOKEN {
                self.on_timer();
                continue;
            }
            let i = token as usize;
            if flags & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                self.on_readable(i);
            }
            if flags & libc::EPOLLOUT as u32 != 0 {
                if let Some(s) = self.members[i].sender {
                    self.pump(s);
                }
            }
        }
        Ok(())
    }

    fn on_readable(&mut self, i: usize) {
        let sync_member = 0;
        let m = &mut self.members[i];
        let Some(sock) = m.sock.as_ref() else { return };
        let c = m.carry.len();
        self.buf[..c].copy_from_slice(&m.carry);
        let res = (&*sock).read(&mut self.buf[c..c + READ_SIZE]);
        match res {
            Ok(0) => self.close_member(i, "closed by the server".into()),
            Ok(n) => {
                let now = Instant::now();
                let now_ns = nanos_since(self.epoch, now);
                let st = &mut self.st;
                st.progress = now;
                if st.counting {
                    st.bytes += n as u64;
                }
                let data = &self.buf[..c + n];
                let mut start = 0;
                for nl in memchr::memchr_iter(b'\n', data) {
                    st.on_line(m, i, &data[start..nl], now_ns, sync_member);
                    start = nl + 1;
                }
                m.carry.clear();
                let rest = &data[start..];
                if rest.len() > MAX_CARRY {
                    st.malformed += 1;
                } else {
                    m.carry.extend_from_slice(rest);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => self.close_member(i, format!("read: {e}")),
        }
    }

    /// Writes what sender `s` may send, as far as its socket takes it.
    fn pump(&mut self, s: usize) {
        let i = self.senders[s].member;
        let mut want_out = false;
        loop {
            let snd = &mut self.senders[s];
            let Some(sock) = self.members[i].sock.as_ref() else {
                return;
            };
            if snd.off == snd.buf.len() {
                snd.buf.clear();
                snd.off = 0;
                let n = (snd.released - snd.next_seq).min(CHUNK_LINES);
                if n == 0 {
                    break;
                }
                for _ in 0..n {
                    let at = snd.buf.len();
                    snd.buf.extend_from_slice(&self.template);
                    put_num(&mut snd.buf[at + SENDER_AT..at + SENDER_AT + 4], s as u64);
                    put_num(
                        &mut snd.buf[at + SEQ_AT..at + SEQ_AT + 7],
                        snd.next_seq as u64,
                    );
                    snd.next_seq += 1;
                }
            }
            // Stamp every line not yet (partly) written with the time of this write.
            let now_ns = nanos_since(self.epoch, Instant::now());
            let first = snd.off.div_ceil(LINE_LEN);
            for k in first..snd.buf.len() / LINE_LEN {
                let at = k * LINE_LEN + NS_AT;
                put_num(&mut snd.buf[at..at + NS_WIDTH], now_ns);
            }
            self.st.first_send_ns.get_or_insert(now_ns);
            match (&*sock).write(&snd.buf[snd.off..]) {
                Ok(n) => {
                    snd.off += n;
                    self.st.progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    want_out = true;
                    break;
                }
                Err(e) => {
                    self.close_member(i, format!("sender {s}: write: {e}"));
                    return;
                }
            }
        }
        let m = &mut self.members[i];
        if m.want_out != want_out {
            if let Some(sock) = m.sock.as_ref() {
                let mut events = libc::EPOLLIN as u32;
                if want_out {
                    events |= libc::EPOLLOUT as u32;
                }
                let _ = epoll_ctl(
                    &self.epoll,
                    libc::EPOLL_CTL_MOD,
                    sock.as_raw_fd(),
                    events,
                    i as u64,
                );
                m.want_out = want_out;
            }
        }
    }

    fn arm_timer(&self, after: Duration) {
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs() as libc::time_t,
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: spec is a valid local; the old value is not asked for.
        unsafe {
            libc::timerfd_settime(self.timer.as_raw_fd(), 0, &spec, std::ptr::null_mut());
        }
    }

    /// The steady scenario's clock: releases the lines now due, each to its sender.
    fn on_timer(&mut self) {
        let mut expirations = [0u8; 8];
        // SAFETY: reads at most 8 bytes into the local array.
        unsafe {
            libc::read(
                self.timer.as_raw_fd(),
                expirations.as_mut_ptr().cast(),
                expirations.len(),
            );
        }
        let Some(sch) = self.schedule.as_mut() else {
            return;
        };
        let now = Instant::now();
        let elapsed = nanos_since(sch.start, now);
        let mut due = Vec::new();
        while sch.next < sch.total && sch.next * sch.period_ns <= elapsed {
            let s = (sch.next % self.senders.len() as u64) as usize;
            self.senders[s].released += 1;
            if !due.contains(&s) {
                due.push(s);
            }
            sch.next += 1;
        }
        let rearm = (sch.next < sch.total)
            .then(|| Duration::from_nanos((sch.next * sch.period_ns).saturating_sub(elapsed)));
        if let Some(after) = rearm {
            self.arm_timer(after);
        }
        for s in due {
            self.pump(s);
        }
    }

    /// Sends sync line `k` from the sync member (member 0).
    fn send_sync(&mut self, k: u64) -> Result<(), String> {
        let mut line = *b"~gcs 0000 0000~\n";
        put_num(&mut line[5..9], self.st.tag);
        put_num(&mut line[10..14], k % 10_000);
        let Some(sock) = self.members.first().and_then(|m| m.sock.as_ref()) else {
            return Err("the sync member is gone".into());
        };
        match (&*sock).write(&line) {
            Ok(n) if n == line.len() => Ok(()),
            Ok(n) => Err(format!("sync line: short write ({n} bytes)")),
            Err(e) => Err(format!("sync line: write: {e}")),
        }
    }

    /// Connects `n` members, at most IN_FLIGHT waiting for their greeting at once, and
    /// waits until every one has read it.
    fn join_all(&mut self, n: usize) -> Result<(), String> {
        let started = Instant::now();
        self.st.progress = Instant::now();
        loop {
            if self.st.closed > 0 {
                return Err(format!(
                    "members failed to join ({} of {n} joined): {}",
                    self.st.joined,
                    self.st.closed_reasons.join("; ")
                ));
            }
            while self.members.len() < n && self.members.len() - self.st.joined < IN_FLIGHT {
                self.connect_next()?;
            }
            if self.st.joined == n {
                return Ok(());
            }
            if self.st.progress.elapsed() > SETUP_STALL || started.elapsed() > SETUP_CAP {
                return Err(format!(
                    "joining stalled: {} of {n} members greeted, {} connecting, after {:.1} s",
                    self.st.joined,
                    self.members.len() - self.st.joined,
                    started.elapsed().as_secs_f64()
                ));
            }
            self.poll_once(10)?;
        }
    }

    /// Sends sync lines until every member has received one, so every member is surely in
    /// the room (the seed adds a newcomer to the room only after greeting it) and every
    /// arrival before it has been delivered. A round is over when its sync line has come
    /// back to member 0 and no member got its first sync line for SYNC_SETTLE; then, if
    /// members still lack one, the next round starts. After two rounds that reach nobody
    /// new, the members still without a sync line are taken as dropped by the server (it
    /// no longer sends them anything) and the scenario goes on: what they miss counts as
    /// lost. Returns a note when that happens.
    fn sync_all(&mut self) -> Result<Option<String>, String> {
        const SYNC_SETTLE: Duration = Duration::from_secs(2);
        let started = Instant::now();
        self.st.progress = Instant::now();
        let mut k = 0;
        self.send_sync(k)?;
        let mut synced_at_send = self.st.synced;
        let mut fruitless_rounds = 0;
        let mut last_synced = self.st.synced;
        let mut last_new = Instant::now();
        loop {
            if self.st.synced >= self.live() {
                break;
            }
            if self.st.synced != last_synced {
                last_synced = self.st.synced;
                last_new = Instant::now();
            }
            if self.st.sync_echo == Some(k % 10_000) && last_new.elapsed() > SYNC_SETTLE {
                if self.st.synced == synced_at_send {
                    fruitless_rounds += 1;
                } else {
                    fruitless_rounds = 0;
                }
                if fruitless_rounds >= 2 {
                    break;
                }
                k += 1;
                self.send_sync(k)?;
                synced_at_send = self.st.synced;
            }
            if self.st.progress.elapsed() > SETUP_STALL || started.elapsed() > SETUP_CAP {
                return Err(format!(
                    "sync stalled: {} of {} members got a sync line after {:.1} s",
                    self.st.synced,
                    self.live(),
                    started.elapsed().as_secs_f64()
                ));
            }
            self.poll_once(10)?;
        }
        let missing = self.live().saturating_sub(self.st.synced);
        Ok((missing > 0).then(|| {
            format!(
                "{missing} members never got a sync line ({} rounds): the server dropped them \
                 without closing their connection",
                k + 1
            )
        }))
    }

    /// Sends the scenario's lines and waits for every delivery, or for the stragglers
    /// until nothing has moved for STRAGGLER_STALL. Returns a note if it hit a cap.
    fn traffic(&mut self, sc: &Scenario, expected: u64) -> Option<String> {
        self.st.counting = true;
        self.st.progress = Instant::now();
        let started = Instant::now();
        match sc.mode {
            Mode::Burst => {
                for s in 0..self.senders.len() {
                    self.senders[s].released = sc.per_sender;
                }
                for s in 0..self.senders.len() {
                    self.pump(s);
                }
            }
            Mode::Steady { lines_per_sec } => {
                self.schedule = Some(Schedule {
                    start: Instant::now(),
                    period_ns: 1_000_000_000 / lines_per_sec,
                    next: 0,
                    total: sc.lines(),
                });
                self.arm_timer(Duration::ZERO);
            }
            Mode::Idle => return None,
        }
        loop {
            if self.st.valid >= expected || self.live() == 0 {
                return None;
            }
            if self.st.progress.elapsed() > STRAGGLER_STALL {
                return None;
            }
            if started.elapsed() > TRAFFIC_CAP {
                return Some(format!(
                    "gave up after {} s with deliveries still trickling in",
                    TRAFFIC_CAP.as_secs()
                ));
            }
            if let Err(e) = self.poll_once(10) {
                return Some(e);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// One run of one scenario.

#[derive(Default, Clone)]
struct RunResult {
    deliveries_per_s: Option<f64>,
    mb_per_s: Option<f64>,
    p50_us: Option<f64>,
    p99_us: Option<f64>,
    p999_us: Option<f64>,
    lost: Option<u64>,
    order_ok: Option<bool>,
    peak_rss: Option<u64>,
    rss_per_idle: Option<f64>,
    server_cpu: Option<f64>,
    gen_cpu: f64,
    /// The generator used at least as much CPU as the server during the window.
    gen_bound: bool,
    window_s: f64,
    join_s: f64,
    notes: Vec<String>,
}

fn percentile(sorted: &[u64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1] as f64 / 1000.0)
}

/// Why a run failed.
enum RunError {
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

/// Where the server and the generator run.
#[derive(Clone, Copy)]
struct Cores {
    server: Option<usize>,
    generator: Option<usize>,
}

/// User+nice+system ticks of one core, from /proc/stat.
fn core_busy_secs(core: usize) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let name = format!("cpu{core} ");
    let line = stat.lines().find(|l| l.starts_with(&name))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(3)
        .filter_map(|f| f.parse().ok())
        .collect();
    // SAFETY: sysconf has no memory effects.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks.len() == 3).then(|| ticks.iter().sum::<u64>() as f64 / tick.max(1) as f64)
}

/// CPU use over a measured window: the server's, the generator's, and whether anything
/// else ran on their cores meanwhile (the machine may be shared).
struct CpuWindow {
    /// The server's processes: one, or a cluster's servers and its Redis.
    pids: Vec<u32>,
    cores: Cores,
    wall: Instant,
    server: Option<f64>,
    generator: f64,
    server_core: Option<f64>,
    generator_core: Option<f64>,
}

impl CpuWindow {
    fn start(pids: &[u32], cores: Cores) -> CpuWindow {
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

    fn finish(self, r: &mut RunResult) {
        let wall = self.wall.elapsed().as_secs_f64();
        r.server_cpu = cpu_of(&self.pids).zip(self.server).map(|(b, a)| b - a);
        r.gen_cpu = self_cpu_secs() - self.generator;
        let mut others = |core: Option<usize>, before: Option<f64>, ours: Option<f64>| {
            let (Some(core), Some(before), Some(ours)) = (core, before, ours) else {
                return;
            };
            let Some(after) = core_busy_secs(core) else {
                return;
            };
            let other = after - before - ours;
            if other > 0.05 + 0.1 * wall {
                r.notes.push(format!(
                    "core {core} also ran other processes for {other:.2} s of this {wall:.2} s window: \
                     the machine is shared, figures are noisy"
                ));
            }
        };
        let (server_cpu, gen_cpu) = (r.server_cpu, Some(r.gen_cpu));
        others(self.cores.server, self.server_core, server_cpu);
        others(self.cores.generator, self.generator_core, gen_cpu);
    }
}

/// CPU seconds used so far by all of `pids` (None if any cannot be read, or none given).
fn cpu_of(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| proc_cpu_secs(p)).sum()
}

fn run_once(target: &Target, sc: &Scenario, cores: Cores, tag: u64) -> Result<RunResult, RunError> {
    // `pid` is the (first) server's, for memory; `pids` all of the server side, for CPU.
    let mut servers: Vec<ServerProc> = Vec::new();
    let mut redis: Option<RedisProc> = None;
    let (addrs, pid, pids) = match &target.launch {
        Launch::Spawn { program, args } => {
            let (server, addr) =
                ServerProc::start(program, args, cores.server).map_err(RunError::Start)?;
            let pid = server.pid();
            servers.push(server);
            (vec![addr], Some(pid), vec![pid])
        }
        Launch::External { addr, pid } => (vec![*addr], *pid, pid.iter().copied().collect()),
        Launch::Cluster {
            program,
            servers: n,
        } => {
            let store = RedisProc::start(cores.server).map_err(RunError::Start)?;
            let args: Vec<String> = [
                "serve",
                "127.0.0.1:0",
                "--redis",
                &store.url(),
                "--room",
                &format!("bench{tag}"),
            ]
            .iter()
            .map(|a| a.to_string())
            .collect();
            let mut addrs = Vec::new();
            let mut pids = Vec::new();
            for _ in 0..*n {
                let (server, addr) =
                    ServerProc::start(program, &args, cores.server).map_err(RunError::Start)?;
                pids.push(server.pid());
                addrs.push(addr);
                servers.push(server);
            }
            let first = pids.first().copied();
            pids.push(store.pid());
            redis = Some(store);
            (addrs, first, pids)
        }
    };
    let mut gener = Gen::new(addrs, sc, tag)?;
    let mut r = RunResult::default();

    let drops_before = softnet_dropped();
    let retrans_before = tcp_retransmits();
    let rss_before = pid.and_then(|p| proc_status_bytes(p, "VmRSS"));
    let join_cpu = CpuWindow::start(&pids, cores);
    let join_started = Instant::now();
    gener.join_all(sc.members)?;
    if let Some(note) = gener.sync_all()? {
        r.notes.push(note);
    }
    r.join_s = join_started.elapsed().as_secs_f64();

    let expected = sc.expected();
    if sc.mode == Mode::Idle {
        let rss_after = pid.and_then(|p| proc_status_bytes(p, "VmRSS"));
        // Per member still in the room (every one, unless the server dropped some).
        let in_room = gener.st.synced.min(gener.live()).max(1);
        if let (Some(before), Some(after)) = (rss_before, rss_after) {
            r.rss_per_idle = Some((after as f64 - before as f64) / in_room as f64);
        }
        if in_room < sc.members {
            r.notes.push(format!(
                "RSS per idle member is over the {in_room} members still in the room"
            ));
        }
        r.window_s = r.join_s;
        join_cpu.finish(&mut r);
    } else {
        let cpu = CpuWindow::start(&pids, cores);
        if let Some(note) = gener.traffic(sc, expected) {
            r.notes.push(note);
        }
        cpu.finish(&mut r);
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
    if let (Some(before), Some(after)) = (drops_before, softnet_dropped()) {
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
    r.peak_rss = pid.and_then(|p| proc_status_bytes(p, "VmHWM"));
    for server in &mut servers {
        if let Some(status) = server.exited() {
            r.notes
                .push(format!("the server exited during the run: {status}"));
        }
    }
    // Kill the server before closing the members, so it does not spend time telling the
    // room about 10,000 departures; then see what it said on stderr.
    for server in servers {
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
    drop(gener);
    drop(redis);
    if let Launch::External { pid, .. } = target.launch {
        settle_external(pid);
    }
    Ok(r)
}

/// A redis-server of the bench's own, for the cluster: on a free loopback port, pinned like
/// the servers, killed when dropped.
struct RedisProc {
    child: Child,
    port: u16,
}

impl RedisProc {
    fn start(core: Option<usize>) -> Result<RedisProc, String> {
        let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or("the cluster scenario needs redis-server (Debian: apt install redis-server)")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free port for redis: {e}"))?
            .port();
        let mut cmd = Command::new(binary);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        tie_to_bench(&mut cmd, core);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        let redis = RedisProc { child, port };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let mut pong = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut pong).is_ok()
                    && &pong == b"+PONG\r\n"
                {
                    return Ok(redis);
                }
            }
            if Instant::now() > deadline {
                return Err("redis-server did not answer PING".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RedisProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// After closing a run's members on an external server, gives it time to process the
/// departures before the next run: until its CPU time stops moving (with --pid), else 2 s.
fn settle_external(pid: Option<u32>) {
    let Some(pid) = pid else {
        std::thread::sleep(Duration::from_secs(2));
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
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

// ---------------------------------------------------------------------------------------
// Building the seed.

fn build_seed() -> Result<PathBuf, String> {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fanout-seed");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let binary = out.join("seed-server");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed/server.go");
    let log_path = out.join("go-build.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("cannot dup a file descriptor: {e}"))?;
    let mut child = Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .env("GOCACHE", out.join("gocache"))
        .env("GOPATH", out.join("gopath"))
        .env("GO111MODULE", "off")
        .env("GOTOOLCHAIN", "local")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("--compare-seed needs `go` on PATH: cannot run go: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(binary),
            Ok(Some(status)) => {
                let said = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!(
                    "go build {} failed ({status}): {}",
                    source.display(),
                    said.trim()
                ));
            }
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("go build took more than 300 s; gave up".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("waiting for go build: {e}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Output.

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn med_of(runs: &[RunResult], f: impl Fn(&RunResult) -> Option<f64>) -> Option<f64> {
    median(runs.iter().filter_map(f).collect())
}

fn show(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

fn mib(bytes: Option<f64>) -> String {
    bytes.map_or_else(
        || "-".into(),
        |b| format!("{:.1} MiB", b / (1024.0 * 1024.0)),
    )
}

struct Row {
    sc: Scenario,
    runs: Vec<RunResult>,
    failures: Vec<String>,
    /// Runs asked for.
    planned: usize,
    /// Runs done, if the time budget cut the rest.
    cut: Option<usize>,
}

fn print_table(title: &str, rows: &[Row]) {
    println!("{title}");
    println!(
        "{:<12} {:>7} {:>7} {:>6}  {:>31} {:>7} {:>8} {:>8} {:>8} {:>7} {:>5} {:>10} {:>15} {:>12} {:>9} {:>8}",
        "scenario",
        "members",
        "senders",
        "lines",
        "deliveries/s (min-max)",
        "MB/s",
        "p50 us",
        "p99 us",
        "p999 us",
        "lost",
        "order",
        "peak RSS",
        "RSS/idle member",
        "server CPU s",
        "gen CPU s",
        "window s"
    );
    for row in rows {
        let sc = &row.sc;
        let runs = &row.runs;
        let lines = if sc.mode == Mode::Idle {
            "-".to_string()
        } else {
            sc.lines().to_string()
        };
        let senders = if sc.mode == Mode::Idle {
            "-".to_string()
        } else {
            sc.senders.to_string()
        };
        if runs.is_empty() {
            println!(
                "{:<12} {:>7} {:>7} {:>6}  FAILED: {}",
                sc.name,
                sc.members,
                senders,
                lines,
                row.failures.first().map_or("", String::as_str)
            );
            continue;
        }
        let rates: Vec<f64> = runs.iter().filter_map(|r| r.deliveries_per_s).collect();
        let deliveries = match median(rates.clone()) {
            Some(m) => {
                let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mark = if runs.iter().any(|r| r.gen_bound) {
                    "*"
                } else {
                    " "
                };
                format!("{m:.0} ({lo:.0}-{hi:.0}){mark}")
            }
            None => "-".into(),
        };
        let order = if sc.mode == Mode::Idle {
            "-"
        } else if runs.iter().all(|r| r.order_ok == Some(true)) {
            "yes"
        } else {
            "NO"
        };
        let rss_idle =
            med_of(runs, |r| r.rss_per_idle).map_or_else(|| "-".into(), |b| format!("{b:.0} B"));
        let mut cells = String::new();
        let _ = write!(
            cells,
            "{:<12} {:>7} {:>7} {:>6}  {:>31} {:>7} {:>8} {:>8} {:>8} {:>7} {:>5} {:>10} {:>15} {:>12} {:>9} {:>8}",
            sc.name,
            sc.members,
            senders,
            lines,
            deliveries,
            show(med_of(runs, |r| r.mb_per_s), 1),
            show(med_of(runs, |r| r.p50_us), 0),
            show(med_of(runs, |r| r.p99_us), 0),
            show(med_of(runs, |r| r.p999_us), 0),
            show(med_of(runs, |r| r.lost.map(|l| l as f64)), 0),
            order,
            mib(med_of(runs, |r| r.peak_rss.map(|b| b as f64))),
            rss_idle,
            show(med_of(runs, |r| r.server_cpu), 3),
            show(med_of(runs, |r| Some(r.gen_cpu)), 3),
            show(med_of(runs, |r| Some(r.window_s)), 3),
        );
        if let Some(done) = row.cut {
            let _ = write!(
                cells,
                "  (only {done} of {} runs: time budget)",
                row.planned
            );
        }
        if !row.failures.is_empty() {
            let _ = write!(cells, "  ({} runs FAILED)", row.failures.len());
        }
        println!("{cells}");
    }
}

fn describe_run(r: &RunResult) -> String {
    let mut s = String::new();
    if let Some(d) = r.deliveries_per_s {
        let _ = write!(
            s,
            "{d:.0} deliveries/s, {} MB/s, p50/p99/p999 {}/{}/{} us, lost {}, order {}, ",
            show(r.mb_per_s, 1),
            show(r.p50_us, 0),
            show(r.p99_us, 0),
            show(r.p999_us, 0),
            r.lost.map_or_else(|| "-".into(), |l| l.to_string()),
            match r.order_ok {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            }
        );
    } else if let Some(lost) = r.lost {
        let _ = write!(s, "no deliveries measured, lost {lost}, ");
    }
    if let Some(b) = r.rss_per_idle {
        let _ = write!(s, "RSS/idle member {b:.0} B, ");
    }
    let _ = write!(
        s,
        "peak RSS {}, server CPU {} s, gen CPU {:.3} s, window {:.3} s, join+sync {:.2} s",
        mib(r.peak_rss.map(|b| b as f64)),
        show(r.server_cpu, 3),
        r.gen_cpu,
        r.window_s,
        r.join_s
    );
    for note in &r.notes {
        let _ = write!(s, "\n      note: {note}");
    }
    s
}

// ---------------------------------------------------------------------------------------

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("fanout: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    match real_main(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fanout: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(args: &Args) -> Result<bool, String> {
    let runs = args.runs.unwrap_or(if args.quick { 1 } else { 3 });
    let all = all_scenarios(args.quick);
    let chosen: Vec<Scenario> = if args.scenarios.is_empty() {
        all.clone()
    } else {
        let mut chosen = Vec::new();
        for name in &args.scenarios {
            let sc = all
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| format!("unknown scenario {name:?}\n{USAGE}"))?;
            if !chosen.iter().any(|c: &Scenario| c.name == sc.name) {
                chosen.push(sc.clone());
            }
        }
        chosen
    };

    let nofile = raise_open_file_limit();
    let cores = online_cores();
    let allowed = allowed_cores();
    let (server_core, gen_core) = if args.pin && allowed.len() >= 2 {
        (Some(allowed[0]), Some(allowed[1]))
    } else {
        (None, None)
    };
    let mut pinned = gen_core;
    if let Some(core) = gen_core {
        if let Err(e) = set_affinity(0, core) {
            eprintln!("fanout: cannot pin the generator to core {core}: {e}; running unpinned");
            pinned = None;
        }
    }

    let command: Vec<String> = std::env::args().collect();
    println!("command: {}", command.join(" "));
    println!(
        "machine: {cores} cores online, {} usable by the bench; open file limit {nofile}",
        allowed.len()
    );
    let external = args.addr.is_some();
    let placement = match (server_core, pinned) {
        (Some(s), Some(g)) if !external => format!("server on core {s}, generator on core {g}"),
        (Some(s), Some(g)) => format!(
            "the server at --addr is not pinned by the bench; spawned servers on core {s}; \
             generator on core {g}"
        ),
        (_, Some(g)) => format!("server not pinned, generator on core {g}"),
        _ => "not pinned".to_string(),
    };
    println!("pinning: {placement}");
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average before the bench: {}", load.trim());
    }
    if args.quick {
        println!(
            "mode: --quick (smoke test: fewer lines, fewer idle members; not for comparisons)"
        );
    }
    println!();

    let mut targets = Vec::new();
    if let Some(addr) = &args.addr {
        targets.push(Target {
            label: format!("server at {addr}"),
            launch: Launch::External {
                addr: resolve(addr)?,
                pid: args.pid,
            },
        });
    } else {
        targets.push(Target {
            label: "gochat".into(),
            launch: Launch::Spawn {
                program: PathBuf::from(env!("CARGO_BIN_EXE_gochat")),
                args: vec!["serve".into(), "127.0.0.1:0".into()],
            },
        });
    }
    if args.cluster {
        targets.push(Target {
            label: "gochat cluster (2 servers, 1 redis-server, all on the server core)".into(),
            launch: Launch::Cluster {
                program: PathBuf::from(env!("CARGO_BIN_EXE_gochat")),
                servers: 2,
            },
        });
    }
    if args.compare_seed {
        let binary = build_seed()?;
        targets.push(Target {
            label: "seed (tests/seed/server.go)".into(),
            launch: Launch::Spawn {
                program: binary,
                args: vec!["127.0.0.1:0".into()],
            },
        });
    }
    if let Some(cmd) = &args.server_cmd {
        let mut words: Vec<String> = cmd.split_whitespace().map(String::from).collect();
        if words.is_empty() {
            return Err("--server-cmd is empty".into());
        }
        let program = PathBuf::from(words.remove(0));
        let mut has_addr = false;
        for w in &mut words {
            if w.contains("{addr}") {
                *w = w.replace("{addr}", "127.0.0.1:0");
                has_addr = true;
            }
        }
        if !has_addr {
            words.push("127.0.0.1:0".into());
        }
        targets.push(Target {
            label: format!("`{cmd}`"),
            launch: Launch::Spawn {
                program,
                args: words,
            },
        });
    }

    let mut tag = u64::from(std::process::id()) * 7 % 10_000;
    let mut tables = Vec::new();
    let mut all_ok = true;
    for target in &targets {
        let mut rows = Vec::new();
        let mut start_failure: Option<String> = None;
        for sc in &chosen {
            let mut row = Row {
                sc: sc.clone(),
                runs: Vec::new(),
                failures: Vec::new(),
                planned: runs,
                cut: None,
            };
            let scenario_started = Instant::now();
            for run in 1..=runs {
                if run > 1 && scenario_started.elapsed() > SCENARIO_BUDGET {
                    let taken = scenario_started.elapsed().as_secs_f64() / 60.0;
                    println!(
                        "{} {}: skipping runs {run}-{runs}: the runs so far took {taken:.0} min \
                         (budget {} min per scenario)",
                        target.label,
                        sc.name,
                        SCENARIO_BUDGET.as_secs() / 60
                    );
                    row.cut = Some(run - 1);
                    break;
                }
                if let Some(e) = &start_failure {
                    row.failures.push(e.clone());
                    continue;
                }
                tag = (tag + 1) % 10_000;
                let cores = Cores {
                    server: match target.launch {
                        Launch::Spawn { .. } | Launch::Cluster { .. } => server_core,
                        Launch::External { .. } => None,
                    },
                    generator: pinned,
                };
                let result = run_once(target, sc, cores, tag);
                match result {
                    Ok(r) => {
                        println!(
                            "{} {} run {run}/{runs}: {}",
                            target.label,
                            sc.name,
                            describe_run(&r)
                        );
                        if r.lost.is_some_and(|l| l > 0) || r.order_ok == Some(false) {
                            all_ok = false;
                        }
                        row.runs.push(r);
                    }
                    Err(RunError::Start(e)) => {
                        eprintln!("fanout: {}: the server failed to start: {e}", target.label);
                        eprintln!("fanout: skipping the remaining runs of {}", target.label);
                        all_ok = false;
                        row.failures.push(e.clone());
                        start_failure = Some(e);
                    }
                    Err(RunError::Run(e)) => {
                        println!("{} {} run {run}/{runs}: FAILED: {e}", target.label, sc.name);
                        all_ok = false;
                        row.failures.push(e);
                    }
                }
            }
            rows.push(row);
        }
        let title = format!(
            "{} fanout benchmark  ({placement}, {runs} run{}, medians)",
            target.label,
            if runs == 1 { "" } else { "s" }
        );
        tables.push((title, rows));
    }
    println!();
    for (title, rows) in &tables {
        print_table(title, rows);
        println!();
    }
    println!(
        "deliveries/s and MB/s: valid marked lines (and all bytes) received by all members, \
over the time from the first send to the last delivery (\"window s\"); latency: read time \
minus send stamp, every delivery; CPU: user+system during that window (idle: during joining)."
    );
    let gen_bound = tables
        .iter()
        .flat_map(|(_, rows)| rows.iter())
        .any(|row| row.runs.iter().any(|r| r.gen_bound));
    if gen_bound {
        println!(
            "*: in at least one run the generator used as much CPU as the server or more, so \
that figure is bounded by the generator: the server can do at least this much."
        );
    }
    if !all_ok {
        eprintln!(
            "fanout: exiting with status 1: a run failed, lost lines or saw a different order"
        );
    }
    Ok(all_ok)
}
