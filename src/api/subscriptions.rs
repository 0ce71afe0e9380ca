//! `subscriptions.get`, `subscriptions.getOne`, `subscriptions.read`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::extract::{expected, JsonBody, Query};
use super::query::QsValue;
use super::respond;
use crate::error::{ApiError, ApiResult, Violation};
use crate::model::id::RoomId;
use crate::model::time;
use crate::service::auth::Caller;
use crate::service::Services;

/// `GET subscriptions.get[?updatedSince=ISO]` → `{update:[…], remove:[]}`.
pub async fn subscriptions_get(
    services: web::Data<Services>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let since = match q.get("updatedSince") {
        None => None,
        Some(QsValue::Str(s)) => Some(time::parse_iso(s).ok_or(ApiError::InvalidUpdatedSince)?),
        Some(other) => return Err(expected("string", other.js_type(), "updatedSince")),
    };
    let update = services.subscriptions().subscriptions(&caller, since)?;
    Ok(respond::success(json!({"update": update, "remove": []})))
}

/// `GET subscriptions.getOne?roomId=` → `{subscription: doc|null}`.
pub async fn subscriptions_get_one(
    services: web::Data<Services>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let room_id = match q.get("roomId") {
        None => return Err(ApiError::InvalidParams(Violation::Required("roomId"))),
        Some(QsValue::Str(s)) if !s.is_empty() => s,
        Some(_) => return Err(ApiError::RoomIdRequired),
    };
    let sub = services
        .subscriptions()
        .subscription(&caller, &RoomId::new(room_id.as_str()))?;
    Ok(respond::success(json!({ "subscription": sub })))
}

/// `POST subscriptions.read {rid|roomId, readThreads?}`: marks the room read for the caller. The body is
/// one of two typed shapes: a non-string id, or two different ids, fit neither.
pub async fn subscriptions_read(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let id = |key| match body.0.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(ApiError::InvalidParams(Violation::NotString)),
    };
    let rid = match (id("rid")?, id("roomId")?) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::InvalidParams(Violation::AdditionalProperties))
        }
        (Some(r), _) | (None, Some(r)) => r.to_string(),
        (None, None) => return Err(ApiError::InvalidParams(Violation::Required("rid"))),
    };
    let read_threads = match body.0.get("readThreads") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::InvalidParams(Violation::NotBoolean)),
    };
    services
        .subscriptions()
        .mark_read(&caller, RoomId::new(rid), read_threads)
        .await?;
    Ok(respond::success(json!({})))
}
