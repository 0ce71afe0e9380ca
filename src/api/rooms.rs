//! `channels.*`, `groups.*`, `im.*` / `dm.*`: room creation and membership. Channels and
//! groups share one implementation, parameterised by `Kind`.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::access::has_room_permission;
use super::extract::{Caller, JsonBody};
use super::respond;
use crate::error::{ApiError, ApiResult};
use crate::model::room::{new_direct_room, new_group_room};
use crate::model::subscription::{new_direct_subscription, new_group_subscription};
use crate::model::{id, time, Room, RoomType, User};
use crate::state::AppState;
use crate::store::{Conflict, Membership};

/// Which REST namespace a room call came through.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channels,
    Groups,
}

impl Kind {
    fn room_type(self) -> RoomType {
        match self {
            Kind::Channels => RoomType::Channel,
            Kind::Groups => RoomType::Group,
        }
    }

    /// The key the room is returned under.
    fn key(self) -> &'static str {
        match self {
            Kind::Channels => "channel",
            Kind::Groups => "group",
        }
    }

    fn not_found(self) -> ApiError {
        ApiError::meteor(
            "error-room-not-found",
            format!(
                "The required \"roomId\" or \"roomName\" param provided does not match any {}",
                self.key()
            ),
        )
    }
}

/// Rocket.Chat's default `UTF8_Channel_Names_Validation`.
fn valid_room_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `POST channels.create` / `groups.create`: `{name, members?, readOnly?}` → `{channel|group}`.
pub async fn create(
    kind: Kind,
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let roles = caller.roles();
    let (perm, name_missing) = match kind {
        Kind::Channels => ("create-c", "Param \"name\" is required"),
        Kind::Groups => ("create-p", "Body param \"name\" is required"),
    };
    if kind == Kind::Channels && !state.has_permission(perm, &roles) {
        return Err(ApiError::Forbidden);
    }
    let name = match body.0.get("name") {
        Some(serde_json::Value::String(n)) if !n.is_empty() => n.trim().to_string(),
        _ => return Err(ApiError::plain(name_missing)),
    };
    if !matches!(
        body.0.get("members"),
        None | Some(serde_json::Value::Array(_))
    ) {
        return Err(ApiError::plain(
            "Param \"members\" must be an array if provided",
        ));
    }
    let members = body.opt_strings("members")?;
    let read_only = body.opt_bool("readOnly")?.unwrap_or(false);
    if kind == Kind::Groups && !state.has_permission(perm, &roles) {
        return Err(ApiError::meteor("error-not-allowed", "Not allowed")
            .with_details(json!({"method": "createPrivateGroup"})));
    }
    let invalid = |code: &'static str, reason: String| {
        ApiError::meteor(code, reason)
            .with_details(json!({"function": "RocketChat.getValidRoomName", "channel_name": name}))
    };
    if !valid_room_name(&name) {
        return Err(invalid(
            "error-invalid-room-name",
            format!("{name} is not a valid room name"),
        ));
    }

    let owner = caller.user(&state)?;
    let mut users: Vec<User> = vec![owner.clone()];
    for username in &members {
        if let Some(u) = state.store.user_by_username(username)? {
            if !users.iter().any(|x| x.id() == u.id()) {
                users.push(u);
            }
        }
    }
    let now = time::now_millis();
    let room = new_group_room(
        &id::new_id(),
        kind.room_type(),
        &name,
        &owner,
        users.len(),
        read_only,
        now,
    );
    let subs: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, u)| new_group_subscription(&room, u, i == 0, now))
        .collect();
    let stored = room.clone();
    match state
        .write(move |s| s.create_room(&stored, &subs))
        .await??
    {
        Ok(()) => Ok(respond::success(&json!({ kind.key(): room }))),
        Err(_) => Err(invalid(
            "error-duplicate-channel-name",
            format!("A channel with name '{name}' exists"),
        )),
    }
}

