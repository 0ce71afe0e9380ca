//! `channels.*`, `groups.*`, `im.*` / `dm.*`: room creation and membership. Channels and
//! groups share one handler per call, parameterised by `Kind`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::extract::{JsonBody, Query};
use super::query::{Qs, QsValue};
use super::respond;
use crate::error::{ApiError, ApiResult, Violation};
use crate::model::id::{RoomId, UserId};
use crate::model::room::Kind;
use crate::model::Room;
use crate::service::auth::Caller;
use crate::service::directory::{DirectRoom, UserRef};
use crate::service::rooms::{CreateRoom, Members, RoomRef};
use crate::service::Services;

/// `{name, members?, readOnly?, extraData?: {encrypted?}}`.
fn create_body(kind: Kind, body: &JsonBody) -> ApiResult<CreateRoom> {
    let name = match body.0.get("name") {
        Some(Value::String(n)) if !n.is_empty() => n.trim().to_string(),
        _ => return Err(ApiError::NameRequired(kind)),
    };
    if !matches!(body.0.get("members"), None | Some(Value::Array(_))) {
        return Err(ApiError::MembersNotArray);
    }
    Ok(CreateRoom {
        name,
        members: body.opt_strings("members")?,
        read_only: body.opt_bool("readOnly")?.unwrap_or(false),
        encrypted: body
            .0
            .get("extraData")
            .and_then(|extra| extra.get("encrypted"))
            .and_then(Value::as_bool),
    })
}

/// `extraData.teamId`: the team to make the room in, if truthy (as Rocket.Chat tests it);
/// a truthy non-string names no team, so it is refused as one.
fn team_id(body: &JsonBody) -> Option<String> {
    match body.0.get("extraData")?.get("teamId")? {
        Value::Null | Value::Bool(false) => None,
        Value::String(id) if id.is_empty() => None,
        Value::Number(n) if n.as_f64() == Some(0.0) => None,
        Value::String(id) => Some(id.clone()),
        other => Some(other.to_string()),
    }
}

/// `POST channels.create` / `groups.create` → `{channel|group}`.
pub async fn create(
    kind: Kind,
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let room = services
        .rooms()
        .create_room(kind, &caller, team_id(&body), create_body(kind, &body))
        .await?;
    Ok(respond::success(json!({ kind.key(): room })))
}

/// `{username}` or `{usernames:"a,b"}`.
fn direct_body(body: &JsonBody) -> ApiResult<Vec<String>> {
    match (body.opt_string("username")?, body.opt_string("usernames")?) {
        (Some(u), _) => Ok(vec![u.to_string()]),
        (None, Some(list)) => Ok(list
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()),
        (None, None) => Err(ApiError::InvalidParams(Violation::Required("username"))),
    }
}

/// `POST im.create` / `dm.create {username|usernames, excludeSelf?}` →
/// `{"room":{"t":"d","rid","usernames","_id"}}`.
pub async fn im_create(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let exclude_self = body.opt_bool("excludeSelf")?.unwrap_or(false);
    let DirectRoom(room) = services
        .rooms()
        .create_direct(&caller, direct_body(&body)?, exclude_self)
        .await?;
    Ok(respond::success(json!({"room": {
        "t": "d",
        "rid": room.id(),
        "usernames": room.0.get("usernames"),
        "_id": room.id(),
    }})))
}

/// `roomId` or `roomName`.
fn room_ref(body: &JsonBody) -> ApiResult<RoomRef> {
    match (body.opt_string("roomId")?, body.opt_string("roomName")?) {
        (Some(id), _) => Ok(RoomRef::Id(RoomId::new(id))),
        (None, Some(name)) => Ok(RoomRef::Name(name.to_string())),
        (None, None) => Err(ApiError::RoomParamNotProvided),
    }
}

impl TryFrom<JsonBody> for Members {
    type Error = ApiError;

