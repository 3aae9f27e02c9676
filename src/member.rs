//! One member's connection: its reader, its writer, and what they share with the room.
//!
//! Each connection gets two tasks:
//!
//! - The **reader** waits until the socket is readable, reads as much as one read gives into
//!   a per-thread scratch buffer (an idle member holds no read buffer), frames and sanitizes
//!   it with the [codec](crate::codec), and hands the lines to the room in one message. When
//!   the room's queue is full it waits, and stops reading meanwhile: TCP then slows the
//!   sender down. A flood is throttled, never dropped, and never buffered here.
//! - The **writer** sends the member its [`Outbox`]: everything the room has appended since
//!   the member joined, straight from the shared feed, as many lines per `writev` as are
//!   waiting. Private lines (the greeting, a farewell) come from its [`Link`]. When the
//!   socket cannot take more, the writer waits for it, but no longer than the lag limit
//!   allows: a member whose oldest undelivered line is older than that is removed.
//!
//! A [`Link`] is what these two share with the broadcaster: how far the writer has got (so
//! the room can wait for the slowest), where the member's stream ends once it has left, and
//! a waker for the writer.

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use atomic_waker::AtomicWaker;
use futures_lite::future;
use smol::{Async, Executor, Timer};

use crate::chat;
use crate::codec::LineDecoder;
use crate::outbox::Outbox;
use crate::room::{Msg, Room, Why};
use crate::units::format_duration;

/// How much one read takes from a member's socket. One read becomes one message to the
/// room, so this also sets how much one sender gets in before the next one's turn.
pub const READ_CHUNK: usize = 64 * 1024;

/// The most a writer hands the kernel in one `writev`.
pub const WRITE_CHUNK: usize = 1024 * 1024;

/// How many bytes of answers to commands (and other private lines) may wait for a member
/// before its next command waits for it to read them.
pub const PRIVATE_LIMIT: usize = 64 * 1024;

/// The most slices in one `writev` (segments, each a broadcaster batch).
const WRITE_SLICES: usize = 64;

/// The kernel send buffer we ask for on member sockets. Linux grows it to 4 MiB on its own,
/// which would let a stuck member soak up 4 MiB of the room's lines before the room even
/// noticed; capped, `--sendq` and `--lag-limit` are what bound a member, as documented.
/// (Linux doubles the value asked for, for its own bookkeeping.)
pub const MEMBER_SNDBUF: usize = 128 * 1024;

/// How long, after a member's stream has ended, we keep its connection open for the member
/// to close first, so that nothing it sent last turns our close into a reset that could
/// destroy the lines it has not read yet.
pub const LINGER: Duration = Duration::from_secs(2);

/// TCP keepalive on member sockets: a peer that vanished (cable pulled, laptop closed) is
/// found out after about `KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_PROBES`.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_PROBES: u32 = 6;

