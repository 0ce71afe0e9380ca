//! Rooms and their members: `channels.*`, `groups.*` (one implementation, by `Kind`),
//! `im.create` / `dm.create`.

use std::sync::Arc;

use super::access::RoomAccess;
use super::auth::Caller;
use super::blocking::blocking_write;
use super::directory::{DirectRoom, Directory, UserRef};
use super::permits::Permits;
use super::system_messages::SystemMessages;
use crate::delivery::Delivery;
use crate::error::{ApiError, ApiResult};
use crate::model::id::{Ids, RoomId};
use crate::model::room::new_group_room;
use crate::model::room::Kind;
use crate::model::subscription::{new_group_subscription, new_joined_subscription};
use crate::model::time::{self, Clock};
use crate::model::{Room, Team, User};
use crate::rules::names::valid_name;
use crate::settings::Settings;
use crate::store::{Removal, RoomsView, SystemMessage, WriteError};

/// `channels.create` / `groups.create`'s body, its types checked.
pub struct CreateRoom {
    pub name: String,
    pub members: Vec<String>,
    pub read_only: bool,
    /// `extraData.encrypted`: the creator's choice of end-to-end encryption.
    pub encrypted: Option<bool>,
}

/// A room named by `roomId` or `roomName`.
pub enum RoomRef {
    Id(RoomId),
    Name(String),
}

/// Some users of a room: whom `invite` adds or `kick` removes (the first known one).
pub struct Members {
    pub room: RoomRef,
    pub users: Vec<UserRef>,
}

/// The rooms area: `channels.*`, `groups.*`, `im.create`, and what test set-ups do to
/// whole rooms (`room_admin.rs`).
#[derive(Clone)]
pub struct Rooms {
    pub(super) store: RoomsView,
    pub(super) settings: Settings,
    pub(super) permits: Permits,
    pub(super) access: RoomAccess,
    pub(super) directory: Directory,
    pub(super) system: SystemMessages,
    pub(super) clock: Clock,
    pub(super) ids: Ids,
    /// Counts the pushes an erased room withdraws from the outbox.
    pub(super) delivery: Delivery,
}

