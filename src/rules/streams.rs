//! Rocket.Chat's streams (realtime.md §4): which publication a `sub` names, who may
//! subscribe to which event, which change goes to which event name, and the `args` of each
//! frame. Pure: the hub (`realtime/streams`) reads the facts and sends the frames.

use serde::Serialize;
use serde_json::{json, Value};

use crate::model::message::MessageDoc;
use crate::model::{Doc, DocExt, Room, RoomType};
use crate::rules::text::js_truthy;

/// The stream publications rcpush serves (§4.1–4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    RoomMessages,
    NotifyUser,
    NotifyRoom,
    NotifyLogged,
    NotifyAll,
}

impl Stream {
    /// The stream a publication name names; `None` for every other publication (out of
    /// scope ones such as `stream-livechat-room` included: they get the generic 404).
    pub fn parse(name: &str) -> Option<Stream> {
        Some(match name {
            "stream-room-messages" => Stream::RoomMessages,
            "stream-notify-user" => Stream::NotifyUser,
            "stream-notify-room" => Stream::NotifyRoom,
            "stream-notify-logged" => Stream::NotifyLogged,
            "stream-notify-all" => Stream::NotifyAll,
            _ => return None,
        })
    }

    /// The publication name, which is also the frames' `collection`.
    pub fn name(self) -> &'static str {
        match self {
            Stream::RoomMessages => "stream-room-messages",
            Stream::NotifyUser => "stream-notify-user",
            Stream::NotifyRoom => "stream-notify-room",
            Stream::NotifyLogged => "stream-notify-logged",
            Stream::NotifyAll => "stream-notify-all",
        }
    }
}

/// The event name of `stream-room-messages` that carries every readable room's messages.
pub const MY_MESSAGES: &str = "__my_messages__";

/// A `sub` to a stream, parsed from its `params` (§4.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSub {
    pub stream: Stream,
    pub event: String,
    /// `true` or `{"useCollection":true}`: the one `added` document goes out before `ready`.
    pub legacy: bool,
}

/// Why a `sub` to a stream fails before or at its read check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubRefusal {
    /// `params[0]` is not a non-empty string: `invalid-event-name`.
    InvalidEventName,
    /// No `params[0]` at all: Rocket.Chat throws a `TypeError` (a 500).
    MissingEventName,
    /// The read check failed: `not-allowed`.
    NotAllowed,
}

/// Parses the `params` of a `sub` to `stream`.
pub fn parse_sub(stream: Stream, params: &[Value]) -> Result<StreamSub, SubRefusal> {
    let event = match params.first() {
        None | Some(Value::Null) => return Err(SubRefusal::MissingEventName),
        Some(Value::String(e)) if !e.is_empty() => e.clone(),
        Some(_) => return Err(SubRefusal::InvalidEventName),
    };
    let legacy = match params.get(1) {
        Some(Value::Bool(b)) => *b,
        // Raw key: the client's `sub` options, not a document; only this flag is read.
        Some(Value::Object(o)) => o.get("useCollection") == Some(&Value::Bool(true)),
        _ => false,
    };
    Ok(StreamSub {
        stream,
        event,
        legacy,
    })
}

/// What a subscriber must be for a `sub` to pass its read check (`allowRead`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadCheck {
    Anyone,
    LoggedIn,
    /// Logged in as this user id.
    User(String),
    /// `stream-room-messages` of a room id: may read the room and, for a public channel,
    /// holds `preview-c-room` or is a member (§4.1).
    RoomPreview(String),
    /// `stream-notify-room`: logged in and may read the room (§4.3).
    Room(String),
}

/// The read check of a parsed `sub`.
pub fn read_check(sub: &StreamSub) -> ReadCheck {
    match sub.stream {
        Stream::RoomMessages if sub.event == MY_MESSAGES => ReadCheck::Anyone,
        Stream::RoomMessages => ReadCheck::RoomPreview(sub.event.clone()),
        Stream::NotifyUser => match split_event(&sub.event) {
            (_, Some("webrtc")) => ReadCheck::Anyone,
            (uid, _) => ReadCheck::User(uid.to_string()),
        },
        Stream::NotifyRoom => match split_event(&sub.event) {
            (_, Some("webrtc")) => ReadCheck::Anyone,
            (rid, _) => ReadCheck::Room(rid.to_string()),
        },
        Stream::NotifyLogged => ReadCheck::LoggedIn,
        Stream::NotifyAll => ReadCheck::Anyone,
    }
}

