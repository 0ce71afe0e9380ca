//! Which members of a room get a push for a new message, and what is drafted for each of
//! their devices. Runs before the message's write, outside its lock: the write queues the
//! drafts with the badge each receiver has once it is applied (the transactional outbox),
//! and `queued` then hands them to delivery.

use super::access::message_view;
use super::blocking::blocking_write;
use super::notification::{Inputs, Parts};
use super::permits::Permits;
use crate::delivery::gateway::rules::{message_push_body, Target};
use crate::delivery::Delivery;
use crate::error::ApiResult;
use crate::model::id::Ids;
use crate::model::push_token::Service;
use crate::model::user::Identity;
use crate::model::{time, Message, Room, RoomType, Subscription};
use crate::rules::push::{should_notify_mobile, MobileFacts, PushPreference};
use crate::settings::Snapshot;
use crate::store::{DraftsView, Finish, PendingPush, PushDraft};

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
    /// Hands pushes a write has just queued to delivery. In testing mode they are captured
    /// and taken out of the outbox at once, so that a database later served outside
    /// testing mode never sends them.
    pub(super) async fn queued(&self, pushes: Vec<PendingPush>) -> ApiResult<()> {
        self.delivery.queued(&pushes);
        if self.delivery.captures() && !pushes.is_empty() {
            blocking_write(&self.store, move |s| {
                let done: Vec<_> = pushes.iter().map(|p| (p, Finish::Done)).collect();
                s.finish_pushes(&done, &[])
            })
            .await?;
        }
        Ok(())
    }

    /// The drafts for every member in `members` (their subscriptions as read before the
    /// write) whose preferences and devices call for a push.
    pub(super) fn draft_message_pushes(
        &self,
        settings: &Snapshot,
        facts: &NewMessageFacts,
        members: &[Subscription],
    ) -> ApiResult<Vec<PushDraft>> {
        // The gateway body is queued in either mode: direct delivery sends its contents.
        if !settings.push_enable {
            return Ok(Vec::new());
        }
        let view = message_view(facts.message, "(new)")?;
        let Some(sender_doc) = view.u else {
            return Ok(Vec::new());
        };
        let sender_names = facts.sender.names();
        let created_at = time::iso(facts.now);
        let mut drafts = Vec::new();
        let wanting: Vec<&Subscription> = members
            .iter()
            .filter(|sub| sub.user_id() != facts.sender.id && wants_push(settings, facts, sub))
            .collect();
        let ids: Vec<&str> = wanting.iter().map(|sub| sub.user_id()).collect();
        let devices = self.store.push_tokens_of_users(&ids)?;
        let with_devices: Vec<&str> = ids
            .iter()
            .zip(&devices)
            .filter(|(_, tokens)| !tokens.is_empty())
            .map(|(id, _)| *id)
            .collect();
        let mut receivers = self.store.user_identities(&with_devices)?.into_iter();
        for (sub, tokens) in wanting.into_iter().zip(devices) {
            let uid = sub.user_id();
            if tokens.is_empty() {
                continue;
            }
            let Some(receiver) = receivers.next().flatten() else {
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
            for t in &tokens {
                let Some((service, device_token)) = t.device() else {
                    continue;
                };
                let target = Target {
                    receiver_id: uid,
                    apn_topic: (service == Service::Apn).then(|| t.app_name()),
                    device_token,
                };
                drafts.push(PushDraft {
                    id: self.ids.id(),
                    service,
                    token: device_token.into(),
                    user_id: uid.into(),
                    body: message_push_body(
                        &notification,
                        target,
                        settings.push_request_content_from_server,
                        &settings.unique_id,
                        &created_at,
                    ),
                    due: facts.now,
                    rid: facts.room.id().to_string(),
                });
            }
        }
        Ok(drafts)
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
