//! Presence over the realtime API (realtime.md §0 step 7, §3.3, §4.4, §5.12): a user is
//! online while a socket of theirs is logged in, and every change of their shown status
//! reaches `stream-notify-logged`'s `user-status` subscribers.
//!
//! Each step waits for alice's next `user-status` frame: were a step to emit a frame it
//! should not, the next step's assertion would see it.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::realtime_streams::socket::{is_event, Socket};

const LOGGED: &str = "stream-notify-logged";

/// Bob, listening to `user-status`.
fn listener(app: &TestApp) -> Socket {
    let mut bob = Socket::logged_in(&app.url, BOB.1);
    bob.subscribe(LOGGED, json!(["user-status", false]));
    bob
}

/// The next `user-status` frame about alice that `socket` receives.
fn next_of_alice(socket: &mut Socket) -> Value {
    let mut frames = socket.until(|f| {
        is_event(f, LOGGED, "user-status") && f["fields"]["args"][0][0] == ALICE.0
    });
    frames.pop().expect("a frame")
}

/// The exact frame (§4.4) of alice at `status`.
fn alice_at(app: &TestApp, status: u8) -> String {
    let me = app.get("/api/v1/me", Some(ALICE)).json();
    let text = me.get("statusText").cloned().unwrap_or(Value::Null);
    format!(
        r#"{{"msg":"changed","collection":"stream-notify-logged","id":"id","fields":{{"eventName":"user-status","args":[["{}","alice",{status},{text},{},{}]]}}}}"#,
        ALICE.0, me["name"], me["roles"]
    )
}

fn status_of(frame: &Value) -> &Value {
    &frame["fields"]["args"][0][2]
}

#[test]
fn a_socket_makes_its_user_online_until_the_last_one_closes() {
    let app = spawn_app!();
    let mut bob = listener(&app);

    let mut alice = Socket::logged_in(&app.url, ALICE.1);
    assert_eq!(next_of_alice(&mut bob).to_string(), alice_at(&app, 1));

    // A second socket moves nothing; the user is away only when both are.
    let mut second = Socket::logged_in(&app.url, ALICE.1);
    let (_, away) = alice.call("UserPresence:away", json!([]));
    assert_eq!(away["result"], false, "{away}");
    let (_, away) = second.call("UserPresence:away", json!([]));
    assert_eq!(away["result"], true, "{away}");
    assert_eq!(next_of_alice(&mut bob).to_string(), alice_at(&app, 2));
    let (_, online) = alice.call("UserPresence:online", json!([]));
    assert_eq!(online["result"], true, "{online}");
    assert_eq!(status_of(&next_of_alice(&mut bob)), 1);

    // The last socket closing makes her offline (both online: whichever closes first
    // moves nothing).
    let (_, online) = second.call("UserPresence:online", json!([]));
    assert_eq!(online["result"], false, "{online}");
    drop(second);
    drop(alice);
    let offline = next_of_alice(&mut bob);
    assert_eq!(status_of(&offline), 0, "{offline}");
    assert_eq!(offline.to_string(), alice_at(&app, 0));
}

#[test]
fn a_logout_and_a_chosen_status_move_the_shown_status() {
    let app = spawn_app!();
    let mut bob = listener(&app);
    let mut alice = Socket::logged_in(&app.url, ALICE.1);
    assert_eq!(status_of(&next_of_alice(&mut bob)), 1);

    let (_, r) = alice.call("UserPresence:setDefaultStatus", json!(["away"]));
    assert_eq!(r["result"], true, "{r}");
    assert_eq!(next_of_alice(&mut bob).to_string(), alice_at(&app, 2));
    // A status text is a change too; a write that changes no status field is not.
    alice.call("setUserStatus", json!([null, "at lunch"]));
    let texted = next_of_alice(&mut bob);
    assert_eq!(texted["fields"]["args"][0][3], "at lunch", "{texted}");
    let (_, r) = alice.call("UserPresence:setDefaultStatus", json!(["away"]));
    assert_eq!(r["result"], false, "{r}");

    // `offline` chosen is invisible: a new socket leaves her offline (the next frame about
    // her is the status she chooses next).
    alice.call("UserPresence:setDefaultStatus", json!(["offline"]));
    assert_eq!(status_of(&next_of_alice(&mut bob)), 0);
    drop(alice);
    let mut hidden = Socket::logged_in(&app.url, ALICE.1);
    let (_, r) = hidden.call("UserPresence:setDefaultStatus", json!(["busy"]));
    assert_eq!(r["result"], true, "{r}");
    assert_eq!(next_of_alice(&mut bob).to_string(), alice_at(&app, 3));

    // A logout (the socket stays open) makes her offline.
    hidden.call("logout", json!([]));
    assert_eq!(status_of(&next_of_alice(&mut bob)), 0);
}
