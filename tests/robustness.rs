//! A room that no slow, flooding, broken or hostile member can hurt.
//!
//! Each test is one promise from README's "Guarantees", checked against the real binary.
//! Mind the kernel: on loopback a socket's send buffer can grow to megabytes, so tests of a
//! stuck member push far more than that through the room.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{Client, Member, PATIENCE, Server, Terminal, peak_rss_kib, read_together, serve_once};

/// A member that connects with a tiny receive buffer and never reads a byte.
fn stuck_member(addr: SocketAddr) -> (socket2::Socket, String) {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let name = socket
        .local_addr()
        .unwrap()
        .as_socket()
        .unwrap()
        .to_string();
    (socket, name)
}

/// The server's CPU time so far (user + system), from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); we start at field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

#[test]
fn a_member_that_never_reads_is_removed_and_everyone_else_loses_nothing() {
    stuck_member_is_removed(&[]);
}

#[test]
fn a_stuck_member_is_removed_with_several_worker_threads_too() {
    stuck_member_is_removed(&["--threads", "3"]);
}

fn stuck_member_is_removed(server_args: &[&str]) {
    const TALKERS: usize = 10;
    const LINES: usize = 10_000;
    let room = Server::start(server_args);
    let (stuck, stuck_name) = stuck_member(room.addr);
    let talkers = room.settled(TALKERS);
    let names: Vec<String> = talkers.iter().map(|t| t.name.clone()).collect();
    let started = Instant::now();
    let mut readers = Vec::new();
    for (i, mut member) in talkers.into_iter().enumerate() {
        let mut out = member.stream().try_clone().unwrap();
        thread::spawn(move || {
            let padding = "x".repeat(200);
            let text: String = (0..LINES)
                .map(|n| format!("t{i} {n} {padding}\n"))
                .collect();
            out.write_all(text.as_bytes()).unwrap();
        });
        let names = names.clone();
        let stuck_name = stuck_name.clone();
        readers.push(thread::spawn(move || {
            let mut order = Vec::with_capacity(TALKERS * LINES);
            let mut next = [0usize; TALKERS];
            let mut saw_removal = false;
            while order.len() < TALKERS * LINES {
                let line = member.line();
                if line == format!("{stuck_name} has left (too slow)") {
                    saw_removal = true;
                    continue;
                }
                let (who, text) = line.split_once(": ").expect("a message");
                let t = names.iter().position(|n| n == who).expect("a talker");
                let n: usize = text.split(' ').nth(1).unwrap().parse().unwrap();
                assert_eq!(n, next[t], "a gap or reordering in talker {t}'s lines");
                next[t] += 1;
                order.push((t as u8, n as u32));
            }
            (order, saw_removal, member)
        }));
    }
    let mut results: Vec<_> = readers.into_iter().map(|h| h.join().unwrap()).collect();
    // The removal notice may come after the last line for some: read on until it does.
    for (_, saw, member) in &mut results {
        if !*saw {
            member.lines_until(|l| l == format!("{stuck_name} has left (too slow)"));
        }
    }
    let elapsed = started.elapsed();
    let first = &results[0].0;
    assert!(
        results.iter().all(|(order, _, _)| order == first),
        "members disagree on the room's order"
    );
    room.expect_log(&format!("{stuck_name} removed: too slow"));
    // How long is for the bench to measure; a room held back for good fails the reads.
    eprintln!("100,000 lines to 10 members past a stuck one in {elapsed:?}");
    drop(stuck);
}

#[test]
fn a_slow_reader_within_the_lag_limit_is_kept_and_loses_nothing() {
    const LINES: usize = 20_000;
    let room = Server::start(&[]);
    let mut members = room.settled(2);
    let mut sender = members.pop().unwrap();
    let mut slow = members.pop().unwrap();
    let sender_name = sender.name.clone();
    let slow_reader = thread::spawn(move || {
        let mut got = 0;
        while got < LINES {
            let line = slow.line();
            assert!(
                !line.contains("too slow"),
                "the slow reader was removed: {line}"
            );
            assert_eq!(line, format!("{sender_name}: {got} {}", "y".repeat(90)));
            got += 1;
            if got % 50 == 0 {
                // About 5,000 lines (500 KB) a second: slower than the room can go.
                thread::sleep(Duration::from_millis(10));
            }
        }
        slow
    });
    let mut out = sender.stream().try_clone().unwrap();
    let text: String = (0..LINES)
        .map(|n| format!("{n} {}\n", "y".repeat(90)))
        .collect();
    let writer = thread::spawn(move || out.write_all(text.as_bytes()).unwrap());
    for _ in 0..LINES {
        sender.line();
    }
    writer.join().unwrap();
    let mut slow = slow_reader.join().unwrap();
    sender.say("done");
    slow.expect(&format!("{}: done", sender.name));
}

