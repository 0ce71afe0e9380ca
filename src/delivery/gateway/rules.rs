//! The push gateway's side of delivery, pure: the exact body rcpush queues for every push
//! (spec §5.3, §5.4; direct delivery reads its content from it too), what the gateway's
//! answer means, and when the gateway is used at all.

use std::borrow::Cow;

use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::rules::notification::{Notification, Payload};
use crate::rules::push::{SharedBody, BADGE_SLOT};
use crate::rules::text::YOU_HAVE_A_NEW_MESSAGE;

/// `truncateString`: at most `max` UTF-16 units, ending in `...` when shortened. Unlike
/// Rocket.Chat it cuts only between grapheme clusters, so it never leaves half a surrogate
/// pair or a broken emoji sequence.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if s.encode_utf16().count() <= max {
        return Cow::Borrowed(s);
    }
    let budget = max.saturating_sub(3);
    let mut used = 0;
    let mut end = 0;
    for (at, g) in s.grapheme_indices(true) {
        let units = g.encode_utf16().count();
        if used + units > budget {
            break;
        }
        used += units;
        end = at + g.len();
    }
    Cow::Owned(format!("{}...", &s[..end]))
}

/// `PUSH_TITLE_LIMIT` and `PUSH_MESSAGE_BODY_LIMIT`.
pub const TITLE_LIMIT: usize = 65;
pub const TEXT_LIMIT: usize = 240;

/// The payload of an id-only push: the phone fetches the rest with push.get.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct IdOnlyPayload<'a> {
    host: &'a str,
    message_id: &'a str,
    notification_type: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum AnyPayload<'a> {
    Full(&'a Payload<'a>),
    IdOnly(IdOnlyPayload<'a>),
}

#[derive(Debug, Serialize)]
struct Category<'a> {
    category: &'a str,
}

#[derive(Debug, Serialize)]
struct GcmOptions<'a> {
    image: &'a str,
    style: &'a str,
}

/// The pending notification minus `priority`, plus `topic` (APNs) first and `uniqueId` last.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Options<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<&'a str>,
    created_at: &'a str,
    created_by: &'static str,
    sent: bool,
    sending: u8,
    title: Cow<'a, str>,
    text: Cow<'a, str>,
    from: &'static str,
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<AnyPayload<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    badge: Option<i64>,
    sound: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apn: Option<Category<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gcm: Option<GcmOptions<'a>>,
    unique_id: &'a str,
}

impl<'a> Options<'a> {
    /// `Push.send`'s pending notification with only the fields every push has; `title` and
    /// `text` truncated as Rocket.Chat does.
    fn pending(
        target: Target<'a>,
        created_at: &'a str,
        unique_id: &'a str,
        title: &'a str,
        text: &'a str,
    ) -> Options<'a> {
        Options {
            topic: target.apn_topic,
            created_at,
            created_by: "<SERVER>",
            sent: false,
            sending: 0,
            title: truncate(title, TITLE_LIMIT),
            text: truncate(text, TEXT_LIMIT),
            from: "push",
            user_id: target.receiver_id,
            payload: None,
            badge: None,
            sound: "default",
            not_id: None,
            apn: None,
            gcm: None,
            unique_id,
        }
    }
}

#[derive(Debug, Serialize)]
struct Body<'a> {
    token: &'a str,
    options: Options<'a>,
}

/// Where a push goes.
#[derive(Debug, Clone, Copy)]
struct Target<'a> {
    receiver_id: &'a str,
    /// `Some(appName)` for APNs (the `topic`), `None` for GCM.
    apn_topic: Option<&'a str>,
    device_token: &'a str,
}

impl Target<'_> {
    /// The blanks a `SharedBody` is cut around.
    const NO_ONE: Target<'static> = Target {
        receiver_id: "",
        apn_topic: None,
        device_token: "",
    };
}

/// The gateway body for a message notification (`Push.send` with `userId` = the receiver),
/// shared by the devices of every receiver whose notification is `n` (`SharedBody`). In
/// id-only mode (`Push_request_content_from_server`) the title is empty, the text is "You
/// have a new message" and the payload carries only the host and message id. The
/// notification's own badge is ignored: the body awaits the badge at queue time.
pub fn message_push_body(
    n: &Notification,
    id_only: bool,
    unique_id: &str,
    created_at: &str,
) -> Option<SharedBody> {
    SharedBody::for_no_one(&message_body(
        n,
        Target::NO_ONE,
        id_only,
        unique_id,
        created_at,
    ))
}

