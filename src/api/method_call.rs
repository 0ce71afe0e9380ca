//! `POST /api/v1/method.call/:method` and `method.callAnon/:method`: a DDP method over REST,
//! through the realtime API's method table. The body's `message` is a DDP `method` frame as
//! a string; the answer's `message` is the `result` frame as a string (Rocket.Chat
//! `misc.ts`: an error is a 200 too, inside the frame). The method named in the frame runs,
//! whatever the path says, as in Rocket.Chat.

use std::hash::BuildHasher;
use std::net::IpAddr;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::extract::{client_ip, JsonBody};
use super::respond;
use crate::error::{ApiError, ApiResult, Violation};
use crate::realtime::rate_limit::Call as Counted;
use crate::realtime::{frames, methods, CallContext, Caller, ConnId, Realtime};
use crate::rules::ddp_rate::CallKind;
use crate::service::auth;
use crate::service::Services;

/// `POST /api/v1/method.call/:method`: as the authenticated caller.
pub async fn method_call(
    req: HttpRequest,
    services: web::Data<Services>,
    hub: web::Data<Realtime>,
    caller: auth::Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let caller = Caller {
        user_id: caller.id().to_string(),
        token_hash: caller.token_hash.as_str().to_string(),
    };
    invoke(&req, &services, &hub, Some(&caller), body).await
}

/// `POST /api/v1/method.callAnon/:method`: without a user.
pub async fn method_call_anon(
    req: HttpRequest,
    services: web::Data<Services>,
    hub: web::Data<Realtime>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    invoke(&req, &services, &hub, None, body).await
}

/// The DDP method frame of the body: `(id, method, params)`.
fn parse(body: JsonBody) -> ApiResult<(String, String, Vec<Value>)> {
    let mut body = body.0;
    let message = match body.remove("message") {
        Some(Value::String(m)) => m,
        Some(_) => return Err(ApiError::InvalidParams(Violation::NotString)),
        None => return Err(ApiError::InvalidParams(Violation::Required("message"))),
    };
    if !body.is_empty() {
        return Err(ApiError::InvalidParams(Violation::AdditionalProperties));
    }
    let Ok(Value::Object(mut frame)) = serde_json::from_str::<Value>(&message) else {
        return Err(ApiError::InvalidMethodCall);
    };
    let is_method = frame.get("msg").and_then(Value::as_str) == Some("method");
    match (
        is_method,
        frame.remove("id"),
        frame.remove("method"),
        frame.remove("params"),
    ) {
        (
            true,
            Some(Value::String(id)),
            Some(Value::String(method)),
            Some(Value::Array(params)),
        ) => Ok((id, method, params)),
        _ => Err(ApiError::InvalidMethodCall),
    }
}

async fn invoke(
    req: &HttpRequest,
    services: &Services,
    hub: &Realtime,
    caller: Option<&Caller>,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let (id, method, params) = parse(body)?;
    let ip: IpAddr = client_ip(req)
        .parse()
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    // Rocket.Chat counts REST calls under a connection of the token, or of the address.
    let conn = rest_connection(caller.map_or(ip.to_string(), |c| c.token_hash.clone()));
    let counted = Counted {
        kind: CallKind::Method,
        name: &method,
        conn,
        user_id: caller.map(|c| c.user_id.as_str()),
        ip,
    };
    let allowed = match hub.config().rate_limit {
        true => hub.limiter().check(&counted, services.clock().now()),
        false => Ok(()),
    };
    let outcome = match allowed {
        Ok(()) => {
            let ctx = CallContext {
                services,
                conn,
                caller,
                ip,
                session: None,
                realtime: hub,
            };
            methods::call(&ctx, &method, params).await
        }
        Err(refused) => Err(refused),
    };
    let frame = frames::result_value(&id, &outcome);
    Ok(respond::success(json!({ "message": frame.to_string() })))
}

/// The rate limiter's connection for a REST caller: a fixed hash of its key, in a range
/// socket ids (counted up from 1) never reach.
fn rest_connection(key: String) -> ConnId {
    let hash = foldhash::fast::FixedState::with_seed(0).hash_one(key);
    ConnId(hash | 1 << 63)
}
