//! The subscription methods (spec §5.9, §5.11): `subscriptions/get`, `readMessages`.

use serde_json::Value;

use super::super::error::MeteorError;
use super::super::CallContext;
use super::params;

/// `subscriptions/get [since?]`: the caller's subscriptions, or `{update, remove}` of those
/// changed after `since`; `[]` without a login.
pub async fn subscriptions_get(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    params::listing(ctx, params, "subscriptions/get", |caller, since| {
        let subs = ctx.services.subscriptions().subscriptions(caller, since)?;
        Ok(subs.iter().map(|s| Value::Object(s.0.clone())).collect())
    })
}

/// `readMessages [rid, readThreads?]`: no result.
pub async fn read_messages(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    let rid = params::string(params, 0)?;
    let read_threads = params::maybe_bool(params, 1)?.unwrap_or(false);
    let caller = params::caller(ctx, "readMessages")?;
    ctx.services
        .subscriptions()
        .read_messages(&caller, rid, read_threads)
        .await?;
    Ok(None)
}
