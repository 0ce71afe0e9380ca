//! Rocket.Chat's Meteor methods that bots call over the realtime API (and REST
//! `method.call`), where no REST route already does the same thing the same way: joining
//! and leaving by room id, finding a room by name or id, marking a room read, the caller's
//! rooms, editing a message from the client's copy of it. Each checks what the method
//! checks, in its order, and reuses the REST services' writes.

use std::sync::Arc;

use serde_json::Value;

use super::auth::Caller;
use super::blocking::blocking_write;
use super::message_edits::UpdateMessage;
use super::messages::Messages;
use super::rooms::Rooms;
use super::users::Users;
use crate::error::{ApiError, ApiResult};
use crate::model::message::MessageDoc;
use crate::model::room::Kind;
use crate::model::subscription::new_joined_subscription;
use crate::model::{time, Doc, Room, RoomType};
use crate::rules::history;
use crate::rules::presence::{self, Status, StatusChange};

/// What `updateMessage` lets a client send different from the stored message (7.x's
/// `allowedEditedFields`); any other key must hold the stored value (compared with `!==`,
/// so an object or a date never does).
const EDITABLE: &[&str] = &[
    "tshow",
    "alias",
    "attachments",
    "avatar",
    "emoji",
    "msg",
    "customFields",
    "content",
    "e2eMentions",
];

/// A page of a room's history (`loadHistory`): the messages newest first, and when a
/// last-seen time was given, the oldest unread one left out and how many were.
pub struct History {
    pub messages: Vec<Value>,
    pub first_unread: Option<Value>,
    pub unread_not_loaded: usize,
}

impl Rooms {
    /// `joinRoom`: true when the caller was added (with the `uj` message), false when
    /// already a member. DMs are never joined; other rooms need read access.
    pub async fn join_room(&self, caller: &Caller, room_id: &str) -> ApiResult<bool> {
        const METHOD: &str = "joinRoom";
        let room = self
            .store
            .room(room_id)?
            .ok_or(ApiError::InvalidRoomIn { method: METHOD })?;
        let me = &caller.identity;
        if !self.access.can_read(me, &room)? || room.room_type() == RoomType::Direct {
            return Err(ApiError::NotAllowedIn { method: METHOD });
        }
        if self.store.subscription(room.id(), &me.id)?.is_some() {
            return Ok(false);
        }
        let user = self.directory.caller_user(caller)?;
        let username = me.username.as_deref().unwrap_or_default();
        let note = self.system.message("uj", room.id(), username, me.short());
        let now = self.clock.now();
        let joined = [(new_joined_subscription(&room, &user, now, &self.ids), note)];
        let rid = room.id().to_string();
        blocking_write(&self.store, move |s| {
            s.add_members(&rid, &joined, &time::iso(now))
        })
        .await?
        .ok_or(ApiError::InvalidRoomIn { method: METHOD })?;
        Ok(true)
    }

    /// `leaveRoom`: the caller leaves a public channel or a private group (`leave-c` /
    /// `leave-p`), with the `ul` message; never a DM.
    pub async fn leave_room(&self, caller: &Caller, room_id: &str) -> ApiResult<()> {
        const METHOD: &str = "leaveRoom";
        let room = self
            .store
            .room(room_id)?
            .ok_or(ApiError::InvalidRoomIn { method: METHOD })?;
        let kind = match room.room_type() {
            RoomType::Channel => Kind::Channels,
            RoomType::Group => Kind::Groups,
            _ => return Err(ApiError::NotAllowedIn { method: METHOD }),
        };
        self.leave_found(kind, caller, Arc::unwrap_or_clone(room))
            .await
            .map(drop)
    }

    /// `getRoomIdByNameOrId`: a room by `_id`, else by exact name, if the caller may read
    /// it.
    pub fn room_id_by_name_or_id(&self, caller: &Caller, name_or_id: &str) -> ApiResult<String> {
        let not_allowed = ApiError::NotAllowedIn {
            method: "getRoomIdByNameOrId",
        };
        let room = match self.store.room(name_or_id)? {
            Some(room) => Some(room),
            None => self.store.room_by_name(name_or_id)?,
        };
        match room {
            Some(room) if self.access.can_read(&caller.identity, &room)? => {
                Ok(room.id().to_string())
            }
            _ => Err(not_allowed),
        }
    }

    /// `getRoomNameById`: the room's name (none for a DM) for a member, or for anyone
    /// with `view-c-room` when it is a public channel.
    pub fn room_name_by_id(&self, caller: &Caller, room_id: &str) -> ApiResult<Option<String>> {
        let not_allowed = || ApiError::NotAllowedIn {
            method: "getRoomNameById",
        };
        let room = self.store.room(room_id)?.ok_or_else(not_allowed)?;
        let me = &caller.identity;
        let member = self.store.subscription(room.id(), &me.id)?.is_some();
        if !member
            && (room.room_type() != RoomType::Channel
                || !self.permits.has("view-c-room", &me.roles()))
        {
            return Err(not_allowed());
        }
        Ok(room.name().map(str::to_string))
    }

