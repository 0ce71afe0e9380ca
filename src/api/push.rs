//! `push.get` (spec §1, §2), `push.token`, `push.info`, `push.test`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::extract::{query_string, JsonBody, Query};
use super::respond;
use crate::error::{json_response, ApiError, ApiResult};
use crate::model::id::MessageId;
use crate::model::push_token::Service;
use crate::rules::text::js_truthy;
use crate::service::auth::Caller;
use crate::service::push::Device;
use crate::service::Services;

/// `GET /api/v1/push.get?id=<message id>` → `{"data":{"message","notification"},"success":true}`,
/// the message as stored and the notification as the service serialised it, spliced rather
/// than encoded again.
///
/// Errors, in order (spec §1.3): A 401; B/C `check()` on `id`; E message not found; F room
/// not found; G not allowed (400); H sender not found.
pub async fn push_get(
    services: web::Data<Services>,
    caller: Caller,
    Query(query): Query,
) -> ApiResult<HttpResponse> {
    let id = query_string(&query, "id")?;
    let answer = services.push().push_get(&caller, &MessageId::new(id))?;
    let mut body = Vec::with_capacity(answer.size_hint());
    body.extend_from_slice(br#"{"data":{"message":"#);
    body.extend_from_slice(answer.message());
    body.extend_from_slice(br#","notification":"#);
    answer.write_notification(&mut body);
    body.extend_from_slice(br#"},"success":true}"#);
    Ok(json_response(StatusCode::OK, body))
}

impl TryFrom<JsonBody> for Device {
    type Error = ApiError;

    /// `{id?, type, value, appName}`, read as the route's `if (!value)` tests do (7.x checks
    /// and messages, in their order; spec §5.5).
    fn try_from(body: JsonBody) -> ApiResult<Device> {
        let field = |k: &str| body.0.get(k).filter(|v| js_truthy(v));
        let id = match field("id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ApiError::InvalidPushId),
        };
        let service = field("type")
            .and_then(Value::as_str)
            .and_then(Service::parse)
            .ok_or(ApiError::InvalidPushType)?;
        let value = field("value")
            .and_then(Value::as_str)
            .ok_or(ApiError::InvalidPushValue)?;
        let app_name = field("appName")
            .and_then(Value::as_str)
            .ok_or(ApiError::InvalidPushAppName)?;
        Ok(Device {
            id,
            service,
            value: value.to_string(),
            app_name: app_name.to_string(),
        })
    }
}

/// `POST /api/v1/push.token` → `{result}`: registers a device.
pub async fn push_token_post(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let result = services
        .push()
        .register_device(&caller, Device::try_from(body)?)
        .await?;
    Ok(respond::success(json!({ "result": result })))
}

/// `DELETE /api/v1/push.token {token}`.
pub async fn push_token_delete(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let token = match body.0.get("token") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => return Err(ApiError::InvalidPushToken),
    };
    services.push().delete_device(&caller, token).await?;
    Ok(respond::success(json!({})))
}

/// `GET /api/v1/push.info` → `{pushGatewayEnabled, defaultPushGateway}`.
pub async fn push_info(services: web::Data<Services>, _caller: Caller) -> HttpResponse {
    respond::success(services.push().push_info())
}

/// `POST /api/v1/push.test` → `{tokensCount}`.
pub async fn push_test(services: web::Data<Services>, caller: Caller) -> ApiResult<HttpResponse> {
    let count = services.push().push_test(&caller).await?;
    Ok(respond::success(json!({ "tokensCount": count })))
}
