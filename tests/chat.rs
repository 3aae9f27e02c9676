//! Names, who is here, and the last lines for newcomers: the chat features on top of the
//! Go server's protocol, and proof that members who never use them see nothing new.

mod common;

use std::io::Write;
use std::thread;

use common::{Client, PATIENCE, Server, peak_rss_kib, run};

#[test]
fn a_name_is_taken_announced_and_used_from_then_on() {
    let room = Server::start(&[]);
    let mut members = room.settled(2);
    let (mut ada, mut bob) = (members.remove(0), members.remove(0));
    let addr = ada.name.clone();
    ada.say("/nick ada");
    for m in [&mut ada, &mut bob] {
        m.expect(&format!("{addr} is now known as ada"));
    }
    ada.say("hello");
    bob.expect("ada: hello");
    ada.expect("ada: hello");
    // Renaming again frees the old name for others.
    ada.say("/nick Ada.L");
    bob.expect("ada is now known as Ada.L");
    bob.say("/nick ADA");
    bob.expect(&format!("{} is now known as ADA", bob.name));
    drop(ada);
    bob.expect("Ada.L has left");
}

#[test]
fn bad_and_taken_names_get_one_clear_line_and_change_nothing() {
    let room = Server::start(&[]);
    let mut members = room.settled(2);
    let (mut ada, mut bob) = (members.remove(0), members.remove(0));
    ada.say("/nick ada");
    bob.expect(&format!("{} is now known as ada", ada.name));
    ada.expect(&format!("{} is now known as ada", ada.name));
    bob.say("/nick ADA");
    bob.expect("gochat: name \"ADA\" is taken");
    bob.say("/nick bad name");
    bob.expect(
        "gochat: invalid name \"bad name\": names are 1 to 32 letters, digits, '_', '-' or '.'",
    );
    bob.say(&format!("/nick {}", "x".repeat(33)));
    assert!(bob.line().starts_with("gochat: invalid name"));
    bob.say("/nick");
    bob.expect("gochat: usage: /nick NAME");
    ada.say("/nick ada");
    ada.expect("gochat: you are already ada");
    // Nothing of that reached the room: the next thing Ada sees is Bob talking.
    bob.say("still me");
    ada.expect(&format!("{}: still me", bob.name));
}

#[test]
fn who_lists_everyone_in_order_of_arrival() {
    let room = Server::start(&[]);
    let mut members = room.settled(3);
    members[1].say("/nick bob");
    let bob_addr = members[1].name.clone();
    for m in &mut members {
        m.expect(&format!("{bob_addr} is now known as bob"));
    }
    members[2].say("/who");
    let want = format!(
        "gochat: 3 here: {}, bob, {}",
        members[0].name, members[2].name
    );
    members[2].expect(&want);
    // Only the asker got the answer.
    members[2].say("/me checks");
    let asker = members[2].name.clone();
    members[0].expect(&format!("* {asker} checks"));
}

#[test]
fn me_help_quit_double_slash_and_unknown_commands() {
    let room = Server::start(&[]);
    let mut members = room.settled(2);
    let (mut ada, mut bob) = (members.remove(0), members.remove(0));
    let a = ada.name.clone();
    ada.say("/me waves");
    bob.expect(&format!("* {a} waves"));
    ada.expect(&format!("* {a} waves"));
    ada.say("//etc/hosts is a file");
    bob.expect(&format!("{a}: /etc/hosts is a file"));
    ada.expect(&format!("{a}: /etc/hosts is a file"));
    ada.say("/dance");
    ada.expect("gochat: unknown command \"/dance\" (try /help)");
    ada.say("/me");
    ada.expect("gochat: usage: /me TEXT");
    ada.say("/help");
    let help = ada.line();
    for command in ["/nick NAME", "/who", "/me TEXT", "/quit", "/help", "//"] {
        assert!(help.contains(command), "{help}");
    }
    ada.say("/quit");
    bob.expect(&format!("{a} has left"));
    ada.expect_closed();
}

