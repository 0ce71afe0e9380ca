//! Testing mode (`--ephemeral`, `[testing] enabled`): captured pushes, the clock, reset; and
//! the 404 of its endpoints outside it. Testing mode is sled-only (`Config::validate`
//! refuses it on PostgreSQL), so its tests return early on the PostgreSQL run.

use rcpush::config::{Backend, Config};
use serde_json::{json, Value};

use crate::fake_gateway::FakeGateway;
use crate::helpers::*;

const DM: &str = "A7dm3kQzR9xYpW2bnd26x6zSkaPSe5gCyy";
const VB: &str = "iu7jtPAhvEeAS5tNq";

/// The demo server in testing mode, its gateway `gw` (which must hear nothing), for
/// `spawn_app_with!`.
fn testing_mode(gw: &FakeGateway) -> impl FnOnce(&mut Config) {
    let url = gw.url.clone();
    move |c| {
        c.testing.enabled = true;
        c.settings.insert("Push_gateway".into(), json!(url));
    }
}

fn captured(app: &TestApp) -> Vec<Value> {
    let r = app.get("/api/rcpush/testing/pushes", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(keys(&body), ["pushes", "success"]);
    body["pushes"].as_array().unwrap().clone()
}

#[test]
fn testing_endpoints_answer_rocket_chats_404_outside_testing_mode() {
    let app = spawn_app!();
    let not_found = r#"{"success":false,"error":"Resource not found"}"#;
    for r in [
        app.get("/api/rcpush/testing/pushes", None),
        app.delete("/api/rcpush/testing/pushes", None, &json!({})),
        app.post("/api/rcpush/testing/clock", None, &json!({"advance_ms": 1})),
        app.post("/api/rcpush/testing/reset", None, &json!({})),
        // A body the clock would refuse: the mode is checked before the body is read.
        app.post(
            "/api/rcpush/testing/clock",
            None,
            &json!({"advance_ms": -1}),
        ),
        app.post("/api/rcpush/testing/clock", None, &json!([1, 2])),
        Resp::of(
            ureq::post(&format!("{}/api/rcpush/testing/clock", app.url))
                .set("Content-Type", "application/json")
                .send_string("{not json"),
        ),
    ] {
        assert_eq!((r.status, r.body.as_str()), (404, not_found));
    }
}

#[test]
fn pushes_are_captured_in_order_with_their_exact_body_and_never_sent() {
    if crate::BACKEND == Backend::Postgres {
        return; // testing mode is sled-only
    }
    let gw = FakeGateway::start();
    let app = spawn_app_with!(testing_mode(&gw));
    for (kind, value, app_name) in [
        ("gcm", "gcm-rodriq", "chat.rocket.android"),
        ("apn", "apn-rodriq", "chat.rocket.ios"),
    ] {
        let body = json!({"type": kind, "value": value, "appName": app_name});
        let r = app.post("/api/v1/push.token", Some(RODRIQ), &body);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert!(captured(&app).is_empty());

    let first = app.post_message(ALICE, DM, "one").message;
    // Available as soon as the post is answered: no waiting.
    let pushes = captured(&app);
    assert_eq!(pushes.len(), 2);
    let second = app.post_message(ALICE, DM, "two").message;
    let pushes = captured(&app);
    assert_eq!(pushes.len(), 4);
    let summary: Vec<(String, String, String, String, i64)> = pushes
        .iter()
        .map(|p| {
            assert_eq!(keys(p), ["transport", "path", "body"]);
            let o = &p["body"]["options"];
            (
                p["transport"].as_str().unwrap().to_string(),
                p["path"].as_str().unwrap().to_string(),
                p["body"]["token"].as_str().unwrap().to_string(),
                o["payload"]["messageId"].as_str().unwrap().to_string(),
                o["badge"].as_i64().unwrap(),
            )
        })
        .collect();
    let row = |path: &str, token: &str, m: &Value, badge| {
        let id = m["_id"].as_str().unwrap().to_string();
        ("gateway".into(), path.into(), token.into(), id, badge)
    };
    let mut expected = vec![
        row("/push/gcm/send", "gcm-rodriq", &first, 3),
        row("/push/apn/send", "apn-rodriq", &first, 3),
        row("/push/gcm/send", "gcm-rodriq", &second, 4),
        row("/push/apn/send", "apn-rodriq", &second, 4),
    ];
    // Of one message's pushes the order of its devices is the store's.
    if summary[0].1 != expected[0].1 {
        expected.swap(0, 1);
        expected.swap(2, 3);
    }
    assert_eq!(summary, expected);
    assert_eq!(pushes[0]["body"]["options"]["text"], "one");

    let r = app.delete("/api/rcpush/testing/pushes", None, &json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["pushes"].as_array().unwrap().len(), 4);
    assert!(captured(&app).is_empty());
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(gw.received().is_empty(), "testing mode sent a push");
}

#[test]
fn the_clock_sets_message_times_and_moves_only_forward() {
    if crate::BACKEND == Backend::Postgres {
        return; // testing mode is sled-only
    }
    let gw = FakeGateway::start();
    let app = spawn_app_with!(testing_mode(&gw));
    let r = app.post(
        "/api/rcpush/testing/clock",
        None,
        &json!({"now": "2030-01-02T03:04:05.000Z"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.starts_with(r#"{"now":"2030-01-02T03:04:0"#),
        "{}",
        r.body
    );
    let m = app.post_message(ALICE, VB, "in 2030").message;
    let ts = m["ts"].as_str().unwrap();
    assert!(ts.starts_with("2030-01-02T03:04:"), "{ts}");

    let r = app.post(
        "/api/rcpush/testing/clock",
        None,
        &json!({"advance_ms": 86_400_000}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let m = app.post_message(ALICE, VB, "a day later").message;
    assert!(
        m["ts"].as_str().unwrap().starts_with("2030-01-03T03:04:"),
        "{m}"
    );

    let sub = app.get(
        &format!("/api/v1/subscriptions.getOne?roomId={VB}"),
        Some(BOB),
    );
    let updated = sub.json()["subscription"]["_updatedAt"].clone();
    assert!(
        updated.as_str().unwrap().starts_with("2030-01-03"),
        "{updated}"
    );

    let invalid = r#"{"success":false,"error":"Give {\"now\": \"<ISO date>\"} or {\"advance_ms\": <non-negative integer>} [error-invalid-clock]"}"#;
    for body in [
        json!({}),
        json!({"now": "tomorrow"}),
        json!({"advance_ms": -1}),
        json!({"advance_ms": "5"}),
        json!({"now": "2030-01-02T03:04:05.000Z", "advance_ms": 1}),
    ] {
        let r = app.post("/api/rcpush/testing/clock", None, &body);
        assert_eq!((r.status, r.body.as_str()), (400, invalid), "{body}");
    }
}

#[test]
fn reset_returns_to_the_start_up_state() {
    if crate::BACKEND == Backend::Postgres {
        return; // testing mode is sled-only
    }
    let gw = FakeGateway::start();
    let app = spawn_app_with!(testing_mode(&gw));
    let unread = |app: &TestApp| {
        let r = app.get(
            &format!("/api/v1/subscriptions.getOne?roomId={DM}"),
            Some(RODRIQ),
        );
        r.json()["subscription"]["unread"].clone()
    };
    let before = unread(&app);
    let first_admin = app.admin();
    let setting = app.get("/api/v1/settings/Push_show_message", auth(&first_admin));
    let body = json!({"type": "gcm", "value": "gcm-rodriq", "appName": "chat.rocket.android"});
    app.post("/api/v1/push.token", Some(RODRIQ), &body);
    let m = app.post_message(ALICE, DM, "soon gone").message;
    let admin = app.admin();
    let r = app.post(
        "/api/v1/settings/Push_show_message",
        auth(&admin),
        &json!({"value": false}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    app.post(
        "/api/rcpush/testing/clock",
        None,
        &json!({"advance_ms": 1_000_000_000_000i64}),
    );
    assert_ne!(unread(&app), before);
    assert_eq!(captured(&app).len(), 1);

    let r = app.post("/api/rcpush/testing/reset", None, &json!({}));
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"success":true}"#));

    assert_eq!(unread(&app), before);
    assert!(captured(&app).is_empty());
    let id = m["_id"].as_str().unwrap();
    let r = app.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(ALICE));
    assert_eq!(r.status, 400, "{}", r.body);
    // The admin's login token of after start-up is gone, the setting is back.
    let r = app.get("/api/v1/me", auth(&admin));
    assert_eq!(r.status, 401, "{}", r.body);
    let r = app.get("/api/v1/settings/Push_show_message", auth(&app.admin()));
    assert_eq!(r.body, setting.body);
    // The device registered after start-up is gone too: a post pushes nothing.
    app.post_message(ALICE, DM, "after the reset");
    assert!(captured(&app).is_empty());
    // The clock is the wall clock's again.
    let m = app.post_message(ALICE, VB, "now").message;
    let year: i32 = m["ts"].as_str().unwrap()[..4].parse().unwrap();
    assert!(year < 2900, "{m}");
}

/// The same requests, in order, and every answer's body.
fn session(app: &TestApp) -> Vec<String> {
    let mut bodies = Vec::new();
    let r = app.post(
        "/api/v1/login",
        None,
        &json!({"user": "admin", "password": ADMIN_PASSWORD}),
    );
    bodies.push(r.body.clone());
    let admin = (
        r.json()["data"]["userId"].as_str().unwrap().to_string(),
        r.json()["data"]["authToken"].as_str().unwrap().to_string(),
    );
    let body = json!({"type": "gcm", "value": "gcm-rodriq", "appName": "chat.rocket.android"});
    bodies.push(app.post("/api/v1/push.token", Some(RODRIQ), &body).body);
    let r = app.post(
        "/api/v1/channels.create",
        auth(&admin),
        &json!({"name": "replayed", "members": ["rodriq"]}),
    );
    bodies.push(r.body.clone());
    let rid = r.json()["channel"]["_id"].as_str().unwrap().to_string();
    for (who, rid, text) in [
        (auth(&admin), rid.as_str(), "hi"),
        (Some(ALICE), DM, "hello"),
    ] {
        let body = json!({"roomId": rid, "text": text});
        bodies.push(app.post("/api/v1/chat.postMessage", who, &body).body);
    }
    bodies.push(app.get("/api/rcpush/testing/pushes", None).body);
    bodies
}

#[test]
fn a_seeded_run_answers_byte_for_byte_the_same_and_again_after_a_reset() {
    if crate::BACKEND == Backend::Postgres {
        return; // testing mode is sled-only
    }
    let seeded = |seed| {
        move |c: &mut Config| {
            c.testing.enabled = true;
            c.testing.seed = Some(seed);
        }
    };
    let (a, b) = (spawn_app_with!(seeded(42)), spawn_app_with!(seeded(42)));
    let first = session(&a);
    assert_eq!(first, session(&b));
    assert!(first[0].contains(r#""authToken":"#), "{}", first[0]);
    assert!(
        first[3].contains(r#""ts":"2024-01-01T00:00:"#),
        "{}",
        first[3]
    );
    assert!(
        first[5].contains(r#""path":"/push/gcm/send""#),
        "{}",
        first[5]
    );

    let r = a.post("/api/rcpush/testing/reset", None, &json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(session(&a), first);
    assert_ne!(session(&spawn_app_with!(seeded(43))), first);
}

#[test]
fn push_test_s_rate_limit_follows_the_server_clock_and_a_reset_forgets_it() {
    if crate::BACKEND == Backend::Postgres {
        return; // testing mode is sled-only
    }
    let app = spawn_app_with!(|c| {
        c.testing.enabled = true;
        c.testing.seed = Some(1);
    });
    let push_test = || app.post("/api/v1/push.test", Some(RODRIQ), &json!({}));
    let register = || {
        let body = json!({"type": "gcm", "value": "gcm-rodriq", "appName": "chat.rocket.android"});
        app.post("/api/v1/push.token", Some(RODRIQ), &body);
    };
    let too_many = r#"{"success":false,"error":"Error, too many requests. Please slow down. You must wait 1 seconds before trying this endpoint again. [error-too-many-requests]"}"#;
    register();
    assert_eq!(push_test().body, r#"{"tokensCount":1,"success":true}"#);
    // However long the wall clock waits, the server's clock has not moved a second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = push_test();
    assert_eq!((r.status, r.body.as_str()), (429, too_many));
    app.post(
        "/api/rcpush/testing/clock",
        None,
        &json!({"advance_ms": 1000}),
    );
    assert_eq!(push_test().status, 200);
    assert_eq!(captured(&app).len(), 2);

    app.post("/api/rcpush/testing/reset", None, &json!({}));
    register();
    assert_eq!(push_test().status, 200);
    let pushes = captured(&app);
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0]["path"], "/push/gcm/send");
    assert_eq!(
        pushes[0]["body"]["options"]["text"],
        "This is a push test message"
    );
}

/// Testing mode hashes its admin's password cheaply at start (`Cost::Testing`); the first
/// login replaces that hash with a full one. The password works before and after, a wrong
/// one never, and a reset brings back the start-up hash, which still verifies.
#[test]
fn the_testing_admin_logs_in_before_and_after_its_hash_is_upgraded() {
    if crate::BACKEND == Backend::Postgres {
        return;
    }
    let app = spawn_app_with!(|c: &mut Config| c.testing.enabled = true);
    let wrong = json!({"user": "admin", "password": "not-the-password"});
    for _ in 0..2 {
        let (id, _) = app.admin();
        assert!(!id.is_empty());
        assert_eq!(app.post("/api/v1/login", None, &wrong).status, 401);
    }
    let r = app.post("/api/rcpush/testing/reset", None, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    app.admin();
}

/// A throwaway database (`TestServer`, `--ephemeral`) is removed at exit, so its writes are
/// answered without syncing the disk; testing mode on a kept database still syncs before
/// each answer.
#[test]
fn only_a_throwaway_database_answers_writes_without_syncing_the_disk() {
    if crate::BACKEND == Backend::Postgres {
        return;
    }
    let kept = spawn_app_with!(|c: &mut Config| {
        c.testing.enabled = true;
        c.metrics.enabled = true;
    });
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = Config::load(Some(&root.join("config.toml")), Vec::new()).expect("config");
    config.seed.file = root.join("data/seed.json").display().to_string();
    config.admin.password = ADMIN_PASSWORD.into();
    config.metrics.enabled = true;
    let throwaway = rcpush::testing::TestServer::start(config).expect("the test server starts");
    let throwaway_client = Client::new(throwaway.url());
    let post = json!({"roomId": DM, "text": "durable?"});
    for client in [&*kept, &throwaway_client] {
        let r = client.post("/api/v1/chat.postMessage", Some(ALICE), &post);
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(client.metric("rcpush_store_commits_total") > 0);
    }
    assert!(kept.metric("rcpush_store_flushes_total") > 0);
    assert_eq!(throwaway_client.metric("rcpush_store_flushes_total"), 0);
}
