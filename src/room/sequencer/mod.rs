//! Who fixes the room's order: this server alone, or a cluster of servers.
//!
//! The broadcaster works the same way in both cases; where they differ, it asks its
//! [`Sequencer`] and carries out the answer:
//!
//! - **Local** (one server): the broadcaster's own order is the room's. A batch of lines is
//!   appended to the feed as soon as every outbox has room for it; arrivals, leaves and
//!   renames are lines in the batch like any other.
//! - **Cluster** ([`Bridge`]): the room's order is what comes back from the backend. Lines,
//!   arrivals, leaves and renames go out through the [relay](crate::relay); the feed takes
//!   only what comes back, as [`Back::Entry`]s, in the order the backend fixed for every
//!   server. Names and `/who` are answered by the backend, later.
//!
//! The local arms are trivial on purpose: a single server's hot path is the broadcaster
//! appending to the feed, with nothing in between.

pub mod bridge;

use std::sync::Arc;

use async_channel::Sender;

use crate::outbox::Outbox;
use crate::relay::{Entry, Event, Out, Relay};
use crate::room::Link;
use bridge::Bridge;

/// Who fixes the room's order.
#[derive(Debug)]
pub enum Sequencer {
    /// This server alone.
    Local,
    /// One of several servers, through a relay (boxed: a single server keeps no room for
    /// a cluster's bookkeeping).
    Cluster(Box<Bridge>),
}

/// What the backend sends back to the broadcaster.
#[derive(Debug)]
pub enum Back {
    /// The next entry of the room's log.
    Entry(Entry),
    /// Link trouble, or the answer to a request.
    Event(Event),
}

/// What to do with a newcomer now.
#[derive(Debug)]
pub enum Arrival {
    /// Greet it now, with its arrival line appended after the lines before it (or without
    /// one: its arrival went out, and will come back some time).
    Now {
        /// Where its outbox goes.
        reply: Sender<Outbox>,
        /// Its `NAME has arrived` line, to append now.
        line: Option<Vec<u8>>,
    },
    /// Its arrival went out; it is greeted when the arrival comes back.
    Later,
}

/// What to do with a member that left.
#[derive(Debug)]
pub enum Leaving {
    /// End its stream here, with its farewell; then add its leave line, if any, to the
    /// batch.
    Here {
        /// `NAME has left`, for the batch.
        line: Option<Vec<u8>>,
        /// The last line only it gets, if any.
        farewell: Option<Vec<u8>>,
    },
    /// Its leave went out; its stream ends where the leave comes back.
    Later,
}

impl Sequencer {
    /// The sequencer for a room with or without a relay, and the room's history so far
    /// (lines a cluster already holds).
    pub fn new(relay: Option<Relay>) -> (Sequencer, Vec<u8>) {
        match relay {
            None => (Sequencer::Local, Vec::new()),
            Some(relay) => {
                let (bridge, history) = Bridge::new(relay);
                (Sequencer::Cluster(Box::new(bridge)), history)
            }
        }
    }

    /// Takes the batch of formatted lines: gives it back to append now (local), or sends it
    /// out, once the backend has room for it (cluster).
    pub async fn hand_off(&mut self, batch: Vec<u8>) -> Option<Vec<u8>> {
        match self {
            Sequencer::Local => Some(batch),
            Sequencer::Cluster(bridge) => {
                bridge.publish(batch).await;
                None
            }
        }
    }

    /// Member `id` has lines in the batch (a cluster tells it if they cannot be sent).
    pub fn sent_by(&mut self, id: u64) {
        if let Sequencer::Cluster(bridge) = self {
            bridge.sent_by(id);
        }
    }

    /// A newcomer is here, with its arrival `line`.
    pub fn arrive(
        &mut self,
        link: &Link,
        line: Vec<u8>,
        reply: Sender<Outbox>,
        batch: &mut Vec<u8>,
    ) -> Arrival {
        match self {
            Sequencer::Local => Arrival::Now {
                reply,
                line: Some(line),
            },
            Sequencer::Cluster(bridge) => bridge.arrive(link, line, reply, batch),
        }
    }

    /// A member left, with its leave `line` and the `farewell` only it gets.
    pub fn leave(
        &mut self,
        link: &Arc<Link>,
        line: Vec<u8>,
        farewell: Option<Vec<u8>>,
        batch: &mut Vec<u8>,
    ) -> Leaving {
        match self {
            Sequencer::Local => Leaving::Here {
                line: Some(line),
                farewell,
            },
            Sequencer::Cluster(bridge) => bridge.leave(link, line, farewell, batch),
        }
    }

    /// `/nick`: may member `id` (now called `old`, if it took a name) take `wanted`? True
    /// if it may, now; false if the backend answers later ([`Event::Nick`]).
    pub fn ask_name(&mut self, id: u64, old: Option<&str>, wanted: &str) -> bool {
        match self {
            Sequencer::Local => true,
            Sequencer::Cluster(bridge) => {
                bridge.ask_name(id, old, wanted);
                false
            }
        }
    }

    /// Member `id` took the name `name`: the room hears `line`.
    pub fn renamed(&mut self, id: u64, name: &str, line: Vec<u8>, batch: &mut Vec<u8>) {
        match self {
            Sequencer::Local => batch.extend_from_slice(&line),
            Sequencer::Cluster(bridge) => {
                let renamed = Out::Renamed {
                    member: id,
                    name: name.to_string(),
                    line,
                };
                bridge.send_out(renamed, batch);
            }
        }
    }

    /// `/who` from member `id`: true if the room's roster here is the answer; false if the
    /// backend answers later ([`Event::Who`]).
    pub fn who(&mut self, id: u64) -> bool {
        match self {
            Sequencer::Local => true,
            Sequencer::Cluster(bridge) => {
                bridge.ask_who(id);
                false
            }
        }
    }

    /// The server is shutting down with these members (id, name) here: a cluster tells the
    /// room they left, and answers `done` once it has left the room itself.
    pub fn closing(&mut self, here: Vec<(u64, String)>, done: &Sender<()>, batch: &mut Vec<u8>) {
        if let Sequencer::Cluster(bridge) = self {
            bridge.closing(here, done, batch);
        }
    }

    /// Waits for the backend's next entry or event (never, for a local room).
    pub async fn next(&self) -> Option<Back> {
        match self {
            Sequencer::Local => std::future::pending().await,
            Sequencer::Cluster(bridge) => bridge.next().await,
        }
    }

    /// The backend's next event, if one is waiting.
    pub fn try_event(&self) -> Option<Back> {
        match self {
            Sequencer::Local => None,
            Sequencer::Cluster(bridge) => bridge.try_event(),
        }
    }

    /// The cluster's bridge, for what only a cluster does.
    pub fn bridge(&mut self) -> Option<&mut Bridge> {
        match self {
            Sequencer::Local => None,
            Sequencer::Cluster(bridge) => Some(bridge),
        }
    }
}
