//! Login, logout, me, failed-login blocking, users.create / users.info.

use serde_json::json;

use crate::helpers::*;

const LOGIN_FAILED: &str =
    r#"{"success":false,"error":401,"status":"error","message":"Incorrect login or password"}"#;

#[test]
fn login_accepts_every_client_form() {
    let app = spawn_app!();
    let digest = "sha256-of-nothing";
    let _ = digest;
    let alice_digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"alice-demo"))
    };
    for body in [
        json!({"user": "alice", "password": "alice-demo"}),
        json!({"user": "ALICE", "password": "alice-demo"}),
        json!({"user": "alice@example.com", "password": "alice-demo"}),
        json!({"username": "alice", "password": "alice-demo"}),
        json!({"email": "alice@example.com", "password": "alice-demo"}),
        json!({"user": {"username": "alice"}, "password": "alice-demo"}),
        json!({"user": "alice", "password": {"digest": alice_digest, "algorithm": "sha-256"}}),
    ] {
        let r = app.post("/api/v1/login", None, &body);
        assert_eq!(r.status, 200, "{body}: {}", r.body);
        assert_eq!(r.content_type, "application/json");
        let j = r.json();
        assert_eq!(j["status"], "success");
        assert_eq!(j["success"], true);
        assert_eq!(j["data"]["userId"], ALICE.0);
        assert_eq!(j["data"]["me"]["username"], "alice");
        assert_eq!(j["data"]["authToken"].as_str().unwrap().len(), 43);
        assert!(!r.body.contains("argon2"), "no hash in the login answer");
    }
}

#[test]
fn login_fails_the_same_way_for_wrong_passwords_and_unknown_users() {
    let app = spawn_app!();
    for body in [
        json!({"user": "alice", "password": "wrong"}),
        json!({"user": "nobody", "password": "alice-demo"}),
        json!({"user": "alice", "password": {"digest": "00", "algorithm": "sha-256"}}),
        json!({"user": "alice"}),
        json!({"password": "alice-demo"}),
        json!({"user": ["alice"], "password": "alice-demo"}),
        json!({"user": "alice", "password": ["alice-demo"]}),
    ] {
        let r = app.post("/api/v1/login", None, &body);
        assert_eq!((r.status, r.body.as_str()), (401, LOGIN_FAILED), "{body}");
    }
}

#[test]
fn ten_failures_block_the_username_even_with_the_right_password() {
    let app = spawn_app!();
    for _ in 0..10 {
        let r = app.post(
            "/api/v1/login",
            None,
            &json!({"user": "bob", "password": "nope"}),
        );
        assert_eq!(r.status, 401);
    }
    let r = app.post(
        "/api/v1/login",
        None,
        &json!({"user": "bob", "password": "bob-demo"}),
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "error-login-blocked-for-user");
    // Other users are not affected.
    app.login("alice", "alice-demo");
}

#[test]
fn logout_invalidates_the_token() {
    let app = spawn_app!();
    let session = app.login("alice", "alice-demo");
    let r = app.get("/api/v1/me", auth(&session));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["username"], "alice");
    let r = app.post("/api/v1/logout", auth(&session), &json!({}));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            200,
            r#"{"status":"success","data":{"message":"You've been logged out!"}}"#
        )
    );
    assert_eq!(app.get("/api/v1/me", auth(&session)).status, 401);
    // GET logout works too, and other sessions stay valid.
    let other = app.login("alice", "alice-demo");
    assert_eq!(app.get("/api/v1/logout", auth(&other)).status, 200);
    assert_eq!(app.get("/api/v1/me", Some(ALICE)).status, 200);
}

