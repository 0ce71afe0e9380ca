use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::subscriptions::merged;
use super::tails::{self, Overlay};
use super::trees::Tree;
use super::{encode, Batch, Conflict, Lock, Mode, OutboxRecord, Store, StoreResult, WriteError};
use crate::model::message::MessageDoc;
use crate::model::{Message, Subscription};
use crate::rules::counters::{self, RoomBump, ThreadUnread};
use crate::rules::message_changes::{MessageMutation, ThreadReply, Write};
use crate::rules::unread::Bump;

/// A new message and everything that changes with it, prepared by the message service
/// outside the write lock. The store applies it as one transaction (see the module doc).
pub struct NewMessage {
    pub message: Message,
    pub id: String,
    pub room_id: String,
    /// The stored message as the room's `lastMessage`.
    pub last_message: Value,
    /// ISO time of the post: the room's `lm` / `_updatedAt` and each bumped subscription's.
    pub at: String,
    /// The counter changes of the members (the sender has none).
    pub bumps: Vec<MemberBump>,
    /// The outbox record of its pushes, drafted for the members with devices who want
    /// one, waiting for their badges.
    pub pushes: Option<OutboxRecord>,
    /// For a thread reply: what it does to its thread's parent, applied to the parent as
    /// stored inside the write.
    pub thread: Option<ThreadReply>,
    /// The sender joining the (public) room first, with its `uj` message, unless they are
    /// a member by then (`chat.postMessage`'s `joinChannel`).
    pub join: Option<(Subscription, SystemMessage)>,
}

/// What a message does to one member's subscription (`rules::counters::bump_subscription`).
pub struct MemberBump {
    pub user_id: String,
    pub bump: Bump,
    /// The message is a thread reply that mentions this member.
    pub mentioned_in_thread: bool,
}

/// A system message, written in the same write as the change it reports: it counts in the
/// room's `msgs` and becomes its `lastMessage` (`lm`), but raises no unread counter and
/// sends no push.
pub struct SystemMessage {
    pub id: String,
    pub message: Message,
    /// The message as the room's `lastMessage`.
    pub doc: Value,
    /// Its `ts`.
    pub at: String,
}

impl SystemMessage {
    /// Wraps a document built by `model::message::new_system_message`.
    pub fn new(id: String, doc: crate::model::Doc) -> SystemMessage {
        let doc = MessageDoc(doc);
        SystemMessage {
            message: doc.to_message(),
            at: doc.ts().unwrap_or_default().to_string(),
            doc: doc.to_value(),
            id,
        }
    }
}

impl Store {
    /// Adds `note` to `room` (in `batch`): the message, `msgs` + 1, `lastMessage`, `lm`.
    pub(super) fn put_system_message(
        batch: &mut Batch,
        room: &mut crate::model::Room,
        note: &SystemMessage,
    ) {
        Self::put_message(batch, &note.message, &note.id, true);
        counters::count_system_message(room, &note.doc, &note.at);
    }

    fn has_message(&self, id: &str) -> StoreResult<bool> {
        Ok(self
            .engine
            .get(Tree::MessageidMessage, id.as_bytes())?
            .is_some())
    }

