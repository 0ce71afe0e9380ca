//! Direct mode (gateway off) against a fake APNs over h2c: the §4.4 payload and headers, the
//! provider token of token authentication, certificate credentials, §4.5's answers through
//! the outbox, restarts, the delivery log.

use std::collections::HashSet;

use rcpush::config::Config;
use serde_json::{json, Value};

use crate::fake_apns::{self, refusal, FakeApns};
use crate::fake_gateway::{Received, Reply};
use crate::helpers::*;
use crate::push_delivery::{
    measure_throughput, wait_for_metric, DM, DM_NOT_ID,
};
use crate::push_direct::{
    delivered_on_the_third_attempt, direct_mode, pending_retries_survive_a_restart, set_setting,
    still_registered,
};

/// The app's bundle id: the token's `appName`, sent as `apns-topic`.
const APP: &str = "com.example.chat";
const TOKEN: &str = "5f1c0ffee0ddba11ab1e5eed0fcafe5e5f1c0ffee0ddba11ab1e5eed0fcafe5e";

/// How rcpush authenticates to the fake.
enum Auth {
    Token,
    Certificate,
}

/// The demo server in direct mode, sending to `apns` (for `spawn_app_with!`).
fn apns_direct(apns: &FakeApns, auth: Auth) -> impl FnOnce(&mut Config) {
    apns_direct_at(apns.url.clone(), auth)
}

/// The demo server in direct mode, sending to APNs at `url` with `auth`.
fn apns_direct_at(url: String, auth: Auth) -> impl FnOnce(&mut Config) {
    move |c| {
        let mut set = |id: &str, value: &str| c.settings.insert(id.into(), json!(value));
        match auth {
            Auth::Token => {
                set("Push_apn_auth_key", fake_apns::AUTH_KEY);
                set("Push_apn_key_id", fake_apns::KEY_ID);
                set("Push_apn_team_id", fake_apns::TEAM_ID);
            }
            Auth::Certificate => {
                set("Push_apn_cert", fake_apns::CERT);
                set("Push_apn_key", fake_apns::ENCRYPTED_KEY);
                set("Push_apn_passphrase", fake_apns::PASSPHRASE);
            }
        }
        direct_mode(c);
        c.push.apns_url = url;
    }
}

