//! The room: its settings, the handle every task holds, and the one task that orders it.
//!
//! Everything that happens in the room goes through one bounded channel, [`Room::send`]:
//! members joining, the lines they send (already framed and sanitized by their reader),
//! members leaving. One task, the [`Broadcaster`], takes these one after another, and that
//! order *is* the room's order: every member receives the room's lines in it. With a cluster,
//! the order is fixed by the backend instead, behind the same broadcaster (see
//! [`sequencer`]).
//!
//! The parts, each in its own file:
//!
//! - [`broadcaster`]: the loop, batching, and the backpressure that waits for the slowest
//!   member.
//! - [`link`]: what the broadcaster shares with one member's reader and writer tasks.
//! - [`roster`]: who is here, their names (`/nick`), and `/who`.
//! - [`commands`]: what each chat command does.
//! - [`history`]: the last `--history` lines a newcomer is given.
//! - [`sequencer`]: who fixes the room's order: this server alone, or a cluster (its
//!   [`bridge`](sequencer::bridge)).
//!
//! A member's tasks live in [`crate::member`]; they depend on this module, never the other
//! way round.

pub mod broadcaster;
pub mod commands;
pub mod history;
pub mod link;
pub mod roster;
pub mod sequencer;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_channel::Sender;
use atomic_waker::AtomicWaker;
use event_listener::Event;
use futures_lite::future;

pub use broadcaster::Broadcaster;
pub use link::Link;

use crate::outbox::Outbox;
use crate::relay::Relay;

/// How many messages (joins, batches of lines, leaves) may wait for the broadcaster. Small,
/// so that a flood is felt by its sender quickly and a typed line never queues behind much;
/// each message is one read's worth of lines, so this is still plenty to batch from.
pub const ROOM_QUEUE: usize = 64;

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
    /// How many bytes of them, at most.
    pub history_bytes: usize,
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
    /// Its connection failed while we wrote to it.
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

/// What the room's tasks share: the way in to the broadcaster, and the room's counters.
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
        let broadcaster = Broadcaster::new(Arc::clone(&room), rx, gone_rx, relay);
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

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.connected.load(Ordering::Acquire)
    }
}

/// A place in the room's connection count, given back on drop. Whoever accepts a
/// connection takes one first, so `--max-clients` bounds handshakes as well as members.
#[derive(Debug)]
pub struct Slot(Arc<Room>);

impl Slot {
    /// Takes a place in `room`, if it has one free under `max_clients`.
    pub fn take(room: &Arc<Room>) -> Option<Slot> {
        let max = room.config.max_clients;
        room.connected
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(room)))
    }

    /// The room this place is in.
    pub fn room(&self) -> &Arc<Room> {
        &self.0
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::AcqRel);
        self.0.closed.notify(usize::MAX);
    }
}

/// Waits until `room` has no open connections, or `limit` passes. Returns whether it
/// emptied.
pub async fn wait_until_empty(room: &Room, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let emptied = async {
        loop {
            let listener = room.closed.listen();
            if room.connections() == 0 {
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
