//! `GET /api/v1/push.get` (spec §1, §2): a message and the push notification Rocket.Chat
//! would send for it.

use actix_web::{http::StatusCode, web, HttpResponse};

use super::extract::{query_string, Caller, Query};
use super::respond;
use crate::error::{ApiError, ApiResult};
use super::access::can_read;
use crate::rules::notification;
use crate::state::AppState;

/// `GET /api/v1/push.get?id=<message id>`
///
/// Errors, in order (spec §1.3): A 401; B/C `check()` on `id`; E message not found; F room
/// not found; G not allowed (400); H sender not found.
pub async fn push_get(
    state: web::Data<AppState>,
    caller: Caller,
    Query(query): Query,
) -> ApiResult<HttpResponse> {
    let id = query_string(&query, "id")?;
    let message = state
        .store
        .message(id)?
        .ok_or_else(|| ApiError::plain("error-message-not-found"))?;
    let view = message
        .view()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored message {id}: {e}")))?;
    let room = state
        .store
        .room(&view.rid)?
        .ok_or_else(|| ApiError::plain("error-room-not-found"))?;
    if !can_read(&state, &caller.user, &room)? {
        return Err(ApiError::plain("error-not-allowed"));
    }
    let sender = match view.sender_id() {
        Some(sid) => state.store.user(&sid)?,
        None => None,
    }
    .ok_or_else(|| ApiError::plain("Message sender not found"))?;
    let badge = state.store.badge(caller.id())?;
    let subscription = state.store.subscription(room.id(), caller.id())?;

    let settings = notification_settings(&state);
    let built = notification::build_notification(&notification::Input {
        settings: &settings,
        message: &view,
        room: &room,
        receiver: &caller.user,
        receiver_subscription: subscription.as_ref(),
        sender: &sender,
        badge,
    });
    let notification = serde_json::to_string(&built)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("notification: {e}")))?;

    let raw = message.raw().get();
    let mut body = Vec::with_capacity(raw.len() + notification.len() + 64);
    body.extend_from_slice(br#"{"data":{"message":"#);
    body.extend_from_slice(raw.as_bytes());
    body.extend_from_slice(br#","notification":"#);
    body.extend_from_slice(notification.as_bytes());
    body.extend_from_slice(b"}}");
    respond::append_success(&mut body);
    Ok(respond::json_response(StatusCode::OK, body))
}

fn notification_settings(state: &AppState) -> notification::Settings {
    let s = &state.settings;
    notification::Settings {
        push_show_username_room: s.bool("Push_show_username_room"),
        push_show_message: s.bool("Push_show_message"),
        ui_use_real_name: s.bool("UI_Use_Real_Name"),
        ui_allow_room_names_with_special_chars: s.bool("UI_Allow_room_names_with_special_chars"),
        site_url: s.string("Site_Url"),
        favicon_192_url: s.favicon_192_url(),
        unique_id: s.string("uniqueID"),
    }
}