#[test]
fn a_typed_line_gets_through_while_another_member_pipes_a_million_lines() {
    const PIPED: usize = 1_000_000;
    let room = Server::start(&[]);
    let mut members = room.settled(3);
    let mut observer = members.pop().unwrap();
    let mut typist = members.pop().unwrap();
    let piper = members.pop().unwrap();
    let (piper_name, typist_name) = (piper.name.clone(), typist.name.clone());

    let mut pipe_out = piper.stream().try_clone().unwrap();
    let pipe = thread::spawn(move || {
        let text: String = (0..PIPED).map(|n| format!("piped {n}\n")).collect();
        pipe_out.write_all(text.as_bytes()).unwrap();
    });
    // Everyone reads everything, as members who keep up do.
    let drain = |mut m: Member, until: String| {
        thread::spawn(move || {
            m.lines_until(|l| l == until);
            m
        })
    };
    let piper_done = drain(piper, format!("{piper_name}: piped {}", PIPED - 1));
    let mut typist_out = typist.stream().try_clone().unwrap();
    let typist_done = thread::spawn(move || {
        typist.lines_until(|l| l.ends_with(&format!("piped {}", PIPED - 1)));
        typist
    });

    // The line is typed once the observer has seen 100,000 piped lines; it must reach the
    // observer before the pipe's last line. Told by the order the room gives, not by a
    // clock: what can be ahead of it is bounded in bytes (the room channel's 64 reads of at
    // most 64KiB, an outbox's sendq, socket buffers: under 700,000 of these lines), while
    // a reader that let the pipe go first would put it after all 1,000,000.
    let mut next = 0;
    let mut typed_at = None;
    let mut arrived = None;
    while next < PIPED {
        let line = observer.line();
        if line == format!("{typist_name}: are you there?") {
            arrived = typed_at.map(|t: Instant| (next, t.elapsed()));
            continue;
        }
        assert_eq!(line, format!("{piper_name}: piped {next}"));
        next += 1;
        if next == 100_000 {
            typed_at = Some(Instant::now());
            typist_out.write_all(b"are you there?\n").unwrap();
        }
    }
    pipe.join().unwrap();
    piper_done.join().unwrap();
    typist_done.join().unwrap();
    let Some((at, waited)) = arrived else {
        panic!("the typed line came after the whole pipe");
    };
    eprintln!(
        "the typed line crossed the flood in {} piped lines, {waited:?}",
        at - 100_000
    );
    // How much memory 1,000,000 lines took is the bench's to measure (its peak RSS).
}

/// A member that reads 1 KiB every 60ms (about 16 KiB/s, far slower than a flood) until
/// `hurry` is set, then reads to the end. Returns its name, `hurry`, and what it read.
fn slow_reader(addr: SocketAddr) -> (String, Arc<AtomicBool>, thread::JoinHandle<Vec<u8>>) {
    let (socket, name) = stuck_member(addr);
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let hurry = Arc::new(AtomicBool::new(false));
    let told = Arc::clone(&hurry);
    let reader = thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            if !told.load(Ordering::Acquire) {
                thread::sleep(Duration::from_millis(60)); // the slowness under test
            }
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return all,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    });
    (name, hurry, reader)
}

