//! Who is in the room: putting this server and its members in it (at start, and again
//! whenever Redis may have lost them), taking them out at shutdown, and `/who`.

use std::collections::HashMap;

use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Value};

use super::limits::ALIVE_TTL;
use super::names;
use super::node::Node;

/// Puts this server in the room with its members: its heartbeat, its place in `servers`,
/// its roster, and its members' names, claimed again. Returns the members whose name another
/// member took while this server was not in the room (they are shown by address now).
pub(crate) async fn register(
    con: &mut MultiplexedConnection,
    node: &Node,
) -> RedisResult<Vec<(u64, String)>> {
    let keys = &node.keys;
    let mut pipe = redis::pipe();
    pipe.cmd("DEL").arg(keys.reaped(&node.sid)).ignore();
    pipe.cmd("SET")
        .arg(keys.alive(&node.sid))
        .arg(1)
        .arg("PX")
        .arg(ALIVE_TTL.as_millis() as u64)
        .ignore();
    pipe.cmd("SADD").arg(&keys.servers).arg(&node.sid).ignore();
    pipe.cmd("HSET")
        .arg(&keys.read)
        .arg(&node.sid)
        .arg(node.read().to_string())
        .ignore();
    pipe.query_async::<()>(con).await?;
    let lost = names::reclaim(con, node).await?;
    for (member, _) in &lost {
        if let Some(m) = node.members().get_mut(member) {
            m.name = None;
        }
    }
    write_roster(con, node).await?;
    Ok(lost)
}

/// Writes this server's roster afresh from its members.
async fn write_roster(con: &mut MultiplexedConnection, node: &Node) -> RedisResult<()> {
    let roster = node.keys.roster(&node.sid);
    let mut pipe = redis::pipe();
    pipe.cmd("DEL").arg(&roster).ignore();
    for (member, m) in node.members().iter() {
        pipe.cmd("HSET")
            .arg(&roster)
            .arg(member)
            .arg(m.roster_value())
            .ignore();
    }
    pipe.query_async(con).await
}

/// Takes this server out of the room (at shutdown): its heartbeat, roster, names, and its
/// place in `servers` and `read`.
pub(crate) async fn leave(con: &mut MultiplexedConnection, node: &Node) -> RedisResult<()> {
    let keys = &node.keys;
    let mut pipe = redis::pipe();
    pipe.cmd("DEL").arg(keys.alive(&node.sid)).ignore();
    pipe.cmd("DEL").arg(keys.roster(&node.sid)).ignore();
    pipe.cmd("SREM").arg(&keys.servers).arg(&node.sid).ignore();
    pipe.cmd("HDEL").arg(&keys.read).arg(&node.sid).ignore();
    for (member, m) in node.members().iter() {
        if let Some(name) = &m.name {
            names::release(&mut pipe, keys, name, &node.member_ref(*member));
        }
    }
    pipe.query_async::<()>(con).await
}

/// Everyone in the room, on every server in it, in order of arrival.
pub(crate) async fn everyone(
    con: &mut MultiplexedConnection,
    node: &Node,
) -> RedisResult<Vec<String>> {
    let keys = &node.keys;
    let servers: Vec<String> = redis::cmd("SMEMBERS")
        .arg(&keys.servers)
        .query_async(con)
        .await?;
    if servers.is_empty() {
        return Ok(Vec::new()); // (an empty pipeline is an error to the redis crate)
    }
    let mut pipe = redis::pipe();
    for sid in &servers {
        pipe.cmd("HGETALL").arg(keys.roster(sid));
    }
    let rosters: Vec<Value> = pipe.query_async(con).await?;
    let mut members: Vec<(u64, String)> = Vec::new();
    for roster in rosters {
        let roster: HashMap<String, String> = redis::from_redis_value(roster).unwrap_or_default();
        members.extend(roster.values().filter_map(|v| parse_roster(v)));
    }
    members.sort();
    Ok(members.into_iter().map(|(_, name)| name).collect())
}

/// Reads a roster value, `JOIN_MS NAME`.
pub(crate) fn parse_roster(value: &str) -> Option<(u64, String)> {
    let (joined, name) = value.split_once(' ')?;
    Some((joined.parse().ok()?, name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roster_values_parse() {
        assert_eq!(parse_roster("12 ada"), Some((12, "ada".into())));
        assert_eq!(parse_roster("x ada"), None);
        assert_eq!(parse_roster("12"), None);
    }
}
