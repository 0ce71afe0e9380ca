//! Editing and deleting messages (`chat.update`, `chat.delete`), as Rocket.Chat's
//! `executeUpdateMessage` and `deleteMessageValidatingPermission` decide them.

use serde_json::{json, Value};

use super::auth::Caller;
use super::Services;
use crate::error::{ApiError, ApiResult};
use crate::model::user::Identity;
use crate::model::{time, Doc, DocExt, Message};
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

/// What `chat.delete` answers with: the id and the message's `_id`, `u` and `rid`.
pub struct Deleted {
    pub id: String,
    pub message: Value,
}

impl Services {
    /// Returns the message as stored after the edit (unchanged when the text is the same).
    pub async fn update_message(&self, caller: &Caller, edit: UpdateMessage) -> ApiResult<Value> {
        let (_, mut doc) = self.message_in_room(&edit.msg_id, &edit.room_id)?;
        if edit.content && doc.str_at("t") != Some("e2e") {
            return Err(ApiError::OnlyEncryptedContent);
        }
        if edit.custom_fields {
            return Err(ApiError::MessageRejected(Rejection::CustomFields));
        }
        // An upload's text is its first attachment's description.
        let description = doc
            .get("attachments")
            .and_then(|a| a.get(0))
            .and_then(|a| a.get("description"))
            .and_then(Value::as_str);
        if description.or(doc.str_at("msg")) == Some(edit.text.as_str()) {
            return Ok(Value::Object(doc));
        }
        let editor = &caller.identity;
        let own = sender_id(&doc) == Some(editor.id.as_str());
        // `Message_AllowEditing` is on, as by default: the sender may edit.
        if !own && !self.has_room_permission(editor, &edit.room_id, "edit-message")? {
            return Err(ApiError::EditNotAllowed);
        }
        let room = self
            .store
            .room(&edit.room_id)?
            .ok_or(ApiError::NotAllowed)?;
        self.check_can_send(editor, &room)?;

        let now = self.now();
        let at = time::iso(now);
        if description.is_some() {
            doc["attachments"][0]["description"] = edit.text.clone().into();
        } else {
            doc.insert("msg".into(), edit.text.clone().into());
        }
        doc.insert("editedAt".into(), at.clone().into());
        doc.insert(
            "editedBy".into(),
            json!({"_id": editor.id, "username": editor.username}),
        );
        let settings = self.settings.snapshot();
        let text = doc.str_at("msg").unwrap_or_default().to_string();
        self.parse_content(&settings, &text, now, true, &mut doc)?;
        doc.insert("_updatedAt".into(), at.into());
        let edited = Message::from_json(serde_json::to_vec(&doc).map_err(anyhow::Error::from)?)
            .map_err(anyhow::Error::from)?;
        let (id, rid) = (edit.msg_id, edit.room_id);
        match self
            .write(move |s| s.update_message(&id, &rid, &edited))
            .await??
        {
            true => Ok(Value::Object(doc)),
            false => Err(ApiError::NoMessageWithId(id_of(&doc))),
        }
    }

    /// Deletes the message (Rocket.Chat's defaults: no history is kept, no "deleted" stub).
    pub async fn delete_message(
        &self,
        caller: &Caller,
        delete: DeleteMessage,
    ) -> ApiResult<Deleted> {
        let (_, doc) = self.message_in_room(&delete.msg_id, &delete.room_id)?;
        let sender = sender_id(&doc).unwrap_or_default().to_string();
        let sender_name = doc
            .get("u")
            .and_then(|u| u.get("username"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let me = &caller.identity;
        let deleter = match delete.as_user && sender != me.id {
            false => me.clone(),
            true if self.has_room_permission(me, &delete.room_id, "force-delete-message")? => self
                .store
                .user_identity(&sender)?
                .ok_or(ApiError::DeleteNotAllowed)?,
            true => return Err(ApiError::ForceDeleteRequired),
        };
        self.check_can_delete(&deleter, &sender, sender_name.as_deref(), &delete.room_id)?;
        let shown: Doc = doc
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "_id" | "rid" | "u"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let (id, rid, at) = (delete.msg_id.clone(), delete.room_id, time::iso(self.now()));
        self.write(move |s| s.delete_message(&id, &rid, &at))
            .await??;
        Ok(Deleted {
            id: delete.msg_id,
            message: Value::Object(shown),
        })
    }

    /// The stored message, if it is in `room_id` (the first two checks of `chat.update` and
    /// `chat.delete`).
    fn message_in_room(&self, msg_id: &str, room_id: &str) -> ApiResult<(Message, Doc)> {
        let message = self
            .store
            .message(msg_id)?
            .ok_or_else(|| ApiError::NoMessageWithId(msg_id.to_string()))?;
        let doc: Doc = serde_json::from_str(message.raw().get()).map_err(anyhow::Error::from)?;
        if doc.str_at("rid") != Some(room_id) {
            return Err(ApiError::RoomMismatch);
        }
        Ok((message, doc))
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
        let may = |p: &str| self.has_room_permission(deleter, room_id, p);
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
            if room.read_only()
                && !may("post-readonly")?
                && !room.0.strs_at("unmuted").contains(&name)
            {
                return Err(ApiError::DeleteReadOnly);
            }
        }
        Ok(())
    }
}

fn sender_id(doc: &Doc) -> Option<&str> {
    doc.get("u")
        .and_then(|u| u.get("_id"))
        .and_then(Value::as_str)
}

fn id_of(doc: &Doc) -> String {
    doc.str_at("_id").unwrap_or_default().to_string()
}
