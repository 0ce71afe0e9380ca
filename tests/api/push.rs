//! `GET /api/v1/push.get`: the documented example, every error path, the access matrix.

use serde_json::json;

use crate::helpers::*;

/// The documentation page's example response, compact, byte for byte.
const DOCUMENTED: &str = r##"{"data":{"message":{"_id":"WkbwSntxt8D3jLp8G","rid":"iu7jtPAhvEeAS5tNq","msg":"fsfs","ts":"2021-10-22T14:29:23.581Z","u":{"_id":"d26x6zSkaPSe5gCyy","username":"rodriq","name":"Rodriq"},"urls":[],"mentions":[],"channels":[],"md":[{"type":"PARAGRAPH","value":[{"type":"PLAIN_TEXT","value":"fsfs"}]}],"_updatedAt":"2021-10-22T14:29:23.603Z"},"notification":{"from":"push","badge":2,"sound":"default","priority":10,"title":"#vb","text":"rodriq: fsfs","payload":{"host":"http://localhost:3000/","messageId":"WkbwSntxt8D3jLp8G","notificationType":"message","rid":"iu7jtPAhvEeAS5tNq","sender":{"_id":"d26x6zSkaPSe5gCyy","username":"rodriq","name":"Rodriq"},"senderName":"rodriq","type":"c","name":"vb"},"userId":"d26x6zSkaPSe5gCyy","notId":654494840,"gcm":{"style":"inbox","image":"http://localhost:3000/images/logo/android-chrome-192x192.png"},"apn":{"category":"MESSAGE"}}},"success":true}"##;

const UNAUTHORIZED: &str = r#"{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}"#;

const VB_MESSAGE: &str = "WkbwSntxt8D3jLp8G";
const GROUP_MESSAGE: &str = "PrvMsg3kT7wZq2RbX";
const DM_MESSAGE: &str = "DmMsg5hR8tYw3QzKa";
const DISCUSSION_MESSAGE: &str = "DscMsg2pW9xRt4YbN";

#[test]
fn push_get_returns_the_documented_example_byte_for_byte() {
    let app = spawn_app!();
    let r = app.push_get(VB_MESSAGE, RODRIQ);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, DOCUMENTED);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
}

#[test]
fn push_get_accepts_lower_case_headers_extra_params_and_a_trailing_ampersand() {
    let app = spawn_app!();
    let r = ureq::get(&format!(
        "{}/api/v1/push.get?id={VB_MESSAGE}&foo=bar&",
        app.url
    ))
    .set("x-user-id", RODRIQ.0)
    .set("x-auth-token", RODRIQ.1)
    .set("Content-Type", "application/json")
    .call()
    .expect("200");
    assert_eq!(r.into_string().unwrap(), DOCUMENTED);
}

#[test]
fn push_get_is_401_without_valid_credentials() {
    let app = spawn_app!();
    let path = format!("/api/v1/push.get?id={VB_MESSAGE}");
    for who in [
        None,
        Some((RODRIQ.0, "wrong-token")),
        Some((ALICE.0, RODRIQ.1)),
        Some(("nobody", RODRIQ.1)),
        Some((RODRIQ.0, "")),
    ] {
        let r = app.get(&path, who);
        assert_eq!(r.status, 401, "{who:?}");
        assert_eq!(r.body, UNAUTHORIZED);
        assert_eq!(r.content_type, "application/json");
    }
    // Authentication comes before parameter checks.
    assert_eq!(app.get("/api/v1/push.get", None).status, 401);
}

