//! The receive path: reading a member's connection and checking every line it delivers.
//!
//! Before its greeting (`You are ...`) a member's lines are only looked at for that. After
//! it, each line is searched for a marker (anywhere in it, so the server's prefix does not
//! matter). A data line counts as delivered once its run tag, sender and sequence number
//! are valid; its latency is the time the `read` returned it minus its send stamp (one
//! clock: senders and receivers are this process). Order: every member must see the same
//! sequence of (sender, seq) as the first member to get each position, and each sender's
//! seq strictly increasing.

use std::time::Instant;

use memchr::memmem;

use super::{Gen, Member};
use crate::scenario::Scenario;
use crate::wire::{
    DATA_MARK_LEN, NS_AT, RUN_AT, SENDER_AT, SEQ_AT, SYNC_MARK_LEN, field, find_marker, parse_sync,
};

/// Bytes asked for per `read`.
pub const READ_SIZE: usize = 256 * 1024;
/// The longest partial line kept between reads; longer lines are dropped as malformed.
pub const MAX_CARRY: usize = 64 * 1024;
/// The member whose sync lines coming back end a sync round (it sends them too).
const SYNC_MEMBER: usize = 0;

/// Everything the receive path updates.
pub struct Stats {
    /// This run's tag: lines of another run are counted as stale.
    tag: u64,
    nsenders: usize,
    per_sender: usize,
    /// The room's order of (sender, seq), as the first member to get each position saw it.
    order: Vec<u64>,
    /// Per member and sender: 1 + the last seq received (0: none yet).
    last_seq: Vec<u32>,
    pub lat_ns: Vec<u64>,
    pub valid: u64,
    /// Lines whose seq was not above the last one from that sender (duplicate or reordered).
    pub disorder: u64,
    pub malformed: u64,
    pub stale: u64,
    pub bytes: u64,
    /// Whether bytes are being counted (the traffic phase).
    pub counting: bool,
    pub first_send_ns: Option<u64>,
    pub last_delivery_ns: u64,
    pub joined: usize,
    pub synced: usize,
    pub closed: usize,
    /// Members still open that no longer read.
    pub silent: usize,
    pub closed_reasons: Vec<String>,
    /// The highest sync number the sync member got back.
    pub sync_echo: Option<u64>,
    /// Last time any byte moved.
    pub progress: Instant,
}

impl Stats {
    pub fn new(sc: &Scenario, tag: u64) -> Stats {
        Stats {
            tag,
            nsenders: sc.senders,
            per_sender: sc.per_sender,
            order: Vec::with_capacity(sc.lines() as usize),
            last_seq: vec![0; sc.members * sc.senders],
            lat_ns: Vec::with_capacity(sc.expected() as usize),
            valid: 0,
            disorder: 0,
            malformed: 0,
            stale: 0,
            bytes: 0,
            counting: false,
            first_send_ns: None,
            last_delivery_ns: 0,
            joined: 0,
            synced: 0,
            closed: 0,
            silent: 0,
            closed_reasons: Vec::new(),
            sync_echo: None,
            progress: Instant::now(),
        }
    }

    /// This run's tag.
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// One whole line (without its `\n`) member `i` received at `now_ns`.
    fn on_line(&mut self, m: &mut Member, i: usize, line: &[u8], now_ns: u64) {
        if !m.joined {
            self.on_greeting(m, line);
            return;
        }
        let Some(p) = find_marker(line) else {
            return;
        };
        let mk = &line[p..];
        match mk.get(3..5) {
            Some(b"b ") if mk.len() >= DATA_MARK_LEN && mk[DATA_MARK_LEN - 1] == b'~' => {
                if let Ok(mk) = mk[..DATA_MARK_LEN].try_into() {
                    self.on_data(m, i, mk, now_ns)
                }
            }
            Some(b"s ") if mk.len() >= SYNC_MARK_LEN && mk[SYNC_MARK_LEN - 1] == b'~' => {
                self.on_sync(m, i, mk)
            }
            _ => self.malformed += 1,
        }
    }

