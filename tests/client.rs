//! `gochat connect` as a user runs it: typing, piping a file, and every way it can end.

mod common;

use std::io::Write;
use std::net::{Shutdown, TcpListener};
use std::process::Stdio;
use std::thread;

use common::{
    Client, Member, PATIENCE, Process, Server, Terminal, assert_clean_error, closed_port, gochat,
    peak_rss_kib, run, serve_once,
};

#[test]
fn a_piped_file_of_100000_lines_arrives_whole_and_in_order() {
    const LINES: usize = 100_000;
    let room = Server::start(&[]);
    let mut watcher = room.join();
    let file: String = (0..LINES)
        .map(|n| format!("line {n} of the file, with some text to make it real\n"))
        .collect();
    let mut client = Client::start(room.addr, &[]);
    let mut stdin = client.stdin.take().unwrap();
    let writer = thread::spawn(move || stdin.write_all(file.as_bytes()));
    let arrived = watcher.line();
    let name = arrived
        .strip_suffix(" has arrived")
        .expect("an arrival")
        .to_string();
    for n in 0..LINES {
        watcher.expect(&format!(
            "{name}: line {n} of the file, with some text to make it real"
        ));
    }
    writer.join().unwrap().unwrap();
    let (status, out, err) = client.finish(PATIENCE);
    assert!(status.success(), "client failed: {status:?} {err}");
    // The client printed its greeting and every echo: the server took all of it.
    assert_eq!(out.lines().count(), 1 + LINES, "{err}");
    assert_eq!(out.lines().next(), Some(format!("You are {name}").as_str()));
    watcher.expect(&format!("{name} has left"));
}

#[test]
fn what_is_typed_goes_to_the_room_and_the_room_is_printed() {
    let room = Server::start(&[]);
    let mut bob = room.join();
    let mut client = Client::start(room.addr, &[]);
    let name = bob
        .line()
        .strip_suffix(" has arrived")
        .expect("an arrival")
        .to_string();
    client
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"hi bob\n")
        .unwrap();
    bob.expect(&format!("{name}: hi bob"));
    bob.say("hi yourself");
    bob.expect(&format!("{}: hi yourself", bob.name));
    client.end_input(); // Ctrl-D
    bob.expect(&format!("{name} has left"));
    let (status, out, err) = client.finish(PATIENCE);
    assert!(status.success(), "{err}");
    assert!(out.starts_with(&format!("You are {name}\n")), "{out}");
    assert!(out.contains(&format!("{name}: hi bob\n")), "{out}");
    assert!(
        out.contains(&format!("{}: hi yourself\n", bob.name)),
        "{out}"
    );
    assert_eq!(err, "");
}

#[test]
fn a_last_line_without_newline_is_sent() {
    let room = Server::start(&[]);
    let mut bob = room.join();
    let mut client = Client::start(room.addr, &[]);
    let name = bob.line().replace(" has arrived", "");
    client
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"no newline")
        .unwrap();
    client.end_input();
    bob.expect(&format!("{name}: no newline"));
    let (status, _, _) = client.finish(PATIENCE);
    assert!(status.success());
}

#[test]
fn the_server_closing_ends_connect_with_success() {
    let mut room = Server::start(&[]);
    let mut watcher = room.join();
    let mut client = Client::start(room.addr, &[]);
    assert!(watcher.line().ends_with(" has arrived"));
    room.signal(libc::SIGTERM);
    assert!(room.wait_exit(PATIENCE).success());
    // stdin still open: the client ends because the server closed, not because input did.
    let stdin = client.stdin.take();
    let (status, out, err) = client.finish(PATIENCE);
    drop(stdin);
    assert!(status.success(), "{status:?} {err}");
    assert!(out.ends_with("gochat: server shutting down\n"), "{out}");
}

