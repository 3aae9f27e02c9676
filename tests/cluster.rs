//! One room across many servers, on a real `redis-server` started on a free loopback port.
//!
//! A test that finds no redis-server says so loudly and skips, unless
//! `GOCHAT_REQUIRE_REDIS=1` (set by `.ci/run`), where it fails with the install command.

#![cfg(feature = "redis")]

mod common;
#[path = "common/redis.rs"]
mod redis;

use std::collections::HashMap;
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use common::{Member, PATIENCE, Server, run};
use redis::Redis;

/// A gochat server in the cluster on `redis`, in room `room`.
fn server(redis: &Redis, room: &str, extra: &[&str]) -> Server {
    let url = redis.url();
    let mut args = vec!["127.0.0.1:0", "--redis", &url, "--room", room];
    args.extend_from_slice(extra);
    Server::start_at(&args)
}

/// Asks `/who` until `check` is happy with the answer, within `limit`.
fn who_until(member: &mut Member, limit: Duration, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + limit;
    loop {
        member.say("/who");
        let answer = member.lines_until(|l| l.starts_with("gochat: ") && l.contains(" here:"));
        let answer = answer.last().cloned().unwrap_or_default();
        if check(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "/who never satisfied the check: {answer}"
        );
        thread::sleep(Duration::from_millis(200)); // pacing the question, not synchronizing
    }
}