/// `POST im.create` / `dm.create`: `{username}` or `{usernames:"a,b"}` →
/// `{"room":{"t":"d","rid","usernames","_id"}}`. An existing DM is returned as it is.
pub async fn im_create(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let names: Vec<String> = match (body.opt_string("username")?, body.opt_string("usernames")?) {
        (Some(u), _) => vec![u.to_string()],
        (None, Some(list)) => list
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        (None, None) => {
            return Err(ApiError::meteor(
                "invalid-params",
                "must have required property 'username'",
            ))
        }
    };
    let invalid_user = || {
        ApiError::meteor("error-invalid-user", "Invalid user")
            .with_details(json!({"method": "createDirectMessage"}))
    };
    let mut members: Vec<User> = vec![caller.user(&state)?];
    for n in &names {
        let u = state.store.user_by_username(n)?.ok_or_else(invalid_user)?;
        if !members.iter().any(|m| m.id() == u.id()) {
            members.push(u);
        }
    }
    members.sort_by(|a, b| a.id().cmp(b.id()));
    let rid = if members.len() == 2 {
        format!("{}{}", members[0].id(), members[1].id())
    } else {
        id::new_id()
    };
    if let Some(existing) = state.store.room(&rid)? {
        return Ok(dm_response(&existing));
    }
    if !state.has_permission("create-d", &caller.roles()) {
        return Err(ApiError::meteor("error-not-allowed", "Not allowed")
            .with_details(json!({"method": "createDirectMessage"})));
    }
    let now = time::now_millis();
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
            let open = m.id() == caller.id() || members.len() > 2;
            new_direct_subscription(&room, m, &others, open, now)
        })
        .collect();
    let stored = room.clone();
    match state
        .write(move |s| s.create_room(&stored, &subs))
        .await??
    {
        Ok(()) | Err(Conflict::Id) => Ok(dm_response(&room)),
        Err(_) => Err(invalid_user()),
    }
}

fn dm_response(room: &Room) -> HttpResponse {
    respond::success(&json!({"room": {
        "t": "d",
        "rid": room.id(),
        "usernames": room.0.get("usernames"),
        "_id": room.id(),
    }}))
}

/// Finds the room named by `roomId` or `roomName`, of the namespace's type.
fn find_room(state: &AppState, kind: Kind, caller: &Caller, body: &JsonBody) -> ApiResult<Room> {
    let room = match (body.opt_string("roomId")?, body.opt_string("roomName")?) {
        (Some(id), _) => state.store.room(id)?,
        (None, Some(name)) => state.store.room_by_name(name.trim_start_matches('#'))?,
        (None, None) => {
            return Err(ApiError::meteor(
                "error-roomid-param-not-provided",
                "The parameter \"roomId\" or \"roomName\" is required",
            ))
        }
    };
    let room = room
        .filter(|r| r.t() == kind.room_type().code())
        .ok_or_else(|| kind.not_found())?;
    // groups.* only see private groups the caller belongs to.
    if kind == Kind::Groups && state.store.subscription(room.id(), caller.id())?.is_none() {
        return Err(kind.not_found());
    }
    Ok(Arc::unwrap_or_clone(room))
}

/// The users named by `userId`, `username`, `userIds` or `usernames`.
fn target_users(state: &AppState, body: &JsonBody) -> ApiResult<Vec<User>> {
    let mut out = Vec::new();
    let mut push = |u: Option<User>| {
        if let Some(u) = u {
            if !out.iter().any(|x: &User| x.id() == u.id()) {
                out.push(u);
            }
        }
    };
    if let Some(id) = body.opt_string("userId")? {
        push(state.store.user(id)?);
    }
    if let Some(name) = body.opt_string("username")? {
        push(state.store.user_by_username(name)?);
    }
    for id in body.opt_strings("userIds")? {
        push(state.store.user(&id)?);
    }
    for name in body.opt_strings("usernames")? {
        push(state.store.user_by_username(&name)?);
    }
    Ok(out)
}

fn not_allowed(method: &str) -> ApiError {
    ApiError::meteor("error-not-allowed", "Not allowed").with_details(json!({ "method": method }))
}

