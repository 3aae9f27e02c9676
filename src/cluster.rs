//! One room across many servers, through Redis (`serve --redis URL --room NAME`).
//!
//! Every server publishes its members' lines to one Redis stream per room, and delivers to
//! its own members only what it reads back from that stream. Redis gives every entry its
//! place in the stream, so every member on every server sees the room in one order, and no
//! replication protocol of ours is involved. Joins, leaves and name changes travel the same
//! way. The rest of the room's state lives in Redis too, under `gochat:ROOM:`:
//!
//! | key | what |
//! |---|---|
//! | `log` | the stream: one entry per batch of lines (`l`), with its origin (`sid`, `seq`) |
//! | `servers` | the set of server ids in the room |
//! | `alive:SID` | a server's heartbeat, expiring after [`ALIVE_TTL`] |
//! | `roster:SID` | a server's members: member id → `JOIN_MS NAME` |
//! | `names` | names taken with `/nick`: lowercased name → `SID:MEMBER` |
//!
//! `/who` lists the rosters of live servers. A server that stops heartbeating (killed, cut
//! off) is noticed by the others within about [`ALIVE_TTL`]: one of them removes it from
//! the room and publishes `NAME has left (server lost)` for each of its members. A newcomer's
//! history comes from the stream, so it survives every server restarting.
//!
//! Trouble with Redis is handled, not hidden. Unreachable at start is an error. Lost while
//! running, the broadcaster tells the members (`gochat: lost the room's link, reconnecting`),
//! every task reconnects with backoff, the subscriber resumes reading where it stopped, and
//! lines sent meanwhile are held and published after. The broadcaster stops taking lines
//! once [`crate::relay::PUBLISH_WINDOW`] bytes wait (senders are slowed by TCP, nothing is
//! dropped); only a burst that lands all at once can go past [`HELD_LIMIT`], and the
//! senders of lines past it are told they were not sent. A batch whose entry Redis lost in a
//! restart before the others read it is published again; every entry carries its origin and
//! sequence number, so none is delivered twice.
//!
//! The broadcaster talks to this module through a [`Relay`]: [`Out`] (lines to publish,
//! joins, leaves, commands that need the whole room) one way, [`Entry`]s (the room's log, in
//! order) and [`Event`]s (link trouble, answers to commands) the other.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_channel::{Receiver, Sender};
use futures_lite::{FutureExt, future};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisResult, Value};
use smol::{Executor, Timer};

use crate::chat;
use crate::codec::{LineDecoder, MAX_MAX_LINE};
use crate::error::Error;
use crate::relay::{Entry, Event, Out, Relay, Window};

/// How often a server renews its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long a heartbeat lasts: a server silent this long is gone, and its members with it.
pub const ALIVE_TTL: Duration = Duration::from_secs(3);

/// The stream keeps about this many entries (each a batch of one or more lines): far more
/// than the longest history, and minutes of a busy room for a server that fell behind.
pub const LOG_MAXLEN: usize = 100_000;

/// The most bytes of lines a server holds while Redis is unreachable: a cap above the
/// publish window, for bursts that arrive all at once. Past it, senders are told their
/// lines were not sent.
pub const HELD_LIMIT: usize = 4 * 1024 * 1024;

/// How long one XREAD waits for new entries before asking again.
const XREAD_BLOCK: Duration = Duration::from_millis(1000);

/// The most entries one XREAD returns.
const XREAD_COUNT: usize = 512;

/// The most entries one pipeline publishes.
const PUBLISH_BATCH: usize = 256;

/// Reconnecting waits this long at first, doubling up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// How long to wait before trying Redis again: [`BACKOFF_MIN`], doubling with each failure
/// up to [`BACKOFF_MAX`], back to the minimum after a success.
#[derive(Debug)]
struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(BACKOFF_MIN)
    }

    /// The wait before the next try (and a longer one for the try after).
    fn next(&mut self) -> Duration {
        let wait = self.0;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        wait
    }

    fn reset(&mut self) {
        self.0 = BACKOFF_MIN;
    }
}

/// How long a command may take before the connection counts as lost. (The redis crate's
/// default is 500 ms, too short for a busy Redis; blocking reads get their own.)
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where a room lives in Redis.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Redis URL, as given.
    pub url: String,
    /// The room's name.
    pub room: String,
}

/// The keys of one room.
#[derive(Debug)]
struct Keys {
    prefix: String,
    log: String,
    servers: String,
    names: String,
}

