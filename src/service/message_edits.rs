//! Editing and deleting messages (`chat.update`, `chat.delete`), as Rocket.Chat's
//! `executeUpdateMessage` and `deleteMessageValidatingPermission` decide them.

use serde_json::Value;

use super::auth::Caller;
use super::blocking::blocking_write;
use super::messages::Messages;
use crate::error::{ApiError, ApiResult};
use crate::model::message::MessageDoc;
use crate::model::time;
use crate::model::user::Identity;
use crate::rules;
use crate::rules::message_changes::{Edit, Edited};
use crate::rules::message_fields::Rejection;

/// `chat.update`: the new text of a message in a room.
pub struct UpdateMessage {
    pub room_id: String,
    pub msg_id: String,
    pub text: String,
    /// `customFields` was given (they are disabled, as by default in Rocket.Chat).
    pub custom_fields: bool,
    /// `content` was given (end-to-end messages only).
    pub content: bool,
}

/// `chat.delete`: a message in a room, deleted by the caller or, with `as_user`, as its
/// sender.
pub struct DeleteMessage {
    pub room_id: String,
    pub msg_id: String,
    pub as_user: bool,
}

/// What `chat.delete` answers with: the id, the message's `_id`, `u` and `rid`, and when
/// (ms since the epoch).
pub struct Deleted {
    pub id: String,
    pub message: Value,
    pub ts: time::Millis,
}

impl Messages {
    /// Returns the message as stored after the edit (unchanged when the text is the same).
    /// The checks on fields an edit never changes (room, sender) run on a read first; the
    /// edit itself is applied to the message as stored inside the write
    /// (`rules::message_changes::Edit`), so that it loses no concurrent change.
    pub async fn update_message(&self, caller: &Caller, edit: UpdateMessage) -> ApiResult<Value> {
        let read = self.message_in_room(&edit.msg_id, &edit.room_id)?;
        if edit.content && read.t() != Some("e2e") {
            return Err(ApiError::OnlyEncryptedContent);
        }
        if edit.custom_fields {
            return Err(ApiError::MessageRejected(Rejection::CustomFields));
        }
        if read.text() == Some(edit.text.as_str()) {
            return Ok(read.to_value());
        }
        let editor = &caller.identity;
        let own = read.sender_id() == Some(editor.id.as_str());
        // `Message_AllowEditing` is on, as by default: the sender may edit.
        if !own
            && !self
                .access
                .has_room_permission(editor, &edit.room_id, "edit-message")?
        {
            return Err(ApiError::EditNotAllowed);
        }
        let room = self
            .store
            .room(&edit.room_id)?
            .ok_or(ApiError::NotAllowed)?;
        self.check_can_send(editor, &room)?;

        let now = self.clock.now();
        let settings = self.settings.snapshot();
        // The text parsed is `msg` once edited: an upload keeps its `msg`.
        let text = match read.description() {
            Some(_) => read.msg().unwrap_or_default(),
            None => edit.text.as_str(),
        };
        let (parsed, _, censored) = self.parse_content(&settings, text, read.t(), now, true)?;
        let change = Edit {
            room_id: edit.room_id,
            text: edit.text,
            // An upload's edit is its description, which Rocket.Chat's filter does not read.
            censored: censored.filter(|_| read.description().is_none()),
            content: edit.content,
            editor_id: editor.id.clone(),
            editor_username: editor.username.clone(),
            at: time::iso(now),
            parsed,
        };
        let id = edit.msg_id;
        let outcome = blocking_write(&self.store, move |s| {
            s.modify_message(&id, &change).map(|o| (id, o))
        })
        .await?;
        match outcome {
            (_, Some(Edited::Changed(message) | Edited::Unchanged(message))) => {
                Ok(message.to_value())
            }
            (_, Some(Edited::RoomMismatch)) => Err(ApiError::RoomMismatch),
            (_, Some(Edited::NotEncrypted)) => Err(ApiError::OnlyEncryptedContent),
            (id, None) => Err(ApiError::NoMessageWithId(id)),
        }
    }

    /// Deletes the message (Rocket.Chat's defaults: no history is kept, no "deleted" stub).
    /// A message deleted meanwhile by someone else is deleted all the same.
    pub async fn delete_message(
        &self,
        caller: &Caller,
        delete: DeleteMessage,
    ) -> ApiResult<Deleted> {
        let read = self.message_in_room(&delete.msg_id, &delete.room_id)?;
        let sender = read.sender_id().unwrap_or_default().to_string();
        let me = &caller.identity;
        let deleter = match delete.as_user && sender != me.id {
            false => me.clone(),
            true if self.access.has_room_permission(
                me,
                &delete.room_id,
                "force-delete-message",
            )? =>
            {
                self.store
                    .user_identity(&sender)?
                    .ok_or(ApiError::DeleteNotAllowed)?
            }
            true => return Err(ApiError::ForceDeleteRequired),
        };
        self.check_can_delete(&deleter, &sender, read.sender_username(), &delete.room_id)?;
        let now = self.clock.now();
        let change = rules::message_changes::Delete {
            room_id: delete.room_id,
            at: time::iso(now),
        };
        let id = delete.msg_id.clone();
        let outcome = blocking_write(&self.store, move |s| s.modify_message(&id, &change)).await?;
        match outcome {
            Some(rules::message_changes::Deleted::Removed(message)) => Ok(Deleted {
                id: delete.msg_id,
                message,
                ts: now,
            }),
            Some(rules::message_changes::Deleted::RoomMismatch) => Err(ApiError::RoomMismatch),
            None => Ok(Deleted {
                id: delete.msg_id,
                message: read.deleted_view(),
                ts: now,
            }),
        }
    }

    /// The stored message, if it is in `room_id` (the first two checks of `chat.update` and
    /// `chat.delete`).
    fn message_in_room(&self, msg_id: &str, room_id: &str) -> ApiResult<MessageDoc> {
        let message = self
            .store
            .message(msg_id)?
            .ok_or_else(|| ApiError::NoMessageWithId(msg_id.to_string()))?;
        let message = MessageDoc::parse(&message).map_err(anyhow::Error::from)?;
        if message.rid() != room_id {
            return Err(ApiError::RoomMismatch);
        }
        Ok(message)
    }
    /// `canDeleteMessageAsync` with Rocket.Chat's defaults (deleting allowed, no time limit).
    /// In a read-only room it asks whether the message's *sender* was unmuted, as
    /// Rocket.Chat does.
    fn check_can_delete(
        &self,
        deleter: &Identity,
        sender: &str,
        sender_name: Option<&str>,
        room_id: &str,
    ) -> ApiResult<()> {
        let may = |p: &str| self.access.has_room_permission(deleter, room_id, p);
        if may("force-delete-message")? {
            return Ok(());
        }
        let allowed =
            may("delete-message")? || (deleter.id == sender && may("delete-own-message")?);
        let room = self.store.room(room_id)?;
        let Some(room) = room.filter(|_| allowed) else {
            return Err(ApiError::DeleteNotAllowed);
        };
        if let Some(name) = sender_name {
            if room.read_only() && !may("post-readonly")? && !room.unmuted().contains(&name) {
                return Err(ApiError::DeleteReadOnly);
            }
        }
        Ok(())
    }
}