thread_local! {
    /// Where readers on this thread read into: one buffer per thread, not per member.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// What a member's reader, writer and the broadcaster share.
#[derive(Debug)]
pub struct Link {
    /// The member's id in the room.
    pub id: u64,
    /// The member's name: its address, as the room shows it.
    pub name: Box<str>,
    /// When it joined: a newcomer is never "behind" for lines older than itself.
    pub joined: Instant,
    /// The room offset the writer has delivered up to (`u64::MAX` before the member joined
    /// and after its writer stopped: such a member holds nobody back).
    delivered: AtomicU64,
    /// Where the room starts waiting for this member: the end of its arrival. The history
    /// a newcomer receives first is older than that, and holds nobody back.
    counted_from: AtomicU64,
    /// Bytes of notices queued and not yet written. The reader stops passing on commands
    /// while this is large, so a member cannot make the room queue answers it never reads.
    private_bytes: AtomicU32,
    /// Commands passed on by the reader and not yet carried out. The reader waits for none
    /// to be left before passing on anything else, so a member's lines after `/nick` carry
    /// the new name even when the name takes a trip to another server.
    commands: AtomicU32,
    /// Wakes a reader waiting for `private_bytes` or `commands` to go down.
    private_waker: AtomicWaker,
    /// Whether the writer has stopped for good.
    stopped: AtomicBool,
    /// Where this member's stream ends: `u64::MAX` while it is in the room, then the room
    /// offset at which it left. The writer delivers up to here, then closes.
    end: AtomicU64,
    /// Lines for this member alone, each due at a room offset.
    notices: Mutex<Vec<Notice>>,
    /// Wakes the writer: new lines in the feed, a notice, the end, the reader finishing.
    pub waker: AtomicWaker,
    /// Whether the reader has finished (a writer lingering for it waits on `waker`).
    reader_done: AtomicBool,
}

/// A line for one member, due when its outbox reaches `at`; then `skip` bytes of the room
/// are passed over (a newcomer's own arrival).
#[derive(Debug)]
struct Notice {
    at: u64,
    bytes: Box<[u8]>,
    skip: u64,
    queued: Instant,
}

impl Link {
    /// A link for a member not yet in the room.
    pub fn new(id: u64, name: String) -> Link {
        Link {
            id,
            name: name.into_boxed_str(),
            joined: Instant::now(),
            delivered: AtomicU64::new(u64::MAX),
            counted_from: AtomicU64::new(0),
            private_bytes: AtomicU32::new(0),
            commands: AtomicU32::new(0),
            private_waker: AtomicWaker::new(),
            stopped: AtomicBool::new(false),
            end: AtomicU64::new(u64::MAX),
            notices: Mutex::new(Vec::new()),
            waker: AtomicWaker::new(),
            reader_done: AtomicBool::new(false),
        }
    }

    /// Called by the broadcaster when the member joins: it is owed the room from offset
    /// `from` (earlier than its arrival when it gets history), is greeted there, and skips
    /// its own arrival line, the room offsets `arrival`.
    pub fn start(&self, from: u64, greeting: Vec<u8>, arrival: Range<u64>) {
        self.counted_from.store(arrival.end, Ordering::Release);
        self.delivered.store(from, Ordering::Release);
        let skip = arrival.end - arrival.start;
        if from == arrival.start {
            self.queue(from, greeting, skip);
        } else {
            self.queue(from, greeting, 0);
            self.queue(arrival.start, Vec::new(), skip);
        }
        self.waker.wake();
    }

    /// Queues a line for this member alone, due at room offset `at`.
    pub fn notify(&self, at: u64, line: Vec<u8>) {
        self.queue(at, line, 0);
        self.waker.wake();
    }

    fn queue(&self, at: u64, bytes: Vec<u8>, skip: u64) {
        self.private_bytes.fetch_add(
            u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            Ordering::AcqRel,
        );
        self.lock_notices().push(Notice {
            at,
            bytes: bytes.into_boxed_slice(),
            skip,
            queued: Instant::now(),
        });
    }

    /// Called by the broadcaster when the member leaves the room at offset `end`: the
    /// writer sends it everything up to there, then `farewell` if any, then closes.
    pub fn finish_at(&self, end: u64, farewell: Option<Vec<u8>>) {
        if let Some(line) = farewell {
            self.queue(end, line, 0);
        }
        self.end.store(end, Ordering::Release);
        self.waker.wake();
    }

    /// Called by the broadcaster when a command from this member has been carried out.
    pub fn command_done(&self) {
        let _ = self
            .commands
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        self.private_waker.wake();
    }

    /// How far the writer has got, as far as holding the room back goes (history does not
    /// count), or `u64::MAX` if it is not running.
    pub fn delivered(&self) -> u64 {
        if self.writer_stopped() {
            u64::MAX
        } else {
            let delivered = self.delivered.load(Ordering::Acquire);
            delivered.max(self.counted_from.load(Ordering::Acquire))
        }
    }

    /// Whether the writer has stopped for good.
    pub fn writer_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    fn lock_notices(&self) -> std::sync::MutexGuard<'_, Vec<Notice>> {
        self.notices.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A member's socket, with the slot it takes in the room's connection count.
#[derive(Debug)]
pub struct Conn {
    /// The socket, non-blocking, shared by reader and writer.
    pub stream: Async<TcpStream>,
    /// Frees a place in the room when the connection closes.
    _slot: Slot,
}

impl Conn {
    /// The room this connection is in (its slot remembers it).
    fn room(&self) -> &Arc<Room> {
        &self._slot.0
    }
}

/// A place in the room's connection count, given back on drop.
#[derive(Debug)]
pub struct Slot(Arc<Room>);

impl Slot {
    /// Takes a place in `room`, if it has one free under `max_clients`.
    pub fn take(room: &Arc<Room>) -> Option<Slot> {
        let max = room.config.max_clients;
        room.connected
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(room)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::AcqRel);
        self.0.closed.notify(usize::MAX);
    }
}

/// Sets the socket options a member connection wants: no Nagle delay (chat is latency), a
/// capped send buffer (see [`MEMBER_SNDBUF`]) and keepalive (dead peers leave).
pub fn tune_socket(stream: &TcpStream) -> io::Result<()> {
    let socket = socket2::SockRef::from(stream);
    socket.set_tcp_nodelay(true)?;
    socket.set_send_buffer_size(MEMBER_SNDBUF)?;
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    socket.set_tcp_keepalive(&keepalive)?;
    Ok(())
}

/// Lets one member in: joins the room, then starts its writer and its reader, each a task
/// of its own that runs until the member has left.
pub async fn run(
    room: Arc<Room>,
    stream: Async<TcpStream>,
    peer: SocketAddr,
    slot: Slot,
    ex: Arc<Executor<'static>>,
) {
    let conn = Arc::new(Conn {
        stream,
        _slot: slot,
    });
    let link = Arc::new(Link::new(room.next_id(), crate::addr::peer_name(peer)));
    let Some(outbox) = join(&room, &link).await else {
        return; // the room is closing
    };
    let writer = Writer {
        conn: Arc::clone(&conn),
        link: Arc::clone(&link),
        outbox,
        notice_sent: 0,
        mid_line: false,
        state: WriterState::Delivering,
    };
    ex.spawn(writer).detach();
    ex.spawn(Reader::new(conn, link)).detach();
}

/// Asks the room to let the member in, and waits for the outbox it starts from (`None`
/// if the room is closing). A function of its own so that the reply channel is freed as
/// soon as it has answered, not kept for the member's whole stay.
async fn join(room: &Room, link: &Arc<Link>) -> Option<Outbox> {
    let (reply, outbox) = async_channel::bounded(1);
    let joining = Msg::Join {
        link: Arc::clone(link),
        reply,
    };
    if !room.send(joining).await {
        return None;
    }
    outbox.recv().await.ok()
}

/// What one read gave.
enum Got {
    Lines(Vec<u8>),
    Nothing,
    End,
}

/// The reader: the member's lines to the room, until it leaves.
///
/// Written as a plain [`Future`] rather than an `async fn`: every member's reader spends
/// most of its life waiting for the socket, and this way that costs only the fields below
/// (about a hundred bytes), not the largest state an `async fn` could be in. What is rare
/// (a full room queue, commands, leaving) waits in a boxed future of its own.
struct Reader {
    /// The socket, and through its slot, the room.
    conn: Arc<Conn>,
    link: Arc<Link>,
    decoder: LineDecoder,
    /// Only with --idle-timeout: reset whenever the member says something.
    idle: Option<Box<Timer>>,
    /// A hand-over (or the leaving) still waiting for the room.
    pending: Option<Later>,
    /// Whether `pending` is the leaving: when it is done, so is the reader.
    leaving: bool,
    /// Whether the last poll handed lines over: then it lets others run before reading on.
    yielded: bool,
}

/// A boxed future, for the rare waits a member's task makes: boxing keeps them out of the
/// task itself, which every idle member pays for. Its output: false if the room is gone.
type Later = Pin<Box<dyn Future<Output = bool> + Send>>;

impl Reader {
    fn new(conn: Arc<Conn>, link: Arc<Link>) -> Reader {
        let config = &conn.room().config;
        Reader {
            decoder: LineDecoder::new(config.max_line),
            idle: config
                .idle_timeout
                .map(|limit| Box::new(Timer::after(limit))),
            conn,
            link,
            pending: None,
            leaving: false,
            yielded: false,
        }
    }

    /// Starts leaving the room (after `last`, the member's last lines, if any).
    fn leave(&mut self, last: Vec<u8>, why: Why) {
        let (link, room) = (Arc::clone(&self.link), Arc::clone(self.conn.room()));
        self.leaving = true;
        self.pending = Some(Box::pin(async move {
            if let Some(rest) = hand_over(last, &link, &room) {
                rest.await;
            }
            room.send(Msg::Leave { id: link.id, why }).await
        }));
    }

    /// The reader is done: a writer lingering for it may close the connection.
    fn finished(&self) -> Poll<()> {
        self.link.reader_done.store(true, Ordering::Release);
        self.link.waker.wake();
        Poll::Ready(())
    }
}

impl Future for Reader {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            if let Some(pending) = this.pending.as_mut() {
                let room_open = match pending.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(open) => open,
                };
                this.pending = None;
                if this.leaving || !room_open {
                    return this.finished();
                }
            }
            if this.yielded {
                // Let the other members on this thread have their turn.
                this.yielded = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            // An error shows up again on the read itself, which decides what it means.
            if this.conn.stream.poll_readable(cx).is_pending() {
                let idle_passed = match this.idle.as_mut() {
                    Some(timer) => Pin::new(&mut **timer).poll(cx).is_ready(),
                    None => false,
                };
                if !idle_passed {
                    return Poll::Pending;
                }
                this.leave(Vec::new(), Why::Idle);
                continue;
            }
            match read_some(&this.conn, &mut this.decoder) {
                Got::Lines(batch) => {
                    if let (Some(timer), Some(limit)) =
                        (this.idle.as_mut(), this.conn.room().config.idle_timeout)
                    {
                        timer.set_after(limit);
                    }
                    this.pending = hand_over(batch, &this.link, this.conn.room());
                    this.yielded = true;
                }
                Got::Nothing => {}
                Got::End => {
                    let mut last = Vec::new();
                    this.decoder.finish(&mut last);
                    this.leave(last, Why::Quit);
                }
            }
        }
    }
}

