//! `POST /api/v1/login`, `POST|GET /api/v1/logout`, `GET /api/v1/me` (spec §3.3–3.5).

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::extract::{client_ip, Caller, JsonBody};
use super::respond;
use crate::error::{ApiError, ApiResult};
use crate::model::{id, time, User};
use crate::rules::credentials::{self, is_sha256_hex, password_digest, token_hash};
use crate::rules::login_throttle::Blocked;
use crate::state::AppState;
use crate::store::LoginToken;

/// Who is logging in, as `loginCompatibility` reads the body.
enum Login<'a> {
    Username(&'a str),
    Email(&'a str),
}

fn login_selector(body: &JsonBody) -> Option<Login<'_>> {
    let field = |k: &str| body.0.get(k).and_then(Value::as_str);
    match body.0.get("user") {
        Some(Value::String(u)) if u.contains('@') => Some(Login::Email(u)),
        Some(Value::String(u)) => Some(Login::Username(u)),
        Some(Value::Object(o)) => o
            .get("username")
            .and_then(Value::as_str)
            .map(Login::Username)
            .or_else(|| o.get("email").and_then(Value::as_str).map(Login::Email)),
        _ => field("username")
            .map(Login::Username)
            .or_else(|| field("email").map(Login::Email)),
    }
}

/// The SHA-256 hex digest the stored hash was made from: clients send the password, or its
/// digest as `{digest, algorithm:"sha-256"}` (or `{hashed}` in the typed clients).
fn password_as_digest(body: &JsonBody) -> Option<String> {
    match body.0.get("password")? {
        Value::String(p) => Some(password_digest(p)),
        Value::Object(o) => {
            let algorithm_ok = o
                .get("algorithm")
                .is_none_or(|a| a.as_str() == Some("sha-256"));
            let digest = o.get("digest").or_else(|| o.get("hashed"))?.as_str()?;
            (algorithm_ok && is_sha256_hex(digest)).then(|| digest.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// `POST /api/v1/login`. Every failure is the same 401, whether or not the user exists.
pub async fn login(
    req: HttpRequest,
    state: actix_web::web::Data<AppState>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let (Some(selector), Some(digest)) = (login_selector(&body), password_as_digest(&body)) else {
        return Err(ApiError::LoginFailed);
    };
    let (name, user_id) = match selector {
        Login::Username(u) => (u, state.store.user_id_by_username(u)?),
        Login::Email(e) => (e, state.store.user_id_by_email(e)?),
    };
    let ip = client_ip(&req);
    let now = time::now_millis();
    let limits = state.throttle_limits;
    state
        .throttle
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .check(name, &ip, now, limits)
        .map_err(|b| {
            ApiError::LoginBlocked(match b {
                Blocked::User => "error-login-blocked-for-user",
                Blocked::Ip => "error-login-blocked-for-ip",
            })
        })?;

    let stored = match &user_id {
        Some(id) => state.store.password_hash(id)?,
        None => None,
    };
    let phc = stored.unwrap_or_else(|| credentials::DUMMY_HASH.to_string());
    let verified = state
        .hash_blocking(move || credentials::verify_password(&digest, &phc))
        .await?;
    let user = match (&user_id, verified) {
        (Some(id), true) => state.store.user(id)?,
        _ => None,
    };
    let Some(user) = user.filter(|u| u.0.get("active") != Some(&Value::Bool(false))) else {
        state
            .throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record_failure(name, &ip, now, limits);
        return Err(ApiError::LoginFailed);
    };
    state
        .throttle
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .record_success(name);

    let token = id::new_secret();
    let record = LoginToken {
        user_id: user.id().to_string(),
        when: time::iso(now),
    };
    let hash = token_hash(&token);
    state
        .write(move |s| s.add_login_token(&hash, &record))
        .await??;
    let mut body = serde_json::to_vec(&json!({
        "status": "success",
        "data": {
            "userId": user.id(),
            "authToken": token,
            "me": user_info(&state, &user)?,
        },
    }))
    .unwrap_or_default();
    respond::append_success(&mut body);
    Ok(respond::json_response(
        actix_web::http::StatusCode::OK,
        body,
    ))
}

/// `POST|GET /api/v1/logout`: forgets the caller's token and the push registrations made
/// with it. The body has no `success` key.
pub async fn logout(
    state: actix_web::web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    let (user_id, hash) = (caller.id().to_string(), caller.token_hash.clone());
    state
        .write(move |s| {
            s.remove_login_token(&hash)?;
            s.delete_push_tokens_of_session(&user_id, &hash)
        })
        .await??;
    Ok(respond::raw(&json!({
        "status": "success",
        "data": {"message": "You've been logged out!"},
    })))
}

/// `GET /api/v1/me`.
pub async fn me(state: actix_web::web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    Ok(respond::success(&user_info(&state, &caller.user(&state)?)?))
}

/// User fields `getDefaultUserFields` lets through to the user themself.
const OWN_FIELDS: &[&str] = &[
    "_id",
    "name",
    "username",
    "nickname",
    "emails",
    "status",
    "statusDefault",
    "statusText",
    "statusConnection",
    "bio",
    "avatarOrigin",
    "utcOffset",
    "language",
    "settings",
    "enableAutoAway",
    "idleTimeLimit",
    "roles",
    "active",
    "defaultRoom",
    "customFields",
    "requirePasswordChange",
    "requirePasswordChangeReason",
    "statusLivechat",
    "banners",
    "_updatedAt",
    "avatarETag",
];

/// `getUserInfo`: the user's own view of their account (login `data.me` and `/me`).
fn user_info(state: &AppState, user: &User) -> ApiResult<Value> {
    let mut me: serde_json::Map<String, Value> = user
        .0
        .iter()
        .filter(|(k, _)| OWN_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(email) = user.verified_email() {
        me.insert("email".into(), email.into());
    }
    let preferences = user
        .0
        .get("settings")
        .and_then(|s| s.get("preferences"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    me.insert(
        "settings".into(),
        json!({"profile": {}, "preferences": preferences}),
    );
    let site = state.settings.string("Site_Url");
    let avatar = format!(
        "{}/avatar/{}",
        site.trim_end_matches('/'),
        user.username().unwrap_or_default()
    );
    me.insert("avatarUrl".into(), avatar.into());
    me.insert("isOAuthUser".into(), false.into());
    let has_password = state.store.password_hash(user.id())?.is_some();
    me.insert(
        "services".into(),
        json!({"password": {"exists": has_password}}),
    );
    Ok(Value::Object(me))
}
