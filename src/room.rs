//! The room: its settings, its shared signals, and the broadcaster that decides its order.
//!
//! Everything that happens in the room goes through one bounded channel, [`Room::send`]:
//! members joining, the lines they send (already framed and sanitized by their reader),
//! members leaving. One task, the [`Broadcaster`], takes these one after another, and that
//! order *is* the room's order: every member receives the room's lines in it.
//!
//! The broadcaster owns the member list and the [`Feed`]. For each line it writes the wire
//! bytes once (`ADDR: text\n`) into the current batch; when the channel has nothing more
//! ready (or the batch is large), it appends the batch to the feed and wakes every writer
//! waiting for lines. It never touches a socket, so no member can stall it directly.
//!
//! What it does wait for is room in the slowest outbox: a batch is appended only while no
//! member's backlog would pass `--sendq`. While it waits, the channel fills, readers stop
//! reading and TCP slows the senders: backpressure, not loss. A member cannot hold this for
//! long: its writer removes it once its oldest undelivered line is older than `--lag-limit`,
//! and tells the broadcaster through [`Room::gone`].

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use atomic_waker::AtomicWaker;
use event_listener::Event;
use futures_lite::{FutureExt, future};

use crate::chat::{self, Command};
use crate::member::Link;
use crate::outbox::{Feed, Outbox};
use crate::relay::{Entry, Event as RelayEvent, Out, Relay};
use crate::units::format_duration;

/// How many messages (joins, batches of lines, leaves) may wait for the broadcaster. Small,
/// so that a flood is felt by its sender quickly and a typed line never queues behind much;
/// each message is one read's worth of lines, so this is still plenty to batch from.
pub const ROOM_QUEUE: usize = 64;

/// The broadcaster appends a batch to the feed once it holds this many bytes, even if more
/// messages are ready: big enough that a busy room's writers see large batches, small enough
/// to keep the first of them moving.
pub const BATCH_BYTES: usize = 256 * 1024;

/// A room's settings, fixed when it opens.
#[derive(Debug, Clone)]
pub struct Config {
    /// The longest line, in bytes.
    pub max_line: usize,
    /// How far, in bytes, one member may fall behind before the room waits for it.
    pub sendq: usize,
    /// How old a member's oldest undelivered line may be before it is removed.
    pub lag_limit: Duration,
    /// The most members at once.
    pub max_clients: usize,
    /// Members silent this long are removed (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// How many of the room's last lines a newcomer gets.
    pub history: usize,
    /// Whether to log every join and leave.
    pub verbose: bool,
}

/// What the room is told, in the order it must happen.
#[derive(Debug)]
pub enum Msg {
    /// A new connection wants in; the broadcaster answers on `reply` with the outbox to
    /// start from (or drops `reply` if the room is closing).
    Join {
        /// The new member.
        link: Arc<Link>,
        /// Where to send its outbox.
        reply: Sender<Outbox>,
    },
    /// Lines from a member: decoded text, `line\n` repeated.
    Lines {
        /// Who sent them.
        id: u64,
        /// The lines.
        batch: Vec<u8>,
    },
    /// A member is leaving.
    Leave {
        /// Who.
        id: u64,
        /// Why.
        why: Why,
    },
    /// The server is shutting down: tell everyone, let their writers finish, then answer.
    Shutdown {
        /// Answered (dropped) once every member has been told.
        done: Sender<()>,
    },
}

/// Why a member left: the notice the room sees says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// It closed its connection (or the connection broke while reading).
    Quit,
    /// Its writer gave up on it: its oldest undelivered line passed the lag limit.
    TooSlow,
    /// Its socket failed while we wrote to it.
    Broken,
    /// It was silent longer than the idle timeout.
    Idle,
}

/// A member whose writer stopped on its own, reported straight to the broadcaster.
#[derive(Debug)]
pub struct Gone {
    /// Who.
    pub id: u64,
    /// Why.
    pub why: Why,
}

