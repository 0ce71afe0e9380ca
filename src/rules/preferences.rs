//! `saveUserPreferences`: a user's preferences as they are stored, and what their existing
//! subscriptions copy of them (new subscriptions copy them as they are created:
//! `User::subscription_preferences`).

use serde_json::Value;

use crate::model::user::NOTIFICATION_PREFERENCES;
use crate::model::{Doc, Subscription, User};

/// `idleTimeLimit` below a minute: `invalid-idle-time-limit-value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleTimeLimitTooShort;

/// The preferences as they are stored: `emailNotificationMode`'s old values (`all`,
/// `disabled`) become today's (`mentions`, `nothing`); an `idleTimeLimit` under 60 seconds
/// is refused.
pub fn normalise(mut prefs: Doc) -> Result<Doc, IdleTimeLimitTooShort> {
    let renamed = match prefs.get("emailNotificationMode").and_then(Value::as_str) {
        Some("all") => Some("mentions"),
        Some("disabled") => Some("nothing"),
        _ => None,
    };
    if let Some(mode) = renamed {
        prefs.insert("emailNotificationMode".into(), mode.into());
    }
    let idle = prefs.get("idleTimeLimit").and_then(Value::as_f64);
    if idle.is_some_and(|s| s < 60.0) {
        return Err(IdleTimeLimitTooShort);
    }
    Ok(prefs)
}

/// `Users.setPreferences` (and `setLanguage`): each key set under `settings.preferences`
/// (new ones in lexicographic order), `language` also on the user, a `clockMode` of 0
/// removed; `_updatedAt` moves.
pub fn apply(user: &mut User, prefs: &Doc, at: &str) {
    user.ensure_settings();
    if let Some(language) = prefs.get("language").and_then(Value::as_str) {
        user.set_language(language);
    }
    // One `$set` of `settings.preferences.<key>`: MongoDB appends new keys in
    // lexicographic order.
    let mut keys: Vec<&String> = prefs.keys().collect();
    keys.sort();
    for key in keys {
        let value = &prefs[key.as_str()];
        let cleared = key == "clockMode" && value.as_f64().is_some_and(|m| m.trunc() == 0.0);
        user.set_preference(key, (!cleared).then(|| value.clone()));
    }
    user.set_updated_at(at);
}

/// What a change of preferences does to every subscription of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionChange {
    /// Copy a preference into `field` where the subscription did not choose its own.
    Copy {
        field: &'static str,
        origin: &'static str,
        value: String,
    },
    /// Back to `default`: remove the copies (those of origin `user`).
    Clear {
        field: &'static str,
        origin: &'static str,
    },
    /// `userHighlights` set on every subscription.
    Highlights(Vec<String>),
}

/// The changes that saving `prefs` makes to the subscriptions of `before` (the user as
/// stored before): a notification preference given (non-empty) and different from the
/// stored one, and `highlights` whenever given.
pub fn subscription_changes(before: &User, prefs: &Doc) -> Vec<SubscriptionChange> {
    let mut changes = Vec::new();
    for (preference, field, origin) in NOTIFICATION_PREFERENCES {
        let new = prefs
            .get(preference)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty());
        match new {
            Some(v) if Some(v) == before.preference_str(preference) => {}
            Some("default") => changes.push(SubscriptionChange::Clear { field, origin }),
            Some(v) => changes.push(SubscriptionChange::Copy {
                field,
                origin,
                value: v.to_string(),
            }),
            None => {}
        }
    }
    if let Some(Value::Array(words)) = prefs.get("highlights") {
        let words = words
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        changes.push(SubscriptionChange::Highlights(words));
    }
    changes
}