#[test]
fn a_member_removed_as_too_slow_is_told_why_in_its_last_line() {
    // The last line goes out only if the member's socket takes it then, as README says:
    // a slow reader keeps some room opening in it, but on a busy machine the writer can
    // still have filled it to the last byte at that moment (a few runs in a hundred). So
    // the promise is checked on up to three slow readers: one must get the line, and a
    // server that never sends it fails every time.
    const TRIES: usize = 3;
    let mut endings = Vec::new();
    for _ in 0..TRIES {
        let (room_lines, last, names) = removed_slow_reader();
        if last == "gochat: disconnected: too slow (more than 1s behind the room)" {
            check_room_lines(&room_lines, &names);
            return;
        }
        endings.push(last);
    }
    panic!("no slow reader got its last line; theirs ended: {endings:?}");
}

/// A slow reader in a room with `--lag-limit 1s` and a talker who floods it: returns what
/// it received before its last line, that last line (of the room's, the last however
/// short), and the names of the slow reader and then of the two others.
fn removed_slow_reader() -> (String, String, [String; 3]) {
    let room = Server::start(&["--lag-limit", "1s"]);
    let (slow_name, hurry, slow) = slow_reader(room.addr);
    let mut members = room.settled(2);
    let names = [slow_name, members[0].name.clone(), members[1].name.clone()];
    // About 500 KB: far more than the slow reader's socket holds, so its writer blocks.
    let flood: String = (0..4000)
        .map(|n| format!("{n} {}\n", "x".repeat(100)))
        .collect();
    let mut out = members[0].stream().try_clone().unwrap();
    let talker = thread::spawn(move || out.write_all(flood.as_bytes()).unwrap());
    let gone = format!("{} has left (too slow)", names[0]);
    read_together(&mut members, |member| member.lines_until(|l| l == gone));
    talker.join().unwrap();
    // The value of --lag-limit reaches the rule, the log and the member's last line.
    room.expect_log(&format!(
        "{} removed: too slow (more than 1s behind the room)",
        names[0]
    ));
    hurry.store(true, Ordering::Release);
    let got = String::from_utf8(slow.join().unwrap()).unwrap();
    let got = got.strip_suffix('\n').unwrap_or(&got);
    let (room_lines, last) = got.rsplit_once('\n').unwrap_or(("", got));
    (room_lines.to_string(), last.to_string(), names)
}

/// What a removed slow reader got before its last line: its greeting, the two arrivals,
/// then the talker's lines in order, the last perhaps cut short (the notice's newline
/// ends it).
fn check_room_lines(room_lines: &str, [slow, talker, other]: &[String; 3]) {
    let room_lines: Vec<&str> = room_lines.lines().collect();
    let arrivals = [
        format!("You are {slow}"),
        format!("{talker} has arrived"),
        format!("{other} has arrived"),
    ];
    assert_eq!(room_lines[..3], arrivals);
    let said = &room_lines[3..];
    assert!(said.len() > 1000, "it was sent {} lines", said.len());
    for (n, got) in said.iter().enumerate() {
        let want = format!("{talker}: {n} {}", "x".repeat(100));
        assert!(
            *got == want || (n + 1 == said.len() && want.starts_with(got)),
            "line {n}: {got:?}"
        );
    }
}

#[test]
fn a_large_sendq_lets_a_member_fall_that_far_behind_without_holding_the_room() {
    // With the default 256KiB the room would wait for the stuck member (and, with a lag
    // limit of an hour, keep waiting): 8 MiB behind is fine with --sendq 64MiB.
    const LINES: usize = 80_000;
    let room = Server::start(&["--sendq", "64MiB", "--lag-limit", "1h"]);
    let (stuck, stuck_name) = stuck_member(room.addr);
    let mut members = room.settled(2);
    let talker_name = members[0].name.clone();
    let line = "y".repeat(90);
    let text: String = (0..LINES).map(|n| format!("{n} {line}\n")).collect();
    let mut out = members[0].stream().try_clone().unwrap();
    let talker = thread::spawn(move || out.write_all(text.as_bytes()).unwrap());
    let last = format!("{talker_name}: {} {line}", LINES - 1);
    read_together(&mut members, |member| member.lines_until(|l| l == last));
    talker.join().unwrap();
    // The stuck member is still in the room: nothing removed it, nothing was lost.
    members[1].say("/who");
    let who = members[1].line();
    assert!(who.starts_with("gochat: 3 here: "), "{who}");
    assert!(who.contains(&stuck_name), "{who}");
    drop(stuck);
}

