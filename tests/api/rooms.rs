//! Rooms, messages, subscriptions and settings endpoints.

use serde_json::json;

use crate::helpers::*;

#[test]
fn channels_and_groups_are_created_with_their_owner_and_members() {
    let app = spawn_app!();
    let r = app.post(
        "/api/v1/channels.create",
        Some(ALICE),
        &json!({"name": "garden", "members": ["bob", "ghost"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let room = r.json()["channel"].clone();
    assert_eq!(
        keys(&room),
        [
            "_id",
            "fname",
            "_updatedAt",
            "name",
            "t",
            "msgs",
            "usersCount",
            "u",
            "ts",
            "ro"
        ]
    );
    assert_eq!(
        (room["t"].as_str(), room["usersCount"].as_i64()),
        (Some("c"), Some(2))
    );
    let r = app.post(
        "/api/v1/channels.create",
        Some(BOB),
        &json!({"name": "garden"}),
    );
    assert_eq!(r.json()["errorType"], "error-duplicate-channel-name");
    let r = app.post("/api/v1/channels.create", Some(BOB), &json!({}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Param \"name\" is required"}"#
    );
    let r = app.post(
        "/api/v1/channels.create",
        Some(GINA),
        &json!({"name": "guests-cannot"}),
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, r#"{"success":false,"error":"unauthorized"}"#)
    );
    let r = app.post(
        "/api/v1/groups.create",
        Some(GINA),
        &json!({"name": "nor-this"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "Not allowed [error-not-allowed]");

    let r = app.post(
        "/api/v1/groups.create",
        Some(BOB),
        &json!({"name": "bob-only"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rid = r.json()["group"]["_id"].as_str().unwrap().to_string();
    let r = app.get(
        &format!("/api/v1/subscriptions.getOne?roomId={rid}"),
        Some(BOB),
    );
    let sub = r.json()["subscription"].clone();
    assert_eq!(sub["roles"], json!(["owner"]));
    assert_eq!(sub["u"]["username"], "bob");
    let r = app.get(
        &format!("/api/v1/subscriptions.getOne?roomId={rid}"),
        Some(ALICE),
    );
    assert_eq!(r.body, r#"{"subscription":null,"success":true}"#);
    // The last owner cannot leave.
    let r = app.post("/api/v1/groups.leave", Some(BOB), &json!({"roomId": rid}));
    assert_eq!(r.json()["errorType"], "error-you-are-last-owner");
}

#[test]
fn direct_messages_use_the_sorted_user_ids_as_room_id() {
    let app = spawn_app!();
    for path in ["/api/v1/im.create", "/api/v1/dm.create"] {
        let r = app.post(path, Some(BOB), &json!({"username": "alice"}));
        assert_eq!(r.status, 200, "{}", r.body);
        let rid = format!("{}{}", ALICE.0, BOB.0);
        assert_eq!(
            r.body,
            format!(
                r#"{{"room":{{"t":"d","rid":"{rid}","usernames":["alice","bob"],"_id":"{rid}"}},"success":true}}"#
            )
        );
    }
    let r = app.post(
        "/api/v1/im.create",
        Some(BOB),
        &json!({"username": "ghost"}),
    );
    assert_eq!(r.json()["error"], "Invalid user [error-invalid-user]");
}

#[test]
fn messages_are_checked_and_stored_in_rocket_chat_order() {
    let app = spawn_app!();
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(BOB),
        &json!({"channel": "#vb", "text": "see https://rocket.chat and #vb @all"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["channel"], "#vb");
    assert!(j["ts"].is_i64());
    let m = &j["message"];
    assert_eq!(
        keys(m),
        [
            "alias",
            "msg",
            "attachments",
            "parseUrls",
            "groupable",
            "ts",
            "u",
            "rid",
            "urls",
            "mentions",
            "channels",
            "md",
            "_id"
        ]
    );
    assert_eq!(
        m["urls"],
        json!([{"url": "https://rocket.chat", "meta": {}}])
    );
    assert_eq!(m["mentions"], json!([{"_id": "all", "username": "all"}]));
    assert_eq!(
        m["channels"],
        json!([{"_id": "iu7jtPAhvEeAS5tNq", "fname": "vb", "name": "vb"}])
    );
    let id = m["_id"].as_str().unwrap();
    let r = app.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(RODRIQ));
    assert_eq!(r.status, 200);
    let stored = r.json()["message"].clone();
    let stored_order = keys(&stored);
    assert_eq!(stored_order[0], "_id");
    assert_eq!(*stored_order.last().unwrap(), "_updatedAt");
    // @all raised everyone else's unread count in the channel.
    let r = app.get(
        "/api/v1/subscriptions.getOne?roomId=iu7jtPAhvEeAS5tNq",
        Some(ALICE),
    );
    assert_eq!(r.json()["subscription"]["unread"], 1);
    assert_eq!(r.json()["subscription"]["groupMentions"], 1);

    // Outsiders cannot post or read; bad rooms and system messages are refused.
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(BOB),
        &json!({"roomId": "PrvGrp8sKq3mZ7wTx", "text": "let me in"}),
    );
    assert_eq!(r.body, r#"{"success":false,"error":"error-not-allowed"}"#);
    let r = app.get("/api/v1/chat.getMessage?msgId=PrvMsg3kT7wZq2RbX", Some(BOB));
    assert_eq!(r.status, 400);
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(BOB),
        &json!({"roomId": "nowhere", "text": "x"}),
    );
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"[invalid-channel]","errorType":"invalid-channel"}"#
    );
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(BOB),
        &json!({"message": {"rid": "iu7jtPAhvEeAS5tNq", "msg": "x", "t": "uj"}}),
    );
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Cannot send system messages using 'chat.sendMessage'"}"#
    );
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(BOB),
        &json!({"message": {"msg": "x"}}),
    );
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"The 'rid' property on the message object is missing."}"#
    );
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(BOB),
        &json!({"message": {"rid": ["iu7jtPAhvEeAS5tNq"], "msg": "x"}}),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn subscriptions_list_the_callers_rooms() {
    let app = spawn_app!();
    let r = app.get("/api/v1/subscriptions.get", Some(RODRIQ));
    let j = r.json();
    assert_eq!(j["update"].as_array().unwrap().len(), 3);
    assert_eq!(j["remove"], json!([]));
    let r = app.get(
        "/api/v1/subscriptions.get?updatedSince=2030-01-01T00:00:00.000Z",
        Some(RODRIQ),
    );
    assert_eq!(r.json()["update"], json!([]));
    let r = app.get("/api/v1/subscriptions.get?updatedSince=soon", Some(RODRIQ));
    assert_eq!(r.status, 400);
    let r = app.post(
        "/api/v1/subscriptions.read",
        Some(RODRIQ),
        &json!({"rid": "nowhere"}),
    );
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"error-invalid-subscription"}"#
    );
}

#[test]
fn settings_are_admin_only_and_typed() {
    let app = spawn_app!();
    let admin = app.admin();
    let r = app.get("/api/v1/settings/uniqueID", auth(&admin));
    assert_eq!(
        r.body,
        r#"{"_id":"uniqueID","value":"E8A88JP-rcpush-demo","success":true}"#
    );
    let r = app.get("/api/v1/settings/uniqueID", Some(RODRIQ));
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"User does not have the permissions required for this action [error-unauthorized]"}"#
    );
    let r = app.post(
        "/api/v1/settings/Push_show_message",
        Some(RODRIQ),
        &json!({"value": false}),
    );
    assert_eq!(r.status, 403);
    let r = app.post(
        "/api/v1/settings/Push_show_message",
        auth(&admin),
        &json!({"value": "no"}),
    );
    assert_eq!((r.status, r.body.as_str()), (400, r#"{"success":false}"#));
    let r = app.get("/api/v1/settings/Nope", auth(&admin));
    assert_eq!((r.status, r.body.as_str()), (400, r#"{"success":false}"#));
}

#[test]
fn subscriptions_get_one_and_read_validate_their_parameters() {
    let app = spawn_app!();
    let r = app.get("/api/v1/subscriptions.getOne", Some(ALICE));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"must have required property 'roomId' [invalid-params]","errorType":"invalid-params"}"#
        )
    );
    let r = app.get("/api/v1/subscriptions.getOne?roomId=", Some(ALICE));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"The 'roomId' param is required"}"#
    );
    let read = |body: serde_json::Value| app.post("/api/v1/subscriptions.read", Some(ALICE), &body);
    for bad in [
        json!({}),
        json!({"rid": 12345}),
        json!({"rid": "iu7jtPAhvEeAS5tNq", "roomId": "PrvGrp8sKq3mZ7wTx"}),
    ] {
        let r = read(bad.clone());
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["errorType"], "invalid-params", "{bad}");
    }
    let r = read(json!({"rid": 12345}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"must be string [invalid-params]","errorType":"invalid-params"}"#
    );
    let r = read(json!({"rid": "foobar123-somechannel"}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"error-invalid-subscription"}"#
    );
    let r = read(json!({"rid": "iu7jtPAhvEeAS5tNq", "roomId": "iu7jtPAhvEeAS5tNq"}));
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn im_create_can_exclude_the_caller_and_names_group_dms_as_rocket_chat_does() {
    let app = spawn_app!();
    let admin = app.admin();
    let r = app.post(
        "/api/v1/im.create",
        auth(&admin),
        &json!({"usernames": "bob,alice", "excludeSelf": true}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rid = format!("{}{}", ALICE.0, BOB.0);
    assert_eq!(
        r.body,
        format!(
            r#"{{"room":{{"t":"d","rid":"{rid}","usernames":["alice","bob"],"_id":"{rid}"}},"success":true}}"#
        )
    );
    let r = app.get(
        &format!("/api/v1/subscriptions.getOne?roomId={rid}"),
        auth(&admin),
    );
    assert_eq!(r.json()["subscription"], serde_json::Value::Null);
    for who in [ALICE, BOB] {
        let r = app.get(
            &format!("/api/v1/subscriptions.getOne?roomId={rid}"),
            Some(who),
        );
        assert_eq!(r.json()["subscription"]["open"], true);
    }

    // A group DM: each member's subscription names the others, ordered by display name.
    let r = app.post(
        "/api/v1/im.create",
        Some(RODRIQ),
        &json!({"usernames": "bob,alice"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let room = r.json()["room"].clone();
    assert_eq!(room["usernames"], json!(["alice", "bob", "rodriq"]));
    let rid = room["rid"].as_str().unwrap();
    let sub = |who| {
        app.get(
            &format!("/api/v1/subscriptions.getOne?roomId={rid}"),
            Some(who),
        )
        .json()["subscription"]
            .clone()
    };
    let (alice, bob, rodriq) = (sub(ALICE), sub(BOB), sub(RODRIQ));
    assert_eq!(
        (&alice["fname"], &alice["name"]),
        (&json!("Bob Builder, Rodriq"), &json!("bob, rodriq"))
    );
    assert_eq!(bob["fname"], "Alice Example, Rodriq");
    assert_eq!(rodriq["fname"], "Alice Example, Bob Builder");
    assert_eq!(rodriq["name"], "alice, bob");
}

const VB: &str = "iu7jtPAhvEeAS5tNq";

/// `chat.sendMessage` of `message` by `who`; returns the new message's id.
fn send_message(app: &TestApp, who: (&str, &str), message: serde_json::Value) -> String {
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(who),
        &json!({ "message": message }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["message"]["_id"].as_str().unwrap().to_string()
}

/// `who`'s subscription to `#vb`.
fn vb_subscription(app: &TestApp, who: (&str, &str)) -> serde_json::Value {
    app.get(
        &format!("/api/v1/subscriptions.getOne?roomId={VB}"),
        Some(who),
    )
    .json()["subscription"]
        .clone()
}

fn stored_message(app: &TestApp, id: &str) -> serde_json::Value {
    app.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(BOB))
        .json()["message"]
        .clone()
}

#[test]
fn a_thread_reply_that_mentions_a_member_leaves_the_thread_unread_for_them() {
    let app = spawn_app!();
    let vb = VB;
    let thread = send_message(&app, BOB, json!({"rid": vb, "msg": "Starting a Thread"}));
    let reply = |text: &str| {
        send_message(&app, BOB, json!({"rid": vb, "msg": text, "tmid": thread}));
    };
    let sub = |who| vb_subscription(&app, who);
    reply("@alice making alice follow this thread");
    let s = sub(ALICE);
    assert_eq!(s["tunread"], json!([thread]));
    assert_eq!(s["tunreadUser"], json!([thread]));
    assert!(s.get("tunreadGroup").is_none());
    // Not mentioned: nothing.
    assert!(sub(RODRIQ).get("tunread").is_none());

    // Read without the threads: they stay unread, and so does the alert.
    let read = |threads: Option<bool>| {
        let mut body = json!({"rid": vb});
        if let Some(t) = threads {
            body["readThreads"] = json!(t);
        }
        let r = app.post("/api/v1/subscriptions.read", Some(ALICE), &body);
        assert_eq!(r.status, 200, "{}", r.body);
    };
    read(Some(false));
    let s = sub(ALICE);
    assert_eq!(s["tunread"], json!([thread]));
    assert_eq!((&s["unread"], &s["alert"]), (&json!(0), &json!(true)));
    reply("@alice again");
    assert_eq!(sub(ALICE)["tunread"], json!([thread]));
    read(None);
    assert_eq!(sub(ALICE)["tunread"], json!([thread]));
    read(Some(true));
    let s = sub(ALICE);
    assert!(
        s.get("tunread").is_none() && s.get("tunreadUser").is_none(),
        "{s}"
    );
    assert_eq!(s["alert"], false);
    let r = app.post(
        "/api/v1/subscriptions.read",
        Some(ALICE),
        &json!({"rid": vb, "readThreads": "yes"}),
    );
    assert_eq!(r.json()["errorType"], "invalid-params");
}

#[test]
fn thread_replies_update_the_parent_and_tell_its_followers() {
    let app = spawn_app!();
    let vb = VB;
    let send = |who, body| send_message(&app, who, body);
    let sub = |who| vb_subscription(&app, who);
    let thread = send(BOB, json!({"rid": vb, "msg": "a thread"}));
    send(
        ALICE,
        json!({"rid": vb, "msg": "first reply", "tmid": thread}),
    );
    let parent = stored_message(&app, &thread);
    assert_eq!(parent["replies"], json!([BOB.0, ALICE.0]));
    assert_eq!(parent["tcount"], 1);
    let order = keys(&parent);
    assert_eq!(order[order.len() - 3..], ["replies", "tcount", "tlm"]);
    // The author follows: the thread is unread for bob, not as a mention.
    let bob = sub(BOB);
    assert_eq!(bob["tunread"], json!([thread]));
    assert!(bob.get("tunreadUser").is_none() && bob.get("tunreadGroup").is_none());
    assert!(sub(RODRIQ).get("tunread").is_none());

    // @all in a thread: every follower but the replier gets it as a group mention.
    send(
        RODRIQ,
        json!({"rid": vb, "msg": "@all look", "tmid": thread}),
    );
    let parent = stored_message(&app, &thread);
    assert_eq!(parent["replies"], json!([BOB.0, ALICE.0, RODRIQ.0]));
    assert_eq!(parent["tcount"], 2);
    for who in [BOB, ALICE] {
        let s = sub(who);
        assert_eq!(s["tunread"], json!([thread]));
        assert_eq!(s["tunreadGroup"], json!([thread]));
    }
    assert!(sub(RODRIQ).get("tunread").is_none());
}
