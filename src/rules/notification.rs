//! `data.notification` of `push.get`: Rocket.Chat 7.x `getNotificationForMessageId`
//! (apps/meteor/app/push-notifications/server/lib/PushNotification.ts) with `getPushData`
//! (apps/meteor/app/lib/server/functions/notifications/mobile.ts), rocketchat-push.md §2.
//!
//! Pure: the caller reads the message, room, receiver, sender, settings and badge, and serialises
//! the returned [`Notification`] with `serde_json`, which yields Rocket.Chat's `JSON.stringify`
//! bytes (same key order, `undefined` keys left out).

use std::io::Write as _;

use serde::Serialize;
use serde_json::value::RawValue;

use super::js::js_trim;
use super::not_id;
use super::text::{self, FirstAttachment, Mention};
use crate::model::RoomType;

/// The settings that shape the notification (§2.3 table), already read from the settings store.
#[derive(Debug, Clone, Copy)]
pub struct NotificationSettings<'a> {
    /// `Push_show_username_room` (default true).
    pub push_show_username_room: bool,
    /// `Push_show_message` (default true).
    pub push_show_message: bool,
    /// `UI_Use_Real_Name` (default false).
    pub ui_use_real_name: bool,
    /// `UI_Allow_room_names_with_special_chars` (default false).
    pub ui_allow_room_names_with_special_chars: bool,
    /// `Site_Url`, as stored.
    pub site_url: &'a str,
    /// The `url` of the `Assets_favicon_192` setting when an admin uploaded one.
    pub favicon_192_url: Option<&'a str>,
    /// `uniqueID`.
    pub unique_id: &'a str,
}

/// The stored message, field by field as Rocket.Chat reads it.
#[derive(Debug, Clone, Copy)]
pub struct MessageView<'a> {
    /// `_id`.
    pub id: &'a str,
    pub rid: &'a str,
    /// `msg`; `None` only when the document has no `msg` key.
    pub msg: Option<&'a str>,
    /// `t`, the message type (`e2e`, `uj`, …).
    pub t: Option<&'a str>,
    pub tmid: Option<&'a str>,
    /// `mentions`, in stored order.
    pub mentions: &'a [Mention<'a>],
    /// Facts of `attachments[0]`.
    pub first_attachment: Option<FirstAttachment>,
    /// `u._id`: the sender, which push.get reports as `userId`.
    pub u_id: &'a str,
    /// `u` exactly as stored; it becomes `payload.sender`.
    pub u: &'a RawValue,
    /// `content` exactly as stored (end-to-end messages).
    pub content: Option<&'a RawValue>,
}

/// The message's room.
#[derive(Debug, Clone, Copy)]
pub struct RoomView<'a> {
    /// `t`: `c`, `p`, `d`, `l`, `v`, …
    pub t: &'a str,
    pub name: Option<&'a str>,
    pub fname: Option<&'a str>,
    /// `prid`: set on discussions.
    pub prid: Option<&'a str>,
    /// `ro === true`.
    pub ro: bool,
    /// `muted` usernames (empty when absent).
    pub muted: &'a [&'a str],
    /// `uids.length` (0 when absent); a DM with more than two is a group DM.
    pub uids_len: usize,
}

impl RoomView<'_> {
    /// `t` as the rules decide on it (the payload carries `t` as stored).
    fn room_type(&self) -> RoomType {
        RoomType::of(self.t)
    }
}

/// The user asking for the notification.
#[derive(Debug, Clone, Copy)]
pub struct ReceiverView<'a> {
    pub username: Option<&'a str>,
    /// `name` of the receiver's subscription to the room: a group DM without `name` and `fname`
    /// is titled with it (`None` when there is no subscription or it has no name).
    pub subscription_name: Option<&'a str>,
}

