//! The room methods (spec §5.5–5.8, §5.11): `joinRoom`, `leaveRoom`,
//! `createDirectMessage`, `getRoomIdByNameOrId`, `getRoomNameById`, `rooms/get`.

use serde_json::{json, Value};

use super::super::error::MeteorError;
use super::super::CallContext;
use super::params;

/// `joinRoom [rid, joinCode?]`: `true` when the caller was added, nothing when already a
/// member.
pub async fn join_room(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    let rid = params::string(params, 0)?;
    let caller = params::caller(ctx, "joinRoom")?;
    let added = ctx.services.rooms().join_room(&caller, rid).await?;
    Ok(added.then_some(Value::Bool(true)))
}

/// `leaveRoom [rid]`: no result.
pub async fn leave_room(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    let rid = params::string(params, 0)?;
    let caller = params::caller(ctx, "leaveRoom")?;
    ctx.services.rooms().leave_room(&caller, rid).await?;
    Ok(None)
}

/// `createDirectMessage [...usernames]`: `{t, rid, usernames}` of the new or existing DM.
/// Without a login Rocket.Chat's `check(userId, String)` fails first: `Match failed`.
pub async fn create_direct_message(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    let usernames = params
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect::<Option<Vec<String>>>()
        .ok_or_else(MeteorError::match_failed)?;
    if ctx.caller.is_none() {
        return Err(MeteorError::match_failed());
    }
    let caller = params::caller(ctx, "createDirectMessage")?;
    let room = ctx
        .services
        .rooms()
        .create_direct(&caller, usernames, false)
        .await?
        .0;
    Ok(Some(json!({
        "t": room.t(),
        "rid": room.id(),
        "usernames": room.0.get("usernames").cloned().unwrap_or(json!([])),
    })))
}

/// `getRoomIdByNameOrId [nameOrId]`: the room's `_id`.
pub async fn get_room_id_by_name_or_id(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    let name_or_id = params::string(params, 0)?;
    let caller = params::caller(ctx, "getRoomIdByNameOrId")?;
    let id = ctx
        .services
        .rooms()
        .room_id_by_name_or_id(&caller, name_or_id)?;
    Ok(Some(Value::String(id)))
}

/// `getRoomNameById [rid]`: the room's name; nothing for a DM.
pub async fn get_room_name_by_id(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    let rid = params::string(params, 0)?;
    let caller = params::caller(ctx, "getRoomNameById")?;
    let name = ctx.services.rooms().room_name_by_id(&caller, rid)?;
    Ok(name.map(Value::String))
}

/// `rooms/get [since?]`: the caller's rooms, or `{update, remove}` of those changed after
/// `since`; `[]` without a login.
pub async fn rooms_get(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    params::listing(ctx, params, "rooms/get", |caller, since| {
        let rooms = ctx.services.rooms().rooms_of_caller(caller, since)?;
        Ok(rooms.iter().map(|r| Value::Object(r.0.clone())).collect())
    })
}
