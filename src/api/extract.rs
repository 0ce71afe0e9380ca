//! Request extractors: the authenticated caller, JSON bodies and `qs`-style queries.
//! Every rejection is an `ApiError`, so clients always get a Rocket.Chat body.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use serde_json::Value;

use super::json_depth::{too_deep, MaxJsonDepth};
use super::query::Qs;
use crate::config::{DEFAULT_BODY_TIMEOUT_MS, DEFAULT_MAX_JSON_DEPTH};
use crate::error::ApiError;
use crate::model::id::UserId;
use crate::service::auth::Caller;
use crate::service::Services;

fn services(req: &HttpRequest) -> Result<&Services, ApiError> {
    req.app_data::<web::Data<Services>>()
        .map(|d| d.get_ref())
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("services missing")))
}

/// The caller, authenticated by `X-User-Id` + `X-Auth-Token` (spec §3.1).
pub fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    };
    let (Some(user_id), Some(token)) = (header("x-user-id"), header("x-auth-token")) else {
        return Err(ApiError::NotLoggedIn);
    };
    services(req)?
        .auth()
        .authenticate(&UserId::new(user_id), token)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authenticate(req))
    }
}

/// The query string, parsed like `qs`.
pub struct Query(pub Qs);

impl FromRequest for Query {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Query, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            Qs::parse(req.query_string())
                .map(Query)
                .map_err(|_| ApiError::InvalidQuery),
        )
    }
}

/// How long reading a request body may take (`limits.body_timeout_ms`), as app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// A JSON object body. An empty body is `{}`; anything that is not a JSON object, or nests
/// deeper than `limits.max_json_depth`, is a 400; a body not read within
/// `limits.body_timeout_ms` is a 408.
pub struct JsonBody(pub serde_json::Map<String, Value>);

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<JsonBody, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        let max_depth = req
            .app_data::<MaxJsonDepth>()
            .map_or(DEFAULT_MAX_JSON_DEPTH, |d| d.0);
        let timeout = req
            .app_data::<BodyTimeout>()
            .map_or(Duration::from_millis(DEFAULT_BODY_TIMEOUT_MS), |t| t.0);
        Box::pin(async move {
            let bytes = actix_web::rt::time::timeout(timeout, bytes)
                .await
                .map_err(|_| ApiError::BodyTimeout)?
                .map_err(|e| ApiError::UnreadableBody(e.to_string()))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(JsonBody(Default::default()));
            }
            if too_deep(&bytes, max_depth) {
                return Err(ApiError::TooDeep);
            }
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => Ok(JsonBody(map)),
                Ok(_) => Err(ApiError::BodyNotObject),
                Err(_) => Err(ApiError::InvalidJson),
            }
        })
    }
}

/// `check()`-style typed access to body fields.
impl JsonBody {
    /// A required string field.
    pub fn string(&self, key: &str) -> Result<&str, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Err(missing_key(key)),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(expected("string", js_type(other), key)),
        }
    }

    /// An optional string field (absent or null is `None`).
    pub fn opt_string(&self, key: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(expected("string", js_type(other), key)),
        }
    }

    /// An optional list of strings.
    pub fn opt_strings(&self, key: &str) -> Result<Vec<String>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(expected("string", js_type(other), key)),
                })
                .collect(),
            Some(other) => Err(expected("array", js_type(other), key)),
        }
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(expected("boolean", js_type(other), key)),
        }
    }
}

/// `check()` failure for a missing key (row B).
fn missing_key(key: &str) -> ApiError {
    ApiError::MissingKey(key.to_string())
}

/// `check()` failure for a value of the wrong JS type (row C).
pub fn expected(what: &'static str, got: &'static str, key: &str) -> ApiError {
    ApiError::Expected {
        what,
        got,
        key: key.to_string(),
    }
}

/// The name `typeof` would give (arrays and null are objects in JS).
pub fn js_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null | Value::Array(_) | Value::Object(_) => "object",
    }
}

/// A required string query parameter, with `check()`'s errors (spec §1.3 B, C).
pub fn query_string<'a>(q: &'a Qs, key: &str) -> Result<&'a str, ApiError> {
    match q.get(key) {
        None => Err(missing_key(key)),
        Some(super::query::QsValue::Str(s)) => Ok(s),
        Some(other) => Err(expected("string", other.js_type(), key)),
    }
}

/// The client address used for failed-login blocking.
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}
