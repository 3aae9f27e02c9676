//! The load generator: every member of a run, in one thread, over one level-triggered
//! epoll loop.
//!
//! A run goes through three phases, each a method here: [`Gen::join_all`] connects the
//! members (at most the scenario's `in_flight` waiting for their greeting at once) until
//! every one has read its greeting; [`Gen::sync_all`] sends sync lines until every member
//! that reads has one, so all arrivals have settled before the clock starts;
//! [`Gen::traffic`] sends the scenario's lines and waits for every delivery.
//!
//! A member that reads only its greeting goes *silent* after the read that brought it: the
//! loop then watches its connection only for the server closing it.
//!
//! Its parts: [`dial`] (what kind of connection a member has), [`poller`] (epoll and the
//! pacing timer), [`receive`] (reading, and checking every delivered line: order, loss,
//! latency), [`send`] (the senders and their pace). One shared 256 KiB read buffer, lines
//! split with memchr, no allocation per line.

mod dial;
mod poller;
mod receive;
mod send;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dial::Conn;
pub use dial::Dial;
use poller::{Poller, Ready};
use receive::Stats;
use send::{Schedule, Sender};

use crate::scenario::{Mode, Reading, Scenario};

/// Joining or syncing fails after this long without any byte moving.
const SETUP_STALL: Duration = Duration::from_secs(30);
/// The longest joining, or syncing, may take (the seed's idle-10k takes half an hour: 50
/// million arrival lines, one write each).
const SETUP_CAP: Duration = Duration::from_secs(3600);
/// Stragglers are given up on after this long without any byte moving.
const STRAGGLER_STALL: Duration = Duration::from_secs(10);
/// The longest the traffic phase of a scenario may take.
const TRAFFIC_CAP: Duration = Duration::from_secs(300);
/// A round of sync lines is over when no member got its first one for this long.
const SYNC_SETTLE: Duration = Duration::from_secs(2);
/// How long one `epoll_wait` waits before the phase checks its clocks.
const POLL_TICK: Duration = Duration::from_millis(10);

/// One member: its connection and what the receive path knows about it.
pub struct Member {
    conn: Option<Conn>,
    /// A partial line left over from the last read.
    carry: Vec<u8>,
    joined: bool,
    synced: bool,
    /// The first line seen before the greeting, for error messages.
    first_line: Option<String>,
    /// Valid deliveries so far: also this member's position in the room's order.
    pub pos: usize,
    pub order_ok: bool,
    /// The sender this member's connection belongs to, if any.
    sender: Option<usize>,
    /// Whether writability is in this connection's interest set.
    want_out: bool,
    /// Whether it has stopped reading (after its greeting).
    silent: bool,
}

/// The generator of one run.
pub struct Gen {
    poller: Poller,
    /// How members connect.
    dial: Dial,
    /// What members read.
    reading: Reading,
    /// The most members connecting, not yet greeted, at once.
    in_flight: usize,
    /// The shared read buffer: a member's carried partial line, then one read.
    buf: Vec<u8>,
    pub members: Vec<Member>,
    senders: Vec<Sender>,
    pub st: Stats,
    /// Time zero of the send stamps and read times.
    epoch: Instant,
    /// Where members connect: member i goes to `addrs[i % addrs.len()]` (several servers of
    /// one room in the cluster scenario).
    addrs: Vec<SocketAddr>,
    /// A data line of this run, for senders to copy.
    template: [u8; crate::wire::LINE_LEN],
    schedule: Option<Schedule>,
}

impl Gen {
    pub fn new(addrs: Vec<SocketAddr>, dial: Dial, sc: &Scenario, tag: u64) -> Result<Gen, String> {
        Ok(Gen {
            poller: Poller::new()?,
            dial,
            reading: sc.reading,
            in_flight: sc.in_flight(),
            buf: vec![0; receive::READ_SIZE + receive::MAX_CARRY],
            members: Vec::with_capacity(sc.members),
            senders: (0..sc.senders).map(Sender::new).collect(),
            st: Stats::new(sc, tag),
            epoch: Instant::now(),
            addrs,
            template: crate::wire::data_template(tag),
            schedule: None,
        })
    }

    /// Members whose connection is still open.
    pub fn live(&self) -> usize {
        self.members.len() - self.st.closed
    }

    /// Members whose connection is still open and who still read.
    pub fn live_readers(&self) -> usize {
        self.live() - self.st.silent
    }

    /// Members taken as still in the room: those that read and got a sync line, and the
    /// silent ones the server has not closed.
    pub fn in_room(&self) -> usize {
        self.st.synced.min(self.live_readers()) + self.st.silent
    }

    /// Stops reading member `i` if it reads only its greeting and has had it (member 0
    /// always reads: it sends the sync line and must see it come back).
    fn maybe_go_silent(&mut self, i: usize) {
        let m = &mut self.members[i];
        if self.reading != Reading::GreetingOnly || i == 0 || !m.joined || m.silent {
            return;
        }
        let Some(conn) = m.conn.as_ref() else { return };
        if self.poller.watch_hangup(conn.fd(), i).is_ok() {
            m.silent = true;
            self.st.silent += 1;
        }
    }

