//! Who is in the room on this server, and the names they took with `/nick`.
//!
//! A member is known by its address until it takes a name. Names are unique in the room,
//! compared without case ([`chat::name_key`]); on this server the roster keeps them so, and
//! in a cluster the backend keeps them so across servers (the roster then holds only the
//! names the backend granted). Members are listed in order of arrival, as `/who` shows them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::chat;
use crate::room::Link;

/// A member as the broadcaster sees it. Small on purpose: there is one per member.
#[derive(Debug)]
pub struct Member {
    /// What it shares with its reader and writer.
    pub link: Arc<Link>,
    /// The name it took with `/nick` (held in the names index), if any.
    nick: Option<Box<str>>,
}

impl Member {
    /// How the room calls it: its name, or else its address.
    pub fn name(&self) -> &str {
        self.nick.as_deref().unwrap_or(&self.link.name)
    }

    /// The name it took with `/nick`, if any.
    pub fn nick(&self) -> Option<&str> {
        self.nick.as_deref()
    }
}

/// The members of the room on this server.
#[derive(Debug, Default)]
pub struct Roster {
    /// Who is in the room, by id (ids grow in order of arrival).
    members: HashMap<u64, Member>,
    /// Names taken with `/nick`, by [`chat::name_key`], and who holds each.
    names: HashMap<String, u64>,
}

impl Roster {
    /// Adds a newcomer, known by its address.
    pub fn add(&mut self, link: Arc<Link>) {
        self.members.insert(link.id, Member { link, nick: None });
    }

    /// Takes member `id` out, freeing its name.
    pub fn remove(&mut self, id: u64) -> Option<Member> {
        let member = self.members.remove(&id)?;
        if let Some(nick) = &member.nick {
            self.names.remove(&chat::name_key(nick));
        }
        Some(member)
    }

    /// Member `id`, if it is here.
    pub fn get(&self, id: u64) -> Option<&Member> {
        self.members.get(&id)
    }

    /// Member `id`'s link, if it is here.
    pub fn link(&self, id: u64) -> Option<Arc<Link>> {
        self.members.get(&id).map(|m| Arc::clone(&m.link))
    }

    /// How many members are here.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether nobody is here.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Every member, in no particular order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// Takes every member out, for shutdown.
    pub fn drain(&mut self) -> impl Iterator<Item = Member> + '_ {
        self.names.clear();
        self.members.drain().map(|(_, member)| member)
    }

    /// Whether member `id` may take the name `wanted`; if not, why not (a line for it).
    pub fn may_take(&self, id: u64, wanted: &str) -> Result<(), String> {
        chat::check_name(wanted)?;
        if self.get(id).is_some_and(|m| m.name() == wanted) {
            return Err(format!("you are already {wanted}"));
        }
        let holder = self.names.get(&chat::name_key(wanted));
        if holder.is_some_and(|holder| *holder != id) {
            return Err(format!("name {wanted:?} is taken"));
        }
        Ok(())
    }

    /// Gives member `id` the name `wanted` (agreed to be free); returns the name it had.
    pub fn rename(&mut self, id: u64, wanted: &str) -> Option<String> {
        let member = self.members.get_mut(&id)?;
        let old = member.name().to_string();
        if let Some(nick) = member.nick.replace(wanted.into()) {
            self.names.remove(&chat::name_key(&nick));
        }
        self.names.insert(chat::name_key(wanted), id);
        Some(old)
    }

    /// Everyone's name, in order of arrival: what `/who` lists.
    pub fn who(&self) -> Vec<&str> {
        let mut present: Vec<&Member> = self.members.values().collect();
        present.sort_unstable_by_key(|m| m.link.id);
        present.into_iter().map(Member::name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster(names: &[&str]) -> Roster {
        let mut roster = Roster::default();
        for (i, name) in names.iter().enumerate() {
            roster.add(Arc::new(Link::new(i as u64 + 1, name.to_string())));
        }
        roster
    }

    #[test]
    fn a_name_is_taken_once_without_regard_to_case() {
        let mut roster = roster(&["127.0.0.1:1", "127.0.0.1:2"]);
        assert_eq!(roster.may_take(1, "ada"), Ok(()));
        assert_eq!(roster.rename(1, "ada").as_deref(), Some("127.0.0.1:1"));
        assert_eq!(
            roster.may_take(2, "ADA"),
            Err("name \"ADA\" is taken".into())
        );
        assert_eq!(roster.may_take(1, "ada"), Err("you are already ada".into()));
        assert_eq!(
            roster.may_take(1, "Ada"),
            Ok(()),
            "a member may change its case"
        );
    }

    #[test]
    fn leaving_frees_a_name_and_a_new_name_frees_the_old() {
        let mut roster = roster(&["127.0.0.1:1", "127.0.0.1:2"]);
        roster.rename(1, "ada");
        roster.rename(1, "grace");
        assert_eq!(roster.may_take(2, "ada"), Ok(()));
        roster.remove(1);
        assert_eq!(roster.may_take(2, "grace"), Ok(()));
    }

    #[test]
    fn who_lists_names_in_order_of_arrival() {
        let mut roster = roster(&["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]);
        roster.rename(3, "ada");
        assert_eq!(roster.who(), ["127.0.0.1:1", "127.0.0.1:2", "ada"]);
    }
}