#[test]
fn a_reset_connection_is_an_error() {
    // A "server" that takes one line, then resets the connection.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        use std::io::BufRead;
        let (conn, _) = listener.accept().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(&conn).read_line(&mut line).unwrap();
        let socket = socket2::SockRef::from(&conn);
        socket.set_linger(Some(std::time::Duration::ZERO)).unwrap();
        drop(conn); // linger 0: close sends RST
        line
    });
    let mut client = Client::start(addr, &[]);
    client
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"hello\n")
        .unwrap();
    assert_eq!(server.join().unwrap(), "hello\n");
    let stdin = client.stdin.take(); // input still open: only the reset ends it
    let (status, _, err) = client.finish(PATIENCE);
    drop(stdin);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_clean_error(&err, "connection reset by peer");
}

#[test]
fn connection_refused_is_one_line_and_exit_1() {
    let addr = closed_port();
    let (status, out, err) = run(&["connect", &addr.to_string()]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!("gochat: cannot connect to {addr}: connection refused\n")
    );
}

#[test]
fn an_unparsable_address_is_bad_usage() {
    for args in [["connect", "x:y"], ["serve", "x:y"]] {
        let (status, _, err) = run(&args);
        assert_eq!(status.code(), Some(2), "{args:?}");
        assert_clean_error(&err, "invalid address \"x:y\": invalid port \"y\"");
    }
    let (status, _, err) = run(&["serve", "::1:80"]);
    assert_eq!(status.code(), Some(2));
    assert_clean_error(&err, "needs brackets");
}

#[test]
fn an_address_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, _, err) = run(&["serve", &addr]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        err,
        format!("gochat: cannot listen on {addr}: address in use\n")
    );
}

