//! The settings and permissions Rocket.Chat's own REST tests (`chat.ts`, `channels.ts`,
//! `groups.ts`, `direct-message.ts`, `users.ts`) set in their hooks through `updateSetting`
//! and `updatePermission`: each exists with Rocket.Chat's id and default, takes a new value
//! of its type, and gives it back.

use serde_json::{json, Value};

use crate::helpers::{auth, spawn_app, ALICE};

/// `(id, Rocket.Chat's default, a value the tests set)`.
fn settings() -> Vec<(&'static str, Value, Value)> {
    vec![
        ("Message_AllowBadWordsFilter", json!(false), json!(true)),
        ("Message_BadWordsFilterList", json!(""), json!("badword,badword2")),
        ("Message_BadWordsWhitelist", json!(""), json!("ass")),
        ("E2E_Enable", json!(false), json!(true)),
        ("E2E_Allow_Unencrypted_Messages", json!(true), json!(false)),
        ("E2E_Enabled_Default_DirectRooms", json!(false), json!(true)),
        ("E2E_Enabled_Default_PrivateRooms", json!(false), json!(true)),
        ("Message_MaxAllowedSize", json!(5000), json!(10)),
        ("Message_AllowPinning", json!(true), json!(false)),
        ("Message_AllowStarring", json!(true), json!(false)),
        ("Message_CustomFields_Enabled", json!(false), json!(true)),
        (
            "Message_CustomFields",
            json!("\n{\n\t\"properties\": {\n\t\t\"priority\": {\n\t\t\t\"type\": \"string\",\n\t\t\t\"nullable\": false,\n\t\t\t\"enum\": [\"low\", \"medium\", \"high\"]\n\t\t}\n\t},\n\t\"required\": [\"priority\"]\n}\n\t\t"),
            json!(r#"{"properties":{"test":{"type":"string"}}}"#),
        ),
        ("Threads_enabled", json!(true), json!(false)),
        (
            "API_EmbedIgnoredHosts",
            json!("localhost, 127.0.0.1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16"),
            json!(""),
        ),
        ("API_EmbedSafePorts", json!("80, 443"), json!("80, 443, 3000")),
        ("API_Enable_Direct_Message_History_EndPoint", json!(false), json!(true)),
        (
            "API_Apply_permission_view-outside-room_on_users-list",
            json!(false),
            json!(true),
        ),
        ("UI_Use_Real_Name", json!(false), json!(true)),
        ("Accounts_AllowAnonymousRead", json!(false), json!(true)),
        (
            "Accounts_SearchFields",
            json!("username, name, bio, nickname"),
            json!("username, name"),
        ),
        ("Accounts_CustomFields", json!(""), json!(r#"{"customFieldText":{"type":"text"}}"#)),
        ("Accounts_AllowUserProfileChange", json!(true), json!(false)),
        ("Accounts_AllowRealNameChange", json!(true), json!(false)),
        ("Accounts_AllowUsernameChange", json!(true), json!(false)),
        ("Accounts_AllowEmailChange", json!(true), json!(false)),
        ("Accounts_AllowUserAvatarChange", json!(true), json!(false)),
        ("Accounts_AllowUserStatusMessageChange", json!(true), json!(false)),
        ("Accounts_AllowPasswordChange", json!(true), json!(false)),
        ("Accounts_AllowDeleteOwnAccount", json!(false), json!(true)),
        ("Accounts_AllowInvisibleStatusOption", json!(true), json!(false)),
        ("Accounts_PasswordReset", json!(true), json!(false)),
        ("Accounts_Password_Policy_Enabled", json!(false), json!(true)),
        ("Accounts_Password_Policy_MaxLength", json!(-1), json!(5)),
        ("Accounts_TwoFactorAuthentication_Enabled", json!(true), json!(false)),
        ("SMTP_Host", json!(""), json!("localhost")),
    ]
}

/// `(id, Rocket.Chat's default roles)` of the permissions the tests update.
fn permissions() -> Vec<(&'static str, Value)> {
    vec![
        ("post-readonly", json!(["admin", "owner", "moderator"])),
        ("pin-message", json!(["owner", "moderator", "admin"])),
        ("view-c-room", json!(["admin", "user", "bot", "app", "anonymous"])),
        ("view-joined-room", json!(["guest", "bot", "app", "anonymous"])),
        ("view-d-room", json!(["admin", "user", "bot", "app", "guest"])),
        ("view-room-administration", json!(["admin"])),
        ("kick-user-from-any-p-room", json!([])),
        ("remove-user", json!(["admin", "owner", "moderator"])),
        ("edit-room", json!(["admin", "owner", "moderator"])),
        ("join-without-join-code", json!(["admin", "bot", "app"])),
        ("manage-incoming-integrations", json!(["admin"])),
        ("manage-own-incoming-integrations", json!(["admin"])),
        ("manage-outgoing-integrations", json!(["admin"])),
        ("manage-own-outgoing-integrations", json!(["admin"])),
        ("view-other-user-channels", json!(["admin"])),
        ("view-full-other-user-info", json!(["admin"])),
        ("view-outside-room", json!(["admin", "owner", "moderator", "user"])),
        ("edit-other-user-avatar", json!(["admin"])),
        ("edit-other-user-active-status", json!(["admin"])),
        ("delete-user", json!(["admin"])),
        ("logout-other-user", json!(["admin"])),
        ("create-personal-access-tokens", json!(["admin", "user"])),
        ("manage-moderation-actions", json!(["admin"])),
    ]
}

#[test]
fn every_setting_the_tests_set_exists_with_its_default_and_takes_a_new_value() {
    let app = spawn_app!();
    let admin = app.admin();
    let value_of = |id: &str| -> Value {
        let r = app.get(&format!("/api/v1/settings/{id}"), auth(&admin));
        assert_eq!(r.status, 200, "{id}: {}", r.body);
        r.json()["value"].clone()
    };
    let set = |id: &str, value: &Value| {
        let path = format!("/api/v1/settings/{id}");
        app.post(&path, auth(&admin), &json!({ "value": value }))
    };
    for (id, default, new) in settings() {
        assert_eq!(value_of(id), default, "{id}");
        let r = set(id, &new);
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"success":true}"#), "{id}");
        assert_eq!(value_of(id), new, "{id}");
    }
    // A value of another type is refused, as for every setting.
    assert_eq!(set("E2E_Enable", &json!("yes")).status, 400);
    assert_eq!(value_of("E2E_Enable"), true);
}

#[test]
fn every_permission_the_tests_update_exists_with_its_default_roles() {
    let app = spawn_app!();
    let listed = || -> Vec<Value> {
        let r = app.get("/api/v1/permissions.listAll", Some(ALICE));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["update"].as_array().unwrap().clone()
    };
    let roles_of = |all: &[Value], id: &str| -> Value {
        all.iter()
            .find(|p| p["_id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed"))["roles"]
            .clone()
    };
    let before = listed();
    for (id, default) in permissions() {
        assert_eq!(roles_of(&before, id), default, "{id}");
    }
    let admin = app.admin();
    let changes: Vec<Value> = permissions()
        .iter()
        .map(|(id, _)| json!({"_id": id, "roles": ["admin", "user"]}))
        .collect();
    let r = app.post(
        "/api/v1/permissions.update",
        auth(&admin),
        &json!({ "permissions": changes }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let after = listed();
    for (id, _) in permissions() {
        assert_eq!(roles_of(&after, id), json!(["admin", "user"]), "{id}");
    }
}
