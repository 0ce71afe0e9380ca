//! Changes to one message that meet: each is applied to the message as stored inside its
//! write (`rules::message_changes`), so none is lost, whatever the interleaving.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, ALICE, BOB, RODRIQ};

const VB: &str = "iu7jtPAhvEeAS5tNq";

fn ok(r: crate::helpers::Resp) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn send(app: &TestApp, who: (&str, &str), message: Value) -> String {
    let r = app.post(
        "/api/v1/chat.sendMessage",
        Some(who),
        &json!({ "message": message }),
    );
    ok(r)["message"]["_id"].as_str().unwrap().to_string()
}

fn stored(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(BOB));
    ok(r)["message"].clone()
}

/// Bob edits his message over and over while Alice and Rodriq reply in its thread: every
/// reply counts in the parent's `tcount` and `replies`, and the text is Bob's last edit.
/// (Before edits were applied inside the write, an edit wrote back the parent it had read,
/// dropping the replies counted meanwhile.)
#[test]
fn edits_racing_thread_replies_lose_nothing() {
    const EACH: usize = 12;
    let app = spawn_app!();
    let parent = send(&app, BOB, json!({"rid": VB, "msg": "thread start"}));
    std::thread::scope(|scope| {
        let (app, parent) = (&app, parent.as_str());
        scope.spawn(move || {
            for i in 0..EACH {
                let r = app.post(
                    "/api/v1/chat.update",
                    Some(BOB),
                    &json!({"roomId": VB, "msgId": parent, "text": format!("edit {i}")}),
                );
                assert_eq!(ok(r)["message"]["msg"], format!("edit {i}"));
            }
        });
        for who in [ALICE, RODRIQ] {
            scope.spawn(move || {
                for i in 0..EACH {
                    send(
                        app,
                        who,
                        json!({"rid": VB, "msg": format!("reply {i}"), "tmid": parent}),
                    );
                }
            });
        }
    });
    let m = stored(&app, &parent);
    assert_eq!(m["tcount"], json!(2 * EACH), "{m}");
    let mut replies: Vec<&str> = m["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    replies.sort_unstable();
    let mut expected = vec![ALICE.0, BOB.0, RODRIQ.0];
    expected.sort_unstable();
    assert_eq!(replies, expected);
    assert_eq!(m["msg"], format!("edit {}", EACH - 1));
    assert_eq!(m["editedBy"]["username"], "bob");
}

/// Two editors at once on one message, and a deletion racing edits of another: every
/// answer is one the stored state explains, and a deleted message stays deleted.
#[test]
fn concurrent_editors_and_a_deletion_leave_a_consistent_message() {
    const EACH: usize = 8;
    let app = spawn_app!();
    let admin = app.admin();
    let admin = (admin.0.as_str(), admin.1.as_str());
    let shared = send(&app, BOB, json!({"rid": VB, "msg": "shared"}));
    let doomed = send(&app, BOB, json!({"rid": VB, "msg": "doomed"}));
    std::thread::scope(|scope| {
        let (app, shared, doomed) = (&app, shared.as_str(), doomed.as_str());
        for (who, name) in [(BOB, "bob"), (admin, "admin")] {
            scope.spawn(move || {
                for i in 0..EACH {
                    let text = format!("{name} {i}");
                    let r = app.post(
                        "/api/v1/chat.update",
                        Some(who),
                        &json!({"roomId": VB, "msgId": shared, "text": text}),
                    );
                    let m = &ok(r)["message"];
                    assert_eq!(
                        (&m["msg"], &m["editedBy"]["username"]),
                        (&json!(text), &json!(name))
                    );
                }
            });
        }
        scope.spawn(move || {
            for i in 0..EACH {
                let r = app.post(
                    "/api/v1/chat.update",
                    Some(BOB),
                    &json!({"roomId": VB, "msgId": doomed, "text": format!("still here {i}")}),
                );
                // Once deleted, an edit finds no message (it never brings it back).
                assert!(
                    r.status == 200
                        || r.body == format!(r#"{{"success":false,"error":"No message found with the id of \"{doomed}\"."}}"#),
                    "{}",
                    r.body
                );
            }
        });
        scope.spawn(move || {
            let r = app.post(
                "/api/v1/chat.delete",
                Some(BOB),
                &json!({"roomId": VB, "msgId": doomed}),
            );
            ok(r);
        });
    });
    let m = stored(&app, &shared);
    let last = [format!("bob {}", EACH - 1), format!("admin {}", EACH - 1)];
    let by = m["editedBy"]["username"].as_str().unwrap();
    assert_eq!(m["msg"], format!("{by} {}", EACH - 1), "{m}");
    assert!(last.contains(&m["msg"].as_str().unwrap().to_string()));
    let r = app.get(
        &format!("/api/v1/chat.getMessage?msgId={doomed}"),
        Some(BOB),
    );
    assert_eq!(r.status, 400, "{}", r.body);
}
