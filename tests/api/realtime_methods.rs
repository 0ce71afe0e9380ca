//! The bot methods of the realtime API (spec §5) through REST `method.call`, which runs
//! the same method table as the socket: each answer's `result` frame byte for byte, with
//! the ids and times the server chose read back from the store.

use serde_json::{json, Value};

use crate::helpers::{custom_seed, spawn_app, spawn_app_with, TestApp, ALICE, BOB, RODRIQ};

const VB: &str = "iu7jtPAhvEeAS5tNq";
const VB_MESSAGE: &str = "WkbwSntxt8D3jLp8G";
const PRIVATE_GROUP: &str = "PrvGrp8sKq3mZ7wTx";
const DM_ALICE_RODRIQ: &str = "A7dm3kQzR9xYpW2bnd26x6zSkaPSe5gCyy";

/// The `result` frame of `method` called with `params` as `who` (`None`: `callAnon`).
fn call(app: &TestApp, who: Option<(&str, &str)>, method: &str, params: Value) -> String {
    let frame = json!({"msg": "method", "id": "7", "method": method, "params": params});
    // `rooms/get`: the method's name as one path segment.
    let segment = method.replace('/', "%2F");
    let path = match who {
        Some(_) => format!("/api/v1/method.call/{segment}"),
        None => format!("/api/v1/method.callAnon/{segment}"),
    };
    let r = app.post(&path, who, &json!({ "message": frame.to_string() }));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["message"].as_str().unwrap().to_string()
}

/// The `result` frame with `result`.
fn result(v: Value) -> String {
    json!({"msg": "result", "id": "7", "result": v}).to_string()
}

/// The `result` frame without one.
const NOTHING: &str = r#"{"msg":"result","id":"7"}"#;

/// The `result` frame of a Meteor error.
fn error(code: &str, reason: Option<&str>, details: Value) -> String {
    let mut e = serde_json::Map::new();
    e.insert("isClientSafe".into(), json!(true));
    e.insert("error".into(), json!(code));
    if let Some(r) = reason {
        e.insert("reason".into(), json!(r));
    }
    if !details.is_null() {
        e.insert("details".into(), details);
    }
    let message = match reason {
        Some(r) => format!("{r} [{code}]"),
        None => format!("[{code}]"),
    };
    e.insert("message".into(), json!(message));
    e.insert("errorType".into(), json!("Meteor.Error"));
    json!({"msg": "result", "id": "7", "error": e}).to_string()
}

const MATCH_FAILED: &str = r#"{"msg":"result","id":"7","error":{"isClientSafe":true,"error":400,"reason":"Match failed","message":"Match failed [400]","errorType":"Meteor.Error"}}"#;

fn stored(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(RODRIQ));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["message"].clone()
}

