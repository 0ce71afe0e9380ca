//! `GET|POST /api/v1/settings/:_id` (admin), `GET /api/info`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::extract::{Caller, JsonBody};
use super::respond;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The Rocket.Chat release whose REST behaviour rcpush reproduces.
pub const COMPATIBLE_VERSION: &str = "7.10.0";

fn require(state: &AppState, caller: &Caller, permission: &str) -> ApiResult<()> {
    if state.has_permission(permission, &caller.roles()) {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied)
    }
}

/// `GET /api/v1/settings/:_id` → `{_id, value}`; unknown ids give `{"success":false}`.
pub async fn settings_get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    require(&state, &caller, "view-privileged-setting")?;
    let doc = state.settings.get(&path).ok_or(ApiError::Bare)?;
    Ok(respond::success(&json!({
        "_id": doc.get("_id"),
        "value": doc.get("value"),
    })))
}

/// `POST /api/v1/settings/:_id {value}`. The value must keep the setting's JSON type.
pub async fn settings_post(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    require(&state, &caller, "edit-privileged-setting")?;
    let current = state.settings.get(&path).ok_or(ApiError::Bare)?;
    let Some(value) = body.0.get("value").cloned() else {
        return Err(ApiError::Bare);
    };
    let same_type = matches!(
        (current.get("value"), &value),
        (Some(Value::Bool(_)), Value::Bool(_))
            | (Some(Value::String(_)), Value::String(_))
            | (Some(Value::Number(_)), Value::Number(_))
            | (Some(Value::Object(_)), Value::Object(_))
            | (Some(Value::Null) | None, _)
    );
    if !same_type {
        return Err(ApiError::Bare);
    }
    let id = path.into_inner();
    let settings = state.settings.clone();
    state.write(move |_| settings.set(&id, value)).await??;
    Ok(respond::success(&json!({})))
}

/// `GET /api/info`: the version, in full for holders of `get-server-info`.
pub async fn info(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let admin = match super::extract::authenticate(&req) {
        Ok(caller) => state.has_permission("get-server-info", &caller.roles()),
        Err(_) => false,
    };
    if admin {
        return Ok(respond::success(
            &json!({"info": {"version": COMPATIBLE_VERSION}}),
        ));
    }
    let short = COMPATIBLE_VERSION
        .rsplit_once('.')
        .map_or(COMPATIBLE_VERSION, |(a, _)| a);
    Ok(respond::success(&json!({ "version": short })))
}
