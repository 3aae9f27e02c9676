//! The broadcaster on its own, without sockets: members here are links and outboxes that
//! the test reads the way a member's writer does, and the executor is ticked by hand, so
//! every test is deterministic.

use std::sync::Arc;
use std::time::Duration;

use futures_lite::future;
use smol::Executor;

use crate::outbox::Outbox;
use crate::room::{Config, Link, Msg, Room, Why};

/// A room with its broadcaster, run by ticking an executor by hand.
struct Bench {
    room: Arc<Room>,
    ex: Executor<'static>,
}

/// A member as a test sees it: what it was sent so far.
struct Member {
    link: Arc<Link>,
    outbox: Outbox,
}

fn config() -> Config {
    Config {
        max_line: 4096,
        sendq: 256 * 1024,
        lag_limit: Duration::from_secs(2),
        max_clients: 100,
        idle_timeout: None,
        history: 0,
        history_bytes: 1 << 20,
        verbose: false,
    }
}

impl Bench {
    fn new(config: Config) -> Bench {
        let (room, broadcaster) = Room::new(config, None);
        let ex = Executor::new();
        ex.spawn(broadcaster.run()).detach();
        let bench = Bench { room, ex };
        bench.settle();
        bench
    }

    /// Runs the broadcaster until it waits for something (telling it first that writers
    /// may have moved, as theirs would).
    fn settle(&self) {
        self.room.progress.wake();
        while self.ex.try_tick() {}
    }

    /// Tells the room something, and lets it act on it.
    fn tell(&self, msg: Msg) {
        assert!(
            future::block_on(self.room.send(msg)),
            "the broadcaster is gone"
        );
        self.settle();
    }

    /// A new member, at address `name`, let in.
    fn join(&self, name: &str) -> Member {
        let link = Arc::new(Link::new(self.room.next_id(), name.to_string()));
        let (reply, outbox) = async_channel::bounded(1);
        self.tell(Msg::Join {
            link: Arc::clone(&link),
            reply,
        });
        let outbox = outbox.try_recv().expect("the room let the member in");
        Member { link, outbox }
    }

    /// Ada (`a:1`) and Bob (`b:2`), in, greeted, and caught up.
    fn two_members(&self) -> (Member, Member) {
        let (mut ada, mut bob) = (self.join("a:1"), self.join("b:2"));
        ada.read();
        bob.read();
        (ada, bob)
    }

    fn say(&self, member: &Member, lines: &str) {
        self.tell(Msg::Lines {
            id: member.link.id,
            batch: lines.as_bytes().to_vec(),
        });
    }

    fn leave(&self, member: &Member, why: Why) {
        self.tell(Msg::Leave {
            id: member.link.id,
            why,
        });
    }
}

impl Member {
    /// Everything the member has been sent since the last read, in the order its writer
    /// would send it: the room's lines, with its own notices in their places.
    fn read(&mut self) -> String {
        let mut got = Vec::new();
        loop {
            let here = self.outbox.offset();
            let end = self.link.end();
            let next = match self.link.take_due_notice(here) {
                Ok(notice) => {
                    got.extend_from_slice(&notice.bytes);
                    self.outbox.advance(notice.skip as usize);
                    self.link.notice_written(notice.bytes.len());
                    continue;
                }
                Err(next) => next,
            };
            let mut slices = [std::io::IoSlice::new(&[]); 16];
            let (count, n) = self.outbox.gather(end.min(next), 1 << 30, &mut slices);
            if n == 0 {
                break;
            }
            for slice in &slices[..count] {
                got.extend_from_slice(slice);
            }
            self.outbox.advance(n);
            self.link.set_delivered(self.outbox.offset());
        }
        String::from_utf8(got).expect("the room sends UTF-8")
    }

    /// Whether the member's stream has ended and it has read all of it.
    fn ended(&self) -> bool {
        self.outbox.offset() >= self.link.end()
    }
}

#[test]
fn a_newcomer_is_greeted_and_the_others_see_it_arrive() {
    let bench = Bench::new(config());
    let mut ada = bench.join("10.0.0.1:1");
    assert_eq!(ada.read(), "You are 10.0.0.1:1\n");
    let mut bob = bench.join("10.0.0.2:2");
    assert_eq!(bob.read(), "You are 10.0.0.2:2\n", "no arrival of its own");
    assert_eq!(ada.read(), "10.0.0.2:2 has arrived\n");
}

#[test]
fn every_member_gets_every_line_in_one_order() {
    let bench = Bench::new(config());
    let (mut ada, mut bob) = bench.two_members();
    bench.say(&ada, "one\ntwo\n");
    bench.say(&bob, "three\n");
    bench.say(&ada, "four\n");
    let want = "a:1: one\na:1: two\nb:2: three\na:1: four\n";
    assert_eq!(ada.read(), want);
    assert_eq!(bob.read(), want);
}

#[test]
fn a_member_that_leaves_gets_its_own_last_lines_then_its_stream_ends() {
    let bench = Bench::new(config());
    let (mut ada, mut bob) = bench.two_members();
    bench.say(&bob, "bye\n");
    bench.leave(&bob, Why::Quit);
    assert_eq!(bob.read(), "b:2: bye\n");
    assert!(bob.ended(), "nothing after its leaving");
    assert_eq!(ada.read(), "b:2: bye\nb:2 has left\n");
    bench.say(&ada, "still here\n");
    assert_eq!(bob.read(), "");
}