/// `message_push_body` for one device, with `BADGE_SLOT` as its badge.
fn message_body(
    n: &Notification,
    target: Target,
    id_only: bool,
    unique_id: &str,
    created_at: &str,
) -> String {
    let (title, text, payload) = if id_only {
        let payload = AnyPayload::IdOnly(IdOnlyPayload {
            host: &n.payload.host,
            message_id: n.payload.message_id,
            notification_type: "message-id-only",
        });
        ("", YOU_HAVE_A_NEW_MESSAGE, payload)
    } else {
        (
            n.title.as_str(),
            n.text.as_str(),
            AnyPayload::Full(&n.payload),
        )
    };
    encode(Body {
        token: target.device_token,
        options: Options {
            payload: Some(payload),
            badge: Some(BADGE_SLOT),
            not_id: Some(n.not_id),
            apn: Some(Category {
                category: n.apn.category,
            }),
            gcm: Some(GcmOptions {
                image: &n.gcm.image,
                style: n.gcm.style,
            }),
            ..Options::pending(target, created_at, unique_id, title, text)
        },
    })
}

/// The body of `push.test`'s push: `@username` and a fixed text, nothing else; for the
/// caller's devices (`SharedBody`).
pub fn test_push_body(username: &str, unique_id: &str, created_at: &str) -> Option<SharedBody> {
    SharedBody::for_no_one(&test_body(username, Target::NO_ONE, unique_id, created_at))
}

fn test_body(username: &str, target: Target, unique_id: &str, created_at: &str) -> String {
    let title = format!("@{username}");
    encode(Body {
        token: target.device_token,
        options: Options::pending(
            target,
            created_at,
            unique_id,
            &title,
            "This is a push test message",
        ),
    })
}

fn encode(body: Body) -> String {
    // Only strings, numbers and booleans: serialising cannot fail.
    serde_json::to_string(&body).unwrap_or_default()
}

/// How many of a device token's last characters the delivery log keeps: enough to tell
/// a user's devices apart, too few to send to one.
pub const TOKEN_TAIL: usize = 6;

/// The last `TOKEN_TAIL` characters of a device token.
pub fn token_tail(token: &str) -> &str {
    let start = token
        .char_indices()
        .rev()
        .nth(TOKEN_TAIL - 1)
        .map_or(0, |(at, _)| at);
    &token[start..]
}

/// The message a queued gateway body is about (none for push.test's).
pub fn body_message_id(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(v["options"]["payload"]["messageId"].as_str()?.to_string())
}

/// Who delivers the pushes: Rocket.Chat's cloud gateway, or rcpush itself to FCM and APNs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Gateway,
    Direct,
}

/// `shouldUseGateway` (direct-push spec §1.1): the gateway only when it is enabled **and**
/// the workspace is registered **and** agreed to the cloud terms. Unlike Rocket.Chat, which
/// reads the first flag once at start, rcpush reads all three live.
pub fn transport(enable_gateway: bool, register_server: bool, agreed_terms: bool) -> Transport {
    match enable_gateway && register_server && agreed_terms {
        true => Transport::Gateway,
        false => Transport::Direct,
    }
}

/// What the gateway's answer means (`sendGatewayPush`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayOutcome {
    Delivered,
    /// 406: the token is dead; delete every registration of it.
    UnknownToken,
    /// 401 / 422: final failure, no retry.
    Rejected,
    /// Anything else, network errors included: try again later.
    Retry,
}

