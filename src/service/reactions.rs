//! Reactions: REST `chat.react` and the `setReaction` method, as Rocket.Chat's
//! `executeSetReaction` decides them. The checks on what a reaction never changes (the
//! message's room, the caller's access) run on a read; whether the reaction is added or
//! removed is decided inside the write, on the message as stored
//! (`rules::message_changes::React`), so that concurrent reactors lose none.

use super::auth::Caller;
use super::blocking::blocking_write;
use super::messages::Messages;
use crate::error::{ApiError, ApiResult};
use crate::model::message::MessageDoc;
use crate::model::time;
use crate::rules::message_changes::{React, Reacted};
use crate::rules::reactions::{self, Wish};

/// A reaction asked for: `shouldReact` absent toggles.
pub struct SetReaction {
    pub message_id: String,
    /// As given: with or without colons.
    pub reaction: String,
    pub should_react: Option<bool>,
}

/// The method `setReaction` names itself in its errors.
const METHOD: &str = "setReaction";

impl Messages {
    /// `chat.react`: the message is looked up before the emoji is checked.
    pub async fn chat_react(&self, caller: &Caller, react: SetReaction) -> ApiResult<()> {
        let message = self
            .stored_message(&react.message_id)?
            .ok_or(ApiError::MessageIdNotFound)?;
        if react.reaction.is_empty() {
            return Err(ApiError::EmojiParamNotProvided);
        }
        let shortname = known_shortname(&react.reaction)?;
        self.execute_set_reaction(caller, shortname, message, Wish::of(react.should_react))
            .await
    }

    /// The `setReaction` method: the emoji is checked before the message is looked up.
    /// `Some(false)` when the caller is muted in the room (Rocket.Chat then shows them an
    /// ephemeral message instead of an error), else nothing.
    pub async fn set_reaction(
        &self,
        caller: &Caller,
        react: SetReaction,
    ) -> ApiResult<Option<bool>> {
        let shortname = known_shortname(&react.reaction)?;
        let message = self
            .stored_message(&react.message_id)?
            .ok_or(ApiError::NotAllowedIn { method: METHOD })?;
        let wish = Wish::of(react.should_react);
        match self
            .execute_set_reaction(caller, shortname, message, wish)
            .await
        {
            Err(ApiError::ReactionMuted { .. }) => Ok(Some(false)),
            done => done.map(|()| None),
        }
    }

    async fn execute_set_reaction(
        &self,
        caller: &Caller,
        shortname: String,
        read: MessageDoc,
        wish: Wish,
    ) -> ApiResult<()> {
        let user = &caller.identity;
        let username = user.username.clone().unwrap_or_default();
        // Nothing to do is decided before the room is read: no access check then.
        if reactions::decide(read.has_reacted(&shortname, &username), wish).is_none() {
            return Ok(());
        }
        let room = self
            .store
            .room(read.rid())?
            .ok_or(ApiError::NotAllowedIn { method: METHOD })?;
        if !self.access.can_read(user, &room)? {
            return Err(ApiError::NotAuthorizedIn { method: METHOD });
        }
        if room.muted().contains(&username.as_str()) {
            return Err(ApiError::ReactionMuted {
                room_id: room.id().to_string(),
            });
        }
        if room.read_only()
            && !room.react_when_read_only()
            && !self
                .access
                .has_room_permission(user, room.id(), "post-readonly")?
            && !room.unmuted().contains(&username.as_str())
        {
            return Err(ApiError::RoomReadOnly);
        }
        let change = React {
            shortname,
            username,
            wish,
            at: time::iso(self.clock.now()),
        };
        let id = read.id().to_string();
        // A message deleted meanwhile has nothing left to react to: as if done.
        let _: Option<Reacted> =
            blocking_write(&self.store, move |s| s.modify_message(&id, &change)).await?;
        Ok(())
    }

    /// The stored message `id`, decoded to be read.
    fn stored_message(&self, id: &str) -> ApiResult<Option<MessageDoc>> {
        let Some(message) = self.store.message(id)? else {
            return Ok(None);
        };
        Ok(Some(
            MessageDoc::parse(&message).map_err(anyhow::Error::from)?,
        ))
    }
}

/// The reaction's shortname, if it names a known emoji.
fn known_shortname(reaction: &str) -> ApiResult<String> {
    let shortname = reactions::shortname(reaction);
    match reactions::is_known_emoji(&shortname) {
        true => Ok(shortname),
        false => Err(ApiError::InvalidEmoji),
    }
}
