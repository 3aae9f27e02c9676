//! The reader: a member's lines to the room, until it leaves.
//!
//! It waits until the transport has something, reads as much as one read gives into a
//! per-thread scratch buffer (an idle member holds no read buffer), frames and sanitizes it
//! with the [codec](crate::codec), and hands the lines to the room in one message. When the
//! room's queue is full it waits, and stops reading meanwhile: the sender is slowed down,
//! and nothing is dropped.
//!
//! Commands are handed over one at a time, each only once the member has read the answers
//! to its earlier ones, so a member cannot make the room queue answers it never reads, and
//! the lines after a `/nick` carry the new name.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_lite::future;
use smol::Timer;

use crate::chat;
use crate::codec::LineDecoder;
use crate::member::{Conn, Transport};
use crate::room::{Link, Msg, Room, Why};

/// How much one read takes from a member. One read becomes one message to the room, so this
/// also sets how much one sender gets in before the next one's turn.
pub const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    /// Where readers on this thread read into: one buffer per thread, not per member.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// What one read gave.
enum Got {
    /// Lines (none, if the read ended mid-line).
    Lines(Vec<u8>),
    /// The end of the member's input (`Quit`), or a broken connection (`Broken`).
    End(Why),
}

/// The reader task.
///
/// Written as a plain [`Future`] rather than an `async fn`: every member's reader spends
/// most of its life waiting for input, and this way that costs only the fields below
/// (about a hundred bytes), not the largest state an `async fn` could be in. What is rare
/// (a full room queue, commands, leaving) waits in a boxed future of its own.
pub struct Reader<T> {
    /// The transport, and through its slot, the room.
    conn: Arc<Conn<T>>,
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

impl<T: Transport> Reader<T> {
    /// The reader of a member that has joined.
    pub fn new(conn: Arc<Conn<T>>, link: Arc<Link>) -> Reader<T> {
        let config = &conn.room().config;
        Reader {
            // Telnet's commands (Ctrl-C is IAC IP) are not text; and only a line's first
            // piece may be a command: a continuation starting with `/` goes on as `//`.
            decoder: LineDecoder::new(config.max_line)
                .with_telnet()
                .with_continuation_escape(chat::COMMAND_START),
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

    /// Reads once, into this thread's scratch buffer, and decodes what came.
    fn read_some(&mut self, cx: &mut Context<'_>) -> Option<Got> {
        SCRATCH.with(|scratch| {
            let mut buf = scratch.borrow_mut();
            match self.conn.transport.poll_read(cx, &mut buf) {
                Poll::Pending => None,
                Poll::Ready(Ok(0)) => Some(Got::End(Why::Quit)),
                Poll::Ready(Err(_)) => Some(Got::End(Why::Broken)),
                Poll::Ready(Ok(n)) => {
                    let mut batch = Vec::with_capacity(n + n / 8 + 16);
                    self.decoder.decode(&buf[..n], &mut batch);
                    Some(Got::Lines(batch))
                }
            }
        })
    }

    /// Whether the idle timeout has passed (never, without one).
    fn idle_passed(&mut self, cx: &mut Context<'_>) -> bool {
        match self.idle.as_mut() {
            Some(timer) => Pin::new(&mut **timer).poll(cx).is_ready(),
            None => false,
        }
    }

    /// The member said something: the idle timeout starts again.
    fn not_idle(&mut self) {
        if let (Some(timer), Some(limit)) =
            (self.idle.as_mut(), self.conn.room().config.idle_timeout)
        {
            timer.set_after(limit);
        }
    }
}

impl<T: Transport> Future for Reader<T> {
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
                    this.link.finish_reading();
                    return Poll::Ready(());
                }
            }
            if this.yielded {
                // Let the other members on this thread have their turn.
                this.yielded = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match this.read_some(cx) {
                None => {
                    if !this.idle_passed(cx) {
                        return Poll::Pending;
                    }
                    this.leave(Vec::new(), Why::Idle);
                }
                Some(Got::Lines(batch)) => {
                    this.not_idle();
                    this.pending = hand_over(batch, &this.link, this.conn.room());
                    this.yielded = true;
                }
                Some(Got::End(why)) => {
                    let mut last = Vec::new();
                    this.decoder.finish(&mut last);
                    this.leave(last, why);
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
        if !chat::is_command(line) {
            plain.extend_from_slice(line);
            plain.push(b'\n');
            continue;
        }
        if !plain.is_empty() && !send_lines(std::mem::take(&mut plain), link, room).await {
            return false;
        }
        future::poll_fn(|cx| link.poll_answers_read(cx)).await;
        let mut command = line.to_vec();
        command.push(b'\n');
        link.command_sent();
        if !send_lines(command, link, room).await {
            return false;
        }
        future::poll_fn(|cx| link.poll_commands_done(cx)).await;
    }
    plain.is_empty() || send_lines(plain, link, room).await
}

/// Sends the room lines from `link`'s member, waiting while its queue is full.
async fn send_lines(batch: Vec<u8>, link: &Link, room: &Room) -> bool {
    room.send(Msg::Lines { id: link.id, batch }).await
}
