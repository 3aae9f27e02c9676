//! The room's last `--history` lines, which a newcomer is given after its greeting.
//!
//! Nothing is copied for history: the lines stay where they are, in the shared
//! [feed](crate::outbox), and the history is only a position at the oldest of them. A
//! newcomer's outbox starts from a copy of that position, so it receives those lines and
//! then everything after, with no gap and nothing twice. Holding the position is what keeps
//! those lines in memory; without `--history` there is no position, and nothing old is
//! kept.

use std::collections::VecDeque;

use crate::outbox::{Feed, Outbox};

/// The room's last lines, as positions in the feed.
#[derive(Debug)]
pub struct History {
    /// How many lines to keep (0: none).
    keep: usize,
    /// Where each of the last `keep` lines starts, oldest first.
    recent: VecDeque<u64>,
    /// A position at the oldest of those lines; `None` without history.
    oldest: Option<Outbox>,
}

impl History {
    /// A history of the last `keep` lines of `feed`, from now on.
    pub fn new(keep: usize, feed: &Feed) -> History {
        History {
            keep,
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

    /// Lets go of lines older than the last `keep`, now that the feed holds every line
    /// [`note`](Self::note) was told of.
    pub fn forget_old(&mut self) {
        if self.recent.len() > self.keep {
            self.recent.drain(..self.recent.len() - self.keep);
        }
        if let (Some(&oldest), Some(position)) = (self.recent.front(), self.oldest.as_mut()) {
            position.advance_to(oldest);
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
        history.forget_old();
    }

    #[test]
    fn a_newcomer_starts_at_the_last_lines_kept() {
        let mut feed = Feed::new();
        let mut history = History::new(2, &feed);
        append(&mut feed, &mut history, b"one\ntwo\n");
        append(&mut feed, &mut history, b"three\n");
        assert_eq!(text(&history.newcomer(&feed)), b"two\nthree\n");
    }

    #[test]
    fn without_history_a_newcomer_starts_at_the_head() {
        let mut feed = Feed::new();
        let mut history = History::new(0, &feed);
        append(&mut feed, &mut history, b"one\n");
        let outbox = history.newcomer(&feed);
        assert_eq!(outbox.offset(), feed.head());
        assert!(!outbox.has_pending());
    }
}
