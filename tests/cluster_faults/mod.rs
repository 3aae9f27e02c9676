//! The cluster's fault suite (issue 12): one room on two gochat servers and a Redis, four
//! members (two on each server) that talk steadily and count every line they get, and one
//! fault in the middle. Each scenario measures what the room promises: every member that
//! stays connected to a live server gets every line exactly once, each sender's lines in
//! order, the same order on every server; never a name held twice; no "server lost" notice
//! for a server that was not away longer than the heartbeat allows; one lost/back pair of
//! notices per fault at most; and how long the room went without delivering a line.
//!
//! Every process is started here on loopback ports picked here (Redis, Sentinel, the
//! pausable proxy of [`proxy`]) and stopped by its PID. Shared by `tests/cluster_faults.rs`
//! (short faults, run by `cargo test`) and `benches/cluster_faults.rs` (the full table,
//! faults of 1, 5 and 30 s).

#![allow(dead_code)]

pub mod members;
pub mod proxy;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::Server;
use crate::redis::{Config, Redis, Sentinels};
use members::Talker;
use proxy::Proxy;

/// How long the members talk before the fault.
const WARMUP: Duration = Duration::from_secs(1);

/// How long they talk after it.
const AFTER: Duration = Duration::from_secs(3);

/// How long the room may take to deliver every line once the members stopped talking.
const DRAIN: Duration = Duration::from_secs(60);

/// The heartbeat's life (`gochat::cluster::ALIVE_TTL`): a server away longer may be
/// declared lost.
const ALIVE_TTL: Duration = Duration::from_secs(3);

/// The fault a scenario injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Redis stopped (SIGSTOP) this long.
    RedisPaused(Duration),
    /// Redis killed (SIGKILL) and started again, empty.
    RedisRestartedEmpty,
    /// Redis killed and started again from its append-only file (fsync every second).
    RedisRestartedFromAof,
    /// Server b cut off from Redis (a pausable proxy between them) this long.
    CutOff(Duration),
    /// Server b stopped (SIGSTOP) this long.
    ServerPaused(Duration),
    /// Server b killed (SIGKILL).
    ServerKilled,
    /// Sentinel: the master killed, the replica promoted.
    SentinelFailover,
}

impl Fault {
    /// The scenario's name in the table.
    pub fn name(&self) -> String {
        let secs = |d: &Duration| d.as_secs();
        match self {
            Fault::RedisPaused(d) => format!("redis paused {} s", secs(d)),
            Fault::RedisRestartedEmpty => "redis killed, restarted empty".into(),
            Fault::RedisRestartedFromAof => "redis killed, restarted from its AOF".into(),
            Fault::CutOff(d) => format!("server b cut off from redis {} s", secs(d)),
            Fault::ServerPaused(d) => format!("server b paused {} s", secs(d)),
            Fault::ServerKilled => "server b killed".into(),
            Fault::SentinelFailover => "sentinel failover (master killed)".into(),
        }
    }

    /// Whether server b's members should be declared lost: `Some(false)` if b is never away
    /// longer than the heartbeat allows (any "server lost" notice is false), `Some(true)`
    /// if b is gone for good, `None` if b is away longer and may be declared lost, then
    /// comes back and rejoins.
    pub fn loses_server_b(&self) -> Option<bool> {
        match self {
            Fault::ServerKilled => Some(true),
            Fault::CutOff(d) | Fault::ServerPaused(d) if *d >= ALIVE_TTL => None,
            _ => Some(false),
        }
    }

    /// Whether Redis loses entries, so that lines some servers had read and others had not
    /// may reach the latter in another place (each sender's lines still in order).
    pub fn loses_entries(&self) -> bool {
        matches!(
            self,
            Fault::RedisRestartedEmpty | Fault::RedisRestartedFromAof | Fault::SentinelFailover
        )
    }
}

