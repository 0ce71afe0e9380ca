//! Rocket.Chat settings: ids, defaults, the values in force (cached in memory, written
//! through to the store). Ids and defaults are Rocket.Chat's (spec §2.3).

use std::sync::{Arc, RwLock};

use indexmap::IndexMap;
use serde_json::{json, Value};

use crate::model::{object, Doc};
use crate::notify::NotifySettings;
use crate::store::{Store, StoreResult};

/// The default Android/iOS notification icon (`Assets_favicon_192`'s `defaultUrl`).
pub const FAVICON_192_DEFAULT: &str = "images/logo/android-chrome-192x192.png";

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
        ("Push_gateway", json!("https://gateway.rocket.chat")),
        ("Push_production", json!(true)),
        ("Push_request_content_from_server", json!(false)),
        ("Push_show_username_room", json!(true)),
        ("Push_show_message", json!(true)),
        (
            "Assets_favicon_192",
            json!({"defaultUrl": FAVICON_192_DEFAULT}),
        ),
        (
            "Accounts_Default_User_Preferences_pushNotifications",
            json!("all"),
        ),
        ("Unread_Count", json!("user_and_group_mentions_only")),
        ("Unread_Count_DM", json!("all_messages")),
        ("Message_MaxAllowedSize", json!(5000)),
        ("Accounts_AllowAnonymousRead", json!(false)),
        ("HexColorPreview_Enabled", json!(true)),
        ("Katex_Enabled", json!(true)),
        ("Katex_Dollar_Syntax", json!(false)),
        ("Katex_Parenthesis_Syntax", json!(true)),
        ("Message_CustomDomain_AutoLink", json!("")),
    ]
}

/// Whether rcpush knows the setting `id` (configuration may only name known ones).
pub fn is_known(id: &str) -> bool {
    defaults("", "").iter().any(|(k, _)| *k == id)
}

/// The settings in force. Cheap to clone; reads never touch the store.
#[derive(Clone)]
pub struct Settings {
    store: Store,
    values: Arc<RwLock<IndexMap<String, Doc>>>,
    /// What notifications read on every push.get, kept ready.
    notify: Arc<RwLock<Arc<NotifySettings>>>,
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
        let mut settings = Settings {
            store: store.clone(),
            values: Arc::new(RwLock::new(values)),
            notify: Arc::default(),
        };
        settings.notify = Arc::new(RwLock::new(Arc::new(NotifySettings::read(&settings))));
        Ok(settings)
    }

    /// The notification settings in force (a snapshot, refreshed by `set`).
    pub fn notify(&self) -> Arc<NotifySettings> {
        self.notify
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The setting document (`{"_id","value",…}`) for `id`.
    pub fn get(&self, id: &str) -> Option<Doc> {
        self.read().get(id).cloned()
    }

    pub fn value(&self, id: &str) -> Value {
        self.read()
            .get(id)
            .and_then(|d| d.get("value"))
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub fn bool(&self, id: &str) -> bool {
        self.value(id).as_bool().unwrap_or(false)
    }

    pub fn string(&self, id: &str) -> String {
        match self.value(id) {
            Value::String(s) => s,
            _ => String::new(),
        }
    }

    /// Changes a setting's value, durably. `None` if the id is unknown.
    pub fn set(&self, id: &str, value: Value) -> StoreResult<Option<Doc>> {
        let Some(mut doc) = self.get(id) else {
            return Ok(None);
        };
        doc.insert("value".into(), value);
        self.store.put_settings(std::slice::from_ref(&doc))?;
        self.values
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), doc.clone());
        *self.notify.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(NotifySettings::read(self));
        Ok(Some(doc))
    }

    /// The message parser's options as the server derives them from its settings
    /// (`MessageService.getMarkdownConfig`), with `now_ms` dating `<t:hh:mm>` timestamps.
    pub fn md_options(&self, now_ms: i64) -> message_parser::Options {
        let katex = self.bool("Katex_Enabled").then(|| message_parser::Katex {
            dollar_syntax: self.bool("Katex_Dollar_Syntax"),
            parenthesis_syntax: self.bool("Katex_Parenthesis_Syntax"),
        });
        message_parser::Options {
            colors: self.bool("HexColorPreview_Enabled"),
            emoticons: true,
            custom_domains: self
                .string("Message_CustomDomain_AutoLink")
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
            katex,
            now_ms,
        }
    }

    /// `Assets_favicon_192`'s custom `url`, if one was uploaded.
    pub fn favicon_192_url(&self) -> Option<String> {
        self.value("Assets_favicon_192")
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, IndexMap<String, Doc>> {
        self.values.read().unwrap_or_else(|p| p.into_inner())
    }
}