#[test]
fn push_get_rejects_bad_ids_like_check_does() {
    let app = spawn_app!();
    let cases = [
        (
            "",
            r#"{"success":false,"error":"Match error: Missing key 'id'"}"#,
        ),
        (
            "?",
            r#"{"success":false,"error":"Match error: Missing key 'id'"}"#,
        ),
        (
            "?ID=x",
            r#"{"success":false,"error":"Match error: Missing key 'id'"}"#,
        ),
        (
            "?id=a&id=b",
            r#"{"success":false,"error":"Match error: Expected string, got object in field id"}"#,
        ),
        (
            "?id[]=a",
            r#"{"success":false,"error":"Match error: Expected string, got object in field id"}"#,
        ),
        (
            "?id[x]=a",
            r#"{"success":false,"error":"Match error: Expected string, got object in field id"}"#,
        ),
        (
            "?id=",
            r#"{"success":false,"error":"error-message-not-found"}"#,
        ),
        (
            "?id=nope",
            r#"{"success":false,"error":"error-message-not-found"}"#,
        ),
        // Ids are matched exactly, never as patterns or prefixes.
        (
            "?id=WkbwSntxt8D3jLp8",
            r#"{"success":false,"error":"error-message-not-found"}"#,
        ),
        (
            "?id=.*",
            r#"{"success":false,"error":"error-message-not-found"}"#,
        ),
        (
            "?id=wkbwsntxt8d3jlp8g",
            r#"{"success":false,"error":"error-message-not-found"}"#,
        ),
    ];
    for (query, body) in cases {
        let r = app.get(&format!("/api/v1/push.get{query}"), Some(RODRIQ));
        assert_eq!((r.status, r.body.as_str()), (400, body), "{query}");
        assert_eq!(r.content_type, "application/json");
    }
    let many: String = (0..501).map(|i| format!("id[]={i}&")).collect();
    let r = app.get(&format!("/api/v1/push.get?{many}"), Some(RODRIQ));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"Invalid query parameters"}"#
        )
    );
}

#[test]
fn push_get_reports_missing_rooms_and_senders() {
    // A message whose room is gone and one whose sender is gone (a livechat visitor).
    let dir = tempfile::tempdir().unwrap();
    let file = custom_seed(dir.path(), |bundle| {
        let messages = bundle["messages"].as_array_mut().unwrap();
        messages.push(json!({"_id": "noRoom", "rid": "deletedRoom", "msg": "x", "ts": "2021-10-22T14:29:23.581Z",
            "u": {"_id": "d26x6zSkaPSe5gCyy", "username": "rodriq"}, "_updatedAt": "2021-10-22T14:29:23.581Z"}));
        messages.push(json!({"_id": "noSender", "rid": "iu7jtPAhvEeAS5tNq", "msg": "x", "ts": "2021-10-22T14:29:23.581Z",
            "u": {"_id": "livechatVisitor1", "username": "guest-1"}, "_updatedAt": "2021-10-22T14:29:23.581Z"}));
    });
    let app = spawn_app_with!(|c| c.seed.file = file);
    let r = app.push_get("noRoom", RODRIQ);
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, r#"{"success":false,"error":"error-room-not-found"}"#)
    );
    let r = app.push_get("noSender", RODRIQ);
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"Message sender not found"}"#
        )
    );
}

const NOT_ALLOWED: &str = r#"{"success":false,"error":"error-not-allowed"}"#;

fn allowed(app: &TestApp, id: &str, who: (&str, &str)) -> bool {
    let r = app.push_get(id, who);
    match r.status {
        200 => true,
        400 if r.body == NOT_ALLOWED => false,
        _ => panic!("unexpected answer {} {}", r.status, r.body),
    }
}