/// `"<id>/<event>"` split at its first `/` (Rocket.Chat's `eventName.split('/')`).
fn split_event(event: &str) -> (&str, Option<&str>) {
    match event.split_once('/') {
        Some((id, rest)) => (id, Some(rest)),
        None => (event, None),
    }
}

/// What a user is to a room, as the emit checks ask it: `canAccessRoom` and whether they
/// hold a subscription (`roomParticipant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Denied,
    /// May read the room without being a member (a public channel).
    Visitor,
    Member,
}

impl Reader {
    pub fn from_facts(can_access: bool, subscribed: bool) -> Reader {
        match (can_access, subscribed) {
            (false, _) => Reader::Denied,
            (true, false) => Reader::Visitor,
            (true, true) => Reader::Member,
        }
    }

    pub fn can_read(self) -> bool {
        self != Reader::Denied
    }
}

/// The read check of `stream-room-messages` for a room id (§4.1): access, and for a public
/// channel `preview-c-room` or membership (so a `bot` must join first).
pub fn room_messages_readable(t: RoomType, reader: Reader, holds_preview: bool) -> bool {
    match reader {
        Reader::Denied => false,
        Reader::Member => true,
        Reader::Visitor => t != RoomType::Channel || holds_preview,
    }
}

/// Whether a stored message goes out on `stream-room-messages` at all (§4.1's table): not
/// when hidden (`_hidden`), imported, or of a system type the room hides (`sysMes`).
pub fn message_is_streamed(message: &MessageDoc, room: &Room) -> bool {
    if message.hidden() || message.imported().is_some_and(js_truthy) {
        return false;
    }
    match message.t() {
        Some(t) => !room.sys_mes().contains(&t),
        None => true,
    }
}

/// The meta element of a `__my_messages__` frame; key order is field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MyMessagesMeta<'a> {
    room_participant: bool,
    room_type: Option<&'a str>,
    /// DMs have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    room_name: Option<&'a str>,
}

/// The meta element of a `__my_messages__` frame: `roomParticipant`, `roomType`, and
/// `roomName` when the room has one (DMs have none).
pub fn my_messages_meta(room: &Room, participant: bool) -> Value {
    to_value(MyMessagesMeta {
        room_participant: participant,
        room_type: room.stored_t(),
        room_name: room.name(),
    })
}

/// A typed payload as a JSON value: plain structs of strings and options always serialise.
fn to_value(payload: impl Serialize) -> Value {
    serde_json::to_value(payload).unwrap_or(Value::Null)
}

/// The event name of a room's notify-room event (`<rid>/<event>`).
pub fn room_event(rid: &str, event: &str) -> String {
    format!("{rid}/{event}")
}

/// The event name of a user's notify-user event (`<uid>/<event>`).
pub fn user_event(uid: &str, event: &str) -> String {
    format!("{uid}/{event}")
}

/// `<rid>/deleteMessage`'s args.
pub fn delete_message_args(message_id: &str) -> Value {
    json!([{ "_id": message_id }])
}

/// The fields a subscription carries on `subscriptions-changed` (`subscriptionFields` of
/// `publishFields.ts`), plus `_id`.
const SUBSCRIPTION_FIELDS: &[&str] = &[
    "_id",
    "t",
    "ts",
    "ls",
    "lr",
    "name",
    "fname",
    "rid",
    "code",
    "f",
    "u",
    "open",
    "alert",
    "roles",
    "unread",
    "prid",
    "userMentions",
    "groupMentions",
    "archived",
    "audioNotificationValue",
    "desktopNotifications",
    "mobilePushNotifications",
    "emailNotifications",
    "unreadAlert",
    "_updatedAt",
    "blocked",
    "blocker",
    "autoTranslate",
    "autoTranslateLanguage",
    "disableNotifications",
    "hideUnreadStatus",
    "hideMentionStatus",
    "muteGroupMentions",
    "ignored",
    "E2EKey",
    "tunread",
    "tunreadGroup",
    "tunreadUser",
    "department",
    "v",
    "onHold",
];

