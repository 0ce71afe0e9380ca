//! Which members of a room get a push for a new message, and the one outbox record drafted
//! for them: each body drafted once for every receiver it is the same for, and each
//! receiver's devices, taken from the room's snapshot of devices (`Store::room_devices`),
//! which the record refers to rather than copies. Runs before the message's write, outside
//! its lock: the write queues
//! the record with the badge each receiver has once it is applied (the transactional
//! outbox), and `queued` then hands it to delivery.

use super::access::message_view;
use super::blocking::blocking_write;
use super::notification::{Inputs, Parts};
use super::permits::Permits;
use crate::delivery::gateway::rules::message_push_body;
use crate::delivery::Delivery;
use crate::error::{ApiError, ApiResult};
use crate::model::id::Ids;
use crate::model::push_token::PushToken;
use crate::model::user::Identity;
use crate::model::{time, Message, Room, RoomType, Subscription};
use crate::rules::push::{should_notify_mobile, MobileFacts, PushPreference, SharedBody};
use crate::settings::Snapshot;
use crate::store::{
    Device, DraftsView, OutboxRecord, QueuedBody, Receiver, Shared, SnapshotDevice, SnapshotMember,
};

/// What the per-member decision needs to know about a new message.
pub(super) struct NewMessageFacts<'a> {
    pub message: &'a Message,
    pub room: &'a Room,
    pub sender: &'a Identity,
    pub mentioned_ids: &'a [String],
    pub group_mention: bool,
    pub now: time::Millis,
}

/// Drafting pushes and handing queued ones to delivery: what messages (a new message's
/// pushes) and push (push.test) share.
#[derive(Clone)]
pub struct PushDrafts {
    pub(super) store: DraftsView,
    pub(super) permits: Permits,
    pub(super) ids: Ids,
    pub(super) delivery: Delivery,
}

impl PushDrafts {
    /// Hands the record a write has just queued to delivery. In testing mode its pushes are
    /// captured and it is taken out of the outbox at once, so that a database later served
    /// outside testing mode never sends them.
    pub(super) async fn queued(&self, record: Option<OutboxRecord>) -> ApiResult<()> {
        let Some(record) = record else {
            return Ok(());
        };
        self.delivery.queued(&record);
        if self.delivery.captures() {
            blocking_write(&self.store, move |s| {
                s.discard_pushes(&[record.id.as_str()])
            })
            .await?;
        }
        Ok(())
    }

    /// The devices of `tokens` as an outbox record holds them, each with a push id of its
    /// own, due at `now`.
    pub(super) fn devices(&self, tokens: &[PushToken], now: time::Millis) -> Vec<Device> {
        tokens
            .iter()
            .filter_map(SnapshotDevice::of)
            .map(|d| Device::new(self.ids.id(), &d, now, None))
            .collect()
    }

    /// The record for every member in `members` (their subscriptions as read before the
    /// write) whose preferences and devices call for a push; `None` if nobody's do.
    pub(super) fn draft_message_pushes(
        &self,
        settings: &Snapshot,
        facts: &NewMessageFacts,
        members: &[Subscription],
    ) -> ApiResult<Option<OutboxRecord>> {
        // The gateway body is queued in either mode: direct delivery sends its contents.
        if !settings.push_enable {
            return Ok(None);
        }
        let view = message_view(facts.message, "(new)")?;
        let Some(sender_doc) = view.u else {
            return Ok(None);
        };
        let sender_names = facts.sender.names();
        let created_at = time::iso(facts.now);
        // The room's devices now, shared with its other messages' records until they change.
        let shared = self.store.room_devices(facts.room.id())?;
        let wanting: Vec<(&Subscription, &SnapshotMember)> = members
            .iter()
            .filter(|sub| sub.user_id() != facts.sender.id && wants_push(settings, facts, sub))
            .filter_map(|sub| Some((sub, shared.member(sub.user_id())?.1)))
            .collect();
        let ids: Vec<&str> = wanting.iter().map(|(sub, _)| sub.user_id()).collect();
        let mut receivers_found = self.store.user_identities(&ids)?.into_iter();
        let mut bodies: Vec<SharedBody> = Vec::new();
        let mut receivers = Vec::new();
        for (sub, member) in wanting {
            let Some(receiver) = receivers_found.next().flatten() else {
                continue;
            };
            if facts.room.room_type() == RoomType::Direct
                && !self.permits.has("view-d-room", &receiver.roles())
            {
                continue;
            }
            let parts = Parts {
                message: &view,
                sender_doc,
                sender_id: &facts.sender.id,
                sender: &sender_names,
                room: facts.room,
                receiver: &receiver,
                receiver_subscription: Some(sub),
                badge: 0,
            };
            let inputs = Inputs::of(settings, &parts);
            let notification = inputs.notification();
            let body = message_push_body(
                &notification,
                settings.push_request_content_from_server,
                &settings.unique_id,
                &created_at,
            )
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("push body not laid out")))?;
            let devices: Vec<Device> = member
                .devices
                .iter()
                .enumerate()
                .map(|(slot, d)| Device::new(self.ids.id(), d, facts.now, Some(slot)))
                .collect();
            // Receivers of one room mostly share their notification: it is kept once.
            let body = match bodies.iter().position(|b| *b == body) {
                Some(at) => at,
                None => {
                    bodies.push(body);
                    bodies.len() - 1
                }
            };
            receivers.push(Receiver {
                user_id: sub.user_id().into(),
                badge: 0,
                body,
                devices,
            });
        }
        let Some(id) = receivers.first().and_then(|r| r.devices.first()) else {
            return Ok(None);
        };
        // Named after its first push.
        Ok(Some(OutboxRecord {
            id: id.id.clone(),
            rid: Some(facts.room.id().to_string()),
            bodies: bodies.into_iter().map(QueuedBody::Shared).collect(),
            receivers,
            shared: Some(Shared {
                devices: shared.clone(),
                due: facts.now,
            }),
        }))
    }
}

/// The member's own settings: notifications disabled, the sender ignored, group mentions
/// muted, and the mobile preference (`mobilePushNotifications`).
fn wants_push(settings: &Snapshot, facts: &NewMessageFacts, sub: &Subscription) -> bool {
    let mentioned = facts.mentioned_ids.iter().any(|m| m == sub.user_id());
    if sub.disable_notifications()
        || sub.ignores(&facts.sender.id)
        || (sub.mute_group_mentions() && facts.group_mention && !mentioned)
    {
        return false;
    }
    should_notify_mobile(&MobileFacts {
        push_enabled: true,
        preference: sub
            .mobile_push_notifications()
            .and_then(PushPreference::parse),
        default_preference: settings.default_push_preference,
        room_type: facts.room.t(),
        mentions_member: mentioned,
        mentions_all: facts.group_mention,
    })
}
