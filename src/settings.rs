//! Rocket.Chat settings: ids, defaults, the values in force (cached in memory, written
//! through to the store). Ids and defaults are Rocket.Chat's (spec §2.3). Loading them also
//! reads the permissions an admin changed, the other run-time configuration.

use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use secrecy::{ExposeSecret, SecretString};

use indexmap::IndexMap;
use serde_json::{json, Value};

use crate::model::{object, Doc};
use crate::store::{Store, StoreResult};

use crate::rules::notification::DEFAULT_FAVICON_192;

/// The gateway a fresh Rocket.Chat uses (`Push_gateway`'s package value).
pub const DEFAULT_PUSH_GATEWAY: &str = "https://gateway.rocket.chat";

/// `(id, default value)` of every setting rcpush knows. Values of other ids are rejected.
fn defaults(site_url: &str, unique_id: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("Site_Url", json!(site_url)),
        ("uniqueID", json!(unique_id)),
        ("Language", json!("")),
        ("UI_Use_Real_Name", json!(false)),
        ("UI_Allow_room_names_with_special_chars", json!(false)),
        ("Push_enable", json!(true)),
        ("Push_enable_gateway", json!(true)),
        ("Push_gateway", json!(DEFAULT_PUSH_GATEWAY)),
        ("Push_production", json!(true)),
        // A gateway needs a registered workspace that agreed to the cloud terms (spec §1.1).
        // Rocket.Chat's defaults are false; rcpush's are true, so that turning the gateway off
        // is the one switch to direct mode and existing gateway deployments keep working.
        ("Register_Server", json!(true)),
        ("Cloud_Service_Agree_PrivacyTerms", json!(true)),
        ("Push_apn_passphrase", json!("")),
        ("Push_apn_key", json!("")),
        ("Push_apn_cert", json!("")),
        ("Push_apn_dev_passphrase", json!("")),
        ("Push_apn_dev_key", json!("")),
        ("Push_apn_dev_cert", json!("")),
        // rcpush's own, beyond Rocket.Chat: APNs token authentication (a `.p8` key), which
        // Apple recommends and which does not expire yearly as certificates do.
        ("Push_apn_auth_key", json!("")),
        ("Push_apn_key_id", json!("")),
        ("Push_apn_team_id", json!("")),
        ("Push_google_api_credentials", json!("")),
        ("Push_request_content_from_server", json!(false)),
        ("Push_show_username_room", json!(true)),
        ("Push_show_message", json!(true)),
        (
            "Assets_favicon_192",
            json!({"defaultUrl": DEFAULT_FAVICON_192}),
        ),
        ("Unread_Count", json!("user_and_group_mentions_only")),
        ("Unread_Count_DM", json!("all_messages")),
        ("Message_MaxAllowedSize", json!(5000)),
        ("Accounts_AllowAnonymousRead", json!(false)),
        ("Accounts_BlockedUsernameList", json!("")),
        (
            "Accounts_SystemBlockedUsernameList",
            json!("admin,administrator,system,user"),
        ),
        ("HexColorPreview_Enabled", json!(true)),
        ("Katex_Enabled", json!(true)),
        ("Katex_Dollar_Syntax", json!(false)),
        ("Katex_Parenthesis_Syntax", json!(true)),
        ("Message_CustomDomain_AutoLink", json!("")),
    ]
    .into_iter()
    .chain(default_user_preferences())
    .collect()
}

