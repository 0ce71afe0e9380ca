//! `channels.info` / `groups.info`, `channels.delete` / `groups.delete`, `channels.rename`:
//! what test set-ups and bots call around the rooms they use.

use serde_json::{json, Value};

use crate::helpers::{auth, keys, spawn_app, spawn_app_with, TestApp, ALICE, BOB, GINA, RODRIQ};

const VB: &str = "iu7jtPAhvEeAS5tNq";
const CORE_TEAM: &str = "PrvGrp8sKq3mZ7wTx";

fn no_channel() -> &'static str {
    r#"{"success":false,"error":"The required \"roomId\" or \"roomName\" param provided does not match any channel [error-room-not-found]","errorType":"error-room-not-found"}"#
}

fn no_group() -> &'static str {
    r#"{"success":false,"error":"The required \"roomId\" or \"roomName\" param provided does not match any group [error-room-not-found]","errorType":"error-room-not-found"}"#
}

/// A channel `name` owned by bob with alice in it; returns its id.
fn bobs_channel(app: &TestApp, name: &str) -> String {
    let r = app.post(
        "/api/v1/channels.create",
        Some(BOB),
        &json!({"name": name, "members": ["alice"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["channel"]["_id"].as_str().unwrap().to_string()
}

#[test]
fn channels_info_and_groups_info_return_the_room_as_stored() {
    let app = spawn_app!();
    for query in [format!("roomId={VB}"), "roomName=vb".to_string()] {
        // Any logged-in user, a guest too, sees a public channel's info.
        for who in [BOB, GINA] {
            let r = app.get(&format!("/api/v1/channels.info?{query}"), Some(who));
            assert_eq!(r.status, 200, "{}", r.body);
            let j = r.json();
            assert_eq!(keys(&j), ["channel", "success"]);
            assert_eq!(j["channel"]["_id"], VB);
            assert_eq!(j["channel"]["name"], "vb");
            assert_eq!(keys(&j["channel"])[0], "_id");
        }
    }
    for query in [
        "roomId=nope",
        "roomName=nope",
        "",
        &format!("roomId={CORE_TEAM}"),
    ] {
        let r = app.get(&format!("/api/v1/channels.info?{query}"), Some(BOB));
        assert_eq!((r.status, r.body.as_str()), (400, no_channel()), "{query}");
    }
    let r = app.get(
        &format!("/api/v1/groups.info?roomId={CORE_TEAM}"),
        Some(ALICE),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["group"]["name"], "core-team");
    // Not a member: as if there were no such group.
    let r = app.get(
        &format!("/api/v1/groups.info?roomId={CORE_TEAM}"),
        Some(BOB),
    );
    assert_eq!((r.status, r.body.as_str()), (400, no_group()));
    let r = app.get(&format!("/api/v1/groups.info?roomId={VB}"), Some(BOB));
    assert_eq!(r.body, no_group());
}

#[test]
fn channels_delete_drops_messages_subscriptions_and_pending_pushes() {
    let app = spawn_app_with!(|c| c.metrics.enabled = true);
    let rid = bobs_channel(&app, "doomed");
    let r = app.post(
        "/api/v1/push.token",
        Some(ALICE),
        &json!({"type": "gcm", "value": "alice-device", "appName": "chat.rocket.android"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(BOB),
        &json!({"roomId": rid, "text": "soon gone"}),
    );
    let msg = r.json()["message"]["_id"].as_str().unwrap().to_string();
    // The gateway is closed: the push waits in the outbox for its retry.
    assert_eq!(app.metric("rcpush_push_outbox_length"), 1);

    // Only those who may: alice is a member, not an owner.
    let r = app.post(
        "/api/v1/channels.delete",
        Some(ALICE),
        &json!({"roomId": rid}),
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"Not allowed [error-not-allowed]","errorType":"error-not-allowed","details":{"method":"eraseRoom"}}"#
        )
    );
    let r = app.post(
        "/api/v1/channels.delete",
        Some(BOB),
        &json!({"roomName": "doomed"}),
    );
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"success":true}"#));

    assert_eq!(app.metric("rcpush_push_outbox_length"), 0);
    let r = app.get(&format!("/api/v1/chat.getMessage?msgId={msg}"), Some(BOB));
    assert_eq!((r.status, r.body.as_str()), (400, r#"{"success":false}"#));
    let r = app.get(&format!("/api/v1/push.get?id={msg}"), Some(ALICE));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"error-message-not-found"}"#
    );
    let r = app.get(&format!("/api/v1/channels.info?roomId={rid}"), Some(BOB));
    assert_eq!(r.body, no_channel());
    let r = app.get("/api/v1/subscriptions.get", Some(ALICE));
    let subs = r.json()["update"].clone();
    let rooms: Vec<&Value> = subs.as_array().unwrap().iter().map(|s| &s["rid"]).collect();
    assert!(!rooms.contains(&&json!(rid)), "{rooms:?}");
    let r = app.post(
        "/api/v1/channels.delete",
        Some(BOB),
        &json!({"roomId": rid}),
    );
    assert_eq!(r.body, no_channel());
    // The name is free again.
    bobs_channel(&app, "doomed");
}

#[test]
fn groups_delete_needs_membership_and_delete_p() {
    let app = spawn_app!();
    let r = app.post(
        "/api/v1/groups.delete",
        Some(BOB),
        &json!({"roomId": CORE_TEAM}),
    );
    assert_eq!((r.status, r.body.as_str()), (400, no_group()));
    // rodriq is a member but not an owner.
    let r = app.post(
        "/api/v1/groups.delete",
        Some(RODRIQ),
        &json!({"roomId": CORE_TEAM}),
    );
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Not allowed [error-not-allowed]","errorType":"error-not-allowed","details":{"method":"eraseRoom"}}"#
    );
    let r = app.post(
        "/api/v1/groups.delete",
        Some(ALICE),
        &json!({"roomId": CORE_TEAM}),
    );
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"success":true}"#));
    let r = app.get(
        "/api/v1/chat.getMessage?msgId=PrvMsg3kT7wZq2RbX",
        Some(ALICE),
    );
    assert_eq!(r.body, r#"{"success":false}"#);
    let r = app.get(
        &format!("/api/v1/subscriptions.getOne?roomId={CORE_TEAM}"),
        Some(RODRIQ),
    );
    assert_eq!(r.json()["subscription"], Value::Null);
}

#[test]
fn channels_rename_renames_the_room_and_its_subscriptions() {
    let app = spawn_app!();
    let rid = bobs_channel(&app, "old-name");
    let rename = |who, body: Value| app.post("/api/v1/channels.rename", Some(who), &body);
    let r = rename(BOB, json!({"roomId": rid}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"The bodyParam \"name\" is required"}"#
    );
    let r = rename(BOB, json!({"roomId": rid, "name": "old-name"}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"The channel name is the same as what it would be renamed to."}"#
    );
    let r = rename(ALICE, json!({"roomId": rid, "name": "alices"}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Editing room is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"saveRoomSettings","action":"Editing_room"}}"#
    );
    let r = rename(BOB, json!({"roomId": rid, "name": "vb"}));
    assert_eq!(r.json()["errorType"], "error-duplicate-channel-name");
    let r = rename(BOB, json!({"roomId": rid, "name": "no spaces"}));
    assert_eq!(r.json()["errorType"], "error-invalid-room-name");

    let r = rename(BOB, json!({"roomName": "old-name", "name": "new-name"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let room = &r.json()["channel"];
    assert_eq!(
        (&room["name"], &room["fname"]),
        (&json!("new-name"), &json!("new-name"))
    );
    let r = app.get(
        &format!("/api/v1/subscriptions.getOne?roomId={rid}"),
        Some(ALICE),
    );
    let sub = &r.json()["subscription"];
    assert_eq!(
        (&sub["name"], &sub["fname"]),
        (&json!("new-name"), &json!("new-name"))
    );
    let r = app.get("/api/v1/channels.info?roomName=new-name", Some(ALICE));
    assert_eq!(r.json()["channel"]["_id"], rid.as_str());
    let r = app.get("/api/v1/channels.info?roomName=old-name", Some(ALICE));
    assert_eq!(r.body, no_channel());
    // An admin may rename any channel.
    let admin = app.admin();
    let r = app.post(
        "/api/v1/channels.rename",
        auth(&admin),
        &json!({"roomId": rid, "name": "admins-name"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}
