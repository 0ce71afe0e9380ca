//! End-to-end encryption's server side: new private groups and DMs marked `encrypted` by
//! default, plain messages refused in encrypted rooms when the workspace says so, and
//! encrypted messages (`t: "e2e"`) stored as sent and pushed as "Encrypted message".

use serde_json::{json, Value};

use crate::helpers::{keys, spawn_app, TestApp, ALICE, BOB};

fn create(app: &TestApp, what: &str, body: Value) -> Value {
    let r = app.post(&format!("/api/v1/{what}.create"), Some(ALICE), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[test]
fn new_private_groups_and_dms_are_encrypted_only_when_the_workspace_says_so() {
    let mut app = spawn_app!();
    app.set_setting("E2E_Enabled_Default_PrivateRooms", json!(true));
    app.set_setting("E2E_Enabled_Default_DirectRooms", json!(true));
    // Off while E2E_Enable is off.
    let g = create(&app, "groups", json!({"name": "plain-group"}))["group"].clone();
    assert_eq!(g.get("encrypted"), None);

    app.set_setting("E2E_Enable", json!(true));
    let g = create(&app, "groups", json!({"name": "secret-group"}))["group"].clone();
    assert_eq!(
        keys(&g)[..5],
        ["_id", "fname", "_updatedAt", "encrypted", "name"]
    );
    assert_eq!(g["encrypted"], true);
    // The creator's own choice stands.
    let g = create(
        &app,
        "groups",
        json!({"name": "open-group", "extraData": {"encrypted": false}}),
    )["group"]
        .clone();
    assert_eq!(g["encrypted"], false);
    // Public channels are never encrypted by default.
    let c = create(&app, "channels", json!({"name": "town-square"}))["channel"].clone();
    assert_eq!(c.get("encrypted"), None);

    let r = app.post("/api/v1/im.create", Some(ALICE), &json!({"username": "bob"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let rid = r.json()["room"]["rid"].as_str().unwrap().to_string();
    app.stop();
    let room = app.open_store().room(&rid).unwrap().expect("the DM");
    let room = serde_json::to_value(&*room).unwrap();
    assert_eq!(room["encrypted"], true, "{room}");
    let order = keys(&room);
    let uids = order.iter().position(|k| *k == "uids").unwrap();
    assert_eq!(order[uids + 1], "encrypted");
}

#[test]
fn plain_messages_into_encrypted_rooms_are_refused_when_not_allowed() {
    let app = spawn_app!();
    app.set_setting("E2E_Enable", json!(true));
    app.set_setting("E2E_Enabled_Default_PrivateRooms", json!(true));
    let rid = create(
        &app,
        "groups",
        json!({"name": "secret-group", "members": ["bob"]}),
    )["group"]["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let send = |message: Value| {
        app.post(
            "/api/v1/chat.sendMessage",
            Some(BOB),
            &json!({ "message": message }),
        )
    };
    // Allowed by default (E2E_Allow_Unencrypted_Messages is on).
    let r = send(json!({"rid": rid, "msg": "hello"}));
    assert_eq!(r.status, 200, "{}", r.body);

    app.set_setting("E2E_Allow_Unencrypted_Messages", json!(false));
    let r = send(json!({"rid": rid, "msg": "hello"}));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"Not allowed to send un-encrypted messages in an encrypted room [error-not-allowed]","errorType":"error-not-allowed","details":{"method":"sendMessage"}}"#
        )
    );
    // `processWebhookMessage` does not check (as in Rocket.Chat).
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(BOB),
        &json!({"roomId": rid, "text": "from a bot"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // An encrypted message is stored as sent, without `md`, and pushed generically.
    let content = json!({"algorithm": "rc.v1.aes-sha2", "ciphertext": "Zm9vYmFy"});
    let r = send(json!({"rid": rid, "msg": "", "t": "e2e", "e2e": "pending", "content": content}));
    assert_eq!(r.status, 200, "{}", r.body);
    let m = r.json()["message"].clone();
    assert_eq!((m["t"].as_str(), m["e2e"].as_str()), (Some("e2e"), Some("pending")));
    assert_eq!(m["content"], content);
    assert_eq!(m.get("md"), None);
    let r = send(json!({"rid": rid, "msg": "b2xkLXN0eWxl", "t": "e2e"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["message"]["_id"].as_str().unwrap().to_string();
    let r = app.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(ALICE));
    assert_eq!(r.json()["message"]["msg"], "b2xkLXN0eWxl");
    assert_eq!(r.json()["message"].get("md"), None);
    let r = app.push_get(&id, ALICE);
    assert_eq!(
        r.json()["data"]["notification"]["text"],
        "bob: Encrypted message",
        "{}",
        r.body
    );

    // Any other type is still a system message, refused.
    let r = send(json!({"rid": rid, "msg": "x", "t": "uj"}));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"Cannot send system messages using 'chat.sendMessage'"}"#
        )
    );
}

/// The `sendMessage` method (through REST `method.call`) keeps the same rule and passes on
/// Rocket.Chat's reason.
#[test]
fn the_send_message_method_refuses_plain_messages_as_rocket_chat_words_it() {
    let app = spawn_app!();
    app.set_setting("E2E_Enable", json!(true));
    app.set_setting("E2E_Allow_Unencrypted_Messages", json!(false));
    let rid = create(
        &app,
        "groups",
        json!({"name": "secret-group", "members": ["bob"], "extraData": {"encrypted": true}}),
    )["group"]["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let call = |message: Value| -> Value {
        let frame = json!({"msg": "method", "id": "7", "method": "sendMessage", "params": [message]});
        let r = app.post(
            "/api/v1/method.call/sendMessage",
            Some(BOB),
            &json!({ "message": frame.to_string() }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str(r.json()["message"].as_str().unwrap()).unwrap()
    };
    let refused = call(json!({"rid": rid, "msg": "hello"}));
    assert_eq!(
        refused["error"],
        json!({
            "isClientSafe": true,
            "error": "error-not-allowed",
            "reason": "Not allowed to send un-encrypted messages in an encrypted room",
            "details": {"method": "sendMessage"},
            "message": "Not allowed to send un-encrypted messages in an encrypted room [error-not-allowed]",
            "errorType": "Meteor.Error"
        })
    );
    let sent = call(json!({"rid": rid, "msg": "Zm9vYmFy", "t": "e2e", "e2e": "pending"}));
    assert_eq!(sent["result"]["t"], "e2e", "{sent}");
    assert_eq!(sent["result"].get("md"), None);
}
