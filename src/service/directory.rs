//! Who and where: users found by id or username, and the DMs between them. Rooms (invites,
//! kicks, `im.create`), users (`users.info`) and messages (posting to `@username`) share it.

use std::sync::Arc;

use super::auth::Caller;
use super::blocking::blocking_write;
use super::permits::Permits;
use crate::error::{ApiError, ApiResult};
use crate::model::id::{Ids, UserId};
use crate::model::room::new_direct_room;
use crate::model::subscription::new_direct_subscription;
use crate::model::time::Clock;
use crate::model::{Room, RoomType, User};
use crate::rules::names::display_order;
use crate::settings::Settings;
use crate::store::{Conflict, DirectoryView, WriteError};

/// A user named by id or by username.
pub enum UserRef {
    Id(UserId),
    Username(String),
}

/// A DM as `im.create` answers it.
pub struct DirectRoom(pub Room);

/// Users by reference and DMs by their members, over the store's directory view.
#[derive(Clone)]
pub struct Directory {
    pub(super) store: DirectoryView,
    pub(super) settings: Settings,
    pub(super) permits: Permits,
    pub(super) clock: Clock,
    pub(super) ids: Ids,
}

impl Directory {
    pub(super) fn find_user(&self, who: UserRef) -> ApiResult<Option<User>> {
        Ok(match who {
            UserRef::Id(id) => self.store.user(&id)?,
            UserRef::Username(name) => self.store.user_by_username(&name)?,
        })
    }

    /// The caller's whole user document, for the calls that copy it into new documents.
    pub(super) fn caller_user(&self, caller: &Caller) -> ApiResult<User> {
        self.store.user(caller.id())?.ok_or(ApiError::NotLoggedIn)
    }

    /// `im.create` / `dm.create`: the DM between the caller and `usernames` (without the
    /// caller when `exclude_self`); an existing one is returned as it is. Members are listed
    /// in Rocket.Chat's order, by display name (`name`, else `username`).
    pub(super) async fn create_direct(
        &self,
        caller: &Caller,
        usernames: Vec<String>,
        exclude_self: bool,
    ) -> ApiResult<DirectRoom> {
        let me = self.caller_user(caller)?;
        let mut members: Vec<User> = Vec::new();
        if !exclude_self {
            members.push(me.clone());
        }
        for n in &usernames {
            if me.username() == Some(n.as_str()) {
                continue;
            }
            let u = self
                .store
                .user_by_username(n)?
                .ok_or(ApiError::InvalidUser)?;
            if !members.iter().any(|m| m.id() == u.id()) {
                members.push(u);
            }
        }
        if members.is_empty() {
            members.push(me);
        }
        let mut uids: Vec<&str> = members.iter().map(|m| m.id()).collect();
        uids.sort_unstable();
        let rid = match uids.as_slice() {
            [a, b] => format!("{a}{b}"),
            _ => self.ids.id(),
        };
        if let Some(existing) = self.store.room(&rid)? {
            return Ok(DirectRoom(Arc::unwrap_or_clone(existing)));
        }
        let roles = caller.identity.roles();
        if !self.permits.has("create-d", &roles) {
            return Err(ApiError::NotAllowedIn {
                method: "createDirectMessage",
            });
        }
        members.sort_by(|a, b| display_order(display_name(a), display_name(b)));
        let all_open = exclude_self && self.permits.has("view-room-administration", &roles);
        let now = self.clock.now();
        let refs: Vec<&User> = members.iter().collect();
        let mut room = new_direct_room(&rid, &refs, now);
        let e2e = self.settings.snapshot().e2e;
        if let Some(encrypted) = e2e.new_room_encrypted(RoomType::Direct, None) {
            room.set_encrypted(encrypted);
        }
        let subs: Vec<_> = members
            .iter()
            .map(|m| {
                let others: Vec<&User> = refs
                    .iter()
                    .copied()
                    .filter(|o| o.id() != m.id() || refs.len() == 1)
                    .collect();
                let open = all_open || m.id() == caller.id() || members.len() > 2;
                new_direct_subscription(&room, m, &others, open, now, &self.ids)
            })
            .collect();
        let stored = room.clone();
        match blocking_write(&self.store, move |s| s.create_room(&stored, &subs)).await {
            // The same DM, made meanwhile by another request.
            Ok(()) | Err(WriteError::Conflict(Conflict::Id)) => Ok(DirectRoom(room)),
            Err(WriteError::Conflict(_)) => Err(ApiError::InvalidUser),
            Err(WriteError::Store(e)) => Err(e.into()),
        }
    }
}

/// What Rocket.Chat sorts DM members by: `name`, else `username`.
fn display_name(user: &User) -> &str {
    user.name()
        .filter(|n| !n.is_empty())
        .or(user.username())
        .unwrap_or_default()
}
