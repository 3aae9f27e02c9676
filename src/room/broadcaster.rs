//! The broadcaster: the one task that orders the room.
//!
//! It owns the members ([`Roster`]) and the [`Feed`]. For each line it writes the wire bytes
//! once (`ADDR: text\n`) into the current batch; when the room's channel has nothing more
//! ready (or the batch is large), it hands the batch to its [`Sequencer`], appends what it
//! gets back to the feed and wakes every writer waiting for lines. It never touches a
//! socket, so no member can stall it directly.
//!
//! What it does wait for is room in the slowest outbox: a batch is appended only while no
//! member's backlog would pass `--sendq`. While it waits, the channel fills, readers stop
//! reading and TCP slows the senders: backpressure, not loss. A member cannot hold this for
//! long: its writer removes it once its oldest undelivered line is older than `--lag-limit`,
//! and tells the broadcaster through [`Room::gone`].

use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use async_channel::{Receiver, Sender};
use futures_lite::{FutureExt, future};

use crate::chat;
use crate::outbox::{Feed, Outbox};
use crate::relay::{Entry, Event as RelayEvent, Relay};
use crate::room::history::History;
use crate::room::roster::Roster;
use crate::room::sequencer::bridge::Landing;
use crate::room::sequencer::{Arrival, Back, Leaving, Sequencer};
use crate::room::{Gone, Link, Msg, Room, Why};
use crate::units::format_duration;

/// The broadcaster hands a batch on once it holds this many bytes, even if more messages
/// are ready: big enough that a busy room's writers see large batches, small enough to keep
/// the first of them moving.
pub const BATCH_BYTES: usize = 256 * 1024;

/// The one task that orders the room. See the module docs.
#[derive(Debug)]
pub struct Broadcaster {
    pub(super) room: Arc<Room>,
    rx: Receiver<Msg>,
    gone_rx: Receiver<Gone>,
    /// The room's output, shared by every outbox.
    feed: Feed,
    /// Lines formatted but not yet handed on.
    pub(super) batch: Vec<u8>,
    /// Who is in the room.
    pub(super) roster: Roster,
    /// Members that left but whose writers are still sending them what they are owed.
    /// They hold the room back like members do, until done or too slow.
    draining: Vec<Arc<Link>>,
    /// The lowest delivered offset found at the last look: no outbox is further behind.
    /// Offsets only grow, so this stays a safe bound between looks.
    slowest: u64,
    /// The room's last lines, for newcomers.
    history: History,
    /// Who fixes the room's order: this server, or a cluster.
    pub(super) order: Sequencer,
    /// Shutting down: take no one in, ignore lines.
    closing: bool,
}

/// What the broadcaster waits for.
enum Input {
    Msg(Msg),
    Gone(Gone),
    Back(Back),
}

impl Broadcaster {
    /// The broadcaster of `room`, taking its messages from `rx` and `gone_rx`.
    pub(super) fn new(
        room: Arc<Room>,
        rx: Receiver<Msg>,
        gone_rx: Receiver<Gone>,
        relay: Option<Relay>,
    ) -> Broadcaster {
        let feed = Feed::new();
        let history = History::new(room.config.history, room.config.history_bytes, &feed);
        let (order, past) = Sequencer::new(relay);
        let mut broadcaster = Broadcaster {
            room,
            rx,
            gone_rx,
            feed,
            batch: Vec::new(),
            roster: Roster::default(),
            draining: Vec::new(),
            slowest: 0,
            history,
            order,
            closing: false,
        };
        broadcaster.append(past);
        broadcaster
    }

    /// Runs the room until its channels close.
    pub async fn run(mut self) {
        while let Some(input) = self.next_input().await {
            self.handle(input).await;
            while self.batch.len() < BATCH_BYTES {
                let Some(next) = self.ready_input() else {
                    break;
                };
                self.handle(next).await;
            }
            self.publish().await;
        }
    }

    /// Waits for the next thing to do: a writer gone, word from the backend, a message.
    async fn next_input(&self) -> Option<Input> {
        let gone = async { self.gone_rx.recv().await.ok().map(Input::Gone) };
        let msg = async { self.rx.recv().await.ok().map(Input::Msg) };
        let back = async { self.order.next().await.map(Input::Back) };
        gone.or(back).or(msg).await
    }