/// What the room's tasks share.
#[derive(Debug)]
pub struct Room {
    /// The room's settings.
    pub config: Config,
    /// Joins, lines and leaves, to the broadcaster. Bounded: a full channel is what slows
    /// a flood down.
    tx: Sender<Msg>,
    /// Writers that stopped on their own. Unbounded, but at most one message per member,
    /// and it must never block: the broadcaster may be waiting on that very writer.
    gone: Sender<Gone>,
    /// Wakes the broadcaster when a writer made progress (or stopped), while it waits for
    /// room in the slowest outbox.
    pub progress: AtomicWaker,
    /// Connections open now (members and those on their way in or out); bounded by
    /// `max_clients`.
    pub connected: AtomicUsize,
    /// Wakes whoever waits for a connection to close: the accept loop backing off at the
    /// descriptor limit, and shutdown.
    pub closed: Event,
    /// The next member id.
    next_id: AtomicU64,
}

impl Room {
    /// A room with `config`, and the broadcaster to run for it. With a `relay`, the room is
    /// one of several servers' (a cluster): its lines go out through the relay, and the
    /// room's order is what comes back.
    pub fn new(config: Config, relay: Option<Relay>) -> (Arc<Room>, Broadcaster) {
        let config_history = config.history;
        let (tx, rx) = async_channel::bounded(ROOM_QUEUE);
        let (gone, gone_rx) = async_channel::unbounded();
        let room = Arc::new(Room {
            config,
            tx,
            gone,
            progress: AtomicWaker::new(),
            connected: AtomicUsize::new(0),
            closed: Event::new(),
            next_id: AtomicU64::new(1),
        });
        let feed = Feed::new();
        let mut broadcaster = Broadcaster {
            room: Arc::clone(&room),
            rx,
            gone_rx,
            batch: Vec::new(),
            batch_from: Vec::new(),
            members: HashMap::new(),
            names: HashMap::new(),
            draining: Vec::new(),
            slowest: 0,
            recent: VecDeque::new(),
            history: (config_history > 0).then(|| feed.outbox()),
            feed,
            relay: None,
            link_up: true,
            arriving: HashMap::new(),
            leaving: HashMap::new(),
            closing: false,
        };
        if let Some(mut relay) = relay {
            let history = std::mem::take(&mut relay.history);
            broadcaster.append(history);
            broadcaster.relay = Some(relay);
        }
        (room, broadcaster)
    }

    /// A fresh member id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Tells the room something if its queue has space: `Err(Some(msg))` gives the message
    /// back when the queue is full, `Err(None)` means the broadcaster is gone.
    pub fn try_send(&self, msg: Msg) -> Result<(), Option<Msg>> {
        match self.tx.try_send(msg) {
            Ok(()) => Ok(()),
            Err(async_channel::TrySendError::Full(msg)) => Err(Some(msg)),
            Err(async_channel::TrySendError::Closed(_)) => Err(None),
        }
    }

    /// Tells the room something, waiting while its queue is full. Returns false if the
    /// broadcaster is gone.
    pub async fn send(&self, msg: Msg) -> bool {
        match self.tx.try_send(msg) {
            Ok(()) => true,
            Err(async_channel::TrySendError::Closed(_)) => false,
            // Only a full queue needs the waiting future; boxed, so that the tasks that
            // call this stay small for the usual case of a queue with room.
            Err(async_channel::TrySendError::Full(msg)) => {
                Box::pin(self.tx.send(msg)).await.is_ok()
            }
        }
    }

    /// Reports a writer that stopped on its own. Never blocks.
    pub fn gone(&self, id: u64, why: Why) {
        let _ = self.gone.try_send(Gone { id, why });
    }
}

/// A member as the broadcaster sees it. Small on purpose: there is one per member.
#[derive(Debug)]
struct Member {
    /// What it shares with its reader and writer.
    link: Arc<Link>,
    /// The name it took with `/nick` (held in the names index), if any.
    nick: Option<Box<str>>,
}

impl Member {
    fn new(link: Arc<Link>) -> Member {
        Member { link, nick: None }
    }

    /// How the room calls it: its name, or else its address.
    fn name(&self) -> &str {
        self.nick.as_deref().unwrap_or(&self.link.name)
    }
}