    /// Starts a non-blocking connect for the next member.
    fn connect_next(&mut self) -> Result<(), String> {
        let i = self.members.len();
        let addr = self.addrs[i % self.addrs.len()];
        let conn = self
            .dial
            .start(addr)
            .map_err(|e| format!("member {i}: {e}"))?;
        self.poller
            .add(conn.fd(), i)
            .map_err(|e| format!("member {i}: epoll_ctl: {e}"))?;
        let sender = (i < self.senders.len()).then_some(i);
        self.members.push(Member {
            conn: Some(conn),
            carry: Vec::new(),
            joined: false,
            synced: false,
            first_line: None,
            pos: 0,
            order_ok: true,
            sender,
            want_out: false,
            silent: false,
        });
        self.st.progress = Instant::now();
        Ok(())
    }

    fn close_member(&mut self, i: usize, why: String) {
        let m = &mut self.members[i];
        let Some(conn) = m.conn.take() else { return };
        let _ = self.poller.remove(conn.fd());
        drop(conn);
        self.st.closed += 1;
        if m.silent {
            m.silent = false;
            self.st.silent -= 1;
        }
        if self.st.closed_reasons.len() < 3 {
            let mut why = why;
            if !m.joined {
                if let Some(line) = &m.first_line {
                    let _ = write!(why, " (before its greeting; it said {line:?})");
                } else {
                    why.push_str(" (before its greeting)");
                }
            }
            self.st.closed_reasons.push(format!("member {i}: {why}"));
        }
    }

