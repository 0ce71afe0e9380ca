//! push.get's work per message, done once for all its readers: the stored message and its
//! notification serialised without the reader's badge and category, kept in a cache bounded
//! by bytes. Every use checks the entry against what it was made from: the message's version
//! in the store (which moves with every write to it, so an unchanged message is not read
//! again), the room and the sender (the same decoded ones, else their fields that shape the
//! notification, compared by value), and the settings, which are replaced as a whole on
//! change (the entry holds the snapshot, so a replaced one can never be mistaken for the
//! current one).

use std::sync::{Arc, Weak};

use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::model::user::Names;
use crate::model::Room;
use crate::rules::notification::SharedNotification;
use crate::settings::Snapshot;

/// A message prepared for push.get.
pub struct Prepared {
    /// The stored message, as push.get returns it.
    pub message: Box<str>,
    /// The store's version of the message when it was read (`Store::message_version`).
    pub version: u64,
    pub room_id: Box<str>,
    pub sender_id: Box<str>,
    pub notification: SharedNotification,
    pub made_from: MadeFrom,
    pub settings: Arc<Snapshot>,
}

impl Prepared {
    /// Whether the notification is still the one `room`, `sender` and `settings` give.
    pub fn is_current(
        &self,
        room: &Arc<Room>,
        sender: &Arc<Names>,
        settings: &Arc<Snapshot>,
    ) -> bool {
        Arc::ptr_eq(&self.settings, settings) && self.made_from.matches(room, sender)
    }
}

/// The room and the sender a notification was made from: which decoded ones, and the fields
/// of theirs that shape it (besides its reply category, which is the reader's) by value.
/// Holding the room itself would keep every version of a busy room alive, since each post
/// replaces it; a `Weak` keeps only its allocation, so that address cannot be reused.
#[derive(Debug)]
pub struct MadeFrom {
    room: Weak<Room>,
    sender: Weak<Names>,
    room_type: Box<str>,
    room_name: Option<Box<str>>,
    room_fname: Option<Box<str>>,
    room_prid: Option<Box<str>>,
    room_members: usize,
    sender_username: Option<Box<str>>,
    sender_name: Option<Box<str>>,
}

impl MadeFrom {
    pub fn of(room: &Arc<Room>, sender: &Arc<Names>) -> MadeFrom {
        let owned = |s: Option<&str>| s.map(Box::from);
        MadeFrom {
            room: Arc::downgrade(room),
            sender: Arc::downgrade(sender),
            room_type: room.t().into(),
            room_name: owned(room.name()),
            room_fname: owned(room.fname()),
            room_prid: owned(room.prid()),
            room_members: room.uids().len(),
            sender_username: owned(sender.username.as_deref()),
            sender_name: owned(sender.name.as_deref()),
        }
    }

    /// The same decoded room and sender need no field looked up (most uses: a room is
    /// decoded again only after a write to it).
    fn matches(&self, room: &Arc<Room>, sender: &Arc<Names>) -> bool {
        let same = std::ptr::eq(self.room.as_ptr(), Arc::as_ptr(room))
            && std::ptr::eq(self.sender.as_ptr(), Arc::as_ptr(sender));
        same || self.matches_by_value(room, sender)
    }

    fn matches_by_value(&self, room: &Room, sender: &Names) -> bool {
        *self.room_type == *room.t()
            && self.room_name.as_deref() == room.name()
            && self.room_fname.as_deref() == room.fname()
            && self.room_prid.as_deref() == room.prid()
            && self.sender_username.as_deref() == sender.username.as_deref()
            && self.sender_name.as_deref() == sender.name.as_deref()
            && self.room_members == room.uids().len()
    }

    fn byte_len(&self) -> usize {
        let len = |s: &Option<Box<str>>| s.as_deref().map_or(0, str::len);
        self.room_type.len()
            + len(&self.room_name)
            + len(&self.room_fname)
            + len(&self.room_prid)
            + len(&self.sender_username)
            + len(&self.sender_name)
    }
}

/// Roughly what an entry's fixed parts and the map's slot cost besides its bytes, with the
/// allocations of a replaced room and sender that its `Weak`s keep.
const ENTRY_OVERHEAD: u64 = 320;

#[derive(Clone)]
struct ByBytes;

impl Weighter<Box<str>, Arc<Prepared>> for ByBytes {
    fn weight(&self, key: &Box<str>, p: &Arc<Prepared>) -> u64 {
        let bytes = key.len()
            + p.message.len()
            + p.room_id.len()
            + p.sender_id.len()
            + p.notification.byte_len()
            + p.made_from.byte_len();
        bytes as u64 + ENTRY_OVERHEAD
    }
}

/// Prepared messages by id, bounded in bytes; none when the budget is zero.
pub struct PreparedCache(Option<Cache<Box<str>, Arc<Prepared>, ByBytes>>);

/// A guess of the average entry, for the map's initial size.
const TYPICAL_ENTRY: u64 = 2048;

impl PreparedCache {
    pub fn new(bytes: u64) -> PreparedCache {
        PreparedCache((bytes > 0).then(|| {
            let items = usize::try_from(bytes / TYPICAL_ENTRY).unwrap_or(usize::MAX);
            Cache::with_weighter(items.max(16), bytes, ByBytes)
        }))
    }

    pub fn get(&self, id: &str) -> Option<Arc<Prepared>> {
        self.0.as_ref()?.get(id)
    }

    pub fn insert(&self, id: &str, prepared: Arc<Prepared>) {
        if let Some(cache) = &self.0 {
            cache.insert(id.into(), prepared);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::object;

    fn room(name: &str) -> Arc<Room> {
        Arc::new(Room(object(json!({"_id": "R1", "t": "c", "name": name}))))
    }

    fn sender(name: &str) -> Arc<Names> {
        Arc::new(Names {
            username: Some("ann".into()),
            name: Some(name.into()),
        })
    }

    #[test]
    fn a_room_or_sender_decoded_again_matches_by_its_fields() {
        let (r, u) = (room("general"), sender("Ann"));
        let made = MadeFrom::of(&r, &u);
        assert!(made.matches(&r, &u));
        assert!(made.matches(&room("general"), &sender("Ann")));
        assert!(!made.matches(&room("renamed"), &u));
        assert!(!made.matches(&r, &sender("Ann B.")));
    }

    #[test]
    fn a_replaced_room_never_passes_for_the_one_it_was_made_from() {
        let (r, u) = (room("general"), sender("Ann"));
        let made = MadeFrom::of(&r, &u);
        drop(r);
        // Without the `Weak`, the allocator could hand the freed address to this room.
        for _ in 0..100 {
            assert!(!made.matches(&room("renamed"), &u));
        }
    }
}
