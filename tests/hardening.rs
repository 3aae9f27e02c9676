//! What an attacker tries, and what the room answers: names that pass for the room or an
//! address, invisible characters that reorder a line, telnet's control bytes, and pieces of
//! an over-long line posing as commands. Each story checks the exact lines other members
//! see.

mod common;

use std::net::{IpAddr, SocketAddr};

use common::{Member, Server, closed_port, run};

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
