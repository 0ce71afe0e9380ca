//! The caller's subscriptions: `subscriptions.get`, `getOne`, `read`.

use super::access::RoomAccess;
use super::auth::Caller;
use super::blocking::blocking_write;
use crate::error::{ApiError, ApiResult};
use crate::model::id::RoomId;
use crate::model::time::{self, Clock};
use crate::model::Subscription;
use crate::store::SubscriptionsView;

/// The subscriptions area: the caller's own subscriptions.
#[derive(Clone)]
pub struct Subscriptions {
    pub(super) store: SubscriptionsView,
    pub(super) access: RoomAccess,
    pub(super) clock: Clock,
}

impl Subscriptions {
    /// `subscriptions.get`: every subscription of the caller, or those updated after `since`.
    pub fn subscriptions(
        &self,
        caller: &Caller,
        since: Option<time::Millis>,
    ) -> ApiResult<Vec<Subscription>> {
        let updated_after = |s: &Subscription| match since {
            None => true,
            Some(t) => s.updated_at().is_some_and(|u| u > t),
        };
        Ok(self
            .store
            .subscriptions_of_user(caller.id())?
            .into_iter()
            .filter(updated_after)
            .collect())
    }

    /// `subscriptions.getOne`.
    pub fn subscription(
        &self,
        caller: &Caller,
        room_id: &RoomId,
    ) -> ApiResult<Option<Subscription>> {
        Ok(self.store.subscription(room_id, caller.id())?)
    }

    /// `subscriptions.read`: marks the room read for the caller, and its threads too with
    /// `read_threads`.
    pub async fn mark_read(
        &self,
        caller: &Caller,
        room_id: RoomId,
        read_threads: bool,
    ) -> ApiResult<()> {
        self.write_read(caller, room_id.to_string(), read_threads)
            .await?
            .ok_or(ApiError::InvalidSubscription)
    }

    /// `readMessages` (the Meteor method): as `subscriptions.read` for a room the caller may
    /// read; a readable room the caller is not in has nothing to mark.
    pub async fn read_messages(
        &self,
        caller: &Caller,
        room_id: &str,
        read_threads: bool,
    ) -> ApiResult<()> {
        let room = self
            .store
            .room(room_id)?
            .ok_or(ApiError::RoomDoesNotExist)?;
        if !self.access.can_read(&caller.identity, &room)? {
            return Err(ApiError::NotAllowedIn {
                method: "readMessages",
            });
        }
        self.write_read(caller, room_id.to_string(), read_threads)
            .await?;
        Ok(())
    }

    /// Marks `room_id` read for the caller now: `None` without a subscription.
    async fn write_read(
        &self,
        caller: &Caller,
        room_id: String,
        read_threads: bool,
    ) -> ApiResult<Option<()>> {
        let uid = caller.id().to_string();
        let at = time::iso(self.clock.now());
        Ok(blocking_write(&self.store, move |s| {
            s.mark_read(&room_id, &uid, &at, read_threads)
        })
        .await?)
    }
}
