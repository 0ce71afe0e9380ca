//! `chat.postMessage`, `chat.sendMessage`, `chat.getMessage`.

use actix_web::{http::StatusCode, web, HttpResponse};
use serde_json::{json, Value};

use super::access::{can_read, has_room_permission};
use super::extract::{query_string, Caller, JsonBody, Query};
use super::respond;
use crate::delivery::compose::MessagePushes;
use crate::error::{ApiError, ApiResult};
use crate::model::{id, time, Doc, DocExt, Message, Room};
use crate::rules::{mentions, unread};
use crate::state::AppState;
use crate::store::Conflict;

/// `POST /api/v1/chat.postMessage`: `{roomId|channel, text}` →
/// `{"ts":<ms>,"channel":"<as sent>","message":{…}}`.
pub async fn chat_post_message(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let target = match (body.opt_string("roomId")?, body.opt_string("channel")?) {
        (Some(t), _) | (None, Some(t)) => t.to_string(),
        (None, None) => {
            return Err(ApiError::meteor(
                "invalid-params",
                "must have required property 'roomId'",
            ))
        }
    };
    let room = match target.strip_prefix('#') {
        Some(name) => state.store.room_by_name(name)?,
        None => match state.store.room(&target)? {
            Some(r) => Some(r),
            None => state.store.room_by_name(&target)?,
        },
    }
    .ok_or_else(|| ApiError::meteor("invalid-channel", ""))?;
    let text = body
        .opt_string("text")?
        .or(body.opt_string("msg")?)
        .unwrap_or_default()
        .trim()
        .to_string();
    if too_long(&state, &text) {
        return Err(ApiError::plain("error-message-size-exceeded"));
    }
    let mut fields = Doc::new();
    fields.insert("alias".into(), "".into());
    fields.insert("msg".into(), text.into());
    fields.insert("attachments".into(), json!([]));
    fields.insert("parseUrls".into(), true.into());
    fields.insert("groupable".into(), false.into());
    let message = send(&state, &caller, &room, fields).await?;
    Ok(respond::success(&json!({
        "ts": time::now_millis(),
        "channel": target,
        "message": message,
    })))
}

/// Longer than `Message_MaxAllowedSize`, counted in UTF-16 units as JS does.
fn too_long(state: &AppState, text: &str) -> bool {
    let max = state.settings.value("Message_MaxAllowedSize").as_u64();
    text.encode_utf16().count() as u64 > max.unwrap_or(5000)
}

/// The message keys a client may set in `chat.sendMessage`; everything else is dropped so
/// that stored documents hold only fields the server defines.
const CLIENT_KEYS: &[&str] = &["_id", "rid", "msg", "tmid"];

/// `POST /api/v1/chat.sendMessage`: `{message:{_id?, rid, msg, tmid?}}` → `{message}`.
pub async fn chat_send_message(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let Some(raw) = body.0.get("message") else {
        return Err(ApiError::meteor(
            "invalid-params",
            "must have required property 'message'",
        ));
    };
    let Value::Object(given) = raw else {
        return Err(ApiError::meteor("invalid-params", "must be object"));
    };
    if given.contains_key("t") {
        return Err(ApiError::plain(
            "Cannot send system messages using 'chat.sendMessage'",
        ));
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
            other => {
                return Err(ApiError::expected(
                    "string",
                    super::extract::js_type(other),
                    k,
                ))
            }
        }
    }
    let rid = fields
        .str_at("rid")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::plain("The 'rid' property on the message object is missing."))?
        .to_string();
    if fields.str_at("_id") == Some("") {
        fields.shift_remove("_id");
    }
    let text = fields.str_at("msg").unwrap_or_default();
    if too_long(&state, text) {
        return Err(ApiError::meteor(
            "error-message-size-exceeded",
            "Message size exceeds Message_MaxAllowedSize",
        ));
    }
    if !fields.contains_key("msg") {
        fields.insert("msg".into(), "".into());
    }
    let room = state
        .store
        .room(&rid)?
        .ok_or_else(|| ApiError::plain("error-invalid-room"))?;
    let message = send(&state, &caller, &room, fields).await?;
    Ok(respond::success(&json!({ "message": message })))
}

