use super::trees::Tree;
use super::{decode, encode, Store, StoreResult};
use crate::model::{Doc, PermissionDoc, SettingDoc};

const SETTINGS_VERSION: &[u8] = b"settings_version";

impl Store {
    pub fn all_settings(&self) -> StoreResult<Vec<Doc>> {
        self.engine
            .scan_prefix(Tree::SettingidSetting, b"")?
            .into_iter()
            .map(|(_, v)| decode(Tree::SettingidSetting, &v))
            .collect()
    }

    /// Stores settings documents (`{"_id", "value", …}`), replacing any with the same id,
    /// and counts the change in `settings_version`.
    pub fn put_settings(&self, settings: &[Doc]) -> StoreResult<()> {
        self.write(|store, batch| {
            for s in settings {
                Self::put_setting(batch, s);
            }
            let next = store.settings_version()? + 1;
            batch.put(Tree::Meta, SETTINGS_VERSION, next.to_string());
            Ok(())
        })
    }

    /// How many times settings or permissions were changed: processes sharing the database
    /// compare it with the version they loaded to know when to load them again.
    pub fn settings_version(&self) -> StoreResult<u64> {
        match self.get_string(Tree::Meta, SETTINGS_VERSION)? {
            None => Ok(0),
            Some(n) => n.parse().map_err(|e| super::corrupt(Tree::Meta, e)),
        }
    }

    /// The permissions an admin changed (`{"_id","roles","_updatedAt"}` documents).
    pub fn all_permissions(&self) -> StoreResult<Vec<Doc>> {
        self.engine
            .scan_prefix(Tree::PermissionidPermission, b"")?
            .into_iter()
            .map(|(_, v)| decode(Tree::PermissionidPermission, &v))
            .collect()
    }

    /// Stores permission documents, replacing any with the same id, in one write, and
    /// counts the change in `settings_version` (processes sharing the database reload both).
    pub fn put_permissions(&self, permissions: &[Doc]) -> StoreResult<()> {
        self.write(|store, batch| {
            for p in permissions {
                Self::put_permission(batch, p);
            }
            let next = store.settings_version()? + 1;
            batch.put(Tree::Meta, SETTINGS_VERSION, next.to_string());
            Ok(())
        })
    }

    pub(super) fn put_permission(batch: &mut super::Batch, permission: &Doc) {
        let id = PermissionDoc(permission).id().unwrap_or_default();
        batch.put(Tree::PermissionidPermission, id, encode(permission));
    }

    pub(super) fn put_setting(batch: &mut super::Batch, setting: &Doc) {
        batch.put(
            Tree::SettingidSetting,
            SettingDoc(setting).id(),
            encode(setting),
        );
    }
}
