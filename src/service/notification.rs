//! Glue between stored documents and the notification rules, shared by push.get and the
//! message pushes: it reads the settings and documents into the rules' plain views.

use serde_json::value::RawValue;

use crate::model::message::MessageView as StoredMessage;
use crate::model::user::{Identity, Names};
use crate::model::{Room, Subscription};
use crate::rules::notification::{
    self, build_notification, MessageView, Notification, NotificationSettings, ReceiverView,
    RoomView, SenderView,
};
use crate::rules::text::{FirstAttachment, Mention};
use crate::settings::Snapshot;

fn settings_view(s: &Snapshot) -> NotificationSettings<'_> {
    NotificationSettings {
        push_show_username_room: s.push_show_username_room,
        push_show_message: s.push_show_message,
        ui_use_real_name: s.ui_use_real_name,
        ui_allow_room_names_with_special_chars: s.ui_allow_room_names_with_special_chars,
        site_url: &s.site_url,
        favicon_192_url: s.favicon_192_url.as_deref(),
        unique_id: &s.unique_id,
    }
}

fn room_view<'a>(room: &'a Room, muted: &'a [&'a str]) -> RoomView<'a> {
    RoomView {
        t: room.t(),
        name: room.name(),
        fname: room.fname(),
        prid: room.prid(),
        ro: room.read_only(),
        muted,
        uids_len: room.uids().len(),
    }
}

/// Whether a notification for `room` needs the receiver's subscription (rarely: see
/// `notification::needs_receiver_subscription`), so callers can skip the lookup.
pub(super) fn needs_receiver_subscription(room: &Room) -> bool {
    notification::needs_receiver_subscription(&room_view(room, &[]))
}

/// `apn.category` of a notification in `room` for `receiver`.
pub(super) fn apn_category(room: &Room, receiver: &Identity) -> &'static str {
    notification::apn_category(
        room.read_only(),
        &room.muted(),
        receiver.username.as_deref(),
    )
}

/// Everything a notification is built from.
pub(super) struct Parts<'a> {
    pub message: &'a StoredMessage<'a>,
    /// The message's `u` object, emitted verbatim as `payload.sender`.
    pub sender_doc: &'a RawValue,
    pub sender_id: &'a str,
    pub sender: &'a Names,
    pub room: &'a Room,
    pub receiver: &'a Identity,
    pub receiver_subscription: Option<&'a Subscription>,
    pub badge: i64,
}

/// The parts with the lists the rules borrow from them (mentions, muted usernames): made
/// first, so that the notification, which borrows them, can be returned.
pub(super) struct Inputs<'a> {
    settings: &'a Snapshot,
    parts: &'a Parts<'a>,
    mentions: Vec<Mention<'a>>,
    muted: Vec<&'a str>,
}

impl<'a> Inputs<'a> {
    pub(super) fn of(settings: &'a Snapshot, parts: &'a Parts<'a>) -> Inputs<'a> {
        let mentions = parts
            .message
            .mentions
            .iter()
            .map(|x| Mention {
                username: x.username.as_deref(),
                name: x.name.as_deref(),
            })
            .collect();
        Inputs {
            settings,
            parts,
            mentions,
            muted: parts.room.muted(),
        }
    }

    /// The notification the rules build from these inputs.
    pub(super) fn notification(&self) -> Notification<'_> {
        let parts = self.parts;
        let m = parts.message;
        let first_attachment = m
            .attachments
            .as_ref()
            .and_then(|a| a.first())
            .and_then(FirstAttachment::from_json);
        build_notification(
            &settings_view(self.settings),
            &MessageView {
                id: &m.id,
                rid: &m.rid,
                msg: m.msg.as_deref(),
                t: m.t.as_deref(),
                tmid: m.tmid.as_deref(),
                mentions: &self.mentions,
                first_attachment,
                u_id: parts.sender_id,
                u: parts.sender_doc,
                content: m.content,
            },
            &room_view(parts.room, &self.muted),
            &ReceiverView {
                username: parts.receiver.username.as_deref(),
                subscription_name: parts.receiver_subscription.and_then(|s| s.name()),
            },
            &SenderView {
                username: parts.sender.username.as_deref(),
                name: parts.sender.name.as_deref(),
            },
            parts.badge,
        )
    }
}
