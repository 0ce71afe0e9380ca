//! The system messages that report who joined, left, was added, removed or renamed a room:
//! messages, rooms and users all write them, each in its own write.

use serde_json::Value;

use crate::model::id::Ids;
use crate::model::message::new_system_message;
use crate::model::time::Clock;
use crate::store::SystemMessage;

/// Makes system messages on the server's clock and ids; the areas that write them hold it.
#[derive(Clone)]
pub struct SystemMessages {
    pub(super) clock: Clock,
    pub(super) ids: Ids,
}

impl SystemMessages {
    /// A system message of type `t` in room `rid`: `msg` is the user or name it is about,
    /// `u` who did it.
    pub(super) fn message(&self, t: &str, rid: &str, msg: &str, u: Value) -> SystemMessage {
        let (id, doc) = new_system_message(t, rid, msg, u, self.clock.now(), &self.ids);
        SystemMessage::new(id, doc)
    }
}
