//! What the realtime streams read: who a subscriber is, what they may read of a room
//! (push.get's access rules, `RoomAccess`), and a room's members.

use std::sync::Arc;

use super::access::{room_facts, RoomAccess};
use super::permits::Permits;
use super::Services;
use crate::error::ApiResult;
use crate::model::time::{Clock, Millis};
use crate::model::user::Identity;
use crate::model::{Room, Subscription, User};
use crate::rules::streams::Reader;
use crate::store::StreamsView;

/// The streams' area: reads only; the streams write nothing.
#[derive(Clone)]
pub struct StreamReads {
    store: StreamsView,
    access: RoomAccess,
    permits: Permits,
    clock: Clock,
}

impl StreamReads {
    pub(super) fn new(
        store: StreamsView,
        access: RoomAccess,
        permits: Permits,
        clock: Clock,
    ) -> StreamReads {
        StreamReads {
            store,
            access,
            permits,
            clock,
        }
    }

    /// The server's time (testing mode's clock in a deterministic run).
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    pub fn subscription(&self, room_id: &str, user_id: &str) -> ApiResult<Option<Subscription>> {
        Ok(self.store.subscription(room_id, user_id)?)
    }

    /// The user's roles and names; `None` for a user who no longer exists.
    pub fn identity(&self, user_id: &str) -> ApiResult<Option<Arc<Identity>>> {
        Ok(self.store.user_identity(user_id)?)
    }

    /// The user's document (its status, for `user-status`).
    pub fn user(&self, user_id: &str) -> ApiResult<Option<User>> {
        Ok(self.store.user(user_id)?)
    }

    pub fn room(&self, room_id: &str) -> ApiResult<Option<Arc<Room>>> {
        Ok(self.store.room(room_id)?)
    }

    /// The users with a subscription to the room.
    pub fn members(&self, room_id: &str) -> ApiResult<Vec<String>> {
        Ok(self.store.room_member_ids(room_id)?)
    }

    /// What `user` is to `room`: `canAccessRoom`, and whether they are a member. Their
    /// memberships are what `known` says (room id → member or not), else the store's.
    pub fn reader(
        &self,
        user: &Identity,
        room: &Room,
        known: &dyn Fn(&str) -> Option<bool>,
    ) -> ApiResult<Reader> {
        let subscribed = |rid: &str| match known(rid) {
            Some(member) => Ok(member),
            None => Ok(self.store.subscription(rid, &user.id)?.is_some()),
        };
        let can_access =
            self.access
                .can_read_given(user, room.id(), room_facts(room), &subscribed)?;
        Ok(Reader::from_facts(can_access, subscribed(room.id())?))
    }

    /// Whether the user's global roles hold `permission`.
    pub fn holds(&self, user: &Identity, permission: &str) -> bool {
        self.permits.has(permission, &user.roles())
    }

    /// Moves whenever the permission table may have changed: access decisions made under
    /// another generation may be stale.
    pub fn permissions_generation(&self) -> u64 {
        self.permits.generation()
    }
}

impl Services {
    /// The realtime streams' reads.
    pub fn streams(&self) -> &StreamReads {
        &self.streams
    }
}