#[test]
fn three_servers_one_room_one_order() {
    const LINES: usize = 300;
    let Some(redis) = Redis::start() else { return };
    let servers: Vec<Server> = (0..3).map(|_| server(&redis, "order", &[])).collect();
    // Two members on each server; each waits to see all six arrivals settle.
    let mut members: Vec<Member> = Vec::new();
    for s in &servers {
        for _ in 0..2 {
            members.push(s.join());
        }
    }
    let last = members[5].name.clone();
    for m in &mut members[..5] {
        m.lines_until(|l| l == format!("{last} has arrived"));
    }
    let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    let senders: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut out = m.stream().try_clone().unwrap();
            thread::spawn(move || {
                for n in 0..LINES {
                    out.write_all(format!("m{i} {n}\n").as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let mut orders = Vec::new();
    for m in &mut members {
        let mut next: HashMap<usize, usize> = HashMap::new();
        let mut order = Vec::new();
        while order.len() < 6 * LINES {
            let line = m.line();
            let (who, text) = line.split_once(": ").expect("a message");
            let i = names.iter().position(|n| n == who).expect("a member");
            let n = next.entry(i).or_default();
            assert_eq!(
                text,
                format!("m{i} {n}"),
                "a member's lines out of order or lost"
            );
            *n += 1;
            order.push(line);
        }
        orders.push(order);
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "members on different servers saw different orders"
    );
}

#[test]
fn names_are_unique_and_who_lists_the_whole_room() {
    let Some(redis) = Redis::start() else { return };
    let a = server(&redis, "names", &[]);
    let b = server(&redis, "names", &[]);
    let mut ada = a.join();
    let mut bob = b.join();
    ada.lines_until(|l| l == format!("{} has arrived", bob.name));
    ada.say("/nick ada");
    let ada_addr = ada.name.clone();
    bob.lines_until(|l| l == format!("{ada_addr} is now known as ada"));
    bob.say("/nick ADA");
    bob.expect("gochat: name \"ADA\" is taken");
    bob.say("/nick bob");
    ada.lines_until(|l| l.ends_with(" is now known as bob"));
    let answer = who_until(&mut ada, PATIENCE, |a| a.contains("2 here"));
    assert_eq!(answer, "gochat: 2 here: ada, bob");
    // A line after /nick carries the new name on the other server too.
    bob.say("hello");
    ada.lines_until(|l| l == "bob: hello");
}

#[test]
fn a_killed_server_leaves_who_within_the_heartbeat_expiry() {
    let Some(redis) = Redis::start() else { return };
    let survivor = server(&redis, "kill", &[]);
    let doomed = server(&redis, "kill", &[]);
    let mut watcher = survivor.join();
    let victims: Vec<Member> = (0..2).map(|_| doomed.join()).collect();
    let last = victims[1].name.clone();
    watcher.lines_until(|l| l == format!("{last} has arrived"));
    who_until(&mut watcher, PATIENCE, |a| a.contains("3 here"));
    // SIGKILL: no goodbye, no cleanup; only the heartbeat's expiry tells the others.
    let mut doomed = doomed;
    doomed.signal(libc::SIGKILL);
    doomed.wait_exit(PATIENCE);
    let killed = Instant::now();
    let answer = who_until(&mut watcher, Duration::from_secs(10), |a| {
        a.contains("1 here")
    });
    let took = killed.elapsed();
    eprintln!("a killed server's members left /who after {took:?}");
    assert_eq!(answer, format!("gochat: 1 here: {}", watcher.name));
    assert!(took < Duration::from_secs(6), "took {took:?}");
    drop(victims);
}

#[test]
fn members_of_a_lost_server_are_seen_leaving() {
    let Some(redis) = Redis::start() else { return };
    let survivor = server(&redis, "lost", &[]);
    let mut doomed = server(&redis, "lost", &[]);
    let mut watcher = survivor.join();
    let victim = doomed.join();
    watcher.lines_until(|l| l == format!("{} has arrived", victim.name));
    doomed.signal(libc::SIGKILL);
    doomed.wait_exit(PATIENCE);
    watcher.lines_until(|l| l == format!("{} has left (server lost)", victim.name));
}

#[test]
fn nothing_is_lost_when_redis_restarts_mid_chat() {
    const LINES: usize = 200;
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let a = server(&redis, "restart", &[]);
    let b = server(&redis, "restart", &[]);
    let mut alice = a.join();
    let mut bob = b.join();
    alice.lines_until(|l| l == format!("{} has arrived", bob.name));
    let alice_name = alice.name.clone();
    let mut out = alice.stream().try_clone().unwrap();
    // Alice talks steadily; halfway through, Redis dies (losing everything) and comes back.
    let talker = thread::spawn(move || {
        for n in 0..LINES {
            out.write_all(format!("n {n}\n").as_bytes()).unwrap();
            thread::sleep(Duration::from_millis(10)); // a steady talker, not a sync
        }
    });
    let mut got = 0;
    let mut saw_down = false;
    while got < LINES {
        let line = bob.line();
        if line == "gochat: lost the room's link, reconnecting" {
            saw_down = true;
            continue;
        }
        if line.starts_with("gochat: ") {
            continue;
        }
        if got == LINES / 4 && !saw_down {
            redis.restart();
        }
        assert_eq!(
            line,
            format!("{alice_name}: n {got}"),
            "a line was lost or doubled"
        );
        got += 1;
    }
    talker.join().unwrap();
    assert!(saw_down, "the restart was never noticed");
    // Alice got all of hers back, too.
    let mine = alice.lines_until(|l| l == format!("{alice_name}: n {}", LINES - 1));
    let echoed = mine
        .iter()
        .filter(|l| l.starts_with(&format!("{alice_name}: n ")))
        .count();
    assert_eq!(echoed, LINES);
}

#[test]
fn history_comes_from_redis_even_after_every_server_restarted() {
    let Some(redis) = Redis::start() else { return };
    {
        let mut first = server(&redis, "history", &["--history", "3"]);
        let mut ada = first.join();
        for n in 1..=5 {
            ada.say(&format!("line {n}"));
        }
        ada.lines_until(|l| l.ends_with(": line 5"));
        first.signal(libc::SIGTERM);
        assert!(first.wait_exit(PATIENCE).success());
    }
    let fresh = server(&redis, "history", &["--history", "3"]);
    let mut bob = fresh.join();
    let first_three: Vec<String> = (0..3).map(|_| bob.line()).collect();
    assert!(first_three[0].ends_with(": line 4"), "{first_three:?}");
    assert!(first_three[1].ends_with(": line 5"), "{first_three:?}");
    assert!(first_three[2].ends_with(" has left"), "{first_three:?}");
}

#[test]
fn redis_unreachable_at_start_is_an_error() {
    let port = common::closed_port();
    let url = format!("redis://{port}/");
    let (status, _, err) = run(&["serve", "127.0.0.1:0", "--redis", &url]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        err,
        format!("gochat: cannot reach redis at {url}: connection refused\n")
    );
    let (status, _, err) = run(&["serve", "127.0.0.1:0", "--redis", "nonsense://x"]);
    assert_eq!(status.code(), Some(2), "{err}");
}
