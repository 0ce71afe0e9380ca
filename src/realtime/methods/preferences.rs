//! `saveUserPreferences [preferences]`: the caller's preferences, as `users.setPreferences`
//! stores them for oneself.

use serde_json::Value;

use super::super::error::MeteorError;
use super::super::CallContext;
use super::params;

/// Whether a value has the JSON type a key needs.
type IsType = fn(&Value) -> bool;

/// The keys the method checks, and the JSON type each must have (`Match.Optional`): any
/// other key is stored as it is (`Match.ObjectIncluding`).
const TYPED: &[(&str, IsType)] = &[
    ("language", Value::is_string),
    ("newRoomNotification", Value::is_string),
    ("newMessageNotification", Value::is_string),
    ("clockMode", Value::is_number),
    ("useEmojis", Value::is_boolean),
    ("convertAsciiEmoji", Value::is_boolean),
    ("saveMobileBandwidth", Value::is_boolean),
    ("collapseMediaByDefault", Value::is_boolean),
    ("autoImageLoad", Value::is_boolean),
    ("emailNotificationMode", Value::is_string),
    ("unreadAlert", Value::is_boolean),
    ("notificationsSoundVolume", Value::is_number),
    ("desktopNotifications", Value::is_string),
    ("pushNotifications", Value::is_string),
    ("enableAutoAway", Value::is_boolean),
    ("highlights", strings),
    ("hideUsernames", Value::is_boolean),
    ("hideRoles", Value::is_boolean),
    ("displayAvatars", Value::is_boolean),
    ("hideFlexTab", Value::is_boolean),
    ("sendOnEnter", Value::is_string),
    ("idleTimeLimitH", Value::is_number),
    ("idleTimeLimitM", Value::is_number),
    ("idleTimeLimitS", Value::is_number),
    ("idleTimeLimit", Value::is_number),
    ("sidebarShowFavorites", Value::is_boolean),
    ("sidebarShowUnread", Value::is_boolean),
    ("sidebarSortby", Value::is_string),
    ("sidebarViewMode", Value::is_string),
    ("sidebarDisplayAvatar", Value::is_boolean),
    ("sidebarGroupByType", Value::is_boolean),
    ("muteFocusedConversations", Value::is_boolean),
    ("themeAppearence", Value::is_string),
    ("fontSize", Value::is_string),
    ("omnichannelTranscriptEmail", Value::is_boolean),
    ("omnichannelTranscriptPDF", Value::is_boolean),
    ("omnichannelHideConversationAfterClosing", Value::is_boolean),
    ("notifyCalendarEvents", Value::is_boolean),
    ("enableMobileRinging", Value::is_boolean),
    ("mentionsWithSymbol", Value::is_boolean),
];

fn strings(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
}

/// `saveUserPreferences [preferences]` → `true`; `Match failed` for a mistyped key,
/// `error-invalid-user` without a login.
pub async fn save_user_preferences(
    ctx: &CallContext<'_>,
    params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    let caller = params::caller(ctx, "saveUserPreferences")?;
    let prefs = params::object(params, 0)?;
    let mistyped = TYPED
        .iter()
        .any(|(key, is)| prefs.get(*key).is_some_and(|v| !is(v)));
    if mistyped {
        return Err(MeteorError::match_failed());
    }
    ctx.services
        .users()
        .save_preferences(caller.id(), prefs.clone())
        .await?;
    Ok(Some(Value::Bool(true)))
}
