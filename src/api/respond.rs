//! Response shapes shared by every endpoint (spec §0.1, §4.1).

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use serde::Serialize;

/// A JSON response with Rocket.Chat's exact headers.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body)
}

/// `API.v1.success(obj)`: the object with `"success":true` appended as its last key.
pub fn success<T: Serialize>(value: &T) -> HttpResponse {
    let mut body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    append_success(&mut body);
    json_response(StatusCode::OK, body)
}

/// Appends `"success":true` to serialised object bytes.
pub fn append_success(body: &mut Vec<u8>) {
    if body.last() == Some(&b'}') {
        body.pop();
        if body.len() > 1 {
            body.push(b',');
        }
        body.extend_from_slice(br#""success":true}"#);
    }
}

/// A body returned as-is, without the success flag (login and logout do this).
pub fn raw<T: Serialize>(value: &T) -> HttpResponse {
    json_response(
        StatusCode::OK,
        serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_is_the_last_key() {
        let mut a = br#"{"data":1}"#.to_vec();
        append_success(&mut a);
        assert_eq!(a, br#"{"data":1,"success":true}"#);
        let mut b = b"{}".to_vec();
        append_success(&mut b);
        assert_eq!(b, br#"{"success":true}"#);
    }
}