pub fn gateway_outcome(status: Option<u16>) -> GatewayOutcome {
    match status {
        Some(200..=299) => GatewayOutcome::Delivered,
        Some(406) => GatewayOutcome::UnknownToken,
        Some(401 | 422) => GatewayOutcome::Rejected,
        _ => GatewayOutcome::Retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::notification::{Apn, Gcm};
    use crate::rules::push::BodyAwaitingBadge;
    use proptest::prelude::*;

    /// A notification whose every string a test chooses.
    fn notification<'a>(
        texts: &'a [String; 4],
        sender: &'a serde_json::value::RawValue,
    ) -> Notification<'a> {
        Notification {
            from: "push",
            badge: 0,
            sound: "default",
            priority: 10,
            title: texts[0].clone(),
            text: texts[1].clone(),
            payload: Payload {
                host: texts[2].clone(),
                message_id: &texts[3],
                notification_type: "message",
                rid: &texts[3],
                sender,
                sender_name: &texts[0],
                room_type: "c",
                name: Some(&texts[2]),
                message_type: None,
                tmid: None,
                msg: Some(&texts[1]),
                content: None,
            },
            user_id: &texts[3],
            not_id: 7,
            gcm: Gcm {
                style: "inbox",
                image: texts[2].clone(),
            },
            apn: Apn {
                category: "MESSAGE",
            },
        }
    }

    #[test]
    fn truncation_counts_utf16_and_keeps_graphemes_whole() {
        assert_eq!(truncate("short", 65), "short");
        let long = "a".repeat(70);
        let t = truncate(&long, 65);
        assert_eq!(t.encode_utf16().count(), 65);
        assert!(t.ends_with("..."));
        // 😀 is two UTF-16 units: Rocket.Chat would cut it in half at unit 62.
        let emoji = format!("{}😀😀😀", "a".repeat(61));
        assert_eq!(truncate(&emoji, 65), format!("{}...", "a".repeat(61)));
        let family = "👨‍👩‍👧".repeat(10);
        let t = truncate(&family, 20);
        assert!(t.trim_end_matches("...").graphemes(true).all(|g| g == "👨‍👩‍👧"));
    }

    #[test]
    fn the_log_keeps_a_token_tail_and_the_message_id() {
        assert_eq!(
            token_tail("dGVzdC1mY20tdG9rZW4:APA91bExampleToken"),
            "eToken"
        );
        assert_eq!(token_tail("abc"), "abc");
        assert_eq!(token_tail("ééééééé"), "éééééé");
        assert_eq!(
            body_message_id(r#"{"options":{"payload":{"messageId":"m1"}}}"#).as_deref(),
            Some("m1")
        );
        assert_eq!(body_message_id(r#"{"options":{}}"#), None);
    }

    #[test]
    fn the_gateway_needs_all_three_flags() {
        assert_eq!(transport(true, true, true), Transport::Gateway);
        for flags in [
            (false, true, true),
            (true, false, true),
            (true, true, false),
        ] {
            assert_eq!(transport(flags.0, flags.1, flags.2), Transport::Direct);
        }
    }

    #[test]
    fn gateway_answers() {
        assert_eq!(gateway_outcome(Some(200)), GatewayOutcome::Delivered);
        assert_eq!(gateway_outcome(Some(406)), GatewayOutcome::UnknownToken);
        assert_eq!(gateway_outcome(Some(422)), GatewayOutcome::Rejected);
        assert_eq!(gateway_outcome(Some(401)), GatewayOutcome::Rejected);
        assert_eq!(gateway_outcome(Some(500)), GatewayOutcome::Retry);
        assert_eq!(gateway_outcome(None), GatewayOutcome::Retry);
    }

    proptest! {
        /// The badge lands in `options.badge` and nowhere else, whatever the texts hold.
        #[test]
        fn the_badge_fills_its_slot_only(title in "\\PC{0,40}", text in "(\"badge\":-?[0-9]{1,20}|\\PC){0,10}", badge in any::<i64>()) {
            let slot = format!("\"badge\":{BADGE_SLOT}");
            let target = Target { receiver_id: "u", apn_topic: None, device_token: "tok" };
            let body = encode(Body {
                token: target.device_token,
                options: Options { badge: Some(BADGE_SLOT), ..Options::pending(target, "c", "uid", &title, &text) },
            });
            let filled = BodyAwaitingBadge::new(body.clone()).with_badge(badge);
            let v: serde_json::Value = serde_json::from_str(&filled).unwrap();
            prop_assert_eq!(&v["options"]["badge"], &serde_json::json!(badge));
            prop_assert_eq!(filled.replace(&format!("\"badge\":{badge}"), ""), body.replace(&slot, ""));
        }

        /// A shared body rendered for a device is the body serialised for that device, in
        /// full and id-only mode and for push.test, whatever the texts and the device hold.
        #[test]
        fn a_shared_body_renders_as_the_body_for_the_device(
            texts in proptest::array::uniform4("(\"userId\":\"\"|\"badge\":-?[0-9]{1,3}|\\PC){0,12}"),
            token in "\\PC{0,20}",
            topic in proptest::option::of("\\PC{0,12}"),
            receiver in "(\"|\\PC){0,10}",
            id_only: bool,
            badge in any::<i64>(),
        ) {
            let sender = serde_json::value::RawValue::from_string(r#"{"_id":"s"}"#.into()).unwrap();
            let n = notification(&texts, &sender);
            let target = Target { receiver_id: &receiver, apn_topic: topic.as_deref(), device_token: &token };
            let shared = message_push_body(&n, id_only, "uid", "2030-01-01T00:00:00.000Z").unwrap();
            let whole = message_body(&n, target, id_only, "uid", "2030-01-01T00:00:00.000Z");
            prop_assert_eq!(
                shared.render(&token, topic.as_deref(), &receiver, badge),
                BodyAwaitingBadge::new(whole).with_badge(badge)
            );
            let test = test_push_body(&texts[0], &texts[1], &texts[2]).unwrap();
            prop_assert_eq!(
                test.render(&token, topic.as_deref(), &receiver, badge),
                test_body(&texts[0], target, &texts[1], &texts[2])
            );
        }

        #[test]
        fn truncate_never_exceeds_and_keeps_a_prefix(s in "\\PC{0,120}", max in 3usize..80) {
            let t = truncate(&s, max);
            prop_assert!(t.encode_utf16().count() <= max);
            if t != s.as_str() {
                let kept = t.strip_suffix("...").unwrap();
                prop_assert!(s.starts_with(kept));
            }
        }
    }
}
