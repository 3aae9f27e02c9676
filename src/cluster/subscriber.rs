//! The subscriber: reads the room's log, in order, and hands each new entry to the
//! broadcaster. After trouble it carries on from the last entry it read, on a connection of
//! the restored link.
//!
//! Every entry carries its origin (`sid`) and that server's sequence number (`seq`); an
//! entry whose number is not above the last one delivered from its server is a copy (a
//! server published it again after Redis lost entries, and this one had been read before),
//! and is skipped, so no member gets a line twice. Entries marked `skip` with this server's
//! id are about this server itself (its members declared lost, then announced again): the
//! other servers' members see them, this server's members, who never left, do not.

use std::collections::HashMap;
use std::sync::Arc;

use async_channel::Sender;
use redis::{RedisResult, Value};

use super::limits::{XREAD_BLOCK, XREAD_COUNT};
use super::link::{Conn, RESPONSE_TIMEOUT};
use super::node::Node;
use super::reply::{
    EntryId, Fields, field, field_str, field_u64, parse_stream_reply, sanitize_lines,
};
use crate::relay::Entry;

/// The subscriber's state.
struct Subscriber {
    node: Arc<Node>,
    /// The broadcaster. Bounded: while the broadcaster waits for a slow member, the
    /// subscriber stops reading.
    entries: Sender<Entry>,
    /// Where to read on from: the last entry read.
    last: EntryId,
    /// The highest sequence number delivered from each server.
    seen: HashMap<String, u64>,
    /// Its own connection (XREAD blocks, so it cannot share one), of a link epoch.
    con: Option<Conn>,
}

/// Reads the log from just after `from`, forever, handing new entries to `entries`.
pub(crate) async fn subscribe(node: Arc<Node>, entries: Sender<Entry>, from: EntryId) {
    let mut subscriber = Subscriber {
        node,
        entries,
        last: from,
        seen: HashMap::new(),
        con: None,
    };
    loop {
        let mut conn = subscriber.connection().await;
        let reply = match read(&mut conn, &subscriber.node, subscriber.last).await {
            Ok(reply) => reply,
            Err(e) => {
                subscriber.node.link.failed(conn.epoch, &e);
                subscriber.con = None;
                continue;
            }
        };
        if !subscriber.deliver(parse_stream_reply(reply)).await {
            return; // the room is gone
        }
    }
}

/// One XREAD of the log after `last`, waiting up to [`XREAD_BLOCK`] for entries.
async fn read(conn: &mut Conn, node: &Node, last: EntryId) -> RedisResult<Value> {
    redis::cmd("XREAD")
        .arg("COUNT")
        .arg(XREAD_COUNT)
        .arg("BLOCK")
        .arg(XREAD_BLOCK.as_millis() as u64)
        .arg("STREAMS")
        .arg(&node.keys.log)
        .arg(last.to_string())
        .query_async(&mut conn.con)
        .await
}

impl Subscriber {
    /// Its connection: the one it has if the link has not been lost since it was made,
    /// otherwise a new one, made once the link is up.
    async fn connection(&mut self) -> Conn {
        loop {
            if let Some(conn) = &self.con {
                if conn.epoch == self.node.link.epoch() {
                    return conn.clone();
                }
            }
            self.con = None;
            let epoch = self.node.link.wait_up().await.epoch;
            match self.node.link.open(XREAD_BLOCK + RESPONSE_TIMEOUT).await {
                Ok((con, _)) => self.con = Some(Conn { epoch, con }),
                Err(e) => self.node.link.failed(epoch, &e),
            }
        }
    }

    /// Hands the new ones of `entries` to the broadcaster. Returns false when it is gone.
    async fn deliver(&mut self, entries: Vec<(EntryId, Fields)>) -> bool {
        if let Some((last, _)) = entries.last() {
            self.last = *last;
            // Read from Redis, so safe from it: the publishers need not keep them for us.
            self.node.read_to(*last);
        }
        for (_, fields) in entries {
            if let Some(entry) = self.entry(&fields) {
                if self.entries.send(entry).await.is_err() {
                    return false;
                }
            }
        }
        true
    }

    /// The entry to deliver for `fields`, or `None` for a copy, an entry this server's
    /// members skip, or one that is not ours to read.
    fn entry(&mut self, fields: &Fields) -> Option<Entry> {
        let sid = field_str(fields, "sid")?;
        let seq = field_u64(fields, "seq")?;
        let lines = field(fields, "l")?;
        let newest = self.seen.entry(sid.to_string()).or_insert(0);
        if seq <= *newest {
            return None;
        }
        *newest = seq;
        if field_str(fields, "skip") == Some(self.node.sid.as_str()) {
            return None;
        }
        let ours = sid == self.node.sid;
        let member = |name| ours.then(|| field_u64(fields, name)).flatten();
        Some(Entry {
            lines: sanitize_lines(lines),
            arrival: member("arrival"),
            leave: member("leave"),
        })
    }
}
