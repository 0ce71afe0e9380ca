//! push.get's work per message, done once for all its readers: the stored message and its
//! notification serialised without the reader's badge and category, kept in a cache bounded
//! by bytes. Every use checks the entry against what it was made from: the message's version
//! in the store (which moves with every write to it, so an unchanged message is not read
//! again), and the room, the sender's names and the settings, which the store and the
//! settings hand out as shared values that a change replaces. The entry holds those values,
//! so a replaced one can never be mistaken for the current one.

use std::sync::Arc;

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
    /// What the notification was made from.
    pub room: Arc<Room>,
    pub sender: Arc<Names>,
    pub settings: Arc<Snapshot>,
}

impl Prepared {
    /// Whether the notification is still the one `room`, `sender` and `settings` give.
    pub fn made_from(
        &self,
        room: &Arc<Room>,
        sender: &Arc<Names>,
        settings: &Arc<Snapshot>,
    ) -> bool {
        Arc::ptr_eq(&self.room, room)
            && Arc::ptr_eq(&self.sender, sender)
            && Arc::ptr_eq(&self.settings, settings)
    }
}

/// Roughly what an entry's fixed parts and the map's slot cost besides its bytes.
const ENTRY_OVERHEAD: u64 = 160;

#[derive(Clone)]
struct ByBytes;

impl Weighter<Box<str>, Arc<Prepared>> for ByBytes {
    fn weight(&self, key: &Box<str>, p: &Arc<Prepared>) -> u64 {
        (key.len() + p.message.len() + p.room_id.len() + p.sender_id.len() + p.notification.len())
            as u64
            + ENTRY_OVERHEAD
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