impl Keys {
    fn new(room: &str) -> Keys {
        let prefix = format!("gochat:{room}:");
        Keys {
            log: format!("{prefix}log"),
            servers: format!("{prefix}servers"),
            names: format!("{prefix}names"),
            prefix,
        }
    }

    fn alive(&self, sid: &str) -> String {
        format!("{}alive:{sid}", self.prefix)
    }

    fn roster(&self, sid: &str) -> String {
        format!("{}roster:{sid}", self.prefix)
    }
}

/// What the cluster's tasks share.
#[derive(Debug)]
struct Shared {
    client: Client,
    keys: Keys,
    /// This server's id in the room.
    sid: String,
    /// Whether Redis answered last time anyone asked.
    up: AtomicBool,
    /// Set when the link comes back: the heartbeat re-registers everything this server
    /// holds, in case Redis lost it.
    resync: AtomicBool,
    events: Sender<Event>,
    /// This server's members as the room should know them: id → (joined, name).
    roster: Mutex<HashMap<u64, (u64, String)>>,
    /// Names this server's members took with `/nick`: id → name.
    names: Mutex<HashMap<u64, String>>,
    /// The highest sequence number of ours read back from the log.
    seen_seq: AtomicU64,
    /// Bytes of lines on their way to Redis: the broadcaster's publish window.
    window: Arc<Window>,
}

impl Shared {
    /// Notes that Redis failed; tells the room once.
    fn down(&self, error: &redis::RedisError) {
        if self.up.swap(false, Ordering::AcqRel) {
            eprintln!(
                "gochat: lost redis at {}: {}; reconnecting",
                self.client_url(),
                describe(error)
            );
            let _ = self.events.try_send(Event::LinkDown);
        }
    }

    /// Notes that Redis answered; tells the room once if it had been away.
    fn up(&self) {
        if !self.up.swap(true, Ordering::AcqRel) {
            eprintln!("gochat: redis is back");
            self.resync.store(true, Ordering::Release);
            let _ = self.events.try_send(Event::LinkUp);
        }
    }

    fn client_url(&self) -> String {
        self.client.get_connection_info().addr().to_string()
    }

    fn member_ref(&self, member: u64) -> String {
        format!("{}:{member}", self.sid)
    }

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new connection to Redis whose replies may take up to `response_timeout` (longer
    /// than [`RESPONSE_TIMEOUT`] only for blocking reads).
    async fn connect(&self, response_timeout: Duration) -> RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(response_timeout));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    /// A task's connection: the one it has, or a new one. `None` when Redis cannot be
    /// reached, which has then been reported (see [`Shared::down`]); the task decides how
    /// to wait.
    async fn link<'a>(
        &self,
        con: &'a mut Option<MultiplexedConnection>,
        response_timeout: Duration,
    ) -> Option<&'a mut MultiplexedConnection> {
        if con.is_none() {
            match self.connect(response_timeout).await {
                Ok(c) => *con = Some(c),
                Err(e) => self.down(&e),
            }
        }
        con.as_mut()
    }
}

/// Joins the room described by `settings`: checks Redis is there, loads the last
/// `history` lines, registers this server, and starts the cluster's tasks on `ex`.
pub async fn join(
    settings: &Settings,
    history: usize,
    ex: &Arc<Executor<'static>>,
) -> Result<Relay, Error> {
    let unreachable = |e: redis::RedisError| Error::Redis {
        url: settings.url.clone(),
        reason: describe(&e),
    };
    let client = Client::open(settings.url.as_str()).map_err(|_| {
        Error::Usage(format!(
            "--redis: {:?} is not a redis URL (as in redis://HOST:6379/)",
            settings.url
        ))
    })?;
    let (events_tx, events) = async_channel::unbounded();
    let shared = Arc::new(Shared {
        client,
        keys: Keys::new(&settings.room),
        sid: server_id(),
        up: AtomicBool::new(true),
        resync: AtomicBool::new(false),
        events: events_tx,
        roster: Mutex::new(HashMap::new()),
        names: Mutex::new(HashMap::new()),
        seen_seq: AtomicU64::new(0),
        window: Arc::new(Window::default()),
    });
    let mut con = shared
        .connect(RESPONSE_TIMEOUT)
        .await
        .map_err(unreachable)?;
    redis::cmd("PING")
        .query_async::<()>(&mut con)
        .await
        .map_err(unreachable)?;
    let (history, last_id) = load_history(&mut con, &shared.keys, history)
        .await
        .map_err(unreachable)?;
    register(&mut con, &shared).await.map_err(unreachable)?;

    let (out, out_rx) = async_channel::unbounded();
    let (entries_tx, entries) = async_channel::bounded(64);
    let (commands_tx, commands_rx) = async_channel::unbounded();
    ex.spawn(publish(
        Arc::clone(&shared),
        out_rx,
        commands_tx,
        Some(con.clone()),
    ))
    .detach();
    ex.spawn(subscribe(Arc::clone(&shared), entries_tx, last_id))
        .detach();
    ex.spawn(heartbeat(
        Arc::clone(&shared),
        out.clone(),
        Some(con.clone()),
    ))
    .detach();
    ex.spawn(answer_commands(Arc::clone(&shared), commands_rx, Some(con)))
        .detach();
    Ok(Relay {
        out,
        entries,
        events,
        history,
        window: Arc::clone(&shared.window),
    })
}

