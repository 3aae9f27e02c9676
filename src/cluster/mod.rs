//! One room across many servers, through Redis (`serve --redis URL --room NAME`).
//!
//! Every server publishes its members' lines to one Redis stream per room, and delivers to
//! its own members only what it reads back from that stream. Redis gives every entry its
//! place in the stream, so every member on every server sees the room in one order, and no
//! replication protocol of ours is involved. Joins, leaves and name changes travel the same
//! way; the rest of the room's state (who is in it, their names) lives in Redis too
//! (`keys` lists every key).
//!
//! The parts, each a task or a piece they share:
//!
//! - `target`: where Redis is (`redis://`, `rediss://`, `redis+sentinel://`).
//! - `link`: the link to Redis the tasks share: up or down, one connection, epochs.
//! - `node`: this server in the room: its id, its members, how far it has read.
//! - `publisher`: appends the room's lines to the log, holds them while Redis is away,
//!   publishes again what Redis lost; `backlog`: its bookkeeping (what waits, what is
//!   kept), apart from its I/O.
//! - `subscriber`: reads the log and hands each new entry to the broadcaster, once.
//! - `keeper`: the heartbeat; reconnects and restores the link; declares silent servers
//!   lost; fences and rejoins this server when the room declared it lost.
//! - `commands`: `/nick` and `/who`, which need the whole room. `names` and `roster`:
//!   names and members across servers. `history`: a newcomer's last lines.
//! - `reply`: reading Redis's answers. `limits`: every limit and timing, with its why.
//!
//! Trouble with Redis is handled, not hidden. Unreachable at start is an error. Lost while
//! running, the members are told (`gochat: lost the room's link, reconnecting`), the keeper
//! reconnects with backoff (100 ms doubling to 2 s) while the other tasks wait for it, and
//! when the link is restored every task moves to a checked connection, so the first command
//! after `gochat: the room's link is back` works. Lines sent meanwhile are held and
//! published after, in order: the broadcaster stops taking lines once
//! [`crate::relay::PUBLISH_WINDOW`] bytes wait (senders are slowed by TCP, nothing is
//! dropped); only a burst that lands all at once can go past [`HELD_LIMIT`], and the senders
//! of lines past it are told they were not sent. Entries Redis lost (a restart, a failover)
//! before every server read them are published again; every entry carries its origin and
//! sequence number, so none is delivered twice.
//!
//! The broadcaster talks to this module through a [`Relay`]: [`Out`] (lines to publish,
//! joins, leaves, commands that need the whole room) one way; [`Entry`]s (the room's log, in
//! order), [`Event`]s (link trouble, answers to commands) and
//! [`Standing`](crate::relay::Standing)s (this server declared lost and rejoining) the other.
//!
//! [`Out`]: crate::relay::Out
//! [`Entry`]: crate::relay::Entry
//! [`Event`]: crate::relay::Event

mod backlog;
mod commands;
mod history;
mod keeper;
mod keys;
mod limits;
mod link;
mod names;
mod node;
mod publisher;
mod reply;
mod roster;
mod subscriber;
mod target;

use std::sync::Arc;

use smol::Executor;

pub use limits::{
    ALIVE_TTL, HEARTBEAT, HELD_LIMIT, LOG_MAXLEN, REAP_GRACE, REAPED_TTL, RETAIN_LIMIT,
};

use crate::error::Error;
use crate::relay::Relay;
use keys::Keys;
use link::{Link, RESPONSE_TIMEOUT, describe};
use node::{Node, server_id};
use publisher::Publisher;
use target::{Target, redact};

/// Where a room lives in Redis.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Redis URL, as given: `redis://`, `rediss://` or `redis+sentinel://` (README, Cluster).
    pub url: String,
    /// The room's name.
    pub room: String,
}

/// Joins the room described by `settings`: checks Redis is there, loads the last
/// `history` lines, registers this server, and starts the cluster's tasks on `ex`.
pub async fn join(
    settings: &Settings,
    history: usize,
    ex: &Arc<Executor<'static>>,
) -> Result<Relay, Error> {
    let unreachable = |e: redis::RedisError| Error::Redis {
        url: redact(&settings.url),
        reason: describe(&e),
    };
    let target = Target::parse(&settings.url).map_err(Error::Usage)?;
    let (events_tx, events) = async_channel::unbounded();
    let (standing_tx, standing) = async_channel::unbounded();
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(RESPONSE_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let (mut con, reached) = target
        .connect(&config, RESPONSE_TIMEOUT)
        .await
        .map_err(unreachable)?;
    redis::cmd("PING")
        .query_async::<()>(&mut con)
        .await
        .map_err(unreachable)?;
    let keys = Keys::new(&settings.room);
    let (history, last) = history::load(&mut con, &keys, history)
        .await
        .map_err(unreachable)?;
    let link = Link::new(target, events_tx.clone(), con.clone(), reached);
    let node = Arc::new(Node::new(
        server_id(),
        keys,
        link,
        events_tx,
        standing_tx,
        last,
    ));
    roster::register(&mut con, &node)
        .await
        .map_err(unreachable)?;
    Ok(start(node, ex, history, events, standing))
}

/// Starts the cluster's tasks for `node` on `ex`; the broadcaster's end of them.
fn start(
    node: Arc<Node>,
    ex: &Arc<Executor<'static>>,
    history: Vec<u8>,
    events: async_channel::Receiver<crate::relay::Event>,
    standing: async_channel::Receiver<crate::relay::Standing>,
) -> Relay {
    let (out, out_rx) = async_channel::unbounded();
    let (entries_tx, entries) = async_channel::bounded(64);
    let (commands_tx, commands_rx) = async_channel::unbounded();
    let (notices_tx, notices_rx) = async_channel::unbounded();
    let from = node.read();
    let publisher = Publisher::new(Arc::clone(&node), commands_tx);
    ex.spawn(publisher.run(out_rx, notices_rx)).detach();
    ex.spawn(subscriber::subscribe(Arc::clone(&node), entries_tx, from))
        .detach();
    ex.spawn(keeper::keep(Arc::clone(&node), notices_tx))
        .detach();
    ex.spawn(commands::answer(Arc::clone(&node), commands_rx))
        .detach();
    Relay {
        out,
        entries,
        events,
        standing,
        history,
        window: Arc::clone(&node.window),
    }
}
