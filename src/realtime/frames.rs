//! The frames the server sends (spec §2), compact JSON with keys in the spec's order, and
//! the one conversion of stored dates to EJSON.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::error::MeteorError;
use crate::model::time::parse_iso;

/// A frame as sent: `JSON.stringify` output (no whitespace, non-ASCII raw, `/` unescaped),
/// shared by every connection that gets the same bytes.
pub fn encode(frame: &Value) -> Arc<str> {
    Arc::from(serde_json::to_string(frame).unwrap_or_default())
}

pub fn connected(session: &str) -> Arc<str> {
    encode(&json!({"msg": "connected", "session": session}))
}

pub fn failed(version: &str) -> Arc<str> {
    encode(&json!({"msg": "failed", "version": version}))
}

/// `{"msg":"error","reason":…}`, echoing the client's frame when there was one (§2.3).
pub fn error(reason: &str, offending: Option<&Value>) -> Arc<str> {
    let mut o = Map::new();
    o.insert("msg".into(), "error".into());
    o.insert("reason".into(), reason.into());
    if let Some(offending) = offending {
        o.insert("offendingMessage".into(), offending.clone());
    }
    encode(&Value::Object(o))
}

/// `ping` or `pong`, with the `id` only when there is one (§2.4).
pub fn heartbeat(msg: &str, id: Option<&str>) -> Arc<str> {
    match id {
        Some(id) => encode(&json!({"msg": msg, "id": id})),
        None => encode(&json!({"msg": msg})),
    }
}

/// A method's `result`: `result` when it returned something (even `null`), `error` when it
/// failed, neither when it returned nothing (§2.6).
pub fn result(id: &str, outcome: &Result<Option<Value>, MeteorError>) -> Arc<str> {
    encode(&result_value(id, outcome))
}

/// The `result` frame as a value (REST `method.call` sends it as a string).
pub fn result_value(id: &str, outcome: &Result<Option<Value>, MeteorError>) -> Value {
    let mut o = Map::new();
    o.insert("msg".into(), "result".into());
    o.insert("id".into(), id.into());
    match outcome {
        Ok(Some(value)) => {
            o.insert("result".into(), value.clone());
        }
        Ok(None) => {}
        Err(e) => {
            o.insert("error".into(), e.to_json());
        }
    }
    Value::Object(o)
}

pub fn updated(ids: &[&str]) -> Arc<str> {
    encode(&json!({"msg": "updated", "methods": ids}))
}

pub fn ready(subs: &[&str]) -> Arc<str> {
    encode(&json!({"msg": "ready", "subs": subs}))
}

/// `nosub`, with the error that ended or refused the subscription if any (§2.5).
pub fn nosub(id: &str, error: Option<&MeteorError>) -> Arc<str> {
    match error {
        Some(e) => encode(&json!({"msg": "nosub", "id": id, "error": e.to_json()})),
        None => encode(&json!({"msg": "nosub", "id": id})),
    }
}

/// A data frame (`added`, `changed`, `removed`) of `collection`'s document `id`; `changed`
/// with empty fields, and `removed`, leave `fields` out (§2.5).
pub fn data(msg: &str, collection: &str, id: &str, fields: Value) -> Arc<str> {
    let mut o = Map::new();
    o.insert("msg".into(), msg.into());
    o.insert("collection".into(), collection.into());
    o.insert("id".into(), id.into());
    let empty = fields.as_object().is_some_and(Map::is_empty);
    if msg != "removed" && !(msg == "changed" && empty) {
        o.insert("fields".into(), fields);
    }
    encode(&Value::Object(o))
}

/// The stored keys that hold dates (ISO strings in the store, REST and push.get), in any
/// document rcpush sends over the socket: messages, rooms, subscriptions, users.
const DATE_KEYS: &[&str] = &[
    "ts",
    "_updatedAt",
    "editedAt",
    "createdAt",
    "lm",
    "lr",
    "ls",
    "jitsiTimeout",
    "tlm",
    "until",
    "tokenExpires",
    "lastLogin",
    "when",
    "muteNotificationsUntil",
];