/// A server id unique enough for a room: the process id and the time it started.
fn server_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}{:08x}", nanos, std::process::id())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Reads the room's last `lines` lines from the log, and the id to read on from.
async fn load_history(
    con: &mut MultiplexedConnection,
    keys: &Keys,
    lines: usize,
) -> RedisResult<(Vec<u8>, String)> {
    let newest: Value = redis::cmd("XREVRANGE")
        .arg(&keys.log)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(lines.max(1))
        .query_async(con)
        .await?;
    let entries = parse_entries(newest);
    let last_id = entries
        .first()
        .map_or_else(|| "0-0".to_string(), |(id, _)| id.clone());
    if lines == 0 {
        return Ok((Vec::new(), last_id));
    }
    let mut all = Vec::new();
    for (_, fields) in entries.iter().rev() {
        if let Some(text) = field(fields, "l") {
            all.extend_from_slice(&sanitize_lines(text));
        }
    }
    // Keep only the last `lines` lines.
    let count = all.iter().filter(|&&b| b == b'\n').count();
    let mut skip = count.saturating_sub(lines);
    let mut start = 0;
    while skip > 0 {
        match memchr::memchr(b'\n', &all[start..]) {
            Some(at) => start += at + 1,
            None => break,
        }
        skip -= 1;
    }
    Ok((all[start..].to_vec(), last_id))
}

/// Puts this server in the room: its heartbeat, its roster, the names its members hold.
async fn register(con: &mut MultiplexedConnection, shared: &Shared) -> RedisResult<()> {
    let keys = &shared.keys;
    let roster_key = keys.roster(&shared.sid);
    let mut pipe = redis::pipe();
    pipe.cmd("SET")
        .arg(keys.alive(&shared.sid))
        .arg(1)
        .arg("PX")
        .arg(ALIVE_TTL.as_millis() as u64)
        .ignore();
    pipe.cmd("SADD")
        .arg(&keys.servers)
        .arg(&shared.sid)
        .ignore();
    pipe.cmd("DEL").arg(&roster_key).ignore();
    for (member, (joined, name)) in Shared::lock(&shared.roster).iter() {
        pipe.cmd("HSET")
            .arg(&roster_key)
            .arg(member)
            .arg(format!("{joined} {name}"))
            .ignore();
    }
    for (member, name) in Shared::lock(&shared.names).iter() {
        pipe.cmd("HSET")
            .arg(&keys.names)
            .arg(chat::name_key(name))
            .arg(shared.member_ref(*member))
            .ignore();
    }
    pipe.query_async::<()>(con).await
}

/// A batch waiting to be published.
#[derive(Debug)]
struct Item {
    seq: u64,
    lines: Vec<u8>,
    /// Whether it counts toward the broadcaster's publish window.
    windowed: bool,
    arrival: Option<u64>,
    leave: Option<u64>,
    /// Roster change to make with it.
    roster: RosterChange,
}

#[derive(Debug, Clone)]
enum RosterChange {
    None,
    Set(u64, String),
    Remove(u64),
}