/// What one scenario measured: a row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub fault: Fault,
    /// Lines the members sent.
    pub sent: usize,
    /// Lines of the room a staying member did not get (summed over members).
    pub lost: usize,
    /// Lines a member got twice.
    pub duplicated: usize,
    /// Lines that came before a line their sender sent earlier.
    pub out_of_order: usize,
    /// Whether every staying member got the room's lines in the same order.
    pub one_order: bool,
    /// Names `/who` listed more than once.
    pub names_twice: usize,
    /// `NAME has left (server lost)` lines the staying members got.
    pub lost_notices: usize,
    /// Of those, the ones about a member that was announced again (`NAME has arrived`)
    /// after it: server b rejoined the room.
    pub announced_again: usize,
    /// Whether `/who` listed exactly the staying members, on every live server.
    pub who_right: bool,
    /// The most `lost the room's link` notices one member got.
    pub link_losses: usize,
    /// Entries the servers published again because Redis had lost them (from their logs).
    pub published_again: usize,
    /// The longest a staying member went without a line while everyone talked.
    pub silence: Duration,
    /// From the fault's end to the first line after it, at the slowest member.
    pub recovery: Duration,
}

impl Row {
    /// The table's header.
    pub fn header() -> String {
        "| fault | lines sent | lost | doubled | out of order | one order | names held twice | \"server lost\" notices | link lost/back | entries published again | longest silence | first line after the fault |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|"
            .to_string()
    }

    /// The row, as Markdown.
    pub fn line(&self) -> String {
        let notices = match self.fault.loses_server_b() {
            Some(true) => format!("{} (b's 2 members, to a's 2)", self.lost_notices),
            None if self.lost_notices > 0 => format!(
                "{} (b declared lost; {} announced again)",
                self.lost_notices, self.announced_again
            ),
            _ => self.lost_notices.to_string(),
        };
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} s | {:.1} s |",
            self.fault.name(),
            self.sent,
            self.lost,
            self.duplicated,
            self.out_of_order,
            if self.one_order { "yes" } else { "no" },
            self.names_twice,
            notices,
            self.link_losses,
            self.published_again,
            self.silence.as_secs_f64(),
            self.recovery.as_secs_f64(),
        )
    }

    /// Checks the room's promises, failing with the row.
    pub fn assert_kept(&self) {
        let row = self.line();
        assert_eq!(self.lost, 0, "lines lost: {row}");
        assert_eq!(self.duplicated, 0, "lines doubled: {row}");
        assert_eq!(self.out_of_order, 0, "lines out of order: {row}");
        assert_eq!(self.names_twice, 0, "a name held twice: {row}");
        assert!(
            self.who_right,
            "/who did not list the staying members: {row}"
        );
        assert!(self.link_losses <= 1, "more than one lost/back pair: {row}");
        if !self.fault.loses_entries() {
            assert!(self.one_order, "members saw different orders: {row}");
        }
        match self.fault.loses_server_b() {
            Some(false) => assert_eq!(self.lost_notices, 0, "a false server-lost notice: {row}"),
            Some(true) => {
                assert_eq!(self.lost_notices, 4, "server b's members never left: {row}");
                assert_eq!(self.link_losses, 0, "server a lost its link: {row}");
            }
            None => assert_eq!(
                self.announced_again, self.lost_notices,
                "server b rejoined without announcing its members again: {row}"
            ),
        }
    }
}

/// The processes of one scenario.
struct Lab {
    redis: Option<Redis>,
    sentinels: Option<Sentinels>,
    proxy: Option<Proxy>,
    servers: Vec<Server>,
}

