//! A room's messages, for `loadHistory`.

use super::trees::Tree;
use super::{Store, StoreResult};
use crate::model::Message;

impl Store {
    /// Every stored message of `room_id`, in no order. rcpush keeps no index of messages
    /// by room (see `erase_room`), so this walks every message once: history is read
    /// rarely by the bots that ask for it, and posting stays one write.
    pub fn room_messages(&self, room_id: &str) -> StoreResult<Vec<Message>> {
        #[derive(serde::Deserialize)]
        struct InRoom<'a> {
            #[serde(default, borrow)]
            rid: std::borrow::Cow<'a, str>,
        }
        let mut found = Vec::new();
        self.engine
            .visit_prefix(Tree::MessageidMessage, b"", &mut |_, value| {
                let message: InRoom = serde_json::from_slice(value)
                    .map_err(|e| super::corrupt(Tree::MessageidMessage, e))?;
                if message.rid == room_id {
                    found.push(
                        Message::from_json(value.to_vec())
                            .map_err(|e| super::corrupt(Tree::MessageidMessage, e))?,
                    );
                }
                Ok(true)
            })?;
        Ok(found)
    }
}
