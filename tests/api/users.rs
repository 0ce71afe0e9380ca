//! users.update, users.setPreferences / users.getPreferences, the saveUserPreferences
//! method, what a rename and a preference change reach (subscriptions, push.get, pushes),
//! and the default roles of new users.

use serde_json::{json, Value};

use crate::fake_gateway::FakeGateway;
use crate::helpers::*;
use crate::push_direct::set_setting;

const DM_ALICE_RODRIQ: &str = "A7dm3kQzR9xYpW2bnd26x6zSkaPSe5gCyy";

fn update(app: &TestApp, who: Option<(&str, &str)>, user_id: &str, data: Value) -> Resp {
    app.post(
        "/api/v1/users.update",
        who,
        &json!({"userId": user_id, "data": data}),
    )
}

fn sub_of(app: &TestApp, who: (&str, &str), rid: &str) -> Value {
    let r = app.get(&format!("/api/v1/subscriptions.getOne?roomId={rid}"), Some(who));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["subscription"].clone()
}

#[test]
fn users_update_changes_a_user_and_what_shows_their_names() {
    let app = spawn_app!();
    let admin = app.admin();
    let posted = app.post_message(RODRIQ, DM_ALICE_RODRIQ, "before the rename");
    let r = update(
        &app,
        auth(&admin),
        RODRIQ.0,
        json!({"name": "Rodrigo Q", "username": "rodrigo", "email": "rq@example.com",
               "bio": "  plays bass ", "nickname": "Q", "statusText": "  away  "}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.ends_with(r#","success":true}"#), "{}", r.body);
    let user = &r.json()["user"];
    assert_eq!(user["_id"], RODRIQ.0);
    assert_eq!(user["username"], "rodrigo");
    assert_eq!(user["name"], "Rodrigo Q");
    assert_eq!(user["emails"], json!([{"address": "rq@example.com", "verified": false}]));
    // A bio that is not blank is kept as sent; the status text is trimmed.
    assert_eq!(user["bio"], "  plays bass ");
    assert_eq!(user["nickname"], "Q");
    assert_eq!(user["statusText"], "away");
    assert!(user.get("services").is_none());

    // The other member's DM subscription names the renamed user; their own follows too.
    let alices = sub_of(&app, ALICE, DM_ALICE_RODRIQ);
    assert_eq!((alices["name"].as_str(), alices["fname"].as_str()), (Some("rodrigo"), Some("Rodrigo Q")));
    assert_eq!(sub_of(&app, RODRIQ, DM_ALICE_RODRIQ)["u"]["username"], "rodrigo");
    // push.get names the sender as stored now, by `UI_Use_Real_Name`; the message's own
    // `u` (`payload.sender`) keeps the names it was posted with.
    let sender_name = |app: &TestApp| {
        let r = app.push_get(&posted.id, ALICE);
        assert_eq!(r.status, 200, "{}", r.body);
        let payload = r.json()["data"]["notification"]["payload"].clone();
        assert_eq!(payload["sender"]["username"], "rodriq");
        payload["senderName"].as_str().unwrap().to_string()
    };
    assert_eq!(sender_name(&app), "rodrigo");
    set_setting(&app, "UI_Use_Real_Name", json!(true));
    assert_eq!(sender_name(&app), "Rodrigo Q");

    // The new username and address log in (after a restart: the write was durable); the
    // old username is free again.
    let mut app = app;
    app.restart(|_| {});
    app.login("rodrigo", "rodriq-demo");
    app.login("rq@example.com", "rodriq-demo");
    let r = app.post("/api/v1/login", None, &json!({"user": "rodriq", "password": "rodriq-demo"}));
    assert_eq!(r.status, 401);
    let r = app.get("/api/v1/users.info?username=rodrigo", Some(BOB));
    assert_eq!(r.json()["user"]["name"], "Rodrigo Q");

    // A user without privileges edits themself and sees the answer without private fields.
    let r = update(&app, Some(BOB), BOB.0, json!({"name": "Bob B", "bio": ""}));
    assert_eq!(r.status, 200, "{}", r.body);
    let user = r.json()["user"].clone();
    assert_eq!(user["name"], "Bob B");
    assert!(user.get("emails").is_none() && user.get("roles").is_none());
}

#[test]
fn a_rename_reaches_group_dms_and_a_dm_with_oneself() {
    let app = spawn_app!();
    let admin = app.admin();
    let r = app.post("/api/v1/im.create", Some(RODRIQ), &json!({"usernames": "bob,alice"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let group = r.json()["room"]["rid"].as_str().unwrap().to_string();
    let r = app.post("/api/v1/im.create", Some(BOB), &json!({"username": "bob"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let own = r.json()["room"]["rid"].as_str().unwrap().to_string();
    let before = sub_of(&app, ALICE, &group);
    let r = update(&app, auth(&admin), BOB.0, json!({"username": "robert", "name": "Robert"}));
    assert_eq!(r.status, 200, "{}", r.body);
    // Bob stands where he stood among the others.
    let names = |v: &Value| (v["name"].as_str().unwrap().to_string(), v["fname"].as_str().unwrap().to_string());
    let (name, fname) = names(&before);
    let renamed = (name.replace("bob", "robert"), fname.replace("Bob Builder", "Robert"));
    assert_ne!(renamed, (name, fname));
    assert_eq!(names(&sub_of(&app, ALICE, &group)), renamed);
    let r = app.get(&format!("/api/v1/subscriptions.getOne?roomId={own}"), Some(BOB));
    let mine = r.json()["subscription"].clone();
    assert_eq!(names(&mine), ("robert".to_string(), "Robert".to_string()));
    assert_eq!(mine["u"]["username"], "robert");
}

#[test]
fn users_update_refuses_as_rocket_chat_does() {
    let app = spawn_app!();
    let admin = app.admin();
    let error = |r: Resp| {
        assert_eq!(r.status, 400, "{}", r.body);
        r.body
    };
    // The body's schema first.
    assert_eq!(
        error(app.post("/api/v1/users.update", Some(ALICE), &json!({"data": {}}))),
        r#"{"success":false,"error":"must have required property 'userId' [invalid-params]","errorType":"invalid-params"}"#
    );
    assert_eq!(
        error(update(&app, Some(ALICE), ALICE.0, json!({"settings": {}}))),
        r#"{"success":false,"error":"must NOT have additional properties [invalid-params]","errorType":"invalid-params"}"#
    );
    assert_eq!(
        error(update(&app, Some(ALICE), ALICE.0, json!({"name": {"first": "A"}}))),
        r#"{"success":false,"error":"must be string [invalid-params]","errorType":"invalid-params"}"#
    );
    assert_eq!(
        error(update(&app, Some(ALICE), ALICE.0, json!({"active": "maybe"}))),
        r#"{"success":false,"error":"must be boolean [invalid-params]","errorType":"invalid-params"}"#
    );
    // Then `validateUserData`, in its order.
    assert_eq!(
        error(update(&app, Some(ALICE), ALICE.0, json!({"verified": true, "name": "x"}))),
        r#"{"success":false,"error":"Editing email verification is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Editing_user"}}"#
    );
    assert_eq!(
        error(update(&app, Some(ALICE), BOB.0, json!({"name": "x"}))),
        r#"{"success":false,"error":"Editing user is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Editing_user"}}"#
    );
    assert_eq!(
        error(update(&app, Some(ALICE), ALICE.0, json!({"roles": ["user", "wizard"]}))),
        r#"{"success":false,"error":"The field Roles consist invalid role id [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Assign_role"}}"#
    );
    assert_eq!(
        error(update(&app, Some(ALICE), ALICE.0, json!({"roles": ["admin"]}))),
        r#"{"success":false,"error":"Assigning admin is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Assign_admin"}}"#
    );
    assert_eq!(
        error(update(&app, Some(ALICE), ALICE.0, json!({"username": "a b"}))),
        r#"{"success":false,"error":"a b is not a valid username [error-input-is-not-a-valid-field]","errorType":"error-input-is-not-a-valid-field","details":{"method":"insertOrUpdateUser","input":"a b","field":"Username"}}"#
    );
    // Then `validateUserEditing`.
    assert_eq!(
        error(update(&app, auth(&admin), "nobody", json!({"name": "x"}))),
        r#"{"success":false,"error":"Invalid user [error-invalid-user]","errorType":"error-invalid-user"}"#
    );
    assert_eq!(
        error(update(&app, Some(ALICE), ALICE.0, json!({"roles": ["user", "bot"]}))),
        r#"{"success":false,"error":"Assign roles is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Assign_role"}}"#
    );
    set_setting(&app, "Accounts_AllowRealNameChange", json!(false));
    assert_eq!(
        error(update(&app, Some(ALICE), ALICE.0, json!({"name": "Alicia"}))),
        r#"{"success":false,"error":"Edit user real name is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Update_user"}}"#
    );
    // The same name is no change; an editor of others is not bound.
    assert_eq!(update(&app, Some(ALICE), ALICE.0, json!({"name": "Alice Example"})).status, 200);
    assert_eq!(update(&app, auth(&admin), ALICE.0, json!({"name": "Alicia"})).status, 200);
    // Then the identity, the address and the texts.
    assert_eq!(
        error(update(&app, auth(&admin), ALICE.0, json!({"username": "BOB"}))),
        r#"{"success":false,"error":"Could not save user identity [error-could-not-save-identity]","errorType":"error-could-not-save-identity","details":{"method":"saveUser"}}"#
    );
    assert_eq!(
        error(update(&app, auth(&admin), ALICE.0, json!({"username": "system"}))),
        r#"{"success":false,"error":"system is blocked and can't be used! [error-blocked-username]","errorType":"error-blocked-username","details":{"method":"checkUsernameAvailability","field":"system"}}"#
    );
    assert_eq!(
        error(update(&app, auth(&admin), ALICE.0, json!({"email": "Bob@Example.com"}))),
        r#"{"success":false,"error":"Bob@Example.com is already in use :( [error-field-unavailable]","errorType":"error-field-unavailable","details":{"function":"_setEmail","field":"Bob@Example.com"}}"#
    );
    assert_eq!(
        error(update(&app, auth(&admin), ALICE.0, json!({"email": "nope"}))),
        r#"{"success":false,"error":"Invalid email nope [error-invalid-email]","errorType":"error-invalid-email","details":{"function":"RocketChat.validateEmailDomain","email":"nope"}}"#
    );
    assert_eq!(
        error(update(&app, auth(&admin), ALICE.0, json!({"bio": "b".repeat(261)}))),
        r#"{"success":false,"error":"Bio size exceeds 260 characters [error-bio-size-exceeded]","errorType":"error-bio-size-exceeded","details":{"method":"saveUserProfile"}}"#
    );
    // A refused update changes nothing.
    let r = app.get(&format!("/api/v1/users.info?userId={}", ALICE.0), auth(&admin));
    let alice = r.json()["user"].clone();
    assert_eq!((alice["username"].as_str(), alice["name"].as_str()), (Some("alice"), Some("Alicia")));
    assert!(alice.get("bio").is_none());
    // Letter case alone is no conflict with oneself.
    assert_eq!(update(&app, auth(&admin), ALICE.0, json!({"username": "Alice"})).status, 200);
}

#[test]
fn users_update_sets_passwords_only_for_holders_of_edit_other_user_password() {
    let app = spawn_app!();
    let admin = app.admin();
    // Ignored without the permission, even for oneself.
    let r = update(&app, Some(ALICE), ALICE.0, json!({"password": "new-alice"}));
    assert_eq!(r.status, 200, "{}", r.body);
    app.login("alice", "alice-demo");
    let r = update(&app, auth(&admin), BOB.0, json!({"password": " new-bob ", "requirePasswordChange": true}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["user"]["requirePasswordChange"], true);
    app.login("bob", "new-bob");
    let r = app.post("/api/v1/login", None, &json!({"user": "bob", "password": "bob-demo"}));
    assert_eq!(r.status, 401);
}

#[test]
fn users_update_activates_and_deactivates_with_the_permission() {
    let app = spawn_app!();
    let admin = app.admin();
    // Without `edit-other-user-active-status` the rest is saved, then refused.
    let r = update(&app, Some(BOB), BOB.0, json!({"nickname": "bb", "active": false}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Not allowed [error-not-allowed]","errorType":"error-not-allowed","details":{"method":"setUserActiveStatus"}}"#
    );
    assert_eq!(app.get("/api/v1/me", Some(BOB)).json()["nickname"], "bb");
    let r = update(&app, auth(&admin), BOB.0, json!({"active": false}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["user"]["active"], false);
    // A deactivated user's sessions end.
    assert_eq!(app.get("/api/v1/me", Some(BOB)).status, 401);
    let r = update(&app, auth(&admin), BOB.0, json!({"active": true}));
    assert_eq!(r.json()["user"]["active"], true);
    app.login("bob", "bob-demo");
    // The last active admin stays.
    let r = update(&app, auth(&admin), &admin.0, json!({"active": false}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Leaving the app without an active admin is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"removeUserFromRole","action":"Remove_last_admin"}}"#
    );
}

#[test]
fn preferences_are_set_read_and_guarded_as_rocket_chat_does() {
    let app = spawn_app!();
    let r = app.get("/api/v1/users.getPreferences", Some(BOB));
    assert_eq!(r.body, r#"{"preferences":{},"success":true}"#);
    let r = app.post(
        "/api/v1/users.setPreferences",
        Some(BOB),
        &json!({"data": {"language": "de", "useEmojis": "false", "clockMode": 2, "highlights": ["bass"]}}),
    );
    assert_eq!(
        r.body,
        format!(
            r#"{{"user":{{"_id":"{}","settings":{{"preferences":{{"clockMode":2,"highlights":["bass"],"language":"de","useEmojis":false}}}}}},"success":true}}"#,
            BOB.0
        )
    );
    let r = app.get("/api/v1/users.getPreferences", Some(BOB));
    assert_eq!(
        r.body,
        r#"{"preferences":{"clockMode":2,"highlights":["bass"],"language":"de","useEmojis":false},"success":true}"#
    );
    // Durable: the preferences outlive a restart.
    let mut app = app;
    app.restart(|_| {});
    let r = app.get("/api/v1/users.getPreferences", Some(BOB));
    assert_eq!(
        r.body,
        r#"{"preferences":{"clockMode":2,"highlights":["bass"],"language":"de","useEmojis":false},"success":true}"#
    );
    let admin = app.admin();
    // What the user chose wins over the defaults in `me`.
    let me = app.get("/api/v1/me", Some(BOB)).json();
    assert_eq!(me["settings"]["preferences"]["useEmojis"], false);
    assert_eq!(me["language"], "de");

    let errors = [
        (
            app.post("/api/v1/users.setPreferences", Some(ALICE), &json!({"userId": BOB.0, "data": {}})),
            r#"{"success":false,"error":"Editing user is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed"}"#,
        ),
        (
            app.post("/api/v1/users.setPreferences", auth(&admin), &json!({"userId": "nobody", "data": {}})),
            r#"{"success":false,"error":"The optional \"userId\" param provided does not match any users [error-invalid-user]","errorType":"error-invalid-user"}"#,
        ),
        (
            app.post("/api/v1/users.setPreferences", Some(ALICE), &json!({})),
            r#"{"success":false,"error":"must have required property 'data' [invalid-params]","errorType":"invalid-params"}"#,
        ),
        (
            app.post("/api/v1/users.setPreferences", Some(ALICE), &json!({"data": {"colour": "red"}})),
            r#"{"success":false,"error":"must NOT have additional properties [invalid-params]","errorType":"invalid-params"}"#,
        ),
        (
            app.post("/api/v1/users.setPreferences", Some(ALICE), &json!({"data": {"clockMode": "soon"}})),
            r#"{"success":false,"error":"must be number [invalid-params]","errorType":"invalid-params"}"#,
        ),
        (
            app.post("/api/v1/users.setPreferences", Some(ALICE), &json!({"data": {"alsoSendThreadToChannel": "sometimes"}})),
            r#"{"success":false,"error":"must be equal to one of the allowed values [invalid-params]","errorType":"invalid-params"}"#,
        ),
    ];
    for (r, body) in errors {
        assert_eq!((r.status, r.body.as_str()), (400, body));
    }
    // An admin sets another user's.
    let r = app.post(
        "/api/v1/users.setPreferences",
        auth(&admin),
        &json!({"userId": ALICE.0, "data": {"sendOnEnter": "alternative"}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.get("/api/v1/users.getPreferences", Some(ALICE)).json()["preferences"],
        json!({"sendOnEnter": "alternative"})
    );
}

#[test]
fn save_user_preferences_is_the_same_for_oneself_over_ddp() {
    let app = spawn_app!();
    let call = |params: Value| {
        let frame = json!({"msg": "method", "id": "7", "method": "saveUserPreferences", "params": params});
        let r = app.post(
            "/api/v1/method.call/saveUserPreferences",
            Some(ALICE),
            &json!({ "message": frame.to_string() }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["message"].as_str().unwrap().to_string()
    };
    assert_eq!(
        call(json!([{"pushNotifications": "nothing", "emailNotificationMode": "disabled"}])),
        r#"{"msg":"result","id":"7","result":true}"#
    );
    assert_eq!(
        app.get("/api/v1/users.getPreferences", Some(ALICE)).json()["preferences"],
        json!({"pushNotifications": "nothing", "emailNotificationMode": "nothing"})
    );
    let sub = sub_of(&app, ALICE, DM_ALICE_RODRIQ);
    assert_eq!(sub["mobilePushNotifications"], "nothing");
    assert_eq!(sub["mobilePrefOrigin"], "user");
    assert_eq!(sub["emailNotifications"], "nothing");
    assert!(call(json!([{"idleTimeLimit": 30}])).contains(r#""error":"invalid-idle-time-limit-value""#));
    assert!(call(json!([{"useEmojis": "yes"}])).contains("Match failed"));
    // `default` removes the copies again.
    call(json!([{"pushNotifications": "default"}]));
    let sub = sub_of(&app, ALICE, DM_ALICE_RODRIQ);
    assert!(sub.get("mobilePushNotifications").is_none() && sub.get("mobilePrefOrigin").is_none());
}

#[test]
fn a_push_preference_of_nothing_stops_pushes_in_old_and_new_rooms() {
    let gw = FakeGateway::start();
    let url = gw.url.clone();
    let app = spawn_app_with!(move |c| {
        c.settings.insert("Push_gateway".into(), json!(url));
    });
    let r = app.register_token(RODRIQ, "gcm", "gcm-rodriq", "chat.rocket.android");
    assert_eq!(r.status, 200, "{}", r.body);
    let prefs = |value: &str| {
        let r = app.post(
            "/api/v1/users.setPreferences",
            Some(RODRIQ),
            &json!({"data": {"pushNotifications": value}}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    prefs("nothing");
    app.post_message(ALICE, DM_ALICE_RODRIQ, "silent in an old room");
    // A DM made afterwards copies the preference into its new subscription.
    let r = app.post("/api/v1/im.create", Some(BOB), &json!({"username": "rodriq"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let rid = r.json()["room"]["rid"].as_str().unwrap().to_string();
    let sub = sub_of(&app, RODRIQ, &rid);
    assert_eq!((sub["mobilePushNotifications"].as_str(), sub["mobilePrefOrigin"].as_str()), (Some("nothing"), Some("user")));
    app.post_message(BOB, &rid, "silent in a new room");
    prefs("all");
    app.post_message(ALICE, DM_ALICE_RODRIQ, "heard");
    let got = gw.wait_for(1);
    gw.settles_at(1);
    let text = got[0].json()["options"]["text"].as_str().unwrap().to_string();
    assert_eq!(text, "heard");
}

#[test]
fn new_users_get_the_default_roles() {
    let app = spawn_app!();
    let admin = app.admin();
    set_setting(&app, "Accounts_Registration_Users_Default_Roles", json!(" user, moderator ,"));
    let create = |username: &str, roles: Option<Value>| {
        let mut body = json!({"email": format!("{username}@example.com"), "name": username, "password": "pw", "username": username});
        if let Some(roles) = roles {
            body["roles"] = roles;
        }
        let r = app.post("/api/v1/users.create", auth(&admin), &body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["user"]["roles"].clone()
    };
    assert_eq!(create("dora", None), json!(["user", "moderator"]));
    assert_eq!(create("eve", Some(json!(["bot"]))), json!(["bot"]));
}
