//! Every error body rcpush sends, in one catalog (spec §1.3, §3.3, §4).
//!
//! Handlers return `ApiError`; `ResponseError` writes Rocket.Chat's body for it. No handler
//! builds an error body itself.

use std::borrow::Cow;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::store::StoreError;

/// A JSON response with Rocket.Chat's exact headers, for failures and successes alike.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body)
}

/// The 401 text of every authenticated route (spec §0.2).
const LOGGED_IN: &str = "You must be logged in to do this.";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Row A: missing or invalid `X-User-Id` / `X-Auth-Token`.
    #[error("not logged in")]
    NotLoggedIn,
    /// A plain JS `Error(msg)`: 400 `{"success":false,"error":msg}` (rows D–H).
    #[error("{0}")]
    Plain(Cow<'static, str>),
    /// A `Meteor.Error(code, reason, details)`: 400 with `"reason [code]"` and `errorType`.
    #[error("{reason} [{code}]")]
    Meteor {
        code: &'static str,
        reason: Cow<'static, str>,
        details: Option<serde_json::Value>,
    },
    /// 7.x typed-route validation: 400 with `errorType` before `error` (spec §4.3).
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// A route-level permission check failed: 403 `error-unauthorized` (spec §4.2).
    #[error("permission denied")]
    PermissionDenied,
    /// `API.v1.forbidden()`: 403 `{"success":false,"error":"unauthorized"}`.
    #[error("forbidden")]
    Forbidden,
    /// `API.v1.failure()` with no argument: `{"success":false}`.
    #[error("failure")]
    Bare,
    /// `failure(error, errorType)` with free texts in both places.
    #[error("{error}")]
    Typed {
        error: &'static str,
        error_type: &'static str,
    },
    /// Login failed for any reason a client may not learn more about (spec §3.3).
    #[error("login failed")]
    LoginFailed,
    /// Failed-login blocking (spec §0.2), Rocket.Chat's `error-login-blocked-for-*` codes.
    #[error("login blocked ({0})")]
    LoginBlocked(&'static str),
    /// 404 `{"success":false,"error":"Resource not found"}`.
    #[error("not found")]
    NotFound,
    /// 429, with Rocket.Chat's wording.
    #[error("too many requests")]
    TooManyRequests(String),
    /// A fault of ours: opaque 500, cause logged.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn plain(msg: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Plain(msg.into())
    }

    pub fn meteor(code: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Meteor {
            code,
            reason: reason.into(),
            details: None,
        }
    }

    pub fn with_details(self, details: serde_json::Value) -> Self {
        match self {
            ApiError::Meteor { code, reason, .. } => ApiError::Meteor {
                code,
                reason,
                details: Some(details),
            },
            other => other,
        }
    }

    /// `check()` failure for a missing key (row B).
    pub fn missing_key(key: &str) -> Self {
        ApiError::plain(format!("Match error: Missing key '{key}'"))
    }

    /// `check()` failure for a value of the wrong JS type (row C).
    pub fn expected(what: &str, got: &str, key: &str) -> Self {
        ApiError::plain(format!(
            "Match error: Expected {what}, got {got} in field {key}"
        ))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

/// The shapes a failure body can take; field order is the wire order.
#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Failure {
        success: bool,
        error: &'a str,
        #[serde(rename = "errorType", skip_serializing_if = "Option::is_none")]
        error_type: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        details: Option<&'a serde_json::Value>,
    },
    TypedValidation {
        success: bool,
        #[serde(rename = "errorType")]
        error_type: &'a str,
        error: &'a str,
    },
    Bare {
        success: bool,
    },
    /// 7.x 401s carry both the new `success`/`error` and the old `status`/`message` pair.
    Legacy {
        success: bool,
        error: serde_json::Value,
        status: &'a str,
        message: &'a str,
    },
}

fn failure(error: &str) -> Body<'_> {
    Body::Failure {
        success: false,
        error,
        error_type: None,
        details: None,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotLoggedIn | ApiError::LoginFailed | ApiError::LoginBlocked(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Plain(_)
            | ApiError::Meteor { .. }
            | ApiError::InvalidParams(_)
            | ApiError::Bare
            | ApiError::Typed { .. } => StatusCode::BAD_REQUEST,
            ApiError::PermissionDenied | ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
            other => tracing::debug!(error = %other, status = status.as_u16(), "request rejected"),
        }
        let text;
        let body = match self {
            ApiError::NotLoggedIn => Body::Legacy {
                success: false,
                error: LOGGED_IN.into(),
                status: "error",
                message: LOGGED_IN,
            },
            ApiError::LoginFailed => Body::Legacy {
                success: false,
                error: 401.into(),
                status: "error",
                message: "Incorrect login or password",
            },
            ApiError::LoginBlocked(code) => Body::Legacy {
                success: false,
                error: (*code).into(),
                status: "error",
                message: match *code {
                    "error-login-blocked-for-ip" => "Login has been temporarily blocked For IP",
                    _ => "Login has been temporarily blocked For User",
                },
            },
            ApiError::Plain(msg) => failure(msg),
            ApiError::Bare => Body::Bare { success: false },
            ApiError::Typed { error, error_type } => Body::Failure {
                success: false,
                error,
                error_type: Some(error_type),
                details: None,
            },
            ApiError::Meteor {
                code,
                reason,
                details,
            } => {
                // Meteor prints `[code]` alone when an error has no reason.
                text = if reason.is_empty() {
                    format!("[{code}]")
                } else {
                    format!("{reason} [{code}]")
                };
                Body::Failure {
                    success: false,
                    error: &text,
                    error_type: Some(code),
                    details: details.as_ref(),
                }
            }
            ApiError::InvalidParams(msg) => Body::TypedValidation {
                success: false,
                error_type: "invalid-params",
                error: msg,
            },
            ApiError::PermissionDenied => failure(
                "User does not have the permissions required for this action [error-unauthorized]",
            ),
            ApiError::Forbidden => failure("unauthorized"),
            ApiError::NotFound => failure("Resource not found"),
            ApiError::TooManyRequests(msg) => failure(msg),
            ApiError::Internal(_) => failure("Internal server error"),
        };
        json_response(status, serde_json::to_vec(&body).unwrap_or_default())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
