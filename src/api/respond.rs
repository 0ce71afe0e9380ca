//! Response envelopes shared by every endpoint (spec §0.1, §4.1).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::{json_response, ApiError};

/// `API.v1.success(obj)`: the object's keys, then `"success":true` as the last key.
#[derive(Serialize)]
struct Success<T> {
    #[serde(flatten)]
    body: T,
    success: bool,
}

pub fn success<T: Serialize>(body: T) -> HttpResponse {
    raw(&Success {
        body,
        success: true,
    })
}

/// A body returned as it is, without the success flag (logout does this).
pub fn raw<T: Serialize>(value: &T) -> HttpResponse {
    match serde_json::to_vec(value) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => ApiError::Internal(e.into()).error_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_is_the_last_key() {
        let body = |v| {
            serde_json::to_string(&Success {
                body: v,
                success: true,
            })
            .unwrap()
        };
        assert_eq!(
            body(serde_json::json!({"data": 1})),
            r#"{"data":1,"success":true}"#
        );
        assert_eq!(body(serde_json::json!({})), r#"{"success":true}"#);
    }
}
