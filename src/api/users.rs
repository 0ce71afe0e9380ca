//! `POST /api/v1/users.create`, `GET /api/v1/users.info`, `POST /api/v1/users.update`,
//! `POST /api/v1/users.setPreferences`, `GET /api/v1/users.getPreferences`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use super::extract::{JsonBody, Query};
use super::query::QsValue;
use super::respond;
use crate::error::{ApiError, ApiResult, Violation};
use crate::model::id::UserId;
use crate::rules::user_profile::ProfileUpdate;
use crate::service::auth::Caller;
use crate::service::directory::UserRef;
use crate::service::users::{CreateUser, SetPreferences, UpdateUser};
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

/// A property's type in an ajv schema compiled with `coerceTypes: true`; every optional
/// property here is `nullable`.
#[derive(Debug, Clone, Copy)]
enum Ty {
    Str,
    Bool,
    Num,
    Strs,
    Obj,
    /// An array of objects.
    Objs,
}

/// What ajv does with an object against a schema of `properties` (in schema order),
/// `required` and `additionalProperties: false`, stopping at the first error: the
/// required keys, then unknown keys, then each property's type. Values are coerced as
/// ajv coerces them (`1` to `"1"`, `"true"` to `true`, …); `null` stays `null`.
fn ajv_object(
    body: &Map<String, Value>,
    required: &[&'static str],
    properties: &[(&str, Ty)],
) -> Result<Map<String, Value>, Violation> {
    if let Some(missing) = required.iter().find(|k| !body.contains_key(**k)) {
        return Err(Violation::Required(missing));
    }
    if body.keys().any(|k| !properties.iter().any(|(p, _)| p == k)) {
        return Err(Violation::AdditionalProperties);
    }
    let mut checked = Map::new();
    for (key, ty) in properties {
        if let Some(v) = body.get(*key) {
            checked.insert(key.to_string(), coerce(v, *ty)?);
        }
    }
    Ok(checked)
}

/// ajv's `coerceTypes` for one value.
fn coerce(v: &Value, ty: Ty) -> Result<Value, Violation> {
    let as_str = |v: &Value| match v {
        Value::String(_) => Some(v.clone()),
        Value::Number(n) => Some(Value::String(n.to_string())),
        Value::Bool(b) => Some(Value::String(b.to_string())),
        _ => None,
    };
    let coerced = match (ty, v) {
        (_, Value::Null) => Some(Value::Null),
        (Ty::Str, v) => as_str(v),
        (Ty::Bool, Value::Bool(_)) => Some(v.clone()),
        (Ty::Bool, Value::String(s)) if s == "true" || s == "false" => Some((s == "true").into()),
        (Ty::Bool, Value::Number(n)) if n.as_f64() == Some(1.0) || n.as_f64() == Some(0.0) => {
            Some((n.as_f64() == Some(1.0)).into())
        }
        (Ty::Num, Value::Number(_)) => Some(v.clone()),
        (Ty::Num, Value::Bool(b)) => Some(u8::from(*b).into()),
        (Ty::Num, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && !s.trim().is_empty())
            .and_then(|f| match f.fract() == 0.0 && f.abs() < 9.0e15 {
                true => Some(Value::from(f as i64)),
                false => serde_json::Number::from_f64(f).map(Value::Number),
            }),
        (Ty::Strs, Value::Array(items)) => items
            .iter()
            .map(as_str)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        (Ty::Obj, Value::Object(_)) => Some(v.clone()),
        (Ty::Objs, Value::Array(items)) if items.iter().all(Value::is_object) => Some(v.clone()),
        _ => None,
    };
    coerced.ok_or(match ty {
        Ty::Str => Violation::NotString,
        Ty::Bool => Violation::NotBoolean,
        Ty::Num => Violation::NotNumber,
        Ty::Strs | Ty::Objs if !v.is_array() => Violation::NotArray,
        Ty::Strs => Violation::NotString,
        Ty::Obj | Ty::Objs => Violation::NotObject,
    })
}

/// `users.update`'s `data` properties (`UsersUpdateParamsPOST`).
const UPDATE_DATA: &[(&str, Ty)] = &[
    ("email", Ty::Str),
    ("name", Ty::Str),
    ("password", Ty::Str),
    ("username", Ty::Str),
    ("bio", Ty::Str),
    ("nickname", Ty::Str),
    ("statusText", Ty::Str),
    ("active", Ty::Bool),
    ("roles", Ty::Strs),
    ("joinDefaultChannels", Ty::Bool),
    ("requirePasswordChange", Ty::Bool),
    ("setRandomPassword", Ty::Bool),
    ("sendWelcomeEmail", Ty::Bool),
    ("verified", Ty::Bool),
    ("customFields", Ty::Obj),
    ("status", Ty::Str),
];

impl TryFrom<JsonBody> for UpdateUser {
    type Error = ApiError;

    /// `{userId, data: {…}, confirmRelinquish?}`, as ajv checks and coerces it.
    fn try_from(body: JsonBody) -> ApiResult<UpdateUser> {
        let top = [
            ("userId", Ty::Str),
            ("confirmRelinquish", Ty::Bool),
            ("data", Ty::Obj),
        ];
        let body =
            ajv_object(&body.0, &["userId", "data"], &top).map_err(ApiError::InvalidParams)?;
        let user_id = match &body["userId"] {
            Value::String(id) => id.clone(),
            _ => return Err(ApiError::InvalidParams(Violation::NotString)),
        };
        let data = match &body["data"] {
            Value::Object(data) => {
                ajv_object(data, &[], UPDATE_DATA).map_err(ApiError::InvalidParams)?
            }
            _ => return Err(ApiError::InvalidParams(Violation::NotObject)),
        };
        let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
        let flag = |k: &str| data.get(k).and_then(Value::as_bool);
        let roles = data.get("roles").and_then(Value::as_array).map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        });
        Ok(UpdateUser {
            user_id,
            data: ProfileUpdate {
                email: text("email"),
                name: text("name"),
                password: text("password"),
                username: text("username"),
                active: flag("active"),
                bio: text("bio"),
                nickname: text("nickname"),
                status_text: text("statusText"),
                roles,
                require_password_change: flag("requirePasswordChange"),
                set_random_password: flag("setRandomPassword"),
                verified: flag("verified"),
            },
        })
    }
}

