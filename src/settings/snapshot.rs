//! The settings the server acts on, typed and parsed once per change: requests read fields,
//! never a setting's id.

use std::sync::Arc;

use indexmap::IndexMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::defaults::{default_user_preferences, PREFERENCE_PREFIX};
use crate::model::{Doc, RoomType};
use crate::rules::bad_words::BadWords;
use crate::rules::e2e::E2eSettings;
use crate::rules::push::PushPreference;
use crate::rules::unread::UnreadCount;
use crate::rules::user_profile::ProfileRules;

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
    pub default_push_preference: PushPreference,
    /// The `Accounts_Allow*Change` settings.
    pub profile_rules: ProfileRules,
    /// `Accounts_Registration_Users_Default_Roles`, parsed as comma-separated values.
    pub default_user_roles: Vec<String>,
    pub unread_count: UnreadCount,
    pub unread_count_dm: UnreadCount,
    /// `Message_MaxAllowedSize`, in UTF-16 units.
    pub message_max_allowed_size: u64,
    /// `Accounts_BlockedUsernameList` and `Accounts_SystemBlockedUsernameList`, as stored.
    pub blocked_usernames: [String; 2],
    pub hex_color_preview: bool,
    pub katex_enabled: bool,
    pub katex_dollar_syntax: bool,
    pub katex_parenthesis_syntax: bool,
    pub custom_domains: Vec<String>,
    /// The bad-words filter, built once per change of its settings; `None` when
    /// `Message_AllowBadWordsFilter` is off.
    pub bad_words: Option<Arc<BadWords>>,
    /// `E2E_Enable`, `E2E_Allow_Unencrypted_Messages`, `E2E_Enabled_Default_PrivateRooms`
    /// and `E2E_Enabled_Default_DirectRooms`.
    pub e2e: E2eSettings,
}

/// A comma-separated setting's items, trimmed, empty ones dropped (`parseCSV`).
fn csv(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
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
    pub(super) fn read(values: &IndexMap<String, Doc>) -> Snapshot {
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
            // `default` or an unknown value behaves as `mentions` does.
            default_push_preference: PushPreference::parse(&text(
                "Accounts_Default_User_Preferences_pushNotifications",
            ))
            .unwrap_or(PushPreference::Mentions),
            profile_rules: ProfileRules {
                user_profile: flag("Accounts_AllowUserProfileChange"),
                username: flag("Accounts_AllowUsernameChange"),
                status_message: flag("Accounts_AllowUserStatusMessageChange"),
                real_name: flag("Accounts_AllowRealNameChange"),
                email: flag("Accounts_AllowEmailChange"),
                password: flag("Accounts_AllowPasswordChange"),
            },
            default_user_roles: csv(&text("Accounts_Registration_Users_Default_Roles")),
            unread_count: UnreadCount::parse(&text("Unread_Count")),
            unread_count_dm: UnreadCount::parse(&text("Unread_Count_DM")),
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
            custom_domains: csv(&text("Message_CustomDomain_AutoLink")),
            bad_words: flag("Message_AllowBadWordsFilter").then(|| {
                Arc::new(BadWords::new(
                    &text("Message_BadWordsFilterList"),
                    &text("Message_BadWordsWhitelist"),
                ))
            }),
            e2e: E2eSettings {
                enabled: flag("E2E_Enable"),
                allow_unencrypted_messages: flag("E2E_Allow_Unencrypted_Messages"),
                default_private_rooms: flag("E2E_Enabled_Default_PrivateRooms"),
                default_direct_rooms: flag("E2E_Enabled_Default_DirectRooms"),
            },
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
    pub fn unread_count_for(&self, room_type: RoomType) -> UnreadCount {
        if room_type == RoomType::Direct {
            self.unread_count_dm
        } else {
            self.unread_count
        }
    }
}