#[test]
fn members_who_never_use_commands_see_exactly_the_seeds_lines() {
    let room = Server::start(&[]);
    let mut members = room.settled(2);
    let (mut a, mut b) = (members.remove(0), members.remove(0));
    for text in ["a/b/c", "not /a command", "http://example/", " /who"] {
        a.say(text);
        b.expect(&format!("{}: {text}", a.name));
        a.expect(&format!("{}: {text}", a.name));
    }
}

#[test]
fn one_name_goes_to_exactly_one_of_many_who_want_it_at_once() {
    const RIVALS: usize = 20;
    let room = Server::start(&[]);
    let mut rivals = room.settled(RIVALS);
    let streams: Vec<_> = rivals
        .iter()
        .map(|r| r.stream().try_clone().unwrap())
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(RIVALS));
    let handles: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                s.write_all(b"/nick Winner\n").unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut winners = 0;
    let mut refused = 0;
    let announced: Vec<String> = rivals
        .iter_mut()
        .map(|r| {
            // Each rival hears exactly one of: the room's announcement (everyone hears it),
            // then, if it lost, its refusal.
            let first = r.line();
            assert!(first.ends_with(" is now known as Winner"), "{first}");
            first
        })
        .collect();
    assert!(announced.windows(2).all(|w| w[0] == w[1]));
    for r in &mut rivals {
        if announced[0].starts_with(&format!("{} ", r.name)) {
            winners += 1;
        } else {
            r.expect("gochat: name \"Winner\" is taken");
            refused += 1;
        }
    }
    assert_eq!((winners, refused), (1, RIVALS - 1));
}

#[test]
fn connect_takes_a_name_on_joining() {
    let room = Server::start(&[]);
    let mut watcher = room.join();
    let mut client = Client::start(room.addr, &["--name", "ada"]);
    let addr = watcher.line().replace(" has arrived", "");
    watcher.expect(&format!("{addr} is now known as ada"));
    client.stdin.as_mut().unwrap().write_all(b"hi\n").unwrap();
    watcher.expect("ada: hi");
    client.end_input();
    watcher.expect("ada has left");
    let (status, out, err) = client.finish(PATIENCE);
    assert!(status.success(), "{err}");
    assert!(out.contains("is now known as ada\nada: hi\n"), "{out}");
}

#[test]
fn connect_with_a_taken_name_fails_clearly() {
    let room = Server::start(&[]);
    let mut ada = room.join();
    ada.say("/nick ada");
    ada.expect(&format!("{} is now known as ada", ada.name));
    let mut client = Client::start(room.addr, &["--name", "ADA"]);
    let stdin = client.stdin.take(); // input open: only the refusal ends it
    let (status, _, err) = client.finish(PATIENCE);
    drop(stdin);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(err, "gochat: cannot take the name: name \"ADA\" is taken\n");
    let (status, _, err) = run(&["connect", "--name", "no spaces", &room.addr.to_string()]);
    assert_eq!(status.code(), Some(2));
    assert!(
        err.starts_with("gochat: --name: invalid name \"no spaces\""),
        "{err}"
    );
}

#[test]
fn newcomers_get_the_last_lines_then_live_ones() {
    let room = Server::start(&["--history", "3"]);
    let mut ada = room.join();
    for n in 1..=5 {
        ada.say(&format!("line {n}"));
        ada.expect(&format!("{}: line {n}", ada.name));
    }
    let mut bob = room.join();
    bob.expect(&format!("{}: line 3", ada.name));
    bob.expect(&format!("{}: line 4", ada.name));
    bob.expect(&format!("{}: line 5", ada.name));
    ada.expect(&format!("{} has arrived", bob.name));
    ada.say("live");
    bob.expect(&format!("{}: live", ada.name));
    // Bob's own arrival is not in his history; Carol's history has it.
    let mut carol = room.join();
    carol.expect(&format!("{}: line 5", ada.name));
    carol.expect(&format!("{} has arrived", bob.name));
    carol.expect(&format!("{}: live", ada.name));
}