/// The publisher: takes [`Out`]s in room order and appends them to the log, holding them
/// while Redis is away.
async fn publish(
    shared: Arc<Shared>,
    out: Receiver<Out>,
    commands: Sender<Out>,
    mut con: Option<MultiplexedConnection>,
) {
    let mut held: VecDeque<Item> = VecDeque::new();
    let mut held_bytes = 0usize;
    // Published but not yet read back: kept to publish again if Redis loses them.
    let mut unconfirmed: VecDeque<(String, Item)> = VecDeque::new();
    let mut seq = 0u64;
    let mut backoff = Backoff::new();
    let mut retry_at: Option<std::time::Instant> = None;
    let mut goodbye: Option<Sender<()>> = None;
    let mut was_down = false;
    loop {
        // Take what the broadcaster sent; wait for it only when there is nothing to do.
        let idle = held.is_empty() || retry_at.is_some();
        let first = if idle && goodbye.is_none() {
            let next = async { out.recv().await.ok() };
            let wake = async {
                match retry_at {
                    Some(at) => Timer::at(at).await,
                    None => future::pending().await,
                };
                None
            };
            match next.or(wake).await {
                Some(first) => Some(first),
                None if retry_at.is_some() => {
                    retry_at = None;
                    None
                }
                None => return, // the room is gone
            }
        } else {
            None
        };
        for request in first
            .into_iter()
            .chain(std::iter::from_fn(|| out.try_recv().ok()))
        {
            let item = match request {
                Out::Lines { lines, from } => {
                    let bytes = lines.len();
                    if !shared.up.load(Ordering::Acquire) && held_bytes + bytes > HELD_LIMIT {
                        let count = lines.iter().filter(|&&b| b == b'\n').count();
                        let _ = shared.events.try_send(Event::NotSent {
                            members: from,
                            lines: count,
                        });
                        shared.window.give_back(bytes);
                        continue;
                    }
                    Item::lines(lines)
                }
                Out::Arrive { member, name, line } => {
                    let joined = now_ms();
                    Shared::lock(&shared.roster).insert(member, (joined, name.clone()));
                    Item::notice(line, RosterChange::Set(member, format!("{joined} {name}")))
                        .arrival(member)
                }
                Out::Leave { member, line } => {
                    Shared::lock(&shared.roster).remove(&member);
                    Item::notice(line, RosterChange::Remove(member)).leave(member)
                }
                Out::Renamed { member, name, line } => {
                    let mut roster = Shared::lock(&shared.roster);
                    let joined = roster.get(&member).map_or_else(now_ms, |(j, _)| *j);
                    roster.insert(member, (joined, name.clone()));
                    Item::notice(line, RosterChange::Set(member, format!("{joined} {name}")))
                }
                Out::Notice { lines } => Item::notice(lines, RosterChange::None),
                Out::Goodbye { done } => {
                    goodbye = Some(done);
                    continue;
                }
                other => {
                    let _ = commands.try_send(other);
                    continue;
                }
            };
            seq += 1;
            held_bytes += item.lines.len();
            held.push_back(Item { seq, ..item });
        }

        // Forget what has been read back.
        let seen = shared.seen_seq.load(Ordering::Acquire);
        while unconfirmed
            .front()
            .is_some_and(|(_, item)| item.seq <= seen)
        {
            unconfirmed.pop_front();
        }

        if held.is_empty() && goodbye.is_none() {
            continue;
        }
        if retry_at.is_some() && goodbye.is_none() {
            continue;
        }
        let Some(connection) = shared.link(&mut con, RESPONSE_TIMEOUT).await else {
            was_down = true;
            if let Some(done) = goodbye.take() {
                drop(done); // shutting down: no waiting for Redis
                return;
            }
            retry_at = Some(std::time::Instant::now() + backoff.next());
            continue;
        };
        if was_down {
            // Redis may have lost entries we published but nobody read: publish those again.
            match lost_entries(connection, &shared.keys, &unconfirmed).await {
                Ok(lost) => {
                    for seq in lost.into_iter().rev() {
                        if let Some(pos) = unconfirmed.iter().position(|(_, i)| i.seq == seq) {
                            if let Some((_, item)) = unconfirmed.remove(pos) {
                                held_bytes += item.lines.len();
                                held.push_front(item);
                            }
                        }
                    }
                    was_down = false;
                }
                Err(e) => {
                    shared.down(&e);
                    con = None;
                    retry_at = Some(std::time::Instant::now() + backoff.next());
                    continue;
                }
            }
        }
        if held.is_empty() {
            if let Some(done) = goodbye.take() {
                let _ = leave_room(connection, &shared).await;
                drop(done);
                return;
            }
            continue;
        }
        let take = held.len().min(PUBLISH_BATCH);
        let batch: Vec<&Item> = held.iter().take(take).collect();
        match append_entries(connection, &shared, &batch).await {
            Ok(ids) => {
                shared.up();
                backoff.reset();
                for id in ids {
                    if let Some(item) = held.pop_front() {
                        held_bytes -= item.lines.len();
                        if item.windowed {
                            shared.window.give_back(item.lines.len());
                        }
                        unconfirmed.push_back((id, item));
                    }
                }
                // Bound what is kept for republishing, should the subscriber be far behind.
                while unconfirmed.len() > LOG_MAXLEN / 2 {
                    unconfirmed.pop_front();
                }
            }
            Err(e) => {
                shared.down(&e);
                was_down = true;
                con = None;
                if goodbye.is_some() {
                    return;
                }
                retry_at = Some(std::time::Instant::now() + backoff.next());
                continue;
            }
        }
        if held.is_empty() {
            if let Some(done) = goodbye.take() {
                if let Some(connection) = con.as_mut() {
                    let _ = leave_room(connection, &shared).await;
                }
                drop(done);
                return;
            }
        }
    }
}

