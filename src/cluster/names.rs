//! Names across servers: taking one (`/nick`), giving it back, and claiming a server's
//! names again after Redis lost them or the room declared the server lost.
//!
//! A name is held by `SID:MEMBER` in the room's `names` hash while server `SID` is in the
//! room (in `servers`). Taking and giving back are each one Lua script, so they are atomic
//! across servers: of two servers that want the same name at once (say, a name a dead
//! server held), exactly one gets it.

use std::sync::LazyLock;

use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Script};

use super::keys::Keys;
use super::node::Node;
use crate::chat;

/// Takes a name for a member, or says who holds it. KEYS: names, servers. ARGV: the name
/// (lowercased), the member (`SID:MEMBER`), its server's id, its old name (lowercased) or
/// `""`. Returns 1 if taken (and the old name given back), 0 if a member of a server in the
/// room holds it, -1 if the asking server is not in the room itself (then it must not take
/// names until it has rejoined).
const TAKE: &str = r"
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 0 then return -1 end
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner and owner ~= ARGV[2] then
  local sid = string.match(owner, '^(.*):[^:]*$')
  if sid and redis.call('SISMEMBER', KEYS[2], sid) == 1 then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[4] ~= '' and ARGV[4] ~= ARGV[1] and redis.call('HGET', KEYS[1], ARGV[4]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[4])
end
return 1
";

/// [`TAKE`], hashed once for EVALSHA.
static TAKE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(TAKE));

/// Gives a name back if its holder is still the one given. KEYS: names. ARGV: the name
/// (lowercased), the holder (`SID:MEMBER`).
const RELEASE: &str = r"
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
";

/// What came of asking for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taken {
    /// It is the member's now.
    Granted,
    /// A member of a server in the room holds it.
    Held,
    /// This server is not in the room (it was declared lost and has not rejoined yet).
    NotInRoom,
}

/// Takes `wanted` for `member` if no member of a server in the room holds it, giving back
/// `old` (its previous name) in the same step.
pub(crate) async fn take(
    con: &mut MultiplexedConnection,
    node: &Node,
    member: u64,
    old: Option<&str>,
    wanted: &str,
) -> RedisResult<Taken> {
    let old = old.map(chat::name_key).unwrap_or_default();
    let answer: i64 = TAKE_SCRIPT
        .key(&node.keys.names)
        .key(&node.keys.servers)
        .arg(chat::name_key(wanted))
        .arg(node.member_ref(member))
        .arg(&node.sid)
        .arg(old)
        .invoke_async(con)
        .await?;
    Ok(match answer {
        1 => Taken::Granted,
        0 => Taken::Held,
        _ => Taken::NotInRoom,
    })
}

/// Adds to `pipe` giving back `name`, if `holder` (`SID:MEMBER`) still holds it.
pub(crate) fn release(pipe: &mut redis::Pipeline, keys: &Keys, name: &str, holder: &str) {
    pipe.cmd("EVAL")
        .arg(RELEASE)
        .arg(1)
        .arg(&keys.names)
        .arg(chat::name_key(name))
        .arg(holder)
        .ignore();
}

/// Claims again every name this server's members hold (after Redis lost them, or the room
/// declared this server lost). Returns the members whose name someone else took meanwhile,
/// with that name: they hold it no more (the caller says so).
pub(crate) async fn reclaim(
    con: &mut MultiplexedConnection,
    node: &Node,
) -> RedisResult<Vec<(u64, String)>> {
    let named: Vec<(u64, String)> = node
        .members()
        .iter()
        .filter_map(|(id, m)| Some((*id, m.name.clone()?)))
        .collect();
    let mut lost = Vec::new();
    for (member, name) in named {
        if take(con, node, member, None, &name).await? == Taken::Held {
            lost.push((member, name));
        }
    }
    Ok(lost)
}
