//! The bad-words filter as Rocket.Chat's own `chat.ts` tests use it ("should censor bad words
//! on send", "… on update"): on once set, on every path a message is saved by, and what the
//! readers then see (the stored message, push.get).

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, ALICE, BOB};

const VB: &str = "iu7jtPAhvEeAS5tNq";

/// Rocket.Chat's test set-up: the filter on with two words of its own.
fn filter_on(app: &TestApp) {
    app.set_setting("Message_AllowBadWordsFilter", json!(true));
    app.set_setting("Message_BadWordsFilterList", json!("badword,badword2"));
}

fn send(app: &TestApp, msg: &str) -> Value {
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(BOB),
        &json!({"message": {"rid": VB, "msg": msg}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["message"].clone()
}

/// The `md` of a one-line plain text.
fn plain_md(text: &str) -> Value {
    json!([{"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": text}]}])
}

#[test]
fn bad_words_pass_until_the_filter_is_on() {
    let app = spawn_app!();
    let m = send(&app, "This message has badword ass");
    assert_eq!(m["msg"], "This message has badword ass");
    filter_on(&app);
    let m = send(&app, "This message has badword badword2");
    assert_eq!(m["msg"], "This message has ******* ********");
    assert_eq!(m["md"], plain_md("This message has ******* ********"));
}

#[test]
fn chat_send_message_stores_and_pushes_the_censored_text() {
    let app = spawn_app!();
    filter_on(&app);
    // The bundled English lists apply too; mentions are read from the text as sent.
    let m = send(&app, "@alice you ass, BADWORD!");
    assert_eq!(m["msg"], "@alice you ***, *******!");
    assert_eq!(m["mentions"][0]["username"], "alice");
    let id = m["_id"].as_str().unwrap();
    let r = app.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(ALICE));
    assert_eq!(r.json()["message"]["msg"], "@alice you ***, *******!");
    let r = app.push_get(id, ALICE);
    assert_eq!(
        r.json()["data"]["notification"]["text"],
        "bob: @alice you ***, *******!"
    );
}

#[test]
fn chat_post_message_and_chat_update_are_censored_too() {
    let app = spawn_app!();
    filter_on(&app);
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(BOB),
        &json!({"roomId": VB, "text": "badword2 here"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["message"]["msg"], "******** here");

    let id = send(&app, "a clean message")["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.post(
        "/api/v1/chat.update",
        Some(BOB),
        &json!({"roomId": VB, "msgId": id, "text": "This message has badword badword2"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let m = &r.json()["message"];
    assert_eq!(m["msg"], "This message has ******* ********");
    assert_eq!(m["md"], plain_md("This message has ******* ********"));
    let r = app.push_get(&id, ALICE);
    assert_eq!(
        r.json()["data"]["notification"]["text"],
        "bob: This message has ******* ********"
    );
    // The same words again: the text as sent differs from the one stored, so Rocket.Chat
    // edits (and dates) the message again.
    let r = app.post(
        "/api/v1/chat.update",
        Some(BOB),
        &json!({"roomId": VB, "msgId": id, "text": "This message has badword badword2"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["message"]["msg"], "This message has ******* ********");
    assert!(r.json()["message"]["editedAt"].is_string());
}

#[test]
fn the_whitelist_keeps_a_bundled_word_but_not_a_configured_one() {
    let app = spawn_app!();
    filter_on(&app);
    app.set_setting("Message_BadWordsWhitelist", json!("ass, badword"));
    // Rocket.Chat's second pass, over the configured words, ignores the whitelist.
    assert_eq!(send(&app, "ass badword")["msg"], "ass *******");
    app.set_setting("Message_AllowBadWordsFilter", json!(false));
    assert_eq!(send(&app, "ass badword")["msg"], "ass badword");
}