/// `POST /api/v1/users.update` (`{userId, data}`) → `{user}`; errors as `saveUser` raises
/// them.
pub async fn users_update(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let user = services
        .users()
        .update_user(&caller, UpdateUser::try_from(body)?)
        .await?;
    Ok(respond::success(json!({ "user": user })))
}

/// `users.setPreferences`' `data` properties (`UsersSetPreferencesParamsPOST`).
const PREFERENCE_DATA: &[(&str, Ty)] = &[
    ("newRoomNotification", Ty::Str),
    ("newMessageNotification", Ty::Str),
    ("clockMode", Ty::Num),
    ("useEmojis", Ty::Bool),
    ("convertAsciiEmoji", Ty::Bool),
    ("alsoSendThreadToChannel", Ty::Str),
    ("saveMobileBandwidth", Ty::Bool),
    ("collapseMediaByDefault", Ty::Bool),
    ("autoImageLoad", Ty::Bool),
    ("emailNotificationMode", Ty::Str),
    ("unreadAlert", Ty::Bool),
    ("notificationsSoundVolume", Ty::Num),
    ("desktopNotifications", Ty::Str),
    ("pushNotifications", Ty::Str),
    ("enableAutoAway", Ty::Bool),
    ("highlights", Ty::Strs),
    ("showThreadsInMainChannel", Ty::Bool),
    ("desktopNotificationRequireInteraction", Ty::Bool),
    ("hideUsernames", Ty::Bool),
    ("hideRoles", Ty::Bool),
    ("displayAvatars", Ty::Bool),
    ("hideFlexTab", Ty::Bool),
    ("sendOnEnter", Ty::Str),
    ("language", Ty::Str),
    ("sidebarShowFavorites", Ty::Bool),
    ("sidebarShowUnread", Ty::Bool),
    ("sidebarSortby", Ty::Str),
    ("sidebarViewMode", Ty::Str),
    ("sidebarDisplayAvatar", Ty::Bool),
    ("sidebarGroupByType", Ty::Bool),
    ("muteFocusedConversations", Ty::Bool),
    ("dontAskAgainList", Ty::Objs),
    ("featuresPreview", Ty::Objs),
    ("themeAppearence", Ty::Str),
    ("fontSize", Ty::Str),
    ("receiveLoginDetectionEmail", Ty::Bool),
    ("notifyCalendarEvents", Ty::Bool),
    ("idleTimeLimitH", Ty::Num),
    ("idleTimeLimitM", Ty::Num),
    ("idleTimeLimitS", Ty::Num),
    ("omnichannelTranscriptEmail", Ty::Bool),
    ("omnichannelTranscriptPDF", Ty::Bool),
    ("omnichannelHideConversationAfterClosing", Ty::Bool),
    ("enableMobileRinging", Ty::Bool),
    ("mentionsWithSymbol", Ty::Bool),
];