/// The fields a room carries on `rooms-changed` (`roomFields` of `publishFields.ts`).
const ROOM_FIELDS: &[&str] = &[
    "_id",
    "name",
    "fname",
    "t",
    "cl",
    "u",
    "lm",
    "teamId",
    "teamMain",
    "topic",
    "announcement",
    "announcementDetails",
    "muted",
    "unmuted",
    "_updatedAt",
    "archived",
    "description",
    "default",
    "customFields",
    "lastMessage",
    "retention",
    "prid",
    "avatarETag",
    "usersCount",
    "msgs",
    "ro",
    "reactWhenReadOnly",
    "sysMes",
    "streamingOptions",
    "broadcast",
    "encrypted",
    "e2eKeyId",
    "usernames",
    "uids",
    "joinCodeRequired",
    "v",
    "departmentId",
    "servedBy",
    "open",
    "tokenExpires",
    "federated",
];

/// What the event of a subscription or room change says happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Inserted,
    Updated,
    Removed,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Inserted => "inserted",
            Action::Updated => "updated",
            Action::Removed => "removed",
        }
    }
}

/// Whether a subscription's or a room's event is its insertion: the feed says "inserted or
/// updated", and both are created with `_updatedAt` equal to their `ts`, which every later
/// change moves past.
pub fn insertion_or_update(doc: &Doc) -> Action {
    if doc.unchanged_since_created() {
        Action::Inserted
    } else {
        Action::Updated
    }
}

/// `subscriptions-changed`'s args for a stored subscription.
pub fn subscription_changed_args(action: Action, subscription: &Doc) -> Value {
    json!([
        action.as_str(),
        Value::Object(subscription.pick(SUBSCRIPTION_FIELDS))
    ])
}

/// A removed subscription's `u`: `{_id, username}`, the username only when known.
#[derive(Serialize)]
struct RemovedSubscriptionUser<'a> {
    #[serde(rename = "_id")]
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
}

/// `subscriptions-changed`'s args for a removed subscription:
/// `{_id, u: {_id, username}, rid}`.
pub fn subscription_removed_args(
    subscription_id: &str,
    user_id: &str,
    username: Option<&str>,
    rid: &str,
) -> Value {
    let u = to_value(RemovedSubscriptionUser {
        id: user_id,
        username,
    });
    json!(["removed", {"_id": subscription_id, "u": u, "rid": rid}])
}

/// `rooms-changed`'s args for a stored room.
pub fn room_changed_args(action: Action, room: &Doc) -> Value {
    json!([action.as_str(), Value::Object(room.pick(ROOM_FIELDS))])
}

/// `rooms-changed`'s args for a room the user no longer has.
pub fn room_removed_args(rid: &str) -> Value {
    json!(["removed", { "_id": rid }])
}

/// How long after its `ts` a new message still notifies (Rocket.Chat skips older ones:
/// imports, late retries).
pub const NOTIFY_WITHIN_MS: i64 = 60_000;

/// What decides one member's desktop notification for a new message (§4.2).
#[derive(Debug, Clone, Copy)]
pub struct DesktopFacts<'a> {
    pub room_type: RoomType,
    /// The subscription's `desktopNotifications` (`all`, `mentions`, `nothing`, `default`).
    pub preference: Option<&'a str>,
    /// `disableNotifications`.
    pub disabled: bool,
    /// The member ignores the sender.
    pub ignores_sender: bool,
    pub mentioned: bool,
    /// `@all` or `@here`.
    pub group_mention: bool,
    pub mute_group_mentions: bool,
}

/// `shouldNotifyDesktop` with the server default `all` and nobody busy (rcpush keeps no
/// presence beyond the socket): a DM, `all`, a mention, or an unmuted `@all`/`@here`.
pub fn should_notify_desktop(f: &DesktopFacts) -> bool {
    if f.disabled || f.ignores_sender {
        return false;
    }
    match f.preference.filter(|p| !p.is_empty() && *p != "default") {
        None | Some("all") => true,
        Some("nothing") => false,
        Some(_) => {
            f.room_type == RoomType::Direct
                || f.mentioned
                || (f.group_mention && !f.mute_group_mentions)
        }
    }
}

/// A new message as its notification shows it.
#[derive(Debug, Clone, Copy)]
pub struct NotifiedMessage<'a> {
    pub message: &'a MessageDoc,
    pub room: &'a Room,
    /// The sender's name as shown: the username (or the name with `UI_Use_Real_Name`).
    pub sender: &'a str,
    /// The notification text of the message (`rocketchat-push.md` §2's pipeline).
    pub text: &'a str,
    /// The receiver's subscription name of the room (a DM's: the sender's username).
    pub receiver_room_name: Option<&'a str>,
}

