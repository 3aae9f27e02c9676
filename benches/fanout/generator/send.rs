//! The send path: senders write their lines, stamped just before the write that hands them
//! to the kernel, either all at once as fast as the connection takes them (burst) or
//! released one at a time by the pacing timer (steady). Also the sync lines of
//! [`Gen::sync_all`].

use std::io;
use std::time::{Duration, Instant};

use super::Gen;
use super::receive::nanos_since;
use crate::scenario::{Mode, Scenario};
use crate::wire::{LINE_LEN, NS_AT, NS_WIDTH, SENDER_AT, SEQ_AT, put_num, sync_line};

/// Lines per write for senders that send as fast as they can (64 KiB).
const CHUNK_LINES: usize = 1024;

/// One sender: member `member`'s lines and how far it has got.
pub struct Sender {
    member: usize,
    /// Lines handed to `buf` so far (the next sequence number).
    next_seq: usize,
    /// Lines this sender may send by now (all of them in burst mode).
    released: usize,
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    off: usize,
}

impl Sender {
    /// Sender `s`: member `s` sends its lines.
    pub fn new(s: usize) -> Sender {
        Sender {
            member: s,
            next_seq: 0,
            released: 0,
            buf: Vec::with_capacity(CHUNK_LINES * LINE_LEN),
            off: 0,
        }
    }

    /// Refills an empty buffer with up to CHUNK_LINES released lines, from `template`;
    /// false if none is released.
    fn refill(&mut self, s: usize, template: &[u8; LINE_LEN]) -> bool {
        self.buf.clear();
        self.off = 0;
        let n = (self.released - self.next_seq).min(CHUNK_LINES);
        for _ in 0..n {
            let at = self.buf.len();
            self.buf.extend_from_slice(template);
            put_num(&mut self.buf[at + SENDER_AT..at + SENDER_AT + 4], s as u64);
            put_num(
                &mut self.buf[at + SEQ_AT..at + SEQ_AT + 7],
                self.next_seq as u64,
            );
            self.next_seq += 1;
        }
        n > 0
    }

    /// Stamps every line not yet (partly) written with `now_ns`.
    fn stamp(&mut self, now_ns: u64) {
        let first = self.off.div_ceil(LINE_LEN);
        for k in first..self.buf.len() / LINE_LEN {
            let at = k * LINE_LEN + NS_AT;
            put_num(&mut self.buf[at..at + NS_WIDTH], now_ns);
        }
    }
}

/// The steady scenario's pace: line `next` of `total` is due `next * period_ns` after
/// `start`, from sender `next % senders`.
pub struct Schedule {
    start: Instant,
    period_ns: u64,
    next: u64,
    total: u64,
}

impl Gen {
    /// Releases the scenario's lines: all at once (burst), or by the timer (steady).
    pub(super) fn start_senders(&mut self, sc: &Scenario) {
        match sc.mode {
            Mode::Burst => {
                for s in 0..self.senders.len() {
                    self.senders[s].released = sc.per_sender;
                }
                for s in 0..self.senders.len() {
                    self.pump(s);
                }
            }
            Mode::Steady { lines_per_sec } => {
                self.schedule = Some(Schedule {
                    start: Instant::now(),
                    period_ns: 1_000_000_000 / lines_per_sec,
                    next: 0,
                    total: sc.lines(),
                });
                self.poller.arm_timer(Duration::ZERO);
            }
            Mode::Idle => {}
        }
    }

    /// Writes what sender `s` may send, as far as its connection takes it.
    pub(super) fn pump(&mut self, s: usize) {
        let i = self.senders[s].member;
        let mut want_out = false;
        loop {
            let snd = &mut self.senders[s];
            let Some(conn) = self.members[i].conn.as_ref() else {
                return;
            };
            if snd.off == snd.buf.len() && !snd.refill(s, &self.template) {
                break;
            }
            let now_ns = nanos_since(self.epoch, Instant::now());
            snd.stamp(now_ns);
            self.st.first_send_ns.get_or_insert(now_ns);
            match conn.write(&snd.buf[snd.off..]) {
                Ok(n) => {
                    snd.off += n;
                    self.st.progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    want_out = true;
                    break;
                }
                Err(e) => {
                    self.close_member(i, format!("sender {s}: write: {e}"));
                    return;
                }
            }
        }
        self.watch_writes(i, want_out);
    }

    /// Asks for writability events on member `i`'s connection only while a write waits.
    fn watch_writes(&mut self, i: usize, want_out: bool) {
        let m = &mut self.members[i];
        if m.want_out == want_out {
            return;
        }
        if let Some(conn) = m.conn.as_ref() {
            let _ = self.poller.watch_writes(conn.fd(), i, want_out);
            m.want_out = want_out;
        }
    }

    /// The steady scenario's clock: releases the lines now due, each to its sender.
    pub(super) fn on_timer(&mut self) {
        self.poller.drain_timer();
        let Some(sch) = self.schedule.as_mut() else {
            return;
        };
        let elapsed = nanos_since(sch.start, Instant::now());
        let mut due = Vec::new();
        while sch.next < sch.total && sch.next * sch.period_ns <= elapsed {
            let s = (sch.next % self.senders.len() as u64) as usize;
            self.senders[s].released += 1;
            if !due.contains(&s) {
                due.push(s);
            }
            sch.next += 1;
        }
        if sch.next < sch.total {
            let after = (sch.next * sch.period_ns).saturating_sub(elapsed);
            self.poller.arm_timer(Duration::from_nanos(after));
        }
        for s in due {
            self.pump(s);
        }
    }

    /// Sends sync line `k` from the sync member (member 0).
    pub(super) fn send_sync(&mut self, k: u64) -> Result<(), String> {
        let line = sync_line(self.st.tag(), k);
        let Some(conn) = self.members.first().and_then(|m| m.conn.as_ref()) else {
            return Err("the sync member is gone".into());
        };
        match conn.write(&line) {
            Ok(n) if n == line.len() => Ok(()),
            Ok(n) => Err(format!("sync line: short write ({n} bytes)")),
            Err(e) => Err(format!("sync line: write: {e}")),
        }
    }
}
