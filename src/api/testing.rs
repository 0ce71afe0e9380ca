//! rcpush's testing controls, `/api/rcpush/testing/*` (README, "Testing mode"). No login:
//! testing mode serves one test run and must never face a network. Outside testing mode
//! none exists (`in_testing_mode`): every one answers the API's 404.

use actix_web::guard::GuardContext;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::extract::JsonBody;
use super::respond;
use crate::error::{ApiError, ApiResult};
use crate::model::time;
use crate::service::testing::ClockChange;
use crate::service::Services;

/// The guard of the testing scope: outside testing mode its routes do not exist, so that
/// every request there gets the API's 404 before anything reads its body.
pub fn in_testing_mode(ctx: &GuardContext) -> bool {
    ctx.app_data::<web::Data<Services>>()
        .is_some_and(|services| services.testing().testing_mode())
}

/// `GET /api/rcpush/testing/pushes`: `{"pushes":[{transport, path, body}…],"success":true}`.
pub async fn pushes_get(services: web::Data<Services>) -> ApiResult<HttpResponse> {
    let pushes = services.testing().captured_pushes(false)?;
    Ok(respond::success(json!({ "pushes": pushes })))
}

/// `DELETE /api/rcpush/testing/pushes`: empties the list; answers what it held.
pub async fn pushes_delete(services: web::Data<Services>) -> ApiResult<HttpResponse> {
    let pushes = services.testing().captured_pushes(true)?;
    Ok(respond::success(json!({ "pushes": pushes })))
}

/// `POST /api/rcpush/testing/clock` with `{"now": "<ISO date>"}` or `{"advance_ms": N}`:
/// `{"now":"<ISO date>","success":true}`. 400 `InvalidClock` for anything else.
pub async fn clock_post(services: web::Data<Services>, body: JsonBody) -> ApiResult<HttpResponse> {
    let change = match (body.0.get("now"), body.0.get("advance_ms")) {
        (Some(Value::String(at)), None) => time::parse_iso(at).map(ClockChange::Set),
        (None, Some(by)) => by.as_i64().filter(|n| *n >= 0).map(ClockChange::Advance),
        _ => None,
    };
    let now = services
        .testing()
        .change_clock(change.ok_or(ApiError::InvalidClock)?)?;
    Ok(respond::success(json!({ "now": now })))
}

/// `POST /api/rcpush/testing/reset`: back to the state right after start-up.
pub async fn reset_post(services: web::Data<Services>) -> ApiResult<HttpResponse> {
    services.testing().reset().await?;
    Ok(respond::success(json!({})))
}
