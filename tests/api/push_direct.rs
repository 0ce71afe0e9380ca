//! Direct mode (gateway off) against a fake OAuth endpoint and FCM HTTP v1: the grant, the
//! §3.3 body, one cached token, §3.4's answers through the outbox, restarts, secrets.

use serde_json::{json, Value};

use rcpush::config::Config;

use crate::fake_fcm::{self, FakeFcm};
use crate::fake_gateway::{Reply, Requests};
use crate::helpers::*;
use crate::push_delivery::{
    measure_throughput, wait_for_metric, DM, DM_NOT_ID,
};

/// Direct mode (the gateway off) with short retry delays and metrics on.
pub fn direct_mode(c: &mut Config) {
    c.settings
        .insert("Push_enable_gateway".into(), json!(false));
    c.push.direct_retry_delays_ms = vec![100, 100, 100];
    c.metrics.enabled = true;
}

/// The demo server in direct mode, sending to `fcm` (for `spawn_app_with!`).
fn fcm_direct(fcm: &FakeFcm) -> impl FnOnce(&mut Config) {
    let (url, account) = (fcm.url.clone(), fcm.service_account());
    move |c| {
        direct_mode(c);
        c.settings
            .insert("Push_google_api_credentials".into(), json!(account));
        c.push.fcm_url = url;
    }
}

/// Whether the device token is still registered (removing it tells).
pub fn still_registered(app: &TestApp, token: &str) -> bool {
    let r = app.delete(
        "/api/v1/push.token",
        Some(RODRIQ),
        &json!({ "token": token }),
    );
    r.status == 200
}

