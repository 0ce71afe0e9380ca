//! Posting and reading messages (`chat.postMessage`, `chat.sendMessage`, `chat.getMessage`).

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{json, Value};

use super::access::{message_view, RoomAccess};
use super::auth::Caller;
use super::blocking::blocking_write;
use super::directory::Directory;
use super::push_drafts::{NewMessageFacts, PushDrafts};
use super::system_messages::SystemMessages;
use crate::error::{ApiError, ApiResult};
use crate::model::id::{Ids, MessageId, RoomId};
use crate::model::message::{ContentFields, Draft};
use crate::model::subscription::new_joined_subscription;
use crate::model::time::{self, Clock};
use crate::model::user::Identity;
use crate::model::{Doc, Message, Room, RoomType};
use crate::rules::e2e::E2E_MESSAGE;
use crate::rules::message_changes::ThreadReply;
use crate::rules::message_fields::{Rejection, Verdict};
use crate::rules::{mentions, message_fields, unread};
use crate::settings::{Settings, Snapshot};
use crate::store::{MemberBump, MessagesView, NewMessage, WriteError};

/// A member joining a room with the system message that reports it.
type Join = (crate::model::Subscription, crate::store::SystemMessage);

/// How a message arrives. The `sendMessage` method (and `chat.sendMessage`) refuses plain
/// messages in encrypted rooms when the workspace says so; `processWebhookMessage`
/// (`chat.postMessage`) does not, and may join the sender to a public channel first.
enum Route {
    Method,
    Webhook(Option<Box<Join>>),
}

/// `chat.postMessage`'s message: where to, and the body as sent, which
/// `processWebhookMessage` turns into a message.
pub struct PostMessage {
    /// `channel` or `roomId` (empty when neither): `#name`, `@username`, an id or a name.
    pub target: String,
    pub payload: message_fields::WebhookBody,
}

/// A message posted: as the REST response shows it, and when (ms since the epoch).
pub struct Posted {
    pub message: Value,
    pub ts: time::Millis,
}

/// `chat.sendMessage`'s message: the client's own fields, `rid` known to be a non-empty
/// string and the string fields known to be strings.
pub struct SendMessage {
    pub rid: RoomId,
    pub fields: Doc,
}

/// The messages area: posting, reading, editing and deleting (`message_edits.rs`).
#[derive(Clone)]
pub struct Messages {
    pub(super) store: MessagesView,
    pub(super) settings: Settings,
    pub(super) access: RoomAccess,
    /// Posting to `@username` finds or makes that DM.
    pub(super) directory: Directory,
    pub(super) system: SystemMessages,
    pub(super) drafts: PushDrafts,
    pub(super) clock: Clock,
    pub(super) ids: Ids,
}

impl Messages {
    /// Returns the message as the REST response shows it. The size check runs first, on the
    /// body as sent; then the room is found (a DM with `@username` is created if needed).
    pub async fn post_message(&self, caller: &Caller, post: PostMessage) -> ApiResult<Posted> {
        let settings = self.settings.snapshot();
        if message_fields::webhook_too_long(&post.payload, settings.message_max_allowed_size) {
            return Err(ApiError::MessageTooLong);
        }
        let room = self.webhook_room(caller, &post.target).await?;
        let draft = Draft(message_fields::webhook_message(&post.payload));
        let join = self.join_to_post(caller, &room)?;
        self.send(
            &settings,
            caller,
            &room,
            draft,
            Route::Webhook(join.map(Box::new)),
        )
        .await
    }

    /// `joinChannel`: posting by name or id to a public channel one may read but has not
    /// joined joins it first (`addUserToRoom`, with its `uj` message). Reading is checked
    /// first, so that posting never grants a guest more than they had.
    fn join_to_post(&self, caller: &Caller, room: &Room) -> ApiResult<Option<Join>> {
        let me = &caller.identity;
        if room.room_type() != RoomType::Channel
            || self.store.subscription(room.id(), &me.id)?.is_some()
            || !self.access.can_read(me, room)?
        {
            return Ok(None);
        }
        let user = self.store.user(&me.id)?.ok_or(ApiError::NotLoggedIn)?;
        let username = me.username.as_deref().unwrap_or_default();
        let note = self.system.message("uj", room.id(), username, me.short());
        let sub = new_joined_subscription(room, &user, self.clock.now(), &self.ids);
        Ok(Some((sub, note)))
    }

    /// `processWebhookMessage`'s destination: `#` an id or name, `@` a user (id or username)
    /// whose DM with the caller is used or created; bare, a room id or name, else a user id.
    async fn webhook_room(&self, caller: &Caller, target: &str) -> ApiResult<Room> {
        let room_named = |n: &str| -> ApiResult<Option<Room>> {
            Ok(match self.store.room(n)? {
                Some(r) => Some(r),
                None => self.store.room_by_name(n)?,
            }
            .map(Arc::unwrap_or_clone))
        };
        let user = match (target.strip_prefix('#'), target.strip_prefix('@')) {
            (Some(name), _) => return room_named(name)?.ok_or(ApiError::InvalidChannel),
            (_, Some(name)) => match self.store.user(name)? {
                Some(u) => Some(u),
                None => self.store.user_by_username(name)?,
            },
            _ => match room_named(target)? {
                Some(room) => return Ok(room),
                None => self.store.user(target)?,
            },
        };
        let username = user
            .as_ref()
            .and_then(|u| u.username())
            .ok_or(ApiError::InvalidChannel)?;
        let direct = self
            .directory
            .create_direct(caller, vec![username.to_string()], false)
            .await?;
        Ok(direct.0)
    }

