//! Direct delivery to FCM HTTP v1 (direct-push spec §3): the service account, the message
//! body made from the gateway body queued in the outbox, and what FCM's answer means.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::delivery::direct::rules::{retry_after_seconds, GatewayBody, Outcome};

/// The scope of the access token FCM needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// Where the grant goes when the service account names no `token_uri`.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The fields of `Push_google_api_credentials` that rcpush uses. Rocket.Chat requires the
/// four strings below; unlike it, rcpush posts the grant to the JSON's `token_uri`, so that
/// tests (and private clouds) can point it elsewhere.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub project_id: String,
    pub private_key_id: String,
    /// PEM (PKCS#8) RSA key.
    pub private_key: SecretString,
    #[serde(default)]
    pub token_uri: Option<String>,
}

/// Why the credentials cannot be used: a configuration error, never the device's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("Push_google_api_credentials is not set")]
    NotSet,
    /// The serde message names the field, never its value.
    #[error("Push_google_api_credentials is not a valid service account: {0}")]
    Invalid(String),
}

impl ServiceAccount {
    /// `getNativeNotificationAuthorizationCredentials`' checks (§3.1 steps 1–2).
    pub fn parse(json: &str) -> Result<ServiceAccount, CredentialsError> {
        if json.trim().is_empty() {
            return Err(CredentialsError::NotSet);
        }
        let account: ServiceAccount = serde_json::from_str(json).map_err(|e| {
            // serde_json's message can quote the input near the error: keep only its kind.
            let what = match e.classify() {
                serde_json::error::Category::Data => "a required field is missing or not a string",
                _ => "not a JSON object",
            };
            CredentialsError::Invalid(what.into())
        })?;
        if account.project_id.trim().is_empty() {
            return Err(CredentialsError::Invalid("project_id is empty".into()));
        }
        Ok(account)
    }

    pub fn token_uri(&self) -> &str {
        self.token_uri
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or(DEFAULT_TOKEN_URI)
    }
}

/// The JWT grant's claims (gtoken's, §3.1): no `sub`, `aud` is the token URL.
#[derive(Debug, Serialize)]
pub struct GrantClaims<'a> {
    pub iss: &'a str,
    pub scope: &'static str,
    pub aud: &'a str,
    pub iat: i64,
    pub exp: i64,
}

impl<'a> GrantClaims<'a> {
    pub fn new(account: &'a ServiceAccount, now_s: i64) -> GrantClaims<'a> {
        GrantClaims {
            iss: &account.client_email,
            scope: SCOPE,
            aud: account.token_uri(),
            iat: now_s,
            exp: now_s + 3600,
        }
    }
}

#[derive(Debug, Serialize)]
struct Envelope<'a> {
    message: Message<'a>,
}

/// §3.3, in Rocket.Chat's key order.
#[derive(Debug, Serialize)]
struct Message<'a> {
    notification: Notification<'a>,
    data: Data<'a>,
    android: Android,
    token: &'a str,
}

#[derive(Debug, Serialize)]
struct Notification<'a> {
    title: &'a str,
    body: &'a str,
}

/// Every value a string; each key only when its source is truthy.
#[derive(Debug, Serialize)]
struct Data<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ejson: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    msgcnt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    soundname: Option<&'a str>,
    #[serde(rename = "notId", skip_serializing_if = "Option::is_none")]
    not_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    style: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct Android {
    priority: &'static str,
}