/// An admin sets the setting `id`.
pub fn set_setting(app: &TestApp, id: &str, value: Value) {
    let admin = app.admin();
    let r = app.post(
        &format!("/api/v1/settings/{id}"),
        auth(&admin),
        &json!({ "value": value }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

/// One push whose first two attempts the fake refuses, the second with `Retry-After: 1`, is
/// delivered on the third, after that second at least.
pub fn delivered_on_the_third_attempt(app: &TestApp, sends: &Requests) {
    let start = std::time::Instant::now();
    app.post_message(ALICE, DM, "third time lucky");
    let got = sends.wait_for(3);
    assert!(start.elapsed().as_millis() >= 1000, "Retry-After waited");
    sends.settles_at(3);
    assert!(got.iter().all(|r| r.body == got[0].body), "the same push");
    wait_for_metric(app, "rcpush_pushes_sent_total", 1);
    assert_eq!(app.metric("rcpush_pushes_retried_total"), 2);
}

/// Three pushes meet the fake's three scripted failures, then a restart; afterwards each push
/// has been delivered exactly once and the outbox is empty: it kept what had failed. On a
/// loaded box the order is a race (a push may fail twice before another is first tried, and
/// the stopping server may still send a retry), so the checks do not depend on it.
pub fn pending_retries_survive_a_restart(app: &mut TestApp, sends: &Requests) {
    for i in 0..3 {
        app.post_message(ALICE, DM, &format!("message {i}"));
    }
    sends.wait_for(3);
    app.restart(direct_mode);
    let sent = sends.wait_for(6);
    sends.settles_at(6);
    let start = std::time::Instant::now();
    while app.metric("rcpush_push_outbox_length") > 0 {
        assert!(start.elapsed().as_secs() < 60, "the outbox never emptied");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The script fails the first three requests; a retry sends the same body again.
    let (failed, delivered) = sent.split_at(3);
    let mut bodies: Vec<&str> = delivered.iter().map(|r| r.body.as_str()).collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 3, "each push delivered once: {delivered:#?}");
    assert!(
        failed.iter().all(|r| bodies.contains(&r.body.as_str())),
        "each failed push delivered afterwards"
    );
}

const UNREGISTERED: &str =
    r#"{"error":{"code":404,"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}"#;

#[test]
fn message_pushes_reach_fcm_as_rocket_chat_sends_them_with_one_cached_token() {
    let fcm = FakeFcm::start();
    let app = spawn_app_with!(fcm_direct(&fcm));
    app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    // No APNs credentials: Rocket.Chat skips iOS devices.
    app.register_token(RODRIQ, "apn", "apn-rodriq", "chat.rocket.ios");
    let mid = app.post_message(ALICE, DM, "hello :wave:").id;
    let sent = fcm.sends.wait_for(1);
    let ejson = format!(
        r#"{{"host":"http://localhost:3000/","messageId":"{mid}","notificationType":"message","rid":"{DM}","sender":{{"_id":"A7dm3kQzR9xYpW2bn","username":"alice","name":"Alice Example"}},"senderName":"alice","type":"d"}}"#
    );
    let expected = json!({"message": {
        "notification": {"title": "alice", "body": "hello 👋"},
        "data": {
            "ejson": ejson,
            "image": "http://localhost:3000/images/logo/android-chrome-192x192.png",
            "msgcnt": "3",
            "soundname": "default",
            "notId": DM_NOT_ID.to_string(),
            "style": "inbox",
        },
        "android": {"priority": "HIGH"},
        "token": "gcm-rodriq",
    }});
    assert_eq!(sent[0].body, expected.to_string());
    assert_eq!(
        sent[0].path,
        format!("/v1/projects/{}/messages:send", fake_fcm::PROJECT)
    );
    assert_eq!(sent[0].header("Authorization"), Some("Bearer ya29.fake-1"));
    assert_eq!(sent[0].header("Content-Type"), Some("application/json"));

    // The grant: an RS256 assertion of the service account, for FCM's scope, to token_uri.
    let grants = fcm.grants();
    assert_eq!(grants.len(), 1);
    let (grant_type, assertion) = grants[0].body.split_once("&assertion=").expect("form body");
    assert_eq!(
        grant_type,
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
    );
    let token_uri = format!("{}/token", fcm.url);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&token_uri]);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(fake_fcm::PUBLIC_KEY.as_bytes()).unwrap();
    let jwt = jsonwebtoken::decode::<Value>(assertion, &key, &validation).expect("valid JWT");
    assert_eq!(jwt.header.kid.as_deref(), Some(fake_fcm::KEY_ID));
    let claims = jwt.claims;
    assert_eq!(claims["iss"], fake_fcm::CLIENT_EMAIL);
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(claims.get("sub").is_none());

    // More pushes, the same token; the iOS device got nothing (and is kept).
    app.post_message(ALICE, DM, "again");
    app.post_message(ALICE, DM, "and again");
    let sent = fcm.sends.wait_for(3);
    fcm.sends.settles_at(3);
    assert!(sent
        .iter()
        .all(|r| r.header("Authorization") == Some("Bearer ya29.fake-1")));
    assert_eq!(fcm.grants().len(), 1, "one grant for many pushes");
    wait_for_metric(&app, "rcpush_pushes_sent_total", 3);
    let per_transport =
        |labels: &str| app.metric(&format!("rcpush_push_attempts_total{{{labels}}}"));
    assert_eq!(per_transport(r#"transport="fcm",status="sent""#), 3);
    assert_eq!(per_transport(r#"transport="apns",status="failed""#), 3);
    assert_eq!(
        app.metric(r#"rcpush_push_attempt_duration_seconds_count{transport="fcm"}"#
        ),
        3
    );
    assert!(still_registered(&app, "apn-rodriq"));
}

#[test]
fn fcm_429_and_5xx_are_retried_through_the_outbox_and_only_a_dead_token_is_pruned() {
    let fcm = FakeFcm::start();
    let app = spawn_app_with!(fcm_direct(&fcm));
    app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    fcm.answer([
        Reply::status(503),
        Reply::json(
            429,
            r#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}"#,
        )
        .with_header("Retry-After", "1"),
    ]);
    delivered_on_the_third_attempt(&app, &fcm.sends);

    // Four 500s exhaust the three retries: dropped, the token kept.
    fcm.answer((0..4).map(|_| Reply::status(500)));
    app.post_message(ALICE, DM, "never delivered");
    fcm.sends.wait_for(7);
    fcm.sends.settles_at(7);
    wait_for_metric(&app, "rcpush_pushes_dropped_total", 1);

    // 400 and 403 are refusals of the push or of rcpush, not of the device: one request
    // each, no retry, no pruning.
    fcm.answer([
        Reply::json(400, r#"{"error":{"code":400,"status":"INVALID_ARGUMENT"}}"#),
        Reply::json(
            403,
            r#"{"error":{"code":403,"status":"PERMISSION_DENIED"}}"#,
        ),
    ]);
    app.post_message(ALICE, DM, "refused");
    fcm.sends.wait_for(8);
    app.post_message(ALICE, DM, "refused too");
    fcm.sends.wait_for(9);
    fcm.sends.settles_at(9);
    wait_for_metric(&app, "rcpush_pushes_dropped_total", 3);

    // UNREGISTERED: pruned after one request.
    fcm.answer([Reply::json(404, UNREGISTERED)]);
    app.post_message(ALICE, DM, "gone");
    fcm.sends.wait_for(10);
    wait_for_metric(&app, "rcpush_push_tokens_pruned_total", 1);
    fcm.sends.settles_at(10);
    assert!(!still_registered(&app, "gcm-rodriq"));
    assert_eq!(fcm.grants().len(), 1);
    assert_eq!(app.metric("rcpush_push_outbox_length"), 0);
}

#[test]
fn configuration_errors_send_nothing_and_prune_nothing() {
    let fcm = FakeFcm::start();
    let app = spawn_app_with!(fcm_direct(&fcm));
    app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    fcm.refuse_grants(&[400]);
    app.post_message(ALICE, DM, "grant refused");
    wait_for_metric(&app, "rcpush_pushes_dropped_total", 1);
    assert_eq!(fcm.grants().len(), 1);

    let admin = app.admin();
    let r = app.post(
        "/api/v1/settings/Push_google_api_credentials",
        auth(&admin),
        &json!({"value": ""}),
    );
    assert_eq!(r.status, 200);
    app.post_message(ALICE, DM, "no credentials");
    wait_for_metric(&app, "rcpush_pushes_dropped_total", 2);
    fcm.sends.settles_at(0);
    assert!(still_registered(&app, "gcm-rodriq"));
}

#[test]
fn pending_fcm_retries_survive_a_restart() {
    let fcm = FakeFcm::start();
    let mut app = spawn_app_with!(fcm_direct(&fcm));
    app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    fcm.answer((0..3).map(|_| Reply::status(503)));
    pending_retries_survive_a_restart(&mut app, &fcm.sends);
    // The new process needed a token of its own: the cache is memory only.
    assert_eq!(fcm.grants().len(), 2);
}

#[test]
fn push_test_and_secret_settings_in_direct_mode() {
    let fcm = FakeFcm::start();
    let app = spawn_app_with!(fcm_direct(&fcm));
    app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    let r = app.post("/api/v1/push.test", Some(RODRIQ), &json!({}));
    assert_eq!(r.body, r#"{"tokensCount":1,"success":true}"#);
    assert_eq!(
        fcm.sends.wait_for(1)[0].body,
        r#"{"message":{"notification":{"title":"@rodriq","body":"This is a push test message"},"data":{"soundname":"default"},"android":{"priority":"HIGH"},"token":"gcm-rodriq"}}"#
    );

    // Secrets: masked when set, empty when not; sending the mask back keeps the secret.
    let admin = app.admin();
    let get = |id: &str| {
        app.get(&format!("/api/v1/settings/{id}"), auth(&admin))
            .json()
    };
    assert_eq!(
        get("Push_google_api_credentials")["value"],
        json!("********")
    );
    assert_eq!(get("Push_apn_key")["value"], json!(""));
    assert_eq!(get("Push_enable_gateway")["value"], json!(false));
    let r = app.post(
        "/api/v1/settings/Push_google_api_credentials",
        auth(&admin),
        &json!({"value": "********"}),
    );
    assert_eq!(r.status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    app.post("/api/v1/push.test", Some(RODRIQ), &json!({}));
    fcm.sends.wait_for(2);
}

#[test]
fn the_delivery_log_shows_each_attempt_newest_first_to_admins_only() {
    let fcm = FakeFcm::start();
    let app = spawn_app_with!(fcm_direct(&fcm));
    app.register_token(RODRIQ,
        "gcm",
        "gcm-token-of-rodriq-ABCDEF",
        "chat.rocket.android",
    );
    fcm.answer([Reply::status(503)]);
    let first = app.post_message(ALICE, DM, "retried once").id;
    fcm.sends.wait_for(2);
    wait_for_metric(&app, "rcpush_pushes_sent_total", 1);
    fcm.answer([Reply::json(404, UNREGISTERED)]);
    let second = app.post_message(ALICE, DM, "to a dead token").id;
    wait_for_metric(&app, "rcpush_push_tokens_pruned_total", 1);

    let admin = app.admin();
    let r = app.get("/api/rcpush/deliveries", auth(&admin));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (v["total"].as_u64(), v["count"].as_u64()),
        (Some(3), Some(3))
    );
    let log = v["deliveries"].as_array().unwrap();
    let seen: Vec<(&str, &str, u64)> = log
        .iter()
        .map(|d| {
            (
                d["messageId"].as_str().unwrap(),
                d["status"].as_str().unwrap(),
                d["attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (second.as_str(), "pruned", 1),
            (first.as_str(), "sent", 2),
            (first.as_str(), "retrying", 1)
        ]
    );
    let retrying = &log[2];
    assert_eq!(retrying["transport"], "fcm");
    assert_eq!(retrying["service"], "gcm");
    assert_eq!(retrying["tokenTail"], "ABCDEF");
    assert_eq!(retrying["providerStatus"], 503);
    assert_eq!(retrying["userId"], RODRIQ.0);
    assert!(retrying["nextAttempt"].as_i64().unwrap() > retrying["ts"].as_i64().unwrap());
    assert!(
        !r.body.contains("gcm-token-of-rodriq"),
        "the token stays private"
    );
    assert_eq!(log[0]["reason"], "UNREGISTERED");

    let r = app.get(
        &format!("/api/rcpush/deliveries?messageId={first}&status=sent"),
        auth(&admin),
    );
    assert_eq!(r.json()["total"], 1);
    let r = app.get("/api/rcpush/deliveries?count=1&offset=1", auth(&admin));
    assert_eq!(r.json()["deliveries"][0]["status"], "sent");
    let r = app.get("/api/rcpush/deliveries?status=lost", auth(&admin));
    assert_eq!(r.status, 400);
    assert_eq!(app.get("/api/rcpush/deliveries", Some(RODRIQ)).status, 403);
    assert_eq!(app.get("/api/rcpush/deliveries", None).status, 401);
}

/// FCM's host refusing connections: each attempt is retried, then dropped, and the delivery
/// log says which host could not be reached and why, not only "Connection Failed".
#[test]
fn an_unreachable_fcm_host_is_named_in_the_delivery_log() {
    let fcm = FakeFcm::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let account = fcm.service_account();
    let app = spawn_app_with!(move |c| {
        direct_mode(c);
        c.settings
            .insert("Push_google_api_credentials".into(), json!(account));
        c.push.fcm_url = format!("http://127.0.0.1:{port}");
    });
    app.register_token(RODRIQ, "gcm", "gcm-token-1", "chat.rocket.android");
    app.post_message(ALICE, DM, "into the void");
    wait_for_metric(&app, "rcpush_pushes_dropped_total", 1);
    let admin = app.admin();
    let log = app.get("/api/rcpush/deliveries", auth(&admin)).json();
    let deliveries = log["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 4, "three retries: {log}");
    let expected = format!("cannot reach 127.0.0.1:{port}: connection failed: ");
    for d in deliveries {
        let reason = d["reason"].as_str().unwrap();
        assert!(reason.starts_with(&expected), "{reason}");
        assert!(reason.to_lowercase().contains("refused"), "{reason}");
    }
    assert!(still_registered(&app, "gcm-token-1"), "nothing pruned");
}

/// Direct delivery throughput to the loopback fake FCM, until every outcome is flushed. A
/// measurement, not a check:
/// `cargo test --release --test api fcm_delivery_throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn fcm_delivery_throughput() {
    let fcm = FakeFcm::start();
    let app = spawn_app_with!(fcm_direct(&fcm));
    measure_throughput(&app, "FCM", 2000, |i| {
        app.register_token(RODRIQ,
            "gcm",
            &format!("device-{i}"),
            "chat.rocket.android",
        );
    });
}
