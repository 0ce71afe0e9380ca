//! The method table: every DDP method rcpush serves, by name. An entry parses its typed
//! params (400 `Match failed` on a bad shape), calls one service function and shapes the
//! result as EJSON (`frames::ejson`). The socket and REST `method.call` both call `call`.

use serde_json::Value;

use super::error::MeteorError;
use super::{login, CallContext};

/// Runs `method`: `Ok(Some(result))`, `Ok(None)` when it returns nothing (no `result` key),
/// or its error; an unknown method is the 404 `Method '…' not found`.
pub async fn call(
    ctx: &CallContext<'_>,
    method: &str,
    params: Vec<Value>,
) -> Result<Option<Value>, MeteorError> {
    match method {
        "login" => login::login(ctx, &params).await,
        "logout" => login::logout(ctx).await,
        "stream-notify-room" => ctx.realtime.streams().notify_room(ctx, &params),
        _ => Err(MeteorError::method_not_found(method)),
    }
}
