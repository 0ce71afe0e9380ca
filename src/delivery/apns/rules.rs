//! Direct delivery to APNs over HTTP/2 (direct-push spec §4): the host, the payload and
//! headers made from the gateway body queued in the outbox, the provider token's claims,
//! and what Apple's answer means.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::delivery::direct::rules::{retry_after_seconds, GatewayBody, Outcome};

/// Apple's hosts (§4.2). Rocket.Chat 7.x always uses production (issue #30829); rcpush
/// follows `Push_production`, as Rocket.Chat's develop branch does.
pub const PRODUCTION_URL: &str = "https://api.push.apple.com";
pub const SANDBOX_URL: &str = "https://api.sandbox.push.apple.com";

/// How long Apple keeps trying an offline device: `apns-expiration` is now plus this.
pub const EXPIRATION_S: i64 = 3600;

/// The base URL: `[push] apns_url` when set, else the host `Push_production` picks.
pub fn base_url(configured: &str, production: bool) -> &str {
    match configured.trim().trim_end_matches('/') {
        "" if production => PRODUCTION_URL,
        "" => SANDBOX_URL,
        url => url,
    }
}

/// `/3/device/<token>`, the token percent-encoded: it comes from a client, and must not
/// reach another path or a query.
pub fn device_path(token: &str) -> String {
    let mut path = String::from("/3/device/");
    for b in token.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                path.push(b as char)
            }
            _ => path.push_str(&format!("%{b:02X}")),
        }
    }
    path
}

/// §4.4: the top level is the payload as `ejson`, `messageFrom`, then `aps` last.
#[derive(Debug, Serialize)]
struct Payload<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ejson: Option<&'a str>,
    #[serde(rename = "messageFrom", skip_serializing_if = "Option::is_none")]
    message_from: Option<&'a str>,
    aps: Aps<'a>,
}

/// `aps` in the order `@parse/node-apn` sets its keys; an undefined one is left out.
#[derive(Debug, Serialize)]
struct Aps<'a> {
    /// 0 is kept (it clears the badge).
    #[serde(skip_serializing_if = "Option::is_none")]
    badge: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sound: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    /// 7.x sets both unconditionally, so an id-only push has `"title":""`.
    alert: Alert<'a>,
    /// The room's `notId`: groups a room's notifications on the device.
    #[serde(rename = "thread-id", skip_serializing_if = "Option::is_none")]
    thread_id: Option<String>,
    /// Lets the app's Notification Service Extension fetch id-only content.
    #[serde(rename = "mutable-content")]
    mutable_content: u8,
}

#[derive(Debug, Serialize)]
struct Alert<'a> {
    body: &'a str,
    title: &'a str,
}

/// One APNs request but for its device path and authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub payload: String,
    /// `apns-topic`: the app's bundle id, the gateway body's `options.topic`. Without one
    /// the header is left out (a certificate's own topic then applies).
    pub topic: Option<String>,
    /// `apns-expiration`, in seconds since the epoch.
    pub expiration: i64,
}

impl Request {
    /// The `apns-*` headers. `apns-priority` is left out as Rocket.Chat does (10, Apple's
    /// default). `apns-push-type: alert` goes beyond Rocket.Chat 7.x: Apple requires it
    /// on watchOS and recommends it everywhere, and every rcpush push is an alert.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::with_capacity(3);
        if let Some(topic) = &self.topic {
            headers.push(("apns-topic", topic.clone()));
        }
        headers.push(("apns-expiration", self.expiration.to_string()));
        headers.push(("apns-push-type", "alert".to_string()));
        headers
    }
}

/// The request for a queued gateway body at `now_s`; `None` if that body is not one rcpush
/// wrote.
pub fn request(gateway_body: &str, now_s: i64) -> Option<Request> {
    let body = GatewayBody::parse(gateway_body)?;
    let o = &body.options;
    let payload = Payload {
        ejson: o.payload.map(RawValue::get),
        message_from: o.from.as_deref(),
        aps: Aps {
            badge: o.badge,
            sound: o.sound.as_deref(),
            category: o.apn.as_ref().and_then(|a| a.category.as_deref()),
            alert: Alert {
                body: &o.text,
                title: &o.title,
            },
            thread_id: o.not_id.map(|n| n.to_string()),
            mutable_content: 1,
        },
    };
    Some(Request {
        payload: serde_json::to_string(&payload).ok()?,
        topic: o.topic.clone().filter(|t| !t.trim().is_empty()),
        expiration: now_s.saturating_add(EXPIRATION_S),
    })
}

/// The claims of the provider token (token authentication): the team id and the time it
/// was issued, nothing else. Its header names the key (`kid`) and ES256.
#[derive(Debug, Serialize)]
pub struct ProviderClaims<'a> {
    pub iss: &'a str,
    pub iat: i64,
}