fn truthy(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// The `messages:send` body for `device_token`, from a queued gateway body; `None` if that
/// body is not one rcpush wrote.
pub fn message_body(gateway_body: &str, device_token: &str) -> Option<String> {
    let body = GatewayBody::parse(gateway_body)?;
    let o = &body.options;
    let gcm = o.gcm.as_ref();
    let message = Message {
        notification: Notification {
            title: &o.title,
            body: &o.text,
        },
        data: Data {
            ejson: o.payload.map(RawValue::get),
            image: gcm.and_then(|g| truthy(&g.image)),
            msgcnt: o.badge.filter(|b| *b != 0).map(|b| b.to_string()),
            soundname: truthy(&o.sound),
            not_id: o.not_id.filter(|n| *n != 0).map(|n| n.to_string()),
            style: gcm.and_then(|g| truthy(&g.style)),
        },
        android: Android { priority: "HIGH" },
        token: device_token,
    };
    serde_json::to_string(&Envelope { message }).ok()
}

/// Rocket.Chat's wait when a 429 has no `Retry-After`.
const DEFAULT_RETRY_AFTER_S: u64 = 60;

/// The meaning of FCM's `status` (none: no answer) with its error body (§3.4, narrowed as
/// §8.1 suggests: only 404 / `UNREGISTERED` prunes; 401 and 403 are configuration errors).
/// A `Retry-After` that is not a number of seconds counts as absent (Rocket.Chat would not
/// wait at all).
pub fn outcome(status: Option<u16>, retry_after: Option<&str>, body: &str) -> Outcome {
    match status {
        Some(200..=299) => Outcome::Delivered,
        None | Some(500..=599) => Outcome::Retry,
        Some(429) => {
            Outcome::RetryAfter(retry_after_seconds(retry_after).unwrap_or(DEFAULT_RETRY_AFTER_S))
        }
        Some(404) => Outcome::DeadToken,
        _ if error_code(body).as_deref() == Some("UNREGISTERED") => Outcome::DeadToken,
        Some(401 | 403) => Outcome::ConfigError,
        Some(_) => Outcome::Rejected,
    }
}

/// FCM's `error.details[].errorCode`, else `error.status` (`INVALID_ARGUMENT`…): the reason
/// worth logging and recording.
pub fn error_code(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let error = v.get("error")?;
    let detail = error
        .get("details")
        .and_then(|d| d.as_array())
        .and_then(|d| d.iter().find_map(|d| d.get("errorCode")?.as_str()));
    detail
        .or_else(|| error.get("status")?.as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::direct::rules::with_content;
    use proptest::prelude::*;

    const T_A: &str = "dGVzdC1mY20tdG9rZW4:APA91bExampleToken";

    /// The gateway body rcpush queues for spec §7.1 (the gateway's extra keys included).
    const CHANNEL_GATEWAY_BODY: &str = r##"{"token":"dGVzdC1mY20tdG9rZW4:APA91bExampleToken","options":{"createdAt":"2026-01-01T00:00:00.000Z","createdBy":"<SERVER>","sent":false,"sending":0,"title":"#general","text":"alice: Hello team, standup in 5","from":"push","userId":"bob","payload":{"host":"https://chat.example.com/","messageId":"m1XyZ2abC3dEf4GhJ","notificationType":"message","rid":"GENERAL","sender":{"_id":"aB3dE5fG7hJ9kL2mN","username":"alice","name":"Alice Liddell"},"senderName":"alice","type":"c","name":"general"},"badge":3,"sound":"default","notId":-1605295764,"apn":{"category":"MESSAGE"},"gcm":{"image":"https://chat.example.com/images/logo/android-chrome-192x192.png","style":"inbox"},"uniqueId":"4fec3c2d-0b4c-4d6d-9a3b-2f1e6f2c9a10"}}"##;

    #[test]
    fn the_channel_message_vector_of_the_spec() {
        let expected = r##"{"message":{"notification":{"title":"#general","body":"alice: Hello team, standup in 5"},"data":{"ejson":"{\"host\":\"https://chat.example.com/\",\"messageId\":\"m1XyZ2abC3dEf4GhJ\",\"notificationType\":\"message\",\"rid\":\"GENERAL\",\"sender\":{\"_id\":\"aB3dE5fG7hJ9kL2mN\",\"username\":\"alice\",\"name\":\"Alice Liddell\"},\"senderName\":\"alice\",\"type\":\"c\",\"name\":\"general\"}","image":"https://chat.example.com/images/logo/android-chrome-192x192.png","msgcnt":"3","soundname":"default","notId":"-1605295764","style":"inbox"},"android":{"priority":"HIGH"},"token":"dGVzdC1mY20tdG9rZW4:APA91bExampleToken"}}"##;
        assert_eq!(
            message_body(CHANNEL_GATEWAY_BODY, T_A).as_deref(),
            Some(expected)
        );
    }

    #[test]
    fn the_test_push_and_badge_zero_vectors_of_the_spec() {
        let test_push = r#"{"token":"t","options":{"createdAt":"T","createdBy":"<SERVER>","sent":false,"sending":0,"title":"@bob","text":"This is a push test message","from":"push","userId":"u","sound":"default","uniqueId":"x"}}"#;
        assert_eq!(
            message_body(test_push, "t").as_deref(),
            Some(
                r#"{"message":{"notification":{"title":"@bob","body":"This is a push test message"},"data":{"soundname":"default"},"android":{"priority":"HIGH"},"token":"t"}}"#
            )
        );
        let badge_zero = CHANNEL_GATEWAY_BODY.replace("\"badge\":3", "\"badge\":0");
        let body = message_body(&badge_zero, T_A).unwrap();
        assert!(!body.contains("msgcnt"), "{body}");
        assert_eq!(message_body("{}", T_A), None);
    }

    #[test]
    fn the_response_script_of_the_spec() {
        let unregistered = r#"{"error":{"code":404,"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}"#;
        assert_eq!(outcome(Some(200), None, ""), Outcome::Delivered);
        assert_eq!(outcome(Some(503), None, ""), Outcome::Retry);
        assert_eq!(outcome(None, None, ""), Outcome::Retry);
        assert_eq!(outcome(Some(429), Some("2"), ""), Outcome::RetryAfter(2));
        assert_eq!(outcome(Some(429), None, ""), Outcome::RetryAfter(60));
        assert_eq!(outcome(Some(404), None, unregistered), Outcome::DeadToken);
        assert_eq!(error_code(unregistered).as_deref(), Some("UNREGISTERED"));
        let invalid = r#"{"error":{"code":400,"status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(outcome(Some(400), None, invalid), Outcome::Rejected);
        assert_eq!(error_code(invalid).as_deref(), Some("INVALID_ARGUMENT"));
        let denied = r#"{"error":{"code":403,"status":"PERMISSION_DENIED"}}"#;
        assert_eq!(outcome(Some(403), None, denied), Outcome::ConfigError);
        assert_eq!(outcome(Some(401), None, ""), Outcome::ConfigError);
    }

    #[test]
    fn credentials_are_checked_without_quoting_them() {
        assert_eq!(
            ServiceAccount::parse("  ").unwrap_err(),
            CredentialsError::NotSet
        );
        let missing = ServiceAccount::parse(r#"{"client_email":"a","private_key":"SECRET"}"#);
        assert!(!format!("{:?}", missing.unwrap_err()).contains("SECRET"));
        let garbled = ServiceAccount::parse(r#"{"private_key":"SECRET"#);
        assert!(!garbled.unwrap_err().to_string().contains("SECRET"));
        let ok = ServiceAccount::parse(
            r#"{"client_email":"a@b","project_id":"p","private_key_id":"k","private_key":"SECRET"}"#,
        )
        .unwrap();
        assert_eq!(ok.token_uri(), DEFAULT_TOKEN_URI);
        assert!(!format!("{ok:?}").contains("SECRET"));
    }

    proptest! {
        /// Whatever the texts, the FCM body carries them unchanged and every `data` value is
        /// a string.
        #[test]
        fn texts_pass_unchanged_and_data_is_all_strings(title in "\\PC{0,40}", text in "\\PC{0,80}", badge in any::<i64>(), not_id in any::<i32>()) {
            let body = with_content(CHANNEL_GATEWAY_BODY, &title, &text, badge, not_id);
            let body = message_body(&body, T_A).unwrap();
            let m: serde_json::Value = serde_json::from_str(&body).unwrap();
            prop_assert_eq!(&m["message"]["notification"]["title"], &serde_json::json!(title));
            prop_assert_eq!(&m["message"]["notification"]["body"], &serde_json::json!(text));
            prop_assert!(m["message"]["data"].as_object().unwrap().values().all(|v| v.is_string()));
            prop_assert_eq!(m["message"]["data"].get("msgcnt").is_some(), badge != 0);
        }
    }
}
