//! Rocket.Chat settings: the ids rcpush knows and their defaults (`defaults.rs`), the typed
//! snapshot requests read (`snapshot.rs`), and the values in force, cached in memory and
//! written through to the store (`cache.rs`). Loading them also reads the permissions an
//! admin changed, the other run-time configuration.

mod cache;
mod defaults;
mod snapshot;

pub use cache::{ChangedPermissions, Settings};
pub use defaults::{
    check_initial, drop_secrets, is_known, same_type, shown_value, DEFAULT_PUSH_GATEWAY,
    SECRET_MASK, SECRET_SETTINGS,
};
pub use snapshot::{ApnCredentials, ApnTokenCredentials, Snapshot};