impl TryFrom<JsonBody> for SetPreferences {
    type Error = ApiError;

    /// `{userId?, data: {…}}`, as ajv checks and coerces it; `alsoSendThreadToChannel` is
    /// one of `default`, `always`, `never`. Keys sent as `null` are not stored.
    fn try_from(body: JsonBody) -> ApiResult<SetPreferences> {
        let top = [("userId", Ty::Str), ("data", Ty::Obj)];
        let body = ajv_object(&body.0, &["data"], &top).map_err(ApiError::InvalidParams)?;
        let Some(Value::Object(data)) = body.get("data") else {
            return Err(ApiError::InvalidParams(Violation::NotObject));
        };
        let data = ajv_object(data, &[], PREFERENCE_DATA).map_err(ApiError::InvalidParams)?;
        let thread = data.get("alsoSendThreadToChannel").and_then(Value::as_str);
        if thread.is_some_and(|t| !["default", "always", "never"].contains(&t)) {
            return Err(ApiError::InvalidParams(Violation::NotAllowedValue));
        }
        Ok(SetPreferences {
            user_id: body
                .get("userId")
                .and_then(Value::as_str)
                .map(str::to_string),
            data: data.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        })
    }
}

/// `POST /api/v1/users.setPreferences` (`{userId?, data}`) →
/// `{user: {_id, settings: {preferences}}}`.
pub async fn users_set_preferences(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let user = services
        .users()
        .set_preferences(&caller, SetPreferences::try_from(body)?)
        .await?;
    Ok(respond::success(json!({ "user": user })))
}

/// `GET /api/v1/users.getPreferences` → `{preferences}` (the caller's, with `language`).
pub async fn users_get_preferences(
    services: web::Data<Services>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    let preferences = services.users().get_preferences(&caller)?;
    Ok(respond::success(json!({ "preferences": preferences })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ajv_coerces_scalars_as_coerce_types_does() {
        assert_eq!(coerce(&json!(12), Ty::Str), Ok(json!("12")));
        assert_eq!(coerce(&json!(true), Ty::Str), Ok(json!("true")));
        assert_eq!(coerce(&json!("false"), Ty::Bool), Ok(json!(false)));
        assert_eq!(coerce(&json!(1), Ty::Bool), Ok(json!(true)));
        assert_eq!(coerce(&json!("2"), Ty::Num), Ok(json!(2)));
        assert_eq!(coerce(&json!(true), Ty::Num), Ok(json!(1)));
        assert_eq!(coerce(&json!([1, "a"]), Ty::Strs), Ok(json!(["1", "a"])));
        assert_eq!(coerce(&Value::Null, Ty::Bool), Ok(Value::Null));
        assert_eq!(coerce(&json!("yes"), Ty::Bool), Err(Violation::NotBoolean));
        assert_eq!(coerce(&json!(""), Ty::Num), Err(Violation::NotNumber));
        assert_eq!(coerce(&json!({}), Ty::Str), Err(Violation::NotString));
        assert_eq!(coerce(&json!("a"), Ty::Strs), Err(Violation::NotArray));
        assert_eq!(coerce(&json!([{}]), Ty::Strs), Err(Violation::NotString));
        assert_eq!(coerce(&json!([]), Ty::Obj), Err(Violation::NotObject));
    }

    #[test]
    fn ajv_checks_required_then_unknown_then_types() {
        let props = [("a", Ty::Str), ("b", Ty::Bool)];
        let body = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            ajv_object(&body(json!({"x": 1, "b": "no"})), &["a"], &props),
            Err(Violation::Required("a"))
        );
        assert_eq!(
            ajv_object(&body(json!({"a": 1, "x": 1, "b": "no"})), &["a"], &props),
            Err(Violation::AdditionalProperties)
        );
        assert_eq!(
            ajv_object(&body(json!({"a": 1, "b": "true"})), &["a"], &props),
            Ok(body(json!({"a": "1", "b": true})))
        );
    }

    proptest! {
        /// A string is a valid string, a boolean a valid boolean, a number a valid number:
        /// values of the right type pass unchanged.
        #[test]
        fn values_of_the_right_type_pass_unchanged(s in ".*", b: bool, n in -1.0e9f64..1.0e9) {
            prop_assert_eq!(coerce(&json!(s), Ty::Str), Ok(json!(s)));
            prop_assert_eq!(coerce(&json!(b), Ty::Bool), Ok(json!(b)));
            prop_assert_eq!(coerce(&json!(n), Ty::Num), Ok(json!(n)));
        }
    }
}
