//! `GET /api/v1/push.get` (spec §1, §2): a message and the push notification Rocket.Chat
//! would send for it.

use actix_web::{http::StatusCode, web, HttpResponse};

use super::access::can_read;
use super::extract::{query_string, Caller, Query};
use super::respond;
use crate::error::{ApiError, ApiResult};
use crate::rules::notification::{
    build_notification, MessageView, NotificationSettings, ReceiverView, RoomView, SenderView,
};
use crate::rules::text::{FirstAttachment, Mention};
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
    let sender_not_found = || ApiError::plain("Message sender not found");
    let sender_id = view.sender_id().ok_or_else(sender_not_found)?;
    let sender = state.store.user(&sender_id)?.ok_or_else(sender_not_found)?;
    let sender_doc = view.u.ok_or_else(sender_not_found)?;
    let badge = state.store.badge(caller.id())?;
    let subscription = state.store.subscription(room.id(), caller.id())?;

    let settings = &state.settings;
    let site_url = settings.string("Site_Url");
    let unique_id = settings.string("uniqueID");
    let favicon = settings.favicon_192_url();
    let config = NotificationSettings {
        push_show_username_room: settings.bool("Push_show_username_room"),
        push_show_message: settings.bool("Push_show_message"),
        ui_use_real_name: settings.bool("UI_Use_Real_Name"),
        ui_allow_room_names_with_special_chars: settings
            .bool("UI_Allow_room_names_with_special_chars"),
        site_url: &site_url,
        favicon_192_url: favicon.as_deref(),
        unique_id: &unique_id,
    };
    let mentions: Vec<Mention> = view
        .mentions
        .iter()
        .map(|m| Mention {
            username: m.username.as_deref(),
            name: m.name.as_deref(),
        })
        .collect();
    let first_attachment = view
        .attachments
        .as_ref()
        .and_then(|a| a.first())
        .and_then(FirstAttachment::from_json);
    let muted = room.muted();
    let built = build_notification(
        &config,
        &MessageView {
            id: &view.id,
            rid: &view.rid,
            msg: view.msg.as_deref(),
            t: view.t.as_deref(),
            tmid: view.tmid.as_deref(),
            mentions: &mentions,
            first_attachment,
            u_id: &sender_id,
            u: sender_doc,
            content: view.content,
        },
        &RoomView {
            t: room.t(),
            name: room.name(),
            fname: room.fname(),
            prid: room.prid(),
            ro: room.read_only(),
            muted: &muted,
            uids_len: room.uids().len(),
        },
        &ReceiverView {
            username: caller.user.username(),
            subscription_name: subscription.as_ref().and_then(|s| s.name()),
        },
        &SenderView {
            username: sender.username(),
            name: sender.name(),
        },
        badge,
    );
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
