//! The writer: a member's outbox to its transport, until its stream ends.
//!
//! It sends the member everything the room has appended since the member joined, straight
//! from the shared feed, as many lines per write as are waiting, and the lines meant for it
//! alone ([notices](crate::room::link::Notice)) in their place. When the transport cannot
//! take more, the writer waits for it, but no longer than the lag limit allows: a member
//! whose oldest undelivered line is older than that is removed, and told so if its
//! connection takes one more line.
//!
//! At the end of the member's stream it ends its sending side, then waits a little for the
//! member to close first, so that our close cannot reset a connection whose last lines the
//! member has not read yet.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use smol::Timer;

use crate::member::{Conn, Transport};
use crate::outbox::Outbox;
use crate::room::history::time_to_take;
use crate::room::link::Notice;
use crate::room::{Link, Why};
use crate::units::format_duration;

/// The most a writer hands the transport in one write.
pub const WRITE_CHUNK: usize = 1024 * 1024;

/// The most slices in one write (segments, each a broadcaster batch).
const WRITE_SLICES: usize = 64;

/// How long, after a member's stream has ended, we keep its connection open for the member
/// to close first, so that nothing it sent last turns our close into a reset that could
/// destroy the lines it has not read yet. Also the longest we wait for a transport to end
/// its sending side.
pub const LINGER: Duration = Duration::from_secs(2);

/// Why a writer stopped before the member's stream ended.
enum Stop {
    TooSlow,
    Broken,
}

/// What one attempt to write gave.
enum Step {
    /// Something was written.
    Wrote,
    /// The transport is full.
    Blocked,
    /// Nothing to write yet.
    Idle,
    /// The member's stream has ended and all of it was written.
    Done,
    /// The transport failed.
    Failed,
}

/// The writer task.
///
/// A plain [`Future`], like the reader and for the same reason: an idle member's writer
/// waits with nothing but these fields; the one timer a waiting writer may need is boxed.
pub struct Writer<T> {
    /// The transport, and through its slot, the room.
    conn: Arc<Conn<T>>,
    link: Arc<Link>,
    outbox: Outbox,
    /// The notice being written, taken off the link's queue (so no lock is held across a
    /// write).
    notice: Option<Box<Notice>>,
    /// Bytes of `notice` already written.
    notice_sent: u32,
    /// Whether the last byte written was not a newline: a write can stop mid-line.
    mid_line: bool,
    state: State,
}

/// Where a writer is.
enum State {
    /// Writing, or waiting for something to write.
    Delivering,
    /// Wrote; letting the other tasks on this thread run before writing on.
    Yielded,
    /// The transport is full: waiting for it to take more, but only until the member's
    /// oldest undelivered line passes the lag limit.
    Blocked(Box<Timer>),
    /// The stream has ended and all of it was written: ending our sending side, for at
    /// most [`LINGER`].
    Closing(Box<Timer>),
    /// Waiting a little for the member to close its side (it usually has), so our close
    /// does not reset the connection while our last lines are still unread.
    Lingering(Box<Timer>),
}

impl<T: Transport> Writer<T> {
    /// The writer of a member that has joined, starting at `outbox`.
    pub fn new(conn: Arc<Conn<T>>, link: Arc<Link>, outbox: Outbox) -> Writer<T> {
        Writer {
            conn,
            link,
            outbox,
            notice: None,
            notice_sent: 0,
            mid_line: false,
            state: State::Delivering,
        }
    }
}

