use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::trees::Tree;
use super::{Batch, Conflict, Lock, Mode, OutboxRecord, Store, StoreResult, WriteError};
use crate::model::message::MessageDoc;
use crate::model::{Message, Subscription};
use crate::rules::counters::{self, ThreadUnread};
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
    /// exists. A plain message's bump is kept as pending bumps beside the document; a thread
    /// reply's, which marks the thread unread, rewrites the document.
    fn bump_members<'n>(
        &self,
        batch: &mut Batch,
        new: &'n NewMessage,
        followers: &BTreeSet<String>,
    ) -> StoreResult<BTreeSet<&'n str>> {
        let mut members = BTreeSet::new();
        let keys: Vec<Vec<u8>> = new
            .bumps
            .iter()
            .map(|m| super::keys::pair(&m.user_id, &new.room_id))
            .collect();
        let documents = self.engine.get_many(Tree::UserroomidSubscription, &keys)?;
        let pending = self.engine.get_many(Tree::UserroomidCounters, &keys)?;
        for (((m, key), document), pending) in
            new.bumps.iter().zip(keys).zip(documents).zip(pending)
        {
            let Some(document) = document else {
                continue;
            };
            let thread = ThreadUnread::of(
                new.thread.as_ref(),
                m.mentioned_in_thread,
                followers.contains(&m.user_id),
            );
            match thread {
                ThreadUnread::None => {
                    Self::bump_pending(batch, key, &document, pending.as_deref(), &m.bump, &new.at)?
                }
                _ => {
                    let mut sub = super::subscriptions::merged(&document, pending.as_deref())?;
                    counters::bump_subscription(&mut sub, &m.bump, thread, &new.at);
                    Self::update_subscription(batch, &sub);
                }
            }
            members.insert(m.user_id.as_str());
        }
        Ok(members)
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