#[test]
fn me_describes_the_caller_without_secrets() {
    let app = spawn_app!();
    let r = app.get("/api/v1/me?", Some(RODRIQ));
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["_id"], RODRIQ.0);
    // Stored order (secrets taken out without reordering), then getUserInfo's additions.
    assert_eq!(
        keys(&j),
        [
            "_id",
            "username",
            "emails",
            "roles",
            "status",
            "active",
            "_updatedAt",
            "name",
            "settings",
            "email",
            "avatarUrl",
            "isOAuthUser",
            "services",
            "success"
        ]
    );
    assert_eq!(j["email"], "rodriq@example.com");
    assert_eq!(j["avatarUrl"], "http://localhost:3000/avatar/rodriq");
    assert_eq!(j["services"], json!({"password": {"exists": true}}));
    assert!(r.body.ends_with(r#""success":true}"#));
    assert!(!r.body.contains("argon2") && !r.body.contains("hashedToken"));
}

#[test]
fn users_create_needs_create_user_and_unique_names() {
    let app = spawn_app!();
    let body = json!({"email": "carol@example.com", "name": "Carol", "password": "carol-pass", "username": "carol"});
    let r = app.post("/api/v1/users.create", Some(ALICE), &body);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["errorType"], "error-action-not-allowed");
    let admin = app.admin();
    let r = app.post("/api/v1/users.create", auth(&admin), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let user = r.json()["user"].clone();
    assert_eq!(user["username"], "carol");
    assert_eq!(user["roles"], json!(["user"]));
    assert!(user.get("services").is_none());
    app.login("carol", "carol-pass");
    let r = app.post("/api/v1/users.create", auth(&admin), &body);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (
            400,
            Some("carol is already in use :( [error-field-unavailable]")
        )
    );
    // E-mail addresses are unique too, whatever their case; the error names the one sent.
    let r = app.post(
        "/api/v1/users.create",
        auth(&admin),
        &json!({"email": "Carol@Example.com", "name": "C2", "password": "p", "username": "carol2"}),
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (
            400,
            Some("Carol@Example.com is already in use :( [error-field-unavailable]")
        )
    );
    let r = app.post(
        "/api/v1/users.create",
        auth(&admin),
        &json!({"email": "x@example.com", "name": "X", "password": "p"}),
    );
    assert_eq!(
        r.json()["error"],
        "must have required property 'username' [invalid-params]"
    );
    let r = app.post(
        "/api/v1/users.create",
        auth(&admin),
        &json!({"email": "x@example.com", "name": "X", "password": "p", "username": "bad name"}),
    );
    assert_eq!(r.json()["errorType"], "error-input-is-not-a-valid-field");

    let r = app.get("/api/v1/users.info?username=carol", Some(BOB));
    assert_eq!(r.status, 200);
    assert!(
        r.json()["user"].get("emails").is_none(),
        "others do not see e-mail addresses"
    );
    let r = app.get("/api/v1/users.info?username=nobody", Some(BOB));
    assert_eq!(r.body, r#"{"success":false,"error":"User not found."}"#);
}

#[test]
fn unknown_routes_get_a_rocket_chat_404() {
    let app = spawn_app!();
    let r = app.get("/api/v1/nope", Some(RODRIQ));
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, r#"{"success":false,"error":"Resource not found"}"#)
    );
}

#[test]
fn api_info_gives_the_short_version_anonymously_and_the_build_info_to_admins() {
    let app = spawn_app!();
    let anonymous = r#"{"version":"7.10","minimumClientVersions":{"desktop":"3.9.6","mobile":"4.39.0"},"success":true}"#;
    let r = app.get("/api/info", None);
    assert_eq!((r.status, r.body.as_str()), (200, anonymous));
    // A logged-in user without get-server-info sees the same.
    let r = app.get("/api/info", Some(RODRIQ));
    assert_eq!(r.body, anonymous);
    let admin = app.admin();
    let r = app.get("/api/info", auth(&admin));
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(
        keys(&j),
        ["version", "info", "minimumClientVersions", "success"]
    );
    assert_eq!(j["version"], "7.10.0");
    assert_eq!(
        keys(&j["info"]),
        ["version", "build", "marketplaceApiVersion", "commit"]
    );
    assert_eq!(j["info"]["version"], "7.10.0");
    assert!(j["info"]["build"].is_object() && j["info"]["commit"].is_object());
    assert!(j["info"]["marketplaceApiVersion"].is_string());
    assert_eq!(j["minimumClientVersions"]["mobile"], "4.39.0");
}

#[test]
fn login_with_resume_returns_the_same_token_until_logout() {
    let app = spawn_app!();
    let (user_id, token) = app.login("alice", "alice-demo");
    let r = app.post("/api/v1/login", None, &json!({ "resume": token }));
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(keys(&j), ["status", "data", "success"]);
    assert_eq!(j["status"], "success");
    assert_eq!(j["data"]["userId"], user_id.as_str());
    assert_eq!(j["data"]["authToken"], token.as_str());
    assert_eq!(j["data"]["me"]["username"], "alice");
    // A name with the resume token is a password login, which this is not.
    let r = app.post(
        "/api/v1/login",
        None,
        &json!({"user": "alice", "resume": token}),
    );
    assert_eq!((r.status, r.body.as_str()), (401, LOGIN_FAILED));
    for bad in [json!({"resume": "not-a-token"}), json!({"resume": 42})] {
        let r = app.post("/api/v1/login", None, &bad);
        assert_eq!((r.status, r.body.as_str()), (401, LOGIN_FAILED));
    }
    app.post(
        "/api/v1/logout",
        Some((user_id.as_str(), token.as_str())),
        &json!({}),
    );
    let r = app.post("/api/v1/login", None, &json!({ "resume": token }));
    assert_eq!((r.status, r.body.as_str()), (401, LOGIN_FAILED));
}