/// Passes a member's lines to the room. Plain lines go in one message, at once if the
/// room's queue has space; each command goes on its own, and only once the member has read
/// the answers to its earlier ones, so a member cannot make the room queue answers it never
/// reads. Returns what is left to wait for, if anything.
fn hand_over(batch: Vec<u8>, link: &Arc<Link>, room: &Arc<Room>) -> Option<Later> {
    if batch.is_empty() {
        return None;
    }
    let has_command =
        batch.first() == Some(&b'/') || memchr::memmem::find(&batch, b"\n/").is_some();
    let (link, room) = (Arc::clone(link), Arc::clone(room));
    if has_command {
        return Some(Box::pin(async move {
            hand_over_commands(batch, &link, &room).await
        }));
    }
    match room.try_send(Msg::Lines { id: link.id, batch }) {
        Ok(()) => None,
        Err(None) => Some(Box::pin(future::ready(false))),
        Err(Some(msg)) => Some(Box::pin(async move { room.send(msg).await })),
    }
}

/// [`hand_over`] for a batch with commands in it.
async fn hand_over_commands(batch: Vec<u8>, link: &Link, room: &Room) -> bool {
    let mut plain = Vec::new();
    for line in crate::codec::lines(&batch) {
        if chat::is_command(line) {
            if !plain.is_empty() {
                let lines = std::mem::take(&mut plain);
                if !room
                    .send(Msg::Lines {
                        id: link.id,
                        batch: lines,
                    })
                    .await
                {
                    return false;
                }
            }
            wait_for_answers_read(link).await;
            let mut command = line.to_vec();
            command.push(b'\n');
            link.commands.fetch_add(1, Ordering::AcqRel);
            let batch = command;
            if !room.send(Msg::Lines { id: link.id, batch }).await {
                return false;
            }
            wait_for_command_done(link).await;
        } else {
            plain.extend_from_slice(line);
            plain.push(b'\n');
        }
    }
    plain.is_empty()
        || room
            .send(Msg::Lines {
                id: link.id,
                batch: plain,
            })
            .await
}

