//! Who gets a mobile push for a new message (spec §5.1), and the form of what is drafted for
//! them: a body whose badge the write that queues it fills in, shared by every device of the
//! receivers it is the same for.

use serde::{Deserialize, Serialize};

/// A mobile push preference: a subscription's `mobilePushNotifications`, a user's, or
/// `Accounts_Default_User_Preferences_pushNotifications`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PushPreference {
    All,
    /// Also any value Rocket.Chat does not name: it then pushes as for mentions.
    #[default]
    Mentions,
    Nothing,
}

impl PushPreference {
    /// `None` for `default` or empty: the next preference in line decides.
    pub fn parse(value: &str) -> Option<PushPreference> {
        match value {
            "" | "default" => None,
            "all" => Some(PushPreference::All),
            "nothing" => Some(PushPreference::Nothing),
            _ => Some(PushPreference::Mentions),
        }
    }
}

/// What `shouldNotifyMobile` looks at for one member.
#[derive(Debug, Clone, Copy)]
pub struct MobileFacts<'a> {
    /// `Push_enable`.
    pub push_enabled: bool,
    /// The subscription's `mobilePushNotifications`, unless `default`.
    pub preference: Option<PushPreference>,
    /// `Accounts_Default_User_Preferences_pushNotifications`.
    pub default_preference: PushPreference,
    pub room_type: &'a str,
    pub mentions_member: bool,
    /// `@all` or `@here`.
    pub mentions_all: bool,
}

/// `shouldNotifyMobile` without presence (nobody is online here) or threads.
pub fn should_notify_mobile(f: &MobileFacts) -> bool {
    if !f.push_enabled {
        return false;
    }
    match (f.preference, f.default_preference) {
        (Some(PushPreference::Nothing), _) => false,
        (None, PushPreference::All) => true,
        (None, PushPreference::Nothing) => false,
        (preference, _) => {
            f.room_type == "d"
                || f.mentions_all
                || f.mentions_member
                || preference == Some(PushPreference::All)
        }
    }
}

/// A push body (the gateway's, `delivery::gateway::rules`) complete but for its badge. The
/// badge is the receiver's unread total once the message's counters are applied, which only
/// the write that queues the push knows; the rest (title, text, payload) is prepared before
/// that write, outside its lock. It lives here, not under `delivery`, because the store
/// fills it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyAwaitingBadge {
    /// The body without the badge's digits.
    body: String,
    /// Where the digits go (none: the body has no badge).
    slot: Option<usize>,
}

/// Stands in for the badge while the body is serialised; no real badge has this value.
pub const BADGE_SLOT: i64 = i64::MIN;

impl BodyAwaitingBadge {
    /// `body` serialised with `BADGE_SLOT` as its badge, which marks where the digits go.
    pub fn new(mut body: String) -> BodyAwaitingBadge {
        const KEY: &str = "\"badge\":";
        let placeholder = format!("{KEY}{BADGE_SLOT}");
        // A key is the only place the placeholder can stand unescaped: inside a JSON string
        // its quotes would be escaped.
        let slot = body.find(&placeholder).map(|at| {
            let digits = at + KEY.len();
            body.replace_range(digits..at + placeholder.len(), "");
            digits
        });
        BodyAwaitingBadge { body, slot }
    }

    pub fn with_badge(&self, badge: i64) -> String {
        match self.slot {
            Some(at) => format!("{}{badge}{}", &self.body[..at], &self.body[at..]),
            None => self.body.clone(),
        }
    }
}

/// A gateway body for every device of every receiver it is the same for: all of it but the
/// device token, the APNs topic, the receiver's id and the badge, which the outbox keeps per
/// device and per receiver. A message's pushes queue it once, not once per device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedBody {
    /// `options`' members from `createdAt` to the comma before `userId`.
    head: String,
    /// What follows the receiver's id, to the end, awaiting the badge.
    tail: BodyAwaitingBadge,
}

/// How a body serialised for no one (empty token and receiver id, no topic) begins.
const FOR_NO_ONE: &str = r#"{"token":"","options":{"#;
/// The receiver's id in a body for no one. Its quotes are bare, so it cannot stand inside a
/// string (whose quotes are escaped) before the key itself: the first match is the key.
const NO_RECEIVER: &str = r#""userId":"""#;