impl Item {
    fn lines(lines: Vec<u8>) -> Item {
        Item {
            seq: 0,
            lines,
            windowed: true,
            arrival: None,
            leave: None,
            roster: RosterChange::None,
        }
    }

    fn notice(line: Vec<u8>, roster: RosterChange) -> Item {
        Item {
            seq: 0,
            lines: line,
            windowed: false,
            arrival: None,
            leave: None,
            roster,
        }
    }

    fn arrival(self, member: u64) -> Item {
        Item {
            arrival: Some(member),
            ..self
        }
    }

    fn leave(self, member: u64) -> Item {
        Item {
            leave: Some(member),
            ..self
        }
    }
}

/// Appends `items` to the log in one pipeline (with their roster changes); returns the
/// entries' ids.
async fn append_entries(
    con: &mut MultiplexedConnection,
    shared: &Shared,
    items: &[&Item],
) -> RedisResult<Vec<String>> {
    let keys = &shared.keys;
    let roster_key = keys.roster(&shared.sid);
    let mut pipe = redis::pipe();
    for item in items {
        let add = pipe
            .cmd("XADD")
            .arg(&keys.log)
            .arg("MAXLEN")
            .arg("~")
            .arg(LOG_MAXLEN)
            .arg("*")
            .arg("sid")
            .arg(&shared.sid)
            .arg("seq")
            .arg(item.seq);
        if let Some(member) = item.arrival {
            add.arg("arrival").arg(member);
        }
        if let Some(member) = item.leave {
            add.arg("leave").arg(member);
        }
        add.arg("l").arg(&item.lines);
        match &item.roster {
            RosterChange::None => {}
            RosterChange::Set(member, value) => {
                pipe.cmd("HSET")
                    .arg(&roster_key)
                    .arg(member)
                    .arg(value)
                    .ignore();
            }
            RosterChange::Remove(member) => {
                pipe.cmd("HDEL").arg(&roster_key).arg(member).ignore();
                if let Some(name) = Shared::lock(&shared.names).remove(member) {
                    release_name(&mut pipe, keys, &name, &shared.member_ref(*member));
                }
            }
        }
    }
    pipe.query_async(con).await
}

/// Adds to `pipe` giving back `name`, if `owner` still holds it.
fn release_name(pipe: &mut redis::Pipeline, keys: &Keys, name: &str, owner: &str) {
    pipe.cmd("EVAL")
        .arg(RELEASE_NAME)
        .arg(1)
        .arg(&keys.names)
        .arg(chat::name_key(name))
        .arg(owner)
        .ignore();
}

/// Deletes a name only if its owner is still the one given: atomic in Redis.
const RELEASE_NAME: &str = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then \
     return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0";

/// Which of `unconfirmed` (published, not read back) Redis no longer has.
async fn lost_entries(
    con: &mut MultiplexedConnection,
    keys: &Keys,
    unconfirmed: &VecDeque<(String, Item)>,
) -> RedisResult<Vec<u64>> {
    if unconfirmed.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for (id, _) in unconfirmed {
        pipe.cmd("XRANGE").arg(&keys.log).arg(id).arg(id);
    }
    let found: Vec<Value> = pipe.query_async(con).await?;
    Ok(unconfirmed
        .iter()
        .zip(found)
        .filter(|(_, value)| parse_entries(value.clone()).is_empty())
        .map(|((_, item), _)| item.seq)
        .collect())
}

/// Takes this server out of the room (at shutdown).
async fn leave_room(con: &mut MultiplexedConnection, shared: &Shared) -> RedisResult<()> {
    let keys = &shared.keys;
    let mut pipe = redis::pipe();
    pipe.cmd("DEL").arg(keys.alive(&shared.sid)).ignore();
    pipe.cmd("DEL").arg(keys.roster(&shared.sid)).ignore();
    pipe.cmd("SREM")
        .arg(&keys.servers)
        .arg(&shared.sid)
        .ignore();
    for (member, name) in Shared::lock(&shared.names).iter() {
        release_name(&mut pipe, keys, name, &shared.member_ref(*member));
    }
    pipe.query_async::<()>(con).await
}