/// Checks that the caller may post in `room` (`canSendMessage`), completes the message the
/// way Rocket.Chat's `sendMessage` does, stores it with its counter updates, and returns it
/// as the REST response shows it.
async fn send(state: &AppState, caller: &Caller, room: &Room, mut fields: Doc) -> ApiResult<Value> {
    if !can_read(state, &caller.identity, room)? {
        return Err(ApiError::plain("error-not-allowed"));
    }
    let username = caller.identity.username.clone().unwrap_or_default();
    if room.read_only()
        && !has_room_permission(state, &caller.identity, room.id(), "post-readonly")?
    {
        return Err(ApiError::plain(
            "You can't send messages because the room is readonly.",
        ));
    }
    if room.muted().contains(&username.as_str()) {
        return Err(ApiError::plain("You_have_been_muted"));
    }

    let now = time::now_millis();
    let client_id = fields.str_at("_id").map(str::to_string);
    let text = fields.str_at("msg").unwrap_or_default().to_string();
    fields.insert("ts".into(), time::iso(now).into());
    fields.insert("u".into(), caller.identity.short());
    fields.insert("rid".into(), room.id().into());
    let parsed = mentions::text_fields(&text, &state.settings.md_options(now));
    let urls: Vec<Value> = parsed
        .urls
        .iter()
        .map(|u| json!({"url": u, "meta": {}}))
        .collect();
    fields.insert("urls".into(), urls.into());
    let (user_mentions, group_mention) = resolve_user_mentions(state, &parsed.users)?;
    fields.insert("mentions".into(), user_mentions.clone().into());
    fields.insert(
        "channels".into(),
        resolve_channels(state, &parsed.channels)?.into(),
    );
    if let Some(md) = &parsed.md {
        fields.insert(
            "md".into(),
            serde_json::to_value(md).map_err(anyhow::Error::from)?,
        );
    }

    let id = client_id.clone().unwrap_or_else(id::new_id);
    let updated_at = time::iso(now);
    let mut stored = Doc::new();
    stored.insert("_id".into(), id.clone().into());
    for (k, v) in &fields {
        if k != "_id" {
            stored.insert(k.clone(), v.clone());
        }
    }
    stored.insert("_updatedAt".into(), updated_at.clone().into());
    let mut response = fields;
    match client_id {
        Some(_) => response.insert("_updatedAt".into(), updated_at.into()),
        None => response.insert("_id".into(), id.clone().into()),
    };

    let message = Message::from_json(serde_json::to_vec(&stored).map_err(anyhow::Error::from)?)
        .map_err(anyhow::Error::from)?;
    let mentioned_ids: Vec<String> = user_mentions
        .iter()
        .filter_map(|m| m.get("_id").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    let room_type = room.t().to_string();
    let unread_setting = state.settings.string(if room_type == "d" {
        "Unread_Count_DM"
    } else {
        "Unread_Count"
    });
    let sender = caller.id().to_string();
    // Thread replies notify thread followers, which rcpush does not track: no pushes.
    let pushes = (!stored.contains_key("tmid")).then(|| {
        MessagePushes::prepare(
            &state.settings,
            state.permissions.clone(),
            message.clone(),
            room.clone(),
            caller.identity.clone(),
            mentioned_ids.clone(),
            group_mention,
            now,
        )
    });
    let last_message = Value::Object(stored.clone());
    let rid = room.id().to_string();
    let stamp = time::iso(now);
    let result = state
        .write(move |s| {
            s.insert_message(
                &message,
                &id,
                &rid,
                |room| {
                    let msgs = room.0.get("msgs").and_then(Value::as_i64).unwrap_or(0);
                    room.0.insert("msgs".into(), (msgs + 1).into());
                    room.0.insert("_updatedAt".into(), stamp.clone().into());
                    room.0.insert("lastMessage".into(), last_message);
                    room.0.insert("lm".into(), stamp.clone().into());
                },
                |store, sub| {
                    if sub.user_id() == sender {
                        return Ok((false, Vec::new()));
                    }
                    let b = unread::bump(&unread::Facts {
                        room_type: &room_type,
                        unread_setting: &unread_setting,
                        mentions_member: mentioned_ids.iter().any(|m| m == sub.user_id()),
                        mentions_all_or_here: group_mention,
                    });
                    let add = |doc: &mut Doc, key: &str, by: i64| {
                        let n = doc.get(key).and_then(Value::as_i64).unwrap_or(0);
                        doc.insert(key.into(), (n + by).into());
                    };
                    add(&mut sub.0, "unread", b.unread);
                    add(&mut sub.0, "userMentions", b.user_mentions);
                    add(&mut sub.0, "groupMentions", b.group_mentions);
                    sub.0.insert("alert".into(), true.into());
                    sub.0.insert("open".into(), true.into());
                    sub.0.insert("_updatedAt".into(), stamp.clone().into());
                    let queued = match &pushes {
                        Some(p) => p.for_member(store, sub)?,
                        None => Vec::new(),
                    };
                    Ok((true, queued))
                },
            )
        })
        .await??;
    match result {
        Ok(queued) => {
            state.delivery.queued(queued);
            Ok(Value::Object(response))
        }
        Err(Conflict::Id) | Err(_) => Err(ApiError::plain("error-message-already-exists")),
    }
}

/// `mentions`: `@all`/`@here` first (`{_id, username}`), then known users
/// (`{_id, username, name, type:"user"}`). Also whether a group mention was made.
fn resolve_user_mentions(state: &AppState, names: &[String]) -> ApiResult<(Vec<Value>, bool)> {
    let mut groups = Vec::new();
    let mut users = Vec::new();
    for n in names {
        if n == "all" || n == "here" {
            groups.push(json!({"_id": n, "username": n}));
        } else if let Some(u) = state.store.user_by_username(n)? {
            let mut m = Doc::new();
            m.insert("_id".into(), u.id().into());
            m.insert("username".into(), u.username().unwrap_or_default().into());
            if let Some(name) = u.name() {
                m.insert("name".into(), name.into());
            }
            m.insert("type".into(), "user".into());
            users.push(Value::Object(m));
        }
    }
    let group = !groups.is_empty();
    groups.extend(users);
    Ok((groups, group))
}

/// `channels`: the public and private rooms named with `#`, as `{_id, fname, name}` (the
/// rooms' stored key order).
fn resolve_channels(state: &AppState, names: &[String]) -> ApiResult<Vec<Value>> {
    let mut out = Vec::new();
    for name in names {
        if let Some(room) = state.store.room_by_name(name)? {
            if matches!(room.t(), "c" | "p") {
                let picked: Doc = room
                    .0
                    .iter()
                    .filter(|(k, _)| matches!(k.as_str(), "_id" | "name" | "fname"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                out.push(Value::Object(picked));
            }
        }
    }
    Ok(out)
}

/// `GET /api/v1/chat.getMessage?msgId=` → `{message}` (the stored document).
pub async fn chat_get_message(
    state: web::Data<AppState>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let id = query_string(&q, "msgId")?;
    let message = state.store.message(id)?.ok_or(ApiError::Bare)?;
    let view = message.view().map_err(anyhow::Error::from)?;
    let room = state.store.room(&view.rid)?.ok_or(ApiError::Bare)?;
    if !can_read(&state, &caller.identity, &room)? {
        return Err(ApiError::meteor("error-not-allowed", "Not allowed")
            .with_details(json!({"method": "getSingleMessage"})));
    }
    let mut body = Vec::with_capacity(message.raw().get().len() + 32);
    body.extend_from_slice(br#"{"message":"#);
    body.extend_from_slice(message.raw().get().as_bytes());
    body.push(b'}');
    respond::append_success(&mut body);
    Ok(respond::json_response(StatusCode::OK, body))
}
