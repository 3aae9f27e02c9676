//! What a server has to publish, and what it keeps after publishing: the publisher's
//! bookkeeping, apart from its I/O, so that it can be tested without Redis.
//!
//! Items wait in `held`, in room order. An item gets its sequence number (its place among
//! this server's entries) when it is first published, and keeps it: an entry published
//! again must carry the same number, so that subscribers that delivered it skip it. So the
//! numbered items (published before, or tried) always come first in `held`, in order, and
//! new numbers are only ever given after them.
//!
//! An item owes the broadcaster its window bytes ([`Item::owing`]) until it is first
//! published; they are given back then, once, and an item published again owes nothing.
//! Published items stay in `retained` until every server has read them.

use std::collections::VecDeque;

use super::reply::EntryId;
use crate::relay::Window;

/// A roster change that goes with an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RosterChange {
    /// None.
    None,
    /// The member's roster value is now this.
    Set(u64, String),
    /// The member left; give back its name, if it had one.
    Remove(u64, Option<String>),
}

/// A batch of lines on its way to the log.
#[derive(Debug)]
pub(crate) struct Item {
    /// Its place among this server's entries (0 until first published; then kept).
    pub(crate) seq: u64,
    /// The lines.
    pub(crate) lines: Vec<u8>,
    /// Window bytes it still owes the broadcaster: given back when it is first published,
    /// zero from then on.
    owed: usize,
    /// For an arrival: whose (the subscriber of this server finishes the join with it).
    pub(crate) arrival: Option<u64>,
    /// For a leave: whose.
    pub(crate) leave: Option<u64>,
    /// The server whose members skip it, if any.
    pub(crate) skip: Option<String>,
    /// What it changes in this server's roster.
    pub(crate) roster: RosterChange,
}

impl Item {
    /// An item that owes no window bytes (arrivals, leaves, notices).
    pub(crate) fn new(lines: Vec<u8>) -> Item {
        Item {
            seq: 0,
            lines,
            owed: 0,
            arrival: None,
            leave: None,
            skip: None,
            roster: RosterChange::None,
        }
    }

    /// Room lines, which owe the broadcaster their window bytes until published.
    pub(crate) fn owing(lines: Vec<u8>) -> Item {
        Item {
            owed: lines.len(),
            ..Item::new(lines)
        }
    }

    /// The same, skipped by the members of server `sid`.
    pub(crate) fn skipped_by(self, sid: Option<String>) -> Item {
        Item { skip: sid, ..self }
    }

    /// The same, with a roster change.
    pub(crate) fn changing(self, roster: RosterChange) -> Item {
        Item { roster, ..self }
    }

    /// The same, as `member`'s arrival.
    pub(crate) fn arrival_of(self, member: u64) -> Item {
        Item {
            arrival: Some(member),
            ..self
        }
    }

    /// The same, as `member`'s leave.
    pub(crate) fn leave_of(self, member: u64) -> Item {
        Item {
            leave: Some(member),
            ..self
        }
    }

    /// Gives back to the broadcaster the window bytes this item still owes (once).
    fn settle(&mut self, window: &Window) {
        let owed = std::mem::take(&mut self.owed);
        if owed > 0 {
            window.give_back(owed);
        }
    }
}

/// The items waiting to be published, and those kept after. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    /// Waiting for Redis, in order; the numbered ones first.
    held: VecDeque<Item>,
    /// Bytes of lines in `held`.
    held_bytes: usize,
    /// Published and perhaps not yet read by every server, with their ids, in order.
    retained: VecDeque<(EntryId, Item)>,
    /// Bytes of lines in `retained`.
    retained_bytes: usize,
    /// The last sequence number given.
    seq: u64,
}

impl Backlog {
    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Bytes of lines waiting.
    pub(crate) fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Adds `item` at the end.
    pub(crate) fn hold(&mut self, item: Item) {
        self.held_bytes += item.lines.len();
        self.held.push_back(item);
    }

    /// The next `max` items to publish, numbered.
    pub(crate) fn next_batch(&mut self, max: usize) -> Vec<&Item> {
        for item in self.held.iter_mut().take(max).filter(|i| i.seq == 0) {
            self.seq += 1;
            item.seq = self.seq;
        }
        self.held.iter().take(max).collect()
    }

    /// The first items were published with these ids: they give back what they owe the
    /// broadcaster's `window`, and are kept.
    pub(crate) fn published(&mut self, ids: Vec<EntryId>, window: &Window) {
        for id in ids {
            let Some(mut item) = self.held.pop_front() else {
                break;
            };
            self.held_bytes -= item.lines.len();
            item.settle(window);
            self.retained_bytes += item.lines.len();
            self.retained.push_back((id, item));
        }
    }

