//! Which members of a room get a push for a new message, and what is queued for each of
//! their devices. Runs inside the message's write, so the pushes are stored atomically with
//! the message (the transactional outbox).

use std::sync::Arc;

use serde_json::Value;

use crate::model::push_token::Service;
use crate::model::user::Identity;
use crate::model::{id, DocExt, Message, Room, Subscription};
use crate::notify::{with_notification, NotifySettings, Parts};
use crate::rules::access::Permissions;
use crate::rules::push::{message_push_body, should_notify_mobile, MobileFacts, Target};
use crate::settings::Settings;
use crate::store::{PendingPush, Store, StoreError, StoreResult};

/// Everything about a new message that the per-member decision needs, read before the write.
pub struct MessagePushes {
    /// `Push_enable` and `Push_enable_gateway`: rcpush delivers through a gateway only.
    enabled: bool,
    id_only: bool,
    default_preference: String,
    settings: Arc<NotifySettings>,
    message: Message,
    room: Room,
    sender: Arc<Identity>,
    mentioned_ids: Vec<String>,
    group_mention: bool,
    permissions: Arc<Permissions>,
    now: i64,
}

impl MessagePushes {
    #[allow(clippy::too_many_arguments)]
    pub fn prepare(
        settings: &Settings,
        permissions: Arc<Permissions>,
        message: Message,
        room: Room,
        sender: Arc<Identity>,
        mentioned_ids: Vec<String>,
        group_mention: bool,
        now: i64,
    ) -> MessagePushes {
        MessagePushes {
            enabled: settings.bool("Push_enable") && settings.bool("Push_enable_gateway"),
            id_only: settings.bool("Push_request_content_from_server"),
            default_preference: settings
                .string("Accounts_Default_User_Preferences_pushNotifications"),
            settings: settings.notify(),
            message,
            room,
            sender,
            mentioned_ids,
            group_mention,
            permissions,
            now,
        }
    }

    /// The pushes for one member's devices. `sub` is the member's subscription as it will be
    /// stored with the message (so the badge counts this message).
    pub fn for_member(&self, store: &Store, sub: &Subscription) -> StoreResult<Vec<PendingPush>> {
        let uid = sub.user_id();
        if !self.enabled || uid == self.sender.id || !self.wants_push(sub) {
            return Ok(Vec::new());
        }
        let tokens = store.push_tokens_of_user(uid)?;
        let Some(receiver) = store.user_identity(uid)? else {
            return Ok(Vec::new());
        };
        if tokens.is_empty()
            || (self.room.t() == "d" && !self.permissions.has("view-d-room", &receiver.roles()))
        {
            return Ok(Vec::new());
        }
        let old_unread = store
            .subscription(sub.rid(), uid)?
            .map_or(0, |s| s.unread());
        let badge = store.badge(uid)? - old_unread + sub.unread();
        let view = self.message.view().map_err(|e| StoreError::Corrupt {
            tree: "messageid_message",
            detail: e.to_string(),
        })?;
        let Some(sender_doc) = view.u else {
            return Ok(Vec::new());
        };
        let parts = Parts {
            message: &view,
            sender_doc,
            sender_id: &self.sender.id,
            sender: &self.sender.names(),
            room: &self.room,
            receiver: &receiver,
            receiver_subscription: Some(sub),
            badge,
        };
        let created_at = crate::model::time::iso(self.now);
        Ok(with_notification(&self.settings, &parts, |n| {
            tokens
                .iter()
                .filter_map(|t| {
                    let (service, device_token) = t.device()?;
                    let target = Target {
                        receiver_id: uid,
                        apn_topic: (service == Service::Apn).then(|| t.app_name()),
                        device_token,
                    };
                    Some(PendingPush {
                        id: id::new_id(),
                        service: service.code().into(),
                        token: device_token.into(),
                        body: message_push_body(
                            n,
                            target,
                            self.id_only,
                            &self.settings.unique_id,
                            &created_at,
                        ),
                        user_id: uid.into(),
                        attempts: 0,
                        due: self.now,
                    })
                })
                .collect()
        }))
    }

    /// The member's own settings: notifications disabled, the sender ignored, group mentions
    /// muted, and the mobile preference (`mobilePushNotifications`).
    fn wants_push(&self, sub: &Subscription) -> bool {
        let mentioned = self.mentioned_ids.iter().any(|m| m == sub.user_id());
        let ignored = sub.0.strs_at("ignored").contains(&self.sender.id.as_str());
        if sub.0.bool_at("disableNotifications")
            || ignored
            || (sub.0.bool_at("muteGroupMentions") && self.group_mention && !mentioned)
        {
            return false;
        }
        should_notify_mobile(&MobileFacts {
            push_enabled: true,
            preference: sub.0.get("mobilePushNotifications").and_then(Value::as_str),
            default_preference: &self.default_preference,
            room_type: self.room.t(),
            mentions_member: mentioned,
            mentions_all: self.group_mention,
        })
    }
}