impl SharedBody {
    /// Splits `body`, serialised for no one with `BADGE_SLOT` as its badge (if it has one);
    /// `None` if it is not laid out as the gateway's bodies are.
    pub fn for_no_one(body: &str) -> Option<SharedBody> {
        let rest = body.strip_prefix(FOR_NO_ONE)?;
        let at = rest.find(NO_RECEIVER)?;
        Some(SharedBody {
            head: rest[..at].to_string(),
            tail: BodyAwaitingBadge::new(rest[at + NO_RECEIVER.len()..].to_string()),
        })
    }

    /// The body for one device: what serialising it for that device with its receiver's
    /// badge would give.
    pub fn render(&self, token: &str, topic: Option<&str>, receiver: &str, badge: i64) -> String {
        let mut out = String::with_capacity(
            self.head.len() + self.tail.body.len() + token.len() + receiver.len() + 64,
        );
        out.push_str(r#"{"token":"#);
        push_json_string(&mut out, token);
        out.push_str(r#","options":{"#);
        if let Some(topic) = topic {
            out.push_str(r#""topic":"#);
            push_json_string(&mut out, topic);
            out.push(',');
        }
        out.push_str(&self.head);
        out.push_str(r#""userId":"#);
        push_json_string(&mut out, receiver);
        out.push_str(&self.tail.with_badge(badge));
        out
    }
}

fn push_json_string(out: &mut String, s: &str) {
    // A string always serialises.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `shouldNotifyMobile` over the preference strings as Rocket.Chat stores them.
    fn on_strings(pref: Option<&str>, default: &str, t: &str, user: bool, all: bool) -> bool {
        let preference = pref.filter(|p| !p.is_empty() && *p != "default");
        match preference {
            Some("nothing") => return false,
            None if default == "all" => return true,
            None if default == "nothing" => return false,
            _ => {}
        }
        t == "d" || all || user || preference == Some("all")
    }

    proptest! {
        /// Parsing the preferences once decides as reading their strings at every message.
        #[test]
        fn typed_preferences_decide_as_their_strings(
            pref in prop::option::of(prop::sample::select(vec!["all", "mentions", "nothing", "default", "", "other"])),
            default in prop::sample::select(vec!["all", "mentions", "nothing", "default", "", "other"]),
            t in prop::sample::select(vec!["c", "p", "d"]),
            user: bool, all: bool,
        ) {
            let facts = MobileFacts {
                push_enabled: true,
                preference: pref.and_then(PushPreference::parse),
                default_preference: PushPreference::parse(default).unwrap_or_default(),
                room_type: t,
                mentions_member: user,
                mentions_all: all,
            };
            prop_assert_eq!(should_notify_mobile(&facts), on_strings(pref, default, t, user, all));
        }
    }

    fn facts(
        pref: Option<&'static str>,
        t: &'static str,
        user: bool,
        all: bool,
    ) -> MobileFacts<'static> {
        MobileFacts {
            push_enabled: true,
            preference: pref.and_then(PushPreference::parse),
            default_preference: PushPreference::All,
            room_type: t,
            mentions_member: user,
            mentions_all: all,
        }
    }

    #[test]
    fn preferences_decide() {
        assert!(should_notify_mobile(&facts(None, "c", false, false)));
        assert!(!should_notify_mobile(&facts(
            Some("nothing"),
            "d",
            true,
            true
        )));
        assert!(!should_notify_mobile(&facts(
            Some("mentions"),
            "c",
            false,
            false
        )));
        assert!(should_notify_mobile(&facts(
            Some("mentions"),
            "c",
            true,
            false
        )));
        assert!(should_notify_mobile(&facts(
            Some("mentions"),
            "p",
            false,
            true
        )));
        assert!(should_notify_mobile(&facts(
            Some("mentions"),
            "d",
            false,
            false
        )));
        assert!(should_notify_mobile(&facts(Some("all"), "c", false, false)));
        let off = MobileFacts {
            push_enabled: false,
            ..facts(Some("all"), "d", true, true)
        };
        assert!(!should_notify_mobile(&off));
        let default_mentions = MobileFacts {
            default_preference: PushPreference::Mentions,
            ..facts(None, "c", false, false)
        };
        assert!(!should_notify_mobile(&default_mentions));
    }

    #[test]
    fn a_body_without_a_badge_slot_is_kept_whole() {
        let b = BodyAwaitingBadge::new("{\"token\":\"t\"}".into());
        assert_eq!(b.with_badge(3), "{\"token\":\"t\"}");
        let b = BodyAwaitingBadge::new(format!("{{\"badge\":{BADGE_SLOT},\"x\":1}}"));
        assert_eq!(b.with_badge(-2), "{\"badge\":-2,\"x\":1}");
    }
}
