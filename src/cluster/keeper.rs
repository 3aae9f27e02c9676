//! The keeper: keeps this server in the room. While the link is up it renews the heartbeat
//! every [`HEARTBEAT`], reports how far this server has read the log (and learns how far
//! everyone has), and declares lost the servers that stopped heartbeating. While the link is
//! down it is the one task that reconnects, with backoff, and restores the link: checks the
//! new connection, learns whether this server is still in the room, registers it again if
//! Redis lost it or the room declared it lost (*fencing*), and only then lets the other
//! tasks use the link.
//!
//! Declaring a server lost takes two heartbeats without it (it is suspected at the first),
//! and a link up for at least [`REAP_GRACE`]: after Redis itself was away, every heartbeat
//! in it has expired, and the others need time to renew theirs. It is one script
//! ([`REAP`]), so of several servers that notice, one does it: the lost server leaves
//! `servers`, its roster and names are given back, its members are announced as
//! `NAME has left (server lost)`, and a mark (`reaped:SID`) waits for it should it come back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use async_channel::Sender;
use futures_lite::FutureExt;
use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Value};
use smol::Timer;

use super::limits::{ALIVE_TTL, HEARTBEAT, REAP_GRACE, REAPED_TTL};
use super::link::{Backoff, Conn, RESPONSE_TIMEOUT, describe};
use super::node::{Node, now_ms};
use super::publisher::Notice;
use super::reply::EntryId;
use super::roster::{self, parse_roster};
use crate::relay::Standing;

/// Renews this server's heartbeat, if it is in the room. KEYS: servers, alive:SID,
/// reaped:SID, read. ARGV: SID, the heartbeat's life in ms, the id of the last entry it
/// read. Returns 0 (in the room, renewed), 1 (not in the room: Redis lost it) or 2 (the
/// room declared it lost).
const BEAT: &str = r"
if redis.call('EXISTS', KEYS[3]) == 1 then return 2 end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 1 end
redis.call('SET', KEYS[2], 1, 'PX', ARGV[2])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
return 0
";

/// Declares server SID lost, if its heartbeat has expired and nobody did already. KEYS:
/// servers, alive:SID, roster:SID, names, reaped:SID, read. ARGV: SID, now in ms, how long
/// to keep the mark in ms. Returns its roster's values (nil if not declared lost now).
const REAP: &str = r"
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return false end
local roster = redis.call('HVALS', KEYS[3])
redis.call('DEL', KEYS[3])
local names = redis.call('HGETALL', KEYS[4])
local prefix = ARGV[1] .. ':'
for i = 1, #names, 2 do
  if string.sub(names[i + 1], 1, #prefix) == prefix then redis.call('HDEL', KEYS[4], names[i]) end
end
redis.call('HDEL', KEYS[6], ARGV[1])
redis.call('SET', KEYS[5], ARGV[2], 'PX', ARGV[3])
return roster
";

/// Where this server stands in the room, as [`BEAT`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In the room.
    In,
    /// Not in the room: Redis lost it (a restart, a failover).
    Unknown,
    /// The room declared it lost.
    Reaped,
}

/// What one heartbeat learned.
struct Beat {
    place: Place,
    /// The servers in the room.
    servers: Vec<String>,
    /// How far each has read the log.
    read: HashMap<String, String>,
}

/// The keeper's state.
struct Keeper {
    node: Arc<Node>,
    /// The publisher: the notices of servers declared lost.
    notices: Sender<Notice>,
    backoff: Backoff,
    /// When the link was last restored: no server is declared lost before [`REAP_GRACE`].
    up_since: Instant,
    /// Servers whose heartbeat had expired at the last heartbeat.
    suspects: HashSet<String>,
    /// Why the last try to reconnect failed, as logged (logged again only when it changes).
    last_error: String,
}

/// Keeps this server in the room, forever.
pub(crate) async fn keep(node: Arc<Node>, notices: Sender<Notice>) {
    let mut keeper = Keeper {
        node,
        notices,
        backoff: Backoff::new(),
        up_since: Instant::now(),
        suspects: HashSet::new(),
        last_error: String::new(),
    };
    loop {
        if keeper.node.link.is_up() {
            keeper.heartbeat().await;
        } else {
            keeper.reconnect().await;
        }
    }
}

impl Keeper {
    /// Waits for the next heartbeat (or the link going down), then beats.
    async fn heartbeat(&mut self) {
        let node = Arc::clone(&self.node);
        let link = &node.link;
        let listener = link.listen();
        if !link.is_up() {
            return;
        }
        let changed = async {
            listener.await;
            false
        };
        let due = async {
            Timer::after(HEARTBEAT).await;
            true
        };
        if !due.or(changed).await {
            return;
        }
        let Some(mut conn) = link.current() else {
            return;
        };
        if let Err(e) = self.beat(&mut conn).await {
            link.failed(conn.epoch, &e);
        }
    }

    /// Renews the heartbeat; learns what everyone has read; declares lost the servers
    /// that stopped.
    async fn beat(&mut self, conn: &mut Conn) -> RedisResult<()> {
        let beat = beat(&mut conn.con, &self.node).await?;
        if beat.place != Place::In {
            self.node.link.fence(conn.epoch); // reconnect() rejoins
            return Ok(());
        }
        self.node.beat();
        // Not before the publisher has looked for what Redis lost since the link was
        // restored: until then, what everyone has read is what it was before.
        if self.node.checked() == conn.epoch {
            self.node.set_horizon(horizon(&self.node, &beat));
        }
        self.reap(&mut conn.con, &beat.servers).await
    }

