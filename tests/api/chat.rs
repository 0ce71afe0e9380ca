//! `chat.postMessage` and `chat.sendMessage` as Rocket.Chat's own REST tests and bots use
//! them: attachments, aliases and avatars, `@username`, the size check.

use serde_json::{json, Value};

use crate::helpers::{keys, spawn_app, spawn_app_with, ALICE, BOB, RODRIQ};

const DM_BOB_RODRIQ: &str = "B8fn4mRaS2yZqX3cpd26x6zSkaPSe5gCyy";

fn post(app: &crate::helpers::TestApp, who: (&str, &str), body: Value) -> crate::helpers::Resp {
    app.post("/api/v1/chat.postMessage", Some(who), &body)
}

/// The attachment of Rocket.Chat's own "postMessage successfully" test.
fn bot_attachment() -> Value {
    json!({
        "color": "#ff0000",
        "text": "Yay for gruggy!",
        "ts": "2016-12-09T16:53:06.761Z",
        "thumb_url": "http://res.guggy.com/logo_128.png",
        "message_link": "https://google.com",
        "collapsed": false,
        "author_name": "Bradley Hilton",
        "title": "Attachment Example",
        "title_link": "https://youtube.com",
        "title_link_download": true,
        "fields": [
            {"short": true, "title": "Test", "value": "Testing out something or other"},
            {"short": true, "title": "Another Test", "value": 3}
        ]
    })
}