/// The sender's user document (`Users.findOneById(message.u._id)`).
#[derive(Debug, Clone, Copy)]
pub struct SenderView<'a> {
    pub username: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// `IPushNotificationConfig` as push.get returns it; fields in Rocket.Chat's key order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification<'a> {
    pub from: &'static str,
    pub badge: i64,
    pub sound: &'static str,
    pub priority: u8,
    pub title: String,
    pub text: String,
    pub payload: Payload<'a>,
    pub user_id: &'a str,
    pub not_id: i32,
    pub gcm: Gcm,
    pub apn: Apn,
}

/// `payload`: `host, messageId, notificationType, rid`, then `getPushData().payload`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload<'a> {
    pub host: String,
    pub message_id: &'a str,
    pub notification_type: &'static str,
    pub rid: &'a str,
    pub sender: &'a RawValue,
    pub sender_name: &'a str,
    #[serde(rename = "type")]
    pub room_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a RawValue>,
}

#[derive(Debug, Serialize)]
pub struct Gcm {
    pub style: &'static str,
    pub image: String,
}

#[derive(Debug, Serialize)]
pub struct Apn {
    pub category: &'static str,
}

/// The default Android/iOS notification icon: `Assets_favicon_192`'s `defaultUrl`
/// (apps/meteor/app/assets/server/assets.ts).
pub const DEFAULT_FAVICON_192: &str = "images/logo/android-chrome-192x192.png";

/// Builds the notification of `getNotificationForMessageId` with `idOnly: false`. `badge` is
/// `Subscriptions.getBadgeCount(receiver)` (§2.6).
pub fn build_notification<'a>(
    settings: &NotificationSettings<'a>,
    message: &MessageView<'a>,
    room: &RoomView<'a>,
    receiver: &ReceiverView<'a>,
    sender: &SenderView<'a>,
    badge: i64,
) -> Notification<'a> {
    let show_names = settings.push_show_username_room;
    let username = if show_names {
        truthy(sender.name)
            .filter(|_| settings.ui_use_real_name)
            .or(truthy(sender.username))
            .unwrap_or("")
    } else {
        ""
    };
    let message_text = if settings.push_show_message {
        text::notification_message(
            message.msg.unwrap_or(""),
            message.t,
            message.first_attachment,
            message.mentions,
            settings.ui_use_real_name,
        )
    } else {
        text::YOU_HAVE_A_NEW_MESSAGE.to_owned()
    };
    let room_name = (show_names && is_group_chat(room))
        .then(|| format!("#{}", room_name(settings, room, receiver)));
    let (title, text) = match room_name {
        Some(room_name) => (room_name, format!("{username}: {message_text}")),
        None => (username.to_owned(), message_text),
    };
    let e2e = message.t == Some("e2e");
    Notification {
        from: "push",
        badge,
        sound: "default",
        priority: 10,
        title,
        text,
        payload: Payload {
            host: absolute_url(settings.site_url),
            message_id: message.id,
            notification_type: "message",
            rid: message.rid,
            sender: message.u,
            sender_name: username,
            room_type: room.t,
            name: if show_names { room.name } else { Some("") },
            message_type: message.t,
            tmid: message.tmid,
            msg: message.msg.filter(|_| e2e),
            content: message.content.filter(|_| e2e),
        },
        user_id: message.u_id,
        not_id: not_id::not_id(settings.unique_id, message.rid),
        gcm: Gcm {
            style: "inbox",
            image: asset_url(
                settings.site_url,
                truthy(settings.favicon_192_url).unwrap_or(DEFAULT_FAVICON_192),
            ),
        },
        apn: Apn {
            category: apn_category(room.ro, room.muted, receiver.username),
        },
    }
}

/// `apn.category`: whether the receiver may answer from the notification
/// (`enableNotificationReplyButton`, mobile.ts): not in a read-only room, nor when muted.
pub fn apn_category(read_only: bool, muted: &[&str], receiver: Option<&str>) -> &'static str {
    if reply_enabled(read_only, muted, receiver) {
        "MESSAGE"
    } else {
        "MESSAGE_NOREPLY"
    }
}

