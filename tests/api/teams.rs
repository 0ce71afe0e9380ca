//! `teams.*`: creating a team (its main room and memberships), reading it, adding and
//! removing members, moving rooms in, listing them, deleting it; and the access rule they drive: a public
//! channel of a private team is readable only by the team's members, everywhere push.get
//! looks. Rocket.Chat's tests read: `apps/meteor/tests/end-to-end/api/teams.ts`.

use serde_json::{json, Value};

use crate::helpers::{keys, spawn_app, TestApp, ALICE, BOB, GINA, RODRIQ};

const UNAUTHORIZED: &str = r#"{"success":false,"error":"unauthorized"}"#;

fn failure(error: &str) -> String {
    json!({"success": false, "error": error}).to_string()
}

/// Alice's team `name` of `kind` (0 public, 1 private) with `members`; returns the team.
fn create(app: &TestApp, name: &str, kind: u8, members: &[&str]) -> Value {
    let body = json!({"name": name, "type": kind, "members": members});
    let r = app.post("/api/v1/teams.create", Some(ALICE), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["team"].clone()
}

/// Alice's public channel `name`, moved into `team`; returns the channel's id.
fn team_channel(app: &TestApp, team: &Value, name: &str) -> String {
    let r = app.post(
        "/api/v1/channels.create",
        Some(ALICE),
        &json!({"name": name}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rid = r.json()["channel"]["_id"].as_str().unwrap().to_string();
    let body = json!({"teamId": team["_id"], "rooms": [rid]});
    let r = app.post("/api/v1/teams.addRooms", Some(ALICE), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["rooms"][0]["teamId"], team["_id"]);
    rid
}

fn status_of(app: &TestApp, who: (&str, &str), message: &str) -> u16 {
    app.push_get(message, who).status
}

#[test]
fn teams_create_makes_the_main_room_and_the_memberships() {
    let app = spawn_app!();
    let team = create(&app, "crew", 1, &["bob", "nobody"]);
    assert_eq!(
        keys(&team),
        ["_id", "name", "type", "createdAt", "createdBy", "_updatedAt", "roomId"]
    );
    assert_eq!(team["type"], 1);
    assert_eq!(team["createdBy"], json!({"_id": ALICE.0, "username": "alice"}));
    // The main room is a private group of the owner and the members, marked as the team's.
    let rid = team["roomId"].as_str().unwrap();
    let r = app.get(&format!("/api/v1/groups.info?roomId={rid}"), Some(BOB));
    assert_eq!(r.status, 200, "{}", r.body);
    let room = &r.json()["group"];
    assert_eq!(
        (&room["teamMain"], &room["teamId"], &room["usersCount"]),
        (&json!(true), &team["_id"], &json!(2))
    );
    // teams.info by id or by name, for a member; not for an outsider.
    for query in [format!("teamId={}", team["_id"].as_str().unwrap()), "teamName=crew".into()] {
        let r = app.get(&format!("/api/v1/teams.info?{query}"), Some(BOB));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(keys(&r.json()), ["teamInfo", "success"]);
        assert_eq!(r.json()["teamInfo"], team);
        let r = app.get(&format!("/api/v1/teams.info?{query}"), Some(RODRIQ));
        assert_eq!((r.status, r.body.as_str()), (401, UNAUTHORIZED));
    }
    let r = app.get("/api/v1/teams.info?teamName=nope", Some(BOB));
    assert_eq!((r.status, r.body), (400, failure("Team not found")));
    // The members, owner last with its role.
    let r = app.get("/api/v1/teams.members?teamName=crew", Some(BOB));
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(keys(&j), ["members", "total", "count", "offset", "success"]);
    let mut listed: Vec<(String, Value)> = j["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["user"]["username"].as_str().unwrap().to_string(), m["roles"].clone()))
        .collect();
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        listed,
        [("alice".to_string(), json!(["owner"])), ("bob".to_string(), Value::Null)]
    );
    // An outsider sees an empty list, not an error.
    let r = app.get("/api/v1/teams.members?teamName=crew", Some(RODRIQ));
    assert_eq!(r.json()["total"], 0);
}

#[test]
fn teams_create_refuses_as_rocket_chat_does() {
    let app = spawn_app!();
    // A guest lacks create-team: refused before the body is looked at.
    let r = app.post("/api/v1/teams.create", Some(GINA), &json!({}));
    assert_eq!((r.status, r.body.as_str()), (401, UNAUTHORIZED));
    for (body, error) in [
        (json!({"type": 0}), "Match error: Missing key 'name'"),
        (json!({"name": "x"}), "Match error: Missing key 'type'"),
        (
            json!({"name": 3, "type": 0}),
            "Match error: Expected string, got number in field name",
        ),
        (
            json!({"name": "x", "type": 2}),
            "Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation in field type",
        ),
        (
            json!({"name": "x", "type": 0, "members": "bob"}),
            "Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation in field members",
        ),
        (json!({"name": "general", "type": 0}), "room-name-already-exists"),
        (json!({"name": "bob", "type": 0}), "team-name-already-exists"),
        (json!({"name": "no spaces", "type": 0}), "error-team-creation"),
    ] {
        let r = app.post("/api/v1/teams.create", Some(ALICE), &body);
        assert_eq!((r.status, r.body), (400, failure(error)), "{body}");
    }
    create(&app, "crew", 0, &[]);
    let r = app.post(
        "/api/v1/teams.create",
        Some(BOB),
        &json!({"name": "crew", "type": 1}),
    );
    assert_eq!((r.status, r.body), (400, failure("room-name-already-exists")));
}

#[test]
fn a_private_team_s_public_channel_follows_its_memberships() {
    let app = spawn_app!();
    let team = create(&app, "crew", 1, &[]);
    let rid = team_channel(&app, &team, "crew-plans");
    let message = app.post_message(ALICE, &rid, "the plan").id;
    // Bob is no member: the public channel is closed to him (not even its info's messages).
    assert_eq!(status_of(&app, BOB, &message), 400);
    assert_eq!(status_of(&app, ALICE, &message), 200);
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(BOB),
        &json!({"roomId": rid, "text": "let me in"}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    // Joining the team opens it; leaving closes it again.
    let add = json!({"teamName": "crew", "members": [{"userId": BOB.0}]});
    let r = app.post("/api/v1/teams.addMembers", Some(ALICE), &add);
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"success":true}"#));
    assert_eq!(status_of(&app, BOB, &message), 200);
    let r = app.post("/api/v1/teams.leave", Some(BOB), &json!({"teamName": "crew"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(status_of(&app, BOB, &message), 400);
    // Removed by an owner, likewise.
    app.post("/api/v1/teams.addMembers", Some(ALICE), &add);
    assert_eq!(status_of(&app, BOB, &message), 200);
    let remove = json!({"teamName": "crew", "userId": BOB.0});
    let r = app.post("/api/v1/teams.removeMember", Some(ALICE), &remove);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(status_of(&app, BOB, &message), 400);
    let r = app.post("/api/v1/teams.removeMember", Some(ALICE), &remove);
    assert_eq!((r.status, r.body), (400, failure("member-does-not-exist")));
    // The only owner cannot leave, nor be removed.
    let r = app.post("/api/v1/teams.leave", Some(ALICE), &json!({"teamName": "crew"}));
    assert_eq!((r.status, r.body), (400, failure("last-owner-can-not-be-removed")));
    // A public team's channel is open to anyone with view-c-room.
    let open = create(&app, "open", 0, &[]);
    let rid = team_channel(&app, &open, "open-plans");
    let message = app.post_message(ALICE, &rid, "open plan").id;
    assert_eq!(status_of(&app, BOB, &message), 200);
}

/// `teams.removeMember` with `rooms`: one request (one write) takes the user out of the
/// team, its main room and those of the rooms that are the team's; the main room named
/// again among them is left once.
#[test]
fn teams_remove_member_takes_the_user_out_of_the_team_s_rooms_together() {
    let app = spawn_app!();
    let team = create(&app, "crew", 1, &["bob"]);
    let main = team["roomId"].as_str().unwrap();
    let rid = team_channel(&app, &team, "crew-plans");
    let invite = json!({"roomId": rid, "userId": BOB.0});
    assert_eq!(app.post("/api/v1/channels.invite", Some(ALICE), &invite).status, 200);
    let outside = app.post("/api/v1/channels.create", Some(ALICE), &json!({"name": "else", "members": ["bob"]}));
    let outside = outside.json()["channel"]["_id"].as_str().unwrap().to_string();
    let remove = json!({"teamName": "crew", "userId": BOB.0, "rooms": [rid, main, outside]});
    let r = app.post("/api/v1/teams.removeMember", Some(ALICE), &remove);
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"success":true}"#));
    let info = |kind: &str, rid: &str| {
        let r = app.get(&format!("/api/v1/{kind}.info?roomId={rid}"), Some(ALICE));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()[if kind == "groups" { "group" } else { "channel" }].clone()
    };
    let (m, c, o) = (info("groups", main), info("channels", &rid), info("channels", &outside));
    assert_eq!((&m["usersCount"], &c["usersCount"], &o["usersCount"]), (&json!(1), &json!(1), &json!(2)));
    assert_eq!(m["lastMessage"]["t"], "removed-user-from-team");
    assert_eq!(c["lastMessage"]["t"], "ru");
    let r = app.get("/api/v1/teams.members?teamName=crew", Some(ALICE));
    assert_eq!(r.json()["total"], 1, "{}", r.body);
}

#[test]
fn team_calls_check_the_team_and_the_caller_s_permissions() {
    let app = spawn_app!();
    let team = create(&app, "crew", 1, &["bob"]);
    let id = team["_id"].as_str().unwrap();
    for path in ["teams.addMembers", "teams.removeMember", "teams.leave", "teams.delete"] {
        let body = json!({"teamId": "nope", "members": [{"userId": BOB.0}], "userId": BOB.0});
        let r = app.post(&format!("/api/v1/{path}"), Some(ALICE), &body);
        assert_eq!((r.status, r.body), (400, failure("team-does-not-exist")), "{path}");
    }
    // Bob is a member, not an owner: no add-team-member, edit-team-member, delete-team.
    let body = json!({"teamId": id, "members": [{"userId": RODRIQ.0}]});
    let r = app.post("/api/v1/teams.addMembers", Some(BOB), &body);
    assert_eq!((r.status, r.body.as_str()), (401, UNAUTHORIZED));
    let body = json!({"teamId": id, "userId": ALICE.0});
    let r = app.post("/api/v1/teams.removeMember", Some(BOB), &body);
    assert_eq!((r.status, r.body.as_str()), (401, UNAUTHORIZED));
    let r = app.post("/api/v1/teams.delete", Some(BOB), &json!({"teamId": id}));
    assert_eq!((r.status, r.body.as_str()), (401, UNAUTHORIZED));
    let r = app.get("/api/v1/teams.info", Some(BOB));
    assert_eq!(
        (r.status, r.body),
        (
            400,
            failure("Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation")
        )
    );
    // Moving a room in: only its owner, only once.
    let r = app.post("/api/v1/channels.create", Some(BOB), &json!({"name": "bobs"}));
    let bobs = r.json()["channel"]["_id"].as_str().unwrap().to_string();
    let body = json!({"teamId": id, "rooms": [bobs]});
    let r = app.post("/api/v1/teams.addRooms", Some(ALICE), &body);
    assert_eq!((r.status, r.body), (400, failure("error-no-owner-channel")));
    let r = app.post("/api/v1/teams.addRooms", Some(BOB), &body);
    assert_eq!(
        (r.status, r.body),
        (401, failure("error-no-permission-team-channel"))
    );
    let body = json!({"teamId": id, "rooms": ["nope"]});
    let r = app.post("/api/v1/teams.addRooms", Some(ALICE), &body);
    assert_eq!((r.status, r.body), (400, failure("invalid-room")));
}

/// `channels.create` / `groups.create` with `extraData.teamId` (Rocket.Chat's
/// `createChannelValidator`, `createChannelMethod`, `createPrivateGroupMethod` and
/// `createRoom`): the permission is checked in the team's main room, an unknown team is
/// refused by the method, and the room is made in the team (a channel announced there).
#[test]
fn rooms_created_with_a_team_id_are_the_team_s() {
    let app = spawn_app!();
    let team = create(&app, "crew", 1, &["bob"]);
    let (id, main) = (team["_id"].as_str().unwrap(), team["roomId"].as_str().unwrap());
    let in_team = |name: &str, team_id: &str| json!({"name": name, "extraData": {"teamId": team_id}});
    // Bob is a member of the team, not an owner or moderator of its main room.
    let r = app.post("/api/v1/channels.create", Some(BOB), &in_team("b1", id));
    assert_eq!((r.status, r.body.as_str()), (403, UNAUTHORIZED));
    // The channel's check comes before the body's, the group's after it.
    let r = app.post("/api/v1/channels.create", Some(BOB), &json!({"extraData": {"teamId": id}}));
    assert_eq!((r.status, r.body.as_str()), (403, UNAUTHORIZED));
    let r = app.post("/api/v1/groups.create", Some(BOB), &in_team("b2", id));
    let refused = |method: &str| {
        json!({"success": false, "error": "Not allowed [error-not-allowed]",
            "errorType": "error-not-allowed", "details": {"method": method}})
    };
    assert_eq!((r.status, r.json()), (400, refused("createPrivateGroup")));
    for (path, method) in [("channels.create", "createChannel"), ("groups.create", "createPrivateGroup")] {
        let r = app.post(&format!("/api/v1/{path}"), Some(ALICE), &in_team("x", "nope"));
        let expected = json!({"success": false,
            "error": "The \"teamId\" param provided does not match any team [error-team-not-found]",
            "errorType": "error-team-not-found", "details": {"method": method}});
        assert_eq!((r.status, r.json()), (400, expected), "{path}");
    }
    // Nothing was made by the refused calls.
    let r = app.get("/api/v1/channels.info?roomName=x", Some(ALICE));
    assert_eq!(r.status, 400, "{}", r.body);

    // The owner of the main room may: the rooms carry the team's id, last.
    let r = app.post("/api/v1/channels.create", Some(ALICE), &in_team("crew-plans", id));
    assert_eq!(r.status, 200, "{}", r.body);
    let channel = r.json()["channel"].clone();
    assert_eq!(keys(&channel).last(), Some(&"teamId"));
    assert_eq!(channel["teamId"], team["_id"]);
    let r = app.post("/api/v1/groups.create", Some(ALICE), &in_team("crew-secrets", id));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["group"]["teamId"], team["_id"]);
    // A public channel is announced in the main room (by its creator); a group is not.
    let r = app.get(&format!("/api/v1/groups.info?roomId={main}"), Some(BOB));
    assert_eq!(r.status, 200, "{}", r.body);
    let room = r.json()["group"].clone();
    assert_eq!(room["msgs"], 1, "{room}");
    let note = &room["lastMessage"];
    assert_eq!(
        (&note["t"], &note["msg"], &note["u"]["username"]),
        (&json!("user-added-room-to-team"), &json!("crew-plans"), &json!("alice"))
    );
    // Indexed in the team: listed, and counted.
    let r = app.get("/api/v1/teams.listRooms?teamName=crew", Some(ALICE));
    assert_eq!(r.json()["total"], 2, "{}", r.body);
    let r = app.get("/api/v1/teams.list", Some(ALICE));
    assert_eq!(r.json()["teams"][0]["rooms"], 3, "{}", r.body);
    // The private team's public channel: its members read it, an outsider does not.
    let rid = channel["_id"].as_str().unwrap();
    let message = app.post_message(ALICE, rid, "the plan").id;
    assert_eq!(status_of(&app, BOB, &message), 200);
    assert_eq!(status_of(&app, RODRIQ, &message), 400);
    // An empty teamId names no team.
    let r = app.post("/api/v1/channels.create", Some(ALICE), &in_team("loose", ""));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["channel"].get("teamId"), None);
}

#[test]
fn teams_delete_takes_the_main_room_and_leaves_the_other_rooms_out_of_teams() {
    let app = spawn_app!();
    let team = create(&app, "crew", 1, &[]);
    let kept = team_channel(&app, &team, "crew-kept");
    let gone = team_channel(&app, &team, "crew-gone");
    let kept_message = app.post_message(ALICE, &kept, "stays").id;
    assert_eq!(status_of(&app, BOB, &kept_message), 400);
    let body = json!({"teamName": "crew", "roomsToRemove": [gone]});
    let r = app.post("/api/v1/teams.delete", Some(ALICE), &body);
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"success":true}"#));
    let main = team["roomId"].as_str().unwrap();
    for rid in [main, gone.as_str()] {
        let r = app.get(&format!("/api/v1/channels.info?roomId={rid}"), Some(ALICE));
        assert_eq!(r.status, 400, "{rid}: {}", r.body);
    }
    let r = app.get(&format!("/api/v1/channels.info?roomId={kept}"), Some(ALICE));
    assert_eq!(r.json()["channel"].get("teamId"), None, "{}", r.body);
    // Out of the team, the channel is public again.
    assert_eq!(status_of(&app, BOB, &kept_message), 200);
    let r = app.get("/api/v1/teams.info?teamName=crew", Some(ALICE));
    assert_eq!((r.status, r.body), (400, failure("Team not found")));
}

#[test]
fn teams_list_rooms_shows_what_the_caller_may_see() {
    let app = spawn_app!();
    let team = create(&app, "crew", 1, &[]);
    let channel = team_channel(&app, &team, "crew-plans");
    let r = app.post("/api/v1/groups.create", Some(ALICE), &json!({"name": "crew-secrets"}));
    let group = r.json()["group"]["_id"].as_str().unwrap().to_string();
    let body = json!({"teamId": team["_id"], "rooms": [group]});
    assert_eq!(app.post("/api/v1/teams.addRooms", Some(ALICE), &body).status, 200);
    let listed = |who, query: &str| {
        let r = app.get(&format!("/api/v1/teams.listRooms?teamName=crew{query}"), Some(who));
        assert_eq!(r.status, 200, "{}", r.body);
        let j = r.json();
        assert_eq!(keys(&j), ["rooms", "total", "count", "offset", "success"]);
        let mut ids: Vec<String> = j["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![channel.clone(), group.clone()];
    both.sort();
    // The owner holds view-all-team-channels in the main room; the main room is not listed.
    assert_eq!(listed(ALICE, ""), both);
    assert_eq!(listed(ALICE, "&filter=PLANS"), std::slice::from_ref(&channel));
    let r = app.get("/api/v1/teams.listRooms?teamName=crew", Some(BOB));
    assert_eq!((r.status, r.body), (400, failure("user-not-on-private-team")));
    let add = json!({"teamName": "crew", "members": [{"userId": BOB.0}]});
    app.post("/api/v1/teams.addMembers", Some(ALICE), &add);
    // A member sees the public rooms and their own.
    assert_eq!(listed(BOB, ""), [channel]);
}

#[test]
fn teams_list_shows_the_caller_s_teams_and_list_all_every_team_to_admins() {
    let app = spawn_app!();
    let crew = create(&app, "crew", 1, &["bob"]);
    team_channel(&app, &crew, "crew-plans");
    create(&app, "solo", 0, &[]);
    let r = app.get("/api/v1/teams.list", Some(BOB));
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(keys(&j), ["teams", "total", "count", "offset", "success"]);
    assert_eq!((&j["total"], &j["count"], &j["offset"]), (&json!(1), &json!(1), &json!(0)));
    let listed = &j["teams"][0];
    assert_eq!(keys(listed).last_chunk::<2>(), Some(&["rooms", "numberOfUsers"]));
    assert_eq!(listed["_id"], crew["_id"]);
    // The main room and the channel; alice and bob.
    assert_eq!((&listed["rooms"], &listed["numberOfUsers"]), (&json!(2), &json!(2)));
    let r = app.get("/api/v1/teams.list?offset=1", Some(BOB));
    assert_eq!((&r.json()["total"], &r.json()["count"]), (&json!(1), &json!(0)));
    // listAll needs view-all-teams (admins).
    let r = app.get("/api/v1/teams.listAll", Some(ALICE));
    assert_eq!((r.status, r.body.as_str()), (401, UNAUTHORIZED));
    let admin = app.admin();
    let r = app.get("/api/v1/teams.listAll", crate::helpers::auth(&admin));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["total"], 2);
}

#[test]
fn teams_remove_room_takes_a_room_out_of_its_team() {
    let app = spawn_app!();
    let team = create(&app, "crew", 1, &[]);
    let rid = team_channel(&app, &team, "crew-plans");
    let message = app.post_message(ALICE, &rid, "the plan").id;
    assert_eq!(status_of(&app, BOB, &message), 400);
    let body = json!({"teamName": "crew", "roomId": rid});
    let r = app.post("/api/v1/teams.removeRoom", Some(BOB), &body);
    assert_eq!((r.status, r.body.as_str()), (401, UNAUTHORIZED));
    let r = app.post("/api/v1/teams.removeRoom", Some(ALICE), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["room"]["_id"], json!(rid));
    assert_eq!(r.json()["room"].get("teamId"), None);
    // Out of the private team, the channel is open again.
    assert_eq!(status_of(&app, BOB, &message), 200);
    let r = app.post("/api/v1/teams.removeRoom", Some(ALICE), &body);
    assert_eq!((r.status, r.body), (400, failure("room-not-on-that-team")));
    let body = json!({"teamName": "crew"});
    let r = app.post("/api/v1/teams.removeRoom", Some(ALICE), &body);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["errorType"], "invalid-params");
}

/// The streams decide access as push.get does, and forget what they decided when a team
/// changes: bob's `__my_messages__` stays silent for a private team's channel until he
/// joins the team. Each round ends with an invitation to a fresh channel, whose
/// `subscriptions-changed` frame follows every earlier frame of the round.
#[test]
fn the_streams_open_a_team_s_channel_to_a_new_member_at_once() {
    use crate::realtime_streams::socket::{is_event, room_params, Socket};
    let app = spawn_app!();
    let team = create(&app, "crew", 1, &[]);
    let rid = team_channel(&app, &team, "crew-plans");
    let mut bob = Socket::logged_in(&app.url, BOB.1);
    bob.subscribe("stream-room-messages", room_params("__my_messages__"));
    let changed = format!("{}/subscriptions-changed", BOB.0);
    bob.subscribe("stream-notify-user", json!([changed, false]));
    let round = |bob: &mut Socket, sentinel: &str| -> bool {
        let id = app.post_message(ALICE, &rid, sentinel).id;
        let r = app.post("/api/v1/channels.create", Some(ALICE), &json!({"name": sentinel}));
        let sentinel_id = r.json()["channel"]["_id"].as_str().unwrap().to_string();
        let body = json!({"roomId": sentinel_id, "userId": BOB.0});
        assert_eq!(app.post("/api/v1/channels.invite", Some(ALICE), &body).status, 200);
        let frames = bob.until(|f| {
            is_event(f, "stream-notify-user", &changed) && f["fields"]["args"][1]["rid"] == sentinel_id
        });
        frames.iter().any(|f| {
            is_event(f, "stream-room-messages", "__my_messages__")
                && f["fields"]["args"][0]["_id"] == id.as_str()
        })
    };
    assert!(!round(&mut bob, "sentinel-before"));
    let add = json!({"teamName": "crew", "members": [{"userId": BOB.0}]});
    assert_eq!(app.post("/api/v1/teams.addMembers", Some(ALICE), &add).status, 200);
    assert!(round(&mut bob, "sentinel-member"));
    let remove = json!({"teamName": "crew", "userId": BOB.0});
    assert_eq!(app.post("/api/v1/teams.removeMember", Some(ALICE), &remove).status, 200);
    assert!(!round(&mut bob, "sentinel-after"));
}
