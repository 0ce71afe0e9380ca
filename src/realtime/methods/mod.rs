//! The method table: every DDP method rcpush serves, by name. An entry parses its typed
//! params (400 `Match failed` on a bad shape), calls one service function and shapes the
//! result as EJSON (`frames::ejson`). The socket and REST `method.call` both call `call`.

mod messages;
mod params;
mod preferences;
mod rooms;
mod subscriptions;
mod users;

use serde_json::Value;

use super::error::MeteorError;
use super::{login, CallContext};
use crate::rules::presence::Status;

/// Runs `method`: `Ok(Some(result))`, `Ok(None)` when it returns nothing (no `result` key),
/// or its error; an unknown method is the 404 `Method '…' not found`.
pub async fn call(
    ctx: &CallContext<'_>,
    method: &str,
    params: Vec<Value>,
) -> Result<Option<Value>, MeteorError> {
    match method {
        "login" => login::login(ctx, &params).await,
        "logout" => login::logout(ctx).await,
        "sendMessage" => messages::send_message(ctx, &params).await,
        "updateMessage" => messages::update_message(ctx, &params).await,
        "setReaction" => messages::set_reaction(ctx, &params).await,
        "loadHistory" => messages::load_history(ctx, &params).await,
        "joinRoom" => rooms::join_room(ctx, &params).await,
        "leaveRoom" => rooms::leave_room(ctx, &params).await,
        "createDirectMessage" => rooms::create_direct_message(ctx, &params).await,
        "getRoomIdByNameOrId" => rooms::get_room_id_by_name_or_id(ctx, &params).await,
        "getRoomNameById" => rooms::get_room_name_by_id(ctx, &params).await,
        "rooms/get" => rooms::rooms_get(ctx, &params).await,
        "subscriptions/get" => subscriptions::subscriptions_get(ctx, &params).await,
        "readMessages" => subscriptions::read_messages(ctx, &params).await,
        "getUserRoles" => users::get_user_roles(ctx, &params).await,
        "UserPresence:setDefaultStatus" => users::set_default_status(ctx, &params).await,
        "UserPresence:online" => users::set_connection_status(ctx, Status::Online).await,
        "UserPresence:away" => users::set_connection_status(ctx, Status::Away).await,
        "setUserStatus" => users::set_user_status(ctx, &params).await,
        "saveUserPreferences" => preferences::save_user_preferences(ctx, &params).await,
        "stream-notify-room" => ctx.realtime.streams().notify_room(ctx, &params),
        _ => Err(MeteorError::method_not_found(method)),
    }
}