/// The `Accounts_Default_User_Preferences_<key>` settings: every user's preferences unless
/// they chose otherwise, with Rocket.Chat's defaults, in the order Rocket.Chat adds them.
fn default_user_preferences() -> Vec<(&'static str, Value)> {
    vec![
        (
            "Accounts_Default_User_Preferences_enableAutoAway",
            json!(true),
        ),
        (
            "Accounts_Default_User_Preferences_idleTimeLimit",
            json!(300),
        ),
        (
            "Accounts_Default_User_Preferences_desktopNotificationRequireInteraction",
            json!(false),
        ),
        (
            "Accounts_Default_User_Preferences_desktopNotifications",
            json!("all"),
        ),
        (
            "Accounts_Default_User_Preferences_pushNotifications",
            json!("all"),
        ),
        ("Accounts_Default_User_Preferences_unreadAlert", json!(true)),
        ("Accounts_Default_User_Preferences_useEmojis", json!(true)),
        (
            "Accounts_Default_User_Preferences_convertAsciiEmoji",
            json!(true),
        ),
        (
            "Accounts_Default_User_Preferences_autoImageLoad",
            json!(true),
        ),
        (
            "Accounts_Default_User_Preferences_saveMobileBandwidth",
            json!(true),
        ),
        (
            "Accounts_Default_User_Preferences_collapseMediaByDefault",
            json!(false),
        ),
        (
            "Accounts_Default_User_Preferences_hideUsernames",
            json!(false),
        ),
        ("Accounts_Default_User_Preferences_hideRoles", json!(false)),
        (
            "Accounts_Default_User_Preferences_hideFlexTab",
            json!(false),
        ),
        (
            "Accounts_Default_User_Preferences_displayAvatars",
            json!(true),
        ),
        (
            "Accounts_Default_User_Preferences_sidebarGroupByType",
            json!(true),
        ),
        (
            "Accounts_Default_User_Preferences_themeAppearence",
            json!("auto"),
        ),
        (
            "Accounts_Default_User_Preferences_sidebarViewMode",
            json!("medium"),
        ),
        (
            "Accounts_Default_User_Preferences_sidebarDisplayAvatar",
            json!(true),
        ),
        (
            "Accounts_Default_User_Preferences_sidebarShowUnread",
            json!(false),
        ),
        (
            "Accounts_Default_User_Preferences_sidebarSortby",
            json!("activity"),
        ),
        (
            "Accounts_Default_User_Preferences_showThreadsInMainChannel",
            json!(false),
        ),
        (
            "Accounts_Default_User_Preferences_alsoSendThreadToChannel",
            json!("default"),
        ),
        (
            "Accounts_Default_User_Preferences_sidebarShowFavorites",
            json!(true),
        ),
        (
            "Accounts_Default_User_Preferences_sendOnEnter",
            json!("normal"),
        ),
        (
            "Accounts_Default_User_Preferences_emailNotificationMode",
            json!("mentions"),
        ),
        (
            "Accounts_Default_User_Preferences_newRoomNotification",
            json!("door"),
        ),
        (
            "Accounts_Default_User_Preferences_newMessageNotification",
            json!("chime"),
        ),
        (
            "Accounts_Default_User_Preferences_muteFocusedConversations",
            json!(true),
        ),
        (
            "Accounts_Default_User_Preferences_notificationsSoundVolume",
            json!(100),
        ),
        (
            "Accounts_Default_User_Preferences_omnichannelTranscriptEmail",
            json!(false),
        ),
        (
            "Accounts_Default_User_Preferences_notifyCalendarEvents",
            json!(true),
        ),
        (
            "Accounts_Default_User_Preferences_enableMobileRinging",
            json!(true),
        ),
        (
            "Accounts_Default_User_Preferences_sidebarSectionsOrder",
            json!([
                "Incoming_Calls",
                "Incoming_Livechats",
                "Open_Livechats",
                "On_Hold_Chats",
                "Unread",
                "Favorites",
                "Teams",
                "Discussions",
                "Channels",
                "Direct_Messages",
                "Conversations"
            ]),
        ),
        (
            "Accounts_Default_User_Preferences_featuresPreview",
            json!("[]"),
        ),
    ]
}

/// The settings Rocket.Chat marks `secret:true` (spec §1.2), and rcpush's `.p8` key: masked
/// when read through the API, never logged.
pub const SECRET_SETTINGS: [&str; 8] = [
    "Push_apn_passphrase",
    "Push_apn_key",
    "Push_apn_cert",
    "Push_apn_dev_passphrase",
    "Push_apn_dev_key",
    "Push_apn_dev_cert",
    "Push_apn_auth_key",
    "Push_google_api_credentials",
];

