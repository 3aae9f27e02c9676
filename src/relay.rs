//! The room's link to other servers: what the broadcaster and a cluster backend say to
//! each other.
//!
//! A single server appends its room's lines straight to its [feed](crate::outbox::Feed).
//! In a cluster ([`crate::cluster`], on Redis) it instead sends them out ([`Out`]), and
//! appends to its feed only what comes back ([`Entry`]), in the order the backend fixed for
//! every server. This module is that interface and nothing else, so the broadcaster does not
//! depend on Redis, and gochat builds without it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use async_channel::{Receiver, Sender};
use atomic_waker::AtomicWaker;
use futures_lite::future;

/// How many bytes of lines may wait to be published before the broadcaster waits: the
/// backpressure that slows senders when the backend is slower than they are.
pub const PUBLISH_WINDOW: usize = 1024 * 1024;

/// What the broadcaster asks of the backend, in the order it happens in the room.
#[derive(Debug)]
pub enum Out {
    /// Room lines to publish (formatted, `NAME: text\n` ...), from these members.
    Lines {
        /// The lines.
        lines: Vec<u8>,
        /// Who sent them: told if they cannot be sent.
        from: Vec<u64>,
    },
    /// A member arrived here: publish its arrival line, in an entry of its own.
    Arrive {
        /// The member.
        member: u64,
        /// Its name.
        name: String,
        /// `NAME has arrived\n`.
        line: Vec<u8>,
    },
    /// A member left here: publish its leave line, in an entry of its own.
    Leave {
        /// The member.
        member: u64,
        /// `NAME has left\n` (with the reason, if any).
        line: Vec<u8>,
    },
    /// A member took a new name (already agreed): publish the change, update the roster.
    Renamed {
        /// The member.
        member: u64,
        /// Its new name.
        name: String,
        /// `OLD is now known as NEW\n`.
        line: Vec<u8>,
    },
    /// `/nick`: may this member take this name, room-wide?
    Nick {
        /// The member.
        member: u64,
        /// The name it has now, if it took one before (to give back).
        old: Option<String>,
        /// The name it wants.
        wanted: String,
    },
    /// `/who`: everyone in the room, on every server.
    Who {
        /// Who asked.
        member: u64,
    },
    /// The server is shutting down: publish what is held, leave the room, then drop `done`.
    Goodbye {
        /// Dropped when done.
        done: Sender<()>,
    },
}

/// An entry of the room's log, as read back from Redis.
#[derive(Debug)]
pub struct Entry {
    /// Its lines, sanitized again (Redis is not trusted to hold only what we wrote).
    pub lines: Vec<u8>,
    /// For our own arrival entries: whose.
    pub arrival: Option<u64>,
    /// For our own leave entries: whose.
    pub leave: Option<u64>,
}

/// What the backend tells the broadcaster besides the log.
#[derive(Debug)]
pub enum Event {
    /// Redis is unreachable; reconnecting.
    LinkDown,
    /// Redis is back.
    LinkUp,
    /// These members' lines could not be held while Redis was away.
    NotSent {
        /// Who sent them.
        members: Vec<u64>,
        /// How many lines.
        lines: usize,
    },
    /// The answer to [`Out::Nick`].
    Nick {
        /// The member.
        member: u64,
        /// The name it wanted.
        wanted: String,
        /// Granted, or why not (a line for the member).
        result: Result<(), String>,
    },
    /// The answer to [`Out::Who`].
    Who {
        /// Who asked.
        member: u64,
        /// Everyone's names in order of arrival, or why the room cannot say.
        result: Result<Vec<String>, String>,
    },
}

/// What the backend tells the broadcaster about this server's own standing in the room.
///
/// A server cut off from Redis (or stopped) for longer than the heartbeat allows is
/// declared lost by the others: they announce `NAME has left (server lost)` for its members
/// and give their names back. When it comes back, the backend learns so (it is *fenced*: it
/// publishes nothing more until it has rejoined), announces its members to the room again
/// (`NAME has arrived`), and claims their names again; where another member took a name
/// meanwhile, that member keeps it. Then it tells the broadcaster, which must:
///
/// - on [`Standing::Rejoining`]: tell this server's members
///   `gochat: this server lost the room for Ns; rejoining`;
/// - on [`Standing::NameLost`]: stop showing the member by that name (show it by its
///   address, as the backend now does in the roster and in its arrival line), tell it
///   `gochat: your name "NAME" was taken while this server was away; you are ADDR again`,
///   and format its lines by address from then on, including lines that were waiting to be
///   published (they were formatted with the name it no longer holds).
///
/// Until the room reads [`Relay::standing`], the backend does all of the above except what
/// only the broadcaster can do (the notice, the member's name in lines it formats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The others declared this server lost; it has rejoined the room, its members
    /// announced again. `lost_for`: how long it was without the room.
    Rejoining {
        /// From the last heartbeat that got through to rejoining.
        lost_for: Duration,
    },
    /// While this server was away another member took `name`: `member` no longer holds it.
    NameLost {
        /// The member that lost its name.
        member: u64,
        /// The name it lost.
        name: String,
    },
}

/// The broadcaster's end of a link to other servers.
#[derive(Debug)]
pub struct Relay {
    /// Requests, in room order. Unbounded: lines are bounded by [`Relay::wait_to_publish`],
    /// everything else by the number of members.
    pub out: Sender<Out>,
    /// The room's log, in order. Bounded: while the broadcaster waits for a slow member,
    /// the backend stops reading.
    pub entries: Receiver<Entry>,
    /// Link trouble and answers.
    pub events: Receiver<Event>,
    /// This server's standing in the room: declared lost and rejoining (see [`Standing`]).
    /// Unbounded and rare.
    pub standing: Receiver<Standing>,
    /// The room's last lines when this server joined, for history.
    pub history: Vec<u8>,
    /// Bytes of lines on their way out.
    pub window: Arc<Window>,
}

impl Relay {
    /// Sends room lines out, counting them against the publish window.
    pub fn publish(&self, lines: Vec<u8>, from: Vec<u64>) {
        self.window.take(lines.len());
        let _ = self.out.try_send(Out::Lines { lines, from });
    }

    /// Waits until fewer than [`PUBLISH_WINDOW`] bytes wait to be published.
    pub async fn wait_to_publish(&self) {
        future::poll_fn(|cx| {
            self.window.waker.register(cx.waker());
            if self.window.pending.load(Ordering::Acquire) < PUBLISH_WINDOW {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// Bytes of lines sent out and not yet published (or refused).
#[derive(Debug, Default)]
pub struct Window {
    pending: AtomicUsize,
    waker: AtomicWaker,
}

impl Window {
    /// Counts `bytes` as on their way.
    pub fn take(&self, bytes: usize) {
        self.pending.fetch_add(bytes, Ordering::AcqRel);
    }

    /// `bytes` have been published (or refused): the broadcaster may send more. The backend
    /// gives each byte back once (it keeps what it still owes on each batch); should it ever
    /// give back more than it took, the window stays at zero rather than wrap around to a
    /// huge value that would stop the broadcaster for good.
    pub fn give_back(&self, bytes: usize) {
        let _ = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |pending| {
                debug_assert!(pending >= bytes, "window bytes given back twice");
                Some(pending.saturating_sub(bytes))
            });
        self.waker.wake();
    }

    /// Bytes on their way now.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_opens_when_its_bytes_come_back() {
        let window = Window::default();
        window.take(PUBLISH_WINDOW);
        assert_eq!(window.pending(), PUBLISH_WINDOW);
        window.give_back(PUBLISH_WINDOW);
        assert_eq!(window.pending(), 0);
    }
}
