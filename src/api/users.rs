//! `POST /api/v1/users.create`, `GET /api/v1/users.info`.

use actix_web::{web, HttpResponse};
use rand::RngCore;
use serde_json::{json, Value};

use super::extract::{Caller, JsonBody, Query};
use super::query::QsValue;
use super::respond;
use crate::error::{ApiError, ApiResult};
use crate::model::{id, time, user::NewUser, Doc, User};
use crate::rules::credentials::{hash_password, password_digest};
use crate::state::AppState;
use crate::store::Conflict;

/// Rocket.Chat's default `UTF8_User_Names_Validation`.
fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The body keys `users.create` accepts (its schema has `additionalProperties:false`).
const CREATE_KEYS: &[&str] = &[
    "email",
    "name",
    "password",
    "username",
    "active",
    "bio",
    "nickname",
    "statusText",
    "roles",
    "joinDefaultChannels",
    "requirePasswordChange",
    "setRandomPassword",
    "sendWelcomeEmail",
    "verified",
    "customFields",
    "fields",
    "freeSwitchExtension",
    "phones",
];

fn field_error(code: &'static str, reason: String, field: &str) -> ApiError {
    ApiError::meteor(code, reason)
        .with_details(json!({"method": "insertOrUpdateUser", "field": field}))
}

/// `POST /api/v1/users.create` (admin): `{email, name, password, username, roles?, active?,
/// verified?, requirePasswordChange?}` → `{user}`.
pub async fn users_create(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    for required in ["email", "name", "password", "username"] {
        if !body.0.contains_key(required) {
            return Err(ApiError::meteor(
                "invalid-params",
                format!("must have required property '{required}'"),
            ));
        }
    }
    if let Some(extra) = body.0.keys().find(|k| !CREATE_KEYS.contains(&k.as_str())) {
        tracing::debug!(key = %extra, "users.create: unknown property");
        return Err(ApiError::meteor(
            "invalid-params",
            "must NOT have additional properties",
        ));
    }
    let (email, name, password, username) = (
        body.string("email")?,
        body.string("name")?,
        body.string("password")?,
        body.string("username")?,
    );
    if !state.has_permission("create-user", &caller.roles()) {
        return Err(
            ApiError::meteor("error-action-not-allowed", "Adding user is not allowed")
                .with_details(json!({"method": "insertOrUpdateUser", "action": "Adding_user"})),
        );
    }
    if username.trim().is_empty() {
        return Err(field_error(
            "error-the-field-is-required",
            "The field Username is required".into(),
            "Username",
        ));
    }
    if !valid_username(username) {
        return Err(ApiError::meteor(
            "error-input-is-not-a-valid-field",
            format!("{} is not a valid username", escape(username)),
        )
        .with_details(
            json!({"method": "insertOrUpdateUser", "input": username, "field": "Username"}),
        ));
    }
    if password.is_empty() {
        return Err(field_error(
            "error-the-field-is-required",
            "The field Password is required".into(),
            "Password",
        ));
    }
    if !email.contains('@') {
        return Err(ApiError::meteor(
            "error-invalid-email",
            format!("Invalid email {}", escape(email)),
        )
        .with_details(json!({"method": "insertOrUpdateUser", "email": email})));
    }
    let roles = match body.opt_strings("roles")? {
        r if r.is_empty() => vec!["user".to_string()],
        r => r,
    };
    const KNOWN_ROLES: &[&str] = &[
        "admin",
        "user",
        "bot",
        "app",
        "guest",
        "anonymous",
        "livechat-agent",
        "livechat-manager",
        "livechat-monitor",
    ];
    if roles.iter().any(|r| !KNOWN_ROLES.contains(&r.as_str())) {
        return Err(ApiError::meteor(
            "error-action-not-allowed",
            "The field Roles consist invalid role id",
        )
        .with_details(json!({"method": "insertOrUpdateUser", "action": "Assign_role"})));
    }

    let digest = password_digest(password);
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let phc = state
        .hash_blocking(move || hash_password(&digest, &salt))
        .await??;
    let mut user = NewUser {
        id: &id::new_id(),
        username,
        email,
        name,
        roles,
        verified: body.opt_bool("verified")?.unwrap_or(false),
        active: body.opt_bool("active")?.unwrap_or(true),
        now: time::now_millis(),
    }
    .into_doc();
    if let Some(r) = body.opt_bool("requirePasswordChange")? {
        user.0.insert("requirePasswordChange".into(), r.into());
    }
    let stored = user.clone();
    match state
        .write(move |s| s.create_user(&stored, Some(&phc)))
        .await??
    {
        Ok(()) => Ok(respond::success(&json!({ "user": user }))),
        Err(Conflict::Email) => Err(field_error(
            "error-field-unavailable",
            format!("{} is already in use :(", escape(email)),
            email,
        )),
        Err(_) => Err(field_error(
            "error-field-unavailable",
            format!("{} is already in use :(", escape(username)),
            username,
        )),
    }
}

/// lodash `escape`, which Rocket.Chat applies to names it echoes in errors.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Fields hidden from callers without `view-full-other-user-info`.
const PRIVATE_FIELDS: &[&str] = &[
    "avatarOrigin",
    "emails",
    "phone",
    "statusConnection",
    "createdAt",
    "lastLogin",
    "services",
    "requirePasswordChange",
    "requirePasswordChangeReason",
    "roles",
    "statusDefault",
    "_updatedAt",
    "settings",
    "inviteToken",
];

/// `GET /api/v1/users.info?userId=…|username=…` → `{user}`.
pub async fn users_info(
    state: web::Data<AppState>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let param = |k: &str| match q.get(k) {
        Some(QsValue::Str(s)) => Some(s.as_str()),
        _ => None,
    };
    let user: Option<User> = match (param("userId"), param("username")) {
        (Some(id), _) => state.store.user(id)?,
        (None, Some(name)) => state.store.user_by_username(name)?,
        (None, None) => {
            return Err(ApiError::plain(
                "must have required property 'userId'\n must have required property 'username'\n must match exactly one schema in oneOf",
            ))
        }
    };
    let user = user.ok_or_else(|| ApiError::plain("User not found."))?;
    let full = user.id() == caller.id()
        || state.has_permission("view-full-other-user-info", &caller.roles());
    let shown: Doc = user
        .0
        .into_iter()
        .filter(|(k, _)| full || !PRIVATE_FIELDS.contains(&k.as_str()))
        .collect();
    Ok(respond::success(&json!({ "user": Value::Object(shown) })))
}
