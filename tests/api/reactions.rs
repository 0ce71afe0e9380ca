//! `chat.react`: reactions stored on the message, shown by chat.getMessage and push.get,
//! with Rocket.Chat's answers and errors, and no reactor lost when many react at once.

use serde_json::{json, Value};

use crate::helpers::{
    custom_seed, keys, spawn_app, spawn_app_with, TestApp, ALICE, BOB, GINA, RODRIQ,
};

/// Rodriq's message in the public channel `vb` (the seed's push.get example).
const VB_MESSAGE: &str = "WkbwSntxt8D3jLp8G";
/// A message of the private group bob is not in.
const PRIVATE_MESSAGE: &str = "PrvMsg3kT7wZq2RbX";
const VB: &str = "iu7jtPAhvEeAS5tNq";

fn react(app: &TestApp, who: (&str, &str), body: Value) -> crate::helpers::Resp {
    app.post("/api/v1/chat.react", Some(who), &body)
}

fn reacted(app: &TestApp, who: (&str, &str), body: Value) {
    let r = react(app, who, body);
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, r#"{"success":true}"#),
        "{}",
        r.body
    );
}

fn stored(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(RODRIQ));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["message"].clone()
}

#[test]
fn chat_react_adds_toggles_and_removes_reactions_in_order() {
    let app = spawn_app!();
    let before = stored(&app, VB_MESSAGE);
    reacted(&app, BOB, json!({"messageId": VB_MESSAGE, "emoji": "thumbsup"}));
    reacted(
        &app,
        ALICE,
        json!({"messageId": VB_MESSAGE, "reaction": ":thumbsup:", "shouldReact": true}),
    );
    reacted(&app, ALICE, json!({"messageId": VB_MESSAGE, "emoji": ":smile:"}));
    let m = stored(&app, VB_MESSAGE);
    assert_eq!(
        m["reactions"],
        json!({":thumbsup:": {"usernames": ["bob", "alice"]}, ":smile:": {"usernames": ["alice"]}})
    );
    // Appended to the stored document; `_updatedAt` moves, `editedAt` does not appear.
    assert_eq!(keys(&m), [keys(&before), vec!["reactions"]].concat());
    assert!(m.get("editedAt").is_none());
    // push.get returns the stored document, reactions included.
    let r = app.push_get(VB_MESSAGE, RODRIQ);
    assert_eq!(r.json()["data"]["message"], m);

    // Asked for what already is: nothing changes.
    reacted(
        &app,
        BOB,
        json!({"messageId": VB_MESSAGE, "emoji": ":thumbsup:", "shouldReact": true}),
    );
    assert_eq!(stored(&app, VB_MESSAGE), m);
    // A toggle (`shouldReact` null toggles too) removes; the last user takes the emoji
    // with them, and the last emoji `reactions`.
    reacted(&app, BOB, json!({"messageId": VB_MESSAGE, "emoji": "thumbsup"}));
    reacted(
        &app,
        ALICE,
        json!({"messageId": VB_MESSAGE, "emoji": "smile", "shouldReact": null}),
    );
    assert_eq!(
        stored(&app, VB_MESSAGE)["reactions"],
        json!({":thumbsup:": {"usernames": ["alice"]}})
    );
    reacted(
        &app,
        ALICE,
        json!({"messageId": VB_MESSAGE, "emoji": "thumbsup", "shouldReact": false}),
    );
    let mut after = stored(&app, VB_MESSAGE);
    assert!(after.get("reactions").is_none(), "{after}");
    after["_updatedAt"] = before["_updatedAt"].clone();
    assert_eq!(after, before);
}

/// Rocket.Chat compares `shouldReact` with `undefined` on a message without any reaction,
/// so `shouldReact: false` there adds the reaction; rcpush answers the same.
#[test]
fn should_react_false_on_a_message_without_reactions_adds_as_rocket_chat_does() {
    let app = spawn_app!();
    reacted(
        &app,
        BOB,
        json!({"messageId": VB_MESSAGE, "emoji": "wave", "shouldReact": false}),
    );
    assert_eq!(
        stored(&app, VB_MESSAGE)["reactions"],
        json!({":wave:": {"usernames": ["bob"]}})
    );
    // With reactions present, `false` for an emoji not reacted with changes nothing.
    reacted(
        &app,
        ALICE,
        json!({"messageId": VB_MESSAGE, "emoji": "wave", "shouldReact": false}),
    );
    assert_eq!(
        stored(&app, VB_MESSAGE)["reactions"],
        json!({":wave:": {"usernames": ["bob"]}})
    );
}