/// What the API and the logs show of a set secret: that it is set, not what it is.
pub const SECRET_MASK: &str = "********";

/// `value` as it may be shown: a secret setting's non-empty value becomes `SECRET_MASK`.
pub fn shown_value(id: &str, value: Value) -> Value {
    match value {
        Value::String(s) if SECRET_SETTINGS.contains(&id) && !s.is_empty() => json!(SECRET_MASK),
        other => other,
    }
}

/// Removes the secret settings that hold a value from the setting documents of a backup
/// made without `--include-secrets`; returns how many it removed. A restore creates them
/// blank (every known setting is created at start-up), to be entered again.
pub fn drop_secrets(settings: &mut Vec<Doc>) -> usize {
    let before = settings.len();
    settings.retain(|d| {
        let secret = d
            .get("_id")
            .and_then(Value::as_str)
            .is_some_and(|id| SECRET_SETTINGS.contains(&id));
        !secret || d.get("value").is_none_or(|v| v.as_str() == Some(""))
    });
    before - settings.len()
}

/// What `getUserPreferences` strips from those ids.
const PREFERENCE_PREFIX: &str = "Accounts_Default_User_Preferences_";

/// Whether rcpush knows the setting `id` (configuration may only name known ones).
pub fn is_known(id: &str) -> bool {
    defaults("", "").iter().any(|(k, _)| *k == id)
}

/// The one rule for a setting's new value, from `config.toml` or `POST settings/:_id`: it
/// keeps the JSON type of the value it replaces (a setting without a value takes any).
pub fn same_type(current: Option<&Value>, new: &Value) -> bool {
    matches!(
        (current, new),
        (Some(Value::Bool(_)), Value::Bool(_))
            | (Some(Value::String(_)), Value::String(_))
            | (Some(Value::Number(_)), Value::Number(_))
            | (Some(Value::Object(_)), Value::Object(_))
            | (Some(Value::Array(_)), Value::Array(_))
            | (Some(Value::Null) | None, _)
    )
}

/// Checks a configured initial value of the known setting `id` against its default's type;
/// the error names the type the value must have (`boolean`, `string`, `number`, `object`).
pub fn check_initial(id: &str, value: &Value) -> Result<(), &'static str> {
    let known = defaults("", "");
    let default = known.iter().find(|(k, _)| *k == id).map(|(_, v)| v);
    match same_type(default, value) {
        true => Ok(()),
        false => Err(default.map_or("object", type_name)),
    }
}

/// The name of a JSON value's type, as the configuration error says it.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "boolean",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Null | Value::Object(_) => "object",
    }
}

/// The settings the server acts on, typed, read from the documents at once: requests take
/// one snapshot and never look a setting up by its id.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub site_url: String,
    pub unique_id: String,
    pub ui_use_real_name: bool,
    pub ui_allow_room_names_with_special_chars: bool,
    pub push_enable: bool,
    pub push_enable_gateway: bool,
    pub push_gateway: String,
    pub push_production: bool,
    pub register_server: bool,
    pub cloud_service_agree_privacy_terms: bool,
    /// The service-account JSON for FCM HTTP v1, read live at each send.
    pub push_google_api_credentials: SecretString,
    /// The APNs credentials `Push_production` picks: `Push_apn_*` or `Push_apn_dev_*`.
    pub push_apn: ApnCredentials,
    /// APNs token authentication, preferred to the certificate when its key is set. One
    /// key serves both of Apple's environments.
    pub push_apn_token: ApnTokenCredentials,
    pub push_request_content_from_server: bool,
    pub push_show_username_room: bool,
    pub push_show_message: bool,
    /// `Assets_favicon_192`'s custom `url`, if one was uploaded.
    pub favicon_192_url: Option<String>,
    /// The `Accounts_Default_User_Preferences_*` values by preference key, in Rocket.Chat's
    /// order: what `/me` shows under `settings.preferences` for what a user did not choose.
    pub default_user_preferences: crate::model::Doc,
    /// `Accounts_Default_User_Preferences_pushNotifications`.
    pub default_push_preference: String,
    pub unread_count: String,
    pub unread_count_dm: String,
    /// `Message_MaxAllowedSize`, in UTF-16 units.
    pub message_max_allowed_size: u64,
    /// `Accounts_BlockedUsernameList` and `Accounts_SystemBlockedUsernameList`, as stored.
    pub blocked_usernames: [String; 2],
    pub hex_color_preview: bool,
    pub katex_enabled: bool,
    pub katex_dollar_syntax: bool,
    pub katex_parenthesis_syntax: bool,
    pub custom_domains: Vec<String>,
}