#[test]
fn the_history_seam_has_no_gap_and_no_double_under_load() {
    const LINES: usize = 200_000;
    const HISTORY: usize = 50;
    let room = Server::start(&["--history", "50"]);
    let mut sender = room.join();
    let name = sender.name.clone();
    let mut out = sender.stream().try_clone().unwrap();
    let writer = thread::spawn(move || {
        let text: String = (0..LINES).map(|n| format!("n {n}\n")).collect();
        for chunk in text.as_bytes().chunks(4096) {
            out.write_all(chunk).unwrap();
        }
    });
    let echo = thread::spawn(move || {
        for _ in 0..LINES {
            sender.line();
        }
        sender
    });
    // Newcomers join while the sender is busy. Each must see one run of consecutive lines:
    // its history, then live lines, with nothing missed or doubled where they meet.
    let mut across_the_seam = 0;
    loop {
        let mut newcomer = room.join();
        let mut last: Option<usize> = None;
        let mut seen = 0;
        while last != Some(LINES - 1) && seen < 2 * HISTORY {
            let line = newcomer.line();
            let Some(n) = line.strip_prefix(&format!("{name}: n ")) else {
                continue; // another newcomer's arrival
            };
            let n: usize = n.parse().unwrap();
            if let Some(prev) = last {
                assert_eq!(n, prev + 1, "gap or double at the seam");
            }
            last = Some(n);
            seen += 1;
        }
        if seen > HISTORY {
            across_the_seam += 1;
        }
        if last == Some(LINES - 1) {
            break;
        }
    }
    writer.join().unwrap();
    echo.join().unwrap();
    eprintln!("{across_the_seam} newcomers read across the seam");
    assert!(
        across_the_seam > 0,
        "no newcomer joined while lines were flowing"
    );
}

#[test]
fn history_is_bounded() {
    let (status, _, err) = run(&["serve", "127.0.0.1:0", "--history", "10001"]);
    assert_eq!(status.code(), Some(2));
    assert_eq!(err, "gochat: --history must be at most 10000 lines\n");
    let (status, _, err) = run(&["serve", "127.0.0.1:0", "--history-bytes", "65MiB"]);
    assert_eq!(status.code(), Some(2));
    assert_eq!(err, "gochat: --history-bytes must be at most 64MiB\n");
}

#[test]
fn a_member_flooding_commands_it_never_reads_cannot_grow_the_server() {
    let room = Server::start(&[]);
    let mut members = room.settled(50);
    let before = peak_rss_kib(room.pid());
    let flooder = members.pop().unwrap();
    let flooder_name = flooder.name.clone();
    // 200,000 /who, each answered with 50 names (about 200 MB of answers), and never a
    // byte read.
    let text = "/who\n".repeat(200_000);
    let mut out = flooder.stream().try_clone().unwrap();
    let writer = thread::spawn(move || {
        let _ = out.write_all(text.as_bytes());
    });
    // The others carry on; the flooder is removed for not reading its answers.
    let watcher = &mut members[0];
    loop {
        let line = watcher.line();
        if line == format!("{flooder_name} has left (too slow)") {
            break;
        }
    }
    writer.join().unwrap();
    // Growth, not a ceiling: a debug build's own size is not what is tested. Keeping the
    // answers would cost about 200 MB; a bounded room costs its sendq and a batch or two.
    let grew = peak_rss_kib(room.pid()).saturating_sub(before);
    eprintln!("server peak RSS grew by {grew} KiB in a command flood");
    assert!(grew < 16 * 1024, "the server grew by {grew} KiB");
    let _ = flooder.stream().shutdown(std::net::Shutdown::Both);
}