/// The one task that orders the room. See the module docs.
#[derive(Debug)]
pub struct Broadcaster {
    room: Arc<Room>,
    rx: Receiver<Msg>,
    gone_rx: Receiver<Gone>,
    /// The room's output, shared by every outbox.
    feed: Feed,
    /// Lines formatted but not yet appended to the feed (or sent out through the relay).
    batch: Vec<u8>,
    /// With a relay: whose lines are in the batch, to tell them if they cannot be sent.
    batch_from: Vec<u64>,
    /// Who is in the room.
    members: HashMap<u64, Member>,
    /// Names taken with `/nick`, by [`chat::name_key`], and who holds each (on this server;
    /// with a relay the backend keeps them unique room-wide).
    names: HashMap<String, u64>,
    /// Members that left but whose writers are still sending them what they are owed.
    /// They hold the room back like members do, until done or too slow.
    draining: Vec<Arc<Link>>,
    /// The lowest delivered offset found at the last look: no outbox is further behind.
    /// Offsets only grow, so this stays a safe bound between looks.
    slowest: u64,
    /// Where each of the room's last `--history` lines starts (empty without history).
    recent: VecDeque<u64>,
    /// A position at the oldest of those lines: it keeps them in the feed, and newcomers
    /// start from a copy of it. None without history, so that nothing old is kept.
    history: Option<Outbox>,
    /// The link to other servers, in a cluster.
    relay: Option<Relay>,
    /// Whether the relay's backend is reachable.
    link_up: bool,
    /// With a relay: newcomers whose arrival has gone out but not come back yet, and where
    /// to send their outbox when it does.
    arriving: HashMap<u64, Sender<Outbox>>,
    /// With a relay: members that left, until their leave line comes back (their stream
    /// ends there, after their own last lines), with the farewell to send them.
    leaving: HashMap<u64, (Arc<Link>, Option<Vec<u8>>)>,
    /// Shutting down: take no one in, ignore lines.
    closing: bool,
}

/// What the broadcaster waits for.
enum Input {
    Msg(Msg),
    Gone(Gone),
    Entry(Entry),
    Event(RelayEvent),
}

impl Broadcaster {
    /// Runs the room until the process ends.
    pub async fn run(mut self) {
        loop {
            let Some(input) = self.next_input().await else {
                return;
            };
            self.handle(input).await;
            while self.batch.len() < BATCH_BYTES {
                let next = if let Ok(gone) = self.gone_rx.try_recv() {
                    Input::Gone(gone)
                } else if let Some(event) =
                    self.relay.as_ref().and_then(|r| r.events.try_recv().ok())
                {
                    Input::Event(event)
                } else if let Ok(msg) = self.rx.try_recv() {
                    Input::Msg(msg)
                } else {
                    break;
                };
                self.handle(next).await;
            }
            self.publish().await;
        }
    }

    /// Waits for the next thing to do: a writer gone, a relay event or entry, a message.
    async fn next_input(&self) -> Option<Input> {
        let gone = async { self.gone_rx.recv().await.ok().map(Input::Gone) };
        let msg = async { self.rx.recv().await.ok().map(Input::Msg) };
        let relayed = async {
            match &self.relay {
                Some(relay) => {
                    let event = async { relay.events.recv().await.ok().map(Input::Event) };
                    let entry = async { relay.entries.recv().await.ok().map(Input::Entry) };
                    event.or(entry).await
                }
                None => future::pending().await,
            }
        };
        gone.or(relayed).or(msg).await
    }

    async fn handle(&mut self, input: Input) {
        match input {
            Input::Gone(Gone { id, why }) => self.remove(id, why),
            Input::Msg(Msg::Lines { id, batch }) => self.add_lines(id, &batch),
            Input::Msg(Msg::Leave { id, why }) => self.remove(id, why),
            Input::Msg(Msg::Join { link, reply }) => self.join(link, reply).await,
            Input::Msg(Msg::Shutdown { done }) => self.shut_down(done),
            Input::Entry(entry) => self.take_entry(entry).await,
            Input::Event(event) => self.relay_event(event),
        }
    }

    /// The room offset where the next line will start (on this server, for lines it
    /// appends itself).
    fn here(&self) -> u64 {
        self.feed.head() + self.batch.len() as u64
    }

    /// Adds one line of the room to the batch, from its parts.
    fn say(&mut self, parts: &[&[u8]]) {
        for part in parts {
            self.batch.extend_from_slice(part);
        }
        self.batch.push(b'\n');
    }

