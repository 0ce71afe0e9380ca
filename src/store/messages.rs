use super::keys;
use super::trees::Tree;
use super::{Conflict, Store, StoreResult};
use crate::model::{Message, Room, Subscription};

impl Store {
    pub fn message(&self, id: &str) -> StoreResult<Option<Message>> {
        match self.engine.get(Tree::MessageidMessage, id.as_bytes())? {
            None => Ok(None),
            Some(bytes) => Message::from_json(bytes)
                .map(Some)
                .map_err(|e| super::corrupt(Tree::MessageidMessage, e)),
        }
    }

    /// Stores a new message and, in the same atomic write, the room and member subscriptions
    /// `on_room` / `on_member` change (counters, last message, unread).
    pub fn insert_message(
        &self,
        message: &Message,
        id: &str,
        room_id: &str,
        ts: i64,
        on_room: impl FnOnce(&mut Room),
        mut on_member: impl FnMut(&mut Subscription) -> bool,
    ) -> StoreResult<Result<(), Conflict>> {
        self.write(|store, batch| {
            if store
                .engine
                .get(Tree::MessageidMessage, id.as_bytes())?
                .is_some()
            {
                return Ok(Err(Conflict::Id));
            }
            Self::put_message(batch, message, id, room_id, ts);
            if let Some(mut room) = store.room(room_id)? {
                on_room(&mut room);
                Self::put_room(batch, &room);
            }
            for uid in store.room_member_ids(room_id)? {
                if let Some(mut sub) = store.subscription(room_id, &uid)? {
                    if on_member(&mut sub) {
                        Self::put_subscription(batch, &sub);
                    }
                }
            }
            Ok(Ok(()))
        })
    }

    pub(super) fn put_message(
        batch: &mut super::Batch,
        message: &Message,
        id: &str,
        room_id: &str,
        ts: i64,
    ) {
        batch.put(
            Tree::MessageidMessage,
            id,
            message.raw().get().as_bytes().to_vec(),
        );
        batch.put(
            Tree::Roomtsmessageids,
            keys::room_ts_message(room_id, ts, id),
            "",
        );
    }
}
