//! The settings rcpush knows: their ids and Rocket.Chat's defaults (spec §2.3), which of them
//! are secret, and the one rule for a new value's type.

use serde_json::{json, Value};

use crate::model::Doc;
use crate::rules::notification::DEFAULT_FAVICON_192;

/// The gateway a fresh Rocket.Chat uses (`Push_gateway`'s package value).
pub const DEFAULT_PUSH_GATEWAY: &str = "https://gateway.rocket.chat";

/// `(id, default value)` of every setting rcpush knows. Values of other ids are rejected.
pub(super) fn defaults(site_url: &str, unique_id: &str) -> Vec<(&'static str, Value)> {
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
    .chain(account_settings())
    .chain(default_user_preferences())
    .chain(conformance_settings())
    .collect()
}

/// What users may change of their own account (`users.update`), and the roles new users
/// get (`users.create` without `roles`), with Rocket.Chat's defaults.
fn account_settings() -> Vec<(&'static str, Value)> {
    vec![
        ("Accounts_AllowUserProfileChange", json!(true)),
        ("Accounts_AllowUsernameChange", json!(true)),
        ("Accounts_AllowUserStatusMessageChange", json!(true)),
        ("Accounts_AllowRealNameChange", json!(true)),
        ("Accounts_AllowEmailChange", json!(true)),
        ("Accounts_AllowPasswordChange", json!(true)),
        ("Accounts_Registration_Users_Default_Roles", json!("user")),
    ]
}

/// Issue 28: the bad-words filter, end-to-end encryption's server-side switches, and the
/// settings Rocket.Chat's own REST tests set (`chat.ts`, `channels.ts`, `groups.ts`,
/// `direct-message.ts`, `users.ts`), with Rocket.Chat's ids and defaults (7.x), so that their
/// set-up hooks succeed. Those after the first two groups rcpush stores and returns but does
/// not act on (README, "Rocket.Chat's own tests").
fn conformance_settings() -> Vec<(&'static str, Value)> {
    vec![
        ("Message_AllowBadWordsFilter", json!(false)),
        ("Message_BadWordsFilterList", json!("")),
        ("Message_BadWordsWhitelist", json!("")),
        ("E2E_Enable", json!(false)),
        ("E2E_Allow_Unencrypted_Messages", json!(true)),
        ("E2E_Enable_Encrypt_Files", json!(true)),
        ("E2E_Enabled_Default_DirectRooms", json!(false)),
        ("E2E_Enabled_Default_PrivateRooms", json!(false)),
        ("E2E_Enabled_Mentions", json!(false)),
        // Stored, not acted on.
        ("Message_AllowPinning", json!(true)),
        ("Message_AllowStarring", json!(true)),
        ("Message_CustomFields_Enabled", json!(false)),
        ("Message_CustomFields", json!(MESSAGE_CUSTOM_FIELDS)),
        ("Threads_enabled", json!(true)),
        ("API_Embed", json!(true)),
        (
            "API_EmbedIgnoredHosts",
            json!("localhost, 127.0.0.1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16"),
        ),
        ("API_EmbedSafePorts", json!("80, 443")),
        ("API_Enable_Direct_Message_History_EndPoint", json!(false)),
        (
            "API_Apply_permission_view-outside-room_on_users-list",
            json!(false),
        ),
        (
            "Accounts_SearchFields",
            json!("username, name, bio, nickname"),
        ),
        ("Accounts_CustomFields", json!("")),
        ("Accounts_AllowUserAvatarChange", json!(true)),
        ("Accounts_AllowDeleteOwnAccount", json!(false)),
        ("Accounts_AllowInvisibleStatusOption", json!(true)),
        ("Accounts_PasswordReset", json!(true)),
        ("Accounts_Password_Policy_Enabled", json!(false)),
        ("Accounts_Password_Policy_MaxLength", json!(-1)),
        ("Accounts_TwoFactorAuthentication_Enabled", json!(true)),
        ("SMTP_Host", json!("")),
    ]
}

/// `Message_CustomFields`'s default: Rocket.Chat's example schema, as its settings code
/// writes it (a template literal, hence the surrounding new lines and tabs).
const MESSAGE_CUSTOM_FIELDS: &str = "\n{\n\t\"properties\": {\n\t\t\"priority\": {\n\t\t\t\"type\": \"string\",\n\t\t\t\"nullable\": false,\n\t\t\t\"enum\": [\"low\", \"medium\", \"high\"]\n\t\t}\n\t},\n\t\"required\": [\"priority\"]\n}\n\t\t";

/// The `Accounts_Default_User_Preferences_<key>` settings: every user's preferences unless
/// they chose otherwise, with Rocket.Chat's defaults, in the order Rocket.Chat adds them.
pub(super) fn default_user_preferences() -> Vec<(&'static str, Value)> {
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
pub(super) const PREFERENCE_PREFIX: &str = "Accounts_Default_User_Preferences_";

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
    fn every_setting_is_listed_once() {
        let all = defaults("", "");
        let mut ids: Vec<&str> = all.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "a setting id is listed twice");
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