impl Lab {
    /// Starts Redis (or Sentinel) and the two servers for `fault`; `None` if Redis is not
    /// installed and that is allowed.
    fn start(fault: Fault) -> Option<Lab> {
        let (redis, sentinels, url) = if fault == Fault::SentinelFailover {
            let sentinels = Sentinels::start()?;
            let url = sentinels.url();
            (None, Some(sentinels), url)
        } else {
            let aof = fault == Fault::RedisRestartedFromAof;
            let redis = Redis::start_with(Config {
                aof,
                ..Config::default()
            })?;
            let url = redis.url();
            (Some(redis), None, url)
        };
        let proxy = match (fault, &redis) {
            (Fault::CutOff(_), Some(redis)) => Some(Proxy::start(redis.port)),
            _ => None,
        };
        let url_b = match &proxy {
            Some(proxy) => format!("redis://127.0.0.1:{}/", proxy.port),
            None => url.clone(),
        };
        let servers = [url, url_b]
            .iter()
            .map(|url| Server::start_at(&["127.0.0.1:0", "--redis", url, "--room", "faults"]))
            .collect();
        Some(Lab {
            redis,
            sentinels,
            proxy,
            servers,
        })
    }

    /// How many entries the servers said they published again, from their logs
    /// (`gochat: redis lost N of this server's entries; publishing them again`).
    fn published_again(&self) -> usize {
        let said = |line: String| {
            let rest = line.strip_prefix("gochat: redis lost ")?;
            rest.split(' ').next()?.parse::<usize>().ok()
        };
        self.servers
            .iter()
            .flat_map(|s| s.log.try_iter().filter_map(said))
            .sum()
    }

    /// Injects `fault`; returns when it ended (the room may recover from then on).
    fn inject(&mut self, fault: Fault) -> Instant {
        match fault {
            Fault::RedisPaused(d) => {
                let redis = self.redis.as_ref().expect("a redis");
                redis.pause();
                thread::sleep(d); // the fault's length, not a sync
                redis.resume();
            }
            Fault::RedisRestartedEmpty | Fault::RedisRestartedFromAof => {
                self.redis.as_mut().expect("a redis").restart();
            }
            Fault::CutOff(d) => {
                let proxy = self.proxy.as_ref().expect("a proxy");
                proxy.pause();
                thread::sleep(d); // the fault's length, not a sync
                proxy.resume();
            }
            Fault::ServerPaused(d) => {
                self.servers[1].signal(libc::SIGSTOP);
                thread::sleep(d); // the fault's length, not a sync
                self.servers[1].signal(libc::SIGCONT);
            }
            Fault::ServerKilled => {
                self.servers[1].signal(libc::SIGKILL);
                self.servers[1].wait_exit(Duration::from_secs(20));
            }
            Fault::SentinelFailover => {
                let sentinels = self.sentinels.as_mut().expect("sentinels");
                sentinels.kill_master();
            }
        }
        Instant::now()
    }
}

/// Runs one scenario; `None` if Redis is not installed and that is allowed.
pub fn run(fault: Fault) -> Option<Row> {
    let mut lab = Lab::start(fault)?;
    let mut talkers: Vec<Talker> = (0..4)
        .map(|i| Talker::join(lab.servers[i / 2].addr, i / 2))
        .collect();
    settle(&mut talkers);
    let stop = Arc::new(AtomicBool::new(false));
    for talker in &mut talkers {
        talker.talk(Arc::clone(&stop));
    }
    thread::sleep(WARMUP); // the members talk meanwhile: the scenario's timeline
    let healed = lab.inject(fault);
    if fault.loses_server_b() == Some(true) {
        // The room goes on for a while after it declared server b lost, too.
        let gone = ["m2 has left (server lost)", "m3 has left (server lost)"];
        for talker in talkers.iter().filter(|t| t.server == 0) {
            let deadline = Instant::now() + DRAIN;
            let told = talker.record.wait_for(deadline, |lines| {
                gone.iter().all(|g| lines.iter().any(|(_, l)| l == g))
            });
            assert!(
                told,
                "{} was never told server b's members left",
                talker.name
            );
        }
    }
    thread::sleep(AFTER); // likewise
    stop.store(true, Ordering::Release);
    for talker in &mut talkers {
        talker.stop_talking();
    }
    let staying: Vec<&Talker> = talkers.iter().filter(|t| !t.closed()).collect();
    drain(&staying, fault);
    let who = ask_who(&talkers);
    let mut row = tally(fault, &talkers, healed, who);
    row.published_again = lab.published_again();
    drop(lab);
    Some(row)
}

