//! The user methods (spec §5.12): `getUserRoles` and the minimal presence,
//! `UserPresence:setDefaultStatus`, `setUserStatus`, `UserPresence:online` and
//! `UserPresence:away`.

use serde_json::{json, Value};

use super::super::error::MeteorError;
use super::super::CallContext;
use super::params;
use crate::rules::presence::Status;

/// `getUserRoles []` (deprecated in 7.x, gone in 8.0): the users holding a public role.
/// rcpush has no public roles (the spec lets it answer `[]`); the login is still required.
pub async fn get_user_roles(
    ctx: &CallContext<'_>,
    _params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    params::caller(ctx, "getUserRoles")?;
    Ok(Some(json!([])))
}

/// `UserPresence:setDefaultStatus [status]`: whether the stored status changed; nothing
/// without a login. Rocket.Chat stores any string; rcpush takes the four statuses only.
pub async fn set_default_status(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    if ctx.caller.is_none() {
        return Ok(None);
    }
    let status = status(params::string(params, 0)?)?;
    let caller = params::caller(ctx, "UserPresence:setDefaultStatus")?;
    let changed = ctx
        .services
        .users()
        .set_status(&caller, Some(status), None)
        .await?;
    Ok(Some(Value::Bool(changed)))
}

/// `setUserStatus [statusType?, statusText?]`: no result. A falsy type leaves the status,
/// a string text (`""` too) replaces the status text.
pub async fn set_user_status(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    let caller = params::caller(ctx, "setUserStatus")?;
    let chosen = match params.first() {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(status(s)?),
        Some(_) => return Err(MeteorError::match_failed()),
    };
    let text = match params.get(1) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(MeteorError::match_failed()),
    };
    ctx.services
        .users()
        .set_status(&caller, chosen, text)
        .await?;
    Ok(None)
}

/// `UserPresence:online []` / `UserPresence:away []`: this connection's own status; whether
/// the user's stored status changed; nothing without a login. Over REST `method.call`
/// there is no connection to mark, so nothing changes.
pub async fn set_connection_status(
    ctx: &CallContext<'_>,
    status: Status,
) -> Result<Option<Value>, MeteorError> {
    let Some(caller) = ctx.caller else {
        return Ok(None);
    };
    let changed = ctx
        .realtime
        .set_connection_status(ctx.conn, &caller.user_id, status)
        .write(ctx.services)
        .await;
    Ok(Some(Value::Bool(changed)))
}

fn status(s: &str) -> Result<Status, MeteorError> {
    Status::parse(s).ok_or_else(MeteorError::match_failed)
}
