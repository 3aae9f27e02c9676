//! What an attacker tries, and what the room answers: names that pass for the room or an
//! address, invisible characters that reorder a line, telnet's control bytes, and pieces of
//! an over-long line posing as commands. Each story checks the exact lines other members
//! see.

mod common;

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::thread;

use common::{Member, PATIENCE, Process, Server, closed_port, run, tool};

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
                who.parse::<SocketAddr>().is_ok() || who.parse::<IpAddr>().is_ok()
            })
    })
}

/// Joins a watcher, then a second member, and waits until the watcher has seen it arrive.
fn watcher_and_member(room: &Server) -> (Member, Member) {
    let mut watcher = room.join();
    let member = room.join();
    watcher.expect(&format!("{} has arrived", member.name));
    (watcher, member)
}

#[test]
fn names_that_pass_for_the_room_or_an_address_are_refused_with_one_line() {
    let room = Server::start(&[]);
    let (mut watcher, mut mallory) = watcher_and_member(&room);
    for (name, why) in [
        ("gochat", "it would pass for the room's own notices"),
        ("GoChat", "it would pass for the room's own notices"),
        ("go-chat", "it would pass for the room's own notices"),
        ("127.0.0.1", "it would pass for an address"),
        ("10", "it would pass for an address"),
        ("guest-7", "guest-N names are the room's to give"),
    ] {
        mallory.say(&format!("/nick {name}"));
        mallory.expect(&format!("gochat: name {name:?} is reserved: {why}"));
    }
    // None of that reached the room: the watcher's next line is Mallory talking.
    mallory.say("server shutting down");
    watcher.expect(&format!("{}: server shutting down", mallory.name));
}

#[test]
fn a_members_words_never_pass_for_the_room() {
    let room = Server::start(&[]);
    let (mut watcher, mut mallory) = watcher_and_member(&room);
    let address = mallory.name.clone();
    let port = address.rsplit(':').next().unwrap_or_default().to_string();
    let attempts = [
        "/nick gochat".to_string(),
        "/nick GOCHAT".to_string(),
        "server shutting down".to_string(),
        "/nick 127.0.0.1".to_string(),
        "/nick 0x7f.1".to_string(),
        format!("{port} has left"),
        "/me has left".to_string(),
        "\rgochat: server shutting down".to_string(),
        "\x1b[2K\x1b[Ggochat: server shutting down".to_string(),
        format!("{}gochat: server shutting down", "x".repeat(4096)),
        "/nick guest-7".to_string(),
        "/nick mallory".to_string(),
        format!("{port} has left"),
        "/me 127.0.0.1:1 has left".to_string(),
    ];
    for attempt in &attempts {
        mallory.say(attempt);
    }
    mallory.say("/quit");
    let seen = watcher.lines_until(|line| line == "mallory has left");
    let fakes: Vec<&String> = seen
        .iter()
        .filter(|line| passes_for_the_room(line) && **line != format!("{address} has left"))
        .collect();
    assert!(
        fakes.is_empty(),
        "lines that pass for the room: {fakes:#?}\nall: {seen:#?}"
    );
    // And the member still said everything it tried to say, as itself.
    assert!(
        seen.contains(&format!("{address}: server shutting down")),
        "{seen:#?}"
    );
    assert!(
        seen.contains(&format!("mallory: {port} has left")),
        "{seen:#?}"
    );
}

#[test]
fn connect_refuses_a_reserved_name_as_bad_usage() {
    for name in ["gochat", "127.0.0.1", "guest-7"] {
        // No server needed: the name is checked before connecting.
        let addr = closed_port().to_string();
        let (status, out, err) = run(&["connect", &addr, "--name", name]);
        assert_eq!(status.code(), Some(2), "--name {name}: {err}");
        assert!(out.is_empty(), "{out}");
        let why = if name == "gochat" {
            "it would pass for the room's own notices"
        } else if name == "guest-7" {
            "guest-N names are the room's to give"
        } else {
            "it would pass for an address"
        };
        assert_eq!(
            err,
            format!("gochat: --name: name {name:?} is reserved: {why}\n")
        );
    }
}

/// A line that reads `127.0.0.1 has left` on a terminal that obeys U+202E (right-to-left
/// override), and hides a zero-width space and a BOM in a word.
const TROJAN: &str = "\u{202E}tfel sah 1.0.0.721\u{202C} ad\u{200B}min\u{FEFF}\u{2028}x";

/// The same line, as the room shows it.
const TROJAN_SHOWN: &str = "<U+202E>tfel sah 1.0.0.721<U+202C> ad<U+200B>min<U+FEFF><U+2028>x";

#[test]
fn bidi_and_invisible_characters_reach_others_visibly() {
    let room = Server::start(&[]);
    let (mut watcher, mut mallory) = watcher_and_member(&room);
    mallory.say(TROJAN);
    watcher.expect(&format!("{}: {TROJAN_SHOWN}", mallory.name));
    mallory.expect(&format!("{}: {TROJAN_SHOWN}", mallory.name));
    // Emoji sequences and Persian spelling keep their joiners.
    let joined = "❤\u{FE0F}\u{200D}🔥 می\u{200C}خواهم";
    mallory.say(joined);
    watcher.expect(&format!("{}: {joined}", mallory.name));
}

