//! Push delivery against a fake gateway: exact bodies, id-only mode, 406 pruning, retries,
//! who is notified, restarts; and Rocket.Chat's own push.token / push.info / push.test cases.

use serde_json::{json, Value};

use crate::fake_gateway::FakeGateway;
use crate::helpers::*;

pub const DM: &str = "A7dm3kQzR9xYpW2bnd26x6zSkaPSe5gCyy";
const VB: &str = "iu7jtPAhvEeAS5tNq";
pub const DM_NOT_ID: i64 = -61971205;

/// The demo server, delivering to `gw` with short retry delays; `None` as `spawn_app_with!`.
fn app_with_gateway(
    gw: &FakeGateway,
    edit_seed: impl FnOnce(&mut Value),
) -> Option<(TestApp, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let seed = custom_seed(dir.path(), edit_seed);
    let url = gw.url.clone();
    let app = try_spawn_app_with(move |c| {
        c.seed.file = seed;
        c.settings.insert("Push_gateway".into(), json!(url));
        c.push.retry_delays_ms = vec![100, 100, 100];
        c.metrics.enabled = true;
    })?;
    Some((app, dir))
}

/// The body with its `createdAt` (a clock reading) checked and replaced by `"T"`.
fn normalised(body: &str) -> String {
    let mut v: Value = serde_json::from_str(body).unwrap();
    let created = v["options"]["createdAt"]
        .as_str()
        .expect("createdAt")
        .to_string();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    v["options"]["createdAt"] = json!("T");
    v.to_string()
}