/// The subscriber: reads the log from `last_id` on, forever, and hands each new entry to
/// the broadcaster. After trouble it reconnects and carries on from the last entry read.
async fn subscribe(shared: Arc<Shared>, entries: Sender<Entry>, mut last_id: String) {
    let mut con: Option<MultiplexedConnection> = None;
    let mut backoff = Backoff::new();
    // The highest sequence number read from each server: an entry published again after a
    // Redis restart is delivered once.
    let mut seen: HashMap<String, u64> = HashMap::new();
    loop {
        let Some(connection) = shared.link(&mut con, XREAD_BLOCK + RESPONSE_TIMEOUT).await else {
            Timer::after(backoff.next()).await;
            continue;
        };
        let read: RedisResult<Value> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(XREAD_COUNT)
            .arg("BLOCK")
            .arg(XREAD_BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&shared.keys.log)
            .arg(&last_id)
            .query_async(connection)
            .await;
        let reply = match read {
            Ok(reply) => reply,
            Err(e) => {
                shared.down(&e);
                con = None;
                Timer::after(backoff.next()).await;
                continue;
            }
        };
        shared.up();
        backoff.reset();
        for (id, fields) in parse_stream_reply(reply) {
            last_id = id;
            let (Some(sid), Some(seq), Some(lines)) = (
                field(&fields, "sid").and_then(|s| String::from_utf8(s.to_vec()).ok()),
                field_u64(&fields, "seq"),
                field(&fields, "l"),
            ) else {
                continue; // not ours to read
            };
            let newest = seen.entry(sid.clone()).or_insert(0);
            if seq <= *newest {
                continue; // a copy of one already delivered
            }
            *newest = seq;
            let ours = sid == shared.sid;
            if ours {
                shared.seen_seq.fetch_max(seq, Ordering::AcqRel);
            }
            let entry = Entry {
                lines: sanitize_lines(lines),
                arrival: if ours {
                    field_u64(&fields, "arrival")
                } else {
                    None
                },
                leave: if ours {
                    field_u64(&fields, "leave")
                } else {
                    None
                },
            };
            if entries.send(entry).await.is_err() {
                return;
            }
        }
    }
}

/// The heartbeat: keeps this server alive in the room, re-registers it after Redis came
/// back, and removes servers that stopped heartbeating.
async fn heartbeat(shared: Arc<Shared>, out: Sender<Out>, mut con: Option<MultiplexedConnection>) {
    loop {
        Timer::after(HEARTBEAT).await;
        let Some(connection) = shared.link(&mut con, RESPONSE_TIMEOUT).await else {
            continue;
        };
        let beat = async {
            if shared.resync.swap(false, Ordering::AcqRel) {
                register(connection, &shared).await?;
            } else {
                redis::cmd("SET")
                    .arg(shared.keys.alive(&shared.sid))
                    .arg(1)
                    .arg("PX")
                    .arg(ALIVE_TTL.as_millis() as u64)
                    .query_async::<()>(connection)
                    .await?;
            }
            reap(connection, &shared, &out).await
        };
        match beat.await {
            Ok(()) => shared.up(),
            Err(e) => {
                shared.resync.store(true, Ordering::Release);
                shared.down(&e);
                con = None;
            }
        }
    }
}

/// Removes servers whose heartbeat expired: their members leave the room, with a notice.
/// Of several servers noticing, the one whose SREM succeeds does it.
async fn reap(
    con: &mut MultiplexedConnection,
    shared: &Shared,
    out: &Sender<Out>,
) -> RedisResult<()> {
    let keys = &shared.keys;
    let servers: Vec<String> = redis::cmd("SMEMBERS")
        .arg(&keys.servers)
        .query_async(con)
        .await?;
    for sid in servers.into_iter().filter(|s| *s != shared.sid) {
        let alive: bool = redis::cmd("EXISTS")
            .arg(keys.alive(&sid))
            .query_async(con)
            .await?;
        if alive {
            continue;
        }
        let won: i64 = redis::cmd("SREM")
            .arg(&keys.servers)
            .arg(&sid)
            .query_async(con)
            .await?;
        if won == 0 {
            continue;
        }
        let roster: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(keys.roster(&sid))
            .query_async(con)
            .await?;
        let mut members: Vec<(u64, String)> =
            roster.values().filter_map(|v| parse_roster(v)).collect();
        members.sort();
        let mut lines = Vec::new();
        for (_, name) in &members {
            lines.extend_from_slice(format!("{name} has left (server lost)\n").as_bytes());
        }
        if !lines.is_empty() {
            eprintln!(
                "gochat: server {sid} stopped answering; {} of its members left",
                members.len()
            );
            let _ = out.try_send(Out::Notice { lines });
        }
        let names: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&keys.names)
            .query_async(con)
            .await?;
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(keys.roster(&sid)).ignore();
        for (name, owner) in names {
            if owner.starts_with(&format!("{sid}:")) {
                pipe.cmd("HDEL").arg(&keys.names).arg(name).ignore();
            }
        }
        pipe.query_async::<()>(con).await?;
    }
    Ok(())
}

