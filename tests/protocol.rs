//! The room as a raw TCP client sees it: the seed's lines, byte for byte, in one order.

mod common;

use std::thread;
use std::time::Duration;

use common::{Member, PATIENCE, Server, read_together};

#[test]
fn two_members_see_the_seeds_exact_bytes() {
    let room = Server::start(&[]);
    let mut alice = room.join();
    let mut bob = Member::connect(room.addr);
    // Bob's greeting names him by his address, as the Go server does.
    let bob_local = bob.stream().local_addr().unwrap();
    assert_eq!(
        bob.raw_line(PATIENCE).unwrap(),
        format!("You are {bob_local}\n").into_bytes()
    );
    bob.name = bob_local.to_string();
    assert_eq!(
        alice.raw_line(PATIENCE).unwrap(),
        format!("{bob_local} has arrived\n").into_bytes()
    );

    bob.say("hello alice");
    let want = format!("{bob_local}: hello alice\n").into_bytes();
    assert_eq!(alice.raw_line(PATIENCE).unwrap(), want);
    assert_eq!(
        bob.raw_line(PATIENCE).unwrap(),
        want,
        "the sender gets its echo"
    );

    drop(bob);
    assert_eq!(
        alice.raw_line(PATIENCE).unwrap(),
        format!("{bob_local} has left\n").into_bytes()
    );
}

#[test]
fn fifty_members_all_get_the_same_bytes() {
    let room = Server::start(&[]);
    let mut members: Vec<Member> = Vec::new();
    for _ in 0..50 {
        let newcomer = room.join();
        for earlier in &mut members {
            earlier.expect(&format!("{} has arrived", newcomer.name));
        }
        members.push(newcomer);
    }
    for i in [0, 17, 49] {
        let speaker = members[i].name.clone();
        members[i].say(&format!("line from {i}"));
        for member in &mut members {
            member.expect(&format!("{speaker}: line from {i}"));
        }
    }
    let leaver = members.remove(25);
    let name = leaver.name.clone();
    drop(leaver);
    for member in &mut members {
        member.expect(&format!("{name} has left"));
    }
}

#[test]
fn telnet_line_ends_and_a_last_line_without_newline() {
    let room = Server::start(&[]);
    let mut watcher = room.join();
    let mut telnet = room.join();
    watcher.expect(&format!("{} has arrived", telnet.name));
    telnet.send(b"crlf line\r\nbare last line");
    telnet.finish_sending();
    watcher.expect(&format!("{}: crlf line", telnet.name));
    watcher.expect(&format!("{}: bare last line", telnet.name));
    watcher.expect(&format!("{} has left", telnet.name));
    // The leaver still gets its own echoes before the server closes its connection.
    telnet.expect(&format!("{}: crlf line", telnet.name));
    telnet.expect(&format!("{}: bare last line", telnet.name));
    telnet.expect_closed();
}

#[test]
fn empty_lines_are_relayed_as_the_seed_does() {
    let room = Server::start(&[]);
    let mut a = room.join();
    a.send(b"\n\r\n");
    a.expect(&format!("{}: ", a.name));
    a.expect(&format!("{}: ", a.name));
}

#[test]
fn every_member_sees_one_order_and_each_senders_lines_in_sequence() {
    check_one_order(&[]);
}

#[test]
fn the_order_holds_with_several_worker_threads() {
    check_one_order(&["--threads", "4"]);
}

fn check_one_order(server_args: &[&str]) {
    const SENDERS: usize = 4;
    const LINES: usize = 2000;
    let room = Server::start(server_args);
    // Three watchers and four senders, everyone having seen every arrival. Senders read
    // too: each gets every line, its own echoes included, like everybody else.
    let mut members = room.settled(3 + SENDERS);
    let names: Vec<String> = members[3..].iter().map(|s| s.name.clone()).collect();
    let handles: Vec<_> = members[3..]
        .iter()
        .map(|s| s.stream().try_clone().unwrap())
        .enumerate()
        .map(|(i, mut stream)| {
            thread::spawn(move || {
                use std::io::Write;
                let mut text = String::new();
                for n in 0..LINES {
                    text.push_str(&format!("s{i} n{n}\n"));
                }
                // Sent in uneven pieces, so lines straddle writes.
                for chunk in text.as_bytes().chunks(777) {
                    stream.write_all(chunk).unwrap();
                }
            })
        })
        .collect();
    let orders = read_together(&mut members, |member| {
        let mut seen = Vec::new();
        let mut next = [0usize; SENDERS];
        while seen.len() < SENDERS * LINES {
            let line = member.line();
            let (who, text) = line.split_once(": ").expect("a message line");
            let i = names.iter().position(|n| n == who).expect("a sender");
            assert_eq!(
                text,
                format!("s{i} n{}", next[i]),
                "lines of one sender out of order"
            );
            next[i] += 1;
            seen.push(line);
        }
        seen
    });
    for h in handles {
        h.join().unwrap();
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "members disagree on the order"
    );
}

#[test]
#[cfg_attr(
    not(has_ipv6_loopback),
    ignore = "needs an IPv6 loopback (::1) on this host"
)]
fn ipv6_loopback_members_are_named_with_brackets() {
    let room = Server::start_at(&["[::1]:0"]);
    assert!(room.addr.is_ipv6());
    let member = room.join();
    let local = member.stream().local_addr().unwrap();
    assert_eq!(member.name, local.to_string());
    assert!(member.name.starts_with("[::1]:"), "{}", member.name);
}

#[test]
fn all_interfaces_takes_ipv4_and_names_it_plainly() {
    let room = Server::start_at(&[":0"]);
    let port = room.listening[0].port();
    let v4 = Member::join(format!("127.0.0.1:{port}").parse().unwrap());
    assert!(v4.name.starts_with("127.0.0.1:"), "not {:?}", v4.name);
}

#[test]
#[cfg_attr(
    not(has_ipv6_loopback),
    ignore = "needs an IPv6 loopback (::1) on this host"
)]
fn all_interfaces_takes_ipv6_too() {
    let room = Server::start_at(&[":0"]);
    let port = room.listening[0].port();
    assert_eq!(room.listening[0].to_string(), format!("[::]:{port}"));
    let v6 = Member::join(format!("[::1]:{port}").parse().unwrap());
    assert!(v6.name.starts_with("[::1]:"), "{}", v6.name);
}

#[test]
fn a_bare_port_and_localhost_are_accepted() {
    let room = Server::start_at(&["0"]);
    room.join();
    let room = Server::start_at(&["localhost:0"]);
    let ports: Vec<u16> = room.listening.iter().map(|a| a.port()).collect();
    assert!(
        ports.windows(2).all(|w| w[0] == w[1]),
        "one port for all: {ports:?}"
    );
    for addr in &room.listening {
        assert!(addr.ip().is_loopback(), "{addr}");
        Member::join(*addr);
    }
}

#[test]
fn the_server_logs_nothing_per_line_by_default() {
    let room = Server::start(&[]);
    let mut a = room.join();
    for n in 0..100 {
        a.say(&format!("{n}"));
    }
    for n in 0..100 {
        a.expect(&format!("{}: {n}", a.name));
    }
    drop(a);
    assert!(
        room.log.recv_timeout(Duration::from_millis(300)).is_err(),
        "unexpected log output on the hot path"
    );
}
