//! Users (`users` collection). Secrets (`services.password`, `services.resume`) are kept apart
//! by the store and never live in this document.

use serde_json::{json, Value};

use super::{document, object, time, Doc, DocExt};

document!(
    /// A user document in Rocket.Chat's shape.
    User
);

impl User {
    pub fn username(&self) -> Option<&str> {
        self.0.str_at("username")
    }

    pub fn name(&self) -> Option<&str> {
        self.0.str_at("name")
    }

    pub fn roles(&self) -> Vec<&str> {
        self.0.strs_at("roles")
    }

    pub fn language(&self) -> Option<&str> {
        self.0.str_at("language").filter(|l| !l.is_empty())
    }

    pub fn emails(&self) -> Vec<&str> {
        self.0
            .get("emails")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.get("address").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first verified address, as `getUserInfo` reports it.
    pub fn verified_email(&self) -> Option<&str> {
        self.0.get("emails")?.as_array()?.iter().find_map(|e| {
            (e.get("verified") == Some(&Value::Bool(true)))
                .then(|| e.get("address").and_then(Value::as_str))
                .flatten()
        })
    }

    pub fn set_require_password_change(&mut self, required: bool) {
        self.0
            .insert("requirePasswordChange".into(), required.into());
    }

    /// `statusConnection`: the status of the user's connections.
    pub fn status_connection(&self) -> Option<&str> {
        self.0.str_at("statusConnection")
    }

    /// `status`: the status shown to others.
    pub fn status(&self) -> Option<&str> {
        self.0.str_at("status")
    }

    /// `statusText`: the user's status message.
    pub fn status_text(&self) -> Option<&str> {
        self.0.str_at("statusText")
    }

    /// `roles` as stored (`null` when absent), for events that relay them untouched.
    pub fn stored_roles(&self) -> Value {
        self.0.get("roles").cloned().unwrap_or(Value::Null)
    }

    /// `statusDefault`: the status the user chose.
    pub fn status_default(&self) -> Option<&str> {
        self.0.str_at("statusDefault")
    }

    pub fn set_status_connection(&mut self, status: &str) {
        self.0.insert("statusConnection".into(), status.into());
    }

    /// `status` alone: what others see.
    pub fn set_shown_status(&mut self, shown: &str) {
        self.0.insert("status".into(), shown.into());
    }

    /// `statusDefault` (what the user chose) and `status` (what others see).
    pub fn set_status(&mut self, chosen: &str, shown: &str) {
        self.0.insert("statusDefault".into(), chosen.into());
        self.0.insert("status".into(), shown.into());
    }

    pub fn set_status_text(&mut self, text: &str) {
        self.0.insert("statusText".into(), text.into());
    }

    pub fn set_updated_at(&mut self, at: &str) {
        self.0.insert("_updatedAt".into(), at.into());
    }

    /// Not deactivated (`active` is anything but `false`).
    pub fn is_active(&self) -> bool {
        self.0.get("active") != Some(&Value::Bool(false))
    }

    /// TOTP or e-mail 2FA turned on (imported users only: rcpush offers neither).
    pub fn has_second_factor(&self) -> bool {
        ["totp", "email2fa"].iter().any(|k| {
            self.0
                .get("services")
                .and_then(|s| s.get(*k))
                .and_then(|f| f.get("enabled"))
                == Some(&Value::Bool(true))
        })
    }

    /// The user's own choices of `settings.preferences`.
    pub fn preferences(&self) -> Option<&Doc> {
        self.0
            .get("settings")
            .and_then(|s| s.get("preferences"))
            .and_then(Value::as_object)
    }

    /// `emails[0].address`: the address `setEmail` replaces.
    pub fn first_email(&self) -> Option<&str> {
        self.0
            .get("emails")?
            .as_array()?
            .first()?
            .get("address")?
            .as_str()
    }

    /// `settings` is present (new users get `{}`; `users.getPreferences` fails without it).
    pub fn has_settings(&self) -> bool {
        self.0.get("settings").is_some_and(|s| !s.is_null())
    }

    pub fn set_name(&mut self, name: &str) {
        self.0.insert("name".into(), name.into());
    }

    pub fn set_username(&mut self, username: &str) {
        self.0.insert("username".into(), username.into());
    }

    /// `setEmail`: the one address, replacing every other.
    pub fn set_email(&mut self, address: &str, verified: bool) {
        self.0.insert(
            "emails".into(),
            json!([{"address": address, "verified": verified}]),
        );
    }

    /// `emails.0.verified`, when there is a first address.
    pub fn set_email_verified(&mut self, verified: bool) {
        let first = self
            .0
            .get_mut("emails")
            .and_then(Value::as_array_mut)
            .and_then(|a| a.first_mut())
            .and_then(Value::as_object_mut);
        if let Some(first) = first {
            first.insert("verified".into(), verified.into());
        }
    }

    /// A profile text (`bio`, `nickname`): set, or removed when `None`.
    pub fn set_profile_text(&mut self, field: ProfileText, text: Option<&str>) {
        match text {
            Some(t) => self.0.insert(field.key().into(), t.into()),
            None => self.0.shift_remove(field.key()),
        };
    }

    pub fn set_roles(&mut self, roles: &[String]) {
        self.0.insert("roles".into(), json!(roles));
    }

    pub fn set_active(&mut self, active: bool) {
        self.0.insert("active".into(), active.into());
    }

    pub fn set_language(&mut self, language: &str) {
        self.0.insert("language".into(), language.into());
    }

    /// `requirePasswordChange`; turning it off drops `requirePasswordChangeReason`.
    pub fn set_require_password_change_and_reason(&mut self, required: bool) {
        self.set_require_password_change(required);
        if !required {
            self.0.shift_remove("requirePasswordChangeReason");
        }
    }

    /// A missing or `null` `settings` becomes `{}` (`Users.clearSettings`).
    pub fn ensure_settings(&mut self) {
        if !self.0.get("settings").is_some_and(Value::is_object) {
            self.0.insert("settings".into(), json!({}));
        }
    }

    /// `settings.preferences.<key>` set (or removed with `None`).
    pub fn set_preference(&mut self, key: &str, value: Option<Value>) {
        self.ensure_settings();
        let Some(settings) = self.0.get_mut("settings").and_then(Value::as_object_mut) else {
            return;
        };
        let preferences = settings
            .entry("preferences")
            .and_modify(|p| {
                if !p.is_object() {
                    *p = json!({});
                }
            })
            .or_insert_with(|| json!({}));
        if let Some(preferences) = preferences.as_object_mut() {
            match value {
                Some(v) => preferences.insert(key.into(), v),
                None => preferences.shift_remove(key),
            };
        }
    }

    /// `settings.preferences` with `language` set to the user's own (`users.getPreferences`,
    /// `users.setPreferences`): where it stands among them, else last; absent without one.
    pub fn preferences_with_language(&self) -> Doc {
        let mut prefs = self.preferences().cloned().unwrap_or_default();
        match self.0.get("language") {
            Some(language) => prefs.insert("language".into(), language.clone()),
            None => prefs.shift_remove("language"),
        };
        prefs
    }

    /// A notification preference the user chose (`desktopNotifications`,
    /// `pushNotifications`, `emailNotificationMode`), if a string.
    pub fn preference_str(&self, key: &str) -> Option<&str> {
        self.preferences()?.get(key)?.as_str()
    }

    /// `getDefaultSubscriptionPref`: what a subscription created for this user copies of
    /// their preferences (`userHighlights`, then each notification preference that is not
    /// `default` with its origin `user`), so that sending reads the subscription alone.
    pub fn subscription_preferences(&self) -> Vec<(&'static str, Value)> {
        let mut copied = Vec::new();
        let highlights = self
            .preferences()
            .and_then(|p| p.get("highlights"))
            .and_then(Value::as_array)
            .filter(|h| !h.is_empty());
        if let Some(h) = highlights {
            copied.push(("userHighlights", Value::Array(h.clone())));
        }
        for (preference, field, origin) in NOTIFICATION_PREFERENCES {
            match self.preference_str(preference) {
                None | Some("") | Some("default") => {}
                Some(value) => {
                    copied.push((field, value.into()));
                    copied.push((origin, "user".into()));
                }
            }
        }
        copied
    }

    /// `getUserInfo`: the user's own view of their account (login `data.me` and `/me`):
    /// the fields they may see, in stored order, then `email` (the verified one),
    /// `settings` with the `preferences` in force, `avatarUrl`, `isOAuthUser`, `services`.
    pub fn own_info(&self, preferences: Doc, avatar_url: String, has_password: bool) -> Value {
        let mut me = self.0.pick(OWN_FIELDS);
        if let Some(email) = self.verified_email() {
            me.insert("email".into(), email.into());
        }
        me.insert(
            "settings".into(),
            json!({"profile": {}, "preferences": preferences}),
        );
        me.insert("avatarUrl".into(), avatar_url.into());
        me.insert("isOAuthUser".into(), false.into());
        me.insert(
            "services".into(),
            json!({"password": {"exists": has_password}}),
        );
        Value::Object(me)
    }

    /// How a message's `mentions` names the user: `{_id, username, name, type: "user"}`
    /// (`name` only when the user has one).
    pub fn mention(&self) -> Value {
        let mut m = Doc::new();
        m.insert("_id".into(), self.id().into());
        m.insert(
            "username".into(),
            self.username().unwrap_or_default().into(),
        );
        if let Some(name) = self.name() {
            m.insert("name".into(), name.into());
        }
        m.insert("type".into(), "user".into());
        Value::Object(m)
    }

    /// `{_id, username, name}`: how a user is embedded in other documents (`u`).
    pub fn short(&self) -> Value {
        let mut u = Doc::new();
        u.insert("_id".into(), self.id().into());
        if let Some(n) = self.username() {
            u.insert("username".into(), n.into());
        }
        if let Some(n) = self.name() {
            u.insert("name".into(), n.into());
        }
        Value::Object(u)
    }
}

/// The user preferences a subscription copies: (preference, subscription field, the field
/// that records where the subscription's value came from).
pub const NOTIFICATION_PREFERENCES: [(&str, &str, &str); 3] = [
    (
        "desktopNotifications",
        "desktopNotifications",
        "desktopPrefOrigin",
    ),
    (
        "pushNotifications",
        "mobilePushNotifications",
        "mobilePrefOrigin",
    ),
    (
        "emailNotificationMode",
        "emailNotifications",
        "emailPrefOrigin",
    ),
];

/// The free profile texts `saveUser` trims and bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileText {
    Bio,
    Nickname,
}

