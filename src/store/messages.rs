use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::trees::Tree;
use super::{Conflict, PushDraft, Store, StoreResult};
use crate::model::Message;
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
    /// The pushes for members' devices, waiting for their badges.
    pub pushes: Vec<PushDraft>,
    /// For a thread reply: what it does to its thread.
    pub thread: Option<ThreadReply>,
    /// The sender joining the (public) room first, with its `uj` message, unless they are
    /// a member by then (`chat.postMessage`'s `joinChannel`).
    pub join: Option<(crate::model::Subscription, SystemMessage)>,
}

/// A thread reply's effect on its thread (Rocket.Chat's threads `reply`), decided inside the
/// write: the parent message gains the replier (on the first reply, its author too) and the
/// mentioned users in `replies`, `tcount` + 1 and `tlm`; the other followers get the thread
/// in `tunread`, and in `tunreadGroup` when the reply says @all or @here.
pub struct ThreadReply {
    pub tmid: String,
    pub sender_id: String,
    pub mentioned_ids: Vec<String>,
    pub group_mention: bool,
}

/// What a message does to one member's subscription: `unread`, `userMentions` and
/// `groupMentions` grow by the bump; `alert` and `open` become true; a thread reply that
/// mentions the member adds its thread to `tunread` and `tunreadUser`.
pub struct MemberBump {
    pub user_id: String,
    pub bump: Bump,
    /// The thread (`tmid`) of a reply that mentions this member.
    pub mentioned_in_thread: Option<String>,
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
    pub fn new(id: String, doc: crate::model::Doc) -> Result<SystemMessage, serde_json::Error> {
        let at = doc
            .get("ts")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let doc = Value::Object(doc);
        Ok(SystemMessage {
            message: Message::from_json(serde_json::to_vec(&doc)?)?,
            id,
            doc,
            at,
        })
    }
}

