//! `POST /api/v1/login`, `POST|GET /api/v1/logout`, `GET /api/v1/me` (spec §3.3–3.5).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::extract::{client_ip, JsonBody};
use super::respond;
use crate::error::{ApiError, ApiResult};
use crate::rules::credentials::{is_sha256_hex, password_digest};
use crate::service::auth::{Caller, LoggedIn, Login};
use crate::service::Services;

/// Who is logging in, as `loginCompatibility` reads the body.
fn login_selector(body: &JsonBody) -> Option<Login> {
    let field = |k: &str| body.0.get(k).and_then(Value::as_str);
    let named = |u: &str| match u.contains('@') {
        true => Login::Email(u.to_string()),
        false => Login::Username(u.to_string()),
    };
    match body.0.get("user") {
        Some(Value::String(u)) => Some(named(u)),
        Some(Value::Object(o)) => o
            .get("username")
            .and_then(Value::as_str)
            .map(|u| Login::Username(u.to_string()))
            .or_else(|| {
                o.get("email")
                    .and_then(Value::as_str)
                    .map(|e| Login::Email(e.to_string()))
            }),
        _ => field("username")
            .map(|u| Login::Username(u.to_string()))
            .or_else(|| field("email").map(|e| Login::Email(e.to_string()))),
    }
}

/// The SHA-256 hex digest the stored hash was made from: clients send the password, or its
/// digest as `{digest, algorithm:"sha-256"}` (or `{hashed}` in the typed clients), taken
/// verbatim as Meteor does: an upper-case digest does not match.
fn password_as_digest(body: &JsonBody) -> Option<String> {
    match body.0.get("password")? {
        Value::String(p) => Some(password_digest(p)),
        Value::Object(o) => {
            let algorithm_ok = o
                .get("algorithm")
                .is_none_or(|a| a.as_str() == Some("sha-256"));
            let digest = o.get("digest").or_else(|| o.get("hashed"))?.as_str()?;
            (algorithm_ok && is_sha256_hex(digest)).then(|| digest.to_string())
        }
        _ => None,
    }
}

/// `POST /api/v1/login` → `{status, data:{userId, authToken, me}, success}`. A body naming no
/// user goes to Meteor's login handlers as it is, where `{resume: token}` logs in again with
/// an existing token (which is returned as the `authToken`).
pub async fn login(
    req: HttpRequest,
    services: web::Data<Services>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let logged_in = match (login_selector(&body), password_as_digest(&body)) {
        (Some(who), Some(digest)) => services.auth().login(who, digest, &client_ip(&req)).await?,
        (None, _) => match body.0.get("resume") {
            Some(Value::String(token)) => services.auth().resume_login(token)?,
            _ => return Err(ApiError::LoginFailed),
        },
        (Some(_), None) => return Err(ApiError::LoginFailed),
    };
    let LoggedIn {
        user_id,
        auth_token,
        me,
    } = logged_in;
    Ok(respond::success(json!({
        "status": "success",
        "data": {"userId": user_id, "authToken": auth_token, "me": me},
    })))
}

/// `POST|GET /api/v1/logout`. The body has no `success` key.
pub async fn logout(services: web::Data<Services>, caller: Caller) -> ApiResult<HttpResponse> {
    services.auth().logout(&caller).await?;
    Ok(respond::raw(&json!({
        "status": "success",
        "data": {"message": "You've been logged out!"},
    })))
}

/// `GET /api/v1/me`.
pub async fn me(services: web::Data<Services>, caller: Caller) -> ApiResult<HttpResponse> {
    Ok(respond::success(services.auth().me(&caller)?))
}
