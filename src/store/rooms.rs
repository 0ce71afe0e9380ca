use std::sync::Arc;

use super::keys;
use super::trees::Tree;
use super::{encode, Batch, Conflict, Store, StoreResult, SystemMessage, WriteError};
use crate::model::{Room, Subscription};
use crate::rules::counters;

impl Store {
    /// As `message_version`, for the room `id`.
    pub fn room_version(&self, id: &str) -> u64 {
        self.caches.versions.of(Tree::RoomidRoom, id.as_bytes())
    }

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
    ) -> Result<(), WriteError> {
        self.write_unique(|store, batch| store.put_new_room(batch, room, subscriptions))
    }

    /// Puts a new room and its first subscriptions in `batch`, unless its id or name is
    /// taken (inside a write: `create_room`, `create_team`).
    pub(super) fn put_new_room(
        &self,
        batch: &mut Batch,
        room: &Room,
        subscriptions: &[Subscription],
    ) -> Result<(), WriteError> {
        if self.room(room.id())?.is_some() {
            return Err(WriteError::Conflict(Conflict::Id));
        }
        if let Some(name) = room.name() {
            if self.room_id_by_name(name)?.is_some() {
                return Err(WriteError::Conflict(Conflict::RoomName));
            }
        }
        Self::put_room(batch, room);
        for sub in subscriptions {
            Self::put_subscription(batch, sub);
        }
        Ok(())
    }

    /// Deletes a room and everything that hangs on it, in one write: its messages, every
    /// subscription with its member index entry (the members' badges follow), its name, and
    /// the pushes for it still waiting in the outbox. Returns the number of pushes dropped,
    /// or `None` if the room was already gone.
    pub fn erase_room(&self, room_id: &str) -> StoreResult<Option<usize>> {
        self.write(|store, batch| {
            let Some(room) = store.room(room_id)? else {
                return Ok(None);
            };
            store.erase_rooms_in(batch, &[room]).map(Some)
        })
    }

    /// `erase_room` for several rooms in `batch` (inside a write: `erase_room`,
    /// `delete_team`). rcpush keeps no index of messages by room, so this walks every
    /// message once for all of them: room deletion is rare, reads stay cheap. Returns the
    /// number of pushes dropped.
    pub(super) fn erase_rooms_in(
        &self,
        batch: &mut Batch,
        rooms: &[Arc<Room>],
    ) -> StoreResult<usize> {
        let ids: std::collections::BTreeSet<&str> = rooms.iter().map(|r| r.id()).collect();
        for room in rooms {
            let room_id = room.id();
            batch.delete(Tree::RoomidRoom, room_id);
            if let Some(name) = room.name() {
                batch.delete(Tree::RoomnameRoomid, name);
            }
            if let Some(team_id) = room.team_id() {
                batch.delete(Tree::Teamroomids, keys::pair(team_id, room_id));
            }
            for user_id in self.room_member_ids(room_id)? {
                Self::delete_subscription(batch, &user_id, room_id);
                batch.delete(Tree::Roomuserids, keys::pair(room_id, &user_id));
            }
            for (key, _) in self
                .engine
                .scan_prefix(Tree::RoomseqBumps, &keys::prefix(room_id))?
            {
                batch.delete(Tree::RoomseqBumps, key);
            }
        }
        self.engine
            .visit_prefix(Tree::MessageidMessage, b"", &mut |key, value| {
                #[derive(serde::Deserialize)]
                struct InRoom<'a> {
                    #[serde(default, borrow)]
                    rid: std::borrow::Cow<'a, str>,
                }
                let message: InRoom = serde_json::from_slice(value)
                    .map_err(|e| super::corrupt(Tree::MessageidMessage, e))?;
                if ids.contains(message.rid.as_ref()) {
                    batch.delete(Tree::MessageidMessage, key);
                }
                Ok(true)
            })?;
        self.drop_room_pushes(batch, &ids)
    }

    /// Renames a room: its `name` and `fname`, its name index, and the `name` / `fname` of
    /// every subscription to it, with the system message that reports it, unless another
    /// room has the name (decided inside the write). `None` if the room is gone.
    pub fn rename_room(
        &self,
        room_id: &str,
        name: &str,
        at: &str,
        note: &SystemMessage,
    ) -> Result<Option<Room>, WriteError> {
        self.write_unique(|store, batch| {
            let Some(room) = store.room(room_id)? else {
                return Ok(None);
            };
            match store.room_id_by_name(name)? {
                Some(other) if other != room_id => {
                    return Err(WriteError::Conflict(Conflict::RoomName))
                }
                _ => {}
            }
            let mut room = Arc::unwrap_or_clone(room);
            if let Some(old) = room.name() {
                batch.delete(Tree::RoomnameRoomid, old);
            }
            room.rename(name);
            Self::put_system_message(batch, &mut room, note);
            room.set_updated_at(at);
            Self::put_room(batch, &room);
            for user_id in store.room_member_ids(room_id)? {
                if let Some(mut sub) = store.subscription(room_id, &user_id)? {
                    sub.rename(name);
                    sub.set_updated_at(at);
                    Self::update_subscription(batch, &sub);
                }
            }
            Ok(Some(room))
        })
    }

    pub(super) fn put_room(batch: &mut Batch, room: &Room) {
        batch.put(Tree::RoomidRoom, room.id(), encode(room));
        if let Some(name) = room.name() {
            batch.put(Tree::RoomnameRoomid, name, room.id());
        }
        if let Some(team_id) = room.team_id() {
            batch.put(Tree::Teamroomids, keys::pair(team_id, room.id()), "");
        }
    }

    /// Adds members: each subscription whose user is not in the room yet is stored with the
    /// system message that reports it, the room's `usersCount` grows by their number and its
    /// `_updatedAt` becomes `at`. Returns the room as stored, or `None` if it does not exist.
    pub fn add_members(
        &self,
        room_id: &str,
        subscriptions: &[(Subscription, SystemMessage)],
        at: &str,
    ) -> StoreResult<Option<Room>> {
        self.write(|store, batch| store.add_members_in(batch, room_id, subscriptions, at))
    }

    /// `add_members` in `batch` (inside a write: `add_members`, `add_team_members`).
    pub(super) fn add_members_in(
        &self,
        batch: &mut Batch,
        room_id: &str,
        subscriptions: &[(Subscription, SystemMessage)],
        at: &str,
    ) -> StoreResult<Option<Room>> {
        let Some(room) = self.room(room_id)? else {
            return Ok(None);
        };
        let mut room = Arc::unwrap_or_clone(room);
        let mut added = 0;
        for (sub, note) in subscriptions {
            if self.subscription(room_id, sub.user_id())?.is_none() {
                Self::put_subscription(batch, sub);
                Self::put_system_message(batch, &mut room, note);
                added += 1;
            }
        }
        counters::move_users_count(&mut room, added);
        room.set_updated_at(at);
        Self::put_room(batch, &room);
        Ok(Some(room))
    }

    /// Removes a member, with the system message that reports it, unless they are the room's
    /// last owner: like a uniqueness rule, this is decided inside the transaction. `None` if
    /// the room does not exist.
    pub fn remove_member(
        &self,
        room_id: &str,
        user_id: &str,
        at: &str,
        note: &SystemMessage,
    ) -> StoreResult<Option<Removal>> {
        self.write(|store, batch| store.remove_member_in(batch, room_id, user_id, at, note))
    }

    /// `remove_member` in `batch` (inside a write: `remove_member`, `remove_team_member`);
    /// writes nothing unless it answers `Removed`.
    pub(super) fn remove_member_in(
        &self,
        batch: &mut Batch,
        room_id: &str,
        user_id: &str,
        at: &str,
        note: &SystemMessage,
    ) -> StoreResult<Option<Removal>> {
        let Some(room) = self.room(room_id)? else {
            return Ok(None);
        };
        let Some(sub) = self.subscription(room_id, user_id)? else {
            return Ok(Some(Removal::NotMember));
        };
        if sub.is_owner() {
            let ids = self.room_member_ids(room_id)?;
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            let members = self.room_subscriptions(room_id, &ids)?;
            if !counters::may_leave(&sub, &members) {
                return Ok(Some(Removal::LastOwner));
            }
        }
        let mut room = Arc::unwrap_or_clone(room);
        Self::put_system_message(batch, &mut room, note);
        counters::move_users_count(&mut room, -1);
        room.set_updated_at(at);
        Self::put_room(batch, &room);
        Self::delete_subscription(batch, user_id, room_id);
        batch.delete(Tree::Roomuserids, keys::pair(room_id, user_id));
        Ok(Some(Removal::Removed(room)))
    }
}

/// The outcome of `remove_member`.
pub enum Removal {
    Removed(Room),
    NotMember,
    LastOwner,
}