/// PEM texts and the key's passphrase.
#[derive(Debug, Clone, Default)]
pub struct ApnCredentials {
    pub cert: SecretString,
    pub key: SecretString,
    pub passphrase: SecretString,
}

impl ApnCredentials {
    /// Rocket.Chat leaves APNs unconfigured, and skips iOS devices, when the key or the
    /// certificate is blank.
    pub fn configured(&self) -> bool {
        !self.cert.expose_secret().trim().is_empty() && !self.key.expose_secret().trim().is_empty()
    }
}

/// `Push_apn_auth_key` (the `.p8` PEM text), `Push_apn_key_id` and `Push_apn_team_id`.
#[derive(Debug, Clone, Default)]
pub struct ApnTokenCredentials {
    pub key: SecretString,
    pub key_id: String,
    pub team_id: String,
}

impl ApnTokenCredentials {
    /// Chosen when the key is set; a missing key id or team id is then a configuration
    /// error, not a silent fall back to the certificate.
    pub fn configured(&self) -> bool {
        !self.key.expose_secret().trim().is_empty()
    }
}

impl Snapshot {
    fn read(values: &IndexMap<String, Doc>) -> Snapshot {
        let value = |id: &str| values.get(id).and_then(|d| d.get("value"));
        let flag = |id: &str| value(id).and_then(Value::as_bool).unwrap_or(false);
        let text = |id: &str| {
            value(id)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Snapshot {
            site_url: text("Site_Url"),
            unique_id: text("uniqueID"),
            ui_use_real_name: flag("UI_Use_Real_Name"),
            ui_allow_room_names_with_special_chars: flag("UI_Allow_room_names_with_special_chars"),
            push_enable: flag("Push_enable"),
            push_enable_gateway: flag("Push_enable_gateway"),
            push_gateway: text("Push_gateway"),
            push_production: flag("Push_production"),
            register_server: flag("Register_Server"),
            cloud_service_agree_privacy_terms: flag("Cloud_Service_Agree_PrivacyTerms"),
            push_google_api_credentials: text("Push_google_api_credentials").into(),
            push_apn: {
                let dev = if flag("Push_production") { "" } else { "dev_" };
                let secret =
                    |name: &str| SecretString::from(text(&format!("Push_apn_{dev}{name}")));
                ApnCredentials {
                    cert: secret("cert"),
                    key: secret("key"),
                    passphrase: secret("passphrase"),
                }
            },
            push_apn_token: ApnTokenCredentials {
                key: text("Push_apn_auth_key").into(),
                key_id: text("Push_apn_key_id").trim().to_string(),
                team_id: text("Push_apn_team_id").trim().to_string(),
            },
            push_request_content_from_server: flag("Push_request_content_from_server"),
            push_show_username_room: flag("Push_show_username_room"),
            push_show_message: flag("Push_show_message"),
            favicon_192_url: value("Assets_favicon_192")
                .and_then(|v| v.get("url"))
                .and_then(Value::as_str)
                .map(str::to_string),
            default_user_preferences: default_user_preferences()
                .into_iter()
                .filter_map(|(id, _)| {
                    let key = id.strip_prefix(PREFERENCE_PREFIX)?;
                    Some((key.to_string(), value(id)?.clone()))
                })
                .collect(),
            default_push_preference: text("Accounts_Default_User_Preferences_pushNotifications"),
            unread_count: text("Unread_Count"),
            unread_count_dm: text("Unread_Count_DM"),
            message_max_allowed_size: value("Message_MaxAllowedSize")
                .and_then(Value::as_u64)
                .unwrap_or(5000),
            blocked_usernames: [
                text("Accounts_BlockedUsernameList"),
                text("Accounts_SystemBlockedUsernameList"),
            ],
            hex_color_preview: flag("HexColorPreview_Enabled"),
            katex_enabled: flag("Katex_Enabled"),
            katex_dollar_syntax: flag("Katex_Dollar_Syntax"),
            katex_parenthesis_syntax: flag("Katex_Parenthesis_Syntax"),
            custom_domains: text("Message_CustomDomain_AutoLink")
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// The message parser's options as the server derives them from its settings
    /// (`MessageService.getMarkdownConfig`), with `now_ms` dating `<t:hh:mm>` timestamps.
    pub fn md_options(&self, now_ms: i64) -> message_parser::Options {
        let katex = self.katex_enabled.then_some(message_parser::Katex {
            dollar_syntax: self.katex_dollar_syntax,
            parenthesis_syntax: self.katex_parenthesis_syntax,
        });
        message_parser::Options {
            colors: self.hex_color_preview,
            emoticons: true,
            custom_domains: self.custom_domains.clone(),
            katex,
            now_ms,
        }
    }

    /// The `Unread_Count` setting that applies to a room of type `room_type`.
    pub fn unread_count_for(&self, room_type: &str) -> &str {
        if room_type == "d" {
            &self.unread_count_dm
        } else {
            &self.unread_count
        }
    }
}

/// The settings in force. Cheap to clone. Reads never touch a store of this process's
/// own; on a database shared with other processes each read first compares the stored
/// `settings_version` with the one loaded, so that a change made by any process is in force
/// on the next request everywhere.
#[derive(Clone)]
pub struct Settings {
    store: Store,
    values: Arc<RwLock<IndexMap<String, Doc>>>,
    /// The typed view of `values`, replaced whole by every change.
    snapshot: Arc<RwLock<Arc<Snapshot>>>,
    /// The `settings_version` that `values` and `changed_permissions` reflect.
    version: Arc<AtomicU64>,
    /// The permissions an admin changed, as stored: read at start and, on a shared
    /// database, again whenever another process changed settings or permissions (this
    /// process's own changes are applied by the services as they make them).
    changed_permissions: Arc<RwLock<ChangedPermissions>>,
}

/// The stored permission changes, and how many times they were loaded.
#[derive(Clone, Default)]
pub struct ChangedPermissions {
    pub loads: u64,
    pub documents: Arc<Vec<Doc>>,
}

impl Settings {
    /// Loads stored settings, storing defaults (overridden by `initial`) for missing ids.
    pub fn load(
        store: &Store,
        site_url: &str,
        unique_id: &str,
        initial: &IndexMap<String, Value>,
    ) -> anyhow::Result<Settings> {
        let known = defaults(site_url, unique_id);
        let mut values: IndexMap<String, Doc> = store
            .all_settings()?
            .into_iter()
            .filter_map(|d| Some((d.get("_id")?.as_str()?.to_string(), d)))
            .collect();
        let mut missing = Vec::new();
        for (id, default) in known {
            if values.contains_key(id) {
                continue;
            }
            let value = initial.get(id).cloned().unwrap_or(default);
            let doc = object(json!({"_id": id, "value": value}));
            values.insert(id.to_string(), doc.clone());
            missing.push(doc);
        }
        if !missing.is_empty() {
            store.put_settings(&missing)?;
        }
        let snapshot = Arc::new(Snapshot::read(&values));
        Ok(Settings {
            store: store.clone(),
            values: Arc::new(RwLock::new(values)),
            snapshot: Arc::new(RwLock::new(snapshot)),
            version: Arc::new(AtomicU64::new(store.settings_version()?)),
            changed_permissions: Arc::new(RwLock::new(ChangedPermissions {
                loads: 0,
                documents: Arc::new(store.all_permissions()?),
            })),
        })
    }

    /// The `{"_id","roles","_updatedAt"}` documents of the permissions an admin changed
    /// through `permissions.update`, as last loaded (`loads` tells a caller whether they
    /// were loaded again since it last looked).
    pub fn changed_permissions(&self) -> ChangedPermissions {
        self.refresh();
        self.changed_permissions.read().clone()
    }

    /// The settings in force, typed (a snapshot: a later `set` does not change it).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.refresh();
        self.snapshot.read().clone()
    }

    /// The setting document (`{"_id","value",…}`) for `id`.
    pub fn get(&self, id: &str) -> Option<Doc> {
        self.refresh();
        self.read().get(id).cloned()
    }

    /// Loads the settings and permission changes again if another process changed them
    /// (shared databases only).
    /// If the database cannot be read, the settings loaded last stay in force: the request
    /// will meet the same failure where it needs the database, and say so.
    fn refresh(&self) {
        if !self.store.is_shared() {
            return;
        }
        let reload = || -> StoreResult<()> {
            let stored = self.store.settings_version()?;
            if stored != self.version.load(Ordering::SeqCst) {
                self.reload()?;
            }
            Ok(())
        };
        if let Err(e) = reload() {
            tracing::warn!(error = %e, "cannot read the settings version");
        }
    }

    /// Loads the stored settings and permission changes again (after another process
    /// changed them, or a testing reset put the database back).
    pub fn reload(&self) -> StoreResult<()> {
        let stored = self.store.settings_version()?;
        let values: IndexMap<String, Doc> = self
            .store
            .all_settings()?
            .into_iter()
            .filter_map(|d| Some((d.get("_id")?.as_str()?.to_string(), d)))
            .collect();
        let permissions = self.store.all_permissions()?;
        let mut held = self.values.write();
        *self.snapshot.write() = Arc::new(Snapshot::read(&values));
        *held = values;
        let mut changed = self.changed_permissions.write();
        changed.loads += 1;
        changed.documents = Arc::new(permissions);
        self.version.store(stored, Ordering::SeqCst);
        Ok(())
    }

    /// Changes a setting's value, durably. `None` if the id is unknown.
    pub fn set(&self, id: &str, value: Value) -> StoreResult<Option<Doc>> {
        let Some(mut doc) = self.get(id) else {
            return Ok(None);
        };
        doc.insert("value".into(), value);
        self.store.put_settings(std::slice::from_ref(&doc))?;
        let mut values = self.values.write();
        values.insert(id.to_string(), doc.clone());
        *self.snapshot.write() = Arc::new(Snapshot::read(&values));
        Ok(Some(doc))
    }

    fn read(&self) -> parking_lot::RwLockReadGuard<'_, IndexMap<String, Doc>> {
        self.values.read()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_keeps_the_type_of_the_one_it_replaces() {
        assert!(same_type(Some(&json!(true)), &json!(false)));
        assert!(same_type(Some(&json!("a")), &json!("")));
        assert!(same_type(Some(&json!(1)), &json!(2.5)));
        assert!(same_type(Some(&json!({})), &json!({"url": "x"})));
        assert!(same_type(None, &json!("anything")));
        assert!(same_type(Some(&Value::Null), &json!(3)));
        assert!(!same_type(Some(&json!(true)), &json!("yes")));
        assert!(!same_type(Some(&json!("all")), &json!(1)));
        assert!(!same_type(Some(&json!(5000)), &json!("5000")));
        assert!(!same_type(Some(&json!({})), &json!([])));
    }

    #[test]
    fn configured_values_are_checked_against_the_defaults() {
        assert_eq!(check_initial("Push_show_message", &json!(false)), Ok(()));
        assert_eq!(
            check_initial("Push_show_message", &json!("yes")),
            Err("boolean")
        );
        assert_eq!(check_initial("Message_MaxAllowedSize", &json!(100)), Ok(()));
        assert_eq!(
            check_initial("Message_MaxAllowedSize", &json!(true)),
            Err("number")
        );
        assert_eq!(check_initial("Push_gateway", &json!(1)), Err("string"));
        assert_eq!(
            check_initial("Assets_favicon_192", &json!("x")),
            Err("object")
        );
    }
}