    /// Formats a member's lines into the batch: `NAME: text\n` each, written once for all.
    /// Commands among them are carried out in their place.
    fn add_lines(&mut self, id: u64, lines: &[u8]) {
        if self.closing {
            return;
        }
        let start = self.batch.len();
        for line in crate::codec::lines(lines) {
            let Some(member) = self.members.get(&id) else {
                return; // it left (or was removed) while these were on their way
            };
            if chat::needs_parsing(line) {
                self.command(id, line);
                continue;
            }
            self.batch.extend_from_slice(member.name().as_bytes());
            self.batch.extend_from_slice(b": ");
            self.batch.extend_from_slice(line);
            self.batch.push(b'\n');
        }
        if self.relay.is_some() && self.batch.len() > start && self.batch_from.last() != Some(&id) {
            self.batch_from.push(id);
        }
    }

    /// Carries out a command from member `id` (who is in the room).
    fn command(&mut self, id: u64, line: &[u8]) {
        let Some(command) = chat::parse(line) else {
            return;
        };
        let Some(name) = self.members.get(&id).map(|m| m.name().to_string()) else {
            return;
        };
        let done_now = match command {
            Command::Say(text) => {
                // An ordinary line after all: its reader did not count it as a command.
                self.say(&[name.as_bytes(), b": ", text]);
                return;
            }
            Command::Me(text) => {
                self.say(&[b"* ", name.as_bytes(), b" ", text.as_bytes()]);
                true
            }
            Command::Nick(wanted) => self.rename(id, wanted),
            Command::Who => match &self.relay {
                Some(relay) => {
                    let _ = relay.out.try_send(Out::Who { member: id });
                    false
                }
                None => {
                    let mut present: Vec<(&u64, &Member)> = self.members.iter().collect();
                    present.sort_unstable_by_key(|(id, _)| **id);
                    let names: Vec<&str> = present.iter().map(|(_, m)| m.name()).collect();
                    let answer = chat::who_lines(names.into_iter(), self.room.config.max_line);
                    self.tell(id, answer);
                    true
                }
            },
            Command::Help => {
                self.tell(id, format!("{}\n", chat::HELP).into_bytes());
                true
            }
            Command::Usage(usage) => {
                self.tell(id, format!("{usage}\n").into_bytes());
                true
            }
            Command::Unknown(word) => {
                let answer = format!("gochat: unknown command {word:?} (try /help)\n");
                self.tell(id, answer.into_bytes());
                true
            }
            Command::Quit => {
                self.command_done(id);
                self.remove(id, Why::Quit);
                return;
            }
        };
        if done_now {
            self.command_done(id);
        }
    }

    /// Tells member `id`'s reader that its command has been carried out.
    fn command_done(&self, id: u64) {
        if let Some(member) = self.members.get(&id) {
            member.link.command_done();
        }
    }

    /// `/nick`: gives member `id` the name `wanted`, if it is valid and free. Returns
    /// whether the command is done (with a relay, the backend decides, later).
    fn rename(&mut self, id: u64, wanted: &str) -> bool {
        if let Err(reason) = chat::check_name(wanted) {
            self.tell(id, format!("gochat: {reason}\n").into_bytes());
            return true;
        }
        let Some(member) = self.members.get(&id) else {
            return true;
        };
        if member.name() == wanted {
            let answer = format!("gochat: you are already {wanted}\n");
            self.tell(id, answer.into_bytes());
            return true;
        }
        let key = chat::name_key(wanted);
        if self.names.get(&key).is_some_and(|holder| *holder != id) {
            self.tell(
                id,
                format!("gochat: name {wanted:?} is taken\n").into_bytes(),
            );
            return true;
        }
        if let Some(relay) = &self.relay {
            let old = member.nick.as_deref().map(str::to_string);
            let _ = relay.out.try_send(Out::Nick {
                member: id,
                old,
                wanted: wanted.to_string(),
            });
            return false;
        }
        self.take_name(id, wanted);
        true
    }

    /// Gives member `id` the name `wanted` (agreed to be free) and tells the room.
    fn take_name(&mut self, id: u64, wanted: &str) {
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        let old = member.name().to_string();
        if member.nick.is_some() {
            self.names.remove(&chat::name_key(&old));
        }
        member.nick = Some(wanted.into());
        self.names.insert(chat::name_key(wanted), id);
        if self.room.config.verbose {
            eprintln!("gochat: {old} is now {wanted}");
        }
        let line = format!("{old} is now known as {wanted}\n").into_bytes();
        if self.relay.is_some() {
            let renamed = Out::Renamed {
                member: id,
                name: wanted.to_string(),
                line,
            };
            self.send_out(renamed);
        } else {
            self.batch.extend_from_slice(&line);
        }
    }