#[test]
fn chat_post_message_stores_and_returns_attachments_without_parsing_urls() {
    let app = spawn_app!();
    let r = post(
        &app,
        BOB,
        json!({"channel": "vb", "text": "Sample message https://rocket.chat", "emoji": ":smirk:",
            "attachments": [bot_attachment(), {"msg": "  from msg  "}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let m = &r.json()["message"];
    assert_eq!(
        keys(m),
        [
            "alias",
            "msg",
            "attachments",
            "parseUrls",
            "groupable",
            "emoji",
            "ts",
            "u",
            "rid",
            "mentions",
            "channels",
            "md",
            "_id"
        ]
    );
    assert_eq!(m["parseUrls"], false);
    assert_eq!(m["emoji"], ":smirk:");
    assert_eq!(m["attachments"][0], bot_attachment());
    assert_eq!(m["attachments"][1], json!({"text": "from msg"}));
    let id = m["_id"].as_str().unwrap();
    let r = app.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(RODRIQ));
    let stored = &r.json()["message"];
    assert_eq!(stored["attachments"], m["attachments"]);
    assert!(stored.get("urls").is_none());
}

#[test]
fn chat_post_message_refuses_attachments_as_validate_message_does() {
    let app = spawn_app!();
    let with = |attachment: Value| {
        post(
            &app,
            BOB,
            json!({"channel": "vb", "text": "x", "attachments": [attachment]}),
        )
    };
    let mut a = bot_attachment();
    a["fields"][0]["title"] = json!(12);
    let r = with(a);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Match error: Match error: Expected string, got number in field title"}"#
    );
    let r = with(json!({"message_link": 12, "fields": ""}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Match error: Match error: Match error: Expected string, got number in field message_link"}"#
    );
    for key in [
        "message_link",
        "author_link",
        "title_link",
        "thumb_url",
        "author_icon",
        "image_url",
        "audio_url",
        "video_url",
    ] {
        let r = with(json!({ key: "javascript:alert(\"xss\")" }));
        assert_eq!(
            r.body, r#"{"success":false,"error":"Invalid href value provided"}"#,
            "{key}"
        );
    }
    let r = with(json!({"actions": [{"type": "button", "url": "javascript:alert(1)"}]}));
    assert_eq!(r.status, 400);
    let r = with(json!({"fields": [{"title": "no value"}]}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Invalid attachment field, title and value is required"}"#
    );
    // Nothing was stored.
    let r = app.get(
        "/api/v1/subscriptions.getOne?roomId=iu7jtPAhvEeAS5tNq",
        Some(ALICE),
    );
    assert_eq!(r.json()["subscription"]["unread"], 0);
}

/// `chat.sendMessage` into `#vb` of a message with `fields` besides its text.
fn send_to_vb(app: &crate::helpers::TestApp, fields: Value) -> crate::helpers::Resp {
    let mut message = json!({"rid": VB, "msg": "x"});
    for (k, v) in fields.as_object().unwrap() {
        message[k] = v.clone();
    }
    app.post(
        "/api/v1/chat.sendMessage",
        Some(BOB),
        &json!({ "message": message }),
    )
}

#[test]
fn chat_send_message_refuses_an_id_already_taken() {
    let app = spawn_app!();
    let r = send_to_vb(&app, json!({"_id": "bobsOwnId1"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send_to_vb(&app, json!({"_id": "bobsOwnId1", "msg": "again"}));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"error-message-already-exists"}"#
        )
    );
    // The first message stands as it was.
    let r = app.get("/api/v1/chat.getMessage?msgId=bobsOwnId1", Some(BOB));
    assert_eq!(r.json()["message"]["msg"], "x", "{}", r.body);
}

#[test]
fn alias_and_avatar_need_message_impersonate() {
    let app = spawn_app!();
    let r = post(
        &app,
        BOB,
        json!({"channel": "#vb", "text": "x", "alias": "Gruggy"}),
    );
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Not enough permission"}"#
    );
    let r = send_to_vb(&app, json!({"avatar": "http://site.com/logo.png"}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Not enough permission"}"#
    );
    // An emoji alone needs nothing, and is stored.
    let r = send_to_vb(&app, json!({"emoji": ":smirk:"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["message"]["emoji"], ":smirk:");
    // A wrongly typed field and a script avatar are refused before the permission.
    let r = send_to_vb(&app, json!({"avatar": "javascript:alert(1)"}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Invalid href value provided"}"#
    );
    let r = send_to_vb(&app, json!({"tshow": "yes"}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Match error: Match error: Expected boolean, got string in field tshow"}"#
    );
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(BOB),
        &json!({"message": {"rid": "iu7jtPAhvEeAS5tNq", "msg": "x", "customFields": {"a": 1}}}),
    );
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Custom fields not enabled"}"#
    );

    // With the permission, both are stored.
    let app = spawn_app_with!(|c| {
        c.permissions
            .insert("message-impersonate".into(), vec!["user".into()]);
    });
    let r = post(
        &app,
        BOB,
        json!({"channel": "#vb", "text": "x", "username": "CI", "icon_url": "https://ci.example/bot.png", "emoji": ":x:"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let m = &r.json()["message"];
    assert_eq!(m["alias"], "CI");
    assert_eq!(m["avatar"], "https://ci.example/bot.png");
    assert!(m.get("emoji").is_none());
    let r = send_to_vb(&app, json!({"alias": "Gruggy", "avatar": "/avatar/x"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let m = &r.json()["message"];
    assert_eq!(
        (&m["alias"], &m["avatar"]),
        (&json!("Gruggy"), &json!("/avatar/x"))
    );
}

#[test]
fn chat_post_message_to_at_username_uses_or_creates_the_dm() {
    let app = spawn_app!();
    let r = post(&app, BOB, json!({"channel": "@rodriq", "text": "hi"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["channel"], "@rodriq");
    assert_eq!(j["message"]["rid"], DM_BOB_RODRIQ);
    let r = app.get(
        &format!("/api/v1/subscriptions.getOne?roomId={DM_BOB_RODRIQ}"),
        Some(RODRIQ),
    );
    assert_eq!(r.json()["subscription"]["unread"], 1);
    // The same DM again, by user id without a prefix.
    let r = post(
        &app,
        BOB,
        json!({"roomId": "d26x6zSkaPSe5gCyy", "text": "again"}),
    );
    assert_eq!(r.json()["message"]["rid"], DM_BOB_RODRIQ);
    // Unknown users and rooms.
    for channel in ["@ghost", "#ghost", "ghost"] {
        let r = post(&app, BOB, json!({"channel": channel, "text": "x"}));
        assert_eq!(
            r.body,
            r#"{"success":false,"error":"[invalid-channel]","errorType":"invalid-channel"}"#
        );
    }
}

#[test]
fn chat_post_message_without_channel_or_room_id_is_an_invalid_channel() {
    let app = spawn_app!();
    let r = post(
        &app,
        BOB,
        json!({"text": "Sample message", "alias": "Gruggy", "emoji": ":smirk:",
            "avatar": "http://res.guggy.com/logo_128.png"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"[invalid-channel]","errorType":"invalid-channel"}"#
    );
}

#[test]
fn chat_post_message_checks_the_size_of_text_and_attachments_before_the_room() {
    let app = spawn_app_with!(|c| {
        c.settings
            .insert("Message_MaxAllowedSize".into(), json!(10));
    });
    let too_long = r#"{"success":false,"error":"error-message-size-exceeded"}"#;
    let r = post(
        &app,
        BOB,
        json!({"channel": "#nowhere", "text": "Text to test max limit allowed"}),
    );
    assert_eq!((r.status, r.body.as_str()), (400, too_long));
    let r = post(
        &app,
        BOB,
        json!({"channel": "#vb", "text": "ok", "attachments": [{"text": "Text to test max limit allowed"}]}),
    );
    assert_eq!((r.status, r.body.as_str()), (400, too_long));
    let r = post(
        &app,
        BOB,
        json!({"channel": "#vb", "text": "ok", "attachments": [{"text": "short"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn an_attachment_only_upload_is_notified_as_rocket_chat_words_it() {
    let app = spawn_app!();
    let r = post(
        &app,
        BOB,
        json!({"channel": "@rodriq", "attachments": [
            {"type": "file", "title": "cat.png", "image_url": "/file-upload/x/cat.png", "image_type": "image/png"}
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["message"]["_id"].as_str().unwrap().to_string();
    let r = app.get(&format!("/api/v1/push.get?id={id}"), Some(RODRIQ));
    assert_eq!(r.status, 200, "{}", r.body);
    let n = &r.json()["data"]["notification"];
    assert_eq!(n["title"], "bob");
    assert_eq!(n["text"], "Uploaded an image");
}

const VB: &str = "iu7jtPAhvEeAS5tNq";

fn bobs_message(app: &crate::helpers::TestApp, text: &str) -> String {
    let r = post(app, BOB, json!({"roomId": VB, "text": text}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["message"]["_id"].as_str().unwrap().to_string()
}

#[test]
fn chat_update_edits_the_text_and_what_push_get_returns() {
    let app = spawn_app!();
    let id = bobs_message(&app, "hello");
    let r = app.post(
        "/api/v1/chat.update",
        Some(BOB),
        &json!({"roomId": VB, "msgId": id, "text": "hello @alice https://rocket.chat"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let m = &r.json()["message"];
    assert_eq!(m["msg"], "hello @alice https://rocket.chat");
    assert_eq!(m["editedBy"], json!({"_id": BOB.0, "username": "bob"}));
    let order = keys(m);
    assert_eq!(order[0], "_id");
    assert_eq!(order[order.len() - 2..], ["editedAt", "editedBy"]);
    assert_eq!(m["mentions"][0]["username"], "alice");
    assert_eq!(
        m["urls"],
        json!([{"url": "https://rocket.chat", "meta": {}}])
    );
    let r = app.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(ALICE));
    assert_eq!(&r.json()["message"], m);
    let r = app.get(&format!("/api/v1/push.get?id={id}"), Some(ALICE));
    assert_eq!(
        r.json()["data"]["notification"]["text"],
        "bob: hello @alice https://rocket.chat"
    );
    // The same text again changes nothing.
    let r = app.post(
        "/api/v1/chat.update",
        Some(BOB),
        &json!({"roomId": VB, "msgId": id, "text": "hello @alice https://rocket.chat"}),
    );
    assert_eq!(&r.json()["message"], m);
}

#[test]
fn chat_update_refuses_as_rocket_chat_does() {
    let app = spawn_app!();
    let id = bobs_message(&app, "mine");
    let update = |who, body: Value| app.post("/api/v1/chat.update", Some(who), &body);
    let r = update(
        ALICE,
        json!({"roomId": VB, "msgId": id, "text": "yours now"}),
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"Message editing not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"updateMessage","action":"Message_editing"}}"#
        )
    );
    let r = update(BOB, json!({"roomId": VB, "msgId": "nope", "text": "x"}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"No message found with the id of \"nope\"."}"#
    );
    let r = update(
        BOB,
        json!({"roomId": "PrvGrp8sKq3mZ7wTx", "msgId": id, "text": "x"}),
    );
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"The room id provided does not match where the message is from."}"#
    );
    let r = update(BOB, json!({"msgId": id, "text": "x"}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"must have required property 'roomId' [invalid-params]","errorType":"invalid-params"}"#
    );
    let r = update(BOB, json!({"roomId": VB, "msgId": id, "text": 5}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"must be string [invalid-params]","errorType":"invalid-params"}"#
    );
    let r = update(
        BOB,
        json!({"roomId": VB, "msgId": id, "text": "x", "customFields": {"a": 1}}),
    );
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Custom fields not enabled"}"#
    );
    let r = update(
        BOB,
        json!({"roomId": VB, "msgId": id, "text": "x", "content": {}}),
    );
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Only encrypted messages can have content updated."}"#
    );
    // An admin may edit anyone's message (edit-message).
    let admin = app.admin();
    let r = update(
        (admin.0.as_str(), admin.1.as_str()),
        json!({"roomId": VB, "msgId": id, "text": "moderated"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["message"]["editedBy"]["username"], "admin");
}

#[test]
fn chat_delete_removes_the_message_for_every_reader() {
    let app = spawn_app!();
    let id = bobs_message(&app, "oops");
    let delete = |who, body: Value| app.post("/api/v1/chat.delete", Some(who), &body);
    let r = delete(ALICE, json!({"roomId": VB, "msgId": id}));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"Not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"deleteMessage","action":"Delete_message"}}"#
        )
    );
    let r = delete(ALICE, json!({"roomId": VB, "msgId": id, "asUser": true}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Unauthorized. You must have the permission \"force-delete-message\" to delete other's message as them."}"#
    );
    let r = delete(BOB, json!({"roomId": VB}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"must have required property 'msgId' [invalid-params]","errorType":"invalid-params"}"#
    );
    let r = delete(BOB, json!({"roomId": VB, "msgId": id}));
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(keys(&j), ["_id", "ts", "message", "success"]);
    assert_eq!(j["_id"], id.as_str());
    assert!(j["ts"].as_str().unwrap().parse::<i64>().is_ok());
    assert_eq!(keys(&j["message"]), ["_id", "u", "rid"]);
    assert_eq!(j["message"]["rid"], VB);

    let r = app.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(BOB));
    assert_eq!((r.status, r.body.as_str()), (400, r#"{"success":false}"#));
    let r = app.get(&format!("/api/v1/push.get?id={id}"), Some(ALICE));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"error-message-not-found"}"#
        )
    );
    let r = delete(BOB, json!({"roomId": VB, "msgId": id}));
    assert_eq!(
        r.body,
        format!(r#"{{"success":false,"error":"No message found with the id of \"{id}\"."}}"#)
    );

    // An admin deletes as the sender (force-delete-message).
    let other = bobs_message(&app, "spam");
    let admin = app.admin();
    let r = delete(
        (admin.0.as_str(), admin.1.as_str()),
        json!({"roomId": VB, "msgId": other, "asUser": true}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}