#[test]
fn users_create_refuses_blocked_usernames() {
    let app = spawn_app_with!(|c| {
        c.settings
            .insert("Accounts_BlockedUsernameList".into(), json!("root, Bot"));
    });
    let admin = app.admin();
    for name in ["system", "User", "root", "bot"] {
        let body = json!({"email": format!("{name}@example.com"), "name": name, "password": "pw", "username": name});
        let r = app.post("/api/v1/users.create", auth(&admin), &body);
        assert_eq!(
            (r.status, r.body.clone()),
            (
                400,
                format!(
                    r#"{{"success":false,"error":"{name} is blocked and can't be used! [error-blocked-username]","errorType":"error-blocked-username","details":{{"method":"checkUsernameAvailability","field":"{name}"}}}}"#
                )
            )
        );
    }
    let body =
        json!({"email": "sys@example.com", "name": "S", "password": "pw", "username": "systems"});
    let r = app.post("/api/v1/users.create", auth(&admin), &body);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn users_info_include_user_rooms_lists_the_subscriptions() {
    let app = spawn_app!();
    let r = app.get(
        "/api/v1/users.info?username=alice&includeUserRooms=true",
        Some(ALICE),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rooms = r.json()["user"]["rooms"].clone();
    let rooms = rooms.as_array().expect("rooms");
    let order: Vec<(&str, &str)> = rooms
        .iter()
        .map(|r| (r["t"].as_str().unwrap(), r["rid"].as_str().unwrap()))
        .collect();
    let mut sorted = order.clone();
    sorted.sort_by_key(|(t, _)| *t);
    assert_eq!(order, sorted);
    assert!(order.contains(&("p", "PrvGrp8sKq3mZ7wTx")));
    for room in rooms {
        for key in keys(room) {
            assert!(
                ["_id", "rid", "name", "t", "roles", "unread", "federated"].contains(&key),
                "{key}"
            );
        }
    }
    // Another user's rooms only with view-other-user-channels (admins).
    let r = app.get(
        "/api/v1/users.info?username=alice&includeUserRooms=true",
        Some(BOB),
    );
    assert!(r.json()["user"].get("rooms").is_none());
    let admin = app.admin();
    let r = app.get(
        "/api/v1/users.info?username=alice&includeUserRooms=true",
        auth(&admin),
    );
    assert_eq!(
        r.json()["user"]["rooms"].as_array().unwrap().len(),
        rooms.len()
    );
    let r = app.get("/api/v1/users.info?username=alice", Some(ALICE));
    assert!(r.json()["user"].get("rooms").is_none());
}

#[test]
fn me_shows_the_default_user_preferences_under_the_users_own() {
    let app = spawn_app!();
    let r = app.get("/api/v1/me", Some(BOB));
    assert_eq!(r.status, 200, "{}", r.body);
    let prefs = r.json()["settings"]["preferences"].clone();
    assert_eq!(
        keys(&prefs),
        [
            "enableAutoAway",
            "idleTimeLimit",
            "desktopNotificationRequireInteraction",
            "desktopNotifications",
            "pushNotifications",
            "unreadAlert",
            "useEmojis",
            "convertAsciiEmoji",
            "autoImageLoad",
            "saveMobileBandwidth",
            "collapseMediaByDefault",
            "hideUsernames",
            "hideRoles",
            "hideFlexTab",
            "displayAvatars",
            "sidebarGroupByType",
            "themeAppearence",
            "sidebarViewMode",
            "sidebarDisplayAvatar",
            "sidebarShowUnread",
            "sidebarSortby",
            "showThreadsInMainChannel",
            "alsoSendThreadToChannel",
            "sidebarShowFavorites",
            "sendOnEnter",
            "emailNotificationMode",
            "newRoomNotification",
            "newMessageNotification",
            "muteFocusedConversations",
            "notificationsSoundVolume",
            "omnichannelTranscriptEmail",
            "notifyCalendarEvents",
            "enableMobileRinging",
            "sidebarSectionsOrder",
            "featuresPreview"
        ]
    );
    assert_eq!(prefs["idleTimeLimit"], 300);
    assert_eq!(prefs["sidebarViewMode"], "medium");
    assert_eq!(prefs["featuresPreview"], "[]");
    assert_eq!(prefs["sidebarSectionsOrder"][0], "Incoming_Calls");

    // An admin changes a default; the users see it at once (login shows the same `me`).
    let admin = app.admin();
    let r = app.post(
        "/api/v1/settings/Accounts_Default_User_Preferences_sidebarViewMode",
        auth(&admin),
        &json!({"value": "extended"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post(
        "/api/v1/login",
        None,
        &json!({"user": "bob", "password": "bob-demo"}),
    );
    assert_eq!(
        r.json()["data"]["me"]["settings"]["preferences"]["sidebarViewMode"],
        "extended"
    );
}

#[test]
fn me_lets_the_users_own_preferences_win() {
    let dir = tempfile::tempdir().unwrap();
    let seed = custom_seed(dir.path(), |bundle| {
        let bob = bundle["users"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|u| u["username"] == "bob")
            .unwrap();
        bob["settings"] =
            json!({"preferences": {"sidebarViewMode": "condensed", "language": "de"}});
    });
    let app = spawn_app_with!(|c| c.seed.file = seed);
    let prefs = app.get("/api/v1/me", Some(BOB)).json()["settings"]["preferences"].clone();
    assert_eq!(prefs["sidebarViewMode"], "condensed");
    assert_eq!(prefs["language"], "de");
    assert_eq!(*keys(&prefs).last().unwrap(), "language");
    assert_eq!(prefs["useEmojis"], true);
}