    /// Sends member `id` a line of its own, in its place in the room's stream.
    fn tell(&mut self, id: u64, lines: Vec<u8>) {
        let at = self.here();
        if let Some(member) = self.members.get(&id) {
            member.link.notify(at, lines);
        }
    }

    /// Lets a member in: the room hears of it; the newcomer is greeted, gets the room's
    /// last `--history` lines, then everything from its arrival on (but not its own
    /// arrival, as with the Go server). With a relay, this finishes when the arrival comes
    /// back ([`Broadcaster::take_entry`]).
    async fn join(&mut self, link: Arc<Link>, reply: Sender<Outbox>) {
        if self.closing {
            return; // dropping `reply` turns the newcomer away
        }
        if self.room.config.verbose {
            eprintln!("gochat: {} joined", link.name);
        }
        let arrival = format!("{} has arrived\n", link.name).into_bytes();
        let id = link.id;
        self.members.insert(id, Member::new(Arc::clone(&link)));
        if self.relay.is_some() {
            let arrive = Out::Arrive {
                member: id,
                name: link.name.to_string(),
                line: arrival.clone(),
            };
            self.send_out(arrive);
            if self.link_up {
                self.arriving.insert(id, reply);
                return;
            }
            // The link is down: greet the newcomer now rather than keep it waiting.
            self.admit(&link, &reply, None);
            return;
        }
        // Lines already batched come before the arrival.
        self.publish().await;
        self.wait_for_room(arrival.len()).await;
        self.admit(&link, &reply, Some(arrival));
    }

    /// Greets a newcomer and starts its outbox: at the oldest history line (or here), with
    /// its own `arrival` line (appended now, if given) skipped.
    fn admit(&mut self, link: &Link, reply: &Sender<Outbox>, arrival: Option<Vec<u8>>) {
        let outbox = match &self.history {
            Some(history) => history.clone(),
            None => self.feed.outbox(),
        };
        let arrival_start = self.feed.head();
        if let Some(arrival) = arrival {
            self.append(arrival);
        }
        let greeting = format!("You are {}\n", link.name);
        link.start(
            outbox.offset(),
            greeting.into_bytes(),
            arrival_start..self.feed.head(),
        );
        let _ = reply.try_send(outbox);
    }

    /// Takes a member out of the room, if it is still in it. Its writer still sends it
    /// everything up to its leaving (its own last lines included) unless it already stopped.
    fn remove(&mut self, id: u64, why: Why) {
        let Some(member) = self.members.remove(&id) else {
            return;
        };
        if let Some(nick) = &member.nick {
            self.names.remove(&chat::name_key(nick));
        }
        self.arriving.remove(&id);
        let name = member.name().to_string();
        let link = member.link;
        let farewell = match why {
            Why::Idle => Some(
                format!(
                    "gochat: disconnected: idle for more than {}\n",
                    format_duration(self.room.config.idle_timeout.unwrap_or_default())
                )
                .into_bytes(),
            ),
            _ => None,
        };
        let reason: &[u8] = match why {
            Why::Quit | Why::Broken => b"",
            Why::TooSlow => b" (too slow)",
            Why::Idle => b" (idle)",
        };
        let mut line = name.into_bytes();
        line.extend_from_slice(b" has left");
        line.extend_from_slice(reason);
        line.push(b'\n');
        match why {
            Why::TooSlow => eprintln!(
                "gochat: {} removed: too slow (more than {} behind the room)",
                link.name,
                format_duration(self.room.config.lag_limit)
            ),
            Why::Idle => eprintln!("gochat: {} removed: idle", link.name),
            _ if self.room.config.verbose => eprintln!("gochat: {} left", link.name),
            _ => {}
        }
        if self.relay.is_some() && self.link_up {
            // Its stream ends where its leave comes back, after its own last lines.
            if !link.writer_stopped() {
                self.leaving.insert(id, (Arc::clone(&link), farewell));
            }
            self.send_out(Out::Leave { member: id, line });
            return;
        }
        // Its stream ends here: after its own last lines, before the room hears it left.
        self.end_stream(&link, self.here(), farewell);
        if self.relay.is_some() {
            self.send_out(Out::Leave { member: id, line });
        } else {
            self.batch.extend_from_slice(&line);
        }
    }

