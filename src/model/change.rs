//! The typed events of the change feed (`store/feed.rs`): what one committed write changed,
//! as the realtime streams need it. Pure data; the store derives them from each write's
//! batch, so that no write path can forget to announce itself.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Message, Room, Subscription};

/// One event with its place in the feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    /// Commit order, gap-free per database: a consumer that sees a number skipped has
    /// missed an event (and gets a `Resync` instead).
    pub seq: u64,
    pub event: Event,
}

/// What a committed write did. Documents are the stored values after the write.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Event {
    MessageInserted {
        message: Message,
    },
    /// An edit, a reaction, a thread's counters, …
    MessageUpdated {
        message: Message,
    },
    MessageDeleted {
        room_id: String,
        message_id: String,
    },
    /// A subscription inserted or updated.
    SubscriptionChanged {
        subscription: Subscription,
    },
    SubscriptionRemoved {
        room_id: String,
        user_id: String,
        subscription_id: String,
    },
    /// A room inserted or updated.
    RoomChanged {
        #[serde(with = "shared")]
        room: Arc<Room>,
    },
    RoomRemoved {
        room_id: String,
    },
    /// The user's document or password changed (roles, active, names, …).
    UserChanged {
        user_id: String,
    },
    /// Sessions ended: a logout, a deactivation, a password change.
    LoginTokensRemoved {
        user_id: String,
        token_hashes: Vec<String>,
    },
    /// A team, a membership or the rooms of a team changed (one event per write): who may
    /// read a public room of a team may have changed with it.
    TeamsChanged,
    /// Settings or permissions changed (processes that keep them load them again).
    SettingsChanged,
    /// Events may have been missed (the feed's listener lost its place, a consumer lagged,
    /// a bulk write such as an import or a testing reset): consumers rebuild what they hold.
    Resync,
}

/// Serde for an `Arc<Room>` without serde's `rc` feature for the whole crate.
mod shared {
    use super::*;

    pub fn serialize<S: serde::Serializer>(room: &Arc<Room>, s: S) -> Result<S::Ok, S::Error> {
        room.as_ref().serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Arc<Room>, D::Error> {
        Room::deserialize(d).map(Arc::new)
    }
}
