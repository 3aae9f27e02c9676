//! The room's last `--history` lines, which a newcomer is given after its greeting.
//!
//! Nothing is copied for history: the lines stay where they are, in the shared
//! [feed](crate::outbox), and the history is only a position at the oldest of them. A
//! newcomer's outbox starts from a copy of that position, so it receives those lines and
//! then everything after, with no gap and nothing twice. Holding the position is what keeps
//! those lines in memory; without `--history` there is no position, and nothing old is
//! kept.
//!
//! History is bounded twice: by lines (`--history`) and by bytes (`--history-bytes`), the
//! oldest lines going first, so one member sending long lines cannot make it large. And a
//! newcomer is given time of its own to take it ([`time_to_take`]), so a slow link can
//! still join a room with a long history.

use std::collections::VecDeque;
use std::time::Duration;

use crate::outbox::{Feed, Outbox};

/// The slowest link a newcomer may have and still be given all of its history: the time it
/// gets for its history, on top of the lag limit, is its size at this rate.
pub const NEWCOMER_RATE: u64 = 32 * 1024;

/// How long a newcomer is given to take `bytes` of history, on top of the lag limit.
pub fn time_to_take(bytes: u64) -> Duration {
    Duration::from_millis(bytes.saturating_mul(1000) / NEWCOMER_RATE)
}

/// The room's last lines, as positions in the feed.
#[derive(Debug)]
pub struct History {
    /// How many lines to keep (0: none).
    keep: usize,
    /// How many bytes of lines to keep, at most.
    max_bytes: u64,
    /// Where each of the last `keep` lines starts, oldest first.
    recent: VecDeque<u64>,
    /// A position at the oldest of those lines; `None` without history.
    oldest: Option<Outbox>,
}

impl History {
    /// A history of the last `keep` lines of `feed` (at most `max_bytes` of them), from now
    /// on.
    pub fn new(keep: usize, max_bytes: usize, feed: &Feed) -> History {
        History {
            keep,
            max_bytes: max_bytes as u64,
            recent: VecDeque::new(),
            oldest: (keep > 0).then(|| feed.outbox()),
        }
    }

    /// Notes the lines of `bytes`, about to be appended at room offset `start`.
    pub fn note(&mut self, start: u64, bytes: &[u8]) {
        if self.keep == 0 || bytes.is_empty() {
            return;
        }
        self.recent.push_back(start);
        let last = bytes.len() - 1;
        for at in memchr::memchr_iter(b'\n', &bytes[..last]) {
            self.recent.push_back(start + at as u64 + 1);
        }
    }

    /// Lets go of lines older than the last `keep`, or that would make it more than
    /// `max_bytes`, now that the feed holds every line [`note`](Self::note) was told of (up
    /// to room offset `head`).
    pub fn forget_old(&mut self, head: u64) {
        if self.recent.len() > self.keep {
            self.recent.drain(..self.recent.len() - self.keep);
        }
        while self
            .recent
            .front()
            .is_some_and(|&oldest| head - oldest > self.max_bytes)
        {
            self.recent.pop_front();
        }
        if let Some(position) = self.oldest.as_mut() {
            position.advance_to(self.recent.front().copied().unwrap_or(head));
        }
    }

    /// Where a newcomer's outbox starts: at the oldest kept line, or at the feed's head.
    pub fn newcomer(&self, feed: &Feed) -> Outbox {
        match &self.oldest {
            Some(position) => position.clone(),
            None => feed.outbox(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::IoSlice;
    use std::time::Instant;

    use super::*;

    fn text(outbox: &Outbox) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); 16];
        let (count, _) = outbox.gather(u64::MAX, 1 << 30, &mut slices);
        slices[..count].iter().flat_map(|s| s.to_vec()).collect()
    }

    fn append(feed: &mut Feed, history: &mut History, bytes: &[u8]) {
        history.note(feed.head(), bytes);
        feed.append(bytes.to_vec(), Instant::now());
        history.forget_old(feed.head());
    }

    #[test]
    fn a_newcomer_starts_at_the_last_lines_kept() {
        let mut feed = Feed::new();
        let mut history = History::new(2, 1024, &feed);
        append(&mut feed, &mut history, b"one\ntwo\n");
        append(&mut feed, &mut history, b"three\n");
        assert_eq!(text(&history.newcomer(&feed)), b"two\nthree\n");
    }

    #[test]
    fn history_is_bounded_by_bytes_too_the_oldest_lines_going_first() {
        let mut feed = Feed::new();
        let mut history = History::new(100, 10, &feed);
        append(&mut feed, &mut history, b"one\ntwo\n");
        append(&mut feed, &mut history, b"three\nfour\n");
        assert_eq!(text(&history.newcomer(&feed)), b"four\n");
        append(&mut feed, &mut history, b"a line longer than ten bytes\n");
        assert_eq!(text(&history.newcomer(&feed)), b"", "nothing fits");
    }

    #[test]
    fn a_newcomer_is_given_time_for_its_history_at_the_slowest_rate() {
        assert_eq!(time_to_take(0), Duration::ZERO);
        assert_eq!(time_to_take(NEWCOMER_RATE * 8), Duration::from_secs(8));
    }

    #[test]
    fn without_history_a_newcomer_starts_at_the_head() {
        let mut feed = Feed::new();
        let mut history = History::new(0, 1024, &feed);
        append(&mut feed, &mut history, b"one\n");
        let outbox = history.newcomer(&feed);
        assert_eq!(outbox.offset(), feed.head());
        assert!(!outbox.has_pending());
    }
}
