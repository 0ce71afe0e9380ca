//! `permissions.listAll`, `permissions.update`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::extract::{expected, JsonBody, Query};
use super::query::QsValue;
use super::respond;
use crate::error::{ApiError, ApiResult, Violation};
use crate::model::time;
use crate::service::auth::Caller;
use crate::service::permissions::PermissionChange;
use crate::service::Services;

/// `GET permissions.listAll[?updatedSince=ISO]` → `{update:[{_id, roles, _updatedAt}], remove:[]}`.
pub async fn permissions_list_all(
    services: web::Data<Services>,
    _caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let since = match q.get("updatedSince") {
        None => None,
        Some(QsValue::Str(s)) if s.is_empty() => None,
        Some(QsValue::Str(s)) => {
            Some(time::parse_iso(s).ok_or(ApiError::InvalidPermissionsUpdatedSince)?)
        }
        Some(other) => return Err(expected("string", other.js_type(), "updatedSince")),
    };
    let update = services.settings().permission_list(since);
    Ok(respond::success(json!({"update": update, "remove": []})))
}

/// `{permissions:[{_id, roles:[…]}]}`, checked as the route's schema does.
fn permission_changes(body: &JsonBody) -> ApiResult<Vec<PermissionChange>> {
    if body.0.keys().any(|k| k != "permissions") {
        return invalid(Violation::AdditionalProperties);
    }
    let list = match body.0.get("permissions") {
        None => return invalid(Violation::Required("permissions")),
        Some(Value::Array(list)) => list,
        Some(_) => return invalid(Violation::NotArray),
    };
    list.iter()
        .map(|item| {
            let Value::Object(fields) = item else {
                return invalid(Violation::NotObject);
            };
            for key in ["_id", "roles"] {
                if !fields.contains_key(key) {
                    return invalid(Violation::Required(key));
                }
            }
            if fields.keys().any(|k| k != "_id" && k != "roles") {
                return invalid(Violation::AdditionalProperties);
            }
            let Some(id) = fields["_id"].as_str() else {
                return invalid(Violation::NotString);
            };
            let Value::Array(roles) = &fields["roles"] else {
                return invalid(Violation::NotArray);
            };
            let Some(roles) = roles
                .iter()
                .map(|r| r.as_str().map(str::to_string))
                .collect::<Option<Vec<String>>>()
            else {
                return invalid(Violation::NotString);
            };
            for (later, role) in roles.iter().enumerate().rev() {
                if let Some(earlier) = roles[..later].iter().position(|r| r == role) {
                    return invalid(Violation::DuplicateItems(later, earlier));
                }
            }
            Ok(PermissionChange {
                id: id.to_string(),
                roles,
            })
        })
        .collect()
}

fn invalid<T>(violation: Violation) -> ApiResult<T> {
    Err(ApiError::InvalidParams(violation))
}

/// `POST permissions.update` → `{permissions:[…every permission…]}`.
pub async fn permissions_update(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let changes = permission_changes(&body);
    let permissions = services
        .settings()
        .update_permissions(&caller, changes)
        .await?;
    Ok(respond::success(json!({ "permissions": permissions })))
}