/// Names the members m0 to m3, and waits until every member has seen every name taken.
fn settle(talkers: &mut [Talker]) {
    let limit = Duration::from_secs(20);
    let last = talkers[3].addr.clone();
    for talker in talkers[..3].iter() {
        assert!(
            talker.wait_line(&format!("{last} has arrived"), limit),
            "arrivals"
        );
    }
    for (i, talker) in talkers.iter_mut().enumerate() {
        talker.say(&format!("/nick m{i}"));
        let renamed = format!("{} is now known as m{i}", talker.addr);
        assert!(talker.wait_line(&renamed, limit), "{renamed}");
        talker.name = format!("m{i}");
    }
    let renamed = format!("{last} is now known as m3");
    for talker in talkers.iter() {
        assert!(talker.wait_line(&renamed, limit), "renames");
    }
}

/// Waits until every staying member has every other staying member's last line (and, if
/// server b is gone, the notices that its members left).
fn drain(staying: &[&Talker], fault: Fault) {
    let deadline = Instant::now() + DRAIN;
    let mut wanted: Vec<String> = staying.iter().map(|t| format!("{}: end", t.name)).collect();
    if fault.loses_server_b() == Some(true) {
        wanted.extend([
            "m2 has left (server lost)".into(),
            "m3 has left (server lost)".into(),
        ]);
    }
    for talker in staying {
        let done = talker.record.wait_for(deadline, |lines| {
            wanted.iter().all(|w| lines.iter().any(|(_, l)| l == w))
        });
        assert!(done, "{} never got everything: {fault:?}", talker.name);
    }
}

/// Asks `/who` on each live server: the names listed more than once, and whether every
/// answer listed exactly the staying members.
fn ask_who(talkers: &[Talker]) -> (usize, bool) {
    let staying: BTreeSet<&str> = talkers
        .iter()
        .filter(|t| !t.closed())
        .map(|t| t.name.as_str())
        .collect();
    let (mut twice, mut right) = (0, true);
    for server in 0..2 {
        let Some(asker) = talkers.iter().find(|t| t.server == server && !t.closed()) else {
            continue;
        };
        let names = who(asker);
        let unique: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        twice += names.len() - unique.len();
        right &= unique == staying;
    }
    (twice, right)
}

/// The names `/who` lists, asked by `talker`.
fn who(talker: &Talker) -> Vec<String> {
    let before = talker.record.lines().len();
    talker.say("/who");
    let mut answer = None;
    let answered = talker
        .record
        .wait_for(Instant::now() + Duration::from_secs(20), |lines| {
            answer = lines[before..].iter().find_map(|(_, l)| {
                let (_, names) = l.strip_prefix("gochat: ")?.split_once(" here: ")?;
                Some(names.to_string())
            });
            answer.is_some()
        });
    assert!(answered, "{} got no answer to /who", talker.name);
    answer
        .unwrap_or_default()
        .split(", ")
        .map(str::to_string)
        .collect()
}

