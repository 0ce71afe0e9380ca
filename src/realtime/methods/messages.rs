//! The message methods (spec §5.1–5.4, §5.10): `sendMessage`, `updateMessage`,
//! `setReaction`, `loadHistory`.
//! `deleteMessage` was removed in Rocket.Chat 7.0 and is an unknown method here too.

use serde_json::{Map, Value};

use super::super::error::MeteorError;
use super::super::frames::ejson;
use super::super::CallContext;
use super::params;
use crate::error::ApiError;
use crate::model::id::RoomId;
use crate::model::{Doc, DocExt};
use crate::rules::e2e::E2E_MESSAGE;
use crate::rules::history;
use crate::service::messages::SendMessage;
use crate::service::reactions::SetReaction;

/// The keys `sendMessage`'s `check()` lets through, and the type each must have when not
/// `null` (7.x's strict pattern; any other key is `Match failed`).
const SEND_KEYS: &[(&str, Kind)] = &[
    ("_id", Kind::String),
    ("rid", Kind::String),
    ("msg", Kind::String),
    ("tmid", Kind::String),
    ("tshow", Kind::Bool),
    ("ts", Kind::Date),
    ("t", Kind::String),
    ("otrAck", Kind::String),
    ("bot", Kind::Object),
    ("content", Kind::Object),
    ("e2e", Kind::String),
    ("e2eMentions", Kind::Object),
    ("customFields", Kind::Object),
    ("federation", Kind::Object),
    ("groupable", Kind::Bool),
    ("sentByEmail", Kind::Bool),
];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    String,
    Bool,
    Date,
    Object,
}

impl Kind {
    fn admits(self, v: &Value) -> bool {
        match self {
            Kind::String => v.is_string(),
            Kind::Bool => v.is_boolean(),
            Kind::Date => params::date(v).is_some(),
            Kind::Object => v.is_object() && params::date(v).is_none(),
        }
    }
}

/// How far a client's `ts` may be from the server's clock before the message is refused
/// (`error-message-ts-out-of-sync`, swallowed).
const TS_TOLERANCE_MS: i64 = 60_000;

/// What `sendMessage` decided before posting.
enum Send {
    Post(SendMessage),
    /// An error the method catches: no result, nothing stored.
    Swallowed,
}

/// `sendMessage [message]`: the message as posted, or nothing when the method swallowed
/// its error (every error but `error-not-allowed`, spec §5.1).
pub async fn send_message(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    const METHOD: &str = "sendMessage";
    let given = params::object(params, 0)?;
    for (k, v) in given {
        match SEND_KEYS.iter().find(|(key, _)| key == k) {
            Some((_, kind)) if v.is_null() || kind.admits(v) => {}
            _ => return Err(MeteorError::match_failed()),
        }
    }
    let caller = params::caller(ctx, METHOD)?;
    let send = match parse_send(given, ctx.services.clock().now())? {
        Send::Post(send) => send,
        Send::Swallowed => return Ok(None),
    };
    let client_id = send.fields.contains_key("_id");
    match ctx.services.messages().send_message(&caller, send).await {
        Ok(posted) => Ok(Some(ejson(&method_result(posted.message, client_id)))),
        Err(ApiError::NotAllowed) => Err(MeteorError::bare("error-not-allowed")
            .with_details(serde_json::json!({ "method": METHOD }))),
        Err(ApiError::UnencryptedMessage) => Err(MeteorError::new(
            "error-not-allowed",
            "Not allowed to send un-encrypted messages in an encrypted room",
        )
        .with_details(serde_json::json!({ "method": METHOD }))),
        Err(ApiError::Internal(e)) => Err(ApiError::Internal(e).into()),
        Err(_) => Ok(None),
    }
}

