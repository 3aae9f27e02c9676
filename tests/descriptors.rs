//! At the open file ceiling the server keeps its head: the log says so once per episode
//! (with a count when it is over), never a pair of lines per connection, however many
//! connections come and go at the limit.

mod common;

use std::net::TcpStream;
use std::time::Instant;

use common::{Member, Server};

/// Connects until one is greeted (some are turned away while the room is at its limit).
fn newcomer(room: &Server) -> Member {
    for _ in 0..100 {
        let mut m = Member::connect(room.addr);
        let first = m.line();
        if let Some(name) = first.strip_prefix("You are ") {
            m.name = name.to_string();
            return m;
        }
        assert_eq!(first, "gochat: room is full");
    }
    panic!("no newcomer got in after a place freed");
}

#[test]
fn at_the_descriptor_ceiling_the_log_says_so_once_per_episode() {
    let room = Server::start(&[]);
    room.lower_open_files(48);
    let mut members: Vec<Member> = Vec::new();
    loop {
        let mut m = Member::connect(room.addr);
        let first = m.line();
        if first == "gochat: room is full" {
            break;
        }
        assert!(first.starts_with("You are "), "{first}");
        members.push(m);
        assert!(members.len() < 100, "the limit was never reached");
    }
    room.expect_log("gochat: cannot accept: too many open files");
    // Churn at the limit: each freed descriptor lets one newcomer in, and the next
    // connection finds the process out of descriptors again.
    let churn = Instant::now();
    for _ in 0..30 {
        drop(members.remove(0));
        members.push(newcomer(&room));
        let _knocking = TcpStream::connect(room.addr);
    }
    let seconds = churn.elapsed().as_secs();
    let logged: Vec<String> = room.log.try_iter().collect();
    assert!(
        logged.len() as u64 <= 1 + seconds,
        "{} log lines in {seconds} s of churn at the limit: {logged:?}",
        logged.len()
    );
    // Calm: two places free, a newcomer takes one, nobody else knocks. Once accepting has
    // worked for a while, the episode is over, and the log says how it went.
    drop(members.drain(..2));
    members.push(newcomer(&room));
    let over = room.expect_log("gochat: accepting again (");
    assert!(over.ends_with("turned away meanwhile)"), "{over}");
}
