//! The room's side of a cluster: what the broadcaster keeps track of while the room's order
//! is fixed elsewhere.
//!
//! In a cluster, this server's lines, arrivals and leaves go out through the
//! [relay](crate::relay) and only count once they come back in the room's log. In between,
//! the bridge remembers who is on the way in (greeted when their arrival comes back), who is
//! on the way out (their stream ends where their leave comes back, after their own last
//! lines), whose lines are in flight (told if they cannot be sent), and whether the backend
//! is reachable at all: while it is not, nobody waits on it. What the backend itself does
//! (Redis) is [`crate::cluster`]'s business; this file knows only the relay's messages.

use std::collections::HashMap;
use std::sync::Arc;

use async_channel::Sender;
use futures_lite::FutureExt;

use super::{Arrival, Back, Leaving};
use crate::outbox::Outbox;
use crate::relay::{Entry, Out, Relay};
use crate::room::Link;

/// The broadcaster's end of a cluster.
#[derive(Debug)]
pub struct Bridge {
    /// The link to the backend.
    relay: Relay,
    /// Whether the backend is reachable.
    link_up: bool,
    /// Newcomers whose arrival has gone out but not come back yet, and where to send their
    /// outbox when it does.
    arriving: HashMap<u64, Sender<Outbox>>,
    /// Members that left, until their leave comes back, with the farewell to send them.
    leaving: HashMap<u64, (Arc<Link>, Option<Vec<u8>>)>,
    /// Whose lines are in the batch, to tell them if they cannot be sent.
    batch_from: Vec<u64>,
}

/// What an entry coming back finishes.
#[derive(Debug)]
pub enum Landing {
    /// This server's newcomer: greet it, starting with this entry (its arrival).
    Arrival(u64, Sender<Outbox>),
    /// This server's member that left: its stream ends before this entry (its leave).
    Leave(Arc<Link>, Option<Vec<u8>>),
    /// Nothing of ours: just lines of the room.
    Lines,
}

impl Bridge {
    /// A bridge over `relay`, and the room's history so far.
    pub fn new(mut relay: Relay) -> (Bridge, Vec<u8>) {
        let history = std::mem::take(&mut relay.history);
        let bridge = Bridge {
            relay,
            link_up: true,
            arriving: HashMap::new(),
            leaving: HashMap::new(),
            batch_from: Vec::new(),
        };
        (bridge, history)
    }

    /// Publishes a batch of lines, once the backend's window has room for it.
    pub async fn publish(&mut self, batch: Vec<u8>) {
        self.relay.wait_to_publish().await;
        let from = std::mem::take(&mut self.batch_from);
        self.relay.publish(batch, from);
    }

    /// Member `id` has lines in the batch.
    pub fn sent_by(&mut self, id: u64) {
        if self.batch_from.last() != Some(&id) {
            self.batch_from.push(id);
        }
    }

    /// Sends something to the backend, after the lines batched before it, so the room hears
    /// them in the order they happened.
    pub fn send_out(&mut self, out: Out, batch: &mut Vec<u8>) {
        if !batch.is_empty() {
            let lines = std::mem::take(batch);
            self.relay
                .publish(lines, std::mem::take(&mut self.batch_from));
        }
        let _ = self.relay.out.try_send(out);
    }

    /// A newcomer: its arrival goes out; it is greeted when the arrival comes back, or at
    /// once if the link is down (rather than kept waiting).
    pub fn arrive(
        &mut self,
        link: &Link,
        line: Vec<u8>,
        reply: Sender<Outbox>,
        batch: &mut Vec<u8>,
    ) -> Arrival {
        let arrive = Out::Arrive {
            member: link.id,
            name: link.name.to_string(),
            line,
        };
        self.send_out(arrive, batch);
        if self.link_up {
            self.arriving.insert(link.id, reply);
            Arrival::Later
        } else {
            Arrival::Now { reply, line: None }
        }
    }

    /// A member left: its leave goes out. Its stream ends where the leave comes back (after
    /// its own last lines), or here if the link is down.
    pub fn leave(
        &mut self,
        link: &Arc<Link>,
        line: Vec<u8>,
        farewell: Option<Vec<u8>>,
        batch: &mut Vec<u8>,
    ) -> Leaving {
        self.arriving.remove(&link.id);
        let leave = Out::Leave {
            member: link.id,
            line,
        };
        if !self.link_up {
            self.send_out(leave, batch);
            return Leaving::Here {
                line: None,
                farewell,
            };
        }
        if !link.writer_stopped() {
            self.leaving.insert(link.id, (Arc::clone(link), farewell));
        }
        self.send_out(leave, batch);
        Leaving::Later
    }

    /// Asks the backend whether member `id` may take the name `wanted`.
    pub fn ask_name(&mut self, id: u64, old: Option<&str>, wanted: &str) {
        let _ = self.relay.out.try_send(Out::Nick {
            member: id,
            old: old.map(str::to_string),
            wanted: wanted.to_string(),
        });
    }

    /// Asks the backend who is in the room, for member `id`.
    pub fn ask_who(&mut self, id: u64) {
        let _ = self.relay.out.try_send(Out::Who { member: id });
    }

    /// The server is shutting down: the room hears that everyone here left, and the
    /// backend answers `done` once it has left the room itself.
    pub fn closing(&mut self, here: Vec<(u64, String)>, done: &Sender<()>, batch: &mut Vec<u8>) {
        for (id, name) in here {
            let line = format!("{name} has left\n").into_bytes();
            self.send_out(Out::Leave { member: id, line }, batch);
        }
        self.send_out(Out::Goodbye { done: done.clone() }, batch);
    }

    /// What an entry of the room's log finishes, if it is one of ours.
    pub fn landed(&mut self, entry: &Entry) -> Landing {
        if let Some(id) = entry.arrival {
            if let Some(reply) = self.arriving.remove(&id) {
                return Landing::Arrival(id, reply);
            }
        }
        if let Some(id) = entry.leave {
            if let Some((link, farewell)) = self.leaving.remove(&id) {
                return Landing::Leave(link, farewell);
            }
        }
        Landing::Lines
    }

    /// The backend is unreachable: nobody waits on it. Returns the members on their way out
    /// (their streams end now) and those on their way in (greeted now).
    #[allow(clippy::type_complexity)]
    pub fn link_down(
        &mut self,
    ) -> (
        Vec<(Arc<Link>, Option<Vec<u8>>)>,
        Vec<(u64, Sender<Outbox>)>,
    ) {
        self.link_up = false;
        let leaving = self.leaving.drain().map(|(_, gone)| gone).collect();
        let arriving = self.arriving.drain().collect();
        (leaving, arriving)
    }

    /// The backend is reachable again.
    pub fn link_back(&mut self) {
        self.link_up = true;
    }

    /// Waits for the backend's next event or entry (events first).
    pub async fn next(&self) -> Option<Back> {
        let event = async { self.relay.events.recv().await.ok().map(Back::Event) };
        let entry = async { self.relay.entries.recv().await.ok().map(Back::Entry) };
        event.or(entry).await
    }

    /// The backend's next event, if one is waiting.
    pub fn try_event(&self) -> Option<Back> {
        self.relay.events.try_recv().ok().map(Back::Event)
    }
}
