//! What every method entry reads from its call: the services' caller for the connection's
//! login, and positional params checked as Meteor's `check()` does (400 `Match failed`).

use serde_json::{json, Map, Value};

use super::super::error::MeteorError;
use super::super::frames::ejson;
use super::super::CallContext;
use crate::error::{ApiError, ApiResult};
use crate::model::time::Millis;
use crate::service::auth::Caller;

/// The logged-in caller, or `error-invalid-user` naming `method` (spec §3.6).
pub fn caller(ctx: &CallContext<'_>, method: &str) -> Result<Caller, MeteorError> {
    let Some(session) = ctx.caller else {
        return Err(MeteorError::invalid_user(method));
    };
    match ctx
        .services
        .auth()
        .session_caller(&session.user_id, &session.token_hash)
    {
        Err(ApiError::NotLoggedIn) => Err(MeteorError::invalid_user(method)),
        done => done.map_err(MeteorError::from),
    }
}

/// `check(params[at], String)`.
pub fn string(params: &[Value], at: usize) -> Result<&str, MeteorError> {
    params
        .get(at)
        .and_then(Value::as_str)
        .ok_or_else(MeteorError::match_failed)
}

/// `check(params[at], Match.Maybe(Boolean))`: absent and `null` are `None`.
pub fn maybe_bool(params: &[Value], at: usize) -> Result<Option<bool>, MeteorError> {
    match params.get(at) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(MeteorError::match_failed()),
    }
}

/// `check(params[at], Object)`.
pub fn object(params: &[Value], at: usize) -> Result<&Map<String, Value>, MeteorError> {
    params
        .get(at)
        .and_then(Value::as_object)
        .ok_or_else(MeteorError::match_failed)
}

/// An EJSON date (`{"$date": ms}`), as incoming params carry one.
pub fn date(v: &Value) -> Option<Millis> {
    let o = v.as_object().filter(|o| o.len() == 1)?;
    let ms = o.get("$date")?.as_f64()?;
    Some(ms as Millis)
}

/// An optional date param: absent or `null` is `None`, a date its time, anything else
/// `Match failed`.
pub fn maybe_date(params: &[Value], at: usize) -> Result<Option<Millis>, MeteorError> {
    match params.get(at) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => date(v).map(Some).ok_or_else(MeteorError::match_failed),
    }
}

/// A `*/get` method (`[since?]`): `list`'s documents as EJSON, or `{update, remove}` of
/// those changed after `since` (rcpush keeps no record of removals: `remove` is empty);
/// `[]` without a login.
pub fn listing(
    ctx: &CallContext<'_>,
    params: &[Value],
    method: &str,
    list: impl FnOnce(&Caller, Option<Millis>) -> ApiResult<Vec<Value>>,
) -> Result<Option<Value>, MeteorError> {
    let since = maybe_date(params, 0)?;
    if ctx.caller.is_none() {
        return Ok(Some(json!([])));
    }
    let docs: Vec<Value> = list(&caller(ctx, method)?, since)?
        .iter()
        .map(ejson)
        .collect();
    Ok(Some(match since {
        Some(_) => json!({"update": docs, "remove": []}),
        None => Value::Array(docs),
    }))
}
