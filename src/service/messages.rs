//! Posting and reading messages (`chat.postMessage`, `chat.sendMessage`, `chat.getMessage`).

use serde_json::{json, Value};

use super::access::Unreadable;
use super::auth::Caller;
use super::push_drafts::NewMessageFacts;
use super::Services;
use crate::error::{ApiError, ApiResult};
use crate::model::id::{self, MessageId, RoomId};
use crate::model::{time, Doc, DocExt, Message, Room};
use crate::rules::{mentions, unread};
use crate::settings::Snapshot;
use crate::store::{MemberBump, NewMessage};

/// `chat.postMessage`'s message: a room named by id or name, and a text.
pub struct PostMessage {
    /// `roomId` or `channel`: an id, a name, or `#name`.
    pub target: String,
    pub text: String,
}

/// `chat.sendMessage`'s message: the client's own fields (`_id`, `rid`, `msg`, `tmid`, all
/// strings), `rid` known to be present.
pub struct SendMessage {
    pub rid: RoomId,
    pub fields: Doc,
}

impl Services {
    /// Returns the message as the REST response shows it.
    pub async fn post_message(&self, caller: &Caller, post: PostMessage) -> ApiResult<Value> {
        let room = match post.target.strip_prefix('#') {
            Some(name) => self.store.room_by_name(name)?,
            None => match self.store.room(&post.target)? {
                Some(r) => Some(r),
                None => self.store.room_by_name(&post.target)?,
            },
        }
        .ok_or(ApiError::InvalidChannel)?;
        let settings = self.settings.snapshot();
        let text = post.text.trim().to_string();
        if too_long(&settings, &text) {
            return Err(ApiError::MessageTooLong);
        }
        let mut fields = Doc::new();
        fields.insert("alias".into(), "".into());
        fields.insert("msg".into(), text.into());
        fields.insert("attachments".into(), json!([]));
        fields.insert("parseUrls".into(), true.into());
        fields.insert("groupable".into(), false.into());
        self.send(&settings, caller, &room, fields).await
    }

    /// Returns the message as the REST response shows it.
    pub async fn send_message(&self, caller: &Caller, send: SendMessage) -> ApiResult<Value> {
        let settings = self.settings.snapshot();
        if too_long(&settings, send.fields.str_at("msg").unwrap_or_default()) {
            return Err(ApiError::MessageSizeExceeded);
        }
        let mut fields = send.fields;
        if !fields.contains_key("msg") {
            fields.insert("msg".into(), "".into());
        }
        let room = self.store.room(&send.rid)?.ok_or(ApiError::InvalidRoom)?;
        self.send(&settings, caller, &room, fields).await
    }

    /// `chat.getMessage`: the stored message, handed to `respond`, if the caller may read
    /// its room.
    pub fn get_message<R>(
        &self,
        caller: &Caller,
        id: &MessageId,
        respond: impl FnOnce(&Message) -> R,
    ) -> ApiResult<R> {
        let shown =
            self.with_readable_message(&caller.identity, id, |message, _, _| Ok(respond(message)))?;
        match shown {
            Ok(answer) => Ok(answer),
            Err(Unreadable::NoMessage | Unreadable::NoRoom) => Err(ApiError::MessageUnavailable),
            Err(Unreadable::NotAllowed) => Err(ApiError::NotAllowedIn {
                method: "getSingleMessage",
            }),
        }
    }