/// `doc` with every date turned into EJSON `{"$date": <ms>}` (spec §2.1), keys and their
/// order untouched. Dates are recognised by key (`DATE_KEYS`) and ISO form, at any depth
/// (a room's `lastMessage.ts`, a thread's `tlm`).
pub fn ejson(doc: &Value) -> Value {
    match doc {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let date = match v {
                        Value::String(s) if DATE_KEYS.contains(&k.as_str()) => {
                            parse_iso(s).map(|ms| json!({ "$date": ms }))
                        }
                        _ => None,
                    };
                    (k.clone(), date.unwrap_or_else(|| ejson(v)))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(ejson).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_byte_exact() {
        assert_eq!(
            &*connected("Kq3m8WcX2rPzT7bLd"),
            r#"{"msg":"connected","session":"Kq3m8WcX2rPzT7bLd"}"#
        );
        assert_eq!(&*failed("1"), r#"{"msg":"failed","version":"1"}"#);
        assert_eq!(&*heartbeat("pong", Some("7")), r#"{"msg":"pong","id":"7"}"#);
        assert_eq!(&*heartbeat("ping", None), r#"{"msg":"ping"}"#);
        assert_eq!(
            &*error("Bad request", Some(&json!({"foo": 1}))),
            r#"{"msg":"error","reason":"Bad request","offendingMessage":{"foo":1}}"#
        );
        assert_eq!(
            &*error("Bad request", None),
            r#"{"msg":"error","reason":"Bad request"}"#
        );
        assert_eq!(
            &*result("12", &Ok(Some(json!("GENERAL")))),
            r#"{"msg":"result","id":"12","result":"GENERAL"}"#
        );
        assert_eq!(
            &*result("12", &Ok(Some(json!(false)))),
            r#"{"msg":"result","id":"12","result":false}"#
        );
        assert_eq!(&*result("9", &Ok(None)), r#"{"msg":"result","id":"9"}"#);
        assert_eq!(&*updated(&["12"]), r#"{"msg":"updated","methods":["12"]}"#);
        assert_eq!(&*ready(&["7"]), r#"{"msg":"ready","subs":["7"]}"#);
        assert_eq!(&*nosub("7", None), r#"{"msg":"nosub","id":"7"}"#);
        assert_eq!(
            &*data("changed", "c", "i", json!({})),
            r#"{"msg":"changed","collection":"c","id":"i"}"#
        );
        assert_eq!(
            &*data("removed", "users", "u1", json!({})),
            r#"{"msg":"removed","collection":"users","id":"u1"}"#
        );
        assert_eq!(
            &*data(
                "added",
                "stream-room-messages",
                "id",
                json!({"eventName": "__my_messages__"})
            ),
            r#"{"msg":"added","collection":"stream-room-messages","id":"id","fields":{"eventName":"__my_messages__"}}"#
        );
    }

    #[test]
    fn ejson_turns_stored_dates_into_milliseconds_and_keeps_everything_else() {
        let doc = json!({
            "_id": "m1",
            "msg": "2025-04-26T12:36:52.345Z",
            "ts": "2025-04-26T12:36:52.345Z",
            "u": {"_id": "u1"},
            "lastMessage": {"ts": "2025-04-26T12:36:52.391Z", "msg": "x"},
            "attachments": [{"ts": "not a date"}],
            "_updatedAt": "2025-04-26T12:36:52.391Z"
        });
        assert_eq!(
            serde_json::to_string(&ejson(&doc)).unwrap(),
            r#"{"_id":"m1","msg":"2025-04-26T12:36:52.345Z","ts":{"$date":1745671012345},"u":{"_id":"u1"},"lastMessage":{"ts":{"$date":1745671012391},"msg":"x"},"attachments":[{"ts":"not a date"}],"_updatedAt":{"$date":1745671012391}}"#
        );
    }
}
