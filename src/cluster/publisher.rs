//! The publisher: appends what the broadcaster sends out ([`Out`]) to the room's log, in
//! room order, holding it while Redis is away and publishing again what Redis lost.
//!
//! Each batch is an [`Item`] with a sequence number of this server's, assigned when it is
//! first published and kept forever after, so that every subscriber can tell an entry
//! published again from one it already delivered. An item carries the window bytes it still
//! owes the broadcaster: they are given back once, when it is first published, and an item
//! published again owes nothing; so the window can neither leak nor be given back twice.
//! (The bookkeeping is in [`super::backlog`].)
//!
//! Published items are kept until every server in the room has read them (the heartbeat's
//! *horizon*). When the link comes back after trouble, the publisher looks for each kept
//! entry in Redis and publishes again, first and in order, those Redis no longer has (a
//! restart without persistence, the last second of an append-only file, writes a
//! failed-over master never replicated). When this server rejoins the room after being
//! declared lost, it announces its members again before anything else it held.
//!
//! Appending is one Lua script per batch ([`APPEND`]) that first checks this server is in
//! the room: a server the others declared lost publishes nothing until it has rejoined.

use std::sync::{Arc, LazyLock};

use async_channel::{Receiver, Sender};
use futures_lite::{FutureExt, future};
use redis::{RedisResult, Script, Value};

use super::backlog::{Backlog, Item, RosterChange};
use super::limits::{HELD_LIMIT, LOG_MAXLEN, PUBLISH_BATCH, RETAIN_LIMIT};
use super::link::Conn;
use super::node::{Member, Node, now_ms};
use super::reply::{EntryId, bytes_of, parse_entries};
use super::roster;
use crate::chat;
use crate::relay::{Event, Out};