    /// The room, then the users named by `userId`, `username`, `userIds` and `usernames`,
    /// in that order.
    fn try_from(body: JsonBody) -> ApiResult<Members> {
        Ok(Members {
            room: room_ref(&body)?,
            users: user_refs(&body)?,
        })
    }
}

fn user_refs(body: &JsonBody) -> ApiResult<Vec<UserRef>> {
    let mut refs = Vec::new();
    if let Some(id) = body.opt_string("userId")? {
        refs.push(UserRef::Id(UserId::new(id)));
    }
    if let Some(name) = body.opt_string("username")? {
        refs.push(UserRef::Username(name.to_string()));
    }
    refs.extend(
        body.opt_strings("userIds")?
            .into_iter()
            .map(|id| UserRef::Id(UserId::new(id))),
    );
    refs.extend(
        body.opt_strings("usernames")?
            .into_iter()
            .map(UserRef::Username),
    );
    Ok(refs)
}

/// `POST channels.invite` / `groups.invite` → `{channel|group}`.
pub async fn invite(
    kind: Kind,
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let room = services
        .rooms()
        .invite(kind, &caller, body.try_into()?)
        .await?;
    Ok(respond::success(json!({ kind.key(): room })))
}

/// `POST channels.kick` / `groups.kick` → `{channel}` / `{}`.
pub async fn kick(
    kind: Kind,
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let room = services
        .rooms()
        .kick(kind, &caller, body.try_into()?)
        .await?;
    Ok(membership_response(kind, &room))
}

/// `POST channels.leave` / `groups.leave` → `{channel}` / `{}`.
pub async fn leave(
    kind: Kind,
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let room = services
        .rooms()
        .leave(kind, &caller, room_ref(&body)?)
        .await?;
    Ok(membership_response(kind, &room))
}

fn membership_response(kind: Kind, room: &Room) -> HttpResponse {
    match kind {
        Kind::Channels => respond::success(json!({ "channel": room })),
        Kind::Groups => respond::success(json!({})),
    }
}

/// `roomId` (even empty) or else `roomName`, as `findChannelByIdOrName` reads them; neither
/// names no room.
fn room_ref_of(get: impl Fn(&str) -> Option<String>) -> RoomRef {
    match (get("roomId"), get("roomName")) {
        (Some(id), _) => RoomRef::Id(RoomId::new(id)),
        (None, Some(name)) => RoomRef::Name(name),
        (None, None) => RoomRef::Id(RoomId::new(String::new())),
    }
}

fn query_room_ref(q: &Qs) -> RoomRef {
    room_ref_of(|k| match q.get(k) {
        Some(QsValue::Str(s)) => Some(s.to_string()),
        _ => None,
    })
}

fn body_room_ref(body: &JsonBody) -> RoomRef {
    room_ref_of(|k| body.0.get(k).and_then(Value::as_str).map(str::to_string))
}

/// `GET channels.info` / `groups.info` → `{channel|group}`.
pub async fn info(
    kind: Kind,
    services: web::Data<Services>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let room = services
        .rooms()
        .room_info(kind, &caller, query_room_ref(&q))?;
    Ok(respond::success(json!({ kind.key(): room })))
}

/// `POST channels.delete` / `groups.delete` → `{}`.
pub async fn delete(
    kind: Kind,
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    services
        .rooms()
        .erase_room(kind, &caller, body_room_ref(&body))
        .await?;
    Ok(respond::success(json!({})))
}

/// `POST channels.rename {roomId|roomName, name}` → `{channel}`.
pub async fn rename(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let name = match body.0.get("name").and_then(Value::as_str) {
        Some(n) if !n.trim().is_empty() => n.to_string(),
        _ => return Err(ApiError::NameParamRequired),
    };
    let room = services
        .rooms()
        .rename_room(Kind::Channels, &caller, body_room_ref(&body), name)
        .await?;
    Ok(respond::success(json!({ "channel": room })))
}