    /// A line before the member's greeting: the greeting, or something to report.
    fn on_greeting(&mut self, m: &mut Member, line: &[u8]) {
        if memmem::find(line, b"You are ").is_some() {
            m.joined = true;
            self.joined += 1;
        } else if m.first_line.is_none() {
            m.first_line = Some(lossy(line));
        }
    }

    fn on_sync(&mut self, m: &mut Member, i: usize, mk: &[u8]) {
        let Some((run, k)) = parse_sync(mk) else {
            self.malformed += 1;
            return;
        };
        if run != self.tag {
            self.stale += 1;
            return;
        }
        if i == SYNC_MEMBER {
            self.sync_echo = Some(self.sync_echo.map_or(k, |e| e.max(k)));
        }
        if !m.synced {
            m.synced = true;
            self.synced += 1;
        }
    }

    fn on_data(&mut self, m: &mut Member, i: usize, mk: &[u8; DATA_MARK_LEN], now_ns: u64) {
        let fields = (
            field(mk, RUN_AT, 4),
            field(mk, SENDER_AT, 4),
            field(mk, SEQ_AT, 7),
            field(mk, NS_AT, 7),
            field(mk, NS_AT + 7, 8),
        );
        let (Some(run), Some(sender), Some(seq), Some(ns_hi), Some(ns_lo)) = fields else {
            self.malformed += 1;
            return;
        };
        let sent_ns = ns_hi * 100_000_000 + ns_lo;
        if run != self.tag {
            self.stale += 1;
            return;
        }
        let (sender, seq) = (sender as usize, seq as usize);
        if sender >= self.nsenders || seq >= self.per_sender {
            self.malformed += 1;
            return;
        }
        let last = &mut self.last_seq[i * self.nsenders + sender];
        if seq < *last as usize {
            // A duplicate, or an older line after a newer one.
            m.order_ok = false;
            self.disorder += 1;
            return;
        }
        *last = seq as u32 + 1;
        self.check_order(m, ((sender as u64) << 32) | seq as u64);
        self.valid += 1;
        self.lat_ns.push(now_ns.saturating_sub(sent_ns));
        self.last_delivery_ns = now_ns;
    }

    /// Whether line `key` is the one at this member's position in the room's order (the
    /// first member to get a position sets it).
    fn check_order(&mut self, m: &mut Member, key: u64) {
        if m.order_ok {
            if m.pos == self.order.len() {
                self.order.push(key);
            } else if self.order[m.pos] != key {
                m.order_ok = false;
            }
        }
        m.pos += 1;
    }
}

fn lossy(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned()
}

/// Nanoseconds from `epoch` to `now`.
pub fn nanos_since(epoch: Instant, now: Instant) -> u64 {
    now.saturating_duration_since(epoch).as_nanos() as u64
}

impl Gen {
    /// Reads what member `i`'s connection has and handles every whole line in it.
    pub(super) fn on_readable(&mut self, i: usize) {
        let m = &mut self.members[i];
        let Some(conn) = m.conn.as_ref() else { return };
        let c = m.carry.len();
        self.buf[..c].copy_from_slice(&m.carry);
        match conn.read(&mut self.buf[c..c + READ_SIZE]) {
            Ok(0) => self.close_member(i, "closed by the server".into()),
            Ok(n) => {
                self.on_bytes(i, c + n, n);
                self.maybe_go_silent(i);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => self.close_member(i, format!("read: {e}")),
        }
    }

    /// Handles `self.buf[..len]` (carry and `fresh` new bytes) for member `i`: its whole
    /// lines, then keeps the partial last one.
    fn on_bytes(&mut self, i: usize, len: usize, fresh: usize) {
        let now = Instant::now();
        let now_ns = nanos_since(self.epoch, now);
        let (m, st) = (&mut self.members[i], &mut self.st);
        st.progress = now;
        if st.counting {
            st.bytes += fresh as u64;
        }
        let data = &self.buf[..len];
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', data) {
            st.on_line(m, i, &data[start..nl], now_ns);
            start = nl + 1;
        }
        m.carry.clear();
        let rest = &data[start..];
        if rest.len() > MAX_CARRY {
            st.malformed += 1;
        } else {
            m.carry.extend_from_slice(rest);
        }
    }
}
