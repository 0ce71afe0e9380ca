//! The streams (realtime.md §4) through the real server and its socket: subscriptions and
//! their refusals, REST writes reaching subscribed sockets as `changed` frames, access
//! following kicks and re-invitations, typing relayed to others only.
//!
//! Nothing here waits for something *not* to happen: an absence is shown by a later frame
//! (frames of one socket leave in the order the server made them, and the streams handle
//! the change feed in commit order), never by a timeout.

use serde_json::{json, Value};

use crate::helpers::*;

/// A small DDP client over a blocking WebSocket (tungstenite): what the stream tests need.
pub mod socket {
    use std::net::TcpStream;
    use std::time::Duration;

    use serde_json::{json, Value};
    use tungstenite::stream::MaybeTlsStream;
    use tungstenite::{Message, WebSocket};

    /// How long a frame the test expects may take (shared, loaded machines).
    const PATIENCE: Duration = Duration::from_secs(30);

    pub struct Socket {
        ws: WebSocket<MaybeTlsStream<TcpStream>>,
        next_id: u64,
    }

    impl Socket {
        /// A connected DDP session (`connect` version `1`) to the server at `base`
        /// (`http://host:port`).
        pub fn connect(base: &str) -> Socket {
            let url = format!("{}/websocket", base.replacen("http://", "ws://", 1));
            let (ws, _) = tungstenite::connect(url.as_str()).expect("the WebSocket opens");
            if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
                tcp.set_read_timeout(Some(PATIENCE)).expect("a read timeout");
            }
            let mut s = Socket { ws, next_id: 0 };
            s.send(json!({"msg": "connect", "version": "1", "support": ["1"]}));
            let connected = s.next();
            assert_eq!(connected["msg"], "connected", "{connected}");
            s
        }

        /// Connected and logged in with a login token (`resume`).
        pub fn logged_in(base: &str, token: &str) -> Socket {
            let mut s = Socket::connect(base);
            let (_, result) = s.call("login", json!([{ "resume": token }]));
            assert!(result.get("result").is_some(), "login: {result}");
            s
        }

        pub fn send(&mut self, frame: Value) {
            self.ws
                .send(Message::text(frame.to_string()))
                .expect("a frame is sent");
        }

        /// The next DDP frame as text (server pings are answered on the way).
        pub fn next_text(&mut self) -> String {
            loop {
                let message = self.ws.read().expect("a frame arrives in time");
                let Message::Text(text) = message else {
                    continue;
                };
                if text.as_str() == r#"{"msg":"ping"}"# {
                    self.send(json!({"msg": "pong"}));
                    continue;
                }
                return text.as_str().to_string();
            }
        }

        pub fn next(&mut self) -> Value {
            let text = self.next_text();
            serde_json::from_str(&text).expect("a JSON frame")
        }

        /// The frames up to the first that `done` accepts, which comes last.
        pub fn until(&mut self, done: impl Fn(&Value) -> bool) -> Vec<Value> {
            let mut seen = Vec::new();
            loop {
                let frame = self.next();
                let last = done(&frame);
                seen.push(frame);
                if last {
                    return seen;
                }
            }
        }

        fn id(&mut self) -> String {
            self.next_id += 1;
            self.next_id.to_string()
        }

        /// A method call: the frames before its `result`, and the `result`.
        pub fn call(&mut self, method: &str, params: Value) -> (Vec<Value>, Value) {
            let id = self.id();
            self.send(json!({"msg": "method", "id": id, "method": method, "params": params}));
            let mut frames = self.until(|f| f["msg"] == "result" && f["id"] == id.as_str());
            let result = frames.pop().expect("the result");
            (frames, result)
        }

        /// A `sub`: its id, and the frames up to its `ready` or `nosub` (which comes last).
        pub fn sub(&mut self, name: &str, params: Value) -> (String, Vec<Value>) {
            let id = self.id();
            self.send(json!({"msg": "sub", "id": id, "name": name, "params": params}));
            let frames = self.until(|f| {
                (f["msg"] == "ready" && f["subs"].as_array().is_some_and(|s| s.contains(&json!(id))))
                    || (f["msg"] == "nosub" && f["id"] == id.as_str())
            });
            (id, frames)
        }

        /// A `sub` that must succeed; the frames before `ready`.
        pub fn subscribe(&mut self, name: &str, params: Value) -> Vec<Value> {
            let (_, mut frames) = self.sub(name, params);
            let last = frames.pop().expect("an answer");
            assert_eq!(last["msg"], "ready", "sub {name} {frames:?}: {last}");
            frames
        }
    }

    /// `stream-room-messages`' params for a room id or `__my_messages__`.
    pub fn room_params(event: &str) -> Value {
        json!([event, {"useCollection": false, "args": []}])
    }

    /// Whether `frame` is a `changed` of `collection` for `event`.
    pub fn is_event(frame: &Value, collection: &str, event: &str) -> bool {
        frame["msg"] == "changed"
            && frame["collection"] == collection
            && frame["fields"]["eventName"] == event
    }
}

