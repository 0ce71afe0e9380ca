//! Changes to a stored message that the store applies inside its write, on the message as
//! stored at that moment (the transaction contract in `store/mod.rs`): whatever a caller
//! read before, two changes that meet never lose one another (an edit racing a thread
//! reply keeps both the new text and the new `tcount`).

use std::collections::BTreeSet;

use crate::model::message::{ContentFields, MessageDoc};
use crate::rules::reactions::{self, Step, Wish};

/// One change to one message, decided on the message as stored when the write runs.
pub trait MessageMutation {
    /// What the caller learns: the decision and what it needs to answer.
    type Outcome;

    /// Changes `message` in place and says what the store does with it.
    fn apply(&self, message: &mut MessageDoc) -> Change<Self::Outcome>;
}

/// A mutation's decision.
#[derive(Debug, PartialEq)]
pub struct Change<O> {
    pub outcome: O,
    pub write: Write,
}

/// What becomes of the stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Left as it was.
    Keep,
    /// Replaced by the changed message; the room's `lastMessage` follows it.
    Replace,
    /// Deleted at this ISO time: the room's `msgs` goes down and its `lastMessage` goes if
    /// it was this message.
    Remove { at: String },
}

impl<O> Change<O> {
    fn keep(outcome: O) -> Change<O> {
        Change {
            outcome,
            write: Write::Keep,
        }
    }

    fn replace(outcome: O) -> Change<O> {
        Change {
            outcome,
            write: Write::Replace,
        }
    }
}

/// `chat.update`'s edit (Rocket.Chat's `updateMessage`), with everything the caller decided
/// beforehand from fields an edit never changes (the sender, the room): permissions, and
/// the parsed new text.
#[derive(Debug, Clone)]
pub struct Edit {
    pub room_id: String,
    /// The text as sent, which decides whether anything changed (as in Rocket.Chat).
    pub text: String,
    /// What is stored instead when the bad-words filter changed the text.
    pub censored: Option<String>,
    /// `content` was given, which only end-to-end messages may have updated.
    pub content: bool,
    pub editor_id: String,
    pub editor_username: Option<String>,
    /// ISO time of the edit.
    pub at: String,
    /// What the server reads from the message's text once edited.
    pub parsed: ContentFields,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq)]
pub enum Edited {
    /// The message as stored after the edit.
    Changed(MessageDoc),
    /// The text was already this: the message as stored, untouched.
    Unchanged(MessageDoc),
    /// The message is not in the room the edit names.
    RoomMismatch,
    /// `content` was given for a message that is not end-to-end encrypted.
    NotEncrypted,
}

impl MessageMutation for Edit {
    type Outcome = Edited;

    fn apply(&self, message: &mut MessageDoc) -> Change<Edited> {
        if message.rid() != self.room_id {
            return Change::keep(Edited::RoomMismatch);
        }
        if self.content && message.t() != Some("e2e") {
            return Change::keep(Edited::NotEncrypted);
        }
        if message.text() == Some(self.text.as_str()) {
            return Change::keep(Edited::Unchanged(message.clone()));
        }
        message.set_text(self.censored.as_deref().unwrap_or(&self.text));
        message.mark_edited(&self.at, &self.editor_id, self.editor_username.as_deref());
        message.set_content(&self.parsed);
        message.set_updated_at(&self.at);
        Change::replace(Edited::Changed(message.clone()))
    }
}

/// `chat.delete`'s deletion (no history kept, no "deleted" stub: Rocket.Chat's defaults).
#[derive(Debug, Clone)]
pub struct Delete {
    pub room_id: String,
    /// ISO time of the deletion: the room's `_updatedAt`.
    pub at: String,
}

/// What a deletion did.
#[derive(Debug, Clone, PartialEq)]
pub enum Deleted {
    /// The message's `_id`, `rid` and `u`, as `chat.delete` shows them.
    Removed(serde_json::Value),
    RoomMismatch,
}

impl MessageMutation for Delete {
    type Outcome = Deleted;