#[test]
fn push_get_access_matrix() {
    let app = spawn_app!();
    let admin = app.admin();
    let admin = (admin.0.as_str(), admin.1.as_str());
    // Public channel: members, non-member users and admins read it; the guest reads it as a member.
    for who in [RODRIQ, ALICE, BOB, GINA, admin] {
        assert!(allowed(&app, VB_MESSAGE, who));
    }
    // Private group, DM, discussion: members only; admins get no bypass.
    for (id, members, others) in [
        (GROUP_MESSAGE, vec![RODRIQ, ALICE], vec![BOB, GINA, admin]),
        (DM_MESSAGE, vec![RODRIQ, ALICE], vec![BOB, GINA, admin]),
        // rodriq reads the discussion through its parent group.
        (
            DISCUSSION_MESSAGE,
            vec![ALICE, RODRIQ],
            vec![BOB, GINA, admin],
        ),
    ] {
        for who in members {
            assert!(allowed(&app, id, who), "{id} member {}", who.0);
        }
        for who in others {
            assert!(!allowed(&app, id, who), "{id} outsider {}", who.0);
        }
    }
    // A guest who is not a member of a public channel cannot read it.
    let r = app.post(
        "/api/v1/channels.create",
        Some(ALICE),
        &json!({"name": "no-guests"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rid = r.json()["channel"]["_id"].as_str().unwrap().to_string();
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(ALICE),
        &json!({"roomId": rid, "text": "hi"}),
    );
    let mid = r.json()["message"]["_id"].as_str().unwrap().to_string();
    assert!(allowed(&app, &mid, BOB));
    assert!(!allowed(&app, &mid, GINA));

    // Leaving and being kicked end access to a private group.
    let r = app.post(
        "/api/v1/groups.leave",
        Some(RODRIQ),
        &json!({"roomName": "core-team"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!allowed(&app, GROUP_MESSAGE, RODRIQ));
    assert!(!allowed(&app, DISCUSSION_MESSAGE, RODRIQ));
    let r = app.post(
        "/api/v1/groups.invite",
        Some(ALICE),
        &json!({"roomName": "core-team", "username": "bob"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(allowed(&app, GROUP_MESSAGE, BOB));
    let r = app.post(
        "/api/v1/groups.kick",
        Some(ALICE),
        &json!({"roomName": "core-team", "username": "bob"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!allowed(&app, GROUP_MESSAGE, BOB));
}

#[test]
fn push_get_builds_notifications_for_each_room_type() {
    let app = spawn_app!();
    // Group with a mention and an emoji shortname; the markdown filter strips the bold.
    let n = app.push_get(GROUP_MESSAGE, RODRIQ).json()["data"]["notification"].clone();
    assert_eq!(n["title"], "#core-team");
    assert_eq!(n["text"], "alice: Launch is on Friday 🚀 @rodriq");
    assert_eq!(n["userId"], ALICE.0, "userId is the sender");
    assert_eq!(n["badge"], 2, "the badge is the caller's");
    assert_eq!(n["apn"]["category"], "MESSAGE");
    // DM: the title is the sender, no prefix, no room name in the payload.
    let n = app.push_get(DM_MESSAGE, RODRIQ).json()["data"]["notification"].clone();
    assert_eq!(n["title"], "alice");
    assert_eq!(n["text"], "hey 👋 did you see the plan?");
    assert_eq!(n["payload"]["type"], "d");
    assert!(n["payload"].get("name").is_none());
    // Discussion: the title is its fname.
    let n = app.push_get(DISCUSSION_MESSAGE, ALICE).json()["data"]["notification"].clone();
    assert_eq!(n["title"], "#launch-plan");
    assert_eq!(n["badge"], 0);

    // Settings change the notification at once.
    let admin = app.admin();
    for (id, value) in [
        ("UI_Use_Real_Name", json!(true)),
        ("Push_show_message", json!(false)),
    ] {
        let r = app.post(
            &format!("/api/v1/settings/{id}"),
            auth(&admin),
            &json!({ "value": value }),
        );
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"success":true}"#));
    }
    let n = app.push_get(GROUP_MESSAGE, RODRIQ).json()["data"]["notification"].clone();
    assert_eq!(n["text"], "Alice Example: You have a new message");
    let r = app.post(
        "/api/v1/settings/Push_show_username_room",
        auth(&admin),
        &json!({"value": false}),
    );
    assert_eq!(r.status, 200);
    let n = app.push_get(GROUP_MESSAGE, RODRIQ).json()["data"]["notification"].clone();
    assert_eq!(
        (n["title"].as_str(), n["payload"]["name"].as_str()),
        (Some(""), Some(""))
    );
}

#[test]
fn posted_messages_come_back_from_push_get_and_raise_the_badge() {
    let app = spawn_app!();
    let before = app.push_get(VB_MESSAGE, RODRIQ).json()["data"]["notification"]["badge"].clone();
    assert_eq!(before, 2);
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(ALICE),
        &json!({"message": {"_id": "clientChosenId01", "rid": "A7dm3kQzR9xYpW2bnd26x6zSkaPSe5gCyy", "msg": "ping :smile: @rodriq", "evil": {"$set": 1}}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let sent = r.json()["message"].clone();
    assert!(sent.get("evil").is_none(), "unknown fields are not stored");
    let r = app.push_get("clientChosenId01", RODRIQ);
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(
        j["data"]["message"], sent,
        "push.get returns the stored message"
    );
    assert_eq!(
        keys(&j["data"]["message"]),
        [
            "_id",
            "rid",
            "msg",
            "ts",
            "u",
            "urls",
            "mentions",
            "channels",
            "md",
            "_updatedAt"
        ]
    );
    assert_eq!(
        j["data"]["message"]["mentions"],
        json!([{"_id": RODRIQ.0, "username": "rodriq", "name": "Rodriq", "type": "user"}])
    );
    let n = &j["data"]["notification"];
    assert_eq!(n["text"], "ping 😄 @rodriq");
    assert_eq!(
        n["badge"], 3,
        "a DM message raises the receiver's unread count"
    );
    // The sender's own badge is untouched.
    let n = app.push_get("clientChosenId01", ALICE).json()["data"]["notification"].clone();
    assert_eq!(n["badge"], 0);
    // Reading the DM lowers it again.
    let r = app.post(
        "/api/v1/subscriptions.read",
        Some(RODRIQ),
        &json!({"rid": "A7dm3kQzR9xYpW2bnd26x6zSkaPSe5gCyy"}),
    );
    assert_eq!(r.body, r#"{"success":true}"#);
    let n = app.push_get("clientChosenId01", RODRIQ).json()["data"]["notification"].clone();
    assert_eq!(n["badge"], 1);
}

#[test]
fn raw_tokens_and_passwords_never_reach_the_database() {
    let mut app = spawn_app!();
    let (_, token) = app.login("alice", "alice-demo");
    assert_eq!(app.push_get(VB_MESSAGE, RODRIQ).status, 200);
    let created = app.post(
        "/api/v1/users.create",
        auth(&app.admin()),
        &json!({"email": "zed@example.com", "name": "Zed", "password": "zed-secret-pass", "username": "zed"}),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    app.stop();
    let secrets = [
        RODRIQ.1,
        ALICE.1,
        token.as_str(),
        "alice-demo",
        "zed-secret-pass",
        ADMIN_PASSWORD,
    ];
    let stored = app.stored_bytes();
    assert!(!stored.is_empty());
    // The user's name is stored (as plain bytes, or hex in a dump): the search would see a secret.
    let found = |bytes: &[u8], s: &str| {
        let hex = hex::encode(s);
        bytes.windows(s.len()).any(|w| w == s.as_bytes())
            || bytes.windows(hex.len()).any(|w| w == hex.as_bytes())
    };
    assert!(stored
        .iter()
        .any(|(_, bytes)| found(bytes, "zed@example.com")));
    for (file, bytes) in &stored {
        for s in secrets {
            assert!(!found(bytes, s), "{s} found in {file}");
        }
    }
}

/// Messages created through the API carry the official parser's `md` (issue 3), and push.get
/// returns it: the expected ASTs are @rocket.chat/message-parser 0.32.0's (clients.md §1).
#[test]
fn posted_messages_carry_the_official_parsers_md() {
    let app = spawn_app!();
    for (text, md) in [
        (
            "hello **bold** world",
            r#"[{"type":"PARAGRAPH","value":[{"type":"PLAIN_TEXT","value":"hello "},{"type":"BOLD","value":[{"type":"PLAIN_TEXT","value":"bold"}]},{"type":"PLAIN_TEXT","value":" world"}]}]"#,
        ),
        (
            "- [ ] todo\n- [x] done",
            r#"[{"type":"TASKS","value":[{"type":"TASK","status":false,"value":[{"type":"PLAIN_TEXT","value":"todo"}]},{"type":"TASK","status":true,"value":[{"type":"PLAIN_TEXT","value":"done"}]}]}]"#,
        ),
        (
            ":)",
            r#"[{"type":"BIG_EMOJI","value":[{"type":"EMOJI","value":{"type":"PLAIN_TEXT","value":":)"},"shortCode":"slight_smile"}]}]"#,
        ),
    ] {
        let r = app.post(
            "/api/v1/chat.postMessage",
            Some(ALICE),
            &json!({"roomId": "iu7jtPAhvEeAS5tNq", "text": text}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let id = r.json()["message"]["_id"].as_str().unwrap().to_string();
        let got = app.push_get(&id, RODRIQ).json()["data"]["message"]["md"].to_string();
        assert_eq!(got, md, "{text:?}");
    }
    // An empty message has no md, as the parser throws on it.
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(ALICE),
        &json!({"message": {"_id": "emptyMessage01", "rid": "iu7jtPAhvEeAS5tNq", "msg": ""}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        app.push_get("emptyMessage01", RODRIQ).json()["data"]["message"]
            .get("md")
            .is_none()
    );
    // Mentions, channels and urls come from the AST.
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(ALICE),
        &json!({"roomId": "iu7jtPAhvEeAS5tNq", "text": "`@rodriq` in code, @bob and mail me at foo@bar.com"}),
    );
    let m = r.json()["message"].clone();
    assert_eq!(
        m["mentions"],
        json!([{"_id": BOB.0, "username": "bob", "name": "Bob Builder", "type": "user"}])
    );
    assert_eq!(
        m["urls"],
        json!([{"url": "mailto:foo@bar.com", "meta": {}}])
    );
}

/// The number in a title `#r7` or a text `rodriq: e7` (0 before any write).
fn write_number(s: &str, prefix: &str) -> usize {
    s.strip_prefix(prefix).map_or(0, |n| n.parse().unwrap())
}

/// Readers racing renames of the room and edits of the message: an answer may predate a
/// write still in flight, never one already acknowledged (the prepared notifications'
/// version checks, under load).
#[test]
fn push_get_never_answers_from_before_an_acknowledged_write() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    const WRITES: usize = 40;
    let app = spawn_app!();
    let admin = app.admin();
    let (renamed, edited, stop) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicBool::new(false),
    );
    std::thread::scope(|scope| {
        for who in [ALICE, RODRIQ] {
            let (app, renamed, edited, stop) = (&app, &renamed, &edited, &stop);
            scope.spawn(move || {
                let mut reads = 0;
                while !stop.load(Ordering::SeqCst) || reads == 0 {
                    let (room_floor, text_floor) = (
                        renamed.load(Ordering::SeqCst),
                        edited.load(Ordering::SeqCst),
                    );
                    let r = app.push_get(VB_MESSAGE, who);
                    assert_eq!(r.status, 200, "{}", r.body);
                    let n = &r.json()["data"]["notification"];
                    let title = write_number(n["title"].as_str().unwrap(), "#r");
                    let text = write_number(n["text"].as_str().unwrap(), "rodriq: e");
                    assert!(
                        title >= room_floor,
                        "title {title} after rename {room_floor}"
                    );
                    assert!(text >= text_floor, "text {text} after edit {text_floor}");
                    reads += 1;
                }
            });
        }
        for i in 1..=WRITES {
            let r = if i % 2 == 0 {
                app.post(
                    "/api/v1/channels.rename",
                    auth(&admin),
                    &json!({"roomId": "iu7jtPAhvEeAS5tNq", "name": format!("r{i}")}),
                )
            } else {
                app.post(
                    "/api/v1/chat.update",
                    Some(RODRIQ),
                    &json!({"roomId": "iu7jtPAhvEeAS5tNq", "msgId": VB_MESSAGE, "text": format!("e{i}")}),
                )
            };
            assert_eq!(r.status, 200, "{}", r.body);
            let acknowledged = if i % 2 == 0 { &renamed } else { &edited };
            acknowledged.store(i, Ordering::SeqCst);
        }
        stop.store(true, Ordering::SeqCst);
    });
    let n = &app.push_get(VB_MESSAGE, ALICE).json()["data"]["notification"];
    assert_eq!(
        (&n["title"], &n["text"]),
        (
            &json!(format!("#r{WRITES}")),
            &json!(format!("rodriq: e{}", WRITES - 1))
        )
    );
}

/// push.get prepares a message's notification once for all its readers; each change to what
/// it was made from (the message, its room, the settings) shows in the next answer, and each
/// reader still gets their own badge.
#[test]
fn push_get_answers_from_the_current_message_room_and_settings_after_each_change() {
    let app = spawn_app!();
    let notification = |who| app.push_get(VB_MESSAGE, who).json()["data"]["notification"].clone();
    let first = notification(RODRIQ);
    assert_eq!(
        (&first["title"], &first["text"]),
        (&json!("#vb"), &json!("rodriq: fsfs"))
    );
    let badges = [RODRIQ, ALICE].map(|who| notification(who)["badge"].clone());
    assert_eq!(badges, [json!(2), json!(0)], "each reader's own badge");

    let r = app.post(
        "/api/v1/chat.update",
        Some(RODRIQ),
        &json!({"roomId": "iu7jtPAhvEeAS5tNq", "msgId": VB_MESSAGE, "text": "edited"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(notification(ALICE)["text"], "rodriq: edited");

    let admin = app.admin();
    let r = app.post(
        "/api/v1/channels.rename",
        auth(&admin),
        &json!({"roomId": "iu7jtPAhvEeAS5tNq", "name": "renamed"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let n = notification(ALICE);
    assert_eq!(
        (&n["title"], &n["payload"]["name"]),
        (&json!("#renamed"), &json!("renamed"))
    );

    let r = app.post(
        "/api/v1/settings/Site_Url",
        auth(&admin),
        &json!({"value": "https://chat.example"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        notification(ALICE)["payload"]["host"],
        "https://chat.example/"
    );

    let r = app.post(
        "/api/v1/chat.delete",
        Some(RODRIQ),
        &json!({"roomId": "iu7jtPAhvEeAS5tNq", "msgId": VB_MESSAGE}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.push_get(VB_MESSAGE, ALICE);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "error-message-not-found");
}
