//! `POST /api/v1/users.create`, `GET /api/v1/users.info`.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::extract::{JsonBody, Query};
use super::query::QsValue;
use super::respond;
use crate::error::{ApiError, ApiResult, Violation};
use crate::model::id::UserId;
use crate::service::auth::Caller;
use crate::service::directory::UserRef;
use crate::service::users::CreateUser;
use crate::service::Services;

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

impl TryFrom<JsonBody> for CreateUser {
    type Error = ApiError;

    /// `{email, name, password, username, roles?, active?, verified?,
    /// requirePasswordChange?}`: required keys, then unknown keys, then types.
    fn try_from(body: JsonBody) -> ApiResult<CreateUser> {
        for required in ["email", "name", "password", "username"] {
            if !body.0.contains_key(required) {
                return Err(ApiError::InvalidParams(Violation::Required(required)));
            }
        }
        if let Some(extra) = body.0.keys().find(|k| !CREATE_KEYS.contains(&k.as_str())) {
            tracing::debug!(key = %extra, "users.create: unknown property");
            return Err(ApiError::InvalidParams(Violation::AdditionalProperties));
        }
        Ok(CreateUser {
            email: body.string("email")?.to_string(),
            name: body.string("name")?.to_string(),
            password: body.string("password")?.to_string(),
            username: body.string("username")?.to_string(),
            roles: body.opt_strings("roles")?,
            verified: body.opt_bool("verified")?,
            active: body.opt_bool("active")?,
            require_password_change: body.opt_bool("requirePasswordChange")?,
            join_default_channels: body.opt_bool("joinDefaultChannels")?.unwrap_or(true),
        })
    }
}

/// `POST /api/v1/users.create` (admin) → `{user}`.
pub async fn users_create(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let user = services
        .users()
        .create_user(&caller, CreateUser::try_from(body)?)
        .await?;
    Ok(respond::success(json!({ "user": user })))
}

/// `GET /api/v1/users.info?userId=…|username=…` → `{user}`.
pub async fn users_info(
    services: web::Data<Services>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let param = |k: &str| match q.get(k) {
        Some(QsValue::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    let who = match (param("userId"), param("username")) {
        (Some(id), _) => UserRef::Id(UserId::new(id)),
        (None, Some(name)) => UserRef::Username(name),
        (None, None) => return Err(ApiError::UserParamRequired),
    };
    let include_rooms = param("includeUserRooms").as_deref() == Some("true");
    let user = services.users().user_info_of(&caller, who, include_rooms)?;
    Ok(respond::success(json!({ "user": user })))
}