/// A desktop notification's `payload`; key order is field order.
#[derive(Serialize)]
struct NotificationPayload<'a> {
    #[serde(rename = "_id")]
    id: &'a str,
    rid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tmid: Option<&'a str>,
    sender: Value,
    #[serde(rename = "type")]
    room_type: &'a str,
    message: NotificationMessage<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

/// The payload's `message`: `{msg, t}`, `t` only for a typed message.
#[derive(Serialize)]
struct NotificationMessage<'a> {
    msg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    t: Option<&'a str>,
}

/// `<uid>/notification`'s args: `[{title, text, payload{_id, rid, tmid, sender, type,
/// message{msg, t}, name}}]`.
pub fn desktop_notification_args(n: &NotifiedMessage) -> Value {
    let t = n.room.t();
    let group_dm = t == "d" && n.room.uids().len() > 2;
    let room_name = n.room.name();
    let (title, text, name) = match t {
        "d" if !group_dm => (
            n.sender.to_string(),
            n.text.to_string(),
            n.receiver_room_name,
        ),
        "d" => (
            room_name.or(n.room.fname()).unwrap_or_default().to_string(),
            format!("{}: {}", n.sender, n.text),
            room_name,
        ),
        _ => (
            room_name.map(|r| format!("#{r}")).unwrap_or_default(),
            format!("{}: {}", n.sender, n.text),
            room_name,
        ),
    };
    let payload = to_value(NotificationPayload {
        id: n.message.id(),
        rid: n.message.rid(),
        tmid: n.message.tmid(),
        sender: n.message.sender(),
        room_type: t,
        message: NotificationMessage {
            msg: n.message.msg().unwrap_or_default(),
            t: n.message.t(),
        },
        name,
    });
    json!([{"title": title, "text": text, "payload": payload}])
}

/// The activities `user-activity` relays (§4.3).
const ACTIVITIES: &[&str] = &["user-typing", "user-recording", "user-uploading"];

/// A typing write (method `stream-notify-room`) that may be relayed: its event name and
/// the args the other subscribers get.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityWrite {
    pub rid: String,
    pub event: String,
    pub args: Value,
}

