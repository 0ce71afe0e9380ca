use std::sync::Arc;

use super::trees::Tree;
use super::{decode, encode, Conflict, Store, StoreResult, SystemMessage, WriteError};
use crate::model::user::{Identity, Names};
use crate::model::{Doc, Room, RoomType, Subscription, User};
use crate::rules::preferences;
use crate::rules::user_profile::{rename_in_direct, ProfileChange};

/// What `set_user_active` did.
pub enum Activation {
    NoUser,
    /// Refused: the user is the last active admin.
    LastAdmin,
    Done(User),
}

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

    /// `saveUser`'s write: `change` applied to the user `id` as stored now (`None`: no such
    /// user), unless the new username or address belongs to another user; with a new
    /// password hash if given. A new username or name reaches what shows it: the user's
    /// subscriptions (`u.username`), their rooms' `usernames`, `muted` and creator, and the
    /// other members' DM subscriptions (`name`, `fname`).
    pub fn save_user(
        &self,
        id: &str,
        change: &ProfileChange,
        password_hash: Option<&str>,
    ) -> Result<Option<User>, WriteError> {
        self.write_unique(|store, batch| {
            let Some(mut user) = store.user(id)? else {
                return Ok(None);
            };
            if let Some(name) = &change.username {
                if store
                    .user_id_by_username(name)?
                    .is_some_and(|other| other != id)
                {
                    return Err(WriteError::Conflict(Conflict::Username));
                }
            }
            if let Some((address, _)) = &change.email {
                if store
                    .user_id_by_email(address)?
                    .is_some_and(|other| other != id)
                {
                    return Err(WriteError::Conflict(Conflict::Email));
                }
            }
            let before = user.clone();
            change.apply(&mut user);
            if let (Some(_), Some(old)) = (&change.username, before.username()) {
                batch.delete(Tree::UsernameUserid, old.to_lowercase());
            }
            if change.email.is_some() {
                for old in before.emails() {
                    batch.delete(Tree::EmailUserid, old.to_lowercase());
                }
            }
            Self::put_user(batch, &user, password_hash);
            if change.renames() {
                store.propagate_rename(batch, &before, &user, &change.updated_at)?;
            }
            Ok(Some(user))
        })
    }

    /// The renamed user's (`before` → `after`) subscriptions and rooms, and the other
    /// members' subscriptions of their DMs, follow the new names.
    fn propagate_rename(
        &self,
        batch: &mut super::Batch,
        before: &User,
        after: &User,
        at: &str,
    ) -> StoreResult<()> {
        let names = |u: &User| Names {
            username: u.username().map(str::to_string),
            name: u.name().map(str::to_string),
        };
        let (old, new) = (names(before), names(after));
        let new_username = match (&old.username, &new.username) {
            (Some(o), Some(n)) if o != n => Some((o.as_str(), n.as_str())),
            _ => None,
        };
        let id = after.id();
        for mut own in self.subscriptions_of_user(id)? {
            let mut own_changed = false;
            if let Some((_, n)) = new_username {
                own.set_member_username(n);
                own_changed = true;
            }
            let Some(room) = self.room(own.rid())? else {
                continue;
            };
            if let Some((o, n)) = new_username {
                let mut room = Arc::unwrap_or_clone(room.clone());
                if room.replace_username(id, o, n) {
                    room.set_updated_at(at);
                    Self::put_room(batch, &room);
                }
            }
            if room.room_type() == RoomType::Direct {
                let uids = room.uids();
                // In a DM with oneself, one's own subscription names oneself.
                if uids.len() <= 1 {
                    own_changed |= rename_in_direct(&mut own, &old, &new);
                }
                for uid in uids.into_iter().filter(|u| *u != id) {
                    if let Some(mut other) = self.subscription(own.rid(), uid)? {
                        if rename_in_direct(&mut other, &old, &new) {
                            other.set_updated_at(at);
                            Self::update_subscription(batch, &other);
                        }
                    }
                }
            }
            if own_changed {
                own.set_updated_at(at);
                Self::update_subscription(batch, &own);
            }
        }
        Ok(())
    }

    /// `saveUserPreferences`' write: `prefs` (normalised) set on the user `id` as stored
    /// now (`None`: no such user), and the notification preferences among them copied into
    /// their subscriptions that did not choose their own.
    pub fn save_preferences(&self, id: &str, prefs: &Doc, at: &str) -> StoreResult<Option<User>> {
        self.write(|store, batch| {
            let Some(mut user) = store.user(id)? else {
                return Ok(None);
            };
            let changes = preferences::subscription_changes(&user, prefs);
            preferences::apply(&mut user, prefs, at);
            Self::put_user(batch, &user, None);
            if !changes.is_empty() {
                for mut sub in store.subscriptions_of_user(id)? {
                    if preferences::apply_to_subscription(&mut sub, &changes, at) {
                        Self::update_subscription(batch, &sub);
                    }
                }
            }
            Ok(Some(user))
        })
    }

    /// `setUserActiveStatus`' write: the user `id` activated or deactivated, unless they are
    /// the last active admin being deactivated; a deactivated user's sessions end.
    pub fn set_user_active(&self, id: &str, active: bool, at: &str) -> StoreResult<Activation> {
        self.write(|store, batch| {
            let Some(mut user) = store.user(id)? else {
                return Ok(Activation::NoUser);
            };
            if !active && user.username().is_some() && user.roles().contains(&"admin") {
                let mut active_admins = 0;
                store
                    .engine
                    .visit_prefix(Tree::UseridUser, b"", &mut |_, v| {
                        let other: User = decode(Tree::UseridUser, v)?;
                        if other.is_active() && other.roles().contains(&"admin") {
                            active_admins += 1;
                        }
                        Ok(active_admins < 2)
                    })?;
                if active_admins == 1 {
                    return Ok(Activation::LastAdmin);
                }
            }
            user.set_active(active);
            user.set_updated_at(at);
            Self::put_user(batch, &user, None);
            if !active {
                store.end_sessions(batch, id)?;
            }
            Ok(Activation::Done(user))
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
