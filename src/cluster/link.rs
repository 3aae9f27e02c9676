//! The link to the room's Redis, shared by the cluster's tasks: whether it is up, the
//! connection they share, and telling the room when it is lost and found.
//!
//! Every connection carries the *epoch* it was made in. When a command fails on a
//! connection of the current epoch, the link is down: the epoch moves on, the members are
//! told once, and only the keeper ([`super::keeper`]) reconnects, with [`Backoff`]; the other
//! tasks wait for it ([`Link::wait_up`]) or refuse ([`Link::current`]). When the keeper has
//! restored the link (checked with PING, this server registered again), it shares the new
//! connection, and every task replaces an older connection before its next command. So a
//! connection that died with the old Redis is never used after the link is back, and its
//! late failure is recognised as stale (older epoch) instead of taking the link down again.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_channel::Sender;
use event_listener::{Event as Signal, EventListener};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError, RedisResult};

use super::target::Target;
use crate::relay::Event;

/// How long a command may take before the connection counts as lost. (The redis crate's
/// default is 500 ms, too short for a busy Redis; blocking reads get their own.)
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Reconnecting waits this long at first, doubling up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(100);

/// The longest wait between two tries to reach Redis: short enough that a room is back
/// within about two seconds of its Redis.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// How long to wait before trying Redis again: [`BACKOFF_MIN`], doubling with each failure
/// up to [`BACKOFF_MAX`], back to the minimum after a success.
#[derive(Debug)]
pub(crate) struct Backoff(Duration);

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff(BACKOFF_MIN)
    }

    /// The wait before the next try (and a longer one for the try after).
    pub(crate) fn next(&mut self) -> Duration {
        let wait = self.0;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        wait
    }

    pub(crate) fn reset(&mut self) {
        self.0 = BACKOFF_MIN;
    }
}

/// A connection, and the epoch of the link it was made in.
#[derive(Clone)]
pub(crate) struct Conn {
    /// The link's epoch when it was made.
    pub(crate) epoch: u64,
    /// The connection.
    pub(crate) con: MultiplexedConnection,
}

/// The link's state.
struct State {
    /// Counts losses of the link: a connection from an older epoch is stale.
    epoch: u64,
    /// Whether the link is up (restored and not lost since).
    up: bool,
    /// Whether the members were told the link is down (and so must hear it is back).
    told: bool,
    /// The connection the tasks share while the link is up.
    shared: Option<MultiplexedConnection>,
    /// The Redis address reached last (it changes when Sentinel fails over).
    reached: String,
}

/// The link to the room's Redis.
pub(crate) struct Link {
    target: Target,
    state: Mutex<State>,
    /// Wakes the tasks waiting for the link to come back (or to go).
    changed: Signal,
    /// The broadcaster: told when the link is lost and found.
    events: Sender<Event>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Link({})", self.target.shown())
    }
}

impl Link {
    /// A link that is up, on `con` (which reached `reached`).
    pub(crate) fn new(
        target: Target,
        events: Sender<Event>,
        con: MultiplexedConnection,
        reached: String,
    ) -> Link {
        let state = State {
            epoch: 0,
            up: true,
            told: false,
            shared: Some(con),
            reached,
        };
        Link {
            target,
            state: Mutex::new(state),
            changed: Signal::new(),
            events,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where the room's Redis is, for log lines.
    pub(crate) fn shown(&self) -> &str {
        self.target.shown()
    }

    /// A new connection to the room's Redis whose replies may take up to
    /// `response_timeout`, checked with PING; and the address it reached.
    pub(crate) async fn open(
        &self,
        response_timeout: Duration,
    ) -> RedisResult<(MultiplexedConnection, String)> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(response_timeout));
        let (mut con, reached) = self.target.connect(&config, RESPONSE_TIMEOUT).await?;
        redis::cmd("PING").query_async::<()>(&mut con).await?;
        Ok((con, reached))
    }

    /// The shared connection, if the link is up.
    pub(crate) fn current(&self) -> Option<Conn> {
        let state = self.state();
        match (&state.shared, state.up) {
            (Some(con), true) => Some(Conn {
                epoch: state.epoch,
                con: con.clone(),
            }),
            _ => None,
        }
    }

    /// The link's epoch now.
    pub(crate) fn epoch(&self) -> u64 {
        self.state().epoch
    }

    /// Whether the link is up.
    pub(crate) fn is_up(&self) -> bool {
        self.state().up
    }

    /// A listener woken at the link's next change; take it before looking at the link.
    pub(crate) fn listen(&self) -> EventListener {
        self.changed.listen()
    }

    /// Waits until the link is up; its shared connection.
    pub(crate) async fn wait_up(&self) -> Conn {
        loop {
            let listener = self.listen();
            if let Some(conn) = self.current() {
                return conn;
            }
            listener.await;
        }
    }

    /// A command on a connection of `epoch` failed: unless the link was lost and found
    /// since (the connection is just stale), the link is down, and the room is told once.
    pub(crate) fn failed(&self, epoch: u64, error: &RedisError) {
        if self.go_down(epoch, true) {
            eprintln!(
                "gochat: lost redis at {}: {}; reconnecting",
                self.target.shown(),
                describe(error)
            );
            let _ = self.events.try_send(Event::LinkDown);
        }
    }

    /// This server is not (or no longer) in the room as far as Redis knows: the link must
    /// be made again (the keeper re-registers this server), but the members are not told
    /// the link is down: the keeper tells them what happened.
    pub(crate) fn fence(&self, epoch: u64) {
        self.go_down(epoch, false);
    }

    /// Takes the link down if `epoch` is current and it is up; returns whether it did and
    /// the room should be told.
    fn go_down(&self, epoch: u64, tell: bool) -> bool {
        let mut state = self.state();
        if epoch != state.epoch || !state.up {
            return false;
        }
        state.epoch += 1;
        state.up = false;
        state.shared = None;
        state.told = tell;
        drop(state);
        self.changed.notify(usize::MAX);
        tell
    }

    /// The keeper restored the link on `con`, which reached `reached`: the tasks share it
    /// from now on, and the room hears the link is back if it heard it was lost.
    pub(crate) fn restored(&self, con: MultiplexedConnection, reached: String) {
        let mut state = self.state();
        state.up = true;
        state.shared = Some(con);
        let told = std::mem::take(&mut state.told);
        let moved = reached != state.reached;
        state.reached = reached;
        let reached = state.reached.clone();
        drop(state);
        if moved {
            eprintln!("gochat: redis for the room is now {reached}");
        }
        if told {
            eprintln!("gochat: redis is back");
            let _ = self.events.try_send(Event::LinkUp);
        }
        self.changed.notify(usize::MAX);
    }
}

/// A Redis error in a few words ("connection refused", not "Connection refused (os error
/// 111)").
pub(crate) fn describe(error: &RedisError) -> String {
    crate::error::tidy(&error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_ceiling_and_starts_over() {
        let mut backoff = Backoff::new();
        let waits: Vec<Duration> = (0..7).map(|_| backoff.next()).collect();
        assert_eq!(waits[0], BACKOFF_MIN);
        assert_eq!(waits[1], BACKOFF_MIN * 2);
        assert_eq!(waits[6], BACKOFF_MAX);
        backoff.reset();
        assert_eq!(backoff.next(), BACKOFF_MIN);
    }
}
