use std::sync::Arc;

use super::trees::Tree;
use super::{decode, encode, Conflict, Store, StoreResult, SystemMessage, WriteError};
use crate::model::user::{Identity, Names};
use crate::model::{Room, Subscription, User};

impl Store {
    pub fn user(&self, id: &str) -> StoreResult<Option<User>> {
        self.get_json(Tree::UseridUser, id.as_bytes())
    }

    /// A user's identity (id, names, roles), without decoding the whole document.
    pub fn user_identity(&self, id: &str) -> StoreResult<Option<Arc<Identity>>> {
        self.caches.identities.get_or_load(id.as_bytes(), || {
            self.get_json(Tree::UseridUser, id.as_bytes())
        })
    }

    /// `user_identity` of each of `ids`, in their order: what the cache lacks in one read.
    pub fn user_identities(&self, ids: &[&str]) -> StoreResult<Vec<Option<Arc<Identity>>>> {
        let mut missing = Vec::new();
        for id in ids {
            if !self.caches.identities.holds(id.as_bytes()) {
                missing.push(id.as_bytes().to_vec());
            }
        }
        let mut loaded: std::collections::HashMap<Vec<u8>, Vec<u8>> = missing
            .iter()
            .cloned()
            .zip(self.engine.get_many(Tree::UseridUser, &missing)?)
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        ids.iter()
            .map(|id| {
                self.caches.identities.get_or_load(id.as_bytes(), || {
                    match loaded.remove(id.as_bytes()) {
                        Some(bytes) => decode(Tree::UseridUser, &bytes).map(Some),
                        // Cached a moment ago, or evicted since: read it alone.
                        None => self.get_json(Tree::UseridUser, id.as_bytes()),
                    }
                })
            })
            .collect()
    }

    /// As `message_version`, for the user `id`.
    pub fn user_version(&self, id: &str) -> u64 {
        self.caches.versions.of(Tree::UseridUser, id.as_bytes())
    }

    /// A user's `username` and `name` (lenient: wrongly typed fields count as absent).
    pub fn user_names(&self, id: &str) -> StoreResult<Option<Arc<Names>>> {
        self.caches.names.get_or_load(id.as_bytes(), || {
            Ok(self
                .engine
                .get(Tree::UseridUser, id.as_bytes())?
                .map(|bytes| serde_json::from_slice(&bytes).unwrap_or_default()))
        })
    }

    /// Case-insensitive, as Rocket.Chat's `findOneByUsernameIgnoringCase`.
    pub fn user_id_by_username(&self, username: &str) -> StoreResult<Option<String>> {
        self.get_string(Tree::UsernameUserid, username.to_lowercase().as_bytes())
    }

    pub fn user_id_by_email(&self, email: &str) -> StoreResult<Option<String>> {
        self.get_string(Tree::EmailUserid, email.to_lowercase().as_bytes())
    }

    pub fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        match self.user_id_by_username(username)? {
            Some(id) => self.user(&id),
            None => Ok(None),
        }
    }

    /// The stored password hash (argon2id PHC string), if the user has a password.
    pub fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>> {
        self.get_string(Tree::UseridPassword, user_id.as_bytes())
    }

    /// The rooms marked `default`, which new users join (walks the rooms: only user creation
    /// asks).
    pub fn default_rooms(&self) -> StoreResult<Vec<Room>> {
        let mut rooms = Vec::new();
        self.engine
            .visit_prefix(Tree::RoomidRoom, b"", &mut |_, v| {
                let room: Room = decode(Tree::RoomidRoom, v)?;
                if room.is_default() {
                    rooms.push(room);
                }
                Ok(true)
            })?;
        Ok(rooms)
    }

    /// Whether any user holds `role` (stops at the first).
    pub fn any_user_has_role(&self, role: &str) -> StoreResult<bool> {
        let mut found = false;
        self.engine
            .visit_prefix(Tree::UseridUser, b"", &mut |_, v| {
                let user: Identity = decode(Tree::UseridUser, v)?;
                found = user.roles.iter().any(|r| r == role);
                Ok(!found)
            })?;
        Ok(found)
    }

    /// Inserts a new user with its indexes and password hash, unless a unique field is taken,
    /// and joins them to the rooms of `joins` (default rooms) that still exist, each room's
    /// `usersCount` going up by one and its system message (if any) written.
    pub fn create_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
        joins: &[(Subscription, Option<SystemMessage>)],
    ) -> Result<(), WriteError> {
        self.write_unique(|store, batch| {
            if store.user(user.id())?.is_some() {
                return Err(WriteError::Conflict(Conflict::Id));
            }
            if let Some(name) = user.username() {
                if store.user_id_by_username(name)?.is_some() {
                    return Err(WriteError::Conflict(Conflict::Username));
                }
            }
            for email in user.emails() {
                if store.user_id_by_email(email)?.is_some() {
                    return Err(WriteError::Conflict(Conflict::Email));
                }
            }
            Self::put_user(batch, user, password_hash);
            for (sub, note) in joins {
                if let Some(room) = store.room(sub.rid())? {
                    let mut room = Arc::unwrap_or_clone(room);
                    crate::rules::counters::move_users_count(&mut room, 1);
                    if let Some(note) = note {
                        Self::put_system_message(batch, &mut room, note);
                    }
                    Self::put_room(batch, &room);
                    Self::put_subscription(batch, sub);
                }
            }
            Ok(())
        })
    }

    pub(super) fn put_user(batch: &mut super::Batch, user: &User, password_hash: Option<&str>) {
        let id = user.id();
        batch.put(Tree::UseridUser, id, encode(user));
        if let Some(name) = user.username() {
            batch.put(Tree::UsernameUserid, name.to_lowercase(), id);
        }
        for email in user.emails() {
            batch.put(Tree::EmailUserid, email.to_lowercase(), id);
        }
        if let Some(hash) = password_hash {
            batch.put(Tree::UseridPassword, id, hash);
        }
    }
}
