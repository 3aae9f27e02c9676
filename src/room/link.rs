//! What the broadcaster shares with one member's reader and writer tasks.
//!
//! The broadcaster never touches a member's connection. It tells the member's writer where
//! its stream starts and ends, and queues the lines meant for that member alone (the
//! greeting, answers to commands, a farewell), each due at a room offset. The writer, in
//! turn, says how far it has delivered, so the broadcaster can wait for the slowest. The
//! reader learns from here when the answers to its member's commands have been read, so a
//! member cannot make the room queue answers it never reads.
//!
//! A [`Link`] lives in this module, not in [`crate::member`], so that the room never
//! depends on the member tasks: they depend on it.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use atomic_waker::AtomicWaker;

/// How many bytes of answers to commands (and other private lines) may wait for a member
/// before its next command waits for it to read them.
pub const PRIVATE_LIMIT: usize = 64 * 1024;

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
    /// Bytes of history the member was given on joining: it has time of its own to take
    /// them.
    history_bytes: AtomicU32,
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
    /// Lines for this member alone, each due at a room offset. Locked only to push or pop
    /// one: never across a write.
    notices: Mutex<Vec<Notice>>,
    /// Wakes the writer: new lines in the feed, a notice, the end, the reader finishing.
    pub waker: AtomicWaker,
    /// Whether the reader has finished (a writer lingering for it waits on `waker`).
    reader_done: AtomicBool,
}

/// A line (or a few) for one member, due when its outbox reaches `at`; once written,
/// `skip` bytes of the room are passed over (a newcomer's own arrival).
#[derive(Debug)]
pub struct Notice {
    /// The room offset it is due at.
    pub at: u64,
    /// The bytes, whole lines.
    pub bytes: Box<[u8]>,
    /// Room bytes to pass over once it is written.
    pub skip: u64,
    /// When it was queued: it counts toward the lag limit like the room's lines.
    pub queued: Instant,
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
            history_bytes: AtomicU32::new(0),
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

    // ---- What the broadcaster does.

    /// Called by the broadcaster when the member joins: it is owed the room from offset
    /// `from` (earlier than its arrival when it gets history), is greeted there, and skips
    /// its own arrival line, the room offsets `arrival`.
    pub fn start(&self, from: u64, greeting: Vec<u8>, arrival: Range<u64>) {
        self.counted_from.store(arrival.end, Ordering::Release);
        let history = arrival.start.saturating_sub(from);
        self.history_bytes.store(
            u32::try_from(history).unwrap_or(u32::MAX),
            Ordering::Release,
        );
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

    /// How far the writer has got, as far as holding the room back goes, or `u64::MAX` if
    /// it holds nobody back: its writer is not running, or it is still being sent its
    /// history (a newcomer on a slow link must not stall the room; its writer bounds how
    /// far behind it may fall).
    pub fn delivered(&self) -> u64 {
        let delivered = self.delivered.load(Ordering::Acquire);
        if self.writer_stopped() || delivered < self.counted_from.load(Ordering::Acquire) {
            u64::MAX
        } else {
            delivered
        }
    }

    /// Whether the writer has stopped for good.
    pub fn writer_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    // ---- What the writer does.

    /// Where the room's lines for this member start to count: before it, its history.
    pub fn counted_from(&self) -> u64 {
        self.counted_from.load(Ordering::Acquire)
    }

    /// How many bytes of history it was given on joining.
    pub fn history_bytes(&self) -> u64 {
        u64::from(self.history_bytes.load(Ordering::Acquire))
    }

    /// Where the member's stream ends (`u64::MAX` while it is in the room).
    pub fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Takes the first notice off the queue if it is due at room offset `here` or before;
    /// otherwise says where the next one is due (`u64::MAX`: none queued).
    pub fn take_due_notice(&self, here: u64) -> Result<Notice, u64> {
        let mut notices = self.lock_notices();
        match notices.first() {
            Some(notice) if notice.at <= here => {
                let notice = notices.remove(0);
                if notices.is_empty() {
                    // Most members get one notice (the greeting) and then none for a long
                    // time: give the queue's memory back.
                    notices.shrink_to_fit();
                }
                Ok(notice)
            }
            Some(notice) => Err(notice.at),
            None => Err(u64::MAX),
        }
    }

    /// Whether a notice is due at room offset `here` or before.
    pub fn has_due_notice(&self, here: u64) -> bool {
        self.lock_notices().first().is_some_and(|n| n.at <= here)
    }

    /// When the first queued notice was queued, if any is.
    pub fn oldest_notice(&self) -> Option<Instant> {
        self.lock_notices().first().map(|n| n.queued)
    }

    /// A notice of `len` bytes has been written whole: the reader may pass on more commands.
    pub fn notice_written(&self, len: usize) {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        let _ = self
            .private_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(len))
            });
        self.private_waker.wake();
    }

    /// The writer has delivered the room up to `offset`.
    pub fn set_delivered(&self, offset: u64) {
        self.delivered.store(offset, Ordering::Release);
    }

    /// The writer has stopped for good: it holds nobody back any more, and a reader
    /// waiting for answers to be read waits no longer.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.private_waker.wake();
    }

    /// Whether the reader has finished.
    pub fn reader_done(&self) -> bool {
        self.reader_done.load(Ordering::Acquire)
    }

    // ---- What the reader does.

    /// The reader has finished: a writer lingering for it may close the connection.
    pub fn finish_reading(&self) {
        self.reader_done.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// The reader passes a command on; [`Link::command_done`] counts it back.
    pub fn command_sent(&self) {
        self.commands.fetch_add(1, Ordering::AcqRel);
    }

    /// Ready once fewer than [`PRIVATE_LIMIT`] bytes of private lines wait for this member
    /// (or its writer stopped, in which case nothing more will be read).
    pub fn poll_answers_read(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.private_waker.register(cx.waker());
        let queued = self.private_bytes.load(Ordering::Acquire) as usize;
        if queued < PRIVATE_LIMIT || self.writer_stopped() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Ready once every command passed on has been carried out (or the writer stopped).
    pub fn poll_commands_done(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.private_waker.register(cx.waker());
        if self.commands.load(Ordering::Acquire) == 0 || self.writer_stopped() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    fn lock_notices(&self) -> MutexGuard<'_, Vec<Notice>> {
        self.notices.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
