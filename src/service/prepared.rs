//! push.get's work per message, done once for all its readers: the stored message and its
//! notification serialised without the reader's badge and category, kept in a cache bounded
//! by bytes. Every use checks the entry against what it was made from: the message's version
//! in the store (which moves with every write to it, so an unchanged message is not read
//! again), the room's and the sender's versions (unchanged, what the entry kept of them holds
//! and neither is looked up; else the same decoded ones, or their fields that shape the
//! notification, compared by value), and the settings, which are replaced as a whole on
//! change (the entry holds the snapshot, so a replaced one can never be mistaken for the
//! current one).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::model::user::{Identity, Names};
use crate::model::Room;
use crate::rules::access::RoomFacts;
use crate::rules::notification::{apn_category, SharedNotification};
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
    /// Whether neither the room nor the sender was written since the entry saw them (at
    /// these versions, read before them: `Store::room_version`, `Store::user_version`), nor
    /// the settings replaced: then what `made_from` kept of them is what the store holds.
    pub fn unchanged(
        &self,
        room_version: u64,
        sender_version: u64,
        settings: &Arc<Snapshot>,
    ) -> bool {
        Arc::ptr_eq(&self.settings, settings)
            && self.made_from.room_version.load(Ordering::Acquire) == room_version
            && self.made_from.sender_version.load(Ordering::Acquire) == sender_version
    }

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

/// The room and the sender a notification was made from: their versions, which decoded
/// ones, and by value the fields of theirs that shape it and what a reader's checks need of
/// the room (its access facts and reply category). Holding the room itself would keep every
/// version of a busy room alive, since each post replaces it; a `Weak` keeps only its
/// allocation, so that address cannot be reused.
#[derive(Debug)]
pub struct MadeFrom {
    /// Moved forward when a use finds the room and sender as they were (`confirm`).
    room_version: AtomicU64,
    sender_version: AtomicU64,
    room: Weak<Room>,
    sender: Weak<Names>,
    room_type: Box<str>,
    room_name: Option<Box<str>>,
    room_fname: Option<Box<str>>,
    room_prid: Option<Box<str>>,
    room_team: Option<Box<str>>,
    room_members: usize,
    room_read_only: bool,
    room_muted: Box<[Box<str>]>,
    sender_username: Option<Box<str>>,
    sender_name: Option<Box<str>>,
}

impl MadeFrom {
    /// From `room` and `sender`, read after their versions `room_version` and
    /// `sender_version` were.
    pub fn of(
        room: &Arc<Room>,
        room_version: u64,
        sender: &Arc<Names>,
        sender_version: u64,
    ) -> MadeFrom {
        let owned = |s: Option<&str>| s.map(Box::from);
        MadeFrom {
            room_version: AtomicU64::new(room_version),
            sender_version: AtomicU64::new(sender_version),
            room: Arc::downgrade(room),
            sender: Arc::downgrade(sender),
            room_type: room.t().into(),
            room_name: owned(room.name()),
            room_fname: owned(room.fname()),
            room_prid: owned(room.prid()),
            room_team: owned(room.team_id()),
            room_members: room.uids().len(),
            room_read_only: room.read_only(),
            room_muted: room.muted().into_iter().map(Box::from).collect(),
            sender_username: owned(sender.username.as_deref()),
            sender_name: owned(sender.name.as_deref()),
        }
    }

    /// Records that the room and sender read after these versions were found to `match`:
    /// versions only grow, so the newest confirmation wins whatever the order.
    pub fn confirm(&self, room_version: u64, sender_version: u64) {
        self.room_version.fetch_max(room_version, Ordering::AcqRel);
        self.sender_version
            .fetch_max(sender_version, Ordering::AcqRel);
    }

    /// What `can_read` needs of the room.
    pub fn room_facts(&self) -> RoomFacts<'_> {
        RoomFacts {
            t: crate::model::RoomType::of(&self.room_type),
            prid: self.room_prid.as_deref(),
            team: self.room_team.as_deref(),
        }
    }

    /// `apn.category` for `receiver`, as the room was.
    pub fn category_for(&self, receiver: &Identity) -> &'static str {
        let muted: Vec<&str> = self.room_muted.iter().map(|m| &**m).collect();
        apn_category(self.room_read_only, &muted, receiver.username.as_deref())
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
            && self.room_team.as_deref() == room.team_id()
            && self.sender_username.as_deref() == sender.username.as_deref()
            && self.sender_name.as_deref() == sender.name.as_deref()
            && self.room_members == room.uids().len()
            && self.room_read_only == room.read_only()
            && self.room_muted.iter().map(|m| &**m).eq(room.muted())
    }

    fn byte_len(&self) -> usize {
        let len = |s: &Option<Box<str>>| s.as_deref().map_or(0, str::len);
        self.room_type.len()
            + len(&self.room_name)
            + len(&self.room_fname)
            + len(&self.room_prid)
            + len(&self.room_team)
            + len(&self.sender_username)
            + len(&self.sender_name)
            + self.room_muted.iter().map(|m| m.len()).sum::<usize>()
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
        let made = MadeFrom::of(&r, 0, &u, 0);
        assert!(made.matches(&r, &u));
        assert!(made.matches(&room("general"), &sender("Ann")));
        assert!(!made.matches(&room("renamed"), &u));
        assert!(!made.matches(&r, &sender("Ann B.")));
        let read_only = Arc::new(Room(object(
            json!({"_id": "R1", "t": "c", "name": "general", "ro": true}),
        )));
        assert!(
            !made.matches(&read_only, &u),
            "the reply category would change"
        );
    }

    #[test]
    fn a_replaced_room_never_passes_for_the_one_it_was_made_from() {
        let (r, u) = (room("general"), sender("Ann"));
        let made = MadeFrom::of(&r, 0, &u, 0);
        drop(r);
        // Without the `Weak`, the allocator could hand the freed address to this room.
        for _ in 0..100 {
            assert!(!made.matches(&room("renamed"), &u));
        }
    }

    #[test]
    fn confirmations_only_move_the_versions_forward() {
        let made = MadeFrom::of(&room("general"), 3, &sender("Ann"), 5);
        made.confirm(7, 6);
        made.confirm(4, 9);
        assert_eq!(
            (
                made.room_version.into_inner(),
                made.sender_version.into_inner()
            ),
            (7, 9)
        );
    }

    #[test]
    fn the_kept_category_is_the_room_s_for_each_reader() {
        let room = Arc::new(Room(object(
            json!({"_id": "R1", "t": "c", "name": "general", "muted": ["bob"]}),
        )));
        let made = MadeFrom::of(&room, 0, &sender("Ann"), 0);
        let reader = |name: &str| Identity {
            id: format!("id-{name}"),
            username: Some(name.into()),
            name: None,
            roles: vec![],
        };
        assert_eq!(made.category_for(&reader("bob")), "MESSAGE_NOREPLY");
        assert_eq!(made.category_for(&reader("ann")), "MESSAGE");
        let facts = made.room_facts();
        assert_eq!(
            (facts.t, facts.prid),
            (crate::model::RoomType::Channel, None)
        );
    }
}
