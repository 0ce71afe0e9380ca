use std::sync::Arc;

use super::keys;
use super::trees::Tree;
use super::{encode, Batch, Conflict, Store, StoreResult};
use crate::model::{Room, Subscription};

impl Store {
    /// Shared with the room cache: writers take their own copy (`Arc::unwrap_or_clone`).
    pub fn room(&self, id: &str) -> StoreResult<Option<Arc<Room>>> {
        self.caches.rooms.get_or_load(id.as_bytes(), || {
            self.get_json(Tree::RoomidRoom, id.as_bytes())
        })
    }

    pub fn room_id_by_name(&self, name: &str) -> StoreResult<Option<String>> {
        self.get_string(Tree::RoomnameRoomid, name.as_bytes())
    }

    pub fn room_by_name(&self, name: &str) -> StoreResult<Option<Arc<Room>>> {
        match self.room_id_by_name(name)? {
            Some(id) => self.room(&id),
            None => Ok(None),
        }
    }

    /// Creates a room and its first subscriptions, unless its name or id is taken.
    pub fn create_room(
        &self,
        room: &Room,
        subscriptions: &[Subscription],
    ) -> StoreResult<Result<(), Conflict>> {
        self.write(|store, batch| {
            if store.room(room.id())?.is_some() {
                return Ok(Err(Conflict::Id));
            }
            if let Some(name) = room.name() {
                if store.room_id_by_name(name)?.is_some() {
                    return Ok(Err(Conflict::RoomName));
                }
            }
            Self::put_room(batch, room);
            for sub in subscriptions {
                Self::put_subscription(batch, sub);
            }
            Ok(Ok(()))
        })
    }

    pub(super) fn put_room(batch: &mut Batch, room: &Room) {
        batch.put(Tree::RoomidRoom, room.id(), encode(room));
        if let Some(name) = room.name() {
            batch.put(Tree::RoomnameRoomid, name, room.id());
        }
    }

    /// Adds and removes members of a room in one write. `change` sees the current room and
    /// returns the changes to apply (`None`: none) and a result for the caller. `None` if the
    /// room does not exist.
    pub fn change_membership<R>(
        &self,
        room_id: &str,
        change: impl FnOnce(&Store, Room) -> StoreResult<(Option<Membership>, R)>,
    ) -> StoreResult<Option<R>> {
        self.write(|store, batch| {
            let Some(room) = store.room(room_id)? else {
                return Ok(None);
            };
            let (changes, result) = change(store, Arc::unwrap_or_clone(room))?;
            let Some(m) = changes else {
                return Ok(Some(result));
            };
            Self::put_room(batch, &m.room);
            for sub in &m.add {
                Self::put_subscription(batch, sub);
            }
            for uid in &m.remove {
                batch.delete(Tree::UserroomidSubscription, keys::pair(uid, room_id));
                batch.delete(Tree::Roomuserids, keys::pair(room_id, uid));
            }
            Ok(Some(result))
        })
    }
}

/// The outcome of a membership change.
pub struct Membership {
    pub room: Room,
    pub add: Vec<Subscription>,
    pub remove: Vec<String>,
}
