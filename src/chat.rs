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

/// What a command starts with. Doubled, it starts an ordinary line instead (`//etc` sends
/// `/etc`), which is how a reader's decoder keeps the pieces of an over-long line from
/// being commands: [`LineDecoder::with_continuation_escape`] doubles it at their start.
///
/// [`LineDecoder::with_continuation_escape`]: crate::codec::LineDecoder::with_continuation_escape
pub const COMMAND_START: u8 = b'/';

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
    line.first() == Some(&COMMAND_START) && line.get(1) != Some(&COMMAND_START)
}

/// Whether `line` needs [`parse`]: a command, or a `//` line.
pub fn needs_parsing(line: &[u8]) -> bool {
    line.first() == Some(&COMMAND_START)
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

/// Checks a member's name: spelled as [`NAME_RULE`] says, and not [reserved](reserved).
/// The reason for a refusal is in the words the room sends back (after `gochat: `).
///
/// ```
/// use gochat::chat::check_name;
///
/// assert_eq!(check_name("ada"), Ok(()));
/// assert!(check_name("a b").unwrap_err().starts_with("invalid name"));
/// assert!(check_name("GoChat").unwrap_err().contains("is reserved"));
/// ```
pub fn check_name(name: &str) -> Result<(), String> {
    if !follows_name_rule(name) {
        return Err(format!("invalid name {name:?}: {NAME_RULE}"));
    }
    match reserved(name) {
        Some(why) => Err(format!("name {name:?} is reserved: {why}")),
        None => Ok(()),
    }
}

/// Whether `name` is spelled as [`NAME_RULE`] says: 1 to [`MAX_NAME`] characters, each an
/// ASCII letter, digit, `_`, `-` or `.`. Such a name never holds a `:`, so it can never be
/// a whole address (`127.0.0.1:5000`, `[::1]:5000`). A room's name (`--room`) needs only
/// this; a member's name must also not be [reserved].
pub fn follows_name_rule(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Why a well-spelled member name is reserved, if it is. A member's words reach the room as
/// `NAME: text`, so a name must not let them pass for the room's own:
///
/// - `gochat`, in any case or spelling (`GoChat`, `go-chat`, `g0chat`): its lines would
///   read `gochat: server shutting down`, as the room's notices do.
/// - anything an address could be written as: only digits and dots (`127.0.0.1`, `10`,
///   `127.1`), or numbers in the C library's forms (`0x7f.0.0.1`, `0x7f000001`): its
///   lines would read `127.0.0.1: 54321 has left`.
/// - `guest-` and a number (`guest-7`): the names the room gives out itself where it does
///   not show addresses.
pub fn reserved(name: &str) -> Option<&'static str> {
    // Letters and digits only, lowercase, 0 read as o: what a glance sees.
    let glance: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if glance.replace('0', "o") == "gochat" {
        return Some("it would pass for the room's own notices");
    }
    if name
        .split('.')
        .all(|part| part.is_empty() || is_number(part))
    {
        return Some("it would pass for an address");
    }
    let guest_number = glance.strip_prefix("guest");
    if guest_number.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
        return Some("guest-N names are the room's to give");
    }
    None
}

/// Whether `part` is a number as an address's part may be written: decimal (or octal,
/// with a leading 0), or hexadecimal after `0x`.
fn is_number(part: &str) -> bool {
    let lower = part.to_ascii_lowercase();
    match lower.strip_prefix("0x") {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => lower.bytes().all(|b| b.is_ascii_digit()),
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
    use proptest::prelude::*;

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
    fn names_that_pass_for_the_room_or_an_address_are_reserved() {
        let reserved = [
            ("gochat", "it would pass for the room's own notices"),
            ("GoChat", "it would pass for the room's own notices"),
            ("go-chat", "it would pass for the room's own notices"),
            ("g0chat", "it would pass for the room's own notices"),
            ("GO_CHAT.", "it would pass for the room's own notices"),
            ("127.0.0.1", "it would pass for an address"),
            ("10", "it would pass for an address"),
            ("127.1", "it would pass for an address"),
            ("0x7f.0.0.1", "it would pass for an address"),
            ("0X7F000001", "it would pass for an address"),
            ("...", "it would pass for an address"),
            ("1.", "it would pass for an address"),
            ("guest-7", "guest-N names are the room's to give"),
            ("Guest-0042", "guest-N names are the room's to give"),
            ("guest7", "guest-N names are the room's to give"),
            ("guest_7", "guest-N names are the room's to give"),
        ];
        for (name, why) in reserved {
            assert_eq!(
                check_name(name),
                Err(format!("name {name:?} is reserved: {why}")),
                "{name}"
            );
            assert!(follows_name_rule(name), "{name} is well formed");
        }
        for fine in [
            "ada", "gochat2", "gochats", "mygochat", "guest", "guest-", "guest-x", "guests-7",
            "x1.2.3.4", "v6", "0xg", "1e3", "fe80", "1-2", "_", "-",
        ] {
            assert_eq!(check_name(fine), Ok(()), "{fine}");
        }
        // A room's name follows the spelling rule only: the default room is `gochat`.
        assert!(follows_name_rule("gochat") && !follows_name_rule("a b"));
    }

    /// Whether a line from the room would pass for the room's own words: a notice
    /// (`gochat: ...`, in any case) or an address arriving or leaving, even read carelessly
    /// (`127.0.0.1: 5000 has left` for `127.0.0.1:5000 has left`).
    fn passes_for_the_room(line: &str) -> bool {
        if line.to_ascii_lowercase().starts_with("gochat: ") {
            return true;
        }
        let careless = line.replacen(": ", ":", 1);
        ["has left", "has arrived"].iter().any(|what| {
            careless
                .split_once(&format!(" {what}"))
                .is_some_and(|(who, _)| {
                    who.parse::<std::net::SocketAddr>().is_ok()
                        || who.parse::<std::net::IpAddr>().is_ok()
                })
        })
    }

    /// Names an attacker would try: notices' and addresses' look-alikes, and anything.
    fn names() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<std::net::Ipv4Addr>().prop_map(|ip| ip.to_string()),
            "[gG][._-]?[oO0][._-]?[cC][hH][aA][tT][._-]?",
            "[0-9.]{1,15}",
            "(0[xX])?[0-9a-fA-F.]{1,12}",
            "[gGoO0cChHaAtT._-]{4,9}",
            "[gG][uU][eE][sS][tT][._-]?[0-9]{1,4}",
            "[A-Za-z0-9._-]{1,32}",
        ]
    }

    /// Texts an attacker would send after its name.
    fn texts() -> impl Strategy<Value = String> {
        prop_oneof![
            " ?[0-9]{1,5} has (left|arrived)( \\((too slow|idle|server lost)\\))?",
            "(server shutting down|disconnected: too slow|room is full)",
            "[ -~]{0,40}",
        ]
    }

    proptest! {
        #[test]
        fn no_accepted_name_lets_a_member_speak_for_the_room(name in names(), text in texts()) {
            prop_assume!(check_name(&name).is_ok());
            // Everything the room shows of a named member's words starts with one of these.
            for line in [format!("{name}: {text}"), format!("* {name} {text}")] {
                prop_assert!(!passes_for_the_room(&line), "{line:?}");
            }
        }
    }

    #[test]
    fn the_property_check_spots_a_fake() {
        assert!(passes_for_the_room("127.0.0.1: 5000 has left"));
        assert!(passes_for_the_room("[::1]:5000 has arrived"));
        assert!(passes_for_the_room("GOCHAT: server shutting down"));
        assert!(!passes_for_the_room("ada: 5000 has left"));
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
