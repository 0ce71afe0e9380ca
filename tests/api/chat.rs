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
    let app = spawn_app();
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
    let app = spawn_app();
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

#[test]
fn alias_and_avatar_need_message_impersonate() {
    let app = spawn_app();
    let r = post(
        &app,
        BOB,
        json!({"channel": "#vb", "text": "x", "alias": "Gruggy"}),
    );
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Not enough permission"}"#
    );
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(BOB),
        &json!({"message": {"rid": "iu7jtPAhvEeAS5tNq", "msg": "x", "avatar": "http://site.com/logo.png"}}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Not enough permission"}"#
    );
    // An emoji alone needs nothing, and is stored.
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(BOB),
        &json!({"message": {"rid": "iu7jtPAhvEeAS5tNq", "msg": "x", "emoji": ":smirk:"}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["message"]["emoji"], ":smirk:");
    // A wrongly typed field and a script avatar are refused before the permission.
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(BOB),
        &json!({"message": {"rid": "iu7jtPAhvEeAS5tNq", "msg": "x", "avatar": "javascript:alert(1)"}}),
    );
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Invalid href value provided"}"#
    );
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(BOB),
        &json!({"message": {"rid": "iu7jtPAhvEeAS5tNq", "msg": "x", "tshow": "yes"}}),
    );
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
    let app = spawn_app_with(|c| {
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
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(BOB),
        &json!({"message": {"rid": "iu7jtPAhvEeAS5tNq", "msg": "x", "alias": "Gruggy", "avatar": "/avatar/x"}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let m = &r.json()["message"];
    assert_eq!(
        (&m["alias"], &m["avatar"]),
        (&json!("Gruggy"), &json!("/avatar/x"))
    );
}

#[test]
fn chat_post_message_to_at_username_uses_or_creates_the_dm() {
    let app = spawn_app();
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
    let app = spawn_app();
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
    let app = spawn_app_with(|c| {
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
    let app = spawn_app();
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