    /// The next thing to do, if one is waiting: writers gone first, then the backend's
    /// events, then messages. (Entries from the backend wait for the next batch.)
    fn ready_input(&self) -> Option<Input> {
        if let Ok(gone) = self.gone_rx.try_recv() {
            return Some(Input::Gone(gone));
        }
        if let Some(back) = self.order.try_event() {
            return Some(Input::Back(back));
        }
        self.rx.try_recv().ok().map(Input::Msg)
    }

    async fn handle(&mut self, input: Input) {
        match input {
            Input::Gone(Gone { id, why }) => self.remove(id, why),
            Input::Msg(Msg::Lines { id, batch }) => self.add_lines(id, &batch),
            Input::Msg(Msg::Leave { id, why }) => self.remove(id, why),
            Input::Msg(Msg::Join { link, reply }) => self.join(link, reply).await,
            Input::Msg(Msg::Shutdown { done }) => self.shut_down(done),
            Input::Back(Back::Entry(entry)) => self.take_entry(entry).await,
            Input::Back(Back::Event(event)) => self.backend_event(event),
        }
    }

    /// The room offset where the next line will start (on this server, for lines it
    /// appends itself).
    pub(super) fn here(&self) -> u64 {
        self.feed.head() + self.batch.len() as u64
    }

    /// Adds one line of the room to the batch, from its parts.
    pub(super) fn say(&mut self, parts: &[&[u8]]) {
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
            let Some(member) = self.roster.get(id) else {
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
        if self.batch.len() > start {
            self.order.sent_by(id);
        }
    }

    /// Sends member `id` a line of its own, in its place in the room's stream.
    pub(super) fn tell(&mut self, id: u64, lines: Vec<u8>) {
        let at = self.here();
        if let Some(member) = self.roster.get(id) {
            member.link.notify(at, lines);
        }
    }

    /// Lets a member in: the room hears of it; the newcomer is greeted, gets the room's
    /// last `--history` lines, then everything from its arrival on (but not its own
    /// arrival, as with the Go server). In a cluster, this may finish only when the arrival
    /// comes back ([`Broadcaster::take_entry`]).
    async fn join(&mut self, link: Arc<Link>, reply: Sender<Outbox>) {
        if self.closing {
            return; // dropping `reply` turns the newcomer away
        }
        if self.room.config.verbose {
            eprintln!("gochat: {} joined", link.name);
        }
        let line = format!("{} has arrived\n", link.name).into_bytes();
        self.roster.add(Arc::clone(&link));
        match self.order.arrive(&link, line, reply, &mut self.batch) {
            Arrival::Later => {}
            Arrival::Now {
                reply,
                line: Some(line),
            } => {
                // Lines already batched come before the arrival.
                self.publish().await;
                self.make_room(line.len()).await;
                self.admit(&link, &reply, Some(line));
            }
            Arrival::Now { reply, line: None } => self.admit(&link, &reply, None),
        }
    }

    /// Greets a newcomer and starts its outbox: at the oldest history line (or here), with
    /// its own `arrival` line (appended now, if given) skipped.
    fn admit(&mut self, link: &Link, reply: &Sender<Outbox>, arrival: Option<Vec<u8>>) {
        let outbox = self.history.newcomer(&self.feed);
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
    pub(super) fn remove(&mut self, id: u64, why: Why) {
        let Some(member) = self.roster.remove(id) else {
            return;
        };
        let line = format!("{} has left{}\n", member.name(), reason(why)).into_bytes();
        self.log_leave(&member.link, why);
        let farewell = self.farewell(why);
        let here = self.here();
        match self
            .order
            .leave(&member.link, line, farewell, &mut self.batch)
        {
            Leaving::Later => {}
            Leaving::Here { line, farewell } => {
                // Its stream ends here: after its own last lines, before the room hears it
                // left.
                self.end_stream(&member.link, here, farewell);
                if let Some(line) = line {
                    self.batch.extend_from_slice(&line);
                }
            }
        }
    }

    /// The last line a member removed for `why` gets, if any.
    fn farewell(&self, why: Why) -> Option<Vec<u8>> {
        let idle = self.room.config.idle_timeout.unwrap_or_default();
        (why == Why::Idle).then(|| {
            format!(
                "gochat: disconnected: idle for more than {}\n",
                format_duration(idle)
            )
            .into_bytes()
        })
    }

    /// Logs a member leaving: always when the room removed it, with `-v` otherwise.
    fn log_leave(&self, link: &Link, why: Why) {
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
            let here: Vec<(u64, String)> = self
                .roster
                .members()
                .map(|m| (m.link.id, m.name().to_string()))
                .collect();
            self.order.closing(here, &done, &mut self.batch);
            self.say(&[b"gochat: server shutting down"]);
            let batch = std::mem::take(&mut self.batch);
            self.append(batch);
            let end = self.feed.head();
            for member in self.roster.drain() {
                member.link.finish_at(end, None);
            }
            if let Some(bridge) = self.order.bridge() {
                let (leaving, _) = bridge.link_down();
                for (link, farewell) in leaving {
                    link.finish_at(end, farewell);
                }
            }
        }
        drop(done);
    }

    /// Hands the batch on; appends what comes back (all of it, on a single server) once
    /// every outbox has room for it. Members removed while it waits leave lines of their
    /// own in a new batch: those follow.
    async fn publish(&mut self) {
        while !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            if let Some(lines) = self.order.hand_off(batch).await {
                self.make_room(lines.len()).await;
                self.append(lines);
            }
        }
    }