/// Counts what the staying members got.
fn tally(fault: Fault, talkers: &[Talker], healed: Instant, who: (usize, bool)) -> Row {
    let staying: Vec<&Talker> = talkers.iter().filter(|t| !t.closed()).collect();
    let senders: Vec<(String, Option<usize>)> = talkers
        .iter()
        .map(|t| {
            let alive = !t.closed();
            (
                t.name.clone(),
                alive.then(|| t.sent.load(Ordering::Acquire)),
            )
        })
        .collect();
    let got: Vec<Got> = staying.iter().map(|t| Got::read(t, &senders)).collect();
    let expected = expected_lines(&senders, &got);
    let mut row = Row {
        fault,
        sent: talkers.iter().map(|t| t.sent.load(Ordering::Acquire)).sum(),
        lost: 0,
        duplicated: 0,
        out_of_order: 0,
        one_order: got.windows(2).all(|w| w[0].order == w[1].order),
        names_twice: who.0,
        who_right: who.1,
        lost_notices: got.iter().map(|g| g.lost_notices).sum(),
        announced_again: got.iter().map(|g| g.announced_again).sum(),
        link_losses: got.iter().map(|g| g.link_losses).max().unwrap_or(0),
        published_again: 0,
        silence: Duration::ZERO,
        recovery: Duration::ZERO,
    };
    for g in &got {
        for (sender, want) in &expected {
            let mine = g.numbers.get(sender).map(Vec::as_slice).unwrap_or_default();
            let distinct: BTreeSet<usize> = mine.iter().copied().collect();
            row.lost += want.difference(&distinct).count();
            row.duplicated += mine.len() - distinct.len();
            row.out_of_order += mine.windows(2).filter(|w| w[1] < w[0]).count();
        }
        row.silence = row.silence.max(g.longest_silence());
        row.recovery = row.recovery.max(g.first_after(healed));
    }
    row
}

/// The lines each sender put in the room: all it sent if it stayed; if its server died,
/// the ones some staying member got.
fn expected_lines(
    senders: &[(String, Option<usize>)],
    got: &[Got],
) -> HashMap<String, BTreeSet<usize>> {
    senders
        .iter()
        .map(|(name, sent)| {
            let lines = match sent {
                Some(sent) => (0..*sent).collect(),
                None => got
                    .iter()
                    .flat_map(|g| g.numbers.get(name).into_iter().flatten().copied())
                    .collect(),
            };
            (name.clone(), lines)
        })
        .collect()
}

/// What one staying member got.
struct Got {
    /// Each sender's numbers, in the order they came.
    numbers: HashMap<String, Vec<usize>>,
    /// Every numbered line, in the order they came.
    order: Vec<String>,
    /// When each numbered line came.
    times: Vec<Instant>,
    lost_notices: usize,
    /// Lost notices followed by the same member's arrival.
    announced_again: usize,
    link_losses: usize,
}

impl Got {
    fn read(talker: &Talker, senders: &[(String, Option<usize>)]) -> Got {
        let mut got = Got {
            numbers: HashMap::new(),
            order: Vec::new(),
            times: Vec::new(),
            lost_notices: 0,
            announced_again: 0,
            link_losses: 0,
        };
        let mut gone: Vec<&str> = Vec::new();
        let lines = talker.record.lines();
        for (at, line) in lines.iter() {
            if let Some(who) = line.strip_suffix(" has left (server lost)") {
                got.lost_notices += 1;
                gone.push(who);
            } else if let Some(who) = line.strip_suffix(" has arrived") {
                if let Some(at) = gone.iter().position(|g| *g == who) {
                    gone.remove(at);
                    got.announced_again += 1;
                }
            } else if line == "gochat: lost the room's link, reconnecting" {
                got.link_losses += 1;
            }
            let Some((name, n)) = line.split_once(": ") else {
                continue;
            };
            let (Some(_), Ok(n)) = (senders.iter().find(|(s, _)| s == name), n.parse::<usize>())
            else {
                continue;
            };
            got.numbers.entry(name.to_string()).or_default().push(n);
            got.order.push(line.clone());
            got.times.push(*at);
        }
        got
    }

    /// The longest gap between two numbered lines.
    fn longest_silence(&self) -> Duration {
        self.times
            .windows(2)
            .map(|w| w[1].duration_since(w[0]))
            .max()
            .unwrap_or_default()
    }

    /// From `healed` to the first numbered line after it.
    fn first_after(&self, healed: Instant) -> Duration {
        self.times
            .iter()
            .find(|t| **t >= healed)
            .map_or(Duration::MAX, |t| t.duration_since(healed))
    }
}
