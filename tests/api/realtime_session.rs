//! The realtime API's transport, session, method framework and login (spec `realtime.md`
//! §1–§3), through the real server and a WebSocket client (`support::ddp`), and REST
//! `method.call`. Nothing here depends on timing but generous timeouts: the heartbeat test
//! waits for a ping and a close in order, however late they come.

use std::io::{Read, Write};

use serde_json::{json, Value};

use crate::helpers::*;
use crate::support::ddp::{Ddp, Frame};

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The raw HTTP answer to a GET of `/websocket` with `headers`.
fn raw_get(app: &TestApp, headers: &str) -> String {
    let addr = app.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(crate::support::ddp::WAIT)).unwrap();
    write!(
        s,
        "GET /websocket HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

#[test]
fn connect_negotiates_the_version_and_pings_are_answered() {
    let app = spawn_app!();
    let (mut ddp, session) = Ddp::connect(&app.url);
    assert_eq!(session.len(), 17);
    assert!(session.chars().all(|c| c.is_ascii_alphanumeric()));

    ddp.send(&json!({"msg": "ping", "id": "7"}));
    assert_eq!(ddp.next_text(), r#"{"msg":"pong","id":"7"}"#);
    ddp.send(&json!({"msg": "ping"}));
    assert_eq!(ddp.next_text(), r#"{"msg":"pong"}"#);
    // A pong is accepted silently: the next answer is the ping's.
    ddp.send(&json!({"msg": "pong"}));
    ddp.send(&json!({"msg": "ping", "id": "8"}));
    assert_eq!(ddp.next_text(), r#"{"msg":"pong","id":"8"}"#);
    ddp.send(&json!({"msg": "connect", "version": "1", "support": ["1"]}));
    assert_eq!(
        ddp.next_text(),
        r#"{"msg":"error","reason":"Already connected","offendingMessage":{"msg":"connect","version":"1","support":["1"]}}"#
    );

    // ddp.js 0.5 (the @rocket.chat/sdk driver) speaks pre2.
    let mut pre2 = Ddp::open(&app.url);
    pre2.send(&json!({"msg": "connect", "version": "pre2", "support": ["pre2"]}));
    assert_eq!(pre2.next_json()["msg"], "connected");

    // An unsupported version: `failed` with the server's choice, then a normal close.
    let mut old = Ddp::open(&app.url);
    old.send(&json!({"msg": "connect", "version": "1", "support": ["pre2"]}));
    assert_eq!(old.next_text(), r#"{"msg":"failed","version":"1"}"#);
    assert_eq!(old.next(), Frame::Close(1000, "Normal closure".into()));
    // The client's first version the server speaks, when it is not the one asked for.
    let mut odd = Ddp::open(&app.url);
    odd.send(&json!({"msg": "connect", "version": "pre1", "support": ["pre2", "pre1"]}));
    assert_eq!(odd.next_text(), r#"{"msg":"failed","version":"pre2"}"#);
    let mut future = Ddp::open(&app.url);
    future.send(&json!({"msg": "connect", "version": "2", "support": ["2"]}));
    assert_eq!(future.next_text(), r#"{"msg":"failed","version":"1"}"#);
    assert_eq!(future.next(), Frame::Close(1000, "Normal closure".into()));
}

#[test]
fn malformed_frames_get_meteors_errors_and_the_socket_stays_open() {
    let app = spawn_app!();
    let mut ddp = Ddp::open(&app.url);
    ddp.send(&json!({"msg": "method", "id": "1", "method": "login", "params": []}));
    assert_eq!(
        ddp.next_text(),
        r#"{"msg":"error","reason":"Must connect first","offendingMessage":{"msg":"method","id":"1","method":"login","params":[]}}"#
    );
    ddp.send_text("not json {");
    assert_eq!(ddp.next_text(), r#"{"msg":"error","reason":"Bad request"}"#);
    // A binary frame holding JSON is read as text (spec §1.3).
    ddp.send_binary(br#"{"msg":"connect","version":"1","support":["1"]}"#);
    assert_eq!(ddp.next_json()["msg"], "connected");
    ddp.send_binary(&[0xff, 0xfe, 0x00]);
    assert_eq!(ddp.next_text(), r#"{"msg":"error","reason":"Bad request"}"#);
    for (frame, answer) in [
        ("123", r#"{"msg":"error","reason":"Bad request"}"#),
        ("null", r#"{"msg":"error","reason":"Bad request"}"#),
        (r#"{"foo":1}"#, r#"{"msg":"error","reason":"Bad request","offendingMessage":{"foo":1}}"#),
        (r#"{"msg":"foo"}"#, r#"{"msg":"error","reason":"Bad request","offendingMessage":{"msg":"foo"}}"#),
        (
            r#"{"msg":"method","method":"login"}"#,
            r#"{"msg":"error","reason":"Malformed method invocation","offendingMessage":{"msg":"method","method":"login"}}"#,
        ),
        (
            r#"{"msg":"sub","id":"1","name":"x","params":{}}"#,
            r#"{"msg":"error","reason":"Malformed subscription","offendingMessage":{"msg":"sub","id":"1","name":"x","params":{}}}"#,
        ),
        (r#"{"msg":"unsub","id":"nope"}"#, r#"{"msg":"nosub","id":"nope"}"#),
    ] {
        ddp.send_text(frame);
        assert_eq!(ddp.next_text(), answer, "{frame}");
    }
    ddp.send(&json!({"msg": "ping", "id": "still-here"}));
    assert_eq!(ddp.next_text(), r#"{"msg":"pong","id":"still-here"}"#);
}

#[test]
fn the_upgrade_is_refused_with_sockjs_texts() {
    let app = spawn_app!();
    let plain = raw_get(&app, "");
    assert!(plain.starts_with("HTTP/1.1 400"), "{plain}");
    assert!(plain.ends_with("Not a valid websocket request"), "{plain}");
    let old = raw_get(
        &app,
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n",
    );
    assert!(old.starts_with("HTTP/1.1 400"), "{old}");
    assert!(old.ends_with("Only supported WebSocket protocol is RFC 6455."), "{old}");
    // `/websocket/` is the same endpoint.
    let mut with_slash = Ddp::open_at(&app.url, "/websocket/");
    with_slash.send(&json!({"msg": "connect", "version": "1", "support": ["1"]}));
    assert_eq!(with_slash.next_json()["msg"], "connected");
}

#[test]
fn methods_answer_updated_and_result_in_the_spec_order() {
    let app = spawn_app!();
    let (mut ddp, _) = Ddp::connect(&app.url);
    ddp.send(&json!({"msg": "method", "id": "12", "method": "foo", "params": []}));
    assert_eq!(
        ddp.next_text(),
        r#"{"msg":"result","id":"12","error":{"isClientSafe":true,"error":404,"reason":"Method 'foo' not found","message":"Method 'foo' not found [404]","errorType":"Meteor.Error"}}"#
    );
    assert_eq!(ddp.next_text(), r#"{"msg":"updated","methods":["12"]}"#);

    // A known method: updated first. `params` may be left out.
    ddp.send(&json!({"msg": "method", "id": "13", "method": "logout"}));
    assert_eq!(ddp.next_text(), r#"{"msg":"updated","methods":["13"]}"#);
    assert_eq!(ddp.next_text(), r#"{"msg":"result","id":"13"}"#);

    // Calls are answered in the order they were sent, pings at once.
    for i in 0..5 {
        ddp.send(&json!({"msg": "method", "id": format!("m{i}"), "method": "logout", "params": []}));
    }
    let ids: Vec<String> = (0..10)
        .map(|_| ddp.next_json())
        .filter(|f| f["msg"] == "result")
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["m0", "m1", "m2", "m3", "m4"]);
}

#[test]
fn login_over_the_socket_shares_tokens_with_rest() {
    let app = spawn_app!();
    let (mut ddp, _) = Ddp::connect(&app.url);
    let result = ddp.login("alice", "alice-demo");
    let keys: Vec<&str> = result.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "token", "tokenExpires", "type"]);
    assert_eq!(result["id"], ALICE.0);
    assert_eq!(result["type"], "password");
    let token = result["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 43);
    let expires = result["tokenExpires"]["$date"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    assert!((expires - now - 90 * 86_400_000).abs() < 86_400_000, "{expires}");

    // The token is a REST token.
    let me = app.get("/api/v1/me", Some((ALICE.0, &token)));
    assert_eq!(me.status, 200, "{}", me.body);

    // The digest form and resume, on another socket.
    let (mut other, _) = Ddp::connect(&app.url);
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"alice-demo"))
    };
    let text = other.call(
        "login",
        json!([{"user": {"email": "alice@example.com"}, "password": {"digest": digest, "algorithm": "sha-256"}}]),
    );
    assert_eq!(parse(&text)["result"]["id"], ALICE.0, "{text}");
    let text = other.call("login", json!([{"resume": token}]));
    let resumed = parse(&text)["result"].clone();
    assert_eq!((resumed["token"].as_str(), resumed["type"].as_str()), (Some(token.as_str()), Some("resume")));
    assert_eq!(resumed["tokenExpires"], result["tokenExpires"]);

    // Failures: one 401, whatever went wrong; bad shapes are 400 Match failed.
    const NOT_FOUND: &str = r#"{"isClientSafe":true,"error":401,"reason":"User not found","message":"User not found [401]","errorType":"Meteor.Error"}"#;
    const MATCH_FAILED: &str = r#"{"isClientSafe":true,"error":400,"reason":"Match failed","message":"Match failed [400]","errorType":"Meteor.Error"}"#;
    for (params, error) in [
        (json!([{"user": {"username": "alice"}, "password": "wrong"}]), NOT_FOUND),
        (json!([{"user": {"username": "nobody"}, "password": "alice-demo"}]), NOT_FOUND),
        (json!([{"resume": "no-such-token"}]), NOT_FOUND),
        (json!([{}]), NOT_FOUND),
        (json!(["alice"]), MATCH_FAILED),
        (json!([{"user": "alice", "password": "alice-demo"}]), MATCH_FAILED),
    ] {
        let mut fresh = Ddp::connect(&app.url).0;
        let text = fresh.call("login", params.clone());
        let id = parse(&text)["id"].as_str().unwrap().to_string();
        assert_eq!(text, format!(r#"{{"msg":"result","id":"{id}","error":{error}}}"#), "{params}");
    }

    // logout removes the token: REST refuses it, the socket stays open.
    let text = ddp.call("logout", json!([]));
    assert!(parse(&text).get("result").is_none() && parse(&text).get("error").is_none(), "{text}");
    assert_eq!(app.get("/api/v1/me", Some((ALICE.0, &token))).status, 401);
    ddp.send(&json!({"msg": "ping", "id": "after"}));
    assert_eq!(ddp.next_text(), r#"{"msg":"pong","id":"after"}"#);
}

#[test]
fn a_token_removed_over_rest_ends_its_sockets() {
    let app = spawn_app!();
    let (mut ddp, _) = Ddp::connect(&app.url);
    let token = ddp.login("alice", "alice-demo")["token"].as_str().unwrap().to_string();
    let (mut bystander, _) = Ddp::connect(&app.url);
    bystander.login("bob", "bob-demo");

    let r = app.post("/api/v1/logout", Some((ALICE.0, &token)), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    // Closed at once by the change feed, or at the latest instead of answering its next call.
    ddp.send(&json!({"msg": "method", "id": "x", "method": "logout", "params": []}));
    assert_eq!(ddp.until_closed(), Frame::Close(1000, "Normal closure".into()));
    // Another user's socket is untouched.
    let text = bystander.call("foo", json!([]));
    assert!(text.contains("Method 'foo' not found"), "{text}");
}

#[test]
fn the_change_feed_closes_a_socket_whose_token_is_removed_without_waiting_for_a_call() {
    // PostgreSQL's feed crosses processes through its listener, which comes with the feed's
    // PostgreSQL part; until then the test above covers that backend.
    if crate::BACKEND != rcpush::config::Backend::Sled {
        return;
    }
    let app = spawn_app!();
    let (mut ddp, _) = Ddp::connect(&app.url);
    let token = ddp.login("alice", "alice-demo")["token"].as_str().unwrap().to_string();
    // Another socket's logout removes the token too.
    let (mut other, _) = Ddp::connect(&app.url);
    other.call("login", json!([{"resume": token}]));
    let (mut third, _) = Ddp::connect(&app.url);
    third.call("login", json!([{"resume": token}]));
    let text = other.call("logout", json!([]));
    assert_eq!(text, r#"{"msg":"result","id":"2"}"#);
    assert_eq!(ddp.until_closed(), Frame::Close(1000, "Normal closure".into()));
    assert_eq!(third.until_closed(), Frame::Close(1000, "Normal closure".into()));
    // The socket that logged out stays open.
    other.send(&json!({"msg": "ping", "id": "open"}));
    assert_eq!(other.next_text(), r#"{"msg":"pong","id":"open"}"#);
}

#[test]
fn subscriptions_before_login_are_ready_again_before_its_result() {
    let app = spawn_app!();
    let (mut ddp, _) = Ddp::connect(&app.url);
    let frames = ddp.sub("meteor.loginServiceConfiguration", json!([]));
    assert_eq!(frames, [r#"{"msg":"ready","subs":["1"]}"#]);
    // The same id again is ignored; an unknown publication is a 404 nosub.
    ddp.send(&json!({"msg": "sub", "id": "1", "name": "meteor.loginServiceConfiguration", "params": []}));
    let frames = ddp.sub("foo", json!([]));
    assert_eq!(
        frames,
        [r#"{"msg":"nosub","id":"2","error":{"isClientSafe":true,"error":404,"reason":"Subscription 'foo' not found","message":"Subscription 'foo' not found [404]","errorType":"Meteor.Error"}}"#]
    );
    ddp.send(&json!({"msg": "method", "id": "9", "method": "login", "params": [{"user": {"username": "alice"}, "password": "alice-demo"}]}));
    // Meteor's `users` publication of the logged-in user, then the subscriptions again.
    let added = ddp.next_json();
    assert_eq!(
        (&added["msg"], &added["collection"], &added["id"], &added["fields"]["username"]),
        (&json!("added"), &json!("users"), &json!(ALICE.0), &json!("alice")),
        "{added}"
    );
    assert_eq!(ddp.next_text(), r#"{"msg":"ready","subs":["1"]}"#);
    assert_eq!(ddp.next_text(), r#"{"msg":"updated","methods":["9"]}"#);
    assert_eq!(ddp.next_json()["msg"], "result");
    ddp.send(&json!({"msg": "unsub", "id": "1"}));
    assert_eq!(ddp.next_text(), r#"{"msg":"nosub","id":"1"}"#);
    ddp.send(&json!({"msg": "method", "id": "10", "method": "logout", "params": []}));
    assert_eq!(
        ddp.next_text(),
        format!(r#"{{"msg":"removed","collection":"users","id":"{}"}}"#, ALICE.0)
    );
    assert_eq!(ddp.next_text(), r#"{"msg":"updated","methods":["10"]}"#);
    assert_eq!(ddp.next_text(), r#"{"msg":"result","id":"10"}"#);
}

#[test]
fn the_rate_limiter_refuses_the_call_over_the_limit() {
    let app = spawn_app!();
    let (mut ddp, _) = Ddp::connect(&app.url);
    // Five logins per connection in 10 s (bad resume tokens: no password hashing).
    for _ in 0..5 {
        let text = ddp.call("login", json!([{"resume": "nope"}]));
        assert!(text.contains("User not found"), "{text}");
    }
    let text = parse(&ddp.call("login", json!([{"resume": "nope"}])));
    let error = &text["error"];
    assert_eq!(error["error"], "too-many-requests", "{text}");
    let wait = error["details"]["timeToReset"].as_u64().unwrap();
    assert!(wait <= 10_000);
    let seconds = wait.div_ceil(1000);
    assert_eq!(
        error["reason"],
        format!("Error, too many requests. Please slow down. You must wait {seconds} seconds before trying again.")
    );
    let keys: Vec<&str> = error.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["isClientSafe", "error", "reason", "details", "message", "errorType"]);
    // Another connection has its own count.
    let (mut other, _) = Ddp::connect(&app.url);
    assert!(other.call("login", json!([{"resume": "nope"}])).contains("User not found"));
}

#[test]
fn the_limiter_can_be_turned_off() {
    let app = spawn_app_with!(|c| c.realtime.rate_limit = false);
    let (mut ddp, _) = Ddp::connect(&app.url);
    for _ in 0..12 {
        let text = ddp.call("login", json!([{"resume": "nope"}]));
        assert!(text.contains("User not found"), "{text}");
    }
}

#[test]
fn a_silent_client_is_pinged_then_closed() {
    let app = spawn_app_with!(|c| c.realtime.heartbeat_ms = 200);
    let (mut ddp, _) = Ddp::connect(&app.url);
    assert_eq!(ddp.next_text(), r#"{"msg":"ping"}"#);
    assert_eq!(ddp.next(), Frame::Close(1000, "Normal closure".into()));
}

#[test]
fn a_frame_over_the_limit_closes_with_1009() {
    let app = spawn_app_with!(|c| c.realtime.max_frame_bytes = 4096);
    let (mut ddp, _) = Ddp::connect(&app.url);
    let big = json!({"msg": "method", "id": "1", "method": "x".repeat(5000), "params": []});
    ddp.send(&big);
    assert_eq!(ddp.next(), Frame::Close(1009, "WebSocket frame length too large".into()));
}

#[test]
fn a_flood_of_calls_is_answered_in_order() {
    let app = spawn_app_with!(|c| c.realtime.rate_limit = false);
    let (mut ddp, _) = Ddp::connect(&app.url);
    let n = 300;
    for i in 0..n {
        ddp.write_quietly(&json!({"msg": "method", "id": i.to_string(), "method": format!("m{i}"), "params": []}).to_string());
        ddp.write_quietly(&json!({"msg": "ping", "id": format!("p{i}")}).to_string());
    }
    ddp.flush_quietly();
    let mut results = Vec::new();
    let mut pongs = 0;
    while results.len() < n || pongs < n {
        let f = ddp.next_json();
        match f["msg"].as_str() {
            Some("result") => results.push(f["id"].as_str().unwrap().parse::<usize>().unwrap()),
            Some("pong") => pongs += 1,
            _ => {}
        }
    }
    assert_eq!(results, (0..n).collect::<Vec<_>>());
}

#[test]
fn a_client_that_stops_reading_is_dropped_and_counted() {
    let app = spawn_app_with!(|c| {
        c.realtime.queue_frames = 8;
        c.realtime.rate_limit = false;
        c.metrics.enabled = true;
    });
    let (mut ddp, _) = Ddp::connect(&app.url);
    // Each call's 404 echoes its long name twice: megabytes of answers nobody reads.
    for i in 0..300 {
        let name = format!("{i}{}", "x".repeat(100_000));
        ddp.write_quietly(&json!({"msg": "method", "id": i.to_string(), "method": name}).to_string());
        ddp.flush_quietly();
        if app.metric("rcpush_realtime_slow_consumers_dropped_total") == 1 {
            break;
        }
    }
    assert_eq!(app.metric("rcpush_realtime_slow_consumers_dropped_total"), 1);
    // Reading again, the client finds the connection gone after what was on its way.
    assert!(matches!(ddp.until_closed(), Frame::Gone | Frame::Close(..)));
    // The server is fine.
    let (mut fresh, _) = Ddp::connect(&app.url);
    fresh.send(&json!({"msg": "ping", "id": "ok"}));
    assert_eq!(fresh.next_text(), r#"{"msg":"pong","id":"ok"}"#);
}

#[test]
fn rest_method_call_wraps_the_result_frame() {
    let app = spawn_app!();
    let message = |method: &str, params: Value| {
        json!({"message": json!({"msg": "method", "id": "5", "method": method, "params": params}).to_string()})
    };
    let r = app.post(
        "/api/v1/method.callAnon/login",
        None,
        &message("login", json!([{"user": {"username": "alice"}, "password": "alice-demo"}])),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["success"], true);
    let frame = parse(body["message"].as_str().unwrap());
    assert_eq!(frame["msg"], "result");
    assert_eq!(frame["id"], "5");
    assert_eq!(frame["result"]["id"], ALICE.0);
    let token = frame["result"]["token"].as_str().unwrap().to_string();

    let r = app.post("/api/v1/method.call/foo", Some((ALICE.0, &token)), &message("foo", json!([])));
    assert_eq!(
        r.body,
        r#"{"message":"{\"msg\":\"result\",\"id\":\"5\",\"error\":{\"isClientSafe\":true,\"error\":404,\"reason\":\"Method 'foo' not found\",\"message\":\"Method 'foo' not found [404]\",\"errorType\":\"Meteor.Error\"}}","success":true}"#
    );
    let r = app.post("/api/v1/method.call/logout", Some((ALICE.0, &token)), &message("logout", json!([])));
    assert_eq!(r.body, r#"{"message":"{\"msg\":\"result\",\"id\":\"5\"}","success":true}"#);
    // The logout ended the token.
    assert_eq!(app.post("/api/v1/method.call/foo", Some((ALICE.0, &token)), &message("foo", json!([]))).status, 401);

    let r = app.post("/api/v1/method.callAnon/foo", None, &json!({"message": "{\"msg\":\"sub\"}"}));
    assert_eq!((r.status, r.body.as_str()), (400, r#"{"success":false,"error":"Invalid method call"}"#));
    let r = app.post("/api/v1/method.callAnon/foo", None, &json!({}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["errorType"], "invalid-params");
}

#[test]
fn random_frames_never_take_the_session_down() {
    let app = spawn_app!();
    let (mut ddp, _) = Ddp::connect(&app.url);
    // A fixed sequence of garbage (a tiny LCG: the same bytes each run), text and binary.
    let mut state: u64 = 0x5eed;
    let mut byte = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as u8
    };
    for i in 0..200 {
        let len = usize::from(byte()) % 64;
        let mut data: Vec<u8> = (0..len).map(|_| byte()).collect();
        if i % 3 == 0 {
            // Near-JSON: a frame that parses often, with odd members.
            data = format!(r#"{{"msg":"{}","id":{},"params":"{}"}}"#, ["method", "sub", "unsub", "x"][i % 4], i, i).into_bytes();
        }
        match std::str::from_utf8(&data) {
            Ok(text) if i % 2 == 0 => ddp.send_text(text),
            _ => ddp.send_binary(&data),
        }
    }
    ddp.send(&json!({"msg": "ping", "id": "alive"}));
    loop {
        let f = ddp.next_json();
        if f["msg"] == "pong" && f["id"] == "alive" {
            break;
        }
        assert!(f["msg"] == "error" || f["msg"] == "nosub", "{f}");
    }
    let text = ddp.call("foo", json!([]));
    assert!(text.contains("Method 'foo' not found"), "{text}");
}

#[test]
fn stopping_the_server_closes_its_sockets() {
    let mut app = spawn_app!();
    let (mut ddp, _) = Ddp::connect(&app.url);
    ddp.login("alice", "alice-demo");
    app.stop();
    assert_eq!(ddp.until_closed(), Frame::Close(1000, "Normal closure".into()));
}

#[test]
fn an_idle_socket_outlives_the_http_keep_alive() {
    // HTTP's keep-alive closes an idle connection after 5 s; an upgraded one is the
    // socket's own (its heartbeat is set long here, so that nothing else speaks).
    let app = spawn_app_with!(|c| c.realtime.heartbeat_ms = 600_000);
    let (mut ddp, _) = Ddp::connect(&app.url);
    std::thread::sleep(std::time::Duration::from_secs(7));
    ddp.send(&json!({"msg": "ping", "id": "later"}));
    assert_eq!(ddp.next_text(), r#"{"msg":"pong","id":"later"}"#);
}
