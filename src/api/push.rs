//! `GET /api/v1/push.get` (spec §1, §2): a message and the push notification Rocket.Chat
//! would send for it.

use actix_web::{http::StatusCode, web, HttpResponse};

use super::access::can_read;
use serde_json::{json, Value};

use super::extract::{query_string, Caller, JsonBody, Query};
use super::respond;
use crate::error::{ApiError, ApiResult};
use crate::model::id::new_id;
use crate::model::push_token::Service;
use crate::model::time;
use crate::notify::{needs_receiver_subscription, with_notification, Parts};
use crate::rules::push::{test_push_body, Target};
use crate::state::AppState;
use crate::store::{PendingPush, Registration};

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
    if !can_read(&state, &caller.identity, &room)? {
        return Err(ApiError::plain("error-not-allowed"));
    }
    let sender_not_found = || ApiError::plain("Message sender not found");
    let sender_id = view.sender_id().ok_or_else(sender_not_found)?;
    let sender = state
        .store
        .user_names(&sender_id)?
        .ok_or_else(sender_not_found)?;
    let sender_doc = view.u.ok_or_else(sender_not_found)?;
    let badge = state.store.badge(caller.id())?;
    let subscription = match needs_receiver_subscription(&room) {
        true => state.store.subscription(room.id(), caller.id())?,
        false => None,
    };

    let settings = state.settings.notify();
    let parts = Parts {
        message: &view,
        sender_doc,
        sender_id: &sender_id,
        sender: &sender,
        room: &room,
        receiver: &caller.identity,
        receiver_subscription: subscription.as_ref(),
        badge,
    };
    let notification = with_notification(&settings, &parts, |n| serde_json::to_string(n))
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

/// `POST /api/v1/push.token {id?, type, value, appName}` → `{result}`: registers a device
/// (7.x checks and messages, in their order; spec §5.5).
pub async fn push_token_post(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let field = |k: &str| body.0.get(k).filter(|v| truthy(v));
    let id = match field("id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::meteor(
                "error-id-param-not-valid",
                "The required \"id\" body param is invalid.",
            ))
        }
    };
    let service = field("type")
        .and_then(Value::as_str)
        .and_then(Service::parse)
        .ok_or_else(|| {
            ApiError::meteor(
                "error-type-param-not-valid",
                "The required \"type\" body param is missing or invalid.",
            )
        })?;
    let value = field("value").and_then(Value::as_str).ok_or_else(|| {
        ApiError::meteor(
            "error-token-param-not-valid",
            "The required \"value\" body param is missing or invalid.",
        )
    })?;
    let app_name = field("appName").and_then(Value::as_str).ok_or_else(|| {
        ApiError::meteor(
            "error-appName-param-not-valid",
            "The required \"appName\" body param is missing or invalid.",
        )
    })?;
    let (id, value, app_name) = (
        id.unwrap_or_else(new_id),
        value.to_string(),
        app_name.to_string(),
    );
    let (user_id, hash) = (caller.id().to_string(), caller.token_hash.clone());
    let result = state
        .write(move |s| {
            s.register_push_token(&Registration {
                id: &id,
                service,
                value: &value,
                app_name: &app_name,
                auth_token_hash: &hash,
                user_id: &user_id,
                now: time::now_millis(),
            })
        })
        .await??;
    Ok(respond::success(&json!({ "result": result })))
}

/// JavaScript truthiness, as the route's `if (!value)` tests read it.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `DELETE /api/v1/push.token {token}`: removes the caller's registrations of a device
/// token; 404 when there were none.
pub async fn push_token_delete(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let token = match body.0.get("token") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => {
            return Err(ApiError::meteor(
                "error-token-param-not-valid",
                "The required \"token\" body param is missing or invalid.",
            ))
        }
    };
    let user_id = caller.id().to_string();
    let removed = state
        .write(move |s| s.delete_push_tokens_of_user_by_value(&user_id, &token))
        .await??;
    if removed == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(respond::success(&json!({})))
}

/// The gateway a fresh Rocket.Chat uses (`Push_gateway`'s package value).
const DEFAULT_GATEWAY: &str = "https://gateway.rocket.chat";

/// `GET /api/v1/push.info` → `{pushGatewayEnabled, defaultPushGateway}`. As in Rocket.Chat,
/// `pushGatewayEnabled` reports `Push_enable`.
pub async fn push_info(state: web::Data<AppState>, _caller: Caller) -> ApiResult<HttpResponse> {
    Ok(respond::success(&json!({
        "pushGatewayEnabled": state.settings.value("Push_enable"),
        "defaultPushGateway": state.settings.string("Push_gateway") == DEFAULT_GATEWAY,
    })))
}

/// `push.test` allows one call per second per user (its `rateLimiterOptions`).
const PUSH_TEST_INTERVAL_MS: i64 = 1000;

/// `POST /api/v1/push.test` → `{tokensCount}`: sends a test push to each of the caller's
/// devices.
pub async fn push_test(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let roles = caller.roles();
    if !state.has_permission("api-bypass-rate-limit", &roles) {
        let now = time::now_millis();
        let mut last = state.push_tests.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(prev) = last
            .get(caller.id())
            .filter(|t| now - **t < PUSH_TEST_INTERVAL_MS)
        {
            let wait = (PUSH_TEST_INTERVAL_MS - (now - prev) + 999) / 1000;
            return Err(ApiError::TooManyRequests(format!(
                "Error, too many requests. Please slow down. You must wait {wait} seconds before trying this endpoint again. [error-too-many-requests]"
            )));
        }
        last.insert(caller.id().to_string(), now);
    }
    if !state.has_permission("test-push-notifications", &roles) {
        return Err(ApiError::PermissionDenied);
    }
    let method = json!({"method": "push_test"});
    if state.settings.value("Push_enable") != Value::Bool(true) {
        return Err(
            ApiError::meteor("error-push-disabled", "Push is disabled").with_details(method)
        );
    }
    let tokens = state.store.push_tokens_of_user(caller.id())?;
    if tokens.is_empty() {
        return Err(ApiError::meteor(
            "error-no-tokens-for-this-user",
            "There are no tokens for this user",
        )
        .with_details(method));
    }
    if state.settings.bool("Push_enable_gateway") {
        let now = time::now_millis();
        let created_at = time::iso(now);
        let unique_id = state.settings.string("uniqueID");
        let username = caller.identity.username.as_deref().unwrap_or_default();
        let pushes: Vec<PendingPush> = tokens
            .iter()
            .filter_map(|t| {
                let (service, device_token) = t.device()?;
                let target = Target {
                    receiver_id: caller.id(),
                    apn_topic: (service == Service::Apn).then(|| t.app_name()),
                    device_token,
                };
                Some(PendingPush {
                    id: new_id(),
                    service: service.code().into(),
                    token: device_token.into(),
                    body: test_push_body(username, target, &unique_id, &created_at),
                    user_id: caller.id().into(),
                    attempts: 0,
                    due: now,
                })
            })
            .collect();
        let n = pushes.len();
        state.write(move |s| s.enqueue_pushes(&pushes)).await??;
        state.delivery.queued(n);
    }
    Ok(respond::success(&json!({ "tokensCount": tokens.len() })))
}