use socket::{is_event, room_params, Socket};

/// The demo channel every demo user is in.
const VB: &str = "iu7jtPAhvEeAS5tNq";
/// The demo private group of alice and rodriq.
const CORE_TEAM: &str = "PrvGrp8sKq3mZ7wTx";
const ROOM_MESSAGES: &str = "stream-room-messages";
const NOTIFY_ROOM: &str = "stream-notify-room";
const NOTIFY_USER: &str = "stream-notify-user";

fn not_allowed(id: &str) -> String {
    format!(
        r#"{{"msg":"nosub","id":"{id}","error":{{"isClientSafe":true,"error":"not-allowed","message":"[not-allowed]","errorType":"Meteor.Error"}}}}"#
    )
}

/// Whether `frame` carries the message `id` (either form of `stream-room-messages`).
fn carries(frame: &Value, id: &str) -> bool {
    frame["msg"] == "changed"
        && frame["collection"] == ROOM_MESSAGES
        && frame["fields"]["args"][0]["_id"] == id
}

#[test]
fn a_message_posted_over_rest_reaches_the_room_and_my_messages_subscribers() {
    let app = spawn_app!();
    let mut bob = Socket::logged_in(&app.url, BOB.1);
    bob.subscribe(ROOM_MESSAGES, room_params(VB));
    // @rocket.chat/sdk 0.2.9's legacy form: the one `added` document, then `ready`.
    let added = bob.subscribe(ROOM_MESSAGES, json!(["__my_messages__", true]));
    assert_eq!(
        added.iter().map(Value::to_string).collect::<Vec<_>>(),
        [r#"{"msg":"added","collection":"stream-room-messages","id":"id","fields":{"eventName":"__my_messages__"}}"#]
    );

    let posted = app.post_message(ALICE, VB, "hello @bob");
    let frames = bob.until(|f| is_event(f, ROOM_MESSAGES, "__my_messages__"));
    let by_room = frames
        .iter()
        .find(|f| is_event(f, ROOM_MESSAGES, VB))
        .expect("the room's frame comes first");
    let mine = frames.last().unwrap();
    assert!(carries(by_room, &posted.id) && carries(mine, &posted.id), "{frames:?}");
    assert_eq!(keys(by_room), ["msg", "collection", "id", "fields"]);
    assert_eq!(by_room["id"], "id");
    assert_eq!(by_room["fields"]["args"], json!([mine["fields"]["args"][0]]));
    assert_eq!(
        mine["fields"]["args"][1],
        json!({"roomParticipant": true, "roomType": "c", "roomName": "vb"})
    );
    // The stored document, key for key, with its dates as EJSON.
    let message = &by_room["fields"]["args"][0];
    let stored = app.get(&format!("/api/v1/chat.getMessage?msgId={}", posted.id), Some(BOB));
    let stored = stored.json()["message"].clone();
    assert_eq!(keys(message), keys(&stored));
    assert!(message["ts"]["$date"].is_i64(), "{message}");
    assert!(message["_updatedAt"]["$date"].is_i64(), "{message}");
    assert_eq!((&message["msg"], &message["u"]), (&stored["msg"], &stored["u"]));
}

#[test]
fn subscriptions_are_refused_as_rocket_chat_refuses_them() {
    let app = spawn_app!();
    let mut anonymous = Socket::connect(&app.url);
    let (id, frames) = anonymous.sub(ROOM_MESSAGES, room_params(VB));
    assert_eq!(frames[0].to_string(), not_allowed(&id));
    anonymous.subscribe(ROOM_MESSAGES, room_params("__my_messages__"));
    anonymous.subscribe("stream-notify-all", json!(["public-settings-changed", false]));
    let (id, frames) = anonymous.sub("stream-notify-logged", json!(["user-status", false]));
    assert_eq!(frames[0].to_string(), not_allowed(&id));

    let mut bob = Socket::logged_in(&app.url, BOB.1);
    for (name, params) in [
        (ROOM_MESSAGES, room_params(CORE_TEAM)),
        (ROOM_MESSAGES, room_params("no-such-room")),
        (NOTIFY_USER, json!([format!("{}/rooms-changed", ALICE.0), false])),
        (NOTIFY_ROOM, json!([format!("{CORE_TEAM}/deleteMessage"), false])),
    ] {
        let (id, frames) = bob.sub(name, params.clone());
        assert_eq!(frames[0].to_string(), not_allowed(&id), "{name} {params}");
    }
    let (id, frames) = bob.sub(ROOM_MESSAGES, json!(["", false]));
    assert_eq!(
        frames[0].to_string(),
        format!(
            r#"{{"msg":"nosub","id":"{id}","error":{{"isClientSafe":true,"error":"invalid-event-name","message":"[invalid-event-name]","errorType":"Meteor.Error"}}}}"#
        )
    );
    bob.subscribe(NOTIFY_USER, json!([format!("{}/rooms-changed", BOB.0), false]));
    bob.subscribe("stream-notify-logged", json!(["user-status", false]));
    bob.subscribe(NOTIFY_ROOM, json!([format!("{VB}/user-activity"), false]));

    // A `bot` must join a public channel before subscribing to it (no preview-c-room).
    let admin = app.admin();
    let admin = (admin.0.as_str(), admin.1.as_str());
    let r = app.post(
        "/api/v1/users.create",
        Some(admin),
        &json!({"username": "robot", "email": "robot@example.com", "name": "Robot",
                "password": "robot-password-1", "roles": ["bot"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let robot = app.login("robot", "robot-password-1");
    let mut robot_socket = Socket::logged_in(&app.url, &robot.1);
    let (id, frames) = robot_socket.sub(ROOM_MESSAGES, room_params(VB));
    assert_eq!(frames[0].to_string(), not_allowed(&id));
}

#[test]
fn a_login_on_the_socket_opens_the_subscriptions_made_before_it() {
    let app = spawn_app!();
    let mut s = Socket::connect(&app.url);
    s.subscribe(ROOM_MESSAGES, json!(["__my_messages__", false]));
    let (mine, _) = s.sub(NOTIFY_USER, json!([format!("{}/rooms-changed", BOB.0), false]));
    let (frames, result) = s.call("login", json!([{ "resume": BOB.1 }]));
    assert!(result.get("result").is_some(), "{result}");
    // The refused sub stays refused; the session's others are ready again (§3.4).
    assert!(!frames.iter().any(|f| f["msg"] == "nosub" && f["id"] == mine), "{frames:?}");
    let posted = app.post_message(ALICE, VB, "after the login");
    s.until(|f| carries(f, &posted.id));
    // A logout ends what needs a user, with a nosub.
    let (_, sub_frames) = s.sub(NOTIFY_USER, json!([format!("{}/rooms-changed", BOB.0), false]));
    assert_eq!(sub_frames.last().unwrap()["msg"], "ready");
    let (frames, _) = s.call("logout", json!([]));
    assert!(
        frames.iter().any(|f| f["msg"] == "nosub"),
        "the user's own stream ends at logout: {frames:?}"
    );
}

#[test]
fn a_kicked_user_stops_receiving_at_once_and_resumes_when_invited_again() {
    let app = spawn_app!();
    let r = app.post(
        "/api/v1/groups.create",
        Some(ALICE),
        &json!({"name": "kickers", "members": ["bob"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rid = r.json()["group"]["_id"].as_str().unwrap().to_string();
    let mut bob = Socket::logged_in(&app.url, BOB.1);
    bob.subscribe(ROOM_MESSAGES, room_params(&rid));
    bob.subscribe(ROOM_MESSAGES, room_params("__my_messages__"));
    let changed = format!("{}/subscriptions-changed", BOB.0);
    bob.subscribe(NOTIFY_USER, json!([changed, false]));

    let before = app.post_message(ALICE, &rid, "before the kick");
    bob.until(|f| is_event(f, ROOM_MESSAGES, "__my_messages__") && carries(f, &before.id));

    let kick = json!({"roomId": rid, "userId": BOB.0});
    let r = app.post("/api/v1/groups.kick", Some(ALICE), &kick);
    assert_eq!(r.status, 200, "{}", r.body);
    let removed = bob.until(|f| is_event(f, NOTIFY_USER, &changed) && f["fields"]["args"][0] == "removed");
    let removed = &removed.last().unwrap()["fields"]["args"][1];
    assert_eq!(
        removed,
        &json!({"_id": removed["_id"], "u": {"_id": BOB.0, "username": "bob"}, "rid": rid})
    );
    let hidden = app.post_message(ALICE, &rid, "while bob is out");

    let invite = json!({"roomId": rid, "userId": BOB.0});
    let r = app.post("/api/v1/groups.invite", Some(ALICE), &invite);
    assert_eq!(r.status, 200, "{}", r.body);
    let after = app.post_message(ALICE, &rid, "bob is back");
    let frames = bob.until(|f| is_event(f, ROOM_MESSAGES, "__my_messages__") && carries(f, &after.id));
    assert!(
        !frames.iter().any(|f| carries(f, &hidden.id)),
        "a message posted while bob was out reached him: {frames:?}"
    );
    assert!(
        frames
            .iter()
            .any(|f| is_event(f, NOTIFY_USER, &changed) && f["fields"]["args"][0] == "inserted"),
        "{frames:?}"
    );
    assert!(frames.iter().any(|f| is_event(f, ROOM_MESSAGES, &rid) && carries(f, &after.id)));
}

#[test]
fn typing_reaches_the_other_subscribers_and_not_the_writer() {
    let app = spawn_app!();
    let event = format!("{VB}/user-activity");
    let mut alice = Socket::logged_in(&app.url, ALICE.1);
    let mut bob = Socket::logged_in(&app.url, BOB.1);
    alice.subscribe(NOTIFY_ROOM, json!([event, false]));
    bob.subscribe(NOTIFY_ROOM, json!([event, false]));

    // Refused writes (another's name, another event) answer alike and relay nothing.
    for params in [
        json!([event, "bob", ["user-typing"], {}]),
        json!([format!("{VB}/typing"), "alice", true]),
    ] {
        let (frames, result) = alice.call("stream-notify-room", params);
        assert_eq!(keys(&result), ["msg", "id"], "{result}");
        assert!(frames.iter().all(|f| f["msg"] == "updated"), "{frames:?}");
    }
    let (frames, result) = alice.call("stream-notify-room", json!([event, "alice", ["user-typing"], {}]));
    assert_eq!(keys(&result), ["msg", "id"], "{result}");
    assert!(frames.iter().all(|f| f["msg"] != "changed"), "echoed to the writer: {frames:?}");
    assert_eq!(
        bob.next_text(),
        format!(
            r#"{{"msg":"changed","collection":"stream-notify-room","id":"id","fields":{{"eventName":"{event}","args":["alice",["user-typing"],{{}}]}}}}"#
        )
    );
}

#[test]
fn a_deleted_message_is_announced_on_the_room_stream() {
    let app = spawn_app!();
    let event = format!("{VB}/deleteMessage");
    let mut bob = Socket::logged_in(&app.url, BOB.1);
    bob.subscribe(NOTIFY_ROOM, json!([event, false]));
    let posted = app.post_message(ALICE, VB, "soon gone");
    let r = app.post(
        "/api/v1/chat.delete",
        Some(ALICE),
        &json!({"roomId": VB, "msgId": posted.id}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        bob.next_text(),
        format!(
            r#"{{"msg":"changed","collection":"stream-notify-room","id":"id","fields":{{"eventName":"{event}","args":[{{"_id":"{}"}}]}}}}"#,
            posted.id
        )
    );
}

#[test]
fn a_user_hears_of_their_new_rooms_subscriptions_and_notifications() {
    let app = spawn_app!();
    let mut bob = Socket::logged_in(&app.url, BOB.1);
    let subs = format!("{}/subscriptions-changed", BOB.0);
    let rooms = format!("{}/rooms-changed", BOB.0);
    let notification = format!("{}/notification", BOB.0);
    for event in [&subs, &rooms, &notification] {
        bob.subscribe(NOTIFY_USER, json!([event, false]));
    }
    let r = app.post(
        "/api/v1/channels.create",
        Some(ALICE),
        &json!({"name": "newsroom", "members": ["bob"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rid = r.json()["channel"]["_id"].as_str().unwrap().to_string();
    let frames = bob.until(|f| is_event(f, NOTIFY_USER, &rooms));
    let inserted = frames
        .iter()
        .find(|f| is_event(f, NOTIFY_USER, &subs))
        .expect("the subscription comes before its room");
    assert_eq!(inserted["fields"]["args"][0], "inserted");
    assert_eq!(inserted["fields"]["args"][1]["rid"], rid.as_str());
    assert!(inserted["fields"]["args"][1]["ts"]["$date"].is_i64());
    let room = &frames.last().unwrap()["fields"]["args"];
    assert_eq!((&room[0], &room[1]["_id"]), (&json!("inserted"), &json!(rid)));

    let posted = app.post_message(ALICE, &rid, "hello @bob");
    let frames = bob.until(|f| is_event(f, NOTIFY_USER, &notification));
    let n = &frames.last().unwrap()["fields"]["args"][0];
    assert_eq!(keys(n), ["title", "text", "payload"]);
    assert_eq!((&n["title"], &n["text"]), (&json!("#newsroom"), &json!("alice: hello @bob")));
    assert_eq!(
        keys(&n["payload"]),
        ["_id", "rid", "sender", "type", "message", "name"]
    );
    assert_eq!(n["payload"]["_id"], posted.id.as_str());
    assert_eq!(n["payload"]["message"], json!({"msg": "hello @bob"}));
    // The room's new last message reaches its members too.
    let frames = bob.until(|f| is_event(f, NOTIFY_USER, &rooms));
    let room = &frames.last().unwrap()["fields"]["args"];
    assert_eq!(room[0], "updated");
    assert_eq!(room[1]["lastMessage"]["_id"], posted.id.as_str(), "{room}");
    assert!(room[1]["lm"]["$date"].is_i64(), "{room}");
}
