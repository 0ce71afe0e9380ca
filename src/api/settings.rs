//! `GET|POST /api/v1/settings/:_id` (admin), `GET /api/info`.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::extract::JsonBody;
use super::respond;
use crate::error::ApiResult;
use crate::service::auth::Caller;
use crate::service::Services;

/// `GET /api/v1/settings/:_id` → `{_id, value}`; unknown ids give `{"success":false}`.
pub async fn settings_get(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let value = services.settings().setting(&caller, &path)?;
    Ok(respond::success(json!({"_id": *path, "value": value})))
}

/// `POST /api/v1/settings/:_id {value}`.
pub async fn settings_post(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let value = body.0.get("value").cloned();
    services
        .settings()
        .change_setting(&caller, path.into_inner(), value)
        .await?;
    Ok(respond::success(json!({})))
}

/// `GET /api/info`: the version and minimum client versions; the build info for holders of
/// `get-server-info`.
pub async fn info(services: web::Data<Services>, caller: Option<Caller>) -> HttpResponse {
    respond::success(services.settings().server_info(caller.as_ref()))
}