impl Rooms {
    /// `channels.create` / `groups.create`: the room with the caller as owner. `create` is
    /// the body as parsed: channels check the permission before the body, groups after it,
    /// as in Rocket.Chat. With `team_id` (`extraData.teamId`) the room is made in that
    /// team: the permission is `create-team-channel` / `create-team-group` in the team's
    /// main room instead of `create-c` / `create-p`, and a channel is announced there.
    pub async fn create_room(
        &self,
        kind: Kind,
        caller: &Caller,
        team_id: Option<String>,
        create: ApiResult<CreateRoom>,
    ) -> ApiResult<Room> {
        let (global, in_team, method) = match kind {
            Kind::Channels => ("create-c", "create-team-channel", "createChannel"),
            Kind::Groups => ("create-p", "create-team-group", "createPrivateGroup"),
        };
        let team = match &team_id {
            Some(id) => self.store.team(id)?,
            None => None,
        };
        // The permission, in the team's main room for a team's room. An unknown team is
        // let through here (the REST check skips it) and refused by the method below.
        let permitted = |team: Option<&Team>| -> ApiResult<bool> {
            match (&team_id, team) {
                (None, _) => Ok(self.permits.has(global, &caller.identity.roles())),
                (Some(_), Some(team)) => {
                    let main = team.room_id().unwrap_or_default();
                    self.access
                        .has_room_permission(&caller.identity, main, in_team)
                }
                (Some(_), None) => Ok(true),
            }
        };
        if kind == Kind::Channels && !permitted(team.as_ref())? {
            return Err(ApiError::Forbidden);
        }
        let create = create?;
        if team_id.is_some() && team.is_none() {
            return Err(ApiError::TeamNotFoundIn { method });
        }
        if !permitted(team.as_ref())? {
            return Err(ApiError::NotAllowedIn { method });
        }
        let name = create.name;
        if !valid_name(&name) {
            return Err(ApiError::InvalidRoomName(name));
        }
        let owner = self.directory.caller_user(caller)?;
        let mut users: Vec<User> = vec![owner.clone()];
        for username in &create.members {
            if let Some(u) = self.store.user_by_username(username)? {
                if !users.iter().any(|x| x.id() == u.id()) {
                    users.push(u);
                }
            }
        }
        let now = self.clock.now();
        let mut room = new_group_room(
            &self.ids.id(),
            kind.room_type(),
            &name,
            &owner,
            users.len(),
            create.read_only,
            now,
        );
        let e2e = self.settings.snapshot().e2e;
        if let Some(encrypted) = e2e.new_room_encrypted(kind.room_type(), create.encrypted) {
            room.set_encrypted(encrypted);
        }
        let subs: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(i, u)| new_group_subscription(&room, u, i == 0, now, &self.ids))
            .collect();
        let notes: Vec<SystemMessage> = match &team {
            Some(team) => {
                room.set_team(team.id(), false);
                let main = team.room_id().unwrap_or_default();
                (kind == Kind::Channels)
                    .then(|| {
                        self.system
                            .message("user-added-room-to-team", main, &name, owner.short())
                    })
                    .into_iter()
                    .collect()
            }
            None => Vec::new(),
        };
        let (stored, at) = (room.clone(), time::iso(now));
        let written = blocking_write(&self.store, move |s| match stored.team_id() {
            Some(_) => s.create_team_room(&stored, &subs, &notes, &at),
            None => s.create_room(&stored, &subs).map(|()| true),
        })
        .await;
        match written {
            Ok(true) => Ok(room),
            Ok(false) => Err(ApiError::TeamNotFoundIn { method }),
            Err(WriteError::Conflict(_)) => Err(ApiError::DuplicateChannelName(name)),
            Err(WriteError::Store(e)) => Err(e.into()),
        }
    }

    /// `im.create` / `dm.create` (`Directory::create_direct`).
    pub async fn create_direct(
        &self,
        caller: &Caller,
        usernames: Vec<String>,
        exclude_self: bool,
    ) -> ApiResult<DirectRoom> {
        self.directory
            .create_direct(caller, usernames, exclude_self)
            .await
    }

    /// `channels.invite` / `groups.invite`: the room with the users added.
    pub async fn invite(&self, kind: Kind, caller: &Caller, of: Members) -> ApiResult<Room> {
        let room = self.find_room(kind, caller, of.room)?;
        let users = self.users(of.users)?;
        if users.is_empty() {
            return Err(ApiError::EmptyInviteList(kind));
        }
        let any = match kind {
            Kind::Channels => "add-user-to-any-c-room",
            Kind::Groups => "add-user-to-any-p-room",
        };
        let user = &caller.identity;
        let joined = self.store.subscription(room.id(), caller.id())?.is_some();
        if !(self.access.has_room_permission(user, room.id(), any)?
            || (joined
                && self
                    .access
                    .has_room_permission(user, room.id(), "add-user-to-joined-room")?))
        {
            return Err(ApiError::NotAllowedIn {
                method: "addUsersToRoom",
            });
        }
        let now = self.clock.now();
        // `au`: the added user's name, by the inviter (`_id` and `username` only).
        let inviter = serde_json::json!({"_id": user.id, "username": user.username});
        let subs = users
            .iter()
            .map(|u| {
                let added = u.username().unwrap_or_default();
                let note = self.system.message("au", room.id(), added, inviter.clone());
                Ok((new_joined_subscription(&room, u, now, &self.ids), note))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let rid = room.id().to_string();
        blocking_write(&self.store, move |s| {
            s.add_members(&rid, &subs, &time::iso(now))
        })
        .await?
        .ok_or(ApiError::RoomNotFoundIn(kind))
    }

    /// `channels.kick` / `groups.kick`: the room without the user.
    pub async fn kick(&self, kind: Kind, caller: &Caller, of: Members) -> ApiResult<Room> {
        let room = self.find_room(kind, caller, of.room)?;
        if !self
            .access
            .has_room_permission(&caller.identity, room.id(), "remove-user")?
        {
            return Err(ApiError::NotAllowedIn {
                method: Exit::Kick.method(),
            });
        }
        let target = self
            .users(of.users)?
            .into_iter()
            .next()
            .ok_or(ApiError::UserNotInRoom)?;
        let note = self.system.message(
            "ru",
            room.id(),
            target.username().unwrap_or_default(),
            caller.identity.short(),
        );
        self.remove_member(&room, target.id().to_string(), note, Exit::Kick)
            .await
    }

    /// `channels.leave` / `groups.leave`: the room without the caller.
    pub async fn leave(&self, kind: Kind, caller: &Caller, room: RoomRef) -> ApiResult<Room> {
        let room = self.find_room(kind, caller, room)?;
        self.leave_found(kind, caller, room).await
    }

    /// The caller leaves `room`, of the namespace's type (`leave-c` / `leave-p`).
    pub(super) async fn leave_found(
        &self,
        kind: Kind,
        caller: &Caller,
        room: Room,
    ) -> ApiResult<Room> {
        let permission = match kind {
            Kind::Channels => "leave-c",
            Kind::Groups => "leave-p",
        };
        if !self.permits.has(permission, &caller.identity.roles()) {
            return Err(ApiError::NotAllowedIn {
                method: Exit::Leave.method(),
            });
        }
        let me = &caller.identity;
        let note = self.system.message(
            "ul",
            room.id(),
            me.username.as_deref().unwrap_or_default(),
            me.short(),
        );
        self.remove_member(&room, caller.id().to_string(), note, Exit::Leave)
            .await
    }

    /// The room named by `roomId` or `roomName`, of the namespace's type; `groups.*` see
    /// only the private groups the caller belongs to.
    pub(super) fn find_room(&self, kind: Kind, caller: &Caller, room: RoomRef) -> ApiResult<Room> {
        let room = match room {
            RoomRef::Id(id) => self.store.room(&id)?,
            RoomRef::Name(name) => self.store.room_by_name(name.trim_start_matches('#'))?,
        };
        let room = room
            .filter(|r| r.room_type() == kind.room_type())
            .ok_or(ApiError::RoomNotFoundIn(kind))?;
        if kind == Kind::Groups && self.store.subscription(room.id(), caller.id())?.is_none() {
            return Err(ApiError::RoomNotFoundIn(kind));
        }
        Ok(Arc::unwrap_or_clone(room))
    }

    /// The known users among `refs`, each once, in order.
    fn users(&self, refs: Vec<UserRef>) -> ApiResult<Vec<User>> {
        let mut out: Vec<User> = Vec::new();
        for r in refs {
            if let Some(u) = self.directory.find_user(r)? {
                if !out.iter().any(|x| x.id() == u.id()) {
                    out.push(u);
                }
            }
        }
        Ok(out)
    }

    /// Removes `user_id` from `room` unless they are its last owner; `note` reports it.
    async fn remove_member(
        &self,
        room: &Room,
        user_id: String,
        note: SystemMessage,
        exit: Exit,
    ) -> ApiResult<Room> {
        let rid = room.id().to_string();
        let at = time::iso(self.clock.now());
        let outcome = blocking_write(&self.store, move |s| {
            s.remove_member(&rid, &user_id, &at, &note)
        })
        .await?;
        match outcome {
            Some(Removal::Removed(room)) => Ok(room),
            Some(Removal::LastOwner) => Err(ApiError::LastOwner {
                method: exit.method(),
            }),
            Some(Removal::NotMember) | None => Err(match exit {
                Exit::Kick => ApiError::UserNotInRoom,
                Exit::Leave => ApiError::NotInRoom,
            }),
        }
    }
}

/// How a member leaves a room: each way is its own Meteor method, named in its errors.
#[derive(Clone, Copy)]
enum Exit {
    Kick,
    Leave,
}

impl Exit {
    fn method(self) -> &'static str {
        match self {
            Exit::Kick => "removeUserFromRoom",
            Exit::Leave => "leaveRoom",
        }
    }
}
