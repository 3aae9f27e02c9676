//! The cluster's limits and timings, each with why it has its value.

use std::time::Duration;

/// How often a server renews its heartbeat (and looks for servers that stopped).
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long a heartbeat lasts: a server silent this long is suspected lost, and declared
/// lost (its members leave the room) when it is still silent at the next heartbeat.
pub const ALIVE_TTL: Duration = Duration::from_secs(3);

/// How long a server's link must have been up before it declares other servers lost: after
/// Redis itself was away (paused, restarted), every heartbeat in it has expired, and the
/// others need this long to reconnect (at most 2 s apart: the reconnecting backoff's ceiling) and
/// renew theirs.
pub const REAP_GRACE: Duration = Duration::from_secs(5);

/// How long the mark of a server declared lost is kept: a server that comes back later than
/// this finds no mark and rejoins as after a Redis restart, without telling its members.
pub const REAPED_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The stream keeps about this many entries (each a batch of one or more lines): far more
/// than the longest history, and minutes of a busy room for a server that fell behind.
pub const LOG_MAXLEN: usize = 100_000;

/// The most bytes of lines a server holds while Redis is unreachable: a cap above the
/// publish window, for bursts that arrive all at once. Past it, senders are told their
/// lines were not sent.
pub const HELD_LIMIT: usize = 4 * 1024 * 1024;

/// The most bytes of published lines a server keeps until every server has read them, to
/// publish them again should Redis lose them (a restart, a failover). About a second of a
/// very busy room; a server further behind than this can lose lines if Redis loses them.
pub const RETAIN_LIMIT: usize = 4 * 1024 * 1024;

/// How long one XREAD waits for new entries before asking again.
pub(crate) const XREAD_BLOCK: Duration = Duration::from_millis(1000);

/// The most entries one XREAD returns.
pub(crate) const XREAD_COUNT: usize = 512;

/// The most entries one append (one script call) publishes.
pub(crate) const PUBLISH_BATCH: usize = 256;