impl<T: Transport> Future for Writer<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Delivering => match this.step(cx) {
                    Step::Wrote => {
                        this.state = State::Yielded;
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    Step::Blocked => this.state = State::Blocked(this.lag_timer()),
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
                        this.state = State::Closing(Box::new(Timer::after(LINGER)));
                    }
                    Step::Failed => return this.give_up(Stop::Broken),
                },
                State::Yielded => this.state = State::Delivering,
                State::Blocked(_) => {
                    // An error shows up again on the write itself.
                    if this.conn.transport.poll_write_ready(cx).is_ready() {
                        this.state = State::Delivering;
                    } else if this.too_slow(cx) {
                        return this.give_up(Stop::TooSlow);
                    } else {
                        return Poll::Pending;
                    }
                }
                State::Closing(timeout) => {
                    let closed = this.conn.transport.poll_close_write(cx).is_ready();
                    if !closed && Pin::new(&mut **timeout).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.state = State::Lingering(Box::new(Timer::after(LINGER)));
                }
                State::Lingering(timeout) => {
                    // The reader wakes this waker when it finishes.
                    this.link.waker.register(cx.waker());
                    let done =
                        this.link.reader_done() || Pin::new(&mut **timeout).poll(cx).is_ready();
                    if !done {
                        return Poll::Pending;
                    }
                    this.conn.transport.close();
                    return Poll::Ready(());
                }
            }
        }
    }
}

impl<T: Transport> Writer<T> {
    /// Marks the writer as stopped for good: it holds nobody back any more.
    fn stopped(&self) {
        self.link.stop();
        self.conn.room().progress.wake();
    }

    /// Stops before the member's stream ended.
    ///
    /// A member too slow is removed at once: the room tells the broadcaster, which must not
    /// wait for it. A broken connection is only closed: its reader then reads what the
    /// member sent before it broke (the kernel still holds it), hands it to the room, and
    /// leaves, so a member's last lines are never lost to our write failing first.
    fn give_up(&mut self, why: Stop) -> Poll<()> {
        self.stopped();
        if let Stop::TooSlow = why {
            let room = self.conn.room();
            // Tell the room first, so the reader (woken by the close below) cannot report a
            // plain leave before it.
            room.gone(self.link.id, Why::TooSlow);
            let notice = format!(
                "{}gochat: disconnected: too slow (more than {} behind the room)\n",
                if self.mid_line { "\n" } else { "" },
                format_duration(room.config.lag_limit)
            );
            self.conn.transport.write_now(notice.as_bytes());
        }
        self.conn.transport.close();
        Poll::Ready(())
    }

    /// The timer that ends a blocked member's wait.
    fn lag_timer(&self) -> Box<Timer> {
        Box::new(Timer::at(self.lag_deadline()))
    }

    /// When a blocked member is too slow: when its oldest undelivered line's age reaches
    /// the lag limit.
    ///
    /// A newcomer still taking its history holds nobody back (see [`Link::delivered`]) and
    /// has time of its own for it, at the slowest rate a link may have ([`time_to_take`]).
    /// But it may not fall further behind the room's live lines than anyone may: once the
    /// room has gone `--sendq` past its arrival, the lag limit runs from there, as it would
    /// for a member the room waits for. So a slow link can join, and a slow newcomer never
    /// costs the room more than a slow member does.
    fn lag_deadline(&self) -> Instant {
        let config = &self.conn.room().config;
        let joined = self.link.joined;
        if !self.in_history() {
            return self
                .oldest_undelivered()
                .unwrap_or_else(Instant::now)
                .max(joined)
                + config.lag_limit;
        }
        let history = joined + time_to_take(self.link.history_bytes()) + config.lag_limit;
        let past_sendq = self.link.counted_from() + config.sendq as u64;
        match self.outbox.appended_at(past_sendq) {
            Some(at) => history.min(at.max(joined) + config.lag_limit),
            None => history,
        }
    }

    /// Whether a blocked member's time is up.
    fn too_slow(&mut self, cx: &mut Context<'_>) -> bool {
        // A newcomer's limit may have come closer since it blocked: the room moved on.
        let refreshed = self.in_history().then(|| self.lag_deadline());
        let State::Blocked(timer) = &mut self.state else {
            return false;
        };
        if let Some(at) = refreshed {
            timer.set_at(at);
        }
        Pin::new(&mut **timer).poll(cx).is_ready()
    }

    /// Whether the member is still being sent its history.
    fn in_history(&self) -> bool {
        self.outbox.offset() < self.link.counted_from()
    }

