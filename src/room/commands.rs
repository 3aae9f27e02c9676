//! What each chat command does in the room: `/nick`, `/who`, `/me`, `/help`, `/quit`, `//`.
//!
//! [`chat`] says what a line means; this file carries it out, inside the broadcaster, in the
//! line's place in the room's order. Answers go to the sender alone, as notices due where
//! the command was; only `/nick` and `/me` change what the room hears. A member's reader
//! passes each command on alone and waits until it is done ([`Link::command_done`]), so the
//! lines after a `/nick` carry the new name.
//!
//! [`Link::command_done`]: crate::room::Link::command_done

use crate::chat::{self, Command};
use crate::room::Why;
use crate::room::broadcaster::Broadcaster;

impl Broadcaster {
    /// Carries out a command from member `id` (who is in the room).
    pub(super) fn command(&mut self, id: u64, line: &[u8]) {
        let Some(command) = chat::parse(line) else {
            return;
        };
        let Some(name) = self.roster.get(id).map(|m| m.name().to_string()) else {
            return;
        };
        let done_now = match command {
            Command::Say(text) => {
                // An ordinary line after all: its reader did not count it as a command.
                self.say(&[name.as_bytes(), b": ", text]);
                return;
            }
            Command::Me(text) => {
                self.say(&[b"* ", name.as_bytes(), b" ", text.as_bytes()]);
                true
            }
            Command::Nick(wanted) => self.rename(id, wanted),
            Command::Who => self.who(id),
            Command::Help => {
                self.tell(id, format!("{}\n", chat::HELP).into_bytes());
                true
            }
            Command::Usage(usage) => {
                self.tell(id, format!("{usage}\n").into_bytes());
                true
            }
            Command::Unknown(word) => {
                let answer = format!("gochat: unknown command {word:?} (try /help)\n");
                self.tell(id, answer.into_bytes());
                true
            }
            Command::Quit => {
                self.command_done(id);
                self.remove(id, Why::Quit);
                return;
            }
        };
        if done_now {
            self.command_done(id);
        }
    }

    /// Tells member `id`'s reader that its command has been carried out.
    pub(super) fn command_done(&self, id: u64) {
        if let Some(member) = self.roster.get(id) {
            member.link.command_done();
        }
    }

    /// `/who`: answers member `id` now, from the roster, or asks the backend. Returns
    /// whether the command is done.
    fn who(&mut self, id: u64) -> bool {
        if !self.order.who(id) {
            return false;
        }
        let answer = chat::who_lines(self.roster.who().into_iter(), self.room.config.max_line);
        self.tell(id, answer);
        true
    }

    /// `/nick`: gives member `id` the name `wanted`, if it is valid and free. Returns
    /// whether the command is done (in a cluster, the backend decides, later).
    fn rename(&mut self, id: u64, wanted: &str) -> bool {
        if let Err(reason) = self.roster.may_take(id, wanted) {
            self.tell(id, format!("gochat: {reason}\n").into_bytes());
            return true;
        }
        let old = self
            .roster
            .get(id)
            .and_then(|m| m.nick().map(str::to_string));
        if !self.order.ask_name(id, old.as_deref(), wanted) {
            return false;
        }
        self.take_name(id, wanted);
        true
    }

    /// Gives member `id` the name `wanted` (agreed to be free) and tells the room.
    pub(super) fn take_name(&mut self, id: u64, wanted: &str) {
        let Some(old) = self.roster.rename(id, wanted) else {
            return;
        };
        if self.room.config.verbose {
            eprintln!("gochat: {old} is now {wanted}");
        }
        let line = format!("{old} is now known as {wanted}\n").into_bytes();
        self.order.renamed(id, wanted, line, &mut self.batch);
    }
}
