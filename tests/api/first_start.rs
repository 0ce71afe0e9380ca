//! What every Rocket.Chat has from its first start: `#general` (`GENERAL`), which new users
//! join, and the `rocket.cat` bot; the demo data stays beside them.

use serde_json::json;

use crate::helpers::{auth, key_order, keys, spawn_app, spawn_app_with, BOB, GINA};

#[test]
fn a_fresh_database_has_general_and_rocket_cat() {
    for app in [spawn_app!(), spawn_app_with!(|c| c.seed.file = String::new())] {
        let admin = app.admin();
        let r = app.get("/api/v1/channels.info?roomId=GENERAL", auth(&admin));
        assert_eq!(r.status, 200, "{}", r.body);
        let general = r.json()["channel"].clone();
        assert_eq!(
            keys(&general),
            [
                "_id",
                "ts",
                "t",
                "name",
                "usernames",
                "msgs",
                "usersCount",
                "default",
                "_updatedAt"
            ]
        );
        assert_eq!(
            (&general["t"], &general["name"], &general["default"]),
            (&json!("c"), &json!("general"), &json!(true))
        );
        // The admin joined it as a new user does.
        assert_eq!(general["usersCount"], 1);
        let r = app.get("/api/v1/subscriptions.getOne?roomId=GENERAL", auth(&admin));
        let sub = &r.json()["subscription"];
        assert_eq!((&sub["open"], &sub["unread"]), (&json!(true), &json!(1)));

        let r = app.get("/api/v1/users.info?username=rocket.cat", auth(&admin));
        assert_eq!(r.status, 200, "{}", r.body);
        let cat = &r.json()["user"];
        assert_eq!(cat["_id"], "rocket.cat");
        assert_eq!(cat["type"], "bot");
        assert_eq!(cat["roles"], json!(["bot"]));
        assert_eq!(cat["name"], "Rocket.Cat");
        // No password: nobody logs in as the bot.
        let r = app.post(
            "/api/v1/login",
            None,
            &json!({"user": "rocket.cat", "password": ""}),
        );
        assert_eq!(r.status, 401);
    }
}

#[test]
fn new_users_join_general_unless_told_not_to() {
    let app = spawn_app!();
    let admin = app.admin();
    let create = |username: &str, join: Option<bool>| {
        let mut body = json!({"email": format!("{username}@example.com"), "name": username,
            "password": "pw-pw-pw", "username": username});
        if let Some(join) = join {
            body["joinDefaultChannels"] = json!(join);
        }
        let r = app.post("/api/v1/users.create", auth(&admin), &body);
        assert_eq!(r.status, 200, "{}", r.body);
        app.login(username, "pw-pw-pw")
    };
    let dora = create("dora", None);
    let r = app.get("/api/v1/subscriptions.getOne?roomId=GENERAL", auth(&dora));
    let sub = r.json()["subscription"].clone();
    assert_eq!(
        keys(&sub),
        key_order::without(key_order::SUBSCRIPTION, "fname")
    );
    assert_eq!(
        (
            &sub["alert"],
            &sub["unread"],
            &sub["userMentions"],
            &sub["name"]
        ),
        (&json!(true), &json!(1), &json!(1), &json!("general"))
    );
    let ed = create("ed", Some(false));
    let r = app.get("/api/v1/subscriptions.getOne?roomId=GENERAL", auth(&ed));
    assert_eq!(r.json()["subscription"], serde_json::Value::Null);
    let r = app.get("/api/v1/channels.info?roomName=general", auth(&ed));
    assert_eq!(r.json()["channel"]["usersCount"], 2);
    // Bots and test set-ups post to #general by name.
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(BOB),
        &json!({"channel": "#general", "text": "hello general"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let posted = r.json()["message"].clone();
    assert_eq!(posted["rid"], "GENERAL");
    // Posting by name joined bob first (`joinChannel`), with his `uj`.
    let r = app.get("/api/v1/subscriptions.getOne?roomId=GENERAL", Some(BOB));
    assert_eq!(r.json()["subscription"]["name"], "general");
    let general = app
        .get("/api/v1/channels.info?roomId=GENERAL", Some(BOB))
        .json()["channel"]
        .clone();
    assert_eq!(general["usersCount"], 3);
    assert_eq!(general["msgs"], 3);
    assert_eq!(general["lastMessage"]["_id"], posted["_id"]);
    // A guest, who may not read the channel, is not joined by posting.
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(GINA),
        &json!({"channel": "#general", "text": "let me in"}),
    );
    assert_eq!(r.body, r#"{"success":false,"error":"error-not-allowed"}"#);
    let r = app.get("/api/v1/subscriptions.getOne?roomId=GENERAL", Some(GINA));
    assert_eq!(r.json()["subscription"], serde_json::Value::Null);
}
