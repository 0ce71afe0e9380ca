use std::sync::Arc;

use super::trees::Tree;
use super::{Conflict, PendingPush, Store, StoreResult};
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
    /// `on_room` / `on_member` change (counters, last message, unread) and the pushes
    /// `on_member` queues (the outbox). `on_member` returns whether it changed the
    /// subscription. Returns the number of pushes queued.
    pub fn insert_message(
        &self,
        message: &Message,
        id: &str,
        room_id: &str,
        on_room: impl FnOnce(&mut Room),
        mut on_member: impl FnMut(&Store, &mut Subscription) -> StoreResult<(bool, Vec<PendingPush>)>,
    ) -> StoreResult<Result<usize, Conflict>> {
        self.write(|store, batch| {
            if store
                .engine
                .get(Tree::MessageidMessage, id.as_bytes())?
                .is_some()
            {
                return Ok(Err(Conflict::Id));
            }
            Self::put_message(batch, message, id);
            if let Some(room) = store.room(room_id)? {
                let mut room = Arc::unwrap_or_clone(room);
                on_room(&mut room);
                Self::put_room(batch, &room);
            }
            let mut queued = 0;
            for uid in store.room_member_ids(room_id)? {
                if let Some(mut sub) = store.subscription(room_id, &uid)? {
                    let (changed, pushes) = on_member(store, &mut sub)?;
                    if changed {
                        Self::put_subscription(batch, &sub);
                    }
                    for p in &pushes {
                        Self::put_push(batch, p);
                    }
                    queued += pushes.len();
                }
            }
            Ok(Ok(queued))
        })
    }

    pub(super) fn put_message(batch: &mut super::Batch, message: &Message, id: &str) {
        batch.put(
            Tree::MessageidMessage,
            id,
            message.raw().get().as_bytes().to_vec(),
        );
    }
}