/// Appends a batch of entries and makes their roster changes, if this server is in the
/// room. KEYS: log, servers, roster:SID, names. ARGV: SID, MAXLEN, then 8 per entry: seq,
/// arrival, leave, skip (`""` when absent), lines, roster change (`set`, `del` or `""`),
/// member, and the roster value (`set`) or the name to give back (`del`). Returns the
/// entries' ids, or -1 if this server is not in the room.
const APPEND: &str = r"
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return -1 end
local ids = {}
for a = 3, #ARGV, 8 do
  if ARGV[a+1] == '' and ARGV[a+2] == '' and ARGV[a+3] == '' then
    ids[#ids+1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*',
      'sid', ARGV[1], 'seq', ARGV[a], 'l', ARGV[a+4])
  else
    local fields = {'sid', ARGV[1], 'seq', ARGV[a]}
    if ARGV[a+1] ~= '' then fields[#fields+1] = 'arrival'; fields[#fields+1] = ARGV[a+1] end
    if ARGV[a+2] ~= '' then fields[#fields+1] = 'leave'; fields[#fields+1] = ARGV[a+2] end
    if ARGV[a+3] ~= '' then fields[#fields+1] = 'skip'; fields[#fields+1] = ARGV[a+3] end
    fields[#fields+1] = 'l'; fields[#fields+1] = ARGV[a+4]
    ids[#ids+1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
  end
  if ARGV[a+5] == 'set' then
    redis.call('HSET', KEYS[3], ARGV[a+6], ARGV[a+7])
  elseif ARGV[a+5] == 'del' then
    redis.call('HDEL', KEYS[3], ARGV[a+6])
    if ARGV[a+7] ~= '' and redis.call('HGET', KEYS[4], ARGV[a+7]) == ARGV[1] .. ':' .. ARGV[a+6] then
      redis.call('HDEL', KEYS[4], ARGV[a+7])
    end
  end
end
return ids
";

/// [`APPEND`], hashed once for EVALSHA.
static APPEND_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(APPEND));

/// Lines the backend publishes of its own accord (members of a lost server leaving).
#[derive(Debug)]
pub(crate) struct Notice {
    /// The lines.
    pub(crate) lines: Vec<u8>,
    /// The server whose members must not see them (the one they are about), if any.
    pub(crate) skip: Option<String>,
}

/// The script arguments of `item` (see [`APPEND`]).
fn add_args(item: &Item, invocation: &mut redis::ScriptInvocation<'_>) {
    let id = |m: Option<u64>| m.map(|m| m.to_string()).unwrap_or_default();
    invocation
        .arg(item.seq)
        .arg(id(item.arrival))
        .arg(id(item.leave))
        .arg(item.skip.as_deref().unwrap_or_default())
        .arg(&item.lines);
    match &item.roster {
        RosterChange::None => invocation.arg("").arg("").arg(""),
        RosterChange::Set(member, value) => invocation.arg("set").arg(member).arg(value),
        RosterChange::Remove(member, name) => invocation
            .arg("del")
            .arg(member)
            .arg(name.as_deref().map(chat::name_key).unwrap_or_default()),
    };
}

/// What came of one append.
enum Appended {
    /// Published, with these ids, in order.
    Ids(Vec<EntryId>),
    /// Refused: this server is not in the room.
    NotInRoom,
}

/// The publisher's state. See the module docs.
pub(crate) struct Publisher {
    node: Arc<Node>,
    /// Where `/nick` and `/who` go (they need the whole room, not the log).
    commands: Sender<Out>,
    /// What waits to be published, and what is kept after.
    backlog: Backlog,
    /// The link epoch whose losses have been looked for (and whose rejoin announced).
    checked: u64,
    /// Set at shutdown: dropped once everything held is published and the server left.
    goodbye: Option<Sender<()>>,
}

impl Publisher {
    /// A publisher for `node`, sending commands on to `commands`.
    pub(crate) fn new(node: Arc<Node>, commands: Sender<Out>) -> Publisher {
        let checked = node.link.epoch();
        Publisher {
            node,
            commands,
            backlog: Backlog::default(),
            checked,
            goodbye: None,
        }
    }

    /// Publishes what `out` (the broadcaster) and `notices` (the keeper) send, until the
    /// room is gone or has said goodbye.
    pub(crate) async fn run(mut self, out: Receiver<Out>, notices: Receiver<Notice>) {
        loop {
            if !self.take_requests(&out, &notices).await {
                return; // the room is gone
            }
            let Some(mut conn) = self.node.link.current() else {
                if let Some(done) = self.goodbye.take() {
                    drop(done); // shutting down: no waiting for Redis
                    return;
                }
                continue;
            };
            let step = async {
                if conn.epoch != self.checked {
                    self.after_restore(&mut conn).await?;
                }
                self.publish_some(&mut conn).await
            };
            if let Err(e) = step.await {
                self.node.link.failed(conn.epoch, &e);
                continue;
            }
            if self.backlog.is_empty() && self.goodbye.is_some() {
                let _ = roster::leave(&mut conn.con, &self.node).await;
                self.goodbye = None;
                return;
            }
        }
    }

    /// Whether there is publishing to do now, without waiting.
    fn has_work(&self) -> bool {
        let link = &self.node.link;
        self.goodbye.is_some()
            || (link.is_up() && (!self.backlog.is_empty() || link.epoch() != self.checked))
    }

    /// Takes what was sent; waits for something (a request, or the link coming back) when
    /// there is nothing to do. Returns false when the room is gone.
    async fn take_requests(&mut self, out: &Receiver<Out>, notices: &Receiver<Notice>) -> bool {
        if !self.has_work() {
            match self.wait_for_request(out, notices).await {
                Waited::Request(first) => self.take(first),
                Waited::LinkChanged => {}
                Waited::RoomGone => return false,
            }
        }
        while let Ok(notice) = notices.try_recv() {
            self.take(Request::Notice(notice));
        }
        while let Ok(request) = out.try_recv() {
            self.take(Request::Out(request));
        }
        true
    }

    /// Waits for a request from the broadcaster or the keeper, or for the link to change.
    async fn wait_for_request(&self, out: &Receiver<Out>, notices: &Receiver<Notice>) -> Waited {
        let listener = self.node.link.listen();
        if self.has_work() {
            return Waited::LinkChanged;
        }
        let request = async {
            match out.recv().await {
                Ok(request) => Waited::Request(Request::Out(request)),
                Err(_) => Waited::RoomGone,
            }
        };
        let notice = async {
            match notices.recv().await {
                Ok(notice) => Waited::Request(Request::Notice(notice)),
                Err(_) => future::pending().await, // the keeper never ends
            }
        };
        let changed = async {
            listener.await;
            Waited::LinkChanged
        };
        request.or(notice).or(changed).await
    }

    /// Takes one request: an item to hold, a command to pass on, or goodbye.
    fn take(&mut self, request: Request) {
        let item = match request {
            Request::Notice(Notice { lines, skip }) => Item::new(lines).skipped_by(skip),
            Request::Out(Out::Lines { lines, from }) => match self.hold_lines(lines, from) {
                Some(item) => item,
                None => return,
            },
            Request::Out(Out::Goodbye { done }) => {
                self.goodbye = Some(done);
                return;
            }
            Request::Out(out) => match self.member_change(out) {
                Ok(item) => item,
                Err(command) => {
                    let _ = self.commands.try_send(command);
                    return;
                }
            },
        };
        self.backlog.hold(item);
    }

    /// Lines to hold, or `None` (after telling their senders) when Redis is away and too
    /// much is held already.
    fn hold_lines(&mut self, lines: Vec<u8>, from: Vec<u64>) -> Option<Item> {
        let bytes = lines.len();
        if !self.node.link.is_up() && self.backlog.held_bytes() + bytes > HELD_LIMIT {
            let count = lines.iter().filter(|&&b| b == b'\n').count();
            let _ = self.node.events.try_send(Event::NotSent {
                members: from,
                lines: count,
            });
            self.node.window.give_back(bytes);
            return None;
        }
        Some(Item::owing(lines))
    }

    /// An arrival, a leave or a new name: the item that publishes it, with its roster
    /// change. Anything else is a command, handed back.
    fn member_change(&mut self, out: Out) -> Result<Item, Out> {
        let mut members = self.node.members();
        let item = match out {
            Out::Arrive { member, name, line } => {
                let m = Member {
                    joined: now_ms(),
                    addr: name,
                    name: None,
                };
                let change = RosterChange::Set(member, m.roster_value());
                members.insert(member, m);
                Item::new(line).arrival_of(member).changing(change)
            }
            Out::Leave { member, line } => {
                let name = members.remove(&member).and_then(|m| m.name);
                Item::new(line)
                    .leave_of(member)
                    .changing(RosterChange::Remove(member, name))
            }
            Out::Renamed { member, name, line } => {
                let Some(m) = members.get_mut(&member) else {
                    return Ok(Item::new(line));
                };
                m.name = Some(name);
                Item::new(line).changing(RosterChange::Set(member, m.roster_value()))
            }
            command => return Err(command),
        };
        Ok(item)
    }

    /// Publishes up to [`PUBLISH_BATCH`] held items.
    async fn publish_some(&mut self, conn: &mut Conn) -> RedisResult<()> {
        if self.backlog.is_empty() {
            return Ok(());
        }
        let batch = self.backlog.next_batch(PUBLISH_BATCH);
        match append(conn, &self.node, &batch).await? {
            Appended::NotInRoom => self.node.link.fence(conn.epoch),
            Appended::Ids(ids) => {
                self.backlog.published(ids, &self.node.window);
                self.backlog.forget_read(self.node.horizon(), RETAIN_LIMIT);
            }
        }
        Ok(())
    }

    /// After the link came back: publishes again, first, what Redis lost; then, if this
    /// server rejoins the room, announces its members again.
    async fn after_restore(&mut self, conn: &mut Conn) -> RedisResult<()> {
        self.backlog.forget_read(self.node.horizon(), RETAIN_LIMIT);
        let lost = lost_entries(conn, &self.node, &self.backlog).await?;
        if !lost.is_empty() {
            eprintln!(
                "gochat: redis lost {} of this server's entries; publishing them again",
                lost.len()
            );
        }
        self.backlog.publish_again(&lost);
        if self.node.take_rejoin() {
            self.announce_again();
        }
        self.checked = conn.epoch;
        self.node.set_checked(conn.epoch);
        Ok(())
    }

    /// Announces this server's members to the room again, after it declared them gone
    /// with this server; this server's own members skip it (they never left).
    fn announce_again(&mut self) {
        let mut members: Vec<Member> = self.node.members().values().cloned().collect();
        members.sort_by_key(|m| m.joined);
        let lines: Vec<u8> = members
            .iter()
            .flat_map(|m| format!("{} has arrived\n", m.shown()).into_bytes())
            .collect();
        if !lines.is_empty() {
            let sid = Some(self.node.sid.clone());
            self.backlog.put_next(Item::new(lines).skipped_by(sid));
        }
    }
}

/// What the publisher is asked to publish.
enum Request {
    Out(Out),
    Notice(Notice),
}

/// What the publisher waited for.
enum Waited {
    Request(Request),
    LinkChanged,
    RoomGone,
}

/// Appends `items` in one script call.
async fn append(conn: &mut Conn, node: &Node, items: &[&Item]) -> RedisResult<Appended> {
    let mut invocation = APPEND_SCRIPT.prepare_invoke();
    invocation
        .key(&node.keys.log)
        .key(&node.keys.servers)
        .key(node.keys.roster(&node.sid))
        .key(&node.keys.names)
        .arg(&node.sid)
        .arg(LOG_MAXLEN);
    for item in items {
        add_args(item, &mut invocation);
    }
    let reply: Value = invocation.invoke_async(&mut conn.con).await?;
    Ok(match reply {
        Value::Array(ids) => Appended::Ids(
            ids.into_iter()
                .filter_map(|id| EntryId::parse(&String::from_utf8(bytes_of(id)?).ok()?))
                .collect(),
        ),
        _ => Appended::NotInRoom,
    })
}

/// The positions, among the kept items of `backlog`, of the entries Redis no longer has.
async fn lost_entries(conn: &mut Conn, node: &Node, backlog: &Backlog) -> RedisResult<Vec<usize>> {
    let mut pipe = redis::pipe();
    for id in backlog.retained_ids() {
        let id = id.to_string();
        pipe.cmd("XRANGE").arg(&node.keys.log).arg(&id).arg(&id);
    }
    if pipe.cmd_iter().next().is_none() {
        return Ok(Vec::new()); // (an empty pipeline is an error to the redis crate)
    }
    let found: Vec<Value> = pipe.query_async(&mut conn.con).await?;
    Ok(found
        .into_iter()
        .enumerate()
        .filter(|(_, value)| parse_entries(value.clone()).is_empty())
        .map(|(at, _)| at)
        .collect())
}