/// The provider token's claims, checked with the test key's public half.
fn provider_token(sent: &Received) -> jsonwebtoken::TokenData<Value> {
    let jwt = sent
        .header("authorization")
        .and_then(|a| a.strip_prefix("bearer "))
        .expect("authorization: bearer <jwt>");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    let key = jsonwebtoken::DecodingKey::from_ec_pem(fake_apns::AUTH_PUBLIC_KEY.as_bytes())
        .expect("the test public key");
    jsonwebtoken::decode::<Value>(jwt, &key, &validation).expect("a JWT the test key signed")
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn message_pushes_reach_apns_as_rocket_chat_sends_them_with_one_provider_token() {
    let apns = FakeApns::start();
    let app = spawn_app_with!(apns_direct(&apns, Auth::Token));
    app.register_token(RODRIQ, "apn", TOKEN, APP);
    let mid = app.post_message(ALICE, DM, "hello :wave:").id;
    let sent = apns.sends.wait_for(1);
    let ejson = format!(
        r#"{{"host":"http://localhost:3000/","messageId":"{mid}","notificationType":"message","rid":"{DM}","sender":{{"_id":"A7dm3kQzR9xYpW2bn","username":"alice","name":"Alice Example"}},"senderName":"alice","type":"d"}}"#
    );
    let expected = json!({
        "ejson": ejson,
        "messageFrom": "push",
        "aps": {
            "badge": 3,
            "sound": "default",
            "category": "MESSAGE",
            "alert": {"body": "hello 👋", "title": "alice"},
            "thread-id": DM_NOT_ID.to_string(),
            "mutable-content": 1,
        },
    });
    let r = &sent[0];
    assert_eq!(r.body, expected.to_string());
    assert_eq!(r.path, format!("/3/device/{TOKEN}"));
    assert_eq!(r.header("apns-topic"), Some(APP));
    assert_eq!(r.header("apns-push-type"), Some("alert"));
    let expiration: i64 = r.header("apns-expiration").unwrap().parse().unwrap();
    assert!((expiration - (now_s() + 3600)).abs() <= 30, "{expiration}");
    for absent in ["apns-priority", "apns-collapse-id", "apns-id"] {
        assert_eq!(r.header(absent), None, "{absent}");
    }

    // The provider token: ES256 by the configured key, the team as issuer, issued now.
    let jwt = provider_token(r);
    assert_eq!(jwt.header.kid.as_deref(), Some(fake_apns::KEY_ID));
    assert_eq!(jwt.header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(jwt.claims["iss"], fake_apns::TEAM_ID);
    assert!((jwt.claims["iat"].as_i64().unwrap() - now_s()).abs() <= 30);
    assert_eq!(jwt.claims.as_object().unwrap().len(), 2, "{:?}", jwt.claims);

    // More pushes, the same token and connection.
    app.post_message(ALICE, DM, "again");
    app.post_message(ALICE, DM, "and again");
    let sent = apns.sends.wait_for(3);
    apns.sends.settles_at(3);
    let first = sent[0].header("authorization");
    assert!(sent.iter().all(|r| r.header("authorization") == first));
    wait_for_metric(&app, "rcpush_pushes_sent_total", 3);
    assert_eq!(
        app.metric(r#"rcpush_push_attempts_total{transport="apns",status="sent"}"#
        ),
        3
    );

    // Apple finds the token expired: that push is dropped, the next one signs a new token.
    apns.answer_with([refusal(403, "ExpiredProviderToken")]);
    app.post_message(ALICE, DM, "expired");
    apns.sends.wait_for(4);
    wait_for_metric(&app, "rcpush_pushes_dropped_total", 1);
    app.post_message(ALICE, DM, "renewed");
    let sent = apns.sends.wait_for(5);
    assert_eq!(sent[3].header("authorization"), first);
    assert_ne!(sent[4].header("authorization"), first);
    assert_eq!(provider_token(&sent[4]).claims["iss"], fake_apns::TEAM_ID);

    // The key is a secret: masked, and kept when the mask is posted back.
    let admin = app.admin();
    let get = |id: &str| {
        app.get(&format!("/api/v1/settings/{id}"), auth(&admin))
            .json()
    };
    assert_eq!(get("Push_apn_auth_key")["value"], json!("********"));
    assert_eq!(get("Push_apn_key_id")["value"], json!(fake_apns::KEY_ID));
    set_setting(&app, "Push_apn_auth_key", json!("********"));
    let log = app.get("/api/rcpush/deliveries", auth(&admin)).json();
    assert_eq!(log["deliveries"][0]["transport"], "apns");
    assert_eq!(log["deliveries"][0]["service"], "apn");
}

#[test]
fn apns_5xx_and_429_are_retried_through_the_outbox_and_only_a_dead_token_is_pruned() {
    let apns = FakeApns::start();
    let app = spawn_app_with!(apns_direct(&apns, Auth::Token));
    app.register_token(RODRIQ, "apn", TOKEN, APP);
    apns.answer_with([
        refusal(503, "ServiceUnavailable"),
        refusal(429, "TooManyRequests").with_header("Retry-After", "1"),
    ]);
    delivered_on_the_third_attempt(&app, &apns.sends);

    // Four 500s spend the three retries: dropped, the token kept.
    apns.answer_with((0..4).map(|_| refusal(500, "InternalServerError")));
    app.post_message(ALICE, DM, "never delivered");
    apns.sends.wait_for(7);
    apns.sends.settles_at(7);
    wait_for_metric(&app, "rcpush_pushes_dropped_total", 1);
    assert!(still_registered(&app, TOKEN));

    // 400 BadDeviceToken and 410 Unregistered prune after one request each.
    app.register_token(RODRIQ, "apn", TOKEN, APP);
    app.register_token(RODRIQ, "apn", "0badc0de", APP);
    apns.answer_with([refusal(400, "BadDeviceToken"), refusal(410, "Unregistered")]);
    app.post_message(ALICE, DM, "to dead devices");
    apns.sends.wait_for(9);
    wait_for_metric(&app, "rcpush_push_tokens_pruned_total", 2);
    apns.sends.settles_at(9);
    assert!(!still_registered(&app, TOKEN));
    assert!(!still_registered(&app, "0badc0de"));
    assert_eq!(app.metric("rcpush_push_outbox_length"), 0);
}

#[test]
fn apns_configuration_errors_keep_every_token_and_are_logged() {
    let apns = FakeApns::start();
    let app = spawn_app_with!(apns_direct(&apns, Auth::Token));
    app.register_token(RODRIQ, "apn", TOKEN, APP);
    app.register_token(RODRIQ, "apn", "0badc0de", APP);
    apns.answer_with([
        refusal(403, "InvalidProviderToken"),
        refusal(400, "BadTopic"),
    ]);
    app.post_message(ALICE, DM, "refused");
    apns.sends.wait_for(2);
    wait_for_metric(&app, "rcpush_pushes_dropped_total", 2);
    apns.sends.settles_at(2);
    assert_eq!(app.metric("rcpush_pushes_retried_total"), 0);

    // A key id without a team id sends nothing.
    set_setting(&app, "Push_apn_team_id", json!(""));
    app.post_message(ALICE, DM, "half configured");
    wait_for_metric(&app, "rcpush_pushes_dropped_total", 4);
    apns.sends.settles_at(2);
    assert!(still_registered(&app, TOKEN));
    assert!(still_registered(&app, "0badc0de"));

    let admin = app.admin();
    let log = app.get("/api/rcpush/deliveries?status=failed", auth(&admin));
    let log = log.json();
    let mut reasons: Vec<(Value, Value)> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["providerStatus"].clone(), d["reason"].clone()))
        .collect();
    reasons.sort_by_key(|(_, reason)| reason.to_string());
    assert_eq!(
        reasons,
        [
            (json!(400), json!("BadTopic")),
            (json!(403), json!("InvalidProviderToken")),
            (
                Value::Null,
                json!("Push_apn_auth_key needs Push_apn_key_id and Push_apn_team_id")
            ),
            (
                Value::Null,
                json!("Push_apn_auth_key needs Push_apn_key_id and Push_apn_team_id")
            ),
        ]
    );
}

