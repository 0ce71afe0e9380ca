//! `Meteor.Error` as the realtime API sends it in `result` and `nosub` frames (spec §2.7):
//! keys `isClientSafe, error, reason, details, message, errorType`, `reason` and `details`
//! left out when absent, `error` a string or a number as raised.

use serde_json::{json, Map, Value};

use crate::error::ApiError;

/// An error's `error` field: Meteor keeps whatever was raised, a string or a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    Str(String),
    Num(u16),
}

impl ErrorCode {
    fn to_json(&self) -> Value {
        match self {
            ErrorCode::Str(s) => Value::String(s.clone()),
            ErrorCode::Num(n) => Value::from(*n),
        }
    }

    fn text(&self) -> String {
        match self {
            ErrorCode::Str(s) => s.clone(),
            ErrorCode::Num(n) => n.to_string(),
        }
    }
}

/// A client-safe `Meteor.Error`.
#[derive(Debug, Clone, PartialEq)]
pub struct MeteorError {
    pub error: ErrorCode,
    pub reason: Option<String>,
    pub details: Option<Value>,
}

impl MeteorError {
    /// `new Meteor.Error(error, reason)`.
    pub fn new(error: impl Into<String>, reason: impl Into<String>) -> MeteorError {
        MeteorError {
            error: ErrorCode::Str(error.into()),
            reason: Some(reason.into()),
            details: None,
        }
    }

    /// An error with a numeric code (`400`, `401`, `404`, `500`).
    pub fn numeric(code: u16, reason: impl Into<String>) -> MeteorError {
        MeteorError {
            error: ErrorCode::Num(code),
            reason: Some(reason.into()),
            details: None,
        }
    }

    /// `new Meteor.Error(error)`: no reason, so the message is `[error]`.
    pub fn bare(error: impl Into<String>) -> MeteorError {
        MeteorError {
            error: ErrorCode::Str(error.into()),
            reason: None,
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> MeteorError {
        self.details = Some(details);
        self
    }

    /// What a failed `check()` sends: 400 `Match failed`.
    pub fn match_failed() -> MeteorError {
        MeteorError::numeric(400, "Match failed")
    }

    /// What any error that is not client-safe becomes (it is logged where it happens).
    pub fn internal() -> MeteorError {
        MeteorError::numeric(500, "Internal server error")
    }

    /// An unknown method.
    pub fn method_not_found(method: &str) -> MeteorError {
        MeteorError::numeric(404, format!("Method '{method}' not found"))
    }

    /// An unknown publication.
    pub fn subscription_not_found(name: &str) -> MeteorError {
        MeteorError::numeric(404, format!("Subscription '{name}' not found"))
    }

    /// `error-invalid-user` naming the method, for calls that need a login (spec §3.6).
    pub fn invalid_user(method: &str) -> MeteorError {
        MeteorError::new("error-invalid-user", "Invalid user")
            .with_details(json!({ "method": method }))
    }

    /// The DDP rate limiter's refusal (spec §2.8); `time_to_reset_ms` is what is left of
    /// the window, and the message rounds it up to whole seconds.
    pub fn too_many_requests(time_to_reset_ms: u64) -> MeteorError {
        let seconds = time_to_reset_ms.div_ceil(1000);
        MeteorError::new(
            "too-many-requests",
            format!(
                "Error, too many requests. Please slow down. You must wait {seconds} seconds before trying again."
            ),
        )
        .with_details(json!({ "timeToReset": time_to_reset_ms }))
    }

    /// The error object, keys in Meteor's order.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("isClientSafe".into(), Value::Bool(true));
        o.insert("error".into(), self.error.to_json());
        if let Some(reason) = &self.reason {
            o.insert("reason".into(), Value::String(reason.clone()));
        }
        if let Some(details) = &self.details {
            o.insert("details".into(), details.clone());
        }
        o.insert("message".into(), Value::String(self.message()));
        o.insert("errorType".into(), Value::String("Meteor.Error".into()));
        Value::Object(o)
    }

    /// `"<reason> [<error>]"`, or `"[<error>]"` without a reason.
    pub fn message(&self) -> String {
        match &self.reason {
            Some(reason) => format!("{reason} [{}]", self.error.text()),
            None => format!("[{}]", self.error.text()),
        }
    }
}

/// The one mapping from the service errors: a `Meteor.Error` keeps its code, reason and
/// details; anything Rocket.Chat raises otherwise reaches a DDP client as the generic 500
/// (a store failure is logged here, with its cause).
impl From<ApiError> for MeteorError {
    fn from(e: ApiError) -> MeteorError {
        if let ApiError::Internal(cause) = &e {
            tracing::error!(error = %format_args!("{cause:#}"), "realtime call failed");
            return MeteorError::internal();
        }
        match e.meteor_parts() {
            Some((code, reason, details)) => MeteorError {
                error: ErrorCode::Str(code.into()),
                reason: (!reason.is_empty()).then_some(reason),
                details,
            },
            None => {
                tracing::debug!(error = %e, "realtime call rejected with an error DDP sends as 500");
                MeteorError::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(e: &MeteorError) -> String {
        serde_json::to_string(&e.to_json()).unwrap()
    }

    #[test]
    fn error_objects_are_byte_exact_with_the_spec() {
        assert_eq!(
            text(
                &MeteorError::new("error-invalid-user", "Invalid user")
                    .with_details(json!({"method":"sendMessage"}))
            ),
            r#"{"isClientSafe":true,"error":"error-invalid-user","reason":"Invalid user","details":{"method":"sendMessage"},"message":"Invalid user [error-invalid-user]","errorType":"Meteor.Error"}"#
        );
        assert_eq!(
            text(&MeteorError::bare("not-allowed")),
            r#"{"isClientSafe":true,"error":"not-allowed","message":"[not-allowed]","errorType":"Meteor.Error"}"#
        );
        assert_eq!(
            text(&MeteorError::method_not_found("foo")),
            r#"{"isClientSafe":true,"error":404,"reason":"Method 'foo' not found","message":"Method 'foo' not found [404]","errorType":"Meteor.Error"}"#
        );
        assert_eq!(
            text(&MeteorError::match_failed()),
            r#"{"isClientSafe":true,"error":400,"reason":"Match failed","message":"Match failed [400]","errorType":"Meteor.Error"}"#
        );
        assert_eq!(
            text(&MeteorError::internal()),
            r#"{"isClientSafe":true,"error":500,"reason":"Internal server error","message":"Internal server error [500]","errorType":"Meteor.Error"}"#
        );
        assert_eq!(
            text(&MeteorError::too_many_requests(6512)),
            r#"{"isClientSafe":true,"error":"too-many-requests","reason":"Error, too many requests. Please slow down. You must wait 7 seconds before trying again.","details":{"timeToReset":6512},"message":"Error, too many requests. Please slow down. You must wait 7 seconds before trying again. [too-many-requests]","errorType":"Meteor.Error"}"#
        );
    }

    #[test]
    fn service_errors_keep_their_meteor_form_and_others_become_500() {
        let invalid = MeteorError::from(ApiError::InvalidUser);
        assert_eq!(invalid.error, ErrorCode::Str("error-invalid-user".into()));
        assert_eq!(invalid.reason.as_deref(), Some("Invalid user"));
        assert_eq!(
            MeteorError::from(ApiError::NotAllowed),
            MeteorError::internal()
        );
        assert_eq!(
            MeteorError::from(ApiError::Internal(anyhow::anyhow!("disk on fire"))),
            MeteorError::internal()
        );
    }
}
