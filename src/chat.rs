//! The room's commands: what a line starting with `/` means, and what a name may be.
//!
//! The Go server names members by address and knows no commands; gochat adds names, `/who`
//! and friends without changing a byte for members who never use them. A line that starts
//! with `/` is a command, answered to its sender only unless it changes the room; `//` at
//! the start sends an ordinary line that starts with `/`. The server parses commands here
//! and the client checks `--name` here, so both agree on the rules.
//!
//! # Examples
//!
//! ```
//! use gochat::chat::{Command, parse};
//!
//! assert_eq!(parse(b"hello"), None);
//! assert_eq!(parse(b"/nick ada"), Some(Command::Nick("ada")));
//! assert_eq!(parse(b"//etc/hosts"), Some(Command::Say(b"/etc/hosts")));
//! ```

/// The longest name, in characters.
pub const MAX_NAME: usize = 32;

/// Why a name is refused, in the words the room uses.
pub const NAME_RULE: &str = "names are 1 to 32 letters, digits, '_', '-' or '.'";

/// What `/help` answers.
pub const HELP: &str = "gochat: commands: /nick NAME (take a name), /who (who is here), \
/me TEXT (an action), /quit (leave), /help (this); start a line with // to send one \
that begins with /";

/// A line from a member, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// `/nick NAME`: take a name (checked by the room, not here).
    Nick(&'a str),
    /// `/who`: who is here.
    Who,
    /// `/me TEXT`: an action, shown as `* NAME TEXT`.
    Me(&'a str),
    /// `/help`.
    Help,
    /// `/quit`: leave.
    Quit,
    /// `//text`: the ordinary line `/text`.
    Say(&'a [u8]),
    /// A command used wrongly: the usage line to send back.
    Usage(&'static str),
    /// A command nobody knows (the word, slash included).
    Unknown(&'a str),
}

/// Whether `line` (sanitized text, without its newline) is a command: it starts with `/`,
/// but not with `//` (which sends an ordinary line).
pub fn is_command(line: &[u8]) -> bool {
    line.first() == Some(&b'/') && line.get(1) != Some(&b'/')
}

/// Whether `line` needs [`parse`]: a command, or a `//` line.
pub fn needs_parsing(line: &[u8]) -> bool {
    line.first() == Some(&b'/')
}

/// Parses a line: `None` for an ordinary line, the command otherwise. Command words are
/// case-insensitive (`/WHO` works).
pub fn parse(line: &[u8]) -> Option<Command<'_>> {
    if !needs_parsing(line) {
        return None;
    }
    if let Some(text) = line.strip_prefix(b"/").filter(|t| t.starts_with(b"/")) {
        return Some(Command::Say(text));
    }
    // Sanitized text is UTF-8; anything else cannot name a command.
    let text = std::str::from_utf8(line).unwrap_or("/");
    let (word, rest) = match text.split_once(' ') {
        Some((word, rest)) => (word, rest.trim()),
        None => (text, ""),
    };
    Some(match word.to_ascii_lowercase().as_str() {
        "/nick" if rest.is_empty() => Command::Usage("gochat: usage: /nick NAME"),
        "/nick" => Command::Nick(rest),
        "/who" => Command::Who,
        "/me" if rest.is_empty() => Command::Usage("gochat: usage: /me TEXT"),
        "/me" => Command::Me(rest),
        "/help" => Command::Help,
        "/quit" => Command::Quit,
        _ => Command::Unknown(word),
    })
}

/// Checks a name against the rules: 1 to [`MAX_NAME`] characters, each an ASCII letter,
/// digit, `_`, `-` or `.`. Such a name can never look like an address (no `:`), so a
/// member named by address and one with a name can never be confused.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid name {name:?}: {NAME_RULE}"))
    }
}

/// The key under which a name is unique: names differ only if they differ ignoring case.
pub fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Lays out `/who`'s answer: `gochat: N here: a, b, c`, continued on further `gochat: `
/// lines so that no line is longer than `max_line` bytes (a single very long entry still
/// gets a line of its own).
pub fn who_lines<'a>(names: impl ExactSizeIterator<Item = &'a str>, max_line: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line = format!("gochat: {} here:", names.len());
    let mut on_line = 0;
    for name in names {
        // One byte is kept for the comma that ends a line when the list goes on.
        if on_line > 0 && line.len() + 2 + name.len() + 1 > max_line {
            line.push(',');
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
            line = String::from("gochat:");
            on_line = 0;
        }
        line.push_str(if on_line == 0 { " " } else { ", " });
        line.push_str(name);
        on_line += 1;
    }
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_recognized() {
        assert_eq!(parse(b"/who"), Some(Command::Who));
        assert_eq!(parse(b"/WHO"), Some(Command::Who));
        assert_eq!(parse(b"/me waves"), Some(Command::Me("waves")));
        assert_eq!(parse(b"/nick  ada "), Some(Command::Nick("ada")));
        assert_eq!(parse(b"/help"), Some(Command::Help));
        assert_eq!(parse(b"/quit"), Some(Command::Quit));
        assert_eq!(parse(b"/dance now"), Some(Command::Unknown("/dance")));
        assert_eq!(parse(b"/"), Some(Command::Unknown("/")));
        assert_eq!(parse(b"//"), Some(Command::Say(b"/")));
        assert!(matches!(parse(b"/nick"), Some(Command::Usage(_))));
        assert!(matches!(parse(b"/me"), Some(Command::Usage(_))));
        assert_eq!(parse(b" /who"), None);
        assert_eq!(parse(b""), None);
        assert!(is_command(b"/who") && is_command(b"/"));
        assert!(!is_command(b"//who") && !is_command(b"who"));
    }

    #[test]
    fn names_follow_the_rule() {
        for good in ["ada", "A.B-c_9", &"x".repeat(32)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "é", "a:1", &"x".repeat(33), "[::1]:80"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(name_key("Ada"), name_key("aDA"));
    }

    #[test]
    fn who_wraps_long_lists() {
        let names = ["alice", "bob", "127.0.0.1:5000"];
        assert_eq!(
            who_lines(names.iter().copied(), 4096),
            b"gochat: 3 here: alice, bob, 127.0.0.1:5000\n"
        );
        let wrapped = who_lines(names.iter().copied(), 24);
        let text = String::from_utf8(wrapped).unwrap();
        assert_eq!(
            text,
            "gochat: 3 here: alice,\ngochat: bob,\ngochat: 127.0.0.1:5000\n"
        );
        assert_eq!(who_lines(std::iter::empty(), 100), b"gochat: 0 here:\n");
    }
}
