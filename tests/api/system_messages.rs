//! System messages as Rocket.Chat writes them on membership changes and renames: stored in
//! the room, counted in `msgs`, the room's `lastMessage`; no unread, no push.

use serde_json::{json, Value};

use crate::helpers::{auth, key_order, keys, spawn_app_with, TestApp, ALICE, BOB, RODRIQ};

const CORE_TEAM: &str = "PrvGrp8sKq3mZ7wTx";

fn group(app: &TestApp) -> Value {
    let r = app.get(
        &format!("/api/v1/groups.info?roomId={CORE_TEAM}"),
        Some(ALICE),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["group"].clone()
}

fn unread(app: &TestApp, who: (&str, &str), rid: &str) -> Value {
    app.get(
        &format!("/api/v1/subscriptions.getOne?roomId={rid}"),
        Some(who),
    )
    .json()["subscription"]["unread"]
        .clone()
}

fn outbox(app: &TestApp) -> String {
    let r = app.get("/metrics", None);
    r.body
        .lines()
        .find(|l| l.starts_with("rcpush_push_outbox_length "))
        .unwrap()
        .to_string()
}

/// Checks the room's last message is a system message of type `t` about `msg` by `by`.
fn assert_last(room: &Value, t: &str, msg: &str, by: &Value) -> Value {
    let last = room["lastMessage"].clone();
    assert_eq!(
        keys(&last),
        [
            "_id",
            "t",
            "rid",
            "ts",
            "msg",
            "u",
            "groupable",
            "_updatedAt"
        ]
    );
    assert_eq!((&last["t"], &last["msg"]), (&json!(t), &json!(msg)));
    assert_eq!(&last["u"], by);
    assert_eq!(last["groupable"], false);
    assert_eq!(room["lm"], last["ts"]);
    last
}

#[test]
fn membership_changes_write_system_messages_without_unread_or_push() {
    let app = spawn_app_with!(|c| c.metrics.enabled = true);
    let r = app.post(
        "/api/v1/push.token",
        Some(RODRIQ),
        &json!({"type": "gcm", "value": "rodriq-device", "appName": "chat.rocket.android"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let (msgs, rodriq_unread, pushes) = (
        group(&app)["msgs"].as_i64().unwrap(),
        unread(&app, RODRIQ, CORE_TEAM),
        outbox(&app),
    );

    // au: the added user's name, by the inviter.
    let r = app.post(
        "/api/v1/groups.invite",
        Some(ALICE),
        &json!({"roomId": CORE_TEAM, "username": "bob"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let room = group(&app);
    let au = assert_last(
        &room,
        "au",
        "bob",
        &json!({"_id": ALICE.0, "username": "alice"}),
    );
    assert_eq!(room["msgs"], msgs + 1);
    assert_eq!(unread(&app, RODRIQ, CORE_TEAM), rodriq_unread);
    // The added user's subscription stands out as `addUserToRoom` makes it.
    let r = app.get(
        &format!("/api/v1/subscriptions.getOne?roomId={CORE_TEAM}"),
        Some(BOB),
    );
    let sub = r.json()["subscription"].clone();
    assert_eq!(keys(&sub), key_order::SUBSCRIPTION);
    assert_eq!(
        (
            &sub["open"],
            &sub["alert"],
            &sub["unread"],
            &sub["userMentions"]
        ),
        (&json!(true), &json!(true), &json!(1), &json!(1))
    );
    assert_eq!(outbox(&app), pushes);
    let id = au["_id"].as_str().unwrap();
    let r = app.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(RODRIQ));
    assert_eq!(r.json()["message"], au);
    let r = app.get(&format!("/api/v1/push.get?id={id}"), Some(RODRIQ));
    assert_eq!(r.status, 200, "{}", r.body);

    // ru: the removed user's name, by the remover.
    let r = app.post(
        "/api/v1/groups.kick",
        Some(ALICE),
        &json!({"roomId": CORE_TEAM, "username": "bob"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let alice = json!({"_id": ALICE.0, "username": "alice", "name": "Alice Example"});
    assert_last(&group(&app), "ru", "bob", &alice);

    // ul: the leaving user, by themself.
    let r = app.post(
        "/api/v1/groups.leave",
        Some(RODRIQ),
        &json!({"roomId": CORE_TEAM}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let room = group(&app);
    assert_last(
        &room,
        "ul",
        "rodriq",
        &json!({"_id": RODRIQ.0, "username": "rodriq", "name": "Rodriq"}),
    );
    assert_eq!(room["msgs"], msgs + 3);
    assert_eq!(outbox(&app), pushes);
}

#[test]
fn renames_and_new_users_write_r_and_uj() {
    let app = spawn_app_with!(|_| {});
    let r = app.post(
        "/api/v1/channels.create",
        Some(BOB),
        &json!({"name": "before"}),
    );
    let rid = r.json()["channel"]["_id"].as_str().unwrap().to_string();
    let r = app.post(
        "/api/v1/channels.rename",
        Some(BOB),
        &json!({"roomId": rid, "name": "after"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let bob = json!({"_id": BOB.0, "username": "bob", "name": "Bob Builder"});
    assert_last(&r.json()["channel"], "r", "after", &bob);
    assert_eq!(r.json()["channel"]["msgs"], 1);

    let admin = app.admin();
    let r = app.post(
        "/api/v1/users.create",
        auth(&admin),
        &json!({"email": "nia@example.com", "name": "Nia", "password": "nia-pass", "username": "nia"}),
    );
    let nia = r.json()["user"]["_id"].clone();
    let r = app.get("/api/v1/channels.info?roomId=GENERAL", auth(&admin));
    let general = r.json()["channel"].clone();
    assert_last(
        &general,
        "uj",
        "nia",
        &json!({"_id": nia, "username": "nia", "name": "Nia"}),
    );
    // The admin joined silently at the first start: only nia's join is there.
    assert_eq!(general["msgs"], 1);
}