#[test]
#[cfg_attr(not(has_script), ignore = "needs script: apt-get install bsdutils")]
fn connect_on_a_terminal_shows_a_servers_bidi_characters_visibly() {
    // A server that does not sanitize: it sends the line as it is, and closes.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let _ = conn.write_all(format!("{TROJAN}\n").as_bytes());
        }
    });
    let command = format!(
        "{} connect {addr} < /dev/null",
        env!("CARGO_BIN_EXE_gochat")
    );
    // script(1) gives the client a terminal for its stdout.
    let mut client = Process::spawn(
        Command::new(tool("script"))
            .args(["-qec", &command, "/dev/null"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let stdout = client.stdout.take().expect("stdout is piped");
    let reader = thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let _ = server.join();
    assert!(client.wait_exit(PATIENCE).success());
    let shown = reader.join().unwrap_or_default();
    assert!(shown.contains(TROJAN_SHOWN), "{shown:?}");
    assert!(!shown.contains('\u{202E}'), "{shown:?}");
}

/// What telnet(1) sends for `before ctrl-c`, Ctrl-C, `after ctrl-c` (seen on the wire):
/// Ctrl-C is IAC IP, then IAC DO TIMING-MARK. A telnet that negotiates adds more: here
/// IAC WILL NAWS and a window size (IAC SB NAWS 0 80 0 24 IAC SE).
const TELNET_BYTES: &[u8] = b"\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0before ctrl-c\r\n\
    \xff\xf4\xff\xfd\x06after ctrl-c\r\n";

#[test]
fn telnets_commands_never_reach_the_room() {
    let room = Server::start(&[]);
    let (mut watcher, mut telnet) = watcher_and_member(&room);
    // Byte by byte: a command split across reads is still one command.
    for byte in TELNET_BYTES {
        telnet.send(&[*byte]);
    }
    watcher.expect(&format!("{}: before ctrl-c", telnet.name));
    watcher.expect(&format!("{}: after ctrl-c", telnet.name));
    // IAC IAC is the byte 0xFF: not UTF-8, so U+FFFD, as from nc.
    telnet.send(b"\xff\xffend\r\n");
    watcher.expect(&format!("{}: \u{FFFD}end", telnet.name));
}

#[test]
#[cfg_attr(not(has_script), ignore = "needs script: apt-get install bsdutils")]
#[cfg_attr(not(has_telnet), ignore = "needs telnet: apt-get install telnet")]
fn ctrl_c_in_real_telnet_is_not_text() {
    let (script, telnet) = (tool("script"), tool("telnet"));
    let room = Server::start(&[]);
    let mut watcher = room.join();
    // script(1) gives telnet a terminal, so Ctrl-C is a signal that telnet turns into IAC IP.
    let command = format!(
        "{} {} {}",
        telnet.display(),
        room.addr.ip(),
        room.addr.port()
    );
    let mut terminal = Process::spawn(
        Command::new(script)
            .args(["-qec", &command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut keys = terminal.stdin.take().expect("stdin is piped");
    let mut screen = terminal.stdout.take().expect("stdout is piped");
    let shown = thread::spawn(move || std::io::read_to_string(&mut screen).unwrap_or_default());
    let arrived = watcher.line();
    let name = arrived
        .strip_suffix(" has arrived")
        .expect("an arrival")
        .to_string();
    keys.write_all(b"before ctrl-c\n").expect("type");
    watcher.expect(&format!("{name}: before ctrl-c"));
    keys.write_all(b"\x03").expect("type Ctrl-C");
    keys.write_all(b"after ctrl-c\n").expect("type");
    watcher.expect(&format!("{name}: after ctrl-c"));
    let _ = terminal.kill();
    let _ = terminal.wait();
    // Nothing else came from telnet: the next line is its leaving.
    watcher.expect(&format!("{name} has left"));
    drop(keys);
    let _ = shown.join();
}

#[test]
fn the_room_never_sends_iac() {
    let room = Server::start(&[]);
    let (mut watcher, mut member) = watcher_and_member(&room);
    // 0xFF in every position telnet could use it, and invalid UTF-8 around it.
    member.send(b"\xff\xff\xff\xf4\xff\xfb\x01\xff\xfa\x18\xff\xf0 \xfe\xff\xc3\xff\xed\xa0\x80\n");
    member.send(TELNET_BYTES);
    member.send(b"/nick \xff\xff\n/me \xff\xfd\x06\n/who\n");
    member.finish_sending();
    let echoed = member.read_to_end(PATIENCE);
    let left = format!("{} has left\n", member.name);
    let mut heard = Vec::new();
    while !heard.ends_with(left.as_bytes()) {
        let line = watcher.raw_line(PATIENCE).expect("a line");
        assert!(!line.is_empty(), "the room closed the watcher");
        heard.extend(line);
    }
    for bytes in [&heard, &echoed] {
        assert!(!bytes.contains(&0xff), "IAC sent: {bytes:x?}");
        assert!(std::str::from_utf8(bytes).is_ok(), "not UTF-8: {bytes:x?}");
    }
    // And the room answered as ever.
    let echoed = String::from_utf8_lossy(&echoed);
    assert!(echoed.contains("\ngochat: 2 here: "), "{echoed}");
}

#[test]
fn only_the_first_piece_of_an_over_long_line_can_be_a_command() {
    let room = Server::start(&[]);
    let (mut watcher, mut mallory) = watcher_and_member(&room);
    let name = mallory.name.clone();
    let padding = "x".repeat(4096);
    mallory.say(&format!("{padding}/nick sneaky"));
    mallory.say(&format!("/me {}/quit", &padding[4..]));
    mallory.say("still here");
    // Each piece is text: nobody was renamed, nobody left.
    watcher.expect(&format!("{name}: {padding}"));
    watcher.expect(&format!("{name}: /nick sneaky"));
    watcher.expect(&format!("* {name} {}", &padding[4..]));
    watcher.expect(&format!("{name}: /quit"));
    watcher.expect(&format!("{name}: still here"));
}
