//! `chat.postMessage`, `chat.sendMessage`, `chat.getMessage`, `chat.update`,
//! `chat.delete`, `chat.react`.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::extract::{expected, js_type, query_string, JsonBody, Query};
use super::respond;
use crate::error::{ApiError, ApiResult, Violation};
use crate::model::id::{MessageId, RoomId};
use crate::model::{Doc, DocExt};
use crate::rules::e2e::E2E_MESSAGE;
use crate::service::auth::Caller;
use crate::service::message_edits::{DeleteMessage, Deleted, UpdateMessage};
use crate::service::messages::{PostMessage, SendMessage};
use crate::service::reactions::SetReaction;
use crate::service::Services;

/// The `chat.postMessage` parameters that must be strings when given.
const WEBHOOK_STRINGS: &[&str] = &[
    "channel",
    "roomId",
    "text",
    "msg",
    "alias",
    "username",
    "emoji",
    "icon_emoji",
    "avatar",
    "icon_url",
    "tmid",
];

impl TryFrom<JsonBody> for PostMessage {
    type Error = ApiError;

    /// `{channel|roomId, text|msg, alias|username, emoji|icon_emoji, avatar|icon_url,
    /// attachments, parseUrls, bot, groupable, tmid, customFields}`; `channel` wins.
    fn try_from(body: JsonBody) -> ApiResult<PostMessage> {
        for key in WEBHOOK_STRINGS {
            body.opt_string(key)?;
        }
        let target = [body.opt_string("channel")?, body.opt_string("roomId")?]
            .into_iter()
            .flatten()
            .find(|t| !t.is_empty())
            .unwrap_or_default()
            .to_string();
        let payload = serde_json::from_value(Value::Object(body.0))
            .map_err(|e| ApiError::Internal(e.into()))?;
        Ok(PostMessage { target, payload })
    }
}

/// `POST /api/v1/chat.postMessage` → `{"ts":<ms>,"channel":"<as sent>","message":{…}}`.
pub async fn chat_post_message(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let post = PostMessage::try_from(body)?;
    let channel = post.target.clone();
    let posted = services.messages().post_message(&caller, post).await?;
    Ok(respond::success(json!({
        "ts": posted.ts,
        "channel": channel,
        "message": posted.message,
    })))
}

/// The message keys a client may set in `chat.sendMessage`; everything else is dropped so
/// that stored documents hold only fields the server defines. The first four must be
/// strings here; the rest are checked as `validateMessage` does.
const CLIENT_KEYS: &[&str] = &[
    "_id",
    "rid",
    "msg",
    "tmid",
    "alias",
    "emoji",
    "avatar",
    "tshow",
    "attachments",
    "blocks",
    "customFields",
    // An end-to-end encrypted message's own fields.
    "t",
    "content",
    "e2e",
    "e2eMentions",
];
const CLIENT_STRINGS: usize = 4;

impl TryFrom<JsonBody> for SendMessage {
    type Error = ApiError;

    /// `{message:{_id?, rid, msg, tmid?, alias?, emoji?, avatar?, tshow?, attachments?, …}}`.
    fn try_from(body: JsonBody) -> ApiResult<SendMessage> {
        let Some(raw) = body.0.get("message") else {
            return Err(ApiError::InvalidParams(Violation::Required("message")));
        };
        let Value::Object(given) = raw else {
            return Err(ApiError::InvalidParams(Violation::NotObject));
        };
        if given
            .get("t")
            .is_some_and(|t| !t.is_null() && t != E2E_MESSAGE)
        {
            return Err(ApiError::SystemMessage);
        }
        let mut fields = Doc::new();
        for (k, v) in given {
            let Some(at) = CLIENT_KEYS.iter().position(|c| c == k) else {
                continue;
            };
            match v {
                Value::Null => {}
                Value::String(_) => {
                    fields.insert(k.clone(), v.clone());
                }
                other if at < CLIENT_STRINGS => return Err(expected("string", js_type(other), k)),
                other => {
                    fields.insert(k.clone(), other.clone());
                }
            }
        }
        let rid = fields
            .str_at("rid")
            .filter(|r| !r.is_empty())
            .ok_or(ApiError::RidMissing)?
            .to_string();
        if fields.str_at("_id") == Some("") {
            fields.shift_remove("_id");
        }
        Ok(SendMessage {
            rid: RoomId::new(rid),
            fields,
        })
    }
}

/// `POST /api/v1/chat.sendMessage` → `{message}`.
pub async fn chat_send_message(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let posted = services
        .messages()
        .send_message(&caller, SendMessage::try_from(body)?)
        .await?;
    Ok(respond::success(json!({ "message": posted.message })))
}

#[derive(Serialize)]
struct GetMessageData<'a> {
    message: &'a RawValue,
}