/// Checks the method `stream-notify-room`'s params (§4.3): `["<rid>/user-activity",
/// <caller's username>, activities, extra?]`. Anything else is refused (`None`): the
/// method still answers with an empty result and nothing is emitted.
pub fn activity_write(params: &[Value], username: Option<&str>) -> Option<ActivityWrite> {
    let event = params.first()?.as_str()?;
    let (rid, Some("user-activity")) = split_event(event) else {
        return None;
    };
    if rid.is_empty() || params.get(1)?.as_str()? != username? {
        return None;
    }
    let activities = params.get(2)?.as_array()?;
    if !activities
        .iter()
        .all(|a| a.as_str().is_some_and(|a| ACTIVITIES.contains(&a)))
    {
        return None;
    }
    Some(ActivityWrite {
        rid: rid.to_string(),
        event: event.to_string(),
        args: Value::Array(params[1..].to_vec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::object;
    use proptest::prelude::*;

    #[test]
    fn sub_params_parse_as_the_streamer_reads_them() {
        let s = Stream::RoomMessages;
        let ok = parse_sub(
            s,
            &[
                json!("GENERAL"),
                json!({"useCollection": false, "args": []}),
            ],
        );
        assert_eq!(ok.map(|s| s.legacy), Ok(false));
        assert!(
            parse_sub(s, &[json!(MY_MESSAGES), json!(true)])
                .unwrap()
                .legacy
        );
        assert!(
            parse_sub(s, &[json!("x"), json!({"useCollection": true})])
                .unwrap()
                .legacy
        );
        assert!(!parse_sub(s, &[json!("x")]).unwrap().legacy);
        assert_eq!(
            parse_sub(s, &[json!("")]),
            Err(SubRefusal::InvalidEventName)
        );
        assert_eq!(parse_sub(s, &[json!(3)]), Err(SubRefusal::InvalidEventName));
        assert_eq!(parse_sub(s, &[]), Err(SubRefusal::MissingEventName));
    }

    #[test]
    fn read_checks_per_stream() {
        let sub = |stream, e: &str| StreamSub {
            stream,
            event: e.into(),
            legacy: false,
        };
        let c = |stream, e| read_check(&sub(stream, e));
        assert_eq!(c(Stream::RoomMessages, MY_MESSAGES), ReadCheck::Anyone);
        assert_eq!(
            c(Stream::RoomMessages, "GENERAL"),
            ReadCheck::RoomPreview("GENERAL".into())
        );
        assert_eq!(
            c(Stream::NotifyUser, "u1/rooms-changed"),
            ReadCheck::User("u1".into())
        );
        assert_eq!(c(Stream::NotifyUser, "u1/webrtc"), ReadCheck::Anyone);
        assert_eq!(
            c(Stream::NotifyRoom, "GENERAL/user-activity"),
            ReadCheck::Room("GENERAL".into())
        );
        assert_eq!(c(Stream::NotifyLogged, "user-status"), ReadCheck::LoggedIn);
        assert_eq!(c(Stream::NotifyAll, "license"), ReadCheck::Anyone);
    }

    #[test]
    fn a_bot_must_join_a_channel_to_subscribe_to_it() {
        let c = RoomType::Channel;
        assert!(!room_messages_readable(c, Reader::Visitor, false));
        assert!(room_messages_readable(c, Reader::Member, false));
        assert!(room_messages_readable(c, Reader::Visitor, true));
        assert!(room_messages_readable(
            RoomType::Group,
            Reader::Visitor,
            false
        ));
        assert!(!room_messages_readable(c, Reader::Denied, true));
    }

    #[test]
    fn hidden_imported_and_room_hidden_types_are_not_streamed() {
        let room = Room(object(json!({"_id": "r", "sysMes": ["uj"]})));
        let m = |v| MessageDoc(object(v));
        assert!(message_is_streamed(&m(json!({"msg": "hi"})), &room));
        assert!(!message_is_streamed(&m(json!({"_hidden": true})), &room));
        assert!(!message_is_streamed(
            &m(json!({"imported": "slack"})),
            &room
        ));
        assert!(!message_is_streamed(&m(json!({"t": "uj"})), &room));
        assert!(message_is_streamed(&m(json!({"t": "ul"})), &room));
    }

    #[test]
    fn meta_names_the_room_unless_it_is_a_dm() {
        let c = Room(object(
            json!({"_id": "GENERAL", "t": "c", "name": "general"}),
        ));
        assert_eq!(
            serde_json::to_string(&my_messages_meta(&c, true)).unwrap(),
            r#"{"roomParticipant":true,"roomType":"c","roomName":"general"}"#
        );
        let d = Room(object(json!({"_id": "d1", "t": "d"})));
        assert_eq!(
            serde_json::to_string(&my_messages_meta(&d, false)).unwrap(),
            r#"{"roomParticipant":false,"roomType":"d"}"#
        );
    }

    #[test]
    fn only_an_unchanged_document_is_an_insertion() {
        let at = "2026-01-01T00:00:00.000Z";
        let fresh = object(json!({"_id": "s", "ts": at, "_updatedAt": at}));
        assert_eq!(insertion_or_update(&fresh), Action::Inserted);
        let changed = object(json!({"ts": at, "_updatedAt": "2026-01-01T00:00:01.000Z"}));
        assert_eq!(insertion_or_update(&changed), Action::Updated);
        assert_eq!(
            insertion_or_update(&object(json!({"_updatedAt": at}))),
            Action::Updated
        );
        assert_eq!(
            serde_json::to_string(&subscription_removed_args("s", "u", None, "r")).unwrap(),
            r#"["removed",{"_id":"s","u":{"_id":"u"},"rid":"r"}]"#
        );
    }

    #[test]
    fn projections_keep_stored_order_and_drop_the_rest() {
        let sub = object(json!({"_id": "s", "rid": "r", "secret": 1, "u": {"_id": "u"}, "t": "c"}));
        assert_eq!(
            serde_json::to_string(&subscription_changed_args(Action::Inserted, &sub)).unwrap(),
            r#"["inserted",{"_id":"s","rid":"r","u":{"_id":"u"},"t":"c"}]"#
        );
        assert_eq!(
            serde_json::to_string(&subscription_removed_args("s", "u", Some("bob"), "r")).unwrap(),
            r#"["removed",{"_id":"s","u":{"_id":"u","username":"bob"},"rid":"r"}]"#
        );
        assert_eq!(
            serde_json::to_string(&room_removed_args("r")).unwrap(),
            r#"["removed",{"_id":"r"}]"#
        );
    }

    #[test]
    fn typing_writes_are_checked() {
        let p = |v: Value| v.as_array().unwrap().clone();
        let ok = activity_write(
            &p(json!(["GENERAL/user-activity", "bot", ["user-typing"], {}])),
            Some("bot"),
        )
        .unwrap();
        assert_eq!(ok.rid, "GENERAL");
        assert_eq!(ok.args, json!(["bot", ["user-typing"], {}]));
        let stopped = p(json!(["GENERAL/user-activity", "bot", []]));
        assert!(activity_write(&stopped, Some("bot")).is_some());
        let other = p(json!([
            "GENERAL/user-activity",
            "alice",
            ["user-typing"],
            {}
        ]));
        assert!(activity_write(&other, Some("bot")).is_none());
        let typing = p(json!(["GENERAL/typing", "bot", true]));
        assert!(activity_write(&typing, Some("bot")).is_none());
        let odd = p(json!(["GENERAL/user-activity", "bot", ["user-dancing"]]));
        assert!(activity_write(&odd, Some("bot")).is_none());
        let anonymous = p(json!(["GENERAL/user-activity", "bot", []]));
        assert!(activity_write(&anonymous, None).is_none());
    }

    #[test]
    fn desktop_notifications_follow_the_preference() {
        let f = |preference, mentioned| DesktopFacts {
            room_type: RoomType::Channel,
            preference,
            disabled: false,
            ignores_sender: false,
            mentioned,
            group_mention: false,
            mute_group_mentions: false,
        };
        assert!(should_notify_desktop(&f(None, false)));
        assert!(should_notify_desktop(&f(Some("default"), false)));
        assert!(!should_notify_desktop(&f(Some("nothing"), true)));
        assert!(!should_notify_desktop(&f(Some("mentions"), false)));
        assert!(should_notify_desktop(&f(Some("mentions"), true)));
        let muted = DesktopFacts {
            group_mention: true,
            mute_group_mentions: true,
            ..f(Some("mentions"), false)
        };
        assert!(!should_notify_desktop(&muted));
        let off = DesktopFacts {
            disabled: true,
            ..f(Some("all"), true)
        };
        assert!(!should_notify_desktop(&off));
    }

    #[test]
    fn notification_args_as_the_spec_shows_them() {
        let message = MessageDoc(object(
            json!({"_id": "Xk9", "rid": "GENERAL", "msg": "hello @bot",
            "u": {"_id": "aB3", "username": "alice", "name": "Alice Liddell"}}),
        ));
        let room = Room(object(
            json!({"_id": "GENERAL", "t": "c", "name": "general"}),
        ));
        let n = NotifiedMessage {
            message: &message,
            room: &room,
            sender: "alice",
            text: "hello @bot",
            receiver_room_name: Some("general"),
        };
        assert_eq!(
            serde_json::to_string(&desktop_notification_args(&n)).unwrap(),
            r##"[{"title":"#general","text":"alice: hello @bot","payload":{"_id":"Xk9","rid":"GENERAL","sender":{"_id":"aB3","username":"alice","name":"Alice Liddell"},"type":"c","message":{"msg":"hello @bot"},"name":"general"}}]"##
        );
        let dm = Room(object(json!({"_id": "d1", "t": "d", "uids": ["a", "b"]})));
        let n = NotifiedMessage {
            room: &dm,
            receiver_room_name: Some("alice"),
            ..n
        };
        let args = desktop_notification_args(&n);
        assert_eq!(
            (
                &args[0]["title"],
                &args[0]["text"],
                &args[0]["payload"]["name"]
            ),
            (&json!("alice"), &json!("hello @bot"), &json!("alice"))
        );
    }

    proptest! {
        /// A visitor never reads more than a member; nobody denied reads anything.
        #[test]
        fn membership_only_widens(
            t in prop::sample::select(vec!["c", "p", "d", "l", "x"]),
            preview: bool,
        ) {
            let t = RoomType::of(t);
            prop_assert!(!room_messages_readable(t, Reader::Denied, preview));
            if room_messages_readable(t, Reader::Visitor, preview) {
                prop_assert!(room_messages_readable(t, Reader::Member, preview));
            }
        }

        /// Every event name of a notify stream is checked against the id before its
        /// first `/`, whatever follows.
        #[test]
        fn the_id_is_what_precedes_the_first_slash(id in "[A-Za-z0-9]{1,17}", rest in "[a-z/-]{1,20}") {
            let sub = StreamSub { stream: Stream::NotifyUser, event: format!("{id}/{rest}"), legacy: false };
            match read_check(&sub) {
                ReadCheck::User(uid) => prop_assert_eq!(uid, id),
                ReadCheck::Anyone => prop_assert_eq!(rest, "webrtc"),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