/// An ISO date as EJSON.
fn ejson_date(iso: &Value) -> Value {
    let ms = chrono::DateTime::parse_from_rfc3339(iso.as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    json!({ "$date": ms })
}

fn invalid_user(method: &str) -> String {
    error(
        "error-invalid-user",
        Some("Invalid user"),
        json!({ "method": method }),
    )
}

#[test]
fn send_message_answers_with_the_saved_message_and_dates_as_ejson() {
    let app = spawn_app!();
    let frame = call(
        &app,
        Some(BOB),
        "sendMessage",
        json!([{"msg": "hi alice", "bot": {"i": "js.SDK"}, "rid": VB}]),
    );
    let v: Value = serde_json::from_str(&frame).unwrap();
    let id = v["result"]["_id"].as_str().unwrap();
    let m = stored(&app, id);
    assert_eq!(m["bot"], json!({"i": "js.SDK"}));
    // The client's keys, then what the server adds, `_updatedAt`, and the new id last.
    let mut expected = serde_json::Map::new();
    for k in ["msg", "bot", "rid"] {
        expected.insert(k.into(), m[k].clone());
    }
    expected.insert("ts".into(), ejson_date(&m["ts"]));
    for (k, val) in m.as_object().unwrap() {
        if !["_id", "msg", "bot", "rid", "ts", "_updatedAt"].contains(&k.as_str()) {
            expected.insert(k.clone(), val.clone());
        }
    }
    expected.insert("_updatedAt".into(), ejson_date(&m["_updatedAt"]));
    expected.insert("_id".into(), json!(id));
    assert_eq!(frame, result(Value::Object(expected)));
    assert_eq!(
        m["u"],
        json!({"_id": BOB.0, "username": "bob", "name": "Bob Builder"})
    );

    // A client id (rocketchat-async's 12 hex) is kept, and in the client's place.
    let frame = call(
        &app,
        Some(BOB),
        "sendMessage",
        json!([{"_id": "3f2a9c1b7d4e", "rid": VB, "msg": "hi"}]),
    );
    let v: Value = serde_json::from_str(&frame).unwrap();
    assert_eq!(v["result"]["_id"], "3f2a9c1b7d4e");
    let keys: Vec<&String> = v["result"].as_object().unwrap().keys().collect();
    assert_eq!(keys.first().map(|k| k.as_str()), Some("_id"));
    assert_eq!(keys.last().map(|k| k.as_str()), Some("_updatedAt"));
    assert_eq!(stored(&app, "3f2a9c1b7d4e")["msg"], "hi");
    // The same id again: swallowed, nothing sent.
    let again = call(
        &app,
        Some(BOB),
        "sendMessage",
        json!([{"_id": "3f2a9c1b7d4e", "rid": VB, "msg": "again"}]),
    );
    assert_eq!(again, NOTHING);
    assert_eq!(stored(&app, "3f2a9c1b7d4e")["msg"], "hi");
}

#[test]
fn send_message_refusals_are_rocket_chats() {
    // More than `sendMessage`'s 5 calls a second: the rate limiter (W's tests) stays out.
    let app = spawn_app_with!(|c| c.realtime.rate_limit = false);
    let not_allowed = error(
        "error-not-allowed",
        None,
        json!({"method": "sendMessage"}),
    );
    type Case<'a> = (Option<(&'a str, &'a str)>, Value, String);
    let cases: [Case; 8] = [
        (None, json!([{"rid": VB, "msg": "x"}]), invalid_user("sendMessage")),
        (Some(BOB), json!(["x"]), MATCH_FAILED.into()),
        (
            Some(BOB),
            json!([{"rid": VB, "msg": "x", "attachments": []}]),
            MATCH_FAILED.into(),
        ),
        (Some(BOB), json!([{"rid": VB, "msg": 5}]), MATCH_FAILED.into()),
        (
            Some(BOB),
            json!([{"rid": PRIVATE_GROUP, "msg": "x"}]),
            not_allowed,
        ),
        // Swallowed: no rid, no room, `tshow` without `tmid`.
        (Some(BOB), json!([{"msg": "x"}]), NOTHING.into()),
        (Some(BOB), json!([{"rid": "nope", "msg": "x"}]), NOTHING.into()),
        (
            Some(BOB),
            json!([{"rid": VB, "msg": "x", "tshow": true}]),
            NOTHING.into(),
        ),
    ];
    for (who, params, answer) in cases {
        assert_eq!(call(&app, who, "sendMessage", params.clone()), answer, "{params}");
    }
}

#[test]
fn set_reaction_toggles_and_names_its_errors() {
    let app = spawn_app!();
    let frame = call(&app, Some(BOB), "setReaction", json!([":thumbsup:", VB_MESSAGE]));
    assert_eq!(frame, NOTHING);
    assert_eq!(
        stored(&app, VB_MESSAGE)["reactions"],
        json!({":thumbsup:": {"usernames": ["bob"]}})
    );
    // The method checks the emoji before the message.
    assert_eq!(
        call(&app, Some(BOB), "setReaction", json!(["party_parrot", "nope"])),
        error(
            "error-not-allowed",
            Some("Invalid emoji provided."),
            json!({"method": "setReaction"})
        )
    );
    assert_eq!(
        call(&app, Some(BOB), "setReaction", json!(["wave", "nope"])),
        error(
            "error-not-allowed",
            Some("Not allowed"),
            json!({"method": "setReaction"})
        )
    );
    assert_eq!(
        call(&app, Some(BOB), "setReaction", json!(["wave", "PrvMsg3kT7wZq2RbX"])),
        error(
            "not-authorized",
            Some("Not Authorized"),
            json!({"method": "setReaction"})
        )
    );
    assert_eq!(
        call(&app, None, "setReaction", json!(["wave", VB_MESSAGE])),
        invalid_user("setReaction")
    );
    let frame = call(&app, Some(BOB), "setReaction", json!(["thumbsup", VB_MESSAGE, false]));
    assert_eq!(frame, NOTHING);
    assert!(stored(&app, VB_MESSAGE).get("reactions").is_none());
}

#[test]
fn set_reaction_answers_false_to_a_muted_member() {
    let dir = tempfile::tempdir().unwrap();
    let file = custom_seed(dir.path(), |bundle| {
        let rooms = bundle["rooms"].as_array_mut().unwrap();
        let vb = rooms.iter_mut().find(|r| r["_id"] == VB).unwrap();
        vb["muted"] = json!(["bob"]);
    });
    let app = spawn_app_with!(|c| c.seed.file = file);
    assert_eq!(
        call(&app, Some(BOB), "setReaction", json!(["wave", VB_MESSAGE])),
        result(json!(false))
    );
    assert!(stored(&app, VB_MESSAGE).get("reactions").is_none());
}

#[test]
fn update_message_edits_from_the_clients_copy() {
    let app = spawn_app!();
    let frame = call(
        &app,
        Some(BOB),
        "sendMessage",
        json!([{"_id": "bobsMessage1", "rid": VB, "msg": "draft"}]),
    );
    assert!(frame.contains("\"result\""), "{frame}");
    let edit = json!([{"_id": "bobsMessage1", "rid": VB, "msg": "final"}]);
    assert_eq!(call(&app, Some(BOB), "updateMessage", edit), NOTHING);
    let m = stored(&app, "bobsMessage1");
    assert_eq!(m["msg"], "final");
    assert_eq!(m["editedBy"], json!({"_id": BOB.0, "username": "bob"}));
    // A key the client may not change, unless it holds the stored value (a date never does).
    assert_eq!(
        call(
            &app,
            Some(BOB),
            "updateMessage",
            json!([{"_id": "bobsMessage1", "rid": VB, "msg": "x", "ts": {"$date": 1}}])
        ),
        error(
            "error-invalid-update-key",
            Some("Cannot update the message ts"),
            json!({"method": "updateMessage"})
        )
    );
    assert_eq!(
        call(
            &app,
            Some(BOB),
            "updateMessage",
            json!([{"_id": "bobsMessage1", "rid": "other", "msg": "x"}])
        ),
        error(
            "error-invalid-update-key",
            Some("Cannot update the message rid"),
            json!({"method": "updateMessage"})
        )
    );
    // Someone else's message, without `edit-message`.
    assert_eq!(
        call(
            &app,
            Some(ALICE),
            "updateMessage",
            json!([{"_id": "bobsMessage1", "rid": VB, "msg": "mine now"}])
        ),
        error(
            "error-action-not-allowed",
            Some("Message editing not allowed"),
            json!({"method": "updateMessage", "action": "Message_editing"})
        )
    );
    // Unknown messages are left alone; a missing `_id` fails the check.
    let unknown = json!([{"_id": "nope", "msg": "x"}]);
    assert_eq!(call(&app, Some(BOB), "updateMessage", unknown), NOTHING);
    assert_eq!(
        call(&app, Some(BOB), "updateMessage", json!([{"msg": "x"}])),
        MATCH_FAILED
    );
    assert_eq!(stored(&app, "bobsMessage1")["msg"], "final");
}

#[test]
fn delete_message_is_gone_as_in_rocket_chat_7() {
    let app = spawn_app!();
    assert_eq!(
        call(&app, Some(BOB), "deleteMessage", json!([{"_id": VB_MESSAGE}])),
        error(
            "404",
            Some("Method 'deleteMessage' not found"),
            Value::Null
        )
        .replace("\"error\":\"404\"", "\"error\":404")
    );
}

#[test]
fn rooms_are_found_joined_and_left() {
    let app = spawn_app!();
    assert_eq!(
        call(&app, Some(BOB), "getRoomIdByNameOrId", json!(["vb"])),
        result(json!(VB))
    );
    assert_eq!(
        call(&app, Some(BOB), "getRoomIdByNameOrId", json!([VB])),
        result(json!(VB))
    );
    let not_allowed = |method: &str| {
        error(
            "error-not-allowed",
            Some("Not allowed"),
            json!({ "method": method }),
        )
    };
    assert_eq!(
        call(&app, Some(BOB), "getRoomIdByNameOrId", json!(["core-team"])),
        not_allowed("getRoomIdByNameOrId")
    );
    assert_eq!(
        call(&app, Some(BOB), "getRoomIdByNameOrId", json!([5])),
        MATCH_FAILED
    );
    assert_eq!(
        call(&app, None, "getRoomIdByNameOrId", json!(["vb"])),
        invalid_user("getRoomIdByNameOrId")
    );
    assert_eq!(
        call(&app, Some(BOB), "getRoomNameById", json!([VB])),
        result(json!("vb"))
    );
    assert_eq!(
        call(&app, Some(ALICE), "getRoomNameById", json!([DM_ALICE_RODRIQ])),
        NOTHING
    );
    assert_eq!(
        call(&app, Some(BOB), "getRoomNameById", json!([PRIVATE_GROUP])),
        not_allowed("getRoomNameById")
    );

    // A new public channel of alice's: bob joins (true), again (nothing), leaves, and
    // is then not in it.
    let r = app.post(
        "/api/v1/channels.create",
        Some(ALICE),
        &json!({"name": "bots"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rid = r.json()["channel"]["_id"].as_str().unwrap().to_string();
    assert_eq!(
        call(&app, Some(BOB), "joinRoom", json!([rid])),
        result(json!(true))
    );
    assert_eq!(call(&app, Some(BOB), "joinRoom", json!([rid])), NOTHING);
    let sub = app.get(
        &format!("/api/v1/subscriptions.getOne?roomId={rid}"),
        Some(BOB),
    );
    assert_eq!(sub.json()["subscription"]["rid"], json!(rid));
    assert_eq!(call(&app, Some(BOB), "leaveRoom", json!([rid])), NOTHING);
    assert_eq!(
        call(&app, Some(BOB), "leaveRoom", json!([rid])),
        error(
            "error-user-not-in-room",
            Some("You are not in this room"),
            json!({"method": "leaveRoom"})
        )
    );
    // DMs are neither joined nor left; private groups need access; unknown rooms.
    assert_eq!(
        call(&app, Some(ALICE), "joinRoom", json!([DM_ALICE_RODRIQ])),
        not_allowed("joinRoom")
    );
    assert_eq!(
        call(&app, Some(ALICE), "leaveRoom", json!([DM_ALICE_RODRIQ])),
        not_allowed("leaveRoom")
    );
    assert_eq!(
        call(&app, Some(BOB), "joinRoom", json!([PRIVATE_GROUP])),
        not_allowed("joinRoom")
    );
    assert_eq!(
        call(&app, Some(BOB), "joinRoom", json!(["nope"])),
        error(
            "error-invalid-room",
            Some("Invalid room"),
            json!({"method": "joinRoom"})
        )
    );
    assert_eq!(
        call(&app, None, "joinRoom", json!([rid])),
        invalid_user("joinRoom")
    );
}

#[test]
fn create_direct_message_answers_type_id_and_members() {
    let app = spawn_app!();
    let expected = result(json!({
        "t": "d",
        "rid": "A7dm3kQzR9xYpW2bnB8fn4mRaS2yZqX3cp",
        "usernames": ["alice", "bob"],
    }));
    assert_eq!(
        call(&app, Some(BOB), "createDirectMessage", json!(["alice"])),
        expected
    );
    // The existing DM, the same answer.
    assert_eq!(
        call(&app, Some(BOB), "createDirectMessage", json!(["alice"])),
        expected
    );
    assert_eq!(
        call(&app, None, "createDirectMessage", json!(["alice"])),
        MATCH_FAILED
    );
    assert_eq!(
        call(&app, Some(BOB), "createDirectMessage", json!([5])),
        MATCH_FAILED
    );
}

#[test]
fn rooms_and_subscriptions_get_list_the_callers_documents() {
    let app = spawn_app!();
    let listed = |method: &str, params: Value| -> Value {
        let frame = call(&app, Some(ALICE), method, params);
        serde_json::from_str::<Value>(&frame).unwrap()["result"].clone()
    };
    let rooms = listed("rooms/get", json!([]));
    let mut ids: Vec<&str> = rooms
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert!(ids.contains(&VB) && ids.contains(&PRIVATE_GROUP), "{ids:?}");
    let vb = rooms.as_array().unwrap().iter().find(|r| r["_id"] == VB).unwrap();
    assert_eq!(vb["t"], "c");
    assert!(vb["_updatedAt"]["$date"].is_i64(), "{vb}");

    let since = listed("rooms/get", json!([{"$date": 0}]));
    assert_eq!(since["remove"], json!([]));
    assert_eq!(since["update"].as_array().unwrap().len(), ids.len());
    let future = listed("rooms/get", json!([{"$date": 4_000_000_000_000i64}]));
    assert_eq!(future, json!({"update": [], "remove": []}));

    let subs = listed("subscriptions/get", json!([]));
    let sub = subs.as_array().unwrap().iter().find(|s| s["rid"] == VB).unwrap();
    assert_eq!(sub["u"]["username"], "alice");
    assert!(sub["ts"]["$date"].is_i64(), "{sub}");
    assert_eq!(
        listed("subscriptions/get", json!([{"$date": 4_000_000_000_000i64}])),
        json!({"update": [], "remove": []})
    );
    for method in ["rooms/get", "subscriptions/get"] {
        assert_eq!(call(&app, None, method, json!([])), result(json!([])));
        assert_eq!(call(&app, Some(ALICE), method, json!(["x"])), MATCH_FAILED);
    }
}

#[test]
fn read_messages_marks_the_room_read() {
    let app = spawn_app!();
    call(&app, Some(BOB), "sendMessage", json!([{"rid": VB, "msg": "news for @alice"}]));
    let unread = |app: &TestApp| {
        let r = app.get(
            &format!("/api/v1/subscriptions.getOne?roomId={VB}"),
            Some(ALICE),
        );
        r.json()["subscription"]["unread"].clone()
    };
    assert_ne!(unread(&app), json!(0));
    assert_eq!(call(&app, Some(ALICE), "readMessages", json!([VB])), NOTHING);
    assert_eq!(unread(&app), json!(0));
    assert_eq!(
        call(&app, Some(ALICE), "readMessages", json!(["nope"])),
        error(
            "error-room-does-not-exist",
            Some("This room does not exist"),
            json!({"method": "readMessages"})
        )
    );
    assert_eq!(
        call(&app, Some(BOB), "readMessages", json!([PRIVATE_GROUP])),
        error(
            "error-not-allowed",
            Some("Not allowed"),
            json!({"method": "readMessages"})
        )
    );
    assert_eq!(
        call(&app, Some(ALICE), "readMessages", json!([VB, "yes"])),
        MATCH_FAILED
    );
}

#[test]
fn get_user_roles_needs_a_login() {
    let app = spawn_app!();
    assert_eq!(
        call(&app, Some(BOB), "getUserRoles", json!([])),
        result(json!([]))
    );
    assert_eq!(
        call(&app, None, "getUserRoles", json!([])),
        invalid_user("getUserRoles")
    );
}

#[test]
fn presence_methods_store_the_chosen_status_and_text() {
    // `setUserStatus` allows one call a second: the rate limiter (W's tests) stays out.
    let app = spawn_app_with!(|c| c.realtime.rate_limit = false);
    let me = |app: &TestApp| app.get("/api/v1/me", Some(BOB)).json();
    let set = "UserPresence:setDefaultStatus";
    assert_eq!(call(&app, Some(BOB), set, json!(["busy"])), result(json!(true)));
    assert_eq!(call(&app, Some(BOB), set, json!(["busy"])), result(json!(false)));
    let bob = me(&app);
    assert_eq!(bob["statusDefault"], "busy");
    // No connection counts as one (`statusConnection` is not online): shown offline.
    assert_eq!(bob["status"], "offline");
    assert_eq!(call(&app, None, set, json!(["busy"])), NOTHING);
    assert_eq!(call(&app, Some(BOB), set, json!(["dancing"])), MATCH_FAILED);

    let status = "setUserStatus";
    assert_eq!(
        call(&app, Some(BOB), status, json!(["away", "  at lunch "])),
        NOTHING
    );
    let bob = me(&app);
    assert_eq!(
        (&bob["statusDefault"], &bob["statusText"]),
        (&json!("away"), &json!("at lunch"))
    );
    // No type: the text alone changes.
    assert_eq!(call(&app, Some(BOB), status, json!([null, ""])), NOTHING);
    let bob = me(&app);
    assert_eq!(
        (&bob["statusDefault"], &bob["statusText"]),
        (&json!("away"), &json!(""))
    );
    assert_eq!(
        call(&app, None, status, json!(["away"])),
        invalid_user("setUserStatus")
    );
    assert_eq!(call(&app, Some(BOB), status, json!([5])), MATCH_FAILED);
}

#[test]
fn load_history_pages_newest_first_with_unread_left_out() {
    let app = spawn_app!();
    let mut ids = Vec::new();
    for text in ["m1", "m2", "m3"] {
        // Apart by a few ms, so that their times order them.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let r = app.post(
            "/api/v1/chat.postMessage",
            Some(BOB),
            &json!({"roomId": VB, "text": text}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        ids.push(r.json()["message"]["_id"].as_str().unwrap().to_string());
    }
    let doc = |id: &str| {
        let mut m = stored(&app, id);
        for k in ["ts", "_updatedAt"] {
            m[k] = ejson_date(&m[k]);
        }
        m
    };
    let seed_ts = stored(&app, VB_MESSAGE)["ts"].clone();
    let seen = ejson_date(&seed_ts)["$date"].as_i64().unwrap() + 1;
    assert_eq!(
        call(
            &app,
            Some(ALICE),
            "loadHistory",
            json!([VB, null, 2, {"$date": seen}])
        ),
        result(json!({
            "messages": [doc(&ids[2]), doc(&ids[1])],
            "firstUnread": doc(&ids[0]),
            "unreadNotLoaded": 1,
        }))
    );
    let before_m2 = doc(&ids[1])["ts"].clone();
    assert_eq!(
        call(&app, Some(ALICE), "loadHistory", json!([VB, before_m2])),
        result(json!({
            "messages": [doc(&ids[0]), doc(VB_MESSAGE)],
            "unreadNotLoaded": 0,
        }))
    );
    for (who, rid) in [(BOB, PRIVATE_GROUP), (BOB, "nope")] {
        assert_eq!(
            call(&app, Some(who), "loadHistory", json!([rid])),
            result(json!(false))
        );
    }
    assert_eq!(
        call(&app, None, "loadHistory", json!([VB])),
        invalid_user("loadHistory")
    );
    assert_eq!(
        call(&app, Some(ALICE), "loadHistory", json!([VB, "yesterday"])),
        MATCH_FAILED
    );
}