    fn apply(&self, message: &mut MessageDoc) -> Change<Deleted> {
        if message.rid() != self.room_id {
            return Change::keep(Deleted::RoomMismatch);
        }
        Change {
            outcome: Deleted::Removed(message.deleted_view()),
            write: Write::Remove {
                at: self.at.clone(),
            },
        }
    }
}

/// A reply's effect on its thread's parent (Rocket.Chat's threads `reply`): the parent gains
/// the replier (on the first reply, its author too) and the mentioned users in `replies`,
/// `tcount` + 1 and `tlm`.
#[derive(Debug, Clone)]
pub struct ThreadReply {
    pub tmid: String,
    pub sender_id: String,
    pub mentioned_ids: Vec<String>,
    /// The reply says @all or @here.
    pub group_mention: bool,
    /// ISO time of the reply.
    pub at: String,
}

impl MessageMutation for ThreadReply {
    /// The followers to tell: everyone in `replies` but the replier and the users the
    /// reply mentions (who hear of it through their mention).
    type Outcome = BTreeSet<String>;

    fn apply(&self, parent: &mut MessageDoc) -> Change<BTreeSet<String>> {
        let mut replies: Vec<String> = parent.replies().into_iter().map(str::to_string).collect();
        let author = parent.sender_id().map(str::to_string);
        let first = replies.is_empty().then_some(author).flatten();
        for id in first
            .into_iter()
            .chain([self.sender_id.clone()])
            .chain(self.mentioned_ids.iter().cloned())
        {
            if !replies.contains(&id) {
                replies.push(id);
            }
        }
        let followers = replies
            .iter()
            .filter(|id| **id != self.sender_id && !self.mentioned_ids.contains(id))
            .cloned()
            .collect();
        let tcount = parent.tcount() + 1;
        parent.set_thread(replies, tcount, &self.at);
        Change::replace(followers)
    }
}

/// `setReaction` on the message as stored: the caller's reaction added or removed, as
/// `rules::reactions::decide` says (`Messages.setReactions` / `unsetReactions`, which
/// stamp `_updatedAt`; `editedAt` stays).
#[derive(Debug, Clone)]
pub struct React {
    /// As `rules::reactions::shortname` makes it.
    pub shortname: String,
    pub username: String,
    pub wish: Wish,
    /// ISO time of the reaction.
    pub at: String,
}

/// What a reaction did.
#[derive(Debug, Clone, PartialEq)]
pub enum Reacted {
    /// Added or removed: the message as stored after it.
    Changed(Step, MessageDoc),
    /// The message already was as asked.
    Unchanged,
}

impl MessageMutation for React {
    type Outcome = Reacted;