    /// Returns the message as the REST response shows it.
    pub async fn send_message(&self, caller: &Caller, send: SendMessage) -> ApiResult<Posted> {
        let settings = self.settings.snapshot();
        let draft = Draft::from_client(send.fields);
        if too_long(&settings, draft.msg()) {
            return Err(ApiError::MessageSizeExceeded);
        }
        let room = self.store.room(&send.rid)?.ok_or(ApiError::InvalidRoom)?;
        self.send(&settings, caller, &room, draft, Route::Method)
            .await
    }

    /// Checks that the caller may post in `room` (`canSendMessage`), completes the message
    /// the way Rocket.Chat's `sendMessage` does, and stores it with its counter updates and
    /// pushes, all prepared here and applied by the store in one write.
    async fn send(
        &self,
        settings: &Snapshot,
        caller: &Caller,
        room: &Room,
        mut draft: Draft,
        route: Route,
    ) -> ApiResult<Posted> {
        let sender = &caller.identity;
        self.check_can_send(sender, room)?;
        let join = match route {
            Route::Method if settings.e2e.refuses(room.encrypted(), draft.t()) => {
                return Err(ApiError::UnencryptedMessage)
            }
            Route::Method => None,
            Route::Webhook(join) => join.map(|j| *j),
        };
        let mut verdict = message_fields::validate_message(&draft.0, None);
        if verdict == Verdict::NeedsImpersonation {
            let may = self
                .access
                .has_room_permission(sender, room.id(), "message-impersonate")?;
            verdict = message_fields::validate_message(&draft.0, Some(may));
        }
        match verdict {
            Verdict::Valid => {}
            Verdict::Rejected(why) => return Err(ApiError::MessageRejected(why)),
            // Not given once the permission is known.
            Verdict::NeedsImpersonation => {
                return Err(ApiError::MessageRejected(Rejection::Impersonation))
            }
        }

        let now = self.clock.now();
        let at = time::iso(now);
        draft.stamp(&at, sender.short(), room.id());
        let (content, mentioned, censored) =
            self.parse_content(settings, draft.msg(), draft.t(), now, draft.parse_urls())?;
        if let Some(text) = censored {
            draft.set_msg(text);
        }
        draft.set_content(&content);
        let (mentioned_ids, group_mention) = (mentioned.ids, mentioned.group);

        let id = match draft.client_id() {
            Some(id) => id.to_string(),
            None => self.ids.id(),
        };
        let stored = draft.stored(&id, &at);
        let message = stored.to_message();
        let member_ids = self.store.room_member_ids(room.id())?;
        let others: Vec<&str> = member_ids
            .iter()
            .map(String::as_str)
            .filter(|uid| *uid != sender.id)
            .collect();
        let members = self.store.room_subscriptions(room.id(), &others)?;
        let unread_setting = settings.unread_count_for(room.room_type());
        let bumps = members
            .iter()
            .map(|sub| MemberBump {
                mentioned_in_thread: draft.is_reply()
                    && mentioned_ids.iter().any(|m| m == sub.user_id()),
                user_id: sub.user_id().to_string(),
                bump: unread::bump(&unread::Facts {
                    room_type: room.room_type(),
                    unread_setting,
                    mentions_member: mentioned_ids.iter().any(|m| m == sub.user_id()),
                    mentions_all_or_here: group_mention,
                }),
            })
            .collect();
        // Rocket.Chat pushes a thread reply to the thread's followers; rcpush sends none for it.
        let pushes = match draft.is_reply() {
            true => None,
            false => {
                let facts = NewMessageFacts {
                    message: &message,
                    room,
                    sender,
                    mentioned_ids: &mentioned_ids,
                    group_mention,
                    now,
                };
                self.drafts
                    .draft_message_pushes(settings, &facts, &members)?
            }
        };
        let thread = draft.tmid().map(|tmid| ThreadReply {
            tmid: tmid.to_string(),
            sender_id: sender.id.clone(),
            mentioned_ids: mentioned_ids.clone(),
            group_mention,
            at: at.clone(),
        });
        let response = draft.into_response(&id, &at);
        let new = NewMessage {
            message,
            id,
            room_id: room.id().to_string(),
            last_message: Value::Object(stored.0),
            at,
            bumps,
            pushes,
            thread,
            join,
        };
        let queued = match blocking_write(&self.store, move |s| s.insert_message(&new)).await {
            Ok(queued) => queued,
            Err(WriteError::Conflict(_)) => return Err(ApiError::MessageExists),
            Err(WriteError::Store(e)) => return Err(e.into()),
        };
        self.drafts.queued(queued).await?;
        Ok(Posted {
            message: response,
            ts: now,
        })
    }