    /// Lets go of kept items every server has read (up to `horizon`), and of the oldest
    /// past `limit` bytes.
    pub(crate) fn forget_read(&mut self, horizon: EntryId, limit: usize) {
        while let Some((id, item)) = self.retained.front() {
            if *id > horizon && self.retained_bytes <= limit {
                break;
            }
            self.retained_bytes -= item.lines.len();
            self.retained.pop_front();
        }
    }

    /// The ids of the kept items, in order.
    pub(crate) fn retained_ids(&self) -> impl Iterator<Item = EntryId> + '_ {
        self.retained.iter().map(|(id, _)| *id)
    }

    /// Moves the kept items at `positions` (ascending; Redis lost them) to the front of
    /// what waits, in order, with their numbers.
    pub(crate) fn publish_again(&mut self, positions: &[usize]) {
        let mut lost = positions.iter().copied().peekable();
        let mut again = Vec::with_capacity(positions.len());
        let mut kept = VecDeque::with_capacity(self.retained.len());
        for (at, (id, item)) in std::mem::take(&mut self.retained).into_iter().enumerate() {
            if lost.next_if_eq(&at).is_some() {
                self.retained_bytes -= item.lines.len();
                again.push(item);
            } else {
                kept.push_back((id, item));
            }
        }
        self.retained = kept;
        for item in again.into_iter().rev() {
            self.held_bytes += item.lines.len();
            self.held.push_front(item);
        }
    }

    /// Puts `item` after the numbered items that wait (their place among this server's
    /// entries is fixed) and before the rest.
    pub(crate) fn put_next(&mut self, item: Item) {
        let at = self.held.iter().position(|i| i.seq == 0);
        self.held_bytes += item.lines.len();
        self.held.insert(at.unwrap_or(self.held.len()), item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> EntryId {
        EntryId::parse(&format!("{n}-0")).unwrap()
    }

    /// Publishes everything waiting, with ids from `first` on; returns the numbers.
    fn publish_all(backlog: &mut Backlog, first: u64, window: &Window) -> Vec<u64> {
        let seqs: Vec<u64> = backlog.next_batch(100).iter().map(|i| i.seq).collect();
        let ids = (0..seqs.len() as u64).map(|n| id(first + n)).collect();
        backlog.published(ids, window);
        seqs
    }

    #[test]
    fn window_bytes_are_given_back_once_even_when_published_again() {
        let window = Window::default();
        let mut backlog = Backlog::default();
        for line in [&b"a: 1\n"[..], b"a: 2\n"] {
            window.take(line.len());
            backlog.hold(Item::owing(line.to_vec()));
        }
        assert_eq!(window.pending(), 10);
        publish_all(&mut backlog, 1, &window);
        assert_eq!(window.pending(), 0);
        // Redis lost both; they are published again, and owe nothing.
        window.take(5);
        backlog.publish_again(&[0, 1]);
        publish_all(&mut backlog, 10, &window);
        assert_eq!(window.pending(), 5, "given back twice");
    }

    #[test]
    fn what_redis_lost_goes_first_with_its_numbers_then_the_rest() {
        let window = Window::default();
        let mut backlog = Backlog::default();
        for n in 0..3 {
            backlog.hold(Item::new(vec![b'0' + n, b'\n']));
        }
        assert_eq!(publish_all(&mut backlog, 1, &window), [1, 2, 3]);
        backlog.hold(Item::new(b"later\n".to_vec()));
        backlog.publish_again(&[1, 2]);
        assert_eq!(backlog.retained_ids().collect::<Vec<_>>(), [id(1)]);
        assert_eq!(publish_all(&mut backlog, 5, &window), [2, 3, 4]);
    }

    #[test]
    fn an_announcement_goes_after_numbered_items_and_before_the_rest() {
        let window = Window::default();
        let mut backlog = Backlog::default();
        backlog.hold(Item::new(b"tried\n".to_vec()));
        let _ = backlog.next_batch(1); // tried, not published: numbered 1
        backlog.hold(Item::new(b"new\n".to_vec()));
        backlog.put_next(Item::new(b"x has arrived\n".to_vec()));
        let order: Vec<Vec<u8>> = backlog
            .next_batch(10)
            .iter()
            .map(|i| i.lines.clone())
            .collect();
        assert_eq!(order, [&b"tried\n"[..], b"x has arrived\n", b"new\n"]);
        assert_eq!(publish_all(&mut backlog, 1, &window), [1, 2, 3]);
    }

    #[test]
    fn kept_items_go_once_everyone_read_them_or_past_the_limit() {
        let window = Window::default();
        let mut backlog = Backlog::default();
        for _ in 0..4 {
            backlog.hold(Item::new(b"0123456789".to_vec()));
        }
        publish_all(&mut backlog, 1, &window);
        backlog.forget_read(id(2), 1000);
        assert_eq!(backlog.retained_ids().collect::<Vec<_>>(), [id(3), id(4)]);
        backlog.forget_read(id(0), 10);
        assert_eq!(backlog.retained_ids().collect::<Vec<_>>(), [id(4)]);
    }
}