    fn apply(&self, message: &mut MessageDoc) -> Change<Reacted> {
        let already = message.has_reacted(&self.shortname, &self.username);
        let Some(step) = reactions::decide(already, self.wish) else {
            return Change::keep(Reacted::Unchanged);
        };
        match step {
            Step::Add => message.add_reaction(&self.shortname, &self.username),
            Step::Remove => message.remove_reaction(&self.shortname, &self.username),
        }
        message.set_updated_at(&self.at);
        Change::replace(Reacted::Changed(step, message.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::object;
    use proptest::prelude::*;
    use serde_json::json;

    fn message(v: serde_json::Value) -> MessageDoc {
        MessageDoc(object(v))
    }

    fn stored() -> MessageDoc {
        message(json!({"_id": "m1", "rid": "r1", "msg": "hi", "ts": "T0",
            "u": {"_id": "bob", "username": "bob"}, "md": [], "_updatedAt": "T0"}))
    }

    fn edit(text: &str) -> Edit {
        Edit {
            room_id: "r1".into(),
            text: text.into(),
            censored: None,
            content: false,
            editor_id: "ann".into(),
            editor_username: Some("ann".into()),
            at: "T1".into(),
            parsed: ContentFields {
                urls: Some(vec![]),
                mentions: vec![],
                channels: vec![],
                md: None,
            },
        }
    }

    fn keys(m: &MessageDoc) -> Vec<&str> {
        m.0.keys().map(String::as_str).collect()
    }

    #[test]
    fn an_edit_keeps_the_stored_order_and_appends_what_is_new() {
        let mut m = stored();
        let change = edit("hello").apply(&mut m);
        assert_eq!(change.write, Write::Replace);
        assert_eq!(change.outcome, Edited::Changed(m.clone()));
        assert_eq!(
            keys(&m),
            [
                "_id",
                "rid",
                "msg",
                "ts",
                "u",
                "_updatedAt",
                "editedAt",
                "editedBy",
                "urls",
                "mentions",
                "channels"
            ]
        );
        assert_eq!(m.0["editedBy"], json!({"_id": "ann", "username": "ann"}));
        assert_eq!(m.0["_updatedAt"], "T1");
    }

    #[test]
    fn a_censored_edit_is_decided_on_the_text_as_sent() {
        let mut m = stored();
        m.0.insert("msg".into(), json!("a ***"));
        let censored = Edit {
            censored: Some("a ***".into()),
            ..edit("a ass")
        };
        let change = censored.apply(&mut m);
        assert_eq!(change.write, Write::Replace);
        assert_eq!(m.msg(), Some("a ***"));
        assert_eq!(m.0["editedAt"], "T1");
    }

    #[test]
    fn an_upload_has_its_description_edited() {
        let mut m = stored();
        m.0.insert("attachments".into(), json!([{"description": "old"}]));
        edit("new").apply(&mut m);
        assert_eq!(m.0["attachments"][0]["description"], "new");
        assert_eq!(m.msg(), Some("hi"));
    }

    #[test]
    fn an_edit_decides_on_the_message_as_stored() {
        let mut m = stored();
        assert_eq!(
            edit("hi").apply(&mut m),
            Change::keep(Edited::Unchanged(stored()))
        );
        let other_room = Edit {
            room_id: "r2".into(),
            ..edit("x")
        };
        assert_eq!(other_room.apply(&mut m).outcome, Edited::RoomMismatch);
        let content = Edit {
            content: true,
            ..edit("x")
        };
        assert_eq!(content.apply(&mut m).outcome, Edited::NotEncrypted);
        assert_eq!(m, stored());
    }

    #[test]
    fn a_deletion_shows_id_room_and_sender() {
        let mut m = stored();
        let delete = Delete {
            room_id: "r1".into(),
            at: "T2".into(),
        };
        assert_eq!(
            delete.apply(&mut m),
            Change {
                outcome: Deleted::Removed(
                    json!({"_id": "m1", "rid": "r1", "u": {"_id": "bob", "username": "bob"}})
                ),
                write: Write::Remove { at: "T2".into() },
            }
        );
        let elsewhere = Delete {
            room_id: "r9".into(),
            at: "T2".into(),
        };
        assert_eq!(elsewhere.apply(&mut m).write, Write::Keep);
    }

    fn reply(sender: &str, mentioned: &[&str]) -> ThreadReply {
        ThreadReply {
            tmid: "m1".into(),
            sender_id: sender.into(),
            mentioned_ids: mentioned.iter().map(|s| s.to_string()).collect(),
            group_mention: false,
            at: "T3".into(),
        }
    }

    #[test]
    fn the_first_reply_makes_the_author_a_follower() {
        let mut m = stored();
        let followers = reply("ann", &["cat"]).apply(&mut m).outcome;
        assert_eq!(m.replies(), ["bob", "ann", "cat"]);
        assert_eq!(followers, BTreeSet::from(["bob".to_string()]));
        assert_eq!(keys(&m)[keys(&m).len() - 3..], ["replies", "tcount", "tlm"]);
        let followers = reply("bob", &[]).apply(&mut m).outcome;
        assert_eq!(m.tcount(), 2);
        assert_eq!(
            followers,
            BTreeSet::from(["ann".to_string(), "cat".to_string()])
        );
    }

    fn react(username: &str, wish: Wish) -> React {
        React {
            shortname: ":thumbsup:".into(),
            username: username.into(),
            wish,
            at: "T4".into(),
        }
    }

    #[test]
    fn a_reaction_is_appended_and_its_users_keep_their_order() {
        let mut m = stored();
        react("ann", Wish::Toggle).apply(&mut m);
        react("cat", Wish::Set(true)).apply(&mut m);
        assert_eq!(keys(&m).last(), Some(&"reactions"));
        assert_eq!(
            m.0["reactions"],
            json!({":thumbsup:": {"usernames": ["ann", "cat"]}})
        );
        assert_eq!(m.0["_updatedAt"], "T4");
        assert!(!m.0.contains_key("editedAt"));
        let change = react("ann", Wish::Set(true)).apply(&mut m);
        assert_eq!(change, Change::keep(Reacted::Unchanged));
        react("ann", Wish::Toggle).apply(&mut m);
        assert_eq!(
            m.0["reactions"],
            json!({":thumbsup:": {"usernames": ["cat"]}})
        );
        react("cat", Wish::Set(false)).apply(&mut m);
        assert!(!m.0.contains_key("reactions"), "{:?}", m.0);
    }

    proptest! {
        /// Toggling twice gives the message back as it was (but `_updatedAt`) when the
        /// user had not reacted, whatever reactions it held; when they had, they move to the
        /// end and the others keep their order.
        #[test]
        fn toggling_twice_is_identity_but_for_the_togglers_place(
            users in prop::collection::vec(prop::sample::select(vec!["ann", "bob", "cat", "dan"]), 0..8),
            who in prop::sample::select(vec!["ann", "bob", "cat", "dan", "eve"]),
        ) {
            let mut m = stored();
            for u in &users {
                react(u, Wish::Set(true)).apply(&mut m);
            }
            let before = m.clone();
            react(who, Wish::Toggle).apply(&mut m);
            react(who, Wish::Toggle).apply(&mut m);
            m.set_updated_at(before.0["_updatedAt"].as_str().unwrap());
            let mut expected = before.clone();
            if users.contains(&who) {
                expected.remove_reaction(":thumbsup:", who);
                expected.add_reaction(":thumbsup:", who);
            }
            prop_assert_eq!(m, expected);
        }

        /// Each user is listed once per emoji, in the order of their first reaction, and a
        /// user's last wish decides whether they are listed.
        #[test]
        fn reactors_are_listed_once_in_order(
            ops in prop::collection::vec((prop::sample::select(vec!["ann", "bob", "cat"]), any::<bool>()), 1..16),
        ) {
            let mut m = stored();
            react("zed", Wish::Set(true)).apply(&mut m);
            let mut expected: Vec<&str> = vec!["zed"];
            for (who, on) in &ops {
                react(who, Wish::Set(*on)).apply(&mut m);
                match (*on, expected.contains(who)) {
                    (true, false) => expected.push(who),
                    (false, true) => expected.retain(|u| u != who),
                    _ => {}
                }
            }
            let listed: Vec<&str> = m.0["reactions"][":thumbsup:"]["usernames"]
                .as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            prop_assert_eq!(listed, expected);
        }
    }

    proptest! {
        /// Edits and replies commute on what each owns: whatever order they are applied in,
        /// the text is the last edit's and `tcount` counts every reply.
        #[test]
        fn edits_and_replies_lose_nothing(ops in prop::collection::vec(prop::option::of("[a-z]{1,4}"), 0..12)) {
            let mut m = stored();
            let mut replies = 0;
            let mut last_text = "hi".to_string();
            for op in &ops {
                match op {
                    Some(text) => {
                        edit(text).apply(&mut m);
                        last_text = text.clone();
                    }
                    None => {
                        reply("ann", &[]).apply(&mut m);
                        replies += 1;
                    }
                }
            }
            prop_assert_eq!(m.text(), Some(last_text.as_str()));
            prop_assert_eq!(m.tcount(), replies);
            prop_assert_eq!(m.id(), "m1");
        }
    }
}
