//! `GET /api/rcpush/deliveries`: rcpush's own, no Rocket.Chat counterpart.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::extract::Query;
use super::query::QsValue;
use super::respond;
use crate::error::{ApiError, ApiResult};
use crate::service::auth::Caller;
use crate::service::Services;
use crate::store::{DeliveryFilter, DeliveryStatus};

/// Page size when none is asked for, and the largest (Rocket.Chat's `API_Default_Count` and
/// `API_Upper_Count_Limit`).
const DEFAULT_COUNT: usize = 50;
const MAX_COUNT: usize = 100;

/// `GET /api/rcpush/deliveries[?messageId=&userId=&status=&offset=&count=]` →
/// `{deliveries:[…], count, offset, total}`, newest first. `status` is `sent`, `retrying`,
/// `pruned` or `failed`; anything else, or a bad number, is `Invalid query parameters`.
pub async fn deliveries_get(
    services: web::Data<Services>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let text = |key: &str| match q.get(key) {
        None => Ok(None),
        Some(QsValue::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::InvalidQuery),
    };
    let number = |key: &str, default: usize| match text(key)? {
        None => Ok(default),
        Some(s) => s.parse::<usize>().map_err(|_| ApiError::InvalidQuery),
    };
    let status = match text("status")? {
        None => None,
        Some(s) => Some(DeliveryStatus::parse(&s).ok_or(ApiError::InvalidQuery)?),
    };
    let filter = DeliveryFilter {
        message_id: text("messageId")?,
        user_id: text("userId")?,
        status,
    };
    let offset = number("offset", 0)?;
    let count = number("count", DEFAULT_COUNT)?.min(MAX_COUNT);
    let page = services
        .admin()
        .deliveries(&caller, &filter, offset, count)?;
    Ok(respond::success(json!({
        "deliveries": page.records,
        "count": page.records.len(),
        "offset": offset,
        "total": page.total,
    })))
}