/// Answers `/nick` and `/who`, which need the whole room.
async fn answer_commands(
    shared: Arc<Shared>,
    requests: Receiver<Out>,
    mut con: Option<MultiplexedConnection>,
) {
    while let Ok(request) = requests.recv().await {
        let Some(connection) = shared.link(&mut con, RESPONSE_TIMEOUT).await else {
            refuse(&shared, request, "the room's link is down; try again soon");
            continue;
        };
        match request {
            Out::Nick {
                member,
                old,
                wanted,
            } => match take_name(connection, &shared, member, old.as_deref(), &wanted).await {
                Ok(result) => {
                    let _ = shared.events.try_send(Event::Nick {
                        member,
                        wanted,
                        result,
                    });
                }
                Err(e) => {
                    shared.down(&e);
                    con = None;
                    let result = Err("the room's link is down; try again soon".to_string());
                    let _ = shared.events.try_send(Event::Nick {
                        member,
                        wanted,
                        result,
                    });
                }
            },
            Out::Who { member } => {
                let result = match everyone(connection, &shared).await {
                    Ok(names) => Ok(names),
                    Err(e) => {
                        shared.down(&e);
                        con = None;
                        Err("the room's link is down; try again soon".to_string())
                    }
                };
                let _ = shared.events.try_send(Event::Who { member, result });
            }
            _ => {}
        }
    }
}

/// Answers a command when Redis cannot be asked.
fn refuse(shared: &Shared, request: Out, reason: &str) {
    let event = match request {
        Out::Nick { member, wanted, .. } => Event::Nick {
            member,
            wanted,
            result: Err(reason.to_string()),
        },
        Out::Who { member } => Event::Who {
            member,
            result: Err(reason.to_string()),
        },
        _ => return,
    };
    let _ = shared.events.try_send(event);
}

/// `/nick` room-wide: takes `wanted` for `member` if nobody alive holds it, and gives back
/// its old name. `Ok(Err(line))` is a refusal to pass on.
async fn take_name(
    con: &mut MultiplexedConnection,
    shared: &Shared,
    member: u64,
    old: Option<&str>,
    wanted: &str,
) -> RedisResult<Result<(), String>> {
    let keys = &shared.keys;
    let key = chat::name_key(wanted);
    let me = shared.member_ref(member);
    let taken: bool = redis::cmd("HSETNX")
        .arg(&keys.names)
        .arg(&key)
        .arg(&me)
        .query_async::<i64>(con)
        .await?
        == 0;
    if taken {
        let owner: Option<String> = redis::cmd("HGET")
            .arg(&keys.names)
            .arg(&key)
            .query_async(con)
            .await?;
        let owner = owner.unwrap_or_default();
        if owner != me {
            let owner_sid = owner.split(':').next().unwrap_or_default();
            let alive: bool = redis::cmd("EXISTS")
                .arg(keys.alive(owner_sid))
                .query_async(con)
                .await?;
            if alive {
                return Ok(Err(format!("name {wanted:?} is taken")));
            }
            // Held by a server that is gone: the name is free.
            redis::cmd("HSET")
                .arg(&keys.names)
                .arg(&key)
                .arg(&me)
                .query_async::<()>(con)
                .await?;
        }
    }
    if let Some(old) = old.filter(|old| chat::name_key(old) != key) {
        let mut pipe = redis::pipe();
        release_name(&mut pipe, keys, old, &me);
        pipe.query_async::<()>(con).await?;
    }
    Shared::lock(&shared.names).insert(member, wanted.to_string());
    Ok(Ok(()))
}

/// Everyone in the room, on every live server, in order of arrival.
async fn everyone(con: &mut MultiplexedConnection, shared: &Shared) -> RedisResult<Vec<String>> {
    let keys = &shared.keys;
    let servers: Vec<String> = redis::cmd("SMEMBERS")
        .arg(&keys.servers)
        .query_async(con)
        .await?;
    let mut pipe = redis::pipe();
    for sid in &servers {
        pipe.cmd("EXISTS").arg(keys.alive(sid));
        pipe.cmd("HGETALL").arg(keys.roster(sid));
    }
    let answers: Vec<Value> = pipe.query_async(con).await?;
    let mut members: Vec<(u64, String)> = Vec::new();
    for pair in answers.chunks(2) {
        let [alive, roster] = pair else { continue };
        if !matches!(alive, Value::Int(1)) {
            continue;
        }
        let roster: HashMap<String, String> =
            redis::from_redis_value(roster.clone()).unwrap_or_default();
        members.extend(roster.values().filter_map(|v| parse_roster(v)));
    }
    members.sort();
    Ok(members.into_iter().map(|(_, name)| name).collect())
}