    /// One `epoll_wait` and everything it reported.
    fn poll_once(&mut self) -> Result<(), String> {
        let n = self.poller.wait(POLL_TICK)?;
        for k in 0..n {
            match self.poller.event(k) {
                Ready::Timer => self.on_timer(),
                Ready::Member {
                    member,
                    readable,
                    writable,
                    hangup,
                } => {
                    if self.members[member].silent {
                        if hangup {
                            let why = "closed by the server (it read nothing after its greeting)";
                            self.close_member(member, why.into());
                        }
                        continue;
                    }
                    if readable {
                        self.on_readable(member);
                    }
                    if writable {
                        if let Some(s) = self.members[member].sender {
                            self.pump(s);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Keeps every member that reads reading for `d`.
    pub fn pump_for(&mut self, d: Duration) -> Result<(), String> {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.poll_once()?;
        }
        Ok(())
    }

    /// An error if joining or syncing has stalled or run too long.
    fn setup_overdue(&self, started: Instant) -> bool {
        self.st.progress.elapsed() > SETUP_STALL || started.elapsed() > SETUP_CAP
    }

    /// Connects `n` members, at most `in_flight` waiting for their greeting at once, and
    /// waits until every one has read it. When all connect at once, a stall gives up on
    /// the members still waiting (see [`Gen::give_up_ungreeted`]) and returns a note;
    /// otherwise a stall is an error.
    pub fn join_all(&mut self, n: usize) -> Result<Option<String>, String> {
        let started = Instant::now();
        self.st.progress = Instant::now();
        loop {
            if self.st.closed > 0 {
                return Err(format!(
                    "members failed to join ({} of {n} joined): {}",
                    self.st.joined,
                    self.st.closed_reasons.join("; ")
                ));
            }
            while self.members.len() < n && self.members.len() - self.st.joined < self.in_flight {
                self.connect_next()?;
            }
            if self.st.joined == n {
                return Ok(None);
            }
            if self.setup_overdue(started) {
                let waiting = self.members.len() - self.st.joined;
                if self.in_flight >= n {
                    return Ok(Some(self.give_up_ungreeted()));
                }
                return Err(format!(
                    "joining stalled: {} of {n} members greeted, {waiting} connecting, after {:.1} s",
                    self.st.joined,
                    started.elapsed().as_secs_f64()
                ));
            }
            self.poll_once()?;
        }
    }

    /// Closes the members that never got their greeting, and says why that happens: when
    /// thousands connect at once, the server's listen queue overflows, the kernel answers
    /// with SYN cookies, and a handshake whose last ACK it then drops looks complete to the
    /// member but never reaches the server (the member waits for a greeting that cannot
    /// come: it does not speak first). They are left out of the figures.
    fn give_up_ungreeted(&mut self) -> String {
        let ungreeted: Vec<usize> = (0..self.members.len())
            .filter(|&i| !self.members[i].joined && self.members[i].conn.is_some())
            .collect();
        for &i in &ungreeted {
            self.close_member(i, format!("no greeting for {} s", SETUP_STALL.as_secs()));
        }
        format!(
            "{} members never got their greeting and were given up after {} s without \
             progress: with every member connecting at once the server's listen queue \
             overflowed (see TcpExtListenOverflows in nstat), and the kernel completed \
             handshakes the server never saw",
            ungreeted.len(),
            SETUP_STALL.as_secs()
        )
    }

    /// Sends sync lines until every member that reads has received one, so every member is
    /// surely in the room (the seed adds a newcomer to the room only after greeting it) and
    /// every arrival before it has been delivered. A round is over when its sync line has come
    /// back to member 0 and no member got its first sync line for SYNC_SETTLE; then, if
    /// members still lack one, the next round starts. After two rounds that reach nobody
    /// new, the members still without a sync line are taken as dropped by the server (it
    /// no longer sends them anything) and the scenario goes on: what they miss counts as
    /// lost. Returns a note when that happens.
    pub fn sync_all(&mut self) -> Result<Option<String>, String> {
        let started = Instant::now();
        self.st.progress = Instant::now();
        let mut round = SyncRound::new(self.st.synced);
        self.send_sync(round.k)?;
        while self.st.synced < self.live_readers() {
            round.saw(self.st.synced);
            if round.over(self.st.sync_echo) {
                if round.fruitless(self.st.synced) {
                    break;
                }
                round.next(self.st.synced);
                self.send_sync(round.k)?;
            }
            if self.setup_overdue(started) {
                return Err(self.sync_stalled(started));
            }
            self.poll_once()?;
        }
        let missing = self.live_readers().saturating_sub(self.st.synced);
        Ok((missing > 0).then(|| {
            format!(
                "{missing} members never got a sync line ({} rounds): the server dropped them \
                 without closing their connection",
                round.k + 1
            )
        }))
    }

    /// Why syncing failed; with silent members, the likely reason: a room whose
    /// broadcaster waits for every member (the seed's) stops once one member's socket is
    /// full, and then delivers nothing to anybody.
    fn sync_stalled(&self, started: Instant) -> String {
        let mut why = format!(
            "sync stalled: {} of {} members got a sync line after {:.1} s",
            self.st.synced,
            self.live_readers(),
            started.elapsed().as_secs_f64()
        );
        if self.st.silent > 0 {
            let _ = write!(
                why,
                " ({} members read nothing after their greeting: a room that waits for its \
                 slowest member stops delivering once one of their sockets is full)",
                self.st.silent
            );
        }
        why
    }

    /// Sends the scenario's lines and waits for every delivery, or for the stragglers
    /// until nothing has moved for STRAGGLER_STALL. Returns a note if it hit a cap.
    pub fn traffic(&mut self, sc: &Scenario, expected: u64) -> Option<String> {
        self.st.counting = true;
        self.st.progress = Instant::now();
        let started = Instant::now();
        if sc.mode == Mode::Idle {
            return None;
        }
        self.start_senders(sc);
        loop {
            if self.st.valid >= expected || self.live() == 0 {
                return None;
            }
            if self.st.progress.elapsed() > STRAGGLER_STALL {
                return None;
            }
            if started.elapsed() > TRAFFIC_CAP {
                return Some(format!(
                    "gave up after {} s with deliveries still trickling in",
                    TRAFFIC_CAP.as_secs()
                ));
            }
            if let Err(e) = self.poll_once() {
                return Some(e);
            }
        }
    }
}

/// Where [`Gen::sync_all`] is: which sync line is out, and whether rounds still reach
/// members that had none.
struct SyncRound {
    /// The sync line of this round.
    k: u64,
    /// Members synced when this round's line was sent.
    synced_at_send: usize,
    /// Rounds in a row that reached nobody new.
    fruitless_rounds: u32,
    /// Members synced when last looked at, and when that number last grew.
    last_synced: usize,
    last_new: Instant,
}

impl SyncRound {
    fn new(synced: usize) -> SyncRound {
        SyncRound {
            k: 0,
            synced_at_send: synced,
            fruitless_rounds: 0,
            last_synced: synced,
            last_new: Instant::now(),
        }
    }

    /// Notes how many members are synced now.
    fn saw(&mut self, synced: usize) {
        if synced != self.last_synced {
            self.last_synced = synced;
            self.last_new = Instant::now();
        }
    }

    /// Whether this round's line came back to the sync member and nobody new got one for
    /// SYNC_SETTLE.
    fn over(&self, echo: Option<u64>) -> bool {
        echo == Some(self.k % crate::wire::SYNC_MODULUS) && self.last_new.elapsed() > SYNC_SETTLE
    }

    /// Counts a finished round; true after two in a row that reached nobody new.
    fn fruitless(&mut self, synced: usize) -> bool {
        if synced == self.synced_at_send {
            self.fruitless_rounds += 1;
        } else {
            self.fruitless_rounds = 0;
        }
        self.fruitless_rounds >= 2
    }

    fn next(&mut self, synced: usize) {
        self.k += 1;
        self.synced_at_send = synced;
    }
}
