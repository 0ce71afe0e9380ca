//! `chat.postMessage`, `chat.sendMessage`, `chat.getMessage`.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::extract::{expected, js_type, query_string, JsonBody, Query};
use super::respond;
use crate::error::{ApiError, ApiResult, Violation};
use crate::model::id::{MessageId, RoomId};
use crate::model::{time, Doc, DocExt};
use crate::service::auth::Caller;
use crate::service::messages::{PostMessage, SendMessage};
use crate::service::Services;

impl TryFrom<JsonBody> for PostMessage {
    type Error = ApiError;

    /// `{roomId|channel, text|msg}`.
    fn try_from(body: JsonBody) -> ApiResult<PostMessage> {
        let target = match (body.opt_string("roomId")?, body.opt_string("channel")?) {
            (Some(t), _) | (None, Some(t)) => t.to_string(),
            (None, None) => return Err(ApiError::InvalidParams(Violation::Required("roomId"))),
        };
        let text = body.opt_string("text")?.or(body.opt_string("msg")?);
        Ok(PostMessage {
            target,
            text: text.unwrap_or_default().to_string(),
        })
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
    let message = services.post_message(&caller, post).await?;
    Ok(respond::success(json!({
        "ts": time::now_millis(),
        "channel": channel,
        "message": message,
    })))
}

/// The message keys a client may set in `chat.sendMessage`; everything else is dropped so
/// that stored documents hold only fields the server defines.
const CLIENT_KEYS: &[&str] = &["_id", "rid", "msg", "tmid"];

impl TryFrom<JsonBody> for SendMessage {
    type Error = ApiError;

    /// `{message:{_id?, rid, msg, tmid?}}`.
    fn try_from(body: JsonBody) -> ApiResult<SendMessage> {
        let Some(raw) = body.0.get("message") else {
            return Err(ApiError::InvalidParams(Violation::Required("message")));
        };
        let Value::Object(given) = raw else {
            return Err(ApiError::InvalidParams(Violation::NotObject));
        };
        if given.contains_key("t") {
            return Err(ApiError::SystemMessage);
        }
        let mut fields = Doc::new();
        for (k, v) in given {
            if !CLIENT_KEYS.contains(&k.as_str()) {
                continue;
            }
            match v {
                Value::String(_) => {
                    fields.insert(k.clone(), v.clone());
                }
                Value::Null => {}
                other => return Err(expected("string", js_type(other), k)),
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
    let message = services
        .send_message(&caller, SendMessage::try_from(body)?)
        .await?;
    Ok(respond::success(json!({ "message": message })))
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
    services.get_message(&caller, &id, |message| {
        respond::success(GetMessageData {
            message: message.raw(),
        })
    })
}