/// What the notification serialises to before its badge: `from` is constant and `badge`
/// comes second (the key order of `Notification`).
const BEFORE_BADGE: &[u8] = br#"{"from":"push","badge":"#;
/// What follows the category's value: the end of `apn` and of the notification.
const AFTER_CATEGORY: &[u8] = br#""}}"#;

/// A notification serialised once for every reader of its message. Only `badge` and
/// `apn.category` depend on the reader (a group DM's title can too: such notifications are
/// not shared); the rest of the bytes are kept, so a reader costs two splices, not a build.
#[derive(Debug, Clone)]
pub struct SharedNotification {
    /// From just after the badge to the category's opening quote.
    middle: Box<[u8]>,
}

impl SharedNotification {
    /// Serialises `n`; its own badge and category are cut out again.
    pub fn new(n: &Notification<'_>) -> serde_json::Result<SharedNotification> {
        let bytes = serde_json::to_vec(n)?;
        let badge = n.badge.to_string();
        let start = BEFORE_BADGE.len() + badge.len();
        let end = bytes
            .len()
            .checked_sub(n.apn.category.len() + AFTER_CATEGORY.len());
        let shaped = bytes.starts_with(BEFORE_BADGE)
            && bytes.get(BEFORE_BADGE.len()..start) == Some(badge.as_bytes())
            && end.is_some_and(|end| {
                end >= start
                    && bytes[end..].starts_with(n.apn.category.as_bytes())
                    && bytes.ends_with(AFTER_CATEGORY)
            });
        match (shaped, end) {
            (true, Some(end)) => Ok(SharedNotification {
                middle: bytes[start..end].into(),
            }),
            _ => Err(serde::ser::Error::custom(
                "the notification does not serialise in its declared key order",
            )),
        }
    }

    /// Appends the notification as `Notification` with `badge` and `category` serialises.
    pub fn write(&self, badge: i64, category: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(BEFORE_BADGE);
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{badge}");
        out.extend_from_slice(&self.middle);
        out.extend_from_slice(category.as_bytes());
        out.extend_from_slice(AFTER_CATEGORY);
    }

    /// Bytes held (what a cache weighs it by).
    pub fn byte_len(&self) -> usize {
        self.middle.len()
    }
}

/// JavaScript truthiness of an optional string.
fn truthy(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// Whether the title needs the receiver's subscription name: only a group DM with neither
/// `fname` nor `name` falls back to it. Callers skip the lookup otherwise.
pub fn needs_receiver_subscription(room: &RoomView<'_>) -> bool {
    room.room_type() == RoomType::Direct
        && is_group_chat(room)
        && truthy(room.fname).or(truthy(room.name)).is_none()
}

/// `isGroupChat` of the room types (server/lib/rooms/roomTypes): channels and groups always, DMs
/// with more than two members; livechat, voip and unknown types never.
fn is_group_chat(room: &RoomView<'_>) -> bool {
    match room.room_type() {
        RoomType::Channel | RoomType::Group => true,
        RoomType::Direct => room.uids_len > 2,
        RoomType::Livechat | RoomType::Voip | RoomType::Other => false,
    }
}

/// `roomCoordinator.getRoomName` for a group chat, `undefined` becoming `''`. For a DM the
/// real-name test looks at the room's `fname`, so the subscription fallback only ever yields the
/// subscription's `name` (roomTypes/direct.ts).
fn room_name<'a>(
    settings: &NotificationSettings<'_>,
    room: &RoomView<'a>,
    receiver: &ReceiverView<'a>,
) -> &'a str {
    let name = if room.room_type() == RoomType::Direct {
        if truthy(room.fname).or(truthy(room.name)).is_none() {
            receiver.subscription_name
        } else if settings.ui_use_real_name && truthy(room.fname).is_some() {
            room.fname
        } else {
            room.name
        }
    } else if truthy(room.prid).is_some() {
        room.fname
    } else if settings.ui_allow_room_names_with_special_chars {
        truthy(room.fname).or(room.name)
    } else {
        room.name
    };
    name.unwrap_or("")
}