#[test]
fn a_line_longer_than_max_line_arrives_in_pieces_of_max_line() {
    let room = Server::start(&["--max-line", "100"]);
    let mut members = room.settled(2);
    let name = members[0].name.clone();
    members[0].say(&"a".repeat(250));
    // Cut on a character boundary: 33 three-byte characters are 99 bytes.
    members[0].say(&"€".repeat(50));
    let want = [
        "a".repeat(100),
        "a".repeat(100),
        "a".repeat(50),
        "€".repeat(33),
        "€".repeat(17),
    ];
    for member in &mut members {
        for piece in &want {
            member.expect(&format!("{name}: {piece}"));
        }
    }
}

#[test]
fn a_ten_megabyte_line_arrives_in_bounded_pieces_with_bounded_memory() {
    let room = Server::start(&[]);
    let mut members = room.settled(2);
    let before = peak_rss_kib(room.pid());
    let mut sender = members.pop().unwrap();
    let mut observer = members.pop().unwrap();
    // Three-byte characters, so pieces must be cut short of 4096 to stay on a boundary.
    const CHARS: usize = 10 * 1024 * 1024 / 3;
    let mut out = sender.stream().try_clone().unwrap();
    let writer = thread::spawn(move || {
        let text = "€".repeat(CHARS);
        out.write_all(text.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
    });
    let drain = thread::spawn(move || {
        let mut n = 0;
        while n < CHARS {
            n += sender.line().chars().count();
        }
        sender
    });
    let mut chars = 0;
    let mut pieces = 0;
    while chars < CHARS {
        let line = observer.line();
        let (_, piece) = line.split_once(": ").unwrap();
        assert!(piece.len() <= 4096, "a piece of {} bytes", piece.len());
        assert!(piece.chars().all(|c| c == '€'));
        chars += piece.chars().count();
        pieces += 1;
    }
    assert_eq!(chars, CHARS);
    assert_eq!(pieces, CHARS.div_ceil(1365));
    writer.join().unwrap();
    drain.join().unwrap();
    // Growth, not a ceiling: a debug build's own size is not what is tested. Holding the
    // line would cost all 10 MB of it; the server holds at most --max-line of it, plus what
    // the room queues while a slow observer holds it back: up to 64 messages of one read
    // (64 KiB) each, --sendq and a batch, about 5 MiB on a loaded machine.
    let grew = peak_rss_kib(room.pid()).saturating_sub(before);
    eprintln!("server peak RSS grew by {grew} KiB with a 10 MB line");
    assert!(
        grew < 8 * 1024,
        "the server grew by {grew} KiB with the line"
    );
}

#[test]
fn escapes_and_bad_bytes_arrive_as_harmless_visible_text() {
    let room = Server::start(&[]);
    let mut members = room.settled(2);
    let mut mallory = members.pop().unwrap();
    let mut victim = members.pop().unwrap();
    mallory.send(b"\x1b[2J\x1b[H cleared\n");
    mallory.send(b"\x1b]52;c;aGFja2Vk\x07 clipboard\n");
    mallory.send(b"nul\x00 bell\x07 del\x7f\n");
    mallory.send(b"bad \xc0\xfe utf8 \xc3\n");
    mallory.send("c1 \u{9b}31m csi\n".as_bytes());
    let m = &mallory.name;
    for want in [
        format!("{m}: ^[[2J^[[H cleared"),
        format!("{m}: ^[]52;c;aGFja2Vk^G clipboard"),
        format!("{m}: nul^@ bell^G del^?"),
        format!("{m}: bad \u{FFFD}\u{FFFD} utf8 \u{FFFD}"),
        format!("{m}: c1 M-^[31m csi"),
    ] {
        let raw = victim.raw_line(PATIENCE).unwrap();
        assert!(
            raw[..raw.len() - 1]
                .iter()
                .all(|&b| b >= 0x20 && b != 0x7f || b == b'\t'),
            "a control byte reached a member: {raw:?}"
        );
        assert_eq!(String::from_utf8(raw).unwrap(), format!("{want}\n"));
    }
}

#[test]
fn a_full_room_turns_newcomers_away_politely() {
    let room = Server::start(&["--max-clients", "3"]);
    let _members = room.settled(3);
    let mut extra = Member::connect(room.addr);
    extra.expect("gochat: room is full");
    extra.expect_closed();
}

#[test]
fn max_clients_above_the_open_file_limit_is_lowered_after_the_start_line() {
    use std::os::unix::process::CommandExt;
    let mut command = common::gochat();
    command.args(["serve", "127.0.0.1:0", "--max-clients", "1000"]);
    // SAFETY: setrlimit between fork and exec touches only the child's own limits.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 100,
                rlim_max: 200,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // start_with insists that the first line is the start line: scripts read that one.
    let room = Server::start_with(&mut command);
    room.expect_log("gochat: --max-clients lowered to 168: the open file limit is 200");
    let _member = Member::join(room.addr);
}

#[test]
fn running_out_of_descriptors_does_not_spin_and_the_room_recovers() {
    let room = Server::start(&[]);
    // Lower the server's open file limit under it, as an admin's prlimit would.
    room.lower_open_files(48);
    let mut members: Vec<Member> = Vec::new();
    let mut turned_away = None;
    for _ in 0..60 {
        let mut m = Member::connect(room.addr);
        let first = m.line();
        if first == "gochat: room is full" {
            turned_away = Some(m);
            break;
        }
        assert!(first.starts_with("You are "), "{first}");
        m.name = first.trim_start_matches("You are ").to_string();
        members.push(m);
    }
    assert!(turned_away.is_some(), "the limit was never reached");
    room.expect_log("cannot accept: too many open files");
    // Hold the room at the limit, with more newcomers knocking, and watch the CPU.
    let before = cpu_time(room.pid());
    let knocking: Vec<TcpStream> = (0..10)
        .filter_map(|_| TcpStream::connect(room.addr).ok())
        .collect();
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(3) {
        thread::sleep(Duration::from_millis(100)); // a measuring window, not a wait for an event
    }
    // CPU time, not wall time: a busy machine slows the server but does not add to what
    // it used (10 to 20ms here, with four busy loops beside it). A loop that spins takes a
    // whole core when it can, and more than a sixth of one on any machine that runs it.
    let used = cpu_time(room.pid()) - before;
    eprintln!("server CPU in 3 s at the descriptor limit: {used:?}");
    assert!(
        used < Duration::from_millis(500),
        "accept loop spun: {used:?} of CPU in 3 s"
    );
    assert!(
        room.log.try_iter().all(|l| !l.contains("cannot accept")),
        "the log was flooded"
    );
    // The room still works for those inside.
    let speaker = members[0].name.clone();
    members[0].say("still here");
    let last = members.len() - 1;
    members[last].lines_until(|l| l == format!("{speaker}: still here"));
    // Two members leave; a newcomer gets in, and the room is no longer at its limit.
    drop(knocking);
    drop(members.pop());
    drop(members.pop());
    let newcomer = (0..50)
        .map(|_| {
            let mut m = Member::connect(room.addr);
            let first = m.line();
            (m, first)
        })
        .find(|(_, first)| first.starts_with("You are "));
    assert!(newcomer.is_some(), "no newcomer got in after a slot freed");
    room.expect_log("accepting again");
}

#[test]
fn sigterm_tells_everyone_and_exits_cleanly_even_with_a_stuck_member() {
    let mut room = Server::start(&[]);
    let (stuck, _) = stuck_member(room.addr);
    let mut members = room.settled(5);
    // Enough to fill the stuck member's socket so its writer is blocked when we stop, not
    // enough to fill its outbox (so the room is not waiting on it).
    let chatter = "z".repeat(1000);
    for n in 0..300 {
        members[0].say(&format!("{n} {chatter}"));
    }
    let speaker = members[0].name.clone();
    let last = format!("{speaker}: 299 {chatter}");
    read_together(&mut members, |member| member.lines_until(|l| l == last));
    let signalled = Instant::now();
    room.signal(libc::SIGTERM);
    read_together(&mut members, |member| {
        member.lines_until(|l| l == "gochat: server shutting down");
        member.expect_closed();
    });
    assert_eq!(room.wait_exit(PATIENCE).code(), Some(0));
    // The grace is 2s; the bound is loose, to catch a grace that never ends (the stuck
    // member would hold the server for ever), not to time it on a busy machine.
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
    drop(stuck);
}

#[test]
fn sigint_tells_everyone_and_exits_0() {
    let mut room = Server::start(&[]);
    let mut members = room.settled(2);
    room.signal(libc::SIGINT);
    read_together(&mut members, |member| {
        member.expect("gochat: server shutting down");
        member.expect_closed();
    });
    assert_eq!(room.wait_exit(PATIENCE).code(), Some(0));
}

#[test]
fn a_second_sigterm_exits_at_once_with_143() {
    second_signal_exits_at_once(libc::SIGTERM, 143);
}

#[test]
fn a_second_sigint_exits_at_once_with_130() {
    second_signal_exits_at_once(libc::SIGINT, 130);
}

/// Stops a room whose stuck member holds the shutdown for its 2s of grace, then signals
/// again: the status tells a second signal (128 + its number) from the end of the grace (0).
fn second_signal_exits_at_once(signal: i32, status: i32) {
    let mut room = Server::start(&[]);
    let (stuck, _) = stuck_member(room.addr);
    let mut talker = room.join();
    let chatter = "z".repeat(1000);
    for n in 0..300 {
        talker.say(&format!("{n} {chatter}"));
    }
    talker.lines_until(|l| l.ends_with(&format!("299 {chatter}")));
    room.signal(signal);
    room.expect_log("shutting down");
    room.signal(signal);
    assert_eq!(room.wait_exit(PATIENCE).code(), Some(status));
    drop(stuck);
}

#[test]
fn silent_members_are_removed_after_the_idle_timeout() {
    let room = Server::start(&["--idle-timeout", "1s"]);
    let mut members = room.settled(2);
    let mut talker = members.pop().unwrap();
    let mut silent = members.pop().unwrap();
    let silent_name = silent.name.clone();
    // The talker keeps talking; the silent one only listens.
    let deadline = Instant::now() + PATIENCE;
    loop {
        talker.say("tick");
        let line = talker.line();
        if line == format!("{silent_name} has left (idle)") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the silent member was never removed"
        );
        thread::sleep(Duration::from_millis(200)); // pacing the talk, not synchronizing
    }
    let rest = silent.lines_until(|l| l.starts_with("gochat: disconnected"));
    assert_eq!(
        rest.last().unwrap(),
        "gochat: disconnected: idle for more than 1s"
    );
    silent.expect_closed();
    room.expect_log("removed: idle");
}

