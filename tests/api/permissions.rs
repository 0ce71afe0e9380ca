//! `permissions.listAll` and `permissions.update`: admins change who holds a permission, at
//! once and for good; nobody else can, and a guest stays a guest.

use serde_json::{json, Value};

use crate::helpers::{auth, keys, spawn_app, TestApp, ALICE, BOB, GINA};

const FORBIDDEN: &str = r#"{"success":false,"error":"User does not have the permissions required for this action [error-unauthorized]"}"#;

fn roles_of(app: &TestApp, who: (&str, &str), permission: &str) -> Value {
    let r = app.get("/api/v1/permissions.listAll", Some(who));
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    j["update"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["_id"] == permission)
        .unwrap_or_else(|| panic!("{permission} not listed"))["roles"]
        .clone()
}

/// A message in a channel only alice is in.
fn quiet_message(app: &TestApp) -> String {
    let r = app.post(
        "/api/v1/channels.create",
        Some(ALICE),
        &json!({"name": "quiet"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(ALICE),
        &json!({"channel": "#quiet", "text": "psst"}),
    );
    r.json()["message"]["_id"].as_str().unwrap().to_string()
}

fn push_get_status(app: &TestApp, who: (&str, &str), id: &str) -> (u16, String) {
    let r = app.get(&format!("/api/v1/push.get?id={id}"), Some(who));
    (r.status, r.body)
}

#[test]
fn permissions_list_all_lists_every_permission_with_its_roles() {
    let app = spawn_app!();
    let r = app.get("/api/v1/permissions.listAll", Some(BOB));
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(keys(&j), ["update", "remove", "success"]);
    assert_eq!(j["remove"], json!([]));
    for p in j["update"].as_array().unwrap() {
        assert_eq!(keys(p), ["_id", "roles", "_updatedAt"]);
    }
    assert_eq!(
        roles_of(&app, BOB, "view-c-room"),
        json!(["admin", "user", "bot", "app", "anonymous"])
    );
    let r = app.get(
        "/api/v1/permissions.listAll?updatedSince=2999-01-01T00:00:00.000Z",
        Some(BOB),
    );
    assert_eq!(r.json()["update"], json!([]));
    let r = app.get(
        "/api/v1/permissions.listAll?updatedSince=yesterday",
        Some(BOB),
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"success":false,"error":"The \"updatedSince\" query parameter must be a valid date. [error-roomId-param-invalid]","errorType":"error-roomId-param-invalid"}"#
        )
    );
    let r = app.get("/api/v1/permissions.listAll", None);
    assert_eq!(r.status, 401);
}

#[test]
fn permissions_update_is_admin_only_and_checks_ids_and_roles() {
    let app = spawn_app!();
    let body = json!({"permissions": [{"_id": "view-c-room", "roles": ["admin", "guest"]}]});
    for who in [BOB, GINA] {
        let r = app.post("/api/v1/permissions.update", Some(who), &body);
        assert_eq!((r.status, r.body.as_str()), (403, FORBIDDEN));
        // Even with a body that is no good at all.
        let r = app.post("/api/v1/permissions.update", Some(who), &json!({}));
        assert_eq!((r.status, r.body.as_str()), (403, FORBIDDEN));
    }
    assert_eq!(
        roles_of(&app, GINA, "view-c-room"),
        json!(["admin", "user", "bot", "app", "anonymous"])
    );
    let admin = app.admin();
    let update = |body: Value| app.post("/api/v1/permissions.update", auth(&admin), &body);
    let r = update(json!({}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"must have required property 'permissions' [invalid-params]","errorType":"invalid-params"}"#
    );
    let r = update(json!({"permissions": [{"_id": "view-c-room", "roles": ["user", "user"]}]}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"must NOT have duplicate items (items ## 1 and 0 are identical) [invalid-params]","errorType":"invalid-params"}"#
    );
    let r = update(json!({"permissions": [{"_id": "no-such-permission", "roles": []}]}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Invalid permission","errorType":"error-invalid-permission"}"#
    );
    let r = update(json!({"permissions": [{"_id": "view-c-room", "roles": ["emperor"]}]}));
    assert_eq!(
        r.body,
        r#"{"success":false,"error":"Invalid role","errorType":"error-invalid-role"}"#
    );
    let r = update(json!({"permissions": [{"_id": "view-c-room"}]}));
    assert_eq!(
        r.json()["error"],
        "must have required property 'roles' [invalid-params]"
    );
    // Nothing changed.
    assert_eq!(
        roles_of(&app, BOB, "view-c-room"),
        json!(["admin", "user", "bot", "app", "anonymous"])
    );
}

#[test]
fn changed_roles_apply_at_once_and_after_a_restart() {
    let mut app = spawn_app!();
    let msg = quiet_message(&app);
    assert_eq!(push_get_status(&app, BOB, &msg).0, 200);
    let gina_denied = (
        400,
        r#"{"success":false,"error":"error-not-allowed"}"#.to_string(),
    );
    assert_eq!(push_get_status(&app, GINA, &msg), gina_denied);

    let admin = app.admin();
    let r = app.post(
        "/api/v1/permissions.update",
        auth(&admin),
        &json!({"permissions": [{"_id": "view-c-room", "roles": ["admin"]}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let listed = r.json()["permissions"].clone();
    let changed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["_id"] == "view-c-room")
        .unwrap()
        .clone();
    assert_eq!(changed["roles"], json!(["admin"]));
    // At once: bob, a user outside the channel, loses it; the guest still has nothing.
    assert_eq!(push_get_status(&app, BOB, &msg).0, 400);
    assert_eq!(push_get_status(&app, GINA, &msg), gina_denied);

    app.restart(|_| {});
    assert_eq!(roles_of(&app, BOB, "view-c-room"), json!(["admin"]));
    assert_eq!(push_get_status(&app, BOB, &msg).0, 400);
    // Guests get it only when their role is named.
    let admin = app.admin();
    let r = app.post(
        "/api/v1/permissions.update",
        auth(&admin),
        &json!({"permissions": [{"_id": "view-c-room", "roles": ["admin", "user"]}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(push_get_status(&app, BOB, &msg).0, 200);
    assert_eq!(push_get_status(&app, GINA, &msg), gina_denied);
    let r = app.get("/api/v1/me", Some(GINA));
    assert_eq!(r.json()["roles"], json!(["guest"]));
}