#[test]
fn certificate_credentials_with_an_encrypted_key_are_used_and_a_wrong_passphrase_sends_nothing() {
    let apns = FakeApns::start();
    let app = spawn_app_with!(apns_direct(&apns, Auth::Certificate));
    app.register_token(RODRIQ, "apn", TOKEN, APP);
    let r = app.post("/api/v1/push.test", Some(RODRIQ), &json!({}));
    assert_eq!(r.body, r#"{"tokensCount":1,"success":true}"#);
    let sent = apns.sends.wait_for(1);
    // §7.4's test push; a certificate, not a bearer token, authenticates.
    assert_eq!(
        sent[0].body,
        r#"{"messageFrom":"push","aps":{"sound":"default","alert":{"body":"This is a push test message","title":"@rodriq"},"mutable-content":1}}"#
    );
    assert_eq!(sent[0].header("authorization"), None);
    assert_eq!(sent[0].header("apns-topic"), Some(APP));
    wait_for_metric(&app, "rcpush_pushes_sent_total", 1);

    set_setting(&app, "Push_apn_passphrase", json!("not the passphrase"));
    app.post_message(ALICE, DM, "wrong passphrase");
    wait_for_metric(&app, "rcpush_pushes_dropped_total", 1);
    apns.sends.settles_at(1);
    assert!(still_registered(&app, TOKEN));
    let admin = app.admin();
    let log = app.get("/api/rcpush/deliveries?status=failed", auth(&admin));
    let reason = log.json()["deliveries"][0]["reason"].clone();
    assert!(
        reason
            .as_str()
            .unwrap()
            .contains("Push_apn_passphrase does not decrypt Push_apn_key"),
        "{reason}"
    );
    assert!(!log.body.contains(fake_apns::PASSPHRASE));
}

#[test]
fn pending_apns_retries_survive_a_restart() {
    let apns = FakeApns::start();
    let mut app = spawn_app_with!(apns_direct(&apns, Auth::Token));
    app.register_token(RODRIQ, "apn", TOKEN, APP);
    apns.answer_with((0..3).map(|_| Reply::status(503)));
    pending_retries_survive_a_restart(&mut app, &apns.sends);
}

/// APNs' host refusing connections: the delivery log names the host and the cause, never the
/// device token the request's path holds.
#[test]
fn an_unreachable_apns_host_is_named_in_the_delivery_log() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_app_with!(apns_direct_at(format!("http://127.0.0.1:{port}"), Auth::Token));
    app.register_token(RODRIQ, "apn", TOKEN, APP);
    app.post_message(ALICE, DM, "into the void");
    wait_for_metric(&app, "rcpush_pushes_dropped_total", 1);
    let admin = app.admin();
    let log = app.get("/api/rcpush/deliveries", auth(&admin));
    let deliveries = log.json()["deliveries"].as_array().unwrap().clone();
    assert_eq!(deliveries.len(), 4, "three retries: {}", log.body);
    let expected = format!("cannot reach 127.0.0.1:{port}: cannot connect: ");
    for d in &deliveries {
        let reason = d["reason"].as_str().unwrap();
        assert!(reason.starts_with(&expected), "{reason}");
    }
    assert!(!log.body.contains(TOKEN), "the device token stays private");
    assert!(still_registered(&app, TOKEN), "nothing pruned");
}

/// Direct delivery throughput to the loopback fake APNs (h2c), until every outcome is
/// flushed. A measurement, not a check:
/// `cargo test --release --test api apns_delivery_throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn apns_delivery_throughput() {
    let apns = FakeApns::start();
    let app = spawn_app_with!(apns_direct(&apns, Auth::Token));
    measure_throughput(&app, "APNs", 2000, |i| {
        app.register_token(RODRIQ, "apn", &format!("{i:064x}"), APP);
    });
}