/// `POST channels.invite` / `groups.invite` → `{channel|group}`.
pub async fn invite(
    kind: Kind,
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let room = find_room(&state, kind, &caller, &body)?;
    let users = target_users(&state, &body)?;
    if users.is_empty() {
        return Err(match kind {
            Kind::Channels => ApiError::Typed {
                error: "invalid-user-invite-list",
                error_type: "Cannot invite if no users are provided",
            },
            Kind::Groups => ApiError::meteor(
                "error-empty-invite-list",
                "Cannot invite if no valid users are provided",
            ),
        });
    }
    let any = match kind {
        Kind::Channels => "add-user-to-any-c-room",
        Kind::Groups => "add-user-to-any-p-room",
    };
    let joined = state.store.subscription(room.id(), caller.id())?.is_some();
    if !(has_room_permission(&state, &caller.identity, room.id(), any)?
        || (joined
            && has_room_permission(
                &state,
                &caller.identity,
                room.id(),
                "add-user-to-joined-room",
            )?))
    {
        return Err(not_allowed("addUsersToRoom"));
    }
    let now = time::now_millis();
    let rid = room.id().to_string();
    let updated = state
        .write(move |s| {
            s.change_membership(&rid, |store, mut room| {
                let mut add = Vec::new();
                for u in &users {
                    if store.subscription(room.id(), u.id())?.is_none() {
                        add.push(new_group_subscription(&room, u, false, now));
                    }
                }
                bump_users_count(&mut room, add.len() as i64, now);
                let changes = Membership {
                    room: room.clone(),
                    add,
                    remove: vec![],
                };
                Ok((Some(changes), room))
            })
        })
        .await??
        .ok_or_else(|| kind.not_found())?;
    Ok(respond::success(&json!({ kind.key(): updated })))
}

fn bump_users_count(room: &mut Room, delta: i64, now: time::Millis) {
    let count = room
        .0
        .get("usersCount")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    room.0
        .insert("usersCount".into(), (count + delta).max(0).into());
    room.0.insert("_updatedAt".into(), time::iso(now).into());
}

/// Removes `user` from `room` unless they are its last owner.
async fn remove_member(
    state: &AppState,
    room: &Room,
    user_id: String,
    method: &'static str,
) -> ApiResult<Room> {
    let rid = room.id().to_string();
    let now = time::now_millis();
    enum Outcome {
        Done(Room),
        NotMember,
        LastOwner,
    }
    let outcome = state
        .write(move |s| {
            s.change_membership(&rid, |store, mut room| {
                let Some(sub) = store.subscription(room.id(), &user_id)? else {
                    return Ok((None, Outcome::NotMember));
                };
                if sub.roles().contains(&"owner") {
                    let mut owners = 0;
                    for uid in store.room_member_ids(room.id())? {
                        if let Some(s) = store.subscription(room.id(), &uid)? {
                            owners += s.roles().contains(&"owner") as usize;
                        }
                    }
                    if owners <= 1 {
                        return Ok((None, Outcome::LastOwner));
                    }
                }
                bump_users_count(&mut room, -1, now);
                let changes = Membership {
                    room: room.clone(),
                    add: vec![],
                    remove: vec![user_id],
                };
                Ok((Some(changes), Outcome::Done(room)))
            })
        })
        .await??;
    match outcome {
        Some(Outcome::Done(room)) => Ok(room),
        Some(Outcome::LastOwner) => Err(ApiError::meteor(
            "error-you-are-last-owner",
            "You are the last owner. Please set new owner before leaving the room.",
        )
        .with_details(json!({ "method": method }))),
        Some(Outcome::NotMember) | None => Err(ApiError::meteor(
            "error-user-not-in-room",
            if method == "leaveRoom" {
                "You are not in this room"
            } else {
                "User is not in this room"
            },
        )
        .with_details(json!({ "method": method }))),
    }
}

/// `POST channels.kick` / `groups.kick` → `{channel}` / `{}`.
pub async fn kick(
    kind: Kind,
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let room = find_room(&state, kind, &caller, &body)?;
    if !has_room_permission(&state, &caller.identity, room.id(), "remove-user")? {
        return Err(not_allowed("removeUserFromRoom"));
    }
    let target = target_users(&state, &body)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            ApiError::meteor("error-user-not-in-room", "User is not in this room")
                .with_details(json!({"method": "removeUserFromRoom"}))
        })?;
    let room = remove_member(&state, &room, target.id().to_string(), "removeUserFromRoom").await?;
    Ok(membership_response(kind, &room))
}

/// `POST channels.leave` / `groups.leave` → `{channel}` / `{}`.
pub async fn leave(
    kind: Kind,
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let room = find_room(&state, kind, &caller, &body)?;
    let perm = match kind {
        Kind::Channels => "leave-c",
        Kind::Groups => "leave-p",
    };
    if !state.has_permission(perm, &caller.roles()) {
        return Err(not_allowed("leaveRoom"));
    }
    let room = remove_member(&state, &room, caller.id().to_string(), "leaveRoom").await?;
    Ok(membership_response(kind, &room))
}

fn membership_response(kind: Kind, room: &Room) -> HttpResponse {
    match kind {
        Kind::Channels => respond::success(&json!({ "channel": room })),
        Kind::Groups => respond::success(&json!({})),
    }
}