/// `GET /api/v1/chat.getMessage?msgId=` → `{message}` (the stored document).
pub async fn chat_get_message(
    services: web::Data<Services>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let id = MessageId::new(query_string(&q, "msgId")?);
    let message = services.messages().get_message(&caller, &id)?;
    Ok(respond::success(GetMessageData {
        message: message.raw(),
    }))
}

/// A typed route's body properties that must be strings (ajv checks `required` first, in
/// the schema's order, then the types).
fn required_strings<const N: usize>(
    body: &JsonBody,
    keys: [&'static str; N],
) -> ApiResult<[String; N]> {
    if let Some(missing) = keys.iter().find(|k| !body.0.contains_key(**k)) {
        return Err(ApiError::InvalidParams(Violation::Required(missing)));
    }
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    for (slot, key) in out.iter_mut().zip(keys) {
        match body.0.get(key) {
            Some(Value::String(s)) => *slot = s.clone(),
            _ => return Err(ApiError::InvalidParams(Violation::NotString)),
        }
    }
    Ok(out)
}

impl TryFrom<JsonBody> for UpdateMessage {
    type Error = ApiError;

    /// `{roomId, msgId, text, customFields?, content?}`.
    fn try_from(body: JsonBody) -> ApiResult<UpdateMessage> {
        let [room_id, msg_id, text] = required_strings(&body, ["roomId", "msgId", "text"])?;
        Ok(UpdateMessage {
            room_id,
            msg_id,
            text,
            custom_fields: body.0.get("customFields").is_some_and(|v| !v.is_null()),
            content: body.0.contains_key("content"),
        })
    }
}

/// `POST /api/v1/chat.update` → `{message}` (as stored after the edit).
pub async fn chat_update(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let message = services
        .messages()
        .update_message(&caller, UpdateMessage::try_from(body)?)
        .await?;
    Ok(respond::success(json!({ "message": message })))
}

impl TryFrom<JsonBody> for DeleteMessage {
    type Error = ApiError;

    /// `{msgId, roomId, asUser?}`.
    fn try_from(body: JsonBody) -> ApiResult<DeleteMessage> {
        let [msg_id, room_id] = required_strings(&body, ["msgId", "roomId"])?;
        Ok(DeleteMessage {
            room_id,
            msg_id,
            as_user: body.0.get("asUser") == Some(&Value::Bool(true)),
        })
    }
}

/// `POST /api/v1/chat.delete` → `{_id, ts:"<ms>", message:{_id, u, rid}}`.
pub async fn chat_delete(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let Deleted { id, message, ts } = services
        .messages()
        .delete_message(&caller, DeleteMessage::try_from(body)?)
        .await?;
    Ok(respond::success(json!({
        "_id": id,
        "ts": ts.to_string(),
        "message": message,
    })))
}

impl TryFrom<JsonBody> for SetReaction {
    type Error = ApiError;

    /// `{emoji, messageId, shouldReact?}` or `{reaction, messageId, shouldReact?}`: ajv's
    /// `oneOf` of the two, each checked as ajv does (`required`, then
    /// `additionalProperties`, then each property's type, stopping at the first).
    fn try_from(body: JsonBody) -> ApiResult<SetReaction> {
        match (
            react_branch(&body, "emoji"),
            react_branch(&body, "reaction"),
        ) {
            (Ok(react), _) | (_, Ok(react)) => Ok(react),
            (Err(first), Err(second)) => Err(ApiError::InvalidParamsOneOf(first, second)),
        }
    }
}

/// One branch of `chat.react`'s `oneOf`, its emoji under `key`.
fn react_branch(body: &JsonBody, key: &'static str) -> Result<SetReaction, Violation> {
    let allowed = [key, "messageId", "shouldReact"];
    if let Some(missing) = [key, "messageId"]
        .into_iter()
        .find(|k| !body.0.contains_key(*k))
    {
        return Err(Violation::Required(missing));
    }
    if body.0.keys().any(|k| !allowed.contains(&k.as_str())) {
        return Err(Violation::AdditionalProperties);
    }
    let Some(Value::String(reaction)) = body.0.get(key) else {
        return Err(Violation::NotString);
    };
    let message_id = match body.0.get("messageId") {
        Some(Value::String(id)) if id.is_empty() => return Err(Violation::Empty),
        Some(Value::String(id)) => id.clone(),
        _ => return Err(Violation::NotString),
    };
    let should_react = match body.0.get("shouldReact") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(Violation::NotBoolean),
    };
    Ok(SetReaction {
        message_id,
        reaction: reaction.clone(),
        should_react,
    })
}

/// `POST /api/v1/chat.react` → `{}`: the caller's reaction to the message added, removed
/// or toggled (`shouldReact` absent).
pub async fn chat_react(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    services
        .messages()
        .chat_react(&caller, SetReaction::try_from(body)?)
        .await?;
    Ok(respond::success(json!({})))
}