    /// Waits until `need` more bytes fit in every outbox, removing members whose writers
    /// give up meanwhile.
    async fn make_room(&mut self, need: usize) {
        while !self.closing && !self.has_room_for(need) {
            if let Some(Gone { id, why }) = self.wait_for_progress(need).await {
                self.remove(id, why);
            }
        }
    }

    /// Waits until a writer moves (then `None`) or gives up (then who, and why).
    async fn wait_for_progress(&mut self, need: usize) -> Option<Gone> {
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
        gone.or(moved).await
    }

    /// An entry of the room's log came back from the backend: append it, finishing the
    /// join or leave it carries.
    async fn take_entry(&mut self, entry: Entry) {
        self.make_room(entry.lines.len()).await;
        let landing = match self.order.bridge() {
            Some(bridge) => bridge.landed(&entry),
            None => Landing::Lines,
        };
        match landing {
            Landing::Arrival(id, reply) => {
                if let Some(link) = self.roster.link(id) {
                    self.admit(&link, &reply, Some(entry.lines));
                    return;
                }
            }
            Landing::Leave(link, farewell) => {
                let end = self.feed.head();
                self.end_stream(&link, end, farewell);
            }
            Landing::Lines => {}
        }
        self.append(entry.lines);
    }

    /// The backend said something besides the log.
    fn backend_event(&mut self, event: RelayEvent) {
        match event {
            RelayEvent::LinkDown => self.link_down(),
            RelayEvent::LinkUp => {
                if let Some(bridge) = self.order.bridge() {
                    bridge.link_back();
                }
                self.append(b"gochat: the room's link is back\n".to_vec());
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

    /// The backend is unreachable: this server's members are told, and nobody waits on it:
    /// leavers go, newcomers come in.
    fn link_down(&mut self) {
        self.append(b"gochat: lost the room's link, reconnecting\n".to_vec());
        let Some(bridge) = self.order.bridge() else {
            return;
        };
        let (leaving, arriving) = bridge.link_down();
        let end = self.feed.head();
        for (link, farewell) in leaving {
            self.end_stream(&link, end, farewell);
        }
        for (id, reply) in arriving {
            if let Some(link) = self.roster.link(id) {
                self.admit(&link, &reply, None);
            }
        }
    }

    /// Appends lines to the feed, notes them for history, and wakes the writers.
    fn append(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.history.note(self.feed.head(), &bytes);
        self.feed.append(bytes, Instant::now());
        self.history.forget_old(self.feed.head());
        for member in self.roster.members() {
            member.link.waker.wake();
        }
        // Draining writers that have finished are let go here, so their links do not pile
        // up in a room that never comes near --sendq.
        self.draining.retain(|link| !link.writer_stopped());
        for link in &self.draining {
            link.waker.wake();
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
        self.roster
            .members()
            .map(|m| &m.link)
            .chain(self.draining.iter())
            .map(|link| link.delivered())
            .fold(head, u64::min)
    }
}

/// What the room's leave line adds for a member that left for `why`.
fn reason(why: Why) -> &'static str {
    match why {
        Why::Quit | Why::Broken => "",
        Why::TooSlow => " (too slow)",
        Why::Idle => " (idle)",
    }
}