    /// `rooms/get`: the rooms the caller is subscribed to, or those changed after `since`.
    /// rcpush keeps no record of deleted rooms, so nothing is ever listed as removed.
    pub fn rooms_of_caller(
        &self,
        caller: &Caller,
        since: Option<time::Millis>,
    ) -> ApiResult<Vec<Arc<Room>>> {
        let mut rooms = Vec::new();
        for sub in self.store.subscriptions_of_user(caller.id())? {
            let Some(room) = self.store.room(sub.rid())? else {
                continue;
            };
            let updated = room.updated_at().and_then(time::parse_iso);
            if since.is_none_or(|t| updated.is_some_and(|at| at > t)) {
                rooms.push(room);
            }
        }
        Ok(rooms)
    }
}

impl Messages {
    /// `loadHistory`: a page of the room's messages (as stored), newest first; `None` when
    /// the room is missing or the caller may not read it (a public channel needs
    /// membership or `preview-c-room`).
    pub fn load_history(
        &self,
        caller: &Caller,
        room_id: &str,
        query: &history::Query,
    ) -> ApiResult<Option<History>> {
        let Some(room) = self.store.room(room_id)? else {
            return Ok(None);
        };
        let me = &caller.identity;
        let may_read = self.access.can_read(me, &room)?
            && (room.room_type() != RoomType::Channel
                || self.store.subscription(room.id(), &me.id)?.is_some()
                || self.access.permits.has("preview-c-room", &me.roles()));
        if !may_read {
            return Ok(None);
        }
        let messages = self
            .store
            .room_messages(room.id())?
            .iter()
            .map(MessageDoc::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::from)?;
        let entries: Vec<history::Entry> = messages
            .iter()
            .map(|m| history::Entry {
                ts: m.ts().and_then(time::parse_iso).unwrap_or_default(),
                reply: m.tmid().is_some(),
                shown_in_room: m.tshow(),
                hidden: m.hidden(),
            })
            .collect();
        let page = history::page(&entries, query);
        let doc = |i: usize| messages[i].to_value();
        Ok(Some(History {
            messages: page.messages.into_iter().map(doc).collect(),
            first_unread: page.first_unread.map(doc),
            unread_not_loaded: page.unread_not_loaded,
        }))
    }

    /// `updateMessage` with the client's copy of the message: unknown messages and
    /// unchanged texts are left alone; a key the client may not change must hold the
    /// stored value; then the edit runs as `chat.update`'s.
    pub async fn update_message_by_method(&self, caller: &Caller, sent: Doc) -> ApiResult<()> {
        let sent = MessageDoc(sent);
        let id = sent.id().to_string();
        let Some(stored) = self.store.message(&id)? else {
            return Ok(());
        };
        let stored = MessageDoc::parse(&stored).map_err(anyhow::Error::from)?;
        for (key, value) in &sent.0 {
            if !EDITABLE.contains(&key.as_str()) && !same_primitive(value, stored.0.get(key)) {
                return Err(ApiError::InvalidUpdateKey(key.clone()));
            }
        }
        let text = sent.msg();
        if text.is_none() || stored.text() == text {
            return Ok(());
        }
        let edit = UpdateMessage {
            room_id: stored.rid().to_string(),
            msg_id: id,
            text: text.unwrap_or_default().to_string(),
            custom_fields: sent.custom_fields().is_some_and(|v| !v.is_null()),
            content: false,
        };
        self.update_message(caller, edit).await.map(drop)
    }
}

impl Users {
    /// `UserPresence:setDefaultStatus` / `setUserStatus`: the caller's chosen status and
    /// status text; true if either changed.
    pub async fn set_status(
        &self,
        caller: &Caller,
        chosen: Option<Status>,
        text: Option<&str>,
    ) -> ApiResult<bool> {
        let change = StatusChange {
            chosen,
            connection: None,
            text: text.map(presence::status_text),
            at: time::iso(self.clock.now()),
        };
        self.change_status(caller.id(), change).await
    }

    /// The status of the user's realtime connections moved (the first opened, the last
    /// closed, one away or back): their shown status follows; true if it changed.
    pub async fn set_connection_status(&self, user_id: &str, status: Status) -> ApiResult<bool> {
        let change = StatusChange {
            chosen: None,
            connection: Some(status),
            text: None,
            at: time::iso(self.clock.now()),
        };
        self.change_status(user_id, change).await
    }

    async fn change_status(&self, user_id: &str, change: StatusChange) -> ApiResult<bool> {
        let id = user_id.to_string();
        blocking_write(&self.store, move |s| s.change_user_status(&id, &change))
            .await?
            .ok_or(ApiError::NotLoggedIn)
    }
}

/// JavaScript's `a !== b` is false: both the same string, number, boolean or null (never
/// an object or array, and an absent stored field is `undefined`).
fn same_primitive(sent: &Value, stored: Option<&Value>) -> bool {
    match (sent, stored) {
        (Value::Object(_) | Value::Array(_), _) | (_, None) => false,
        (Value::Number(a), Some(Value::Number(b))) => a.as_f64() == b.as_f64(),
        (a, Some(b)) => a == b,
    }
}