    /// Declares lost the servers whose heartbeat expired before the last beat and still is
    /// (once the link has been up for [`REAP_GRACE`]; until then it only suspects them).
    async fn reap(
        &mut self,
        con: &mut MultiplexedConnection,
        servers: &[String],
    ) -> RedisResult<()> {
        let others: Vec<&String> = servers.iter().filter(|s| **s != self.node.sid).collect();
        if others.is_empty() {
            self.suspects.clear();
            return Ok(()); // (an empty pipeline is an error to the redis crate)
        }
        let mut pipe = redis::pipe();
        for sid in &others {
            pipe.cmd("EXISTS").arg(self.node.keys.alive(sid));
        }
        let alive: Vec<bool> = pipe.query_async(con).await?;
        let expired: HashSet<String> = others
            .into_iter()
            .zip(alive)
            .filter(|(_, alive)| !alive)
            .map(|(sid, _)| sid.clone())
            .collect();
        if self.up_since.elapsed() >= REAP_GRACE {
            for sid in expired.intersection(&self.suspects) {
                if let Some(roster) = reap_one(con, &self.node, sid).await? {
                    self.announce_lost(sid, roster);
                }
            }
        }
        self.suspects = expired;
        Ok(())
    }

    /// Tells the room that the members of `sid`, declared lost, have left.
    fn announce_lost(&self, sid: &str, roster: Vec<String>) {
        let mut members: Vec<(u64, String)> =
            roster.iter().filter_map(|v| parse_roster(v)).collect();
        members.sort();
        eprintln!(
            "gochat: server {sid} stopped answering; {} of its members left",
            members.len()
        );
        let lines: Vec<u8> = members
            .iter()
            .flat_map(|(_, name)| format!("{name} has left (server lost)\n").into_bytes())
            .collect();
        if !lines.is_empty() {
            let notice = Notice {
                lines,
                skip: Some(sid.to_string()),
            };
            let _ = self.notices.try_send(notice);
        }
    }

    /// Tries to restore the link; waits before the next try if it fails.
    async fn reconnect(&mut self) {
        match self.restore().await {
            Ok(()) => {
                self.last_error.clear();
                self.backoff.reset();
                self.up_since = Instant::now();
                self.suspects.clear();
            }
            Err(e) => {
                let why = describe(&e);
                if why != self.last_error {
                    eprintln!(
                        "gochat: cannot reach redis at {}: {why}",
                        self.node.link.shown()
                    );
                    self.last_error = why;
                }
                Timer::after(self.backoff.next()).await;
            }
        }
    }

    /// Makes a new connection, puts this server back in the room if it is not, and
    /// restores the link on it.
    async fn restore(&mut self) -> RedisResult<()> {
        let node = &self.node;
        let (mut con, reached) = node.link.open(RESPONSE_TIMEOUT).await?;
        let place = beat(&mut con, node).await?.place;
        if place != Place::In {
            let lost_for = node.since_beat();
            let names_lost = roster::register(&mut con, node).await?;
            if place == Place::Reaped {
                eprintln!(
                    "gochat: the room declared this server lost; rejoining after {}s",
                    lost_for.as_secs()
                );
                node.set_rejoin();
                let _ = node.standing.try_send(Standing::Rejoining { lost_for });
            }
            for (member, name) in names_lost {
                eprintln!("gochat: name {name:?} was taken while this server was away");
                let _ = node.standing.try_send(Standing::NameLost { member, name });
            }
        }
        node.beat();
        node.link.restored(con, reached);
        Ok(())
    }
}

/// Runs [`BEAT`], and reads who is in the room and how far each has read.
async fn beat(con: &mut MultiplexedConnection, node: &Node) -> RedisResult<Beat> {
    let keys = &node.keys;
    let mut pipe = redis::pipe();
    pipe.cmd("EVAL")
        .arg(BEAT)
        .arg(4)
        .arg(&keys.servers)
        .arg(keys.alive(&node.sid))
        .arg(keys.reaped(&node.sid))
        .arg(&keys.read)
        .arg(&node.sid)
        .arg(ALIVE_TTL.as_millis() as u64)
        .arg(node.read().to_string());
    pipe.cmd("SMEMBERS").arg(&keys.servers);
    pipe.cmd("HGETALL").arg(&keys.read);
    let (place, servers, read): (i64, Vec<String>, HashMap<String, String>) =
        pipe.query_async(con).await?;
    let place = match place {
        0 => Place::In,
        1 => Place::Unknown,
        _ => Place::Reaped,
    };
    Ok(Beat {
        place,
        servers,
        read,
    })
}

/// What every server in the room has read: the lowest of their positions (this server's
/// own, fresher, from the subscriber). A server that has not said counts as having read
/// nothing.
fn horizon(node: &Node, beat: &Beat) -> EntryId {
    beat.servers
        .iter()
        .map(|sid| match sid == &node.sid {
            true => node.read(),
            false => beat
                .read
                .get(sid)
                .and_then(|id| EntryId::parse(id))
                .unwrap_or(EntryId::START),
        })
        .min()
        .unwrap_or_else(|| node.read())
}

/// Runs [`REAP`] for `sid`: its roster if this server declared it lost.
async fn reap_one(
    con: &mut MultiplexedConnection,
    node: &Node,
    sid: &str,
) -> RedisResult<Option<Vec<String>>> {
    let keys = &node.keys;
    let roster: Value = redis::cmd("EVAL")
        .arg(REAP)
        .arg(6)
        .arg(&keys.servers)
        .arg(keys.alive(sid))
        .arg(keys.roster(sid))
        .arg(&keys.names)
        .arg(keys.reaped(sid))
        .arg(&keys.read)
        .arg(sid)
        .arg(now_ms())
        .arg(REAPED_TTL.as_millis() as u64)
        .query_async(con)
        .await?;
    Ok(match roster {
        Value::Nil => None,
        roster => Some(redis::from_redis_value(roster).unwrap_or_default()),
    })
}