    /// Ends a departed member's stream at `end`; its writer delivers up to there.
    fn end_stream(&mut self, link: &Arc<Link>, end: u64, farewell: Option<Vec<u8>>) {
        link.finish_at(end, farewell);
        if !link.writer_stopped() {
            self.draining.push(Arc::clone(link));
        }
    }

    /// Tells everyone the server is going away and lets their writers finish.
    fn shut_down(&mut self, done: Sender<()>) {
        if !self.closing {
            self.closing = true;
            if self.relay.is_some() {
                let leaving: Vec<(u64, String)> = self
                    .members
                    .iter()
                    .map(|(id, m)| (*id, m.name().to_string()))
                    .collect();
                for (id, name) in leaving {
                    let line = format!("{name} has left\n").into_bytes();
                    self.send_out(Out::Leave { member: id, line });
                }
                // The backend answers `done` once it has left the room, or gives up.
                self.send_out(Out::Goodbye { done: done.clone() });
            }
            self.say(&[b"gochat: server shutting down"]);
            let batch = std::mem::take(&mut self.batch);
            self.append(batch);
            let end = self.feed.head();
            for (_, member) in self.members.drain() {
                member.link.finish_at(end, None);
            }
            for (_, (link, farewell)) in self.leaving.drain() {
                link.finish_at(end, farewell);
            }
        }
        drop(done);
    }

    /// Sends something to the relay, after the lines batched before it, so the room hears
    /// them in the order they happened.
    fn send_out(&mut self, out: Out) {
        if let Some(relay) = &self.relay {
            if !self.batch.is_empty() {
                let lines = std::mem::take(&mut self.batch);
                relay.publish(lines, std::mem::take(&mut self.batch_from));
            }
            let _ = relay.out.try_send(out);
        }
    }

    /// Hands the batch on: to the feed once every outbox has room for it (a single server),
    /// or out through the relay (a cluster: it comes back as an entry).
    async fn publish(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        if let Some(relay) = &self.relay {
            relay.wait_to_publish().await;
            let lines = std::mem::take(&mut self.batch);
            let from = std::mem::take(&mut self.batch_from);
            if let Some(relay) = &self.relay {
                relay.publish(lines, from);
            }
            return;
        }
        self.wait_for_room(self.batch.len()).await;
        let batch = std::mem::take(&mut self.batch);
        self.append(batch);
    }

    /// Waits until `need` more bytes fit in every outbox, removing members whose writers
    /// give up meanwhile.
    async fn wait_for_room(&mut self, need: usize) {
        while !self.closing && !self.has_room_for(need) {
            let gone_rx = self.gone_rx.clone();
            let gone = async { gone_rx.recv().await.ok() };
            let moved = future::poll_fn(|cx| {
                self.room.progress.register(cx.waker());
                if self.has_room_for(need) {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                }
            });
            if let Some(Gone { id, why }) = gone.or(moved).await {
                self.remove(id, why);
            }
        }
    }

    /// An entry of the room's log came back through the relay: append it, finishing the
    /// join or leave it carries.
    async fn take_entry(&mut self, entry: Entry) {
        self.wait_for_room(entry.lines.len()).await;
        if let Some(id) = entry.arrival {
            if let Some(reply) = self.arriving.remove(&id) {
                if let Some(link) = self.members.get(&id).map(|m| Arc::clone(&m.link)) {
                    self.admit(&link, &reply, Some(entry.lines));
                    return;
                }
            }
        }
        if let Some(id) = entry.leave {
            if let Some((link, farewell)) = self.leaving.remove(&id) {
                let end = self.feed.head();
                self.end_stream(&link, end, farewell);
            }
        }
        self.append(entry.lines);
    }