    /// Checks that the caller may post in `room` (`canSendMessage`), completes the message
    /// the way Rocket.Chat's `sendMessage` does, and stores it with its counter updates and
    /// pushes, all prepared here and applied by the store in one write.
    async fn send(
        &self,
        settings: &Snapshot,
        caller: &Caller,
        room: &Room,
        mut fields: Doc,
    ) -> ApiResult<Value> {
        let sender = &caller.identity;
        if !self.can_read(sender, room)? {
            return Err(ApiError::NotAllowed);
        }
        if room.read_only() && !self.has_room_permission(sender, room.id(), "post-readonly")? {
            return Err(ApiError::RoomReadOnly);
        }
        let username = sender.username.as_deref().unwrap_or_default();
        if room.muted().contains(&username) {
            return Err(ApiError::Muted);
        }

        let now = time::now_millis();
        let at = time::iso(now);
        let client_id = fields.str_at("_id").map(str::to_string);
        let text = fields.str_at("msg").unwrap_or_default().to_string();
        fields.insert("ts".into(), at.clone().into());
        fields.insert("u".into(), sender.short());
        fields.insert("rid".into(), room.id().into());
        let parsed = mentions::text_fields(&text, &settings.md_options(now));
        let urls: Vec<Value> = parsed
            .urls
            .iter()
            .map(|u| json!({"url": u, "meta": {}}))
            .collect();
        fields.insert("urls".into(), urls.into());
        let (user_mentions, group_mention) = self.resolve_user_mentions(&parsed.users)?;
        fields.insert("mentions".into(), user_mentions.clone().into());
        fields.insert(
            "channels".into(),
            self.resolve_channels(&parsed.channels)?.into(),
        );
        if let Some(md) = &parsed.md {
            fields.insert(
                "md".into(),
                serde_json::to_value(md).map_err(anyhow::Error::from)?,
            );
        }

        let id = client_id.clone().unwrap_or_else(id::new_id);
        let mut stored = Doc::new();
        stored.insert("_id".into(), id.clone().into());
        for (k, v) in &fields {
            if k != "_id" {
                stored.insert(k.clone(), v.clone());
            }
        }
        stored.insert("_updatedAt".into(), at.clone().into());
        let mut response = fields;
        match client_id {
            Some(_) => response.insert("_updatedAt".into(), at.clone().into()),
            None => response.insert("_id".into(), id.clone().into()),
        };

        let message = Message::from_json(serde_json::to_vec(&stored).map_err(anyhow::Error::from)?)
            .map_err(anyhow::Error::from)?;
        let mentioned_ids: Vec<String> = user_mentions
            .iter()
            .filter_map(|m| m.get("_id").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        let member_ids = self.store.room_member_ids(room.id())?;
        let others: Vec<&str> = member_ids
            .iter()
            .map(String::as_str)
            .filter(|uid| *uid != sender.id)
            .collect();
        let members = self.store.room_subscriptions(room.id(), &others)?;
        let unread_setting = settings.unread_count_for(room.t());
        let bumps = members
            .iter()
            .map(|sub| MemberBump {
                user_id: sub.user_id().to_string(),
                bump: unread::bump(&unread::Facts {
                    room_type: room.t(),
                    unread_setting,
                    mentions_member: mentioned_ids.iter().any(|m| m == sub.user_id()),
                    mentions_all_or_here: group_mention,
                }),
            })
            .collect();
        // Thread replies notify thread followers, which rcpush does not track: no pushes.
        let pushes = match stored.contains_key("tmid") {
            true => Vec::new(),
            false => {
                let facts = NewMessageFacts {
                    message: &message,
                    room,
                    sender,
                    mentioned_ids: &mentioned_ids,
                    group_mention,
                    now,
                };
                self.draft_message_pushes(settings, &facts, &members)?
            }
        };
        let new = NewMessage {
            message,
            id,
            room_id: room.id().to_string(),
            last_message: Value::Object(stored),
            at,
            bumps,
            pushes,
        };
        match self.write(move |s| s.insert_message(&new)).await?? {
            Ok(queued) => {
                self.delivery.queued(queued);
                Ok(Value::Object(response))
            }
            Err(_) => Err(ApiError::MessageExists),
        }
    }

    /// `mentions`: `@all`/`@here` first (`{_id, username}`), then known users
    /// (`{_id, username, name, type:"user"}`). Also whether a group mention was made.
    fn resolve_user_mentions(&self, names: &[String]) -> ApiResult<(Vec<Value>, bool)> {
        let mut groups = Vec::new();
        let mut users = Vec::new();
        for n in names {
            if n == "all" || n == "here" {
                groups.push(json!({"_id": n, "username": n}));
            } else if let Some(u) = self.store.user_by_username(n)? {
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
    fn resolve_channels(&self, names: &[String]) -> ApiResult<Vec<Value>> {
        let mut out = Vec::new();
        for name in names {
            if let Some(room) = self.store.room_by_name(name)? {
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
}

/// Longer than `Message_MaxAllowedSize`, counted in UTF-16 units as JS does.
fn too_long(settings: &Snapshot, text: &str) -> bool {
    text.encode_utf16().count() as u64 > settings.message_max_allowed_size
}