/// `enableNotificationReplyButton` (mobile.ts).
fn reply_enabled(read_only: bool, muted: &[&str], receiver: Option<&str>) -> bool {
    match truthy(receiver) {
        None => false,
        Some(_) if read_only => false,
        Some(username) => !muted.contains(&username),
    }
}

/// `Meteor.absoluteUrl()` once Rocket.Chat has set its root URL to `Site_Url`: `http://` is
/// prefixed unless the URL starts with `http://` or `https://` (any case), and a trailing `/` is
/// ensured. Any path prefix is kept.
fn absolute_url(site_url: &str) -> String {
    let has_scheme = ["http://", "https://"].iter().any(|scheme| {
        site_url
            .get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    });
    let mut url = if has_scheme {
        site_url.to_owned()
    } else {
        format!("http://{site_url}")
    };
    if !url.ends_with('/') {
        url.push('/');
    }
    url
}

/// `RocketChatAssets.getURL(…, { cdn: false, full: true })`, i.e. `_getURL` of
/// apps/meteor/app/utils/lib/getURL.ts: absolute URLs are kept; otherwise Site_Url, trimmed and
/// without trailing slashes, joined to the trimmed path with one `/`, keeping only the first
/// `?`-separated query part. Meteor's ROOT_URL path prefix is taken to be Site_Url's own path,
/// in which case removing and re-adding it leaves Site_Url unchanged.
fn asset_url(site_url: &str, path: &str) -> String {
    if ["http://", "https://", "data:"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        return path.to_owned();
    }
    let mut parts = path.split('?');
    let path = parts.next().unwrap_or("");
    let query = parts.next().filter(|q| !q.is_empty());
    let site = js_trim(site_url).trim_end_matches('/');
    let file = js_trim(path).trim_start_matches('/');
    let joined = format!("/{file}");
    let mut url = format!("{site}{}", joined.trim_end_matches('/'));
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SENDER: &str = r#"{"_id":"d26x6zSkaPSe5gCyy","username":"rodriq","name":"Rodriq"}"#;

    fn raw(json: &str) -> &RawValue {
        serde_json::from_str(json).unwrap()
    }

    fn settings() -> NotificationSettings<'static> {
        NotificationSettings {
            push_show_username_room: true,
            push_show_message: true,
            ui_use_real_name: false,
            ui_allow_room_names_with_special_chars: false,
            site_url: "http://localhost:3000",
            favicon_192_url: None,
            unique_id: "E8A88JP-rcpush-demo",
        }
    }

    fn message<'a>(u: &'a RawValue) -> MessageView<'a> {
        MessageView {
            id: "WkbwSntxt8D3jLp8G",
            rid: "iu7jtPAhvEeAS5tNq",
            msg: Some("fsfs"),
            t: None,
            tmid: None,
            mentions: &[],
            first_attachment: None,
            u_id: "d26x6zSkaPSe5gCyy",
            u,
            content: None,
        }
    }

    fn channel() -> RoomView<'static> {
        RoomView {
            t: "c",
            name: Some("vb"),
            fname: Some("vb"),
            prid: None,
            ro: false,
            muted: &[],
            uids_len: 0,
        }
    }

    const RECEIVER: ReceiverView<'static> = ReceiverView {
        username: Some("rodriq"),
        subscription_name: None,
    };
    const RODRIQ: SenderView<'static> = SenderView {
        username: Some("rodriq"),
        name: Some("Rodriq"),
    };

    fn json(n: &Notification<'_>) -> String {
        serde_json::to_string(n).unwrap()
    }

    #[test]
    fn documented_example_is_reproduced_byte_for_byte() {
        let u = raw(SENDER);
        let n = build_notification(&settings(), &message(u), &channel(), &RECEIVER, &RODRIQ, 2);
        assert_eq!(
            json(&n),
            r##"{"from":"push","badge":2,"sound":"default","priority":10,"title":"#vb","text":"rodriq: fsfs","payload":{"host":"http://localhost:3000/","messageId":"WkbwSntxt8D3jLp8G","notificationType":"message","rid":"iu7jtPAhvEeAS5tNq","sender":{"_id":"d26x6zSkaPSe5gCyy","username":"rodriq","name":"Rodriq"},"senderName":"rodriq","type":"c","name":"vb"},"userId":"d26x6zSkaPSe5gCyy","notId":654494840,"gcm":{"style":"inbox","image":"http://localhost:3000/images/logo/android-chrome-192x192.png"},"apn":{"category":"MESSAGE"}}"##
        );
    }

    #[test]
    fn direct_messages_have_no_payload_name_and_no_prefix() {
        let u = raw(SENDER);
        let dm = RoomView {
            t: "d",
            name: None,
            fname: None,
            uids_len: 2,
            ..channel()
        };
        let real = NotificationSettings {
            ui_use_real_name: true,
            ..settings()
        };
        let n = build_notification(&real, &message(u), &dm, &RECEIVER, &RODRIQ, 0);
        assert_eq!(
            (n.title.as_str(), n.text.as_str(), n.payload.sender_name),
            ("Rodriq", "fsfs", "Rodriq")
        );
        let out = json(&n);
        assert!(
            out.contains(r#""senderName":"Rodriq","type":"d"},"userId""#),
            "{out}"
        );

        let hidden = NotificationSettings {
            push_show_username_room: false,
            ..settings()
        };
        let out = json(&build_notification(
            &hidden,
            &message(u),
            &dm,
            &RECEIVER,
            &RODRIQ,
            0,
        ));
        assert!(out.contains(r#""title":"","text":"fsfs""#), "{out}");
        assert!(
            out.contains(r#""senderName":"","type":"d","name":""}"#),
            "{out}"
        );
    }

    #[test]
    fn hidden_message_text_is_replaced() {
        let u = raw(SENDER);
        let quiet = NotificationSettings {
            push_show_message: false,
            ..settings()
        };
        let n = build_notification(&quiet, &message(u), &channel(), &RECEIVER, &RODRIQ, 1);
        assert_eq!(n.text, "rodriq: You have a new message");
    }

    #[test]
    fn reply_category_depends_on_receiver_and_room() {
        let u = raw(SENDER);
        let category = |room: &RoomView<'_>, receiver: &ReceiverView<'_>| {
            build_notification(&settings(), &message(u), room, receiver, &RODRIQ, 1)
                .apn
                .category
        };
        let rooms = [
            (channel(), "MESSAGE"),
            (
                RoomView {
                    ro: true,
                    ..channel()
                },
                "MESSAGE_NOREPLY",
            ),
            (
                RoomView {
                    muted: &["rodriq"],
                    ..channel()
                },
                "MESSAGE_NOREPLY",
            ),
            (
                RoomView {
                    muted: &["other"],
                    ..channel()
                },
                "MESSAGE",
            ),
        ];
        for (room, expected) in rooms {
            assert_eq!(category(&room, &RECEIVER), expected);
        }
        let anonymous = ReceiverView {
            username: None,
            ..RECEIVER
        };
        assert_eq!(category(&channel(), &anonymous), "MESSAGE_NOREPLY");
    }

    #[test]
    fn room_names_follow_the_room_type_rules() {
        let title =
            |settings: NotificationSettings<'_>, room: RoomView<'_>, subscription: Option<&str>| {
                let u = raw(SENDER);
                let receiver = ReceiverView {
                    subscription_name: subscription,
                    ..RECEIVER
                };
                build_notification(&settings, &message(u), &room, &receiver, &RODRIQ, 1).title
            };
        let real = NotificationSettings {
            ui_use_real_name: true,
            ..settings()
        };
        let special = NotificationSettings {
            ui_allow_room_names_with_special_chars: true,
            ..settings()
        };
        let fancy = RoomView {
            name: Some("vb"),
            fname: Some("Vé B"),
            ..channel()
        };
        assert_eq!(title(settings(), fancy, None), "#vb");
        assert_eq!(title(special, fancy, None), "#Vé B");
        assert_eq!(
            title(
                special,
                RoomView {
                    fname: Some(""),
                    ..fancy
                },
                None
            ),
            "#vb"
        );
        let discussion = RoomView {
            prid: Some("parent"),
            name: Some("x1"),
            fname: Some("Talk"),
            ..channel()
        };
        assert_eq!(title(settings(), discussion, None), "#Talk");
        assert_eq!(
            title(
                settings(),
                RoomView {
                    fname: None,
                    ..discussion
                },
                None
            ),
            "#"
        );

        let group = RoomView {
            t: "d",
            name: Some("a,b,c"),
            fname: Some("A, B, C"),
            uids_len: 3,
            ..channel()
        };
        assert_eq!(title(settings(), group, None), "#a,b,c");
        assert_eq!(title(real, group, None), "#A, B, C");
        assert_eq!(
            title(
                real,
                RoomView {
                    name: None,
                    ..group
                },
                None
            ),
            "#A, B, C"
        );
        assert_eq!(
            title(
                settings(),
                RoomView {
                    name: None,
                    ..group
                },
                None
            ),
            "#"
        );
        let unnamed = RoomView {
            name: None,
            fname: None,
            ..group
        };
        assert_eq!(title(real, unnamed, Some("sub")), "#sub");
        assert_eq!(title(real, unnamed, None), "#");

        let livechat = RoomView {
            t: "l",
            name: Some("Visitor"),
            ..channel()
        };
        assert_eq!(title(settings(), livechat, None), "rodriq");
    }

    #[test]
    fn thread_and_e2e_fields_follow_the_payload_order() {
        let u = raw(SENDER);
        let content = raw(r#"{"algorithm":"rc.v1.aes-sha2","ciphertext":"Zm9v"}"#);
        let e2e = MessageView {
            msg: Some("Zm9v"),
            t: Some("e2e"),
            tmid: Some("T1"),
            content: Some(content),
            ..message(u)
        };
        let n = build_notification(&settings(), &e2e, &channel(), &RECEIVER, &RODRIQ, 1);
        assert_eq!(n.text, "rodriq: Encrypted message");
        let out = json(&n);
        assert!(
            out.contains(r#""name":"vb","messageType":"e2e","tmid":"T1","msg":"Zm9v","content":{"algorithm":"rc.v1.aes-sha2","ciphertext":"Zm9v"}},"userId""#),
            "{out}"
        );
        let no_msg = MessageView {
            msg: None,
            content: None,
            ..e2e
        };
        let out = json(&build_notification(
            &settings(),
            &no_msg,
            &channel(),
            &RECEIVER,
            &RODRIQ,
            1,
        ));
        assert!(out.contains(r#""tmid":"T1"},"userId""#), "{out}");
        let system = MessageView {
            t: Some("uj"),
            ..message(u)
        };
        let out = json(&build_notification(
            &settings(),
            &system,
            &channel(),
            &RECEIVER,
            &RODRIQ,
            1,
        ));
        assert!(
            out.contains(r#""name":"vb","messageType":"uj"},"userId""#),
            "{out}"
        );
    }

    #[test]
    fn user_id_is_the_sender() {
        let u = raw(r#"{"_id":"sender1","username":"s"}"#);
        let m = MessageView {
            u_id: "sender1",
            ..message(u)
        };
        let n = build_notification(&settings(), &m, &channel(), &RECEIVER, &RODRIQ, 1);
        assert_eq!(n.user_id, "sender1");
        assert!(json(&n).contains(r#""sender":{"_id":"sender1","username":"s"}"#));
    }

    #[test]
    fn host_and_image_follow_meteor_and_get_url() {
        let urls = |site_url, favicon| {
            let u = raw(SENDER);
            let s = NotificationSettings {
                site_url,
                favicon_192_url: favicon,
                ..settings()
            };
            let n = build_notification(&s, &message(u), &channel(), &RECEIVER, &RODRIQ, 1);
            (n.payload.host, n.gcm.image)
        };
        let logo = "images/logo/android-chrome-192x192.png";
        assert_eq!(
            urls("https://chat.example.com/", None),
            (
                "https://chat.example.com/".to_owned(),
                format!("https://chat.example.com/{logo}")
            )
        );
        assert_eq!(
            urls("https://example.com/chat", None),
            (
                "https://example.com/chat/".to_owned(),
                format!("https://example.com/chat/{logo}")
            )
        );
        assert_eq!(
            urls("https://example.com/chat//", None).1,
            format!("https://example.com/chat/{logo}")
        );
        assert_eq!(
            urls("chat.example.com", None),
            (
                "http://chat.example.com/".to_owned(),
                format!("chat.example.com/{logo}")
            )
        );
        assert_eq!(urls("HTTPS://X.com", None).0, "HTTPS://X.com/");
        assert_eq!(
            urls(" http://x.com/ ", None),
            (
                "http:// http://x.com/ /".to_owned(),
                format!("http://x.com/{logo}")
            )
        );
        assert_eq!(
            urls("http://x.com", Some("assets/favicon_192.png")).1,
            "http://x.com/assets/favicon_192.png"
        );
        assert_eq!(
            urls("http://x.com", Some("/assets/favicon_192.png?v=1?w")).1,
            "http://x.com/assets/favicon_192.png?v=1"
        );
        assert_eq!(
            urls("http://x.com", Some("https://cdn.example/f.png")).1,
            "https://cdn.example/f.png"
        );
        assert_eq!(
            urls("http://x.com", Some("")).1,
            format!("http://x.com/{logo}")
        );
    }

    /// The §2.3 decision table, written as a table.
    fn expected_title_and_text(
        kind: usize,
        show_names: bool,
        real: bool,
        show_message: bool,
    ) -> (String, String) {
        let display = if real { "Rodriq" } else { "rodriq" };
        let message = if show_message {
            "fsfs"
        } else {
            "You have a new message"
        };
        // kinds: 0 c, 1 p, 2 group DM, 3 DM, 4 livechat, 5 voip
        let room_title = ["#vb", "#vb", if real { "#A, B, C" } else { "#a,b,c" }];
        match (kind, show_names) {
            (0..=2, true) => (room_title[kind].to_owned(), format!("{display}: {message}")),
            (_, true) => (display.to_owned(), message.to_owned()),
            (_, false) => (String::new(), message.to_owned()),
        }
    }

    const KEY_ORDER: [&str; 11] = [
        "from", "badge", "sound", "priority", "title", "text", "payload", "userId", "notId", "gcm",
        "apn",
    ];
    const PAYLOAD_ORDER: [&str; 12] = [
        "host",
        "messageId",
        "notificationType",
        "rid",
        "sender",
        "senderName",
        "type",
        "name",
        "messageType",
        "tmid",
        "msg",
        "content",
    ];

    fn keys_in_order(object: &serde_json::Map<String, serde_json::Value>, order: &[&str]) -> bool {
        let positions: Vec<_> = object
            .keys()
            .map(|k| order.iter().position(|o| o == k))
            .collect();
        positions.iter().all(Option::is_some) && positions.windows(2).all(|w| w[0] < w[1])
    }

    proptest! {
        #[test]
        fn title_and_text_follow_the_decision_table(
            kind in 0usize..6,
            show_names: bool,
            real: bool,
            show_message: bool,
        ) {
            let u = raw(SENDER);
            let room = match kind {
                0 => channel(),
                1 => RoomView { t: "p", ..channel() },
                2 => RoomView { t: "d", name: Some("a,b,c"), fname: Some("A, B, C"), uids_len: 3, ..channel() },
                3 => RoomView { t: "d", name: None, fname: None, uids_len: 2, ..channel() },
                4 => RoomView { t: "l", ..channel() },
                _ => RoomView { t: "v", ..channel() },
            };
            let s = NotificationSettings {
                push_show_username_room: show_names,
                ui_use_real_name: real,
                push_show_message: show_message,
                ..settings()
            };
            let n = build_notification(&s, &message(u), &room, &RECEIVER, &RODRIQ, 1);
            prop_assert_eq!((n.title, n.text), expected_title_and_text(kind, show_names, real, show_message));
        }

        #[test]
        fn output_is_json_in_rocket_chat_key_order(
            msg in proptest::option::of("[ -~\u{2028}é😀\n\t\u{1}]{0,20}"),
            t in proptest::option::of(prop::sample::select(vec!["e2e", "uj", "discussion-created"])),
            tmid in proptest::option::of("[a-z]{1,5}"),
            room_type in prop::sample::select(vec!["c", "p", "d", "l"]),
            name in proptest::option::of("[ -~]{0,8}"),
            show_names: bool,
            real: bool,
            with_content: bool,
            badge in any::<i64>(),
            site_url in "[ -~]{0,20}",
        ) {
            let u = raw(SENDER);
            let content = raw(r#"{"ciphertext":"x"}"#);
            let m = MessageView {
                msg: msg.as_deref(),
                t,
                tmid: tmid.as_deref(),
                content: with_content.then_some(content),
                ..message(u)
            };
            let room = RoomView { t: room_type, name: name.as_deref(), uids_len: 3, ..channel() };
            let s = NotificationSettings {
                push_show_username_room: show_names,
                ui_use_real_name: real,
                site_url: &site_url,
                ..settings()
            };
            let out = json(&build_notification(&s, &m, &room, &RECEIVER, &RODRIQ, badge));
            let value: serde_json::Value = serde_json::from_str(&out).unwrap();
            let object = value.as_object().unwrap();
            prop_assert_eq!(object.keys().collect::<Vec<_>>(), KEY_ORDER.iter().collect::<Vec<_>>());
            prop_assert!(keys_in_order(object["payload"].as_object().unwrap(), &PAYLOAD_ORDER), "{}", out);
            prop_assert_eq!(object["payload"].get("name").is_some(), !show_names || name.is_some());
            prop_assert_eq!(object["payload"].get("msg").is_some(), t == Some("e2e") && msg.is_some());
            prop_assert_eq!(object["badge"].as_i64(), Some(badge));
        }

        #[test]
        fn a_shared_notification_with_a_reader_s_badge_and_category_is_that_reader_s(
            msg in "[ -~\u{2028}é😀\n\t\u{1}\"\\\\]{0,30}",
            name in proptest::option::of("[ -~\"\\\\]{0,8}"),
            ro: bool,
            muted_receiver: bool,
            badges in (any::<i64>(), any::<i64>()),
            readers in ("[a-z\"]{0,6}", "[a-z\"]{0,6}"),
        ) {
            let u = raw(SENDER);
            let muted_names = [readers.1.as_str()];
            let room = RoomView {
                name: name.as_deref(),
                ro,
                muted: if muted_receiver { &muted_names } else { &[] },
                ..channel()
            };
            let m = MessageView { msg: Some(&msg), ..message(u) };
            let first = ReceiverView { username: Some(&readers.0), subscription_name: None };
            let second = ReceiverView { username: Some(&readers.1), subscription_name: None };
            let shared = SharedNotification::new(&build_notification(&settings(), &m, &room, &first, &RODRIQ, badges.0)).unwrap();
            for (reader, badge) in [(first, badges.0), (second, badges.1)] {
                let own = build_notification(&settings(), &m, &room, &reader, &RODRIQ, badge);
                let mut spliced = Vec::new();
                shared.write(badge, apn_category(room.ro, room.muted, reader.username), &mut spliced);
                prop_assert_eq!(String::from_utf8(spliced).unwrap(), json(&own));
            }
        }
    }
}
