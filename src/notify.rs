//! Glue between stored documents and the notification rules, shared by push.get and the
//! push sender: it reads the settings and documents into the rules' plain views.

use serde_json::value::RawValue;

use crate::model::message::MessageView as StoredMessage;
use crate::model::user::{Identity, Names};
use crate::model::{Room, Subscription};
use crate::rules::notification::{
    self, build_notification, MessageView, Notification, NotificationSettings, ReceiverView,
    RoomView, SenderView,
};
use crate::rules::text::{FirstAttachment, Mention};
use crate::settings::Settings;

/// The settings that shape a notification, read once.
#[derive(Debug, Clone, Default)]
pub struct NotifySettings {
    push_show_username_room: bool,
    push_show_message: bool,
    ui_use_real_name: bool,
    ui_allow_room_names_with_special_chars: bool,
    site_url: String,
    favicon_192_url: Option<String>,
    pub unique_id: String,
}

impl NotifySettings {
    pub fn read(s: &Settings) -> NotifySettings {
        NotifySettings {
            push_show_username_room: s.bool("Push_show_username_room"),
            push_show_message: s.bool("Push_show_message"),
            ui_use_real_name: s.bool("UI_Use_Real_Name"),
            ui_allow_room_names_with_special_chars: s
                .bool("UI_Allow_room_names_with_special_chars"),
            site_url: s.string("Site_Url"),
            favicon_192_url: s.favicon_192_url(),
            unique_id: s.string("uniqueID"),
        }
    }

    fn view(&self) -> NotificationSettings<'_> {
        NotificationSettings {
            push_show_username_room: self.push_show_username_room,
            push_show_message: self.push_show_message,
            ui_use_real_name: self.ui_use_real_name,
            ui_allow_room_names_with_special_chars: self.ui_allow_room_names_with_special_chars,
            site_url: &self.site_url,
            favicon_192_url: self.favicon_192_url.as_deref(),
            unique_id: &self.unique_id,
        }
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
pub fn needs_receiver_subscription(room: &Room) -> bool {
    notification::needs_receiver_subscription(&room_view(room, &[]))
}

/// Everything a notification is built from.
pub struct Parts<'a> {
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

/// Builds the notification for `parts` and hands it to `use_it` (it borrows from the parts).
pub fn with_notification<R>(
    settings: &NotifySettings,
    parts: &Parts,
    use_it: impl FnOnce(&Notification) -> R,
) -> R {
    let m = parts.message;
    let mentions: Vec<Mention> = m
        .mentions
        .iter()
        .map(|x| Mention {
            username: x.username.as_deref(),
            name: x.name.as_deref(),
        })
        .collect();
    let first_attachment = m
        .attachments
        .as_ref()
        .and_then(|a| a.first())
        .and_then(FirstAttachment::from_json);
    let muted = parts.room.muted();
    let notification = build_notification(
        &settings.view(),
        &MessageView {
            id: &m.id,
            rid: &m.rid,
            msg: m.msg.as_deref(),
            t: m.t.as_deref(),
            tmid: m.tmid.as_deref(),
            mentions: &mentions,
            first_attachment,
            u_id: parts.sender_id,
            u: parts.sender_doc,
            content: m.content,
        },
        &room_view(parts.room, &muted),
        &ReceiverView {
            username: parts.receiver.username.as_deref(),
            subscription_name: parts.receiver_subscription.and_then(|s| s.name()),
        },
        &SenderView {
            username: parts.sender.username.as_deref(),
            name: parts.sender.name.as_deref(),
        },
        parts.badge,
    );
    use_it(&notification)
}