    /// The stored text of a message, unparsed (push.get parses it only when it has not
    /// prepared it already).
    pub fn message_json(&self, id: &str) -> StoreResult<Option<Box<str>>> {
        match self.engine.get(Tree::MessageidMessage, id.as_bytes())? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(|s| Some(s.into_boxed_str()))
                .map_err(|e| super::corrupt(Tree::MessageidMessage, e)),
        }
    }

    /// Grows whenever the message `id` may have changed: read it before the message, and
    /// an equal version later means the message read is still the stored one. Only on a
    /// database no other process writes to (`is_shared` false).
    pub fn message_version(&self, id: &str) -> u64 {
        self.caches
            .versions
            .of(Tree::MessageidMessage, id.as_bytes())
    }

    pub fn message(&self, id: &str) -> StoreResult<Option<Message>> {
        match self.engine.get(Tree::MessageidMessage, id.as_bytes())? {
            None => Ok(None),
            Some(bytes) => Message::from_json(bytes)
                .map(Some)
                .map_err(|e| super::corrupt(Tree::MessageidMessage, e)),
        }
    }

    /// Stores a new message with its room and subscription changes and its pushes. Counters
    /// are added to the values found inside the transaction, so concurrent posts never lose
    /// an increment. The pushes go in one outbox record, for the members whose subscription
    /// still exists, with the badge each has once this write is applied. Returns the record
    /// queued.
    ///
    /// A keyed write: posts into different rooms commit at the same time on a backend
    /// with per-data locks (the room, the message and its thread's parent, then the
    /// members whose badges move).
    pub fn insert_message(&self, new: &NewMessage) -> Result<Option<OutboxRecord>, WriteError> {
        self.write_in(
            Mode::Keyed,
            |store, batch| {
                let mut locks = vec![Lock::Room(&new.room_id), Lock::Message(&new.id)];
                locks.extend(new.thread.as_ref().map(|reply| Lock::Message(&reply.tmid)));
                store.engine.lock(&locks)?;
                if store.has_message(&new.id)? {
                    return Err(WriteError::Conflict(Conflict::Id));
                }
                Self::put_message(batch, &new.message, &new.id, true);
                if let Some(room) = store.room(&new.room_id)? {
                    let mut room = Arc::unwrap_or_clone(room);
                    if let Some((sub, note)) = &new.join {
                        if store.subscription(&new.room_id, sub.user_id())?.is_none() {
                            Self::put_subscription(batch, sub);
                            Self::put_system_message(batch, &mut room, note);
                            counters::move_users_count(&mut room, 1);
                        }
                    }
                    counters::count_message(&mut room, &new.last_message, &new.at);
                    Self::put_room(batch, &room);
                }
                let followers = match &new.thread {
                    Some(reply) => store
                        .change_message(batch, &reply.tmid, reply)?
                        .map(|(followers, _, _)| followers)
                        .unwrap_or_default(),
                    None => BTreeSet::new(),
                };
                let members = store.bump_members(batch, new, &followers)?;
                let record = new.pushes.as_ref().and_then(|r| r.for_members(&members));
                if let Some(record) = &record {
                    store.refer_snapshot(batch, record)?;
                }
                Ok(record)
            },
            |badges, batch, record| {
                let mut record = record?;
                record.set_badges(badges);
                Self::put_record(batch, &record);
                Some(record)
            },
            true,
        )
    }

    /// Adds `new`'s bumps to the members' subscriptions as stored in this write (`followers`:
    /// of the thread it replies to); returns the members bumped, those whose subscription
    /// exists. A plain message's bumps go in one record of the room (`tails.rs`); a member
    /// whose thread it marks unread has their document rewritten. The post that brings the
    /// room's records to `FOLD_AT` folds them all into every member's document instead.
    fn bump_members<'n>(
        &self,
        batch: &mut Batch,
        new: &'n NewMessage,
        followers: &BTreeSet<String>,
    ) -> StoreResult<BTreeSet<&'n str>> {
        let room = new.room_id.as_str();
        let mut members: BTreeSet<String> = self.room_member_ids(room)?.into_iter().collect();
        let tails = self.room_tails([room], &Overlay::none())?;
        let tail = tails.get(room).map(|t| t.as_slice()).unwrap_or_default();
        let fold = tail.len() + 1 >= tails::FOLD_AT;
        let mut bumped = BTreeSet::new();
        let mut record: Vec<(String, Option<Bump>)> = Vec::new();
        let mut rewrite: Vec<(String, Option<(&Bump, ThreadUnread)>)> = Vec::new();
        for m in &new.bumps {
            if !members.remove(&m.user_id) {
                continue;
            }
            bumped.insert(m.user_id.as_str());
            let thread = ThreadUnread::of(
                new.thread.as_ref(),
                m.mentioned_in_thread,
                followers.contains(&m.user_id),
            );
            match (fold, thread) {
                (false, ThreadUnread::None) => record.push((m.user_id.clone(), Some(m.bump))),
                _ => {
                    record.push((m.user_id.clone(), None));
                    rewrite.push((m.user_id.clone(), Some((&m.bump, thread))));
                }
            }
        }
        // The members it does not bump (its sender): the record passes them by, a fold
        // rewrites them too.
        for user in members {
            if fold {
                rewrite.push((user.clone(), None));
            }
            record.push((user, None));
        }
        let keys: Vec<Vec<u8>> = rewrite
            .iter()
            .map(|(u, _)| super::keys::pair(u, room))
            .collect();
        let documents = self.engine.get_many(Tree::UserroomidSubscription, &keys)?;
        let counters = self.engine.get_many(Tree::UserroomidCounters, &keys)?;
        for (((key, (_, change)), document), counters) in
            keys.iter().zip(&rewrite).zip(documents).zip(counters)
        {
            let Some(document) = document else {
                continue;
            };
            let mut sub = merged(key, &document, counters.as_deref(), &tails)?;
            if let Some((bump, thread)) = change {
                counters::bump_subscription(&mut sub, bump, *thread, &new.at);
            }
            Self::update_subscription(batch, &sub);
        }
        match fold {
            true => {
                for (seq, _) in tail {
                    batch.delete(Tree::RoomseqBumps, tails::record_key(room, *seq));
                }
            }
            false => {
                let bumps = record.iter().map(|(u, b)| (u.as_str(), *b));
                if let Some(bumps) = RoomBump::new(bumps, &new.at) {
                    let seq = tail.last().map_or(0, |(seq, _)| *seq) + 1;
                    batch.put(
                        Tree::RoomseqBumps,
                        tails::record_key(room, seq),
                        encode(&bumps),
                    );
                    batch.bumped_members.extend(
                        record
                            .iter()
                            .filter(|(_, b)| b.is_some())
                            .map(|(u, _)| super::keys::pair(u, room)),
                    );
                }
            }
        }
        Ok(bumped)
    }

    /// Applies `mutation` to the message `id` as stored inside this write, then what its
    /// decision does to the room: an edited message that is the room's `lastMessage` is
    /// copied there; a deleted one is uncounted (`rules::counters`). `None` if there is no
    /// such message.
    pub fn modify_message<M: MessageMutation>(
        &self,
        id: &str,
        mutation: &M,
    ) -> StoreResult<Option<M::Outcome>> {
        self.write_keyed(|store, batch| {
            store.engine.lock(&[Lock::Message(id)])?;
            let Some((outcome, write, message)) = store.change_message(batch, id, mutation)? else {
                return Ok(None);
            };
            // A message never moves to another room: the one read is the one to lock.
            store.engine.lock(&[Lock::Room(message.rid())])?;
            let Some(room) = store.room(message.rid())? else {
                return Ok(Some(outcome));
            };
            let mut room = Arc::unwrap_or_clone(room);
            match write {
                Write::Keep => {}
                Write::Replace => {
                    if counters::follow_edit(&mut room, id, &message.to_value()) {
                        Self::put_room(batch, &room);
                    }
                }
                Write::Remove { at } => {
                    counters::uncount_message(&mut room, id, &at);
                    Self::put_room(batch, &room);
                }
            }
            Ok(Some(outcome))
        })
    }

    /// Applies `mutation` to the stored message `id` (in `batch`), returning its outcome,
    /// its decision and the message as changed. `None` if there is no such message.
    fn change_message<M: MessageMutation>(
        &self,
        batch: &mut Batch,
        id: &str,
        mutation: &M,
    ) -> StoreResult<Option<(M::Outcome, Write, MessageDoc)>> {
        let Some(stored) = self.message(id)? else {
            return Ok(None);
        };
        let mut message =
            MessageDoc::parse(&stored).map_err(|e| super::corrupt(Tree::MessageidMessage, e))?;
        let change = mutation.apply(&mut message);
        match &change.write {
            Write::Keep => {}
            Write::Replace => Self::put_message(batch, &message.to_message(), id, false),
            Write::Remove { .. } => batch.delete(Tree::MessageidMessage, id),
        }
        Ok(Some((change.outcome, change.write, message)))
    }

    /// Stores `message`; `new` for one that did not exist (the feed's insert, not update).
    pub(super) fn put_message(batch: &mut Batch, message: &Message, id: &str, new: bool) {
        let bytes = message.raw().get().as_bytes().to_vec();
        match new {
            true => batch.insert(Tree::MessageidMessage, id, bytes),
            false => batch.put(Tree::MessageidMessage, id, bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::unread::Bump;

    /// A store with room `r` of `members` members `u0`… (u0 posts), every member with
    /// `unread` 1 (3 on `u1`).
    fn room_of(members: usize) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 4).unwrap();
        let users: Vec<String> = (0..members)
            .map(|i| format!(r#"{{"_id":"u{i}","username":"user{i}"}}"#))
            .collect();
        let subs: Vec<String> = (0..members)
            .map(|i| {
                let unread = if i == 1 { 3 } else { 1 };
                format!(
                    r#"{{"_id":"s{i}","rid":"r","u":{{"_id":"u{i}","username":"user{i}"}},"name":"r","t":"c","unread":{unread},"alert":false,"open":true,"ts":"2030-01-01T00:00:00.000Z","_updatedAt":"2030-01-01T00:00:00.000Z"}}"#
                )
            })
            .collect();
        let import = crate::seed::parse(&format!(
            r#"{{"users":[{}],"rooms":[{{"_id":"r","t":"c","name":"r","msgs":0,"usersCount":{members}}}],"subscriptions":[{}]}}"#,
            users.join(","),
            subs.join(",")
        ))
        .unwrap();
        store.import(&import).unwrap();
        (dir, store)
    }

    /// A plain message `id` from `u0`, mentioning `mentioned`.
    fn plain(id: &str, members: usize, mentioned: &[usize]) -> NewMessage {
        let at = "2030-01-02T00:00:00.000Z".to_string();
        let doc =
            serde_json::json!({"_id": id, "rid": "r", "msg": "hi", "ts": at, "u": {"_id": "u0"}});
        NewMessage {
            message: Message::from_json(serde_json::to_vec(&doc).unwrap()).unwrap(),
            id: id.to_string(),
            room_id: "r".to_string(),
            last_message: doc,
            at,
            bumps: (1..members)
                .map(|i| MemberBump {
                    user_id: format!("u{i}"),
                    bump: match mentioned.contains(&i) {
                        true => Bump {
                            unread: 1,
                            user_mentions: 1,
                            group_mentions: 0,
                        },
                        false => Bump::default(),
                    },
                    mentioned_in_thread: false,
                })
                .collect(),
            pushes: None,
            thread: None,
            join: None,
        }
    }

    /// A plain post writes the same entries whatever the number of members (the message,
    /// the room, its name index and one record of the room's bumps), mentions included.
    #[test]
    fn a_plain_posts_writes_do_not_grow_with_the_members() {
        for members in [3, 40] {
            let (_dir, store) = room_of(members);
            store.insert_message(&plain("m0", members, &[])).unwrap();
            let before = store.written.entries.get();
            store.insert_message(&plain("m1", members, &[2])).unwrap();
            assert_eq!(store.written.entries.get() - before, 4, "{members} members");
            let mentioned = store.subscription("r", "u2").unwrap().unwrap();
            assert_eq!(
                (mentioned.unread(), mentioned.0["userMentions"].clone()),
                (2, 1.into())
            );
            assert_eq!(store.badge("u1").unwrap(), 3);
            assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
        }
    }
}
