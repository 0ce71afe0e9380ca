//! `subscriptions.get`, `subscriptions.getOne`, `subscriptions.read`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::extract::{Caller, JsonBody, Query};
use super::query::QsValue;
use super::respond;
use crate::error::{ApiError, ApiResult};
use crate::model::time;
use crate::state::AppState;

/// `GET subscriptions.get[?updatedSince=ISO]` → `{update:[…], remove:[]}`.
pub async fn subscriptions_get(
    state: web::Data<AppState>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let since = match q.get("updatedSince") {
        None => None,
        Some(QsValue::Str(s)) => Some(time::parse_iso(s).ok_or_else(|| {
            ApiError::meteor(
                "error-roomId-param-invalid",
                "The \"lastUpdate\" query parameter must be a valid date.",
            )
        })?),
        Some(other) => {
            return Err(ApiError::expected(
                "string",
                other.js_type(),
                "updatedSince",
            ))
        }
    };
    let update: Vec<Value> = state
        .store
        .subscriptions_of_user(caller.id())?
        .into_iter()
        .filter(|s| match since {
            None => true,
            Some(t) => {
                s.0.get("_updatedAt")
                    .and_then(Value::as_str)
                    .and_then(time::parse_iso)
                    .is_some_and(|u| u > t)
            }
        })
        .map(|s| Value::Object(s.0))
        .collect();
    Ok(respond::success(&json!({"update": update, "remove": []})))
}

/// `GET subscriptions.getOne?roomId=` → `{subscription: doc|null}`.
pub async fn subscriptions_get_one(
    state: web::Data<AppState>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let room_id = match q.get("roomId") {
        Some(QsValue::Str(s)) if !s.is_empty() => s,
        _ => return Err(ApiError::plain("The 'roomId' param is required")),
    };
    let sub = state.store.subscription(room_id, caller.id())?;
    Ok(respond::success(&json!({ "subscription": sub })))
}

/// `POST subscriptions.read {rid|roomId}`: marks the room read for the caller.
pub async fn subscriptions_read(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let rid = body
        .opt_string("rid")?
        .or(body.opt_string("roomId")?)
        .ok_or_else(|| ApiError::meteor("invalid-params", "must have required property 'rid'"))?
        .to_string();
    let uid = caller.id().to_string();
    let now = time::iso(time::now_millis());
    let updated = state
        .write(move |s| {
            s.update_subscription(&rid, &uid, |sub| {
                for (k, v) in [
                    ("open", json!(true)),
                    ("alert", json!(false)),
                    ("unread", json!(0)),
                    ("userMentions", json!(0)),
                    ("groupMentions", json!(0)),
                    ("ls", json!(now)),
                    ("_updatedAt", json!(now)),
                ] {
                    sub.0.insert(k.into(), v);
                }
            })
        })
        .await??;
    match updated {
        Some(_) => Ok(respond::success(&json!({}))),
        None => Err(ApiError::plain("error-invalid-subscription")),
    }
}