    /// `chat.getMessage`: the stored message, if `user` may read its room (a missing
    /// message and a missing room read alike).
    pub fn get_message(&self, caller: &Caller, id: &MessageId) -> ApiResult<Message> {
        let message = self
            .store
            .message(id)?
            .ok_or(ApiError::MessageUnavailable)?;
        let rid = message_view(&message, id)?.rid.into_owned();
        let room = self.store.room(&rid)?.ok_or(ApiError::MessageUnavailable)?;
        match self.access.can_read(&caller.identity, &room)? {
            true => Ok(message),
            false => Err(ApiError::NotAllowedIn {
                method: "getSingleMessage",
            }),
        }
    }

    /// `canSendMessage`: the sender may read the room, post in it if it is read-only, and is
    /// not muted there.
    pub(super) fn check_can_send(&self, sender: &Identity, room: &Room) -> ApiResult<()> {
        if !self.access.can_read(sender, room)? {
            return Err(ApiError::NotAllowed);
        }
        if room.read_only()
            && !self
                .access
                .has_room_permission(sender, room.id(), "post-readonly")?
        {
            return Err(ApiError::RoomReadOnly);
        }
        let username = sender.username.as_deref().unwrap_or_default();
        if room.muted().contains(&username) {
            return Err(ApiError::Muted);
        }
        Ok(())
    }

    /// What the server reads from a message's text of type `t`, in the order of Rocket.Chat's
    /// `sendMessage` and `beforeSave`: `urls` (only if `parse_urls`: a `parseUrls: false`
    /// leaves the key out) and who it mentions from the text as sent; then the bad-words
    /// filter, whose text is returned when it changed any; then `md` of the text as stored
    /// (none for an encrypted message, which the server cannot read).
    pub(super) fn parse_content(
        &self,
        settings: &Snapshot,
        text: &str,
        t: Option<&str>,
        now: i64,
        parse_urls: bool,
    ) -> ApiResult<(ContentFields, Mentioned, Option<String>)> {
        let options = settings.md_options(now);
        let mut parsed = mentions::text_fields(text, &options);
        let censored = match settings.bad_words.as_deref().map(|f| f.clean(text)) {
            Some(Cow::Owned(censored)) => Some(censored),
            _ => None,
        };
        if let Some(censored) = &censored {
            parsed.md = mentions::text_fields(censored, &options).md;
        }
        if t == Some(E2E_MESSAGE) {
            parsed.md = None;
        }
        let urls = parse_urls.then(|| {
            parsed
                .urls
                .iter()
                .map(|u| json!({"url": u, "meta": {}}))
                .collect()
        });
        let (user_mentions, mentioned) = self.resolve_user_mentions(&parsed.users)?;
        let md = match &parsed.md {
            Some(md) => Some(serde_json::to_value(md).map_err(anyhow::Error::from)?),
            None => None,
        };
        let content = ContentFields {
            urls,
            mentions: user_mentions,
            channels: self.resolve_channels(&parsed.channels)?,
            md,
        };
        Ok((content, mentioned, censored))
    }

    /// `mentions`: `@all`/`@here` first (`{_id, username}`), then known users
    /// (`User::mention`); with the ids of those users and whether a group mention was made.
    fn resolve_user_mentions(&self, names: &[String]) -> ApiResult<(Vec<Value>, Mentioned)> {
        let mut groups = Vec::new();
        let mut users = Vec::new();
        let mut ids = Vec::new();
        for n in names {
            if n == "all" || n == "here" {
                groups.push(json!({"_id": n, "username": n}));
            } else if let Some(u) = self.store.user_by_username(n)? {
                users.push(u.mention());
                ids.push(u.id().to_string());
            }
        }
        let group = !groups.is_empty();
        groups.extend(users);
        Ok((groups, Mentioned { ids, group }))
    }

    /// `channels`: the public and private rooms named with `#`, as `{_id, fname, name}` (the
    /// rooms' stored key order).
    fn resolve_channels(&self, names: &[String]) -> ApiResult<Vec<Value>> {
        let mut out = Vec::new();
        for name in names {
            if let Some(room) = self.store.room_by_name(name)? {
                if room.room_type().is_channel_or_group() {
                    out.push(room.mention());
                }
            }
        }
        Ok(out)
    }
}

/// Whom a message's text mentions: users by id (not `all`/`here`), and whether `@all` or
/// `@here` was used.
pub(super) struct Mentioned {
    pub ids: Vec<String>,
    pub group: bool,
}

/// Longer than `Message_MaxAllowedSize`, counted in UTF-16 units as JS does.
fn too_long(settings: &Snapshot, text: &str) -> bool {
    text.encode_utf16().count() as u64 > settings.message_max_allowed_size
}