impl ProfileText {
    fn key(self) -> &'static str {
        match self {
            ProfileText::Bio => "bio",
            ProfileText::Nickname => "nickname",
        }
    }
}

/// Who a user is, for authorisation and display: the fields requests read on every call,
/// decoded without the rest of the document.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Identity {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Identity {
    pub fn roles(&self) -> Vec<&str> {
        self.roles.iter().map(String::as_str).collect()
    }

    /// `{_id, username, name}`, as `User::short`.
    pub fn short(&self) -> Value {
        let mut u = Doc::new();
        u.insert("_id".into(), self.id.clone().into());
        if let Some(n) = &self.username {
            u.insert("username".into(), n.clone().into());
        }
        if let Some(n) = &self.name {
            u.insert("name".into(), n.clone().into());
        }
        Value::Object(u)
    }

    pub fn names(&self) -> Names {
        Names {
            username: self.username.clone(),
            name: self.name.clone(),
        }
    }
}

/// Just a user's names: what a notification shows of its sender. Reading these alone is
/// much cheaper than decoding the whole document on push.get's path.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Names {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// What `users.create` and first-start admin creation know about a new user.
pub struct NewUser<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub roles: Vec<String>,
    pub verified: bool,
    pub active: bool,
    pub now: time::Millis,
}