/// Waits until a counter reaches `value`: the gateway sees a request a moment before the
/// server has recorded its outcome. The bound only ends a run that would never get there: a
/// loaded two-core box once took over 10 s after a restart on PostgreSQL.
pub fn wait_for_metric(app: &TestApp, name: &str, value: i64) {
    let start = std::time::Instant::now();
    while app.metric(name) < value {
        assert!(
            start.elapsed().as_secs() < 60,
            "{name} stayed below {value}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Prints how many pushes per second one message to `devices` devices (registered by
/// `register_device`) delivers to `transport`'s fake, until every outcome is flushed.
pub fn measure_throughput(
    app: &TestApp,
    transport: &str,
    devices: i64,
    register_device: impl Fn(i64),
) {
    for i in 0..devices {
        register_device(i);
    }
    let start = std::time::Instant::now();
    app.post_message(ALICE, DM, "to every device");
    wait_for_metric(app, "rcpush_pushes_sent_total", devices);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "delivered {devices} pushes to {transport} in {secs:.3} s: {:.0} pushes/s",
        devices as f64 / secs
    );
}

#[test]
fn message_pushes_reach_the_gateway_exactly_as_rocket_chat_sends_them() {
    let gw = FakeGateway::start();
    let Some((app, _dir)) = app_with_gateway(&gw, |_| {}) else {
        return;
    };
    app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    app.register_token(RODRIQ, "apn", "apn-rodriq", "chat.rocket.ios");
    app.register_token(ALICE, "gcm", "gcm-alice", "chat.rocket.android");
    let mid = app.post_message(ALICE, DM, "hello :wave:").id;
    let got = gw.wait_for(2);
    gw.settles_at(2);
    let options = |topic: &str| {
        format!(
            r#"{topic}"createdAt":"T","createdBy":"<SERVER>","sent":false,"sending":0,"title":"alice","text":"hello 👋","from":"push","userId":"d26x6zSkaPSe5gCyy","payload":{{"host":"http://localhost:3000/","messageId":"{mid}","notificationType":"message","rid":"{DM}","sender":{{"_id":"A7dm3kQzR9xYpW2bn","username":"alice","name":"Alice Example"}},"senderName":"alice","type":"d"}},"badge":3,"sound":"default","notId":{DM_NOT_ID},"apn":{{"category":"MESSAGE"}},"gcm":{{"image":"http://localhost:3000/images/logo/android-chrome-192x192.png","style":"inbox"}},"uniqueId":"E8A88JP-rcpush-demo""#
        )
    };
    let mut by_path: Vec<_> = got
        .iter()
        .map(|r| (r.path.clone(), normalised(&r.body)))
        .collect();
    by_path.sort();
    assert_eq!(
        by_path,
        [
            (
                "/push/apn/send".to_string(),
                format!(
                    r#"{{"token":"apn-rodriq","options":{{{}}}}}"#,
                    options(r#""topic":"chat.rocket.ios","#)
                )
            ),
            (
                "/push/gcm/send".to_string(),
                format!(r#"{{"token":"gcm-rodriq","options":{{{}}}}}"#, options(""))
            ),
        ]
    );
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    assert_eq!(got[0].header("authorization"), None);
    wait_for_metric(&app, "rcpush_pushes_sent_total", 2);
    assert_eq!(app.metric("rcpush_pushes_sent_total"), 2);
    assert_eq!(app.metric("rcpush_push_outbox_length"), 0);
}

/// A message's pushes go to the devices registered when it was written, whatever
/// registrations change while they wait: the retries of the first message still go to the
/// removed device and never to the new one, and the next message goes to the new one only.
#[test]
fn pushes_go_to_the_devices_as_of_the_message() {
    let gw = FakeGateway::start();
    let Some((app, _dir)) = app_with_gateway(&gw, |_| {}) else {
        return;
    };
    app.register_token(RODRIQ, "gcm", "gcm-old", "chat.rocket.android");
    // Failed twice, so that the device changes come while the push still waits.
    gw.answer(&[500, 500]);
    let first = app.post_message(ALICE, DM, "before the change").id;
    app.register_token(RODRIQ, "gcm", "gcm-new", "chat.rocket.android");
    let removed = app.delete(
        "/api/v1/push.token",
        Some(RODRIQ),
        &json!({"token": "gcm-old"}),
    );
    assert_eq!(removed.status, 200, "{}", removed.body);
    gw.wait_for(3);
    gw.settles_at(3);
    let second = app.post_message(ALICE, DM, "after the change").id;
    let got = gw.wait_for(4);
    gw.settles_at(4);
    let sent: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["token"].as_str().unwrap().to_string(),
                body["options"]["payload"]["messageId"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let old = ("gcm-old".to_string(), first);
    assert_eq!(
        sent,
        [
            old.clone(),
            old.clone(),
            old,
            ("gcm-new".to_string(), second)
        ]
    );
    wait_for_metric(&app, "rcpush_pushes_sent_total", 2);
    assert_eq!(app.metric("rcpush_push_outbox_length"), 0);
}

#[test]
fn metrics_are_off_unless_enabled() {
    let app = spawn_app!();
    let r = app.get("/metrics", None);
    assert_eq!(r.status, 404);
    assert_eq!(r.body, r#"{"success":false,"error":"Resource not found"}"#);
}

#[test]
fn metrics_need_the_bearer_token_when_one_is_configured() {
    let app = spawn_app_with!(|c| {
        c.metrics.enabled = true;
        c.metrics.token = "scrape-s3cret".to_string().into();
    });
    let get = |authorization: Option<&str>| {
        let mut req = ureq::get(&format!("{}/metrics", app.url));
        if let Some(a) = authorization {
            req = req.set("Authorization", a);
        }
        match req.call() {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
            Err(e) => panic!("{e}"),
        }
    };
    let unauthorized = (
        401,
        r#"{"success":false,"error":"unauthorized"}"#.to_string(),
    );
    assert_eq!(get(None), unauthorized);
    assert_eq!(get(Some("Bearer wrong")), unauthorized);
    assert_eq!(get(Some("scrape-s3cret")), unauthorized);
    let (status, body) = get(Some("Bearer scrape-s3cret"));
    assert_eq!(status, 200);
    assert!(body.contains("rcpush_pushes_queued_total 0"), "{body}");
}

#[test]
fn id_only_mode_sends_only_the_message_id() {
    let gw = FakeGateway::start();
    let Some((app, _dir)) = app_with_gateway(&gw, |_| {}) else {
        return;
    };
    let admin = app.admin();
    let r = app.post(
        "/api/v1/settings/Push_request_content_from_server",
        auth(&admin),
        &json!({"value": true}),
    );
    assert_eq!(r.status, 200);
    app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    let mid = app.post_message(ALICE, DM, "secret plans").id;
    let body = normalised(&gw.wait_for(1)[0].body);
    assert_eq!(
        body,
        format!(
            r#"{{"token":"gcm-rodriq","options":{{"createdAt":"T","createdBy":"<SERVER>","sent":false,"sending":0,"title":"","text":"You have a new message","from":"push","userId":"d26x6zSkaPSe5gCyy","payload":{{"host":"http://localhost:3000/","messageId":"{mid}","notificationType":"message-id-only"}},"badge":3,"sound":"default","notId":{DM_NOT_ID},"apn":{{"category":"MESSAGE"}},"gcm":{{"image":"http://localhost:3000/images/logo/android-chrome-192x192.png","style":"inbox"}},"uniqueId":"E8A88JP-rcpush-demo"}}}}"#
        )
    );
    assert!(!body.contains("secret"));
    // The phone then fetches the content, which push.get always returns in full.
    let r = app.get(&format!("/api/v1/push.get?id={mid}"), Some(RODRIQ));
    assert_eq!(r.json()["data"]["notification"]["text"], "secret plans");
}

/// `Subscriptions.getBadgeCount` sums `unread` over subscriptions that are not archived:
/// a message in an archived room raises that room's `unread` but not the badge its push
/// carries, and the push and push.get agree on it.
#[test]
fn the_push_badge_leaves_out_archived_subscriptions() {
    let gw = FakeGateway::start();
    let Some((app, _dir)) = app_with_gateway(&gw, |seed| {
        for sub in seed["subscriptions"].as_array_mut().unwrap() {
            if sub["rid"] == DM && sub["u"]["_id"] == RODRIQ.0 {
                sub["archived"] = json!(true);
            }
        }
    }) else {
        return;
    };
    app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    let mid = app.post_message(ALICE, DM, "in the archive").id;
    let body: Value = serde_json::from_str(&gw.wait_for(1)[0].body).unwrap();
    // The private group's one unread message; the DM's two are archived.
    assert_eq!(body["options"]["badge"], 1, "{body}");
    let r = app.get(
        &format!("/api/v1/subscriptions.getOne?roomId={DM}"),
        Some(RODRIQ),
    );
    assert_eq!(r.json()["subscription"]["unread"], 2);
    let r = app.get(&format!("/api/v1/push.get?id={mid}"), Some(RODRIQ));
    assert_eq!(r.json()["data"]["notification"]["badge"], 1);
}

#[test]
fn a_406_removes_every_registration_of_the_token() {
    let gw = FakeGateway::start();
    let Some((app, _dir)) = app_with_gateway(&gw, |_| {}) else {
        return;
    };
    app.register_token(RODRIQ, "gcm", "dead-token", "chat.rocket.android");
    app.register_token(RODRIQ, "gcm", "live-token", "chat.rocket.android");
    gw.answer_for_token("dead-token", 406);
    app.post_message(ALICE, DM, "anyone there?");
    gw.wait_for(2);
    gw.settles_at(2);
    let gone = app.delete(
        "/api/v1/push.token",
        Some(RODRIQ),
        &json!({"token": "dead-token"}),
    );
    assert_eq!(gone.status, 404, "pruned");
    let kept = app.delete(
        "/api/v1/push.token",
        Some(RODRIQ),
        &json!({"token": "live-token"}),
    );
    assert_eq!(kept.status, 200);
    wait_for_metric(&app, "rcpush_push_tokens_pruned_total", 1);
    assert_eq!(app.metric("rcpush_push_tokens_pruned_total"), 1);
}

#[test]
fn failed_attempts_are_retried_with_the_same_body_then_dropped() {
    let gw = FakeGateway::start();
    let Some((app, _dir)) = app_with_gateway(&gw, |_| {}) else {
        return;
    };
    app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    gw.answer(&[500, 503]);
    app.post_message(ALICE, DM, "third time lucky");
    let got = gw.wait_for(3);
    gw.settles_at(3);
    assert!(
        got.iter().all(|r| r.body == got[0].body),
        "retries resend the same push"
    );
    wait_for_metric(&app, "rcpush_pushes_retried_total", 2);
    assert_eq!(app.metric("rcpush_pushes_retried_total"), 2);
    wait_for_metric(&app, "rcpush_pushes_sent_total", 1);
    assert_eq!(app.metric("rcpush_pushes_sent_total"), 1);
    // 422 is final; four failures exhaust the three retries.
    gw.answer(&[422, 500, 500, 500, 500]);
    app.post_message(ALICE, DM, "rejected");
    app.post_message(ALICE, DM, "never delivered");
    gw.wait_for(8);
    gw.settles_at(8);
    wait_for_metric(&app, "rcpush_pushes_dropped_total", 2);
    assert_eq!(app.metric("rcpush_pushes_dropped_total"), 2);
    assert_eq!(app.metric("rcpush_push_outbox_length"), 0);
}

#[test]
fn an_unreachable_gateway_is_retried() {
    let gw = FakeGateway::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let Some((app, _dir)) = app_with_gateway(&gw, |_| {}) else {
        return;
    };
    let admin = app.admin();
    let set_gateway = |url: &str| {
        let r = app.post(
            "/api/v1/settings/Push_gateway",
            auth(&admin),
            &json!({"value": url}),
        );
        assert_eq!(r.status, 200);
    };
    set_gateway(&closed_url);
    app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    app.post_message(ALICE, DM, "is the gateway up?");
    wait_for_metric(&app, "rcpush_pushes_retried_total", 1);
    set_gateway(&gw.url);
    gw.wait_for(1);
    wait_for_metric(&app, "rcpush_pushes_sent_total", 1);
}

#[test]
fn senders_and_members_who_opted_out_get_no_push() {
    let gw = FakeGateway::start();
    let Some((app, _dir)) = app_with_gateway(&gw, |bundle| {
        for sub in bundle["subscriptions"].as_array_mut().unwrap() {
            if sub["rid"] == VB && sub["u"]["username"] == "bob" {
                sub["mobilePushNotifications"] = json!("nothing");
            }
            if sub["rid"] == VB && sub["u"]["username"] == "gina" {
                sub["disableNotifications"] = json!(true);
            }
        }
    }) else {
        return;
    };
    for (who, token) in [
        (RODRIQ, "t-rodriq"),
        (ALICE, "t-alice"),
        (BOB, "t-bob"),
        (GINA, "t-gina"),
    ] {
        app.register_token(who, "gcm", token, "chat.rocket.android");
    }
    app.post_message(ALICE, VB, "@all lunch?");
    let got = gw.wait_for(1);
    gw.settles_at(1);
    assert_eq!(got[0].json()["token"], "t-rodriq");
    assert_eq!(got[0].json()["options"]["text"], "alice: @all lunch?");
}

#[test]
fn pending_pushes_survive_a_restart() {
    let gw = FakeGateway::start();
    let Some((mut app, _dir)) = app_with_gateway(&gw, |_| {}) else {
        return;
    };
    app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    gw.answer(&[500; 5]);
    let sent: Vec<String> = (0..5)
        .map(|i| app.post_message(ALICE, DM, &format!("message {i}")).id)
        .collect();
    gw.wait_for(5);
    app.restart(|c| c.push.retry_delays_ms = vec![100, 100, 100]);
    let got = gw.wait_for(10);
    gw.settles_at(10);
    let mut delivered: Vec<String> = got[5..]
        .iter()
        .map(|r| {
            r.json()["options"]["payload"]["messageId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    delivered.sort();
    let mut expected = sent;
    expected.sort();
    assert_eq!(
        delivered, expected,
        "every pending push delivered once after the restart"
    );
}

const UNAUTHORIZED: &str = r#"{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}"#;

/// `apps/meteor/tests/end-to-end/api/push.ts` (7.x), request by request.
#[test]
fn rocket_chat_push_token_cases() {
    let app = spawn_app!();
    let admin = app.admin();
    let who = auth(&admin);
    let r = app.post(
        "/api/v1/push.token",
        None,
        &json!({"type": "gcm", "value": "token", "appName": "com.example.rocketchat"}),
    );
    assert_eq!((r.status, r.body.as_str()), (401, UNAUTHORIZED));
    for (body, error_type) in [
        (
            json!({"value": "token", "appName": "com.example.rocketchat"}),
            "error-type-param-not-valid",
        ),
        (
            json!({"type": "gcm", "appName": "com.example.rocketchat"}),
            "error-token-param-not-valid",
        ),
        (
            json!({"type": "gcm", "value": "token"}),
            "error-appName-param-not-valid",
        ),
        (
            json!({"type": "unknownPlatform"}),
            "error-type-param-not-valid",
        ),
        (
            json!({"type": "gcm", "appName": "com.example.rocketchat", "value": ""}),
            "error-token-param-not-valid",
        ),
        (
            json!({"id": 5, "type": "gcm", "value": "token", "appName": "x"}),
            "error-id-param-not-valid",
        ),
    ] {
        let r = app.post("/api/v1/push.token", who, &body);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["success"], false);
        assert_eq!(r.json()["errorType"], error_type, "{body}");
    }
    let r = app.post(
        "/api/v1/push.token",
        who,
        &json!({"type": "gcm", "value": "token", "appName": "com.example.rocketchat"}),
    );
    assert_eq!(r.status, 200);
    let result = r.json()["result"].clone();
    assert_eq!(
        keys(&result),
        [
            "token",
            "authToken",
            "appName",
            "userId",
            "enabled",
            "createdAt",
            "updatedAt",
            "metadata",
            "_id",
            "_updatedAt"
        ]
    );
    assert_eq!(result["token"], json!({"gcm": "token"}));
    assert_eq!(result["userId"], admin.0.as_str());
    assert_eq!(
        result["authToken"].as_str().unwrap().len(),
        44,
        "the hash, never the token"
    );

    let r = app.delete("/api/v1/push.token", None, &json!({"token": "token"}));
    assert_eq!(r.status, 401);
    for body in [json!({}), json!({"token": ""})] {
        let r = app.delete("/api/v1/push.token", who, &body);
        assert_eq!(
            (r.status, r.json()["errorType"].as_str()),
            (400, Some("error-token-param-not-valid"))
        );
    }
    let r = app.delete("/api/v1/push.token", who, &json!({"token": "123"}));
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, r#"{"success":false,"error":"Resource not found"}"#)
    );
    let r = app.delete("/api/v1/push.token", who, &json!({"token": "token"}));
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"success":true}"#));
    let r = app.delete("/api/v1/push.token", who, &json!({"token": "token"}));
    assert_eq!(r.status, 404);
}

#[test]
fn re_registration_deduplicates_and_moves_ownership() {
    let app = spawn_app!();
    let first = app.register_token(RODRIQ, "apn", "shared", "chat.rocket.ios").json()["result"].clone();
    let id = first["_id"].as_str().unwrap().to_string();
    // Same device again: the previous document comes back, no duplicate is made.
    let again = app.register_token(RODRIQ, "apn", "shared", "chat.rocket.ios").json()["result"].clone();
    assert_eq!(again["_id"], id.as_str());
    assert_eq!(keys(&again)[0], "_id", "the stored document, as it was");
    // Re-registration by id replaces the token.
    let r = app.post(
        "/api/v1/push.token",
        Some(RODRIQ),
        &json!({"id": id, "type": "apn", "value": "rotated", "appName": "chat.rocket.ios"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        app.delete(
            "/api/v1/push.token",
            Some(RODRIQ),
            &json!({"token": "shared"})
        )
        .status,
        404
    );
    // Another user registering the same token takes it over.
    app.register_token(ALICE, "apn", "rotated", "chat.rocket.ios");
    assert_eq!(
        app.delete(
            "/api/v1/push.token",
            Some(RODRIQ),
            &json!({"token": "rotated"})
        )
        .status,
        404
    );
    assert_eq!(
        app.delete(
            "/api/v1/push.token",
            Some(ALICE),
            &json!({"token": "rotated"})
        )
        .status,
        200
    );
}

#[test]
fn logout_removes_the_sessions_push_tokens() {
    let app = spawn_app!();
    let session = app.login("rodriq", "rodriq-demo");
    app.register_token((&session.0, &session.1),
        "apn",
        "session-device",
        "chat.rocket.ios",
    );
    app.register_token(RODRIQ, "gcm", "other-device", "chat.rocket.android");
    assert_eq!(
        app.post("/api/v1/logout", auth(&session), &json!({}))
            .status,
        200
    );
    assert_eq!(
        app.delete(
            "/api/v1/push.token",
            Some(RODRIQ),
            &json!({"token": "session-device"})
        )
        .status,
        404
    );
    assert_eq!(
        app.delete(
            "/api/v1/push.token",
            Some(RODRIQ),
            &json!({"token": "other-device"})
        )
        .status,
        200
    );
}

#[test]
fn rocket_chat_push_test_and_push_info_cases() {
    let gw = FakeGateway::start();
    let Some((app, _dir)) = app_with_gateway(&gw, |_| {}) else {
        return;
    };
    let admin = app.admin();
    let set = |id: &str, value: Value| {
        let r = app.post(
            &format!("/api/v1/settings/{id}"),
            auth(&admin),
            &json!({ "value": value }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    set("Push_enable", json!(false));
    let r = app.post("/api/v1/push.test", None, &json!({}));
    assert_eq!((r.status, r.body.as_str()), (401, UNAUTHORIZED));
    let r = app.post("/api/v1/push.test", auth(&admin), &json!({}));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"Push is disabled [error-push-disabled]","errorType":"error-push-disabled","details":{"method":"push_test"}}"#
        )
    );
    assert_eq!(app.get("/api/v1/push.info", None).status, 401);
    set("Push_gateway", json!("https://random-gateway.rocket.chat"));
    let r = app.get("/api/v1/push.info", auth(&admin));
    assert_eq!(
        r.body,
        r#"{"pushGatewayEnabled":false,"defaultPushGateway":false,"success":true}"#
    );
    set("Push_gateway", json!("https://gateway.rocket.chat"));
    let r = app.get("/api/v1/push.info", auth(&admin));
    assert_eq!(
        r.body,
        r#"{"pushGatewayEnabled":false,"defaultPushGateway":true,"success":true}"#
    );

    // With push on: no devices, then one; guests may not; one call per second for users.
    set("Push_enable", json!(true));
    set("Push_gateway", json!(gw.url));
    let r = app.post("/api/v1/push.test", Some(RODRIQ), &json!({}));
    assert_eq!(r.json()["errorType"], "error-no-tokens-for-this-user");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    let r = app.post("/api/v1/push.test", Some(RODRIQ), &json!({}));
    assert_eq!(r.body, r#"{"tokensCount":1,"success":true}"#);
    let r = app.post("/api/v1/push.test", Some(RODRIQ), &json!({}));
    assert_eq!(r.status, 429);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .ends_with("[error-too-many-requests]"));
    let r = app.post("/api/v1/push.test", Some(GINA), &json!({}));
    assert_eq!(r.status, 403);
    let body = normalised(&gw.wait_for(1)[0].body);
    assert_eq!(
        body,
        r#"{"token":"gcm-rodriq","options":{"createdAt":"T","createdBy":"<SERVER>","sent":false,"sending":0,"title":"@rodriq","text":"This is a push test message","from":"push","userId":"d26x6zSkaPSe5gCyy","sound":"default","uniqueId":"E8A88JP-rcpush-demo"}}"#
    );
}

/// Delivery throughput to the loopback fake gateway. A measurement, not a check:
/// `cargo test --release --test api delivery_throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn delivery_throughput() {
    let gw = FakeGateway::start();
    let Some((app, _dir)) = app_with_gateway(&gw, |_| {}) else {
        return;
    };
    measure_throughput(&app, "the gateway", 2000, |i| {
        app.register_token(RODRIQ,
            "gcm",
            &format!("device-{i}"),
            "chat.rocket.android",
        );
    });
}

/// Each queued push reaches the gateway once while the outbox is busy. Found by
/// `benchmarks/write.py`, whose gateway counts distinct bodies: the scheduler read a batch of
/// due pushes, and a push whose attempt finished (leaving `in_flight`) after that read was
/// handed out again from the stale batch; about one push in ten went twice, each repeat cost
/// a flushed write, and `rcpush_push_outbox_length` went below zero.
#[test]
fn each_push_reaches_the_gateway_once() {
    let gw = FakeGateway::start();
    let Some((app, _dir)) = app_with_gateway(&gw, |_| {}) else {
        return;
    };
    let devices = 20;
    for i in 0..devices {
        app.register_token(RODRIQ,
            "gcm",
            &format!("once-{i}"),
            "chat.rocket.android",
        );
    }
    let messages = 20;
    for i in 0..messages {
        app.post_message(ALICE, DM, &format!("message {i}"));
    }
    let pushes = devices * messages;
    gw.wait_for(pushes);
    // Longer than the scheduler's idle wait (1 s): any repeat has been sent by then.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let received = gw.received();
    let distinct: std::collections::HashSet<&str> =
        received.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(distinct.len(), pushes, "every push arrived");
    assert_eq!(
        received.len(),
        pushes,
        "{} requests repeated a push already sent",
        received.len() - pushes
    );
    assert_eq!(app.metric("rcpush_push_outbox_length"), 0);
}