/// A line with a screen clear and an OSC 52 clipboard write, as a hostile server sends it.
const ESCAPES: &[u8] = b"evil \x1b[2J\x1b]52;c;eA==\x07 line\n";

#[test]
fn connect_passes_the_bytes_unchanged_to_a_pipe() {
    let (addr, server) = serve_once(ESCAPES.to_vec());
    let client = Client::start(addr, &[]);
    server.join().unwrap();
    let (status, out, _) = client.finish(PATIENCE);
    assert!(status.success());
    assert_eq!(out.as_bytes(), ESCAPES);
}

#[test]
#[cfg_attr(not(has_script), ignore = "needs script: apt-get install bsdutils")]
fn connect_shows_control_characters_visibly_on_a_terminal() {
    let (addr, server) = serve_once(ESCAPES.to_vec());
    let term = Terminal::gochat(&format!("connect {addr} < /dev/null"));
    server.join().unwrap();
    let (status, shown) = term.finish();
    assert!(status.success());
    // The terminal turns the newline into CRLF.
    assert_eq!(shown, b"evil ^[[2J^[]52;c;eA==^G line\r\n");
}

#[test]
#[cfg_attr(not(has_script), ignore = "needs script: apt-get install bsdutils")]
fn connect_raw_passes_the_bytes_unchanged_even_to_a_terminal() {
    let (addr, server) = serve_once(ESCAPES.to_vec());
    let term = Terminal::gochat(&format!("connect {addr} --raw < /dev/null"));
    server.join().unwrap();
    let (status, shown) = term.finish();
    assert!(status.success());
    assert_eq!(shown, b"evil \x1b[2J\x1b]52;c;eA==\x07 line\r\n");
}