#[test]
fn chat_react_errors_are_rocket_chats() {
    let app = spawn_app!();
    let cases = [
        (
            json!({"messageId": "nope", "emoji": ""}),
            r#"{"success":false,"error":"The provided \"messageId\" does not match any existing message. [error-message-not-found]","errorType":"error-message-not-found"}"#,
        ),
        (
            json!({"messageId": VB_MESSAGE, "emoji": ""}),
            r#"{"success":false,"error":"The required \"emoji\" param is missing. [error-emoji-param-not-provided]","errorType":"error-emoji-param-not-provided"}"#,
        ),
        (
            json!({"messageId": VB_MESSAGE, "emoji": ":party_parrot:"}),
            r#"{"success":false,"error":"Invalid emoji provided. [error-not-allowed]","errorType":"error-not-allowed","details":{"method":"setReaction"}}"#,
        ),
        (
            json!({"messageId": PRIVATE_MESSAGE, "emoji": ":+1:"}),
            r#"{"success":false,"error":"Not Authorized [not-authorized]","errorType":"not-authorized","details":{"method":"setReaction"}}"#,
        ),
        (
            json!({"messageId": VB_MESSAGE}),
            r#"{"success":false,"error":"must have required property 'emoji'\n must have required property 'reaction'\n must match exactly one schema in oneOf [invalid-params]","errorType":"invalid-params"}"#,
        ),
        (
            json!({"messageId": VB_MESSAGE, "emoji": "x", "reaction": "x"}),
            r#"{"success":false,"error":"must NOT have additional properties\n must NOT have additional properties\n must match exactly one schema in oneOf [invalid-params]","errorType":"invalid-params"}"#,
        ),
        (
            json!({"messageId": "", "emoji": "x"}),
            r#"{"success":false,"error":"must NOT have fewer than 1 characters\n must have required property 'reaction'\n must match exactly one schema in oneOf [invalid-params]","errorType":"invalid-params"}"#,
        ),
        (
            json!({"messageId": VB_MESSAGE, "reaction": 5}),
            r#"{"success":false,"error":"must have required property 'emoji'\n must be string\n must match exactly one schema in oneOf [invalid-params]","errorType":"invalid-params"}"#,
        ),
        (
            json!({"messageId": VB_MESSAGE, "emoji": "x", "shouldReact": "yes"}),
            r#"{"success":false,"error":"must be boolean\n must have required property 'reaction'\n must match exactly one schema in oneOf [invalid-params]","errorType":"invalid-params"}"#,
        ),
    ];
    for (body, answer) in cases {
        let r = react(&app, BOB, body.clone());
        assert_eq!((r.status, r.body.as_str()), (400, answer), "{body}");
    }
    let r = app.post("/api/v1/chat.react", None, &json!({}));
    assert_eq!(r.status, 401);
    // Nothing was stored by any of them.
    assert!(stored(&app, VB_MESSAGE).get("reactions").is_none());
}

/// Whoever has nothing to change gets no access check: Rocket.Chat returns before it
/// reads the room.
#[test]
fn a_reaction_that_changes_nothing_succeeds_without_access() {
    let app = spawn_app!();
    reacted(&app, ALICE, json!({"messageId": PRIVATE_MESSAGE, "emoji": "tada"}));
    reacted(
        &app,
        BOB,
        json!({"messageId": PRIVATE_MESSAGE, "emoji": "tada", "shouldReact": false}),
    );
}

#[test]
fn muted_members_and_read_only_rooms_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = custom_seed(dir.path(), |bundle| {
        let rooms = bundle["rooms"].as_array_mut().unwrap();
        let vb = rooms.iter_mut().find(|r| r["_id"] == VB).unwrap();
        vb["muted"] = json!(["bob"]);
        vb["ro"] = json!(true);
        vb["unmuted"] = json!(["alice"]);
    });
    let app = spawn_app_with!(|c| c.seed.file = file);
    let r = react(&app, BOB, json!({"messageId": VB_MESSAGE, "emoji": "tada"}));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"You have been muted and cannot speak in this room [error-not-allowed]","errorType":"error-not-allowed","details":{"rid":"iu7jtPAhvEeAS5tNq"}}"#
        )
    );
    let r = react(&app, GINA, json!({"messageId": VB_MESSAGE, "emoji": "tada"}));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"You can't send messages because the room is readonly."}"#
        )
    );
    // Unmuted in the read-only room: allowed.
    reacted(&app, ALICE, json!({"messageId": VB_MESSAGE, "emoji": "tada"}));
    assert_eq!(
        stored(&app, VB_MESSAGE)["reactions"],
        json!({":tada:": {"usernames": ["alice"]}})
    );
}

/// Four users react at once with the same emoji and with their own, over and over: every
/// reaction is stored (each is decided on the message as stored inside its write).
#[test]
fn concurrent_reactors_lose_none() {
    const EMOJI: [&str; 6] = ["tada", "smile", "wave", "rocket", "fire", "eyes"];
    let app = spawn_app!();
    std::thread::scope(|scope| {
        for who in [RODRIQ, ALICE, BOB, GINA] {
            let app = &app;
            scope.spawn(move || {
                for e in EMOJI {
                    reacted(
                        app,
                        who,
                        json!({"messageId": VB_MESSAGE, "emoji": e, "shouldReact": true}),
                    );
                }
            });
        }
    });
    let reactions = stored(&app, VB_MESSAGE)["reactions"].clone();
    let map = reactions.as_object().unwrap();
    assert_eq!(map.len(), EMOJI.len(), "{reactions}");
    for (emoji, r) in map {
        let mut users: Vec<&str> = r["usernames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap())
            .collect();
        users.sort_unstable();
        assert_eq!(users, ["alice", "bob", "gina", "rodriq"], "{emoji}");
    }
}