impl NewUser<'_> {
    /// The document in the order Rocket.Chat's `insertUserDoc` writes it.
    pub fn into_doc(self) -> User {
        let now = time::iso(self.now);
        User(object(json!({
            "_id": self.id,
            "createdAt": now,
            "username": self.username,
            "emails": [{"address": self.email, "verified": self.verified}],
            "type": "user",
            "status": "offline",
            "active": self.active,
            "_updatedAt": now,
            "roles": self.roles,
            "name": self.name,
            "requirePasswordChange": false,
            "settings": {},
        })))
    }
}

/// The id and username of the bot every Rocket.Chat has from its first start.
pub const ROCKET_CAT: &str = "rocket.cat";

/// `rocket.cat` as Rocket.Chat's `initialData` creates it (`Users.create`, then the `bot`
/// role added): no password, no e-mail.
pub fn rocket_cat(now: time::Millis) -> User {
    let now = time::iso(now);
    User(object(json!({
        "_id": ROCKET_CAT,
        "createdAt": now,
        "avatarOrigin": "none",
        "name": "Rocket.Cat",
        "username": ROCKET_CAT,
        "status": "online",
        "statusDefault": "online",
        "utcOffset": 0,
        "active": true,
        "type": "bot",
        "_updatedAt": now,
        "roles": ["bot"],
    })))
}

/// User fields `getDefaultUserFields` lets through to the user themself.
const OWN_FIELDS: &[&str] = &[
    "_id",
    "name",
    "username",
    "nickname",
    "emails",
    "status",
    "statusDefault",
    "statusText",
    "statusConnection",
    "bio",
    "avatarOrigin",
    "utcOffset",
    "language",
    "settings",
    "enableAutoAway",
    "idleTimeLimit",
    "roles",
    "active",
    "defaultRoom",
    "customFields",
    "requirePasswordChange",
    "requirePasswordChangeReason",
    "statusLivechat",
    "banners",
    "_updatedAt",
    "avatarETag",
];
