//! However a member leaves, what it said last reaches the room: a line sent just before a
//! reset (a crashed client, a killed nc) arrives before its leave, even while the room is
//! busy and the server's write to that member fails first.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{Member, PATIENCE, Server};

/// Joins, says `text`, and resets the connection at once (SO_LINGER 0), as a client that
/// crashed would. Returns the name the room knew it by.
fn say_and_reset(addr: SocketAddr, text: &str) -> String {
    let mut member = Member::join(addr);
    member.say(text);
    let socket = socket2::SockRef::from(member.stream());
    socket
        .set_linger(Some(Duration::ZERO))
        .expect("set SO_LINGER 0");
    member.name.clone()
}

/// A member that sends lines as fast as the room takes them, and reads whatever it is
/// sent, until `stop`.
fn flood(addr: SocketAddr, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    let stream = TcpStream::connect(addr).expect("connect the flooder");
    let mut reading = stream.try_clone().expect("clone");
    thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        while reading.read(&mut buf).is_ok_and(|n| n > 0) {}
    });
    let mut writing = stream;
    let line = format!("{}\n", "busy ".repeat(40));
    thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if writing.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
    })
}

/// `count` members each say a last line and reset, while `watcher` reads the room on a
/// thread of its own (a member left unread would be too slow for a busy room): it must see
/// every one of those lines, each before its sender's leave.
fn every_last_line_arrives(addr: SocketAddr, mut watcher: Member, count: usize) {
    let (lines, heard) = mpsc::channel();
    thread::spawn(move || {
        while let Ok(Some(line)) = watcher.try_line(PATIENCE) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let mut owed: BTreeSet<String> = BTreeSet::new();
    for n in 0..count {
        let name = say_and_reset(addr, &format!("last words {n}"));
        owed.insert(format!("{name}: last words {n}"));
    }
    let mut said = 0;
    while !owed.is_empty() {
        let line = heard
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("{} last lines never arrived: {owed:?}", owed.len()));
        if let Some(name) = line.strip_suffix(" has left") {
            let prefix = format!("{name}: last words ");
            assert!(
                !owed.iter().any(|l| l.starts_with(&prefix)),
                "{name} left before its last line arrived"
            );
        } else if owed.remove(&line) {
            said += 1;
        }
    }
    assert_eq!(said, count);
}

#[test]
fn a_member_that_resets_right_after_a_line_still_gets_it_to_the_room() {
    let room = Server::start(&[]);
    let watcher = room.join();
    every_last_line_arrives(room.addr, watcher, 200);
}

#[test]
fn last_lines_before_a_reset_arrive_while_the_room_is_busy() {
    let room = Server::start(&[]);
    let watcher = room.join();
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = flood(room.addr, Arc::clone(&stop));
    every_last_line_arrives(room.addr, watcher, 200);
    stop.store(true, Ordering::Relaxed);
    let _ = flooder.join();
}
