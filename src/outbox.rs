//! Every member's outbox, stored once: the room's lines as one shared, append-only chain.
//!
//! A chat room's cost is fan-out: every line goes to every member. Instead of copying a line
//! into each member's queue, the broadcaster appends it, formatted once, to a single chain of
//! immutable [`Segment`]s (one segment per broadcaster batch, so a busy room appends a few
//! large segments, not many small ones). Each member's outbox is then just a position in
//! that chain ([`Outbox`]): its writer hands the kernel everything from that position to the
//! end in one `writev`, straight out of the shared segments, and moves the position along.
//!
//! Positions are byte offsets into the room's whole output (a `u64` that only grows), so the
//! broadcaster can tell how far behind each member is by subtracting two numbers, and can
//! hold the room back when one member's backlog would pass its `--sendq` bound.
//!
//! Memory frees itself: a segment lives exactly as long as some outbox (or the history, or the
//! chain's tail) still points at it or at an earlier segment. When the slowest member moves on
//! or leaves, what it alone held is dropped.

use std::io::IoSlice;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// One batch of the room's output: whole lines, formatted for the wire.
#[derive(Debug)]
pub struct Segment {
    /// The room offset of `bytes[0]`.
    start: u64,
    /// The lines, each ending in `\n`.
    bytes: Box<[u8]>,
    /// When the broadcaster appended it: the age of the oldest line a lagging member has
    /// not yet received is what `--lag-limit` bounds.
    at: Instant,
    /// The segment after this one, once there is one.
    next: OnceLock<Arc<Segment>>,
}

impl Segment {
    fn empty(at: Instant) -> Segment {
        Segment {
            start: 0,
            bytes: Box::default(),
            at,
            next: OnceLock::new(),
        }
    }

    /// The room offset just past this segment.
    fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

impl Drop for Segment {
    /// Unlinks the chain iteratively: dropping the oldest of a long run of segments that
    /// nobody else holds must not recurse once per segment.
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(segment) = next {
            next = match Arc::into_inner(segment) {
                Some(mut alone) => alone.next.take(),
                None => None,
            };
        }
    }
}

/// The broadcaster's end of the chain: where new batches are appended.
#[derive(Debug)]
pub struct Feed {
    /// The newest segment; new outboxes start at its end.
    tail: Arc<Segment>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed::new()
    }
}

impl Feed {
    /// An empty feed at offset 0.
    pub fn new() -> Feed {
        Feed {
            tail: Arc::new(Segment::empty(Instant::now())),
        }
    }

    /// The room offset where the next appended byte will go.
    pub fn head(&self) -> u64 {
        self.tail.end()
    }

    /// Appends one batch of whole lines. Empty batches are ignored.
    pub fn append(&mut self, bytes: Vec<u8>, at: Instant) {
        if bytes.is_empty() {
            return;
        }
        let segment = Arc::new(Segment {
            start: self.head(),
            bytes: bytes.into_boxed_slice(),
            at,
            next: OnceLock::new(),
        });
        // Only the broadcaster appends, so the tail's `next` is always still empty.
        let _ = self.tail.next.set(Arc::clone(&segment));
        self.tail = segment;
    }

    /// An outbox that starts at the current head: it will receive everything appended from
    /// now on.
    pub fn outbox(&self) -> Outbox {
        Outbox {
            segment: Arc::clone(&self.tail),
            pos: self.tail.bytes.len(),
        }
    }
}

/// A member's outbox: its position in the shared chain. Everything between here and the
/// feed's head is waiting to be written to this member.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// The segment holding the next byte to send (or the last one, when caught up).
    segment: Arc<Segment>,
    /// How far into `segment` we are.
    pos: usize,
}

impl Outbox {
    /// The room offset of the next byte to send.
    pub fn offset(&self) -> u64 {
        self.segment.start + self.pos as u64
    }

    /// When the oldest byte still to send was appended, if any is waiting.
    pub fn oldest(&self) -> Option<Instant> {
        if self.pos < self.segment.bytes.len() {
            return Some(self.segment.at);
        }
        self.segment.next.get().map(|next| next.at)
    }

    /// When the byte at room offset `offset` (at or after this position) was appended, if
    /// it has been.
    pub fn appended_at(&self, offset: u64) -> Option<Instant> {
        let mut segment: &Segment = &self.segment;
        loop {
            if offset < segment.end() && offset >= segment.start {
                return Some(segment.at);
            }
            segment = segment.next.get()?;
        }
    }

    /// Whether any appended byte is still to send.
    pub fn has_pending(&self) -> bool {
        self.pos < self.segment.bytes.len() || self.segment.next.get().is_some()
    }

