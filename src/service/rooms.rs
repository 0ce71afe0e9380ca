//! Rooms and their members: `channels.*`, `groups.*` (one implementation, by `Kind`),
//! `im.create` / `dm.create`.

use std::sync::Arc;

use super::auth::Caller;
use super::users::UserRef;
use super::Services;
use crate::error::{ApiError, ApiResult};
use crate::model::id::RoomId;
use crate::model::message::new_system_message;
use crate::model::room::Kind;
use crate::model::room::{new_direct_room, new_group_room};
use crate::model::subscription::{
    new_direct_subscription, new_group_subscription, new_joined_subscription,
};
use crate::model::{time, Room, User};
use crate::rules::names::{display_order, valid_name};
use crate::store::{Conflict, Removal, SystemMessage};

/// `channels.create` / `groups.create`'s body, its types checked.
pub struct CreateRoom {
    pub name: String,
    pub members: Vec<String>,
    pub read_only: bool,
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

/// A DM as `im.create` answers it.
pub struct DirectRoom(pub Room);

impl Services {
    /// `channels.create` / `groups.create`: the room with the caller as owner. `create` is
    /// the body as parsed: channels check the permission before the body, groups after it,
    /// as in Rocket.Chat.
    pub async fn create_room(
        &self,
        kind: Kind,
        caller: &Caller,
        create: ApiResult<CreateRoom>,
    ) -> ApiResult<Room> {
        let roles = caller.identity.roles();
        let permitted = |permission| self.has_permission(permission, &roles);
        if kind == Kind::Channels && !permitted("create-c") {
            return Err(ApiError::Forbidden);
        }
        let create = create?;
        if kind == Kind::Groups && !permitted("create-p") {
            return Err(ApiError::NotAllowedIn {
                method: "createPrivateGroup",
            });
        }
        let name = create.name;
        if !valid_name(&name) {
            return Err(ApiError::InvalidRoomName(name));
        }
        let owner = self.caller_user(caller)?;
        let mut users: Vec<User> = vec![owner.clone()];
        for username in &create.members {
            if let Some(u) = self.store.user_by_username(username)? {
                if !users.iter().any(|x| x.id() == u.id()) {
                    users.push(u);
                }
            }
        }
        let now = self.now();
        let room = new_group_room(
            &self.ids.id(),
            kind.room_type(),
            &name,
            &owner,
            users.len(),
            create.read_only,
            now,
        );
        let subs: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(i, u)| new_group_subscription(&room, u, i == 0, now, &self.ids))
            .collect();
        let stored = room.clone();
        match self.write(move |s| s.create_room(&stored, &subs)).await? {
            Ok(()) => Ok(room),
            Err(_) => Err(ApiError::DuplicateChannelName(name)),
        }
    }

    /// `im.create` / `dm.create`: the DM between the caller and `usernames` (without the
    /// caller when `exclude_self`); an existing one is returned as it is. Members are listed
    /// in Rocket.Chat's order, by display name (`name`, else `username`).
    pub async fn create_direct(
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
        if !self.has_permission("create-d", &caller.identity.roles()) {
            return Err(ApiError::NotAllowedIn {
                method: "createDirectMessage",
            });
        }
        members.sort_by(|a, b| display_order(display_name(a), display_name(b)));
        let all_open = exclude_self
            && self.has_permission("view-room-administration", &caller.identity.roles());
        let now = self.now();
        let refs: Vec<&User> = members.iter().collect();
        let room = new_direct_room(&rid, &refs, now);
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
        match self.write(move |s| s.create_room(&stored, &subs)).await? {
            Ok(()) | Err(Conflict::Id) => Ok(DirectRoom(room)),
            Err(_) => Err(ApiError::InvalidUser),
        }
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
        let now = self.now();
        // `au`: the added user's name, by the inviter (`_id` and `username` only).
        let inviter = serde_json::json!({"_id": user.id, "username": user.username});
        let subs = users
            .iter()
            .map(|u| {
                let added = u.username().unwrap_or_default();
                let note = self.system_message("au", room.id(), added, inviter.clone());
                Ok((new_joined_subscription(&room, u, now, &self.ids), note))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let rid = room.id().to_string();
        self.write(move |s| s.add_members(&rid, &subs, &time::iso(now)))
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
        let note = self.system_message(
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
        if !self.has_permission(permission, &caller.identity.roles()) {
            return Err(ApiError::NotAllowedIn {
                method: Exit::Leave.method(),
            });
        }
        let me = &caller.identity;
        let note = self.system_message(
            "ul",
            room.id(),
            me.username.as_deref().unwrap_or_default(),
            me.short(),
        );
        self.remove_member(&room, caller.id().to_string(), note, Exit::Leave)
            .await
    }

    /// The caller's whole user document, for the calls that copy it into new documents.
    fn caller_user(&self, caller: &Caller) -> ApiResult<User> {
        self.store.user(caller.id())?.ok_or(ApiError::NotLoggedIn)
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
            if let Some(u) = self.find_user(r)? {
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
        let at = time::iso(self.now());
        let outcome = self
            .write(move |s| s.remove_member(&rid, &user_id, &at, &note))
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

/// A system message of type `t` in room `rid`: `msg` is the user or name it is about, `u`
/// who did it.
impl Services {
    pub(super) fn system_message(
        &self,
        t: &str,
        rid: &str,
        msg: &str,
        u: serde_json::Value,
    ) -> SystemMessage {
        let (id, doc) = new_system_message(t, rid, msg, u, self.now(), &self.ids);
        SystemMessage::new(id, doc)
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

/// What Rocket.Chat sorts DM members by: `name`, else `username`.
fn display_name(user: &User) -> &str {
    user.name()
        .filter(|n| !n.is_empty())
        .or(user.username())
        .unwrap_or_default()
}