/// Reads a roster value, `JOIN_MS NAME`.
fn parse_roster(value: &str) -> Option<(u64, String)> {
    let (joined, name) = value.split_once(' ')?;
    Some((joined.parse().ok()?, name.to_string()))
}

/// Sanitizes lines read from Redis with the room's own rules (lines as long as the codec
/// allows: they carry a name in front of a line already bounded by its server).
fn sanitize_lines(lines: &[u8]) -> Vec<u8> {
    let mut decoder = LineDecoder::new(MAX_MAX_LINE);
    let mut out = Vec::with_capacity(lines.len());
    decoder.decode(lines, &mut out);
    decoder.finish(&mut out);
    out
}

/// An entry's fields.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads an XREAD reply (RESP2 arrays or RESP3 maps) into `(id, fields)` pairs.
fn parse_stream_reply(reply: Value) -> Vec<(String, Fields)> {
    let streams = match reply {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|s| match s {
                Value::Array(mut pair) if pair.len() == 2 => pair.pop(),
                _ => None,
            })
            .collect(),
        Value::Map(pairs) => pairs.into_iter().map(|(_, v)| v).collect(),
        _ => Vec::new(),
    };
    streams.into_iter().flat_map(parse_entries).collect()
}

/// Reads a list of stream entries (XRANGE, XREVRANGE, one stream of XREAD).
fn parse_entries(value: Value) -> Vec<(String, Fields)> {
    let Value::Array(entries) = value else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let Value::Array(mut pair) = entry else {
                return None;
            };
            if pair.len() != 2 {
                return None;
            }
            let fields = pair.pop()?;
            let id = bytes_of(pair.pop()?)?;
            let fields = match fields {
                Value::Array(flat) => {
                    let mut flat = flat.into_iter();
                    let mut fields = Vec::new();
                    while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                        fields.push((bytes_of(k)?, bytes_of(v)?));
                    }
                    fields
                }
                Value::Map(pairs) => pairs
                    .into_iter()
                    .filter_map(|(k, v)| Some((bytes_of(k)?, bytes_of(v)?)))
                    .collect(),
                _ => return None,
            };
            Some((String::from_utf8(id).ok()?, fields))
        })
        .collect()
}

fn bytes_of(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(k, _)| k == name.as_bytes())
        .map(|(_, v)| v.as_slice())
}

fn field_u64(fields: &Fields, name: &str) -> Option<u64> {
    std::str::from_utf8(field(fields, name)?).ok()?.parse().ok()
}

/// A Redis error in a few words ("connection refused", not "Connection refused (os error
/// 111)").
fn describe(error: &redis::RedisError) -> String {
    crate::error::tidy(&error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn stream_replies_are_read_in_both_protocols() {
        let entry = Value::Array(vec![
            bulk("1-0"),
            Value::Array(vec![
                bulk("sid"),
                bulk("a"),
                bulk("seq"),
                bulk("7"),
                bulk("l"),
                bulk("x: hi\n"),
            ]),
        ]);
        let resp2 = Value::Array(vec![Value::Array(vec![
            bulk("gochat:r:log"),
            Value::Array(vec![entry.clone()]),
        ])]);
        let resp3 = Value::Map(vec![(bulk("gochat:r:log"), Value::Array(vec![entry]))]);
        for reply in [resp2, resp3] {
            let got = parse_stream_reply(reply);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].0, "1-0");
            assert_eq!(field(&got[0].1, "l"), Some(&b"x: hi\n"[..]));
            assert_eq!(field_u64(&got[0].1, "seq"), Some(7));
        }
        assert!(parse_stream_reply(Value::Nil).is_empty());
    }

    #[test]
    fn lines_from_redis_are_sanitized() {
        assert_eq!(sanitize_lines(b"a: \x1b[2J\n"), b"a: ^[[2J\n");
    }

    #[test]
    fn roster_values_parse() {
        assert_eq!(parse_roster("12 ada"), Some((12, "ada".into())));
        assert_eq!(parse_roster("x ada"), None);
    }
}
