//! The room's keys in Redis: the one place that names them.
//!
//! Everything of room `ROOM` lives under `gochat:ROOM:`, so rooms share a Redis without
//! meeting, and `redis-cli --scan --pattern 'gochat:ROOM:*'` shows a room whole:
//!
//! | key | type | what |
//! |---|---|---|
//! | `log` | stream | the room: one entry per batch of lines (`l`), with its origin (`sid`, `seq`) |
//! | `servers` | set | the ids of the servers in the room |
//! | `alive:SID` | string | a server's heartbeat, expiring after [`super::limits::ALIVE_TTL`] |
//! | `roster:SID` | hash | a server's members: member id → `JOIN_MS NAME` |
//! | `names` | hash | names taken with `/nick`: lowercased name → `SID:MEMBER` |
//! | `read` | hash | server id → the id of the last entry it has read |
//! | `reaped:SID` | string | set when a server was declared lost (expires after [`super::limits::REAPED_TTL`]) |
//!
//! A server is in the room while its id is in `servers`; `/who` lists the rosters of those
//! servers, and a name is held while its holder's server is in the room. `read` tells each
//! server what everyone has read, so that it knows what to publish again after Redis lost
//! entries; `reaped:SID` tells a server that comes back that the room declared it lost.

/// The keys of one room.
#[derive(Debug)]
pub(crate) struct Keys {
    prefix: String,
    /// The stream of the room's lines.
    pub(crate) log: String,
    /// The set of server ids in the room.
    pub(crate) servers: String,
    /// Names taken with `/nick`, and who holds each.
    pub(crate) names: String,
    /// How far each server has read the log.
    pub(crate) read: String,
}

impl Keys {
    /// The keys of room `room`.
    pub(crate) fn new(room: &str) -> Keys {
        let prefix = format!("gochat:{room}:");
        Keys {
            log: format!("{prefix}log"),
            servers: format!("{prefix}servers"),
            names: format!("{prefix}names"),
            read: format!("{prefix}read"),
            prefix,
        }
    }

    /// Server `sid`'s heartbeat.
    pub(crate) fn alive(&self, sid: &str) -> String {
        format!("{}alive:{sid}", self.prefix)
    }

    /// Server `sid`'s members.
    pub(crate) fn roster(&self, sid: &str) -> String {
        format!("{}roster:{sid}", self.prefix)
    }

    /// The mark left when server `sid` was declared lost.
    pub(crate) fn reaped(&self, sid: &str) -> String {
        format!("{}reaped:{sid}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_under_the_rooms_prefix() {
        let keys = Keys::new("lab");
        assert_eq!(keys.log, "gochat:lab:log");
        assert_eq!(keys.servers, "gochat:lab:servers");
        assert_eq!(keys.names, "gochat:lab:names");
        assert_eq!(keys.read, "gochat:lab:read");
        assert_eq!(keys.alive("s1"), "gochat:lab:alive:s1");
        assert_eq!(keys.roster("s1"), "gochat:lab:roster:s1");
        assert_eq!(keys.reaped("s1"), "gochat:lab:reaped:s1");
    }
}