/// Applies `changes` to one subscription: a subscription's own choice (origin
/// `subscription`) is kept. Whether anything changed (then `_updatedAt` moves to `at`).
pub fn apply_to_subscription(
    sub: &mut Subscription,
    changes: &[SubscriptionChange],
    at: &str,
) -> bool {
    let before = sub.clone();
    for change in changes {
        match change {
            SubscriptionChange::Copy {
                field,
                origin,
                value,
            } => {
                if sub.preference_origin(origin) != Some("subscription") {
                    sub.set_preference_from_user(field, origin, value);
                }
            }
            SubscriptionChange::Clear { field, origin } => {
                if sub.preference_origin(origin) == Some("user") {
                    sub.clear_preference_from_user(field, origin);
                }
            }
            SubscriptionChange::Highlights(words) => sub.set_user_highlights(words),
        }
    }
    let changed = *sub != before;
    if changed {
        sub.set_updated_at(at);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::object;
    use proptest::prelude::*;
    use serde_json::json;

    fn user(prefs: Value) -> User {
        User(object(
            json!({"_id": "u1", "settings": {"preferences": prefs}}),
        ))
    }

    #[test]
    fn old_email_modes_are_renamed_and_short_idle_limits_refused() {
        let p = normalise(object(json!({"emailNotificationMode": "disabled"}))).unwrap();
        assert_eq!(p["emailNotificationMode"], "nothing");
        let p = normalise(object(json!({"emailNotificationMode": "all"}))).unwrap();
        assert_eq!(p["emailNotificationMode"], "mentions");
        assert_eq!(
            normalise(object(json!({"idleTimeLimit": 59}))),
            Err(IdleTimeLimitTooShort)
        );
        assert!(normalise(object(json!({"idleTimeLimit": 60}))).is_ok());
    }

    #[test]
    fn preferences_are_set_key_by_key() {
        let mut u = User(object(json!({"_id": "u1"})));
        apply(
            &mut u,
            &object(json!({"language": "de", "clockMode": 0, "useEmojis": false})),
            "t",
        );
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            json!({"_id": "u1", "language": "de", "settings": {"preferences": {"language": "de", "useEmojis": false}}, "_updatedAt": "t"})
        );
        let mut bare = User(object(json!({"_id": "u1"})));
        apply(&mut bare, &Doc::new(), "t");
        assert!(bare.has_settings());
    }

    #[test]
    fn only_changed_notification_preferences_reach_subscriptions() {
        let before = user(json!({"pushNotifications": "nothing"}));
        let prefs = object(
            json!({"pushNotifications": "nothing", "desktopNotifications": "default", "emailNotificationMode": "mentions", "highlights": ["x"]}),
        );
        assert_eq!(
            subscription_changes(&before, &prefs),
            [
                SubscriptionChange::Clear {
                    field: "desktopNotifications",
                    origin: "desktopPrefOrigin"
                },
                SubscriptionChange::Copy {
                    field: "emailNotifications",
                    origin: "emailPrefOrigin",
                    value: "mentions".into()
                },
                SubscriptionChange::Highlights(vec!["x".into()]),
            ]
        );
    }

    fn origin() -> impl Strategy<Value = Option<&'static str>> {
        prop::option::of(prop::sample::select(vec!["user", "subscription"]))
    }

    proptest! {
        /// The subscription's own choice always wins; a copy follows the user's preference;
        /// `default` removes copies only.
        #[test]
        fn a_subscriptions_own_choice_wins(
            origin in origin(),
            stored in prop::sample::select(vec!["all", "mentions", "nothing"]),
            new in prop::sample::select(vec!["all", "mentions", "nothing", "default"]),
        ) {
            let mut s = Subscription(object(json!({"_id": "s", "rid": "r", "u": {"_id": "u1"}})));
            if let Some(o) = origin {
                s.0.insert("mobilePushNotifications".into(), stored.into());
                s.0.insert("mobilePrefOrigin".into(), o.into());
            }
            let changes = subscription_changes(&user(json!({})), &object(json!({"pushNotifications": new})));
            apply_to_subscription(&mut s, &changes, "t");
            let now = (s.mobile_push_notifications(), s.preference_origin("mobilePrefOrigin"));
            match (origin, new) {
                (Some("subscription"), _) => prop_assert_eq!(now, (Some(stored), Some("subscription"))),
                (_, "default") => prop_assert_eq!(now, (None, None)),
                _ => prop_assert_eq!(now, (Some(new), Some("user"))),
            }
        }
    }
}