#[test]
fn the_reason_for_a_removal_is_shown() {
    let bench = Bench::new(config());
    let (mut ada, bob, carol) = (bench.join("a:1"), bench.join("b:2"), bench.join("c:3"));
    ada.read();
    bench.leave(&bob, Why::TooSlow);
    bench.leave(&carol, Why::Idle);
    assert_eq!(ada.read(), "b:2 has left (too slow)\nc:3 has left (idle)\n");
}

#[test]
fn commands_answer_their_sender_in_place_and_nick_renames_for_everyone() {
    let bench = Bench::new(config());
    let (mut ada, mut bob) = bench.two_members();
    bench.say(&ada, "/nick ada\nhello\n/who\n");
    bench.say(&bob, "/nick ADA\n/me waves\n//etc\n/bogus\n");
    assert_eq!(
        ada.read(),
        "a:1 is now known as ada\nada: hello\ngochat: 2 here: ada, b:2\n\
         * b:2 waves\nb:2: /etc\n"
    );
    assert_eq!(
        bob.read(),
        "a:1 is now known as ada\nada: hello\ngochat: name \"ADA\" is taken\n\
         * b:2 waves\nb:2: /etc\ngochat: unknown command \"/bogus\" (try /help)\n"
    );
}

#[test]
fn quit_leaves_the_room() {
    let bench = Bench::new(config());
    let (mut ada, mut bob) = (bench.join("a:1"), bench.join("b:2"));
    ada.read();
    bench.say(&bob, "/quit\n");
    assert_eq!(ada.read(), "b:2 has left\n");
    bob.read();
    assert!(bob.ended());
}

#[test]
fn a_newcomer_gets_the_last_history_lines_then_live_ones_with_no_gap() {
    let bench = Bench::new(Config {
        history: 2,
        ..config()
    });
    let ada = bench.join("a:1");
    bench.say(&ada, "one\ntwo\nthree\n");
    let mut bob = bench.join("b:2");
    bench.say(&ada, "four\n");
    assert_eq!(
        bob.read(),
        "You are b:2\na:1: two\na:1: three\na:1: four\n",
        "history after the greeting, its own arrival skipped"
    );
}

#[test]
fn the_room_waits_for_a_member_past_sendq_and_goes_on_when_it_reads() {
    let bench = Bench::new(Config {
        sendq: 64,
        ..config()
    });
    let (mut ada, mut bob) = bench.two_members();
    let line = format!("{}\n", "x".repeat(40));
    bench.say(&ada, &line);
    bench.say(&ada, &line);
    // The second line would put both members more than 64 bytes behind: it waits.
    assert_eq!(ada.read().lines().count(), 1);
    assert_eq!(bob.read().lines().count(), 1, "bob reads: the room goes on");
    bench.settle();
    assert_eq!(ada.read().lines().count(), 1);
    assert_eq!(bob.read().lines().count(), 1);
}

#[test]
fn a_member_removed_as_too_slow_no_longer_holds_the_room() {
    let bench = Bench::new(Config {
        sendq: 64,
        ..config()
    });
    let (mut ada, bob) = bench.two_members();
    let line = format!("{}\n", "x".repeat(40));
    bench.say(&ada, &line);
    bench.say(&ada, &line);
    assert_eq!(
        ada.read().lines().count(),
        1,
        "bob holds the second line back"
    );
    // Bob's writer gives up on it (its lag limit passed) and says so.
    bob.link.stop();
    bench.room.gone(bob.link.id, Why::TooSlow);
    bench.settle();
    assert_eq!(ada.read(), format!("a:1: {line}"), "bob no longer holds it");
    bench.settle();
    assert_eq!(ada.read(), "b:2 has left (too slow)\n");
}

#[test]
fn shutdown_tells_everyone_and_ends_every_stream() {
    let bench = Bench::new(config());
    let (mut ada, mut bob) = bench.two_members();
    let (done, finished) = async_channel::bounded::<()>(1);
    bench.tell(Msg::Shutdown { done });
    assert!(finished.try_recv().is_err(), "answered by being dropped");
    assert_eq!(ada.read(), "gochat: server shutting down\n");
    assert_eq!(bob.read(), "gochat: server shutting down\n");
    assert!(ada.ended() && bob.ended());
    let link = Arc::new(Link::new(bench.room.next_id(), "late:9".into()));
    let (reply, outbox) = async_channel::bounded(1);
    bench.tell(Msg::Join { link, reply });
    assert!(outbox.try_recv().is_err(), "no one new is let in");
}

#[test]
fn a_newcomer_taking_its_history_holds_nobody_back() {
    let bench = Bench::new(Config {
        history: 100,
        sendq: 64,
        ..config()
    });
    let mut ada = bench.join("a:1");
    ada.read();
    let line = format!("{}\n", "x".repeat(40));
    bench.say(&ada, &line);
    ada.read();
    bench.say(&ada, &line);
    ada.read();
    // Bob joins and is owed the history, but reads nothing yet.
    let mut bob = bench.join("b:2");
    assert_eq!(ada.read(), "b:2 has arrived\n");
    for _ in 0..3 {
        bench.say(&ada, &line);
        assert_eq!(ada.read(), format!("a:1: {line}"), "the room goes on");
    }
    let owed = bob.read();
    assert!(owed.starts_with("You are b:2\n"), "{owed}");
    assert_eq!(
        owed.lines().count(),
        1 + 3 + 3,
        "greeting, history (ada's arrival and 2 lines), live lines: {owed}"
    );
}