/// The message to post: the client's fields but `ts` (the server stamps its own time)
/// and `null`s. A system message type is a plain error (500).
fn parse_send(given: &Map<String, Value>, now: i64) -> Result<Send, MeteorError> {
    if given
        .get("t")
        .is_some_and(|t| !t.is_null() && t != E2E_MESSAGE)
    {
        // Rocket.Chat refuses system message types with a plain Error; rcpush stores no
        // client-chosen type but an encrypted message's.
        return Err(MeteorError::internal());
    }
    let off = given
        .get("ts")
        .and_then(params::date)
        .is_some_and(|ts| (ts - now).abs() > TS_TOLERANCE_MS);
    let fields: Doc = given
        .iter()
        .filter(|(k, v)| *k != "ts" && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let tshow_alone = fields.contains_key("tshow") && !fields.contains_key("tmid");
    let rid = fields.str_at("rid").filter(|r| !r.is_empty());
    match rid {
        Some(rid) if !off && !tshow_alone => Ok(Send::Post(SendMessage {
            rid: RoomId::new(rid.to_string()),
            fields,
        })),
        _ => Ok(Send::Swallowed),
    }
}

/// The result as `sendMessage` returns the message it saved: the client's keys, what the
/// server added, `_updatedAt`, and the new `_id` last when the client chose none. The
/// REST answer (`chat.sendMessage`) lacks `_updatedAt` in that case; it equals `ts`.
fn method_result(message: Value, client_id: bool) -> Value {
    let Value::Object(mut m) = message else {
        return message;
    };
    if !client_id {
        let id = m.shift_remove("_id");
        let ts = m.get("ts").cloned().unwrap_or(Value::Null);
        m.insert("_updatedAt".into(), ts);
        if let Some(id) = id {
            m.insert("_id".into(), id);
        }
    }
    Value::Object(m)
}

/// `updateMessage [message]`: `check(message, Match.ObjectIncluding({_id: String}))`;
/// no result.
pub async fn update_message(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    let sent = params::object(params, 0)?;
    if !sent.get("_id").is_some_and(Value::is_string) {
        return Err(MeteorError::match_failed());
    }
    let caller = params::caller(ctx, "updateMessage")?;
    ctx.services
        .messages()
        .update_message_by_method(&caller, sent.clone())
        .await?;
    Ok(None)
}

/// `setReaction [reaction, messageId, shouldReact?]` (no `check()` in Rocket.Chat): no
/// result, or `false` when the caller is muted in the room. A reaction that is not a
/// string breaks Rocket.Chat's code (500); any `shouldReact` but a boolean toggles.
pub async fn set_reaction(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    let caller = params::caller(ctx, "setReaction")?;
    let reaction = params
        .first()
        .and_then(Value::as_str)
        .ok_or_else(MeteorError::internal)?;
    let react = SetReaction {
        reaction: reaction.to_string(),
        message_id: params
            .get(1)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        should_react: params.get(2).and_then(Value::as_bool),
    };
    let muted = ctx.services.messages().set_reaction(&caller, react).await?;
    Ok(muted.map(Value::Bool))
}

/// `loadHistory`'s page size when the client names none, and the most rcpush sends in one
/// frame (rocketchat-async reads frames of 1 MiB at most; Rocket.Chat has no cap).
const HISTORY_LIMIT: (usize, usize) = (20, 100);

/// `loadHistory [rid, end?, limit?, ls?, showThreadMessages?]`:
/// `{messages, firstUnread?, unreadNotLoaded}`, or `false` when the room is missing or not
/// readable. Anonymous reading is off, as by default: a login is required.
pub async fn load_history(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    let rid = params::string(params, 0)?;
    let end = params::maybe_date(params, 1)?;
    let limit = match params.get(2) {
        None | Some(Value::Null) => HISTORY_LIMIT.0,
        Some(v) => v
            .as_f64()
            .filter(|n| *n >= 0.0)
            .ok_or_else(MeteorError::match_failed)? as usize,
    };
    let last_seen = params::maybe_date(params, 3)?;
    let thread_replies = params::maybe_bool(params, 4)?.unwrap_or(true);
    let caller = params::caller(ctx, "loadHistory")?;
    let query = history::Query {
        end,
        limit: limit.min(HISTORY_LIMIT.1),
        last_seen,
        thread_replies,
    };
    let Some(page) = ctx.services.messages().load_history(&caller, rid, &query)? else {
        return Ok(Some(Value::Bool(false)));
    };
    let mut result = Map::new();
    let messages = page.messages.iter().map(ejson).collect();
    result.insert("messages".into(), Value::Array(messages));
    if let Some(first) = &page.first_unread {
        result.insert("firstUnread".into(), ejson(first));
    }
    result.insert("unreadNotLoaded".into(), page.unread_not_loaded.into());
    Ok(Some(Value::Object(result)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_result_puts_a_new_id_last_after_updated_at() {
        let rest = json!({"msg": "hi", "rid": "R", "ts": "T", "u": {}, "_id": "N"});
        assert_eq!(
            serde_json::to_string(&method_result(rest, false)).unwrap(),
            r#"{"msg":"hi","rid":"R","ts":"T","u":{},"_updatedAt":"T","_id":"N"}"#
        );
        let chosen = json!({"_id": "C", "msg": "hi", "_updatedAt": "T"});
        assert_eq!(method_result(chosen.clone(), true), chosen);
    }

    #[test]
    fn swallowed_inputs_post_nothing() {
        let now = 1_000_000;
        for given in [
            json!({"msg": "x"}),
            json!({"rid": "", "msg": "x"}),
            json!({"rid": "R", "tshow": true}),
            json!({"rid": "R", "ts": {"$date": now + 61_000}}),
        ] {
            assert!(matches!(
                parse_send(&fields(given.clone()), now),
                Ok(Send::Swallowed)
            ));
        }
        let Ok(Send::Post(send)) = parse_send(
            &fields(
                json!({"rid": "R", "ts": {"$date": now - 5_000}, "bot": {"i": "js.SDK"}, "tmid": null}),
            ),
            now,
        ) else {
            panic!("posted");
        };
        assert_eq!(
            Value::Object(send.fields),
            json!({"rid": "R", "bot": {"i": "js.SDK"}})
        );
    }

    #[test]
    fn send_keys_are_typed() {
        let admits = |k: &str, v: Value| {
            SEND_KEYS
                .iter()
                .find(|(key, _)| *key == k)
                .is_some_and(|(_, kind)| kind.admits(&v))
        };
        assert!(admits("ts", json!({"$date": 5})));
        assert!(!admits("ts", json!("2025-01-01")));
        assert!(!admits("bot", json!({"$date": 5})));
        assert!(admits("bot", json!({"i": "x"})));
        assert!(!admits("attachments", json!([])));
        assert!(!admits("msg", json!(5)));
    }
}