/// Waits until the member's queued private lines are below [`PRIVATE_LIMIT`] (or its
/// writer stopped, in which case nothing more will be read).
async fn wait_for_answers_read(link: &Link) {
    future::poll_fn(|cx| {
        link.private_waker.register(cx.waker());
        let queued = link.private_bytes.load(Ordering::Acquire) as usize;
        if queued < PRIVATE_LIMIT || link.writer_stopped() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Waits until the member's commands have been carried out (or its writer stopped).
async fn wait_for_command_done(link: &Link) {
    future::poll_fn(|cx| {
        link.private_waker.register(cx.waker());
        if link.commands.load(Ordering::Acquire) == 0 || link.writer_stopped() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Reads once, into this thread's scratch buffer, and decodes what came.
fn read_some(conn: &Conn, decoder: &mut LineDecoder) -> Got {
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        match (&mut conn.stream.get_ref()).read(&mut buf) {
            Ok(0) => Got::End,
            Ok(n) => {
                let mut batch = Vec::with_capacity(n + n / 8 + 16);
                decoder.decode(&buf[..n], &mut batch);
                Got::Lines(batch)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Got::Nothing,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Got::Nothing,
            Err(_) => Got::End,
        }
    })
}

/// Why a writer stopped before the member's stream ended.
enum Stop {
    TooSlow,
    Broken,
}

/// What one attempt to write gave.
enum Step {
    /// Something was written.
    Wrote,
    /// The socket is full.
    Blocked,
    /// Nothing to write yet.
    Idle,
    /// The member's stream has ended and all of it was written.
    Done,
    /// The socket failed.
    Failed,
}

/// The writer: the member's outbox to its socket.
///
/// A plain [`Future`], like [`Reader`] and for the same reason: an idle member's writer
/// waits with nothing but these fields; the one timer a waiting writer may need is boxed.
struct Writer {
    /// The socket, and through its slot, the room.
    conn: Arc<Conn>,
    link: Arc<Link>,
    outbox: Outbox,
    /// Bytes of the first notice already written (a notice is a line or a few: small).
    notice_sent: u32,
    /// Whether the last byte written was not a newline: a write can stop mid-line.
    mid_line: bool,
    state: WriterState,
}

/// Where a writer is.
enum WriterState {
    /// Writing, or waiting for something to write.
    Delivering,
    /// Wrote; letting the other tasks on this thread run before writing on.
    Yielded,
    /// The socket is full: waiting for it to take more, but only until the member's oldest
    /// undelivered line passes the lag limit.
    Blocked(Box<Timer>),
    /// The stream has ended and all of it was written: waiting a little for the member to
    /// close its side (it usually has), so our close does not reset the connection while
    /// our last lines are still unread.
    Lingering(Box<Timer>),
}

impl Future for Writer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                WriterState::Delivering => match this.step() {
                    Step::Wrote => {
                        this.state = WriterState::Yielded;
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    Step::Blocked => {
                        let oldest = this.oldest_undelivered().unwrap_or_else(Instant::now);
                        let deadline =
                            oldest.max(this.link.joined) + this.conn.room().config.lag_limit;
                        this.state = WriterState::Blocked(Box::new(Timer::at(deadline)));
                    }
                    Step::Idle => {
                        // Register before looking again, so that lines appended in between
                        // are not missed.
                        this.link.waker.register(cx.waker());
                        if !this.has_work() {
                            return Poll::Pending;
                        }
                    }
                    Step::Done => {
                        this.stopped();
                        let _ = this.conn.stream.get_ref().shutdown(Shutdown::Write);
                        this.state = WriterState::Lingering(Box::new(Timer::after(LINGER)));
                    }
                    Step::Failed => return this.give_up(Stop::Broken),
                },
                WriterState::Yielded => this.state = WriterState::Delivering,
                WriterState::Blocked(too_slow) => {
                    // An error shows up again on the write itself.
                    if this.conn.stream.poll_writable(cx).is_ready() {
                        this.state = WriterState::Delivering;
                    } else if Pin::new(&mut **too_slow).poll(cx).is_ready() {
                        return this.give_up(Stop::TooSlow);
                    } else {
                        return Poll::Pending;
                    }
                }
                WriterState::Lingering(timeout) => {
                    // The reader wakes this waker when it finishes.
                    this.link.waker.register(cx.waker());
                    let done = this.link.reader_done.load(Ordering::Acquire)
                        || Pin::new(&mut **timeout).poll(cx).is_ready();
                    if !done {
                        return Poll::Pending;
                    }
                    let _ = this.conn.stream.get_ref().shutdown(Shutdown::Both);
                    return Poll::Ready(());
                }
            }
        }
    }
}

impl Writer {
    /// Marks the writer as stopped for good: it holds nobody back any more.
    fn stopped(&self) {
        self.link.stopped.store(true, Ordering::Release);
        self.conn.room().progress.wake();
        self.link.private_waker.wake();
    }

    /// Stops before the member's stream ended, and tells the room why.
    fn give_up(&mut self, why: Stop) -> Poll<()> {
        self.stopped();
        let stream = self.conn.stream.get_ref();
        match why {
            Stop::TooSlow => {
                // Tell the room first, so the reader (woken by the shutdown below) cannot
                // report a plain leave before it.
                self.conn.room().gone(self.link.id, Why::TooSlow);
                let notice = format!(
                    "{}gochat: disconnected: too slow (more than {} behind the room)\n",
                    if self.mid_line { "\n" } else { "" },
                    format_duration(self.conn.room().config.lag_limit)
                );
                // Only if the socket takes it now.
                let _ = (&mut &*stream).write(notice.as_bytes());
            }
            Stop::Broken => self.conn.room().gone(self.link.id, Why::Broken),
        }
        let _ = stream.shutdown(Shutdown::Both);
        Poll::Ready(())
    }

    /// Writes what is waiting, without blocking: a due notice, or as much of the outbox as
    /// one `writev` takes.
    fn step(&mut self) -> Step {
        let here = self.outbox.offset();
        let end = self.link.end.load(Ordering::Acquire);
        let next_notice = {
            let mut notices = self.link.lock_notices();
            match notices.first() {
                Some(notice) if notice.at <= here => {
                    let rest = &notice.bytes[(self.notice_sent as usize).min(notice.bytes.len())..];
                    if !rest.is_empty() {
                        let stream = &mut self.conn.stream.get_ref();
                        match write_result(stream.write(rest)) {
                            Ok(n) => {
                                self.mid_line = rest[n - 1] != b'\n';
                                self.notice_sent = self
                                    .notice_sent
                                    .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
                            }
                            Err(step) => return step,
                        }
                    }
                    if self.notice_sent as usize >= notice.bytes.len() {
                        let skip = notice.skip;
                        let len = notice.bytes.len();
                        notices.remove(0);
                        if notices.is_empty() {
                            // Most members get one notice (the greeting) and then none
                            // for a long time: give the queue's memory back.
                            notices.shrink_to_fit();
                        }
                        drop(notices);
                        self.notice_sent = 0;
                        self.outbox.advance(skip as usize);
                        let len = u32::try_from(len).unwrap_or(u32::MAX);
                        let _ = self.link.private_bytes.fetch_update(
                            Ordering::AcqRel,
                            Ordering::Acquire,
                            |n| Some(n.saturating_sub(len)),
                        );
                        self.link.private_waker.wake();
                    }
                    return Step::Wrote;
                }
                Some(notice) => notice.at,
                None => u64::MAX,
            }
        };
        if here >= end {
            return Step::Done;
        }
        let written = {
            let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
            let (count, bytes) = self
                .outbox
                .gather(end.min(next_notice), WRITE_CHUNK, &mut slices);
            if bytes == 0 {
                return Step::Idle;
            }
            let slices = &slices[..count];
            let written = write_result((&mut self.conn.stream.get_ref()).write_vectored(slices));
            if let Ok(n) = written {
                self.mid_line = byte_at(slices, n - 1) != Some(b'\n');
            }
            written
        };
        match written {
            Ok(n) => {
                self.outbox.advance(n);
                self.link
                    .delivered
                    .store(self.outbox.offset(), Ordering::Release);
                self.conn.room().progress.wake();
                Step::Wrote
            }
            Err(step) => step,
        }
    }

    /// Whether [`step`](Self::step) would do something now.
    fn has_work(&self) -> bool {
        let here = self.outbox.offset();
        if here >= self.link.end.load(Ordering::Acquire) {
            return true;
        }
        if let Some(notice) = self.link.lock_notices().first() {
            if notice.at <= here {
                return true;
            }
        }
        self.outbox.has_pending()
    }

    /// When the oldest line this member is still owed was queued.
    fn oldest_undelivered(&self) -> Option<Instant> {
        let notice = self.link.lock_notices().first().map(|n| n.queued);
        match (notice, self.outbox.oldest()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The byte at position `at` of the concatenated `slices`.
fn byte_at(slices: &[IoSlice<'_>], mut at: usize) -> Option<u8> {
    for slice in slices {
        if at < slice.len() {
            return Some(slice[at]);
        }
        at -= slice.len();
    }
    None
}

/// Sorts a write's outcome: bytes written, or the step it means.
fn write_result(result: io::Result<usize>) -> Result<usize, Step> {
    match result {
        Ok(0) => Err(Step::Failed),
        Ok(n) => Ok(n),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(Step::Blocked),
        // Interrupted before writing anything: as good as a step that wrote, try again.
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(Step::Wrote),
        Err(_) => Err(Step::Failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle member costs its two tasks plus what they point to; keep the tasks small
    /// (the benchmark's idle scenario measures the whole cost).
    #[test]
    fn a_members_tasks_are_small() {
        let reader = std::mem::size_of::<Reader>();
        let writer = std::mem::size_of::<Writer>();
        eprintln!("reader task: {reader} bytes, writer task: {writer} bytes");
        assert!(reader <= 128, "the reader grew to {reader} bytes");
        assert!(writer <= 128, "the writer grew to {writer} bytes");
        let link = std::mem::size_of::<Link>();
        eprintln!("link: {link} bytes");
        assert!(link <= 256, "the link grew to {link} bytes");
    }
}