/// 400 reasons that mean the device token itself is dead or not this app's (§8.1).
pub const DEAD_TOKEN_REASONS: [&str; 3] =
    ["BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered"];

/// 400 reasons that mean the topic rcpush sends is wrong: the same for every device.
pub const TOPIC_REASONS: [&str; 3] = ["BadTopic", "MissingTopic", "TopicDisallowed"];

/// Apple's 403 reason for a provider token older than an hour.
pub const EXPIRED_PROVIDER_TOKEN: &str = "ExpiredProviderToken";

/// Apple's `{"reason": …}`.
pub fn reason(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get("reason")?.as_str().map(str::to_string)
}

/// The meaning of Apple's `status` (none: no answer) with its body (§4.5, narrowed as §8.1
/// suggests). Unlike Rocket.Chat, which deletes the token on every 400 (a wrong topic then
/// wipes every iOS device) and never retries:
/// * 410, or 400 with a dead-token reason, prunes the token;
/// * 403 (certificate or provider token refused) and 400 with a topic reason are
///   configuration errors: nothing pruned;
/// * 429 and 5xx are retried; a 429 waits its `Retry-After` when it has one;
/// * any other refusal drops the push.
pub fn outcome(status: Option<u16>, retry_after: Option<&str>, body: &str) -> Outcome {
    let reason = reason(body);
    let reason_in = |list: &[&str]| reason.as_deref().is_some_and(|r| list.contains(&r));
    match status {
        Some(200..=299) => Outcome::Delivered,
        None | Some(500..=599) => Outcome::Retry,
        Some(429) => retry_after_seconds(retry_after).map_or(Outcome::Retry, Outcome::RetryAfter),
        Some(410) => Outcome::DeadToken,
        Some(400) if reason_in(&DEAD_TOKEN_REASONS) => Outcome::DeadToken,
        Some(403) => Outcome::ConfigError,
        Some(400) if reason_in(&TOPIC_REASONS) => Outcome::ConfigError,
        Some(_) => Outcome::Rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::direct::rules::with_content;
    use proptest::prelude::*;

    /// "now" of the spec's vectors (2026-01-01T00:00:00Z).
    const NOW: i64 = 1767225600;

    /// The gateway body rcpush queues for spec §7.1 to an iOS device of `com.example.chat`.
    const CHANNEL_GATEWAY_BODY: &str = r##"{"token":"T_I","options":{"topic":"com.example.chat","createdAt":"2026-01-01T00:00:00.000Z","createdBy":"<SERVER>","sent":false,"sending":0,"title":"#general","text":"alice: Hello team, standup in 5","from":"push","userId":"bob","payload":{"host":"https://chat.example.com/","messageId":"m1XyZ2abC3dEf4GhJ","notificationType":"message","rid":"GENERAL","sender":{"_id":"aB3dE5fG7hJ9kL2mN","username":"alice","name":"Alice Liddell"},"senderName":"alice","type":"c","name":"general"},"badge":3,"sound":"default","notId":-1605295764,"apn":{"category":"MESSAGE"},"gcm":{"image":"https://chat.example.com/images/logo/android-chrome-192x192.png","style":"inbox"},"uniqueId":"4fec3c2d-0b4c-4d6d-9a3b-2f1e6f2c9a10"}}"##;

    /// §7.2 and §7.3 as rcpush queues them.
    const DM_GATEWAY_BODY: &str = r##"{"token":"T_I","options":{"topic":"com.example.chat","createdAt":"2026-01-01T00:00:00.000Z","createdBy":"<SERVER>","sent":false,"sending":0,"title":"alice","text":"Lunch at 12?","from":"push","userId":"bob","payload":{"host":"https://chat.example.com/","messageId":"m2XyZ2abC3dEf4GhK","notificationType":"message","rid":"aB3dE5fG7hJ9kL2mNbC4dF6gH8jK1mN3pQ","sender":{"_id":"aB3dE5fG7hJ9kL2mN","username":"alice","name":"Alice Liddell"},"senderName":"alice","type":"d"},"badge":1,"sound":"default","notId":-80591266,"apn":{"category":"MESSAGE"},"gcm":{"image":"https://chat.example.com/images/logo/android-chrome-192x192.png","style":"inbox"},"uniqueId":"4fec3c2d-0b4c-4d6d-9a3b-2f1e6f2c9a10"}}"##;
    const ID_ONLY_GATEWAY_BODY: &str = r##"{"token":"T_I","options":{"topic":"com.example.chat","createdAt":"2026-01-01T00:00:00.000Z","createdBy":"<SERVER>","sent":false,"sending":0,"title":"","text":"You have a new message","from":"push","userId":"bob","payload":{"host":"https://chat.example.com/","messageId":"m3XyZ2abC3dEf4GhL","notificationType":"message-id-only"},"badge":4,"sound":"default","notId":-1605295764,"apn":{"category":"MESSAGE"},"gcm":{"image":"https://chat.example.com/images/logo/android-chrome-192x192.png","style":"inbox"},"uniqueId":"4fec3c2d-0b4c-4d6d-9a3b-2f1e6f2c9a10"}}"##;

    fn payload(body: &str) -> String {
        request(body, NOW).expect("an rcpush body").payload
    }

    #[test]
    fn the_channel_dm_and_id_only_vectors_of_the_spec() {
        assert_eq!(
            payload(CHANNEL_GATEWAY_BODY),
            r##"{"ejson":"{\"host\":\"https://chat.example.com/\",\"messageId\":\"m1XyZ2abC3dEf4GhJ\",\"notificationType\":\"message\",\"rid\":\"GENERAL\",\"sender\":{\"_id\":\"aB3dE5fG7hJ9kL2mN\",\"username\":\"alice\",\"name\":\"Alice Liddell\"},\"senderName\":\"alice\",\"type\":\"c\",\"name\":\"general\"}","messageFrom":"push","aps":{"badge":3,"sound":"default","category":"MESSAGE","alert":{"body":"alice: Hello team, standup in 5","title":"#general"},"thread-id":"-1605295764","mutable-content":1}}"##
        );
        assert_eq!(
            payload(DM_GATEWAY_BODY),
            r##"{"ejson":"{\"host\":\"https://chat.example.com/\",\"messageId\":\"m2XyZ2abC3dEf4GhK\",\"notificationType\":\"message\",\"rid\":\"aB3dE5fG7hJ9kL2mNbC4dF6gH8jK1mN3pQ\",\"sender\":{\"_id\":\"aB3dE5fG7hJ9kL2mN\",\"username\":\"alice\",\"name\":\"Alice Liddell\"},\"senderName\":\"alice\",\"type\":\"d\"}","messageFrom":"push","aps":{"badge":1,"sound":"default","category":"MESSAGE","alert":{"body":"Lunch at 12?","title":"alice"},"thread-id":"-80591266","mutable-content":1}}"##
        );
        assert_eq!(
            payload(ID_ONLY_GATEWAY_BODY),
            r##"{"ejson":"{\"host\":\"https://chat.example.com/\",\"messageId\":\"m3XyZ2abC3dEf4GhL\",\"notificationType\":\"message-id-only\"}","messageFrom":"push","aps":{"badge":4,"sound":"default","category":"MESSAGE","alert":{"body":"You have a new message","title":""},"thread-id":"-1605295764","mutable-content":1}}"##
        );
    }

    #[test]
    fn the_headers_of_the_spec_plus_the_push_type() {
        let r = request(CHANNEL_GATEWAY_BODY, NOW).unwrap();
        assert_eq!(
            r.headers(),
            [
                ("apns-topic", "com.example.chat".to_string()),
                ("apns-expiration", "1767229200".to_string()),
                ("apns-push-type", "alert".to_string()),
            ]
        );
        let no_topic = CHANNEL_GATEWAY_BODY.replace(r#""topic":"com.example.chat","#, "");
        let r = request(&no_topic, NOW).unwrap();
        assert!(r.headers().iter().all(|(name, _)| *name != "apns-topic"));
    }

    #[test]
    fn the_test_push_and_badge_zero_vectors_of_the_spec() {
        let test_push = r#"{"token":"t","options":{"topic":"com.example.chat","createdAt":"T","createdBy":"<SERVER>","sent":false,"sending":0,"title":"@bob","text":"This is a push test message","from":"push","userId":"u","sound":"default","uniqueId":"x"}}"#;
        assert_eq!(
            payload(test_push),
            r#"{"messageFrom":"push","aps":{"sound":"default","alert":{"body":"This is a push test message","title":"@bob"},"mutable-content":1}}"#
        );
        let badge_zero = CHANNEL_GATEWAY_BODY.replace("\"badge\":3", "\"badge\":0");
        assert!(payload(&badge_zero).contains(r#""aps":{"badge":0,"#));
        assert_eq!(request("{}", NOW), None);
    }

    #[test]
    fn the_host_follows_push_production_unless_configured() {
        assert_eq!(base_url("", true), "https://api.push.apple.com");
        assert_eq!(base_url(" ", false), "https://api.sandbox.push.apple.com");
        assert_eq!(
            base_url("http://127.0.0.1:8443/", true),
            "http://127.0.0.1:8443"
        );
        assert_eq!(device_path("ab12CD"), "/3/device/ab12CD");
        assert_eq!(device_path("a/b?c"), "/3/device/a%2Fb%3Fc");
    }

    #[test]
    fn the_answers_of_the_spec() {
        let r = |reason: &str| format!(r#"{{"reason":"{reason}"}}"#);
        assert_eq!(outcome(Some(200), None, ""), Outcome::Delivered);
        assert_eq!(
            outcome(Some(410), None, &r("Unregistered")),
            Outcome::DeadToken
        );
        assert_eq!(
            outcome(Some(410), None, &r("ExpiredToken")),
            Outcome::DeadToken
        );
        for dead in DEAD_TOKEN_REASONS {
            assert_eq!(outcome(Some(400), None, &r(dead)), Outcome::DeadToken);
        }
        for topic in TOPIC_REASONS {
            assert_eq!(outcome(Some(400), None, &r(topic)), Outcome::ConfigError);
        }
        for refused in [
            "BadCertificate",
            "BadCertificateEnvironment",
            "InvalidProviderToken",
            "ExpiredProviderToken",
        ] {
            assert_eq!(outcome(Some(403), None, &r(refused)), Outcome::ConfigError);
        }
        assert_eq!(outcome(Some(429), Some("2"), ""), Outcome::RetryAfter(2));
        assert_eq!(
            outcome(Some(429), None, &r("TooManyRequests")),
            Outcome::Retry
        );
        assert_eq!(outcome(Some(503), None, ""), Outcome::Retry);
        assert_eq!(outcome(None, None, ""), Outcome::Retry);
        assert_eq!(
            outcome(Some(413), None, &r("PayloadTooLarge")),
            Outcome::Rejected
        );
        assert_eq!(outcome(Some(400), None, "not json"), Outcome::Rejected);
        assert_eq!(reason(&r("BadTopic")).as_deref(), Some("BadTopic"));
    }

    proptest! {
        /// Whatever the texts and numbers, the payload carries them unchanged, keeps
        /// Rocket.Chat's key order and always asks for the service extension.
        #[test]
        fn the_payload_carries_the_content_in_rocket_chat_key_order(
            title in "\\PC{0,40}",
            text in "\\PC{0,80}",
            badge in any::<i64>(),
            not_id in any::<i32>(),
            now in 0i64..4_000_000_000,
        ) {
            let body = with_content(CHANNEL_GATEWAY_BODY, &title, &text, badge, not_id);
            let r = request(&body, now).unwrap();
            prop_assert_eq!(r.expiration, now + 3600);
            let p: serde_json::Value = serde_json::from_str(&r.payload).unwrap();
            let keys: Vec<&String> = p.as_object().unwrap().keys().collect();
            prop_assert_eq!(keys, ["ejson", "messageFrom", "aps"]);
            let aps = &p["aps"];
            let keys: Vec<&String> = aps.as_object().unwrap().keys().collect();
            prop_assert_eq!(keys, ["badge", "sound", "category", "alert", "thread-id", "mutable-content"]);
            prop_assert_eq!(&aps["alert"], &serde_json::json!({"body": text, "title": title}));
            prop_assert_eq!(&aps["badge"], &serde_json::json!(badge));
            prop_assert_eq!(&aps["thread-id"], &serde_json::json!(not_id.to_string()));
            prop_assert_eq!(&aps["mutable-content"], &serde_json::json!(1));
        }

        /// A token is pruned only on 410, or on 400 with a dead-token reason; a 403 is never
        /// the device's fault; 5xx always retries.
        #[test]
        fn only_a_dead_token_is_pruned(
            status in prop_oneof![Just(400u16), Just(403), Just(410), 100u16..600],
            reason_text in prop_oneof![
                proptest::sample::select(DEAD_TOKEN_REASONS.to_vec()).prop_map(str::to_string),
                proptest::sample::select(TOPIC_REASONS.to_vec()).prop_map(str::to_string),
                "[A-Za-z]{0,24}",
            ],
            retry_after in proptest::option::of("[0-9]{1,4}"),
        ) {
            let body = serde_json::json!({ "reason": reason_text }).to_string();
            let o = outcome(Some(status), retry_after.as_deref(), &body);
            let dead = status == 410
                || (status == 400 && DEAD_TOKEN_REASONS.contains(&reason_text.as_str()));
            prop_assert_eq!(o == Outcome::DeadToken, dead);
            if status == 403 {
                prop_assert_eq!(&o, &Outcome::ConfigError);
            }
            if (500..600).contains(&status) {
                prop_assert_eq!(&o, &Outcome::Retry);
            }
            if status == 429 {
                prop_assert!(matches!(o, Outcome::Retry | Outcome::RetryAfter(_)));
            }
        }

        /// A device token never leaves its path segment.
        #[test]
        fn the_device_token_stays_in_its_path_segment(token in "\\PC{0,80}") {
            let path = device_path(&token);
            let segment = path.strip_prefix("/3/device/").unwrap();
            prop_assert!(segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        }
    }
}