    /// Something happened on the relay's side.
    fn relay_event(&mut self, event: RelayEvent) {
        match event {
            RelayEvent::LinkDown => {
                self.link_up = false;
                self.notice_here(b"gochat: lost the room's link, reconnecting\n");
                // Nobody waits on a link that is down: leavers go, newcomers come in.
                let end = self.feed.head();
                for (_, (link, farewell)) in std::mem::take(&mut self.leaving) {
                    self.end_stream(&link, end, farewell);
                }
                for (id, reply) in std::mem::take(&mut self.arriving) {
                    if let Some(link) = self.members.get(&id).map(|m| Arc::clone(&m.link)) {
                        self.admit(&link, &reply, None);
                    }
                }
            }
            RelayEvent::LinkUp => {
                self.link_up = true;
                self.notice_here(b"gochat: the room's link is back\n");
            }
            RelayEvent::NotSent { members, lines } => {
                let answer = format!("gochat: {lines} line(s) not sent: the room's link is down\n");
                for id in members {
                    self.tell(id, answer.clone().into_bytes());
                }
            }
            RelayEvent::Nick {
                member,
                wanted,
                result,
            } => {
                match result {
                    Ok(()) => self.take_name(member, &wanted),
                    Err(reason) => self.tell(member, format!("gochat: {reason}\n").into_bytes()),
                }
                self.command_done(member);
            }
            RelayEvent::Who { member, result } => {
                let answer = match result {
                    Ok(names) => {
                        chat::who_lines(names.iter().map(String::as_str), self.room.config.max_line)
                    }
                    Err(reason) => format!("gochat: {reason}\n").into_bytes(),
                };
                self.tell(member, answer);
                self.command_done(member);
            }
        }
    }

    /// A line for this server's members only (not the room): appended straight to the feed.
    fn notice_here(&mut self, line: &[u8]) {
        self.append(line.to_vec());
    }

    /// Appends lines to the feed, remembers where each starts (for history), and wakes
    /// the writers.
    fn append(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let keep = self.room.config.history;
        if keep > 0 {
            let start = self.feed.head();
            self.recent.push_back(start);
            let last = bytes.len() - 1;
            for at in memchr::memchr_iter(b'\n', &bytes[..last]) {
                self.recent.push_back(start + at as u64 + 1);
            }
        }
        self.feed.append(bytes, Instant::now());
        self.forget_old_history();
        for member in self.members.values() {
            member.link.waker.wake();
        }
        // Draining writers that have finished are let go here, so their links do not pile
        // up in a room that never comes near --sendq.
        self.draining.retain(|link| !link.writer_stopped());
        for link in &self.draining {
            link.waker.wake();
        }
    }

    /// Lets go of lines older than the last `--history`, now that the feed holds them all.
    fn forget_old_history(&mut self) {
        let keep = self.room.config.history;
        if keep == 0 {
            return;
        }
        if self.recent.len() > keep {
            self.recent.drain(..self.recent.len() - keep);
        }
        if let (Some(&oldest), Some(history)) = (self.recent.front(), self.history.as_mut()) {
            history.advance_to(oldest);
        }
    }

    /// Whether `need` more bytes fit in every outbox without passing `--sendq`. An outbox
    /// that is empty always takes a batch, however large.
    fn has_room_for(&mut self, need: usize) -> bool {
        let head = self.feed.head();
        let sendq = self.room.config.sendq as u64;
        if head - self.slowest.min(head) + need as u64 <= sendq {
            return true;
        }
        self.slowest = self.find_slowest(head);
        let backlog = head - self.slowest;
        backlog == 0 || backlog + need as u64 <= sendq
    }

    /// The lowest offset any running writer has delivered up to; forgets draining writers
    /// that are done.
    fn find_slowest(&mut self, head: u64) -> u64 {
        self.draining.retain(|link| !link.writer_stopped());
        self.members
            .values()
            .map(|m| &m.link)
            .chain(self.draining.iter())
            .map(|link| link.delivered())
            .fold(head, u64::min)
    }
}

/// Waits until `room` has no open connections, or `limit` passes. Returns whether it
/// emptied.
pub async fn wait_until_empty(room: &Room, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let emptied = async {
        loop {
            let listener = room.closed.listen();
            if room.connected.load(Ordering::Acquire) == 0 {
                return true;
            }
            listener.await;
        }
    };
    let timeout = async {
        smol::Timer::at(deadline).await;
        false
    };
    future::or(emptied, timeout).await
}