#[test]
fn the_client_keeps_reading_after_its_input_ends() {
    // The server keeps talking after the client's input ended; the client prints all of
    // it and exits when the server closes, with success.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        use std::io::Read;
        let (mut conn, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap(); // until the client half-closes
        for n in 0..1000 {
            conn.write_all(format!("after {n}\n").as_bytes()).unwrap();
        }
        conn.shutdown(Shutdown::Write).unwrap();
        got
    });
    let mut child = Process::spawn(
        gochat()
            .args(["connect", &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let status = child.wait_exit(PATIENCE);
    assert!(status.success());
    assert_eq!(server.join().unwrap(), b"");
    let out = reader.join().unwrap();
    assert_eq!(out.lines().count(), 1000);
    assert_eq!(out.lines().last(), Some("after 999"));
}

#[test]
fn a_member_that_half_closes_gets_everything_it_is_owed() {
    let room = Server::start(&[]);
    let mut piper = Member::join(room.addr);
    let mut text = String::new();
    for n in 0..5000 {
        text.push_str(&format!("{n}\n"));
    }
    piper.send(text.as_bytes());
    piper.finish_sending();
    let all = piper.read_to_end(PATIENCE);
    let all = String::from_utf8(all).unwrap();
    assert_eq!(all.lines().count(), 5000);
    assert_eq!(
        all.lines().last(),
        Some(format!("{}: 4999", piper.name).as_str())
    );
}

#[test]
fn connect_with_a_name_holds_only_a_short_line_while_it_waits_for_the_answer() {
    // A hostile "server" greets, takes /nick, then sends 64 MiB with no newline before it
    // answers: the client must not keep that line to look for the answer in.
    const FLOOD: usize = 64 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = Client::start(addr, &["--name", "ada"]);
    client.stdin.as_mut().unwrap().write_all(b"hi\n").unwrap();
    let (conn, _) = listener.accept().unwrap();
    let mut room = std::io::BufReader::new(conn);
    room.get_mut().write_all(b"You are 192.0.2.1:5\n").unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    room.read_line(&mut line).unwrap();
    assert_eq!(line, "/nick ada\n");
    let flood = vec![b'x'; 1 << 20];
    for _ in 0..FLOOD >> 20 {
        room.get_mut().write_all(&flood).unwrap();
    }
    room.get_mut()
        .write_all(b"\n192.0.2.1:5 is now known as ada\n")
        .unwrap();
    // Input flows once the name is taken.
    line.clear();
    room.read_line(&mut line).unwrap();
    assert_eq!(line, "hi\n");
    let peak = peak_rss_kib(client.child().id());
    drop(room);
    let (status, out, err) = client.finish(PATIENCE);
    assert!(status.success(), "{status:?} {err}");
    assert_eq!(out.len(), 20 + FLOOD + 33, "the client printed everything");
    assert!(
        peak < (FLOOD >> 10) as u64 / 4,
        "the client grew to {peak} KiB while a {} MiB line came",
        FLOOD >> 20
    );
}

#[test]
fn a_refusal_from_a_hostile_server_cannot_drive_the_terminal() {
    // The refusal is printed on stderr, which a terminal shows: its escapes are made visible.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = Client::start(addr, &["--name", "ada"]);
    let (mut conn, _) = listener.accept().unwrap();
    conn.write_all(b"You are 192.0.2.1:5\n").unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(&conn).read_line(&mut line).unwrap();
    conn.write_all(b"gochat: \x1b[2J\x1b]52;c;eA==\x07 no\n")
        .unwrap();
    let (status, _, err) = client.finish(PATIENCE);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        "gochat: cannot take the name: ^[[2J^[]52;c;eA==^G no\n"
    );
}

#[test]
fn connect_sends_a_line_longer_than_its_max_line_in_pieces() {
    let room = Server::start(&[]);
    let mut watcher = room.join();
    let mut client = Client::start(room.addr, &["--max-line", "100"]);
    let name = watcher.line().replace(" has arrived", "");
    let long = format!("{}\n{}\n", "a".repeat(250), "€".repeat(50));
    client
        .stdin
        .as_mut()
        .unwrap()
        .write_all(long.as_bytes())
        .unwrap();
    // Cut on a character boundary: 33 three-byte characters are 99 bytes.
    for piece in [
        "a".repeat(100),
        "a".repeat(100),
        "a".repeat(50),
        "€".repeat(33),
        "€".repeat(17),
    ] {
        watcher.expect(&format!("{name}: {piece}"));
    }
    client.end_input();
    watcher.expect(&format!("{name} has left"));
    let (status, _, err) = client.finish(PATIENCE);
    assert!(status.success(), "{err}");
}

#[test]
fn a_piece_of_a_long_piped_line_that_starts_with_a_slash_is_text_not_a_command() {
    let room = Server::start(&[]);
    let mut watcher = room.join();
    let mut client = Client::start(room.addr, &["--max-line", "100"]);
    let name = watcher.line().replace(" has arrived", "");
    // The cut falls just before "/quit": the second piece must not end the session.
    let long = format!("{}/quit and more\nstill here\n", "a".repeat(100));
    client
        .stdin
        .as_mut()
        .expect("stdin is piped")
        .write_all(long.as_bytes())
        .expect("write to the client");
    watcher.expect(&format!("{name}: {}", "a".repeat(100)));
    watcher.expect(&format!("{name}: /quit and more"));
    watcher.expect(&format!("{name}: still here"));
    client.end_input();
    watcher.expect(&format!("{name} has left"));
    let (status, _, err) = client.finish(PATIENCE);
    assert!(status.success(), "{err}");
}

#[test]
#[cfg_attr(not(has_script), ignore = "needs script: apt-get install bsdutils")]
fn connect_shows_a_long_line_in_pieces_of_its_max_line_on_a_terminal_only() {
    let line = format!("{}\n", "b".repeat(250));
    // On a terminal: pieces of 100 bytes (the terminal turns each newline into CRLF).
    let (addr, server) = serve_once(line.clone().into_bytes());
    let term = Terminal::gochat(&format!("connect {addr} --max-line 100 < /dev/null"));
    server.join().unwrap();
    let (status, shown) = term.finish();
    assert!(status.success());
    let pieces = format!(
        "{}\r\n{}\r\n{}\r\n",
        "b".repeat(100),
        "b".repeat(100),
        "b".repeat(50)
    );
    assert_eq!(String::from_utf8(shown).unwrap(), pieces);
    // On a pipe: the bytes as they came.
    let (addr, server) = serve_once(line.clone().into_bytes());
    let client = Client::start(addr, &["--max-line", "100"]);
    server.join().unwrap();
    let (status, out, _) = client.finish(PATIENCE);
    assert!(status.success());
    assert_eq!(out, line);
}
