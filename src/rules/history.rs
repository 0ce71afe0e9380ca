//! A page of a room's history, as Rocket.Chat's `loadMessageHistory` picks it: the newest
//! visible messages before `end`, and with a last-seen time, the unread ones left out.

use crate::model::time::Millis;

/// What the page needs of one message of the room.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub ts: Millis,
    /// A thread reply (`tmid`)…
    pub reply: bool,
    /// …shown in the room as well (`tshow`).
    pub shown_in_room: bool,
    /// `_hidden`.
    pub hidden: bool,
}

/// The method's params.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    /// Only messages older than this.
    pub end: Option<Millis>,
    pub limit: usize,
    /// The caller's last-seen time.
    pub last_seen: Option<Millis>,
    pub thread_replies: bool,
}

/// Indexes into the entries given.
#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    /// Newest first.
    pub messages: Vec<usize>,
    /// The oldest unread message not on the page, if any is left out.
    pub first_unread: Option<usize>,
    pub unread_not_loaded: usize,
}

pub fn page(entries: &[Entry], q: &Query) -> Page {
    let visible = |e: &Entry| !e.hidden && (q.thread_replies || !e.reply || e.shown_in_room);
    let mut picked: Vec<usize> = (0..entries.len())
        .filter(|&i| visible(&entries[i]) && q.end.is_none_or(|end| entries[i].ts < end))
        .collect();
    // Newest first; equal times in a fixed order.
    picked.sort_by_key(|&i| (std::cmp::Reverse(entries[i].ts), i));
    picked.truncate(q.limit);
    let oldest_loaded = picked.last().map(|&i| entries[i].ts);
    let (first_unread, unread_not_loaded) = match (q.last_seen, oldest_loaded) {
        (Some(seen), Some(oldest)) if oldest > seen => {
            let mut unread: Vec<usize> = (0..entries.len())
                .filter(|&i| visible(&entries[i]) && entries[i].ts > seen && entries[i].ts < oldest)
                .collect();
            unread.sort_by_key(|&i| (entries[i].ts, i));
            (unread.first().copied(), unread.len())
        }
        _ => (None, 0),
    };
    Page {
        messages: picked,
        first_unread,
        unread_not_loaded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(ts: Millis) -> Entry {
        Entry {
            ts,
            reply: false,
            shown_in_room: false,
            hidden: false,
        }
    }

    fn query(limit: usize) -> Query {
        Query {
            end: None,
            limit,
            last_seen: None,
            thread_replies: true,
        }
    }

    #[test]
    fn newest_first_before_end_and_visible_only() {
        let mut entries = vec![at(10), at(30), at(20), at(40)];
        entries[3].hidden = true;
        entries[0].reply = true;
        assert_eq!(page(&entries, &query(20)).messages, [1, 2, 0]);
        let q = Query {
            end: Some(30),
            thread_replies: false,
            ..query(20)
        };
        assert_eq!(page(&entries, &q).messages, [2]);
    }

    #[test]
    fn unread_left_out_are_counted_from_the_oldest() {
        let entries = vec![at(10), at(20), at(30), at(40), at(50)];
        let q = Query {
            last_seen: Some(15),
            ..query(2)
        };
        let p = page(&entries, &q);
        assert_eq!(p.messages, [4, 3]);
        assert_eq!((p.first_unread, p.unread_not_loaded), (Some(1), 2));
    }

    proptest! {
        /// A page never holds more than the limit, is sorted newest first, and with the
        /// unread left out covers every visible message newer than the last-seen time.
        #[test]
        fn pages_are_ordered_and_complete(
            times in prop::collection::vec(0i64..100, 0..30),
            limit in 1usize..10,
            seen in 0i64..100,
        ) {
            let entries: Vec<Entry> = times.iter().map(|&t| at(t)).collect();
            let q = Query { last_seen: Some(seen), ..query(limit) };
            let p = page(&entries, &q);
            prop_assert!(p.messages.len() <= limit);
            prop_assert!(p.messages.windows(2).all(|w| entries[w[0]].ts >= entries[w[1]].ts));
            let newer = entries.iter().filter(|e| e.ts > seen).count();
            let loaded_newer = p.messages.iter().filter(|&&i| entries[i].ts > seen).count();
            let oldest = p.messages.last().map(|&i| entries[i].ts);
            let ties = entries.iter().enumerate()
                .filter(|(i, e)| Some(e.ts) == oldest && e.ts > seen && !p.messages.contains(i))
                .count();
            prop_assert_eq!(loaded_newer + p.unread_not_loaded + ties, newer);
        }
    }
}