    /// Collects the bytes waiting to be sent, up to room offset `limit` and at most
    /// `max_bytes`, into `slices` for one vectored write. Returns how many slices it filled
    /// and how many bytes they hold.
    pub fn gather<'a>(
        &'a self,
        limit: u64,
        max_bytes: usize,
        slices: &mut [IoSlice<'a>],
    ) -> (usize, usize) {
        let (mut count, mut total) = (0usize, 0usize);
        let mut segment: &'a Segment = &self.segment;
        let mut pos = self.pos;
        while count < slices.len() && total < max_bytes && segment.start + (pos as u64) < limit {
            let stop = segment
                .bytes
                .len()
                .min((limit - segment.start).min(usize::MAX as u64) as usize)
                .min(pos + (max_bytes - total));
            if stop > pos {
                slices[count] = IoSlice::new(&segment.bytes[pos..stop]);
                count += 1;
                total += stop - pos;
            }
            match segment.next.get() {
                Some(next) if stop == segment.bytes.len() => {
                    segment = next;
                    pos = 0;
                }
                _ => break,
            }
        }
        (count, total)
    }

    /// Moves the position forward by `n` bytes, which must have been appended already.
    /// Segments left behind are released.
    pub fn advance(&mut self, mut n: usize) {
        loop {
            let left = self.segment.bytes.len() - self.pos;
            if n < left || (n == left && self.segment.next.get().is_none()) {
                self.pos += n;
                return;
            }
            n -= left;
            match self.segment.next.get() {
                Some(next) => {
                    let next = Arc::clone(next);
                    self.segment = next;
                    self.pos = 0;
                }
                None => {
                    // Asked to move past the head: stay at the head.
                    self.pos = self.segment.bytes.len();
                    return;
                }
            }
        }
    }

    /// Moves forward to room offset `offset` (no-op if already there or past it).
    pub fn advance_to(&mut self, offset: u64) {
        let here = self.offset();
        if offset > here {
            self.advance((offset - here) as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(outbox: &mut Outbox, limit: u64) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            let mut slices = [IoSlice::new(&[]); 4];
            let (count, n) = outbox.gather(limit, 5, &mut slices);
            if n == 0 {
                return got;
            }
            for s in &slices[..count] {
                got.extend_from_slice(s);
            }
            outbox.advance(n);
        }
    }

    #[test]
    fn an_outbox_sees_everything_appended_after_it_opened() {
        let mut feed = Feed::new();
        feed.append(b"before\n".to_vec(), Instant::now());
        let mut outbox = feed.outbox();
        assert!(!outbox.has_pending());
        assert_eq!(outbox.oldest(), None);
        feed.append(b"one\n".to_vec(), Instant::now());
        feed.append(Vec::new(), Instant::now());
        feed.append(b"two\nthree\n".to_vec(), Instant::now());
        assert!(outbox.has_pending());
        assert!(outbox.oldest().is_some());
        assert_eq!(drain(&mut outbox, u64::MAX), b"one\ntwo\nthree\n");
        assert_eq!(outbox.offset(), feed.head());
        assert!(!outbox.has_pending());
    }

    #[test]
    fn gather_stops_at_the_limit() {
        let mut feed = Feed::new();
        let mut outbox = feed.outbox();
        feed.append(b"abc\n".to_vec(), Instant::now());
        feed.append(b"def\n".to_vec(), Instant::now());
        assert_eq!(drain(&mut outbox, 6), b"abc\nde");
        assert_eq!(outbox.offset(), 6);
        assert_eq!(drain(&mut outbox, u64::MAX), b"f\n");
    }

    #[test]
    fn a_long_chain_drops_without_deep_recursion() {
        let mut feed = Feed::new();
        let outbox = feed.outbox();
        for _ in 0..1_000_000 {
            feed.append(b"x\n".to_vec(), Instant::now());
        }
        drop(feed);
        drop(outbox); // frees a million segments, iteratively
    }

    #[test]
    fn segments_are_released_once_every_outbox_has_passed() {
        let mut feed = Feed::new();
        let mut outbox = feed.outbox();
        feed.append(b"first\n".to_vec(), Instant::now());
        let first = Arc::downgrade(&outbox.segment.next.get().cloned().unwrap());
        feed.append(b"second\n".to_vec(), Instant::now());
        outbox.advance(3);
        assert!(first.upgrade().is_some(), "still being sent");
        outbox.advance(3);
        assert!(first.upgrade().is_none(), "passed, so released");
        assert_eq!(outbox.offset(), 6);
    }
}