impl Store {
    /// Adds `note` to `room` (in `batch`): the message, `msgs` + 1, `lastMessage`, `lm`.
    pub(super) fn put_system_message(
        batch: &mut super::Batch,
        room: &mut crate::model::Room,
        note: &SystemMessage,
    ) {
        Self::put_message(batch, &note.message, &note.id);
        let msgs = room.0.get("msgs").and_then(Value::as_i64).unwrap_or(0);
        room.0.insert("msgs".into(), (msgs + 1).into());
        room.0.insert("lastMessage".into(), note.doc.clone());
        room.0.insert("lm".into(), note.at.clone().into());
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
    /// an increment. A push is queued only for a member whose subscription still exists,
    /// with the badge that member has once this write is applied. Returns the pushes queued.
    pub fn insert_message(
        &self,
        new: &NewMessage,
    ) -> StoreResult<Result<Vec<super::PendingPush>, Conflict>> {
        self.write_then(
            |store, batch| {
                if store.has_message(&new.id)? {
                    return Ok(None);
                }
                Self::put_message(batch, &new.message, &new.id);
                if let Some(room) = store.room(&new.room_id)? {
                    let mut room = Arc::unwrap_or_clone(room);
                    if let Some((sub, note)) = &new.join {
                        if store.subscription(&new.room_id, sub.user_id())?.is_none() {
                            Self::put_subscription(batch, sub);
                            Self::put_system_message(batch, &mut room, note);
                            let n = room
                                .0
                                .get("usersCount")
                                .and_then(Value::as_i64)
                                .unwrap_or(0);
                            room.0.insert("usersCount".into(), (n + 1).into());
                        }
                    }
                    let msgs = room.0.get("msgs").and_then(Value::as_i64).unwrap_or(0);
                    room.0.insert("msgs".into(), (msgs + 1).into());
                    room.0.insert("_updatedAt".into(), new.at.clone().into());
                    room.0
                        .insert("lastMessage".into(), new.last_message.clone());
                    room.0.insert("lm".into(), new.at.clone().into());
                    Self::put_room(batch, &room);
                }
                let followers = match &new.thread {
                    Some(reply) => Self::reply_to_thread(store, batch, reply, &new.at)?,
                    None => BTreeSet::new(),
                };
                let mut members = BTreeSet::new();
                let keys: Vec<Vec<u8>> = new
                    .bumps
                    .iter()
                    .map(|m| super::keys::pair(&m.user_id, &new.room_id))
                    .collect();
                let stored = store.engine.get_many(Tree::UserroomidSubscription, &keys)?;
                for (m, stored) in new.bumps.iter().zip(stored) {
                    let Some(bytes) = stored else {
                        continue;
                    };
                    let mut sub: crate::model::Subscription =
                        super::decode(Tree::UserroomidSubscription, &bytes)?;
                    let add = |doc: &mut crate::model::Doc, key: &str, by: i64| {
                        let n = doc.get(key).and_then(Value::as_i64).unwrap_or(0);
                        doc.insert(key.into(), (n + by).into());
                    };
                    add(&mut sub.0, "unread", m.bump.unread);
                    add(&mut sub.0, "userMentions", m.bump.user_mentions);
                    add(&mut sub.0, "groupMentions", m.bump.group_mentions);
                    sub.0.insert("alert".into(), true.into());
                    sub.0.insert("open".into(), true.into());
                    if let Some(tmid) = &m.mentioned_in_thread {
                        for key in ["tunread", "tunreadUser"] {
                            add_to_set(&mut sub.0, key, tmid);
                        }
                    } else if let Some(reply) = new
                        .thread
                        .as_ref()
                        .filter(|_| followers.contains(&m.user_id))
                    {
                        add_to_set(&mut sub.0, "tunread", &reply.tmid);
                        if reply.group_mention {
                            add_to_set(&mut sub.0, "tunreadGroup", &reply.tmid);
                        }
                    }
                    sub.0.insert("_updatedAt".into(), new.at.clone().into());
                    Self::update_subscription(batch, &sub);
                    members.insert(m.user_id.as_str());
                }
                Ok(Some(members))
            },
            |badges, batch, members| {
                let Some(members) = members else {
                    return Err(Conflict::Id);
                };
                let mut queued = Vec::new();
                for draft in &new.pushes {
                    if members.contains(draft.user_id.as_str()) {
                        let badge = badges.get(&draft.user_id).copied().unwrap_or(0);
                        let push = draft.complete(badge);
                        Self::put_push(batch, &push);
                        queued.push(push);
                    }
                }
                Ok(queued)
            },
            true,
        )
    }

    /// Replaces an existing message with its edited form; the room's `lastMessage` follows
    /// when it is this message (decided inside the write). `false` if the message is gone.
    pub fn update_message(&self, id: &str, room_id: &str, edited: &Message) -> StoreResult<bool> {
        self.write(|store, batch| {
            if !store.has_message(id)? {
                return Ok(false);
            }
            Self::put_message(batch, edited, id);
            if let Some(room) = store.room(room_id)? {
                if last_message_id(&room) == Some(id) {
                    let mut room = Arc::unwrap_or_clone(room);
                    let doc: Value = serde_json::from_str(edited.raw().get())
                        .map_err(|e| super::corrupt(Tree::MessageidMessage, e))?;
                    room.0.insert("lastMessage".into(), doc);
                    Self::put_room(batch, &room);
                }
            }
            Ok(true)
        })
    }

    /// Removes a message: the room's `msgs` goes down by one, and its `lastMessage` is
    /// dropped when it was this message (rcpush keeps no per-room message order to find the
    /// one before). `false` if the message was already gone.
    pub fn delete_message(&self, id: &str, room_id: &str, at: &str) -> StoreResult<bool> {
        self.write(|store, batch| {
            if !store.has_message(id)? {
                return Ok(false);
            }
            batch.delete(Tree::MessageidMessage, id);
            if let Some(room) = store.room(room_id)? {
                let mut room = Arc::unwrap_or_clone(room);
                if last_message_id(&room) == Some(id) {
                    room.0.shift_remove("lastMessage");
                }
                let msgs = room.0.get("msgs").and_then(Value::as_i64).unwrap_or(0);
                room.0.insert("msgs".into(), (msgs - 1).max(0).into());
                room.0.insert("_updatedAt".into(), at.into());
                Self::put_room(batch, &room);
            }
            Ok(true)
        })
    }

    /// Updates the thread's parent message for `reply` and returns the followers to tell
    /// (everyone in `replies` but the replier and the users it mentions). No parent, no
    /// followers.
    fn reply_to_thread(
        store: &Store,
        batch: &mut super::Batch,
        reply: &ThreadReply,
        at: &str,
    ) -> StoreResult<BTreeSet<String>> {
        let Some(parent) = store.message(&reply.tmid)? else {
            return Ok(BTreeSet::new());
        };
        let corrupt = |e| super::corrupt(Tree::MessageidMessage, e);
        let mut doc: crate::model::Doc =
            serde_json::from_str(parent.raw().get()).map_err(corrupt)?;
        let mut replies: Vec<String> = doc
            .get("replies")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let author = doc
            .get("u")
            .and_then(|u| u.get("_id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let first = replies.is_empty().then_some(author).flatten();
        for id in first
            .into_iter()
            .chain([reply.sender_id.clone()])
            .chain(reply.mentioned_ids.iter().cloned())
        {
            if !replies.contains(&id) {
                replies.push(id);
            }
        }
        let tcount = doc.get("tcount").and_then(Value::as_i64).unwrap_or(0);
        // New fields arrive in MongoDB's order for an update: by name.
        doc.insert("replies".into(), replies.clone().into());
        doc.insert("tcount".into(), (tcount + 1).into());
        doc.insert("tlm".into(), at.into());
        doc.insert("_updatedAt".into(), at.into());
        let bytes = serde_json::to_vec(&doc).map_err(corrupt)?;
        Self::put_message(
            batch,
            &Message::from_json(bytes).map_err(corrupt)?,
            &reply.tmid,
        );
        Ok(replies
            .into_iter()
            .filter(|id| *id != reply.sender_id && !reply.mentioned_ids.contains(id))
            .collect())
    }

    pub(super) fn put_message(batch: &mut super::Batch, message: &Message, id: &str) {
        batch.put(
            Tree::MessageidMessage,
            id,
            message.raw().get().as_bytes().to_vec(),
        );
    }
}

/// The `_id` of the room's `lastMessage`, if it has one.
fn last_message_id(room: &crate::model::Room) -> Option<&str> {
    room.0
        .get("lastMessage")
        .and_then(|m| m.get("_id"))
        .and_then(Value::as_str)
}

/// MongoDB's `$addToSet` on an array field (created, at the end, if absent).
fn add_to_set(doc: &mut crate::model::Doc, key: &str, item: &str) {
    let set = doc.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(items) = set {
        if !items.iter().any(|i| i == item) {
            items.push(item.into());
        }
    }
}
