//! Rocket.Chat's documents. They are kept as ordered JSON objects so that they go back out
//! in the key order they were stored in (spec §0.1); the types here give typed access to the
//! fields the server reads and build new documents in Rocket.Chat's insertion order.

pub mod change;
pub mod id;
pub mod message;
pub mod push_token;
pub mod room;
pub mod setting;
pub mod subscription;
pub mod team;
pub mod time;
pub mod user;

pub use message::Message;
pub use room::{Room, RoomType};
pub use setting::{PermissionDoc, SettingDoc};
pub use subscription::Subscription;
pub use team::{Team, TeamMember, TeamType};
pub use user::User;

/// An ordered JSON object, as stored.
pub type Doc = serde_json::Map<String, serde_json::Value>;

/// The object inside a `json!({...})` literal (anything else gives an empty object).
pub fn object(v: serde_json::Value) -> Doc {
    match v {
        serde_json::Value::Object(m) => m,
        _ => Doc::new(),
    }
}

/// Typed reads of an ordered JSON object.
pub trait DocExt {
    fn str_at(&self, key: &str) -> Option<&str>;
    /// A string field of the object at `key`, such as `u._id`.
    fn str_in(&self, key: &str, field: &str) -> Option<&str>;
    fn bool_at(&self, key: &str) -> bool;
    fn strs_at(&self, key: &str) -> Vec<&str>;
    /// An integer counter; absent or not an integer counts 0, as MongoDB's `$inc` starts.
    fn int_at(&self, key: &str) -> i64;
    /// MongoDB's `$addToSet` on an array field (created, at the end, if absent).
    fn add_to_set(&mut self, key: &str, item: &str);
    /// The fields among `keys`, in stored order (a projection).
    fn pick(&self, keys: &[&str]) -> Doc;
    /// Never changed since created: rooms and subscriptions are created with `_updatedAt`
    /// equal to their `ts`, which every later change moves past.
    fn unchanged_since_created(&self) -> bool;
}

impl DocExt for Doc {
    fn str_at(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|v| v.as_str())
    }

    fn str_in(&self, key: &str, field: &str) -> Option<&str> {
        self.get(key)?.get(field)?.as_str()
    }

    fn bool_at(&self, key: &str) -> bool {
        self.get(key).and_then(|v| v.as_bool()).unwrap_or(false)
    }

    fn strs_at(&self, key: &str) -> Vec<&str> {
        self.get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default()
    }

    fn int_at(&self, key: &str) -> i64 {
        self.get(key).and_then(|v| v.as_i64()).unwrap_or(0)
    }

    fn pick(&self, keys: &[&str]) -> Doc {
        self.iter()
            .filter(|(k, _)| keys.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn unchanged_since_created(&self) -> bool {
        matches!((self.get("ts"), self.get("_updatedAt")), (Some(ts), Some(at)) if ts == at)
    }

    fn add_to_set(&mut self, key: &str, item: &str) {
        let set = self
            .entry(key)
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(items) = set {
            if !items.iter().any(|i| i == item) {
                items.push(item.into());
            }
        }
    }
}

/// Declares a typed wrapper around a stored document.
macro_rules! document {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $crate::model::Doc);

        impl $name {
            pub fn id(&self) -> &str {
                use $crate::model::DocExt;
                self.0.str_at("_id").unwrap_or_default()
            }
        }
    };
}
pub(crate) use document;
