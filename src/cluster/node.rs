//! This server as one node of the room: its id, the room's keys, the link to Redis, its
//! members as the room should know them, and how far it has read the log. Shared by the
//! cluster's tasks (publisher, subscriber, keeper, commands).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_channel::Sender;

use super::keys::Keys;
use super::link::Link;
use super::reply::EntryId;
use crate::relay::{Event, Standing, Window};

/// One of this server's members, as the room knows it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// When it joined (ms since the epoch): `/who` lists the room in this order.
    pub(crate) joined: u64,
    /// Its address, as the room shows a member without a name.
    pub(crate) addr: String,
    /// The name it took with `/nick`, if any.
    pub(crate) name: Option<String>,
}

impl Member {
    /// How the room shows it.
    pub(crate) fn shown(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.addr)
    }

    /// Its value in the roster: `JOIN_MS NAME`.
    pub(crate) fn roster_value(&self) -> String {
        format!("{} {}", self.joined, self.shown())
    }
}

/// What the cluster's tasks share.
#[derive(Debug)]
pub(crate) struct Node {
    /// This server's id in the room, unique to this process.
    pub(crate) sid: String,
    /// The room's keys.
    pub(crate) keys: Keys,
    /// The link to Redis.
    pub(crate) link: Link,
    /// This server's members: member id → member. The keeper registers them again from
    /// here whenever Redis may have lost them.
    members: Mutex<HashMap<u64, Member>>,
    /// The id of the last entry the subscriber has read from the log.
    read: Mutex<EntryId>,
    /// The lowest `read` of the servers in the room, as of the last heartbeat: entries up to
    /// it have been read by everyone and need never be published again.
    horizon: Mutex<EntryId>,
    /// Set by the keeper when this server goes back into the room after being declared
    /// lost: the publisher announces its members again before anything else.
    rejoin: AtomicBool,
    /// The link epoch the publisher has looked for lost entries in (see
    /// [`super::publisher`]).
    checked: AtomicU64,
    /// When the heartbeat last got through: how long a lost server was away.
    last_beat: Mutex<Instant>,
    /// The broadcaster: link trouble and answers.
    pub(crate) events: Sender<Event>,
    /// The broadcaster: this server's standing in the room (see [`Standing`]).
    pub(crate) standing: Sender<Standing>,
    /// Bytes of lines on their way to Redis: the broadcaster's publish window.
    pub(crate) window: Arc<Window>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Node {
    /// A node with id `sid` of the room `keys` name, reached through `link`.
    pub(crate) fn new(
        sid: String,
        keys: Keys,
        link: Link,
        events: Sender<Event>,
        standing: Sender<Standing>,
        read: EntryId,
    ) -> Node {
        Node {
            sid,
            keys,
            link,
            members: Mutex::new(HashMap::new()),
            read: Mutex::new(read),
            horizon: Mutex::new(read),
            rejoin: AtomicBool::new(false),
            checked: AtomicU64::new(0),
            last_beat: Mutex::new(Instant::now()),
            events,
            standing,
            window: Arc::new(Window::default()),
        }
    }

    /// How the room refers to member `member` of this server in `names`: `SID:MEMBER`.
    pub(crate) fn member_ref(&self, member: u64) -> String {
        format!("{}:{member}", self.sid)
    }

    /// This server's members, to read or change.
    pub(crate) fn members(&self) -> MutexGuard<'_, HashMap<u64, Member>> {
        lock(&self.members)
    }

    /// Notes that the subscriber has read the log up to `id`.
    pub(crate) fn read_to(&self, id: EntryId) {
        *lock(&self.read) = id;
    }

    /// The id of the last entry the subscriber has read.
    pub(crate) fn read(&self) -> EntryId {
        *lock(&self.read)
    }

    /// Notes what every server in the room has read, as the heartbeat found it.
    pub(crate) fn set_horizon(&self, id: EntryId) {
        *lock(&self.horizon) = id;
    }

    /// What every server in the room has read, as of the last heartbeat.
    pub(crate) fn horizon(&self) -> EntryId {
        *lock(&self.horizon)
    }

    /// Asks the publisher to announce this server's members again.
    pub(crate) fn set_rejoin(&self) {
        self.rejoin.store(true, Ordering::Release);
    }

    /// Takes the publisher's task of announcing this server's members again, if it has one.
    pub(crate) fn take_rejoin(&self) -> bool {
        self.rejoin.swap(false, Ordering::AcqRel)
    }

    /// Notes that the publisher has looked for what Redis lost in link epoch `epoch`.
    pub(crate) fn set_checked(&self, epoch: u64) {
        self.checked.store(epoch, Ordering::Release);
    }

    /// The link epoch the publisher has looked for lost entries in.
    pub(crate) fn checked(&self) -> u64 {
        self.checked.load(Ordering::Acquire)
    }

    /// Notes that the heartbeat got through now.
    pub(crate) fn beat(&self) {
        *lock(&self.last_beat) = Instant::now();
    }

    /// How long since the heartbeat last got through.
    pub(crate) fn since_beat(&self) -> Duration {
        lock(&self.last_beat).elapsed()
    }
}

/// A server id unique enough for a room: the time it started and the process id.
pub(crate) fn server_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}{:08x}", nanos, std::process::id())
}

/// Milliseconds since the Unix epoch, for the roster's join times.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