    /// Writes what is waiting, without blocking: a due notice, or as much of the outbox as
    /// one write takes.
    fn step(&mut self, cx: &mut Context<'_>) -> Step {
        let here = self.outbox.offset();
        // Read the end before the notices: the broadcaster queues a farewell before it
        // sets the end, so a writer that sees the end also sees the farewell.
        let end = self.link.end();
        let next_notice = match self.notice {
            Some(_) => here,
            None => match self.link.take_due_notice(here) {
                Ok(notice) => {
                    self.notice = Some(Box::new(notice));
                    here
                }
                Err(next) => next,
            },
        };
        if self.notice.is_some() {
            return self.write_notice(cx);
        }
        if here >= end {
            return match self.conn.transport.poll_flush(cx) {
                Poll::Ready(Ok(())) => Step::Done,
                Poll::Ready(Err(_)) => Step::Failed,
                Poll::Pending => Step::Blocked,
            };
        }
        self.write_outbox(cx, end.min(next_notice))
    }

    /// Writes (more of) the notice being sent; once it is all out, moves past the room
    /// bytes it stands in for.
    fn write_notice(&mut self, cx: &mut Context<'_>) -> Step {
        let Some(notice) = self.notice.as_deref() else {
            return Step::Idle;
        };
        let rest = &notice.bytes[(self.notice_sent as usize).min(notice.bytes.len())..];
        if !rest.is_empty() {
            let result = self.conn.transport.poll_write(cx, &[IoSlice::new(rest)]);
            match write_result(result) {
                Ok(n) => {
                    self.mid_line = rest[n - 1] != b'\n';
                    let n = u32::try_from(n).unwrap_or(u32::MAX);
                    self.notice_sent = self.notice_sent.saturating_add(n);
                }
                Err(step) => return step,
            }
        }
        if self.notice_sent as usize >= notice.bytes.len() {
            let (skip, len) = (notice.skip, notice.bytes.len());
            self.notice = None;
            self.notice_sent = 0;
            self.outbox.advance(skip as usize);
            self.link.notice_written(len);
        }
        Step::Wrote
    }

    /// Writes as much of the outbox, up to room offset `limit`, as one write takes.
    fn write_outbox(&mut self, cx: &mut Context<'_>, limit: u64) -> Step {
        let written = {
            let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
            let (count, bytes) = self.outbox.gather(limit, WRITE_CHUNK, &mut slices);
            if bytes == 0 {
                return match self.conn.transport.poll_flush(cx) {
                    Poll::Ready(Ok(())) => Step::Idle,
                    Poll::Ready(Err(_)) => Step::Failed,
                    Poll::Pending => Step::Blocked,
                };
            }
            let slices = &slices[..count];
            let written = write_result(self.conn.transport.poll_write(cx, slices));
            if let Ok(n) = written {
                self.mid_line = byte_at(slices, n - 1) != Some(b'\n');
            }
            written
        };
        match written {
            Ok(n) => {
                self.outbox.advance(n);
                self.link.set_delivered(self.outbox.offset());
                self.conn.room().progress.wake();
                Step::Wrote
            }
            Err(step) => step,
        }
    }

    /// Whether [`step`](Self::step) would do something now.
    fn has_work(&self) -> bool {
        let here = self.outbox.offset();
        here >= self.link.end()
            || self.notice.is_some()
            || self.link.has_due_notice(here)
            || self.outbox.has_pending()
    }

    /// When the oldest line this member is still owed was queued.
    fn oldest_undelivered(&self) -> Option<Instant> {
        [
            self.notice.as_ref().map(|n| n.queued),
            self.link.oldest_notice(),
            self.outbox.oldest(),
        ]
        .into_iter()
        .flatten()
        .min()
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
fn write_result(result: Poll<io::Result<usize>>) -> Result<usize, Step> {
    match result {
        Poll::Pending => Err(Step::Blocked),
        Poll::Ready(Ok(0)) => Err(Step::Failed),
        Poll::Ready(Ok(n)) => Ok(n),
        Poll::Ready(Err(_)) => Err(Step::Failed),
    }
}