/// Fills a room's history with `count` lines of `len` bytes from a member that reads its
/// own echoes meanwhile (as any member must, to stay); returns that member, still in the
/// room (it reads nothing more: the tests send it little after).
fn fill_history(room: &Server, count: usize, len: usize) -> common::Member {
    let mut filler = room.join();
    let name = filler.name.clone();
    let body = "h".repeat(len - 8);
    for n in 0..count {
        filler.send(format!("{n:07} {body}\n").as_bytes());
        if n % 64 == 63 || n + 1 == count {
            // Read the echoes so far, so the filler never falls behind.
            while !filler.line().starts_with(&format!("{name}: {n:07} ")) {}
        }
    }
    filler
}

#[test]
fn history_keeps_the_newest_lines_that_fit_in_history_bytes() {
    let room = Server::start(&["--history", "10000", "--history-bytes", "64KiB"]);
    let filler = fill_history(&room, 100, 2000);
    let name = filler.name.clone();
    let mut bob = room.join();
    let line_len = name.len() + 2 + 2000 + 1;
    let fit = 64 * 1024 / line_len;
    let mut got = Vec::new();
    for _ in 0..fit {
        got.push(bob.line());
    }
    let first = 100 - fit;
    assert!(
        got[0].starts_with(&format!("{name}: {first:07} ")),
        "{}",
        &got[0][..40]
    );
    assert!(got[fit - 1].starts_with(&format!("{name}: {:07} ", 99)));
    bob.say("live");
    bob.expect(&format!("{}: live", bob.name));
}

#[test]
fn a_newcomer_on_a_slow_link_gets_a_long_history_and_the_room_goes_on() {
    // 1 MiB of history, more than the kernel's buffers hold: a newcomer taking it at about
    // 300 KiB/s needs about three seconds, more than the 2 s lag limit.
    let room = Server::start(&["--history", "10000", "--history-bytes", "1MiB"]);
    let filler = fill_history(&room, 600, 2000);
    let mut ada = room.join();
    let filler = filler.name.clone();
    // A small receive buffer, so the server's writes wait on the newcomer's reading.
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    socket.set_recv_buffer_size(16 * 1024).expect("SO_RCVBUF");
    socket.connect(&room.addr.into()).expect("connect");
    let slow: std::net::TcpStream = socket.into();
    let newcomer = thread::spawn(move || read_slowly(slow));
    // Meanwhile the room goes on, at its usual pace.
    for n in 0..10 {
        ada.say(&format!("while bob reads {n}"));
        let echo = format!("{}: while bob reads {n}", ada.name);
        ada.lines_until(|l| l == echo); // ada was a newcomer too: its history first
    }
    ada.say("done");
    let heard = newcomer.join().expect("the newcomer's reader");
    assert!(!heard.contains("gochat: disconnected: too slow"), "removed");
    let history = heard
        .lines()
        .filter(|l| l.starts_with(&format!("{filler}: ")))
        .count();
    assert!(history >= 500, "only {history} history lines arrived");
    for n in 0..10 {
        assert!(
            heard.contains(&format!(": while bob reads {n}\n")),
            "live line {n} missing"
        );
    }
}

/// Reads at about 300 KiB/s until the line `ADDR: done`; returns all it read.
fn read_slowly(mut stream: std::net::TcpStream) -> String {
    use std::io::Read;
    stream
        .set_read_timeout(Some(PATIENCE))
        .expect("a read timeout");
    let mut all = Vec::new();
    let mut chunk = vec![0u8; 8 * 1024];
    loop {
        let n = stream.read(&mut chunk).unwrap_or(0);
        all.extend_from_slice(&chunk[..n]);
        if n == 0 || all.ends_with(b": done\n") {
            return String::from_utf8_lossy(&all).into_owned();
        }
        thread::sleep(std::time::Duration::from_millis(25)); // pacing a slow link
    }
}
