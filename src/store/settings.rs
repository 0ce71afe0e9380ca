use super::trees::Tree;
use super::{decode, encode, Store, StoreResult};
use crate::model::Doc;

impl Store {
    pub fn all_settings(&self) -> StoreResult<Vec<Doc>> {
        self.engine
            .scan_prefix(Tree::SettingidSetting, b"")?
            .into_iter()
            .map(|(_, v)| decode(Tree::SettingidSetting, &v))
            .collect()
    }

    /// Stores settings documents (`{"_id", "value", …}`), replacing any with the same id.
    pub fn put_settings(&self, settings: &[Doc]) -> StoreResult<()> {
        self.write(|_, batch| {
            for s in settings {
                Self::put_setting(batch, s);
            }
            Ok(())
        })
    }

    /// The permissions an admin changed (`{"_id","roles","_updatedAt"}` documents).
    pub fn all_permissions(&self) -> StoreResult<Vec<Doc>> {
        self.engine
            .scan_prefix(Tree::PermissionidPermission, b"")?
            .into_iter()
            .map(|(_, v)| decode(Tree::PermissionidPermission, &v))
            .collect()
    }

    /// Stores permission documents, replacing any with the same id, in one write.
    pub fn put_permissions(&self, permissions: &[Doc]) -> StoreResult<()> {
        self.write(|_, batch| {
            for p in permissions {
                Self::put_permission(batch, p);
            }
            Ok(())
        })
    }

    pub(super) fn put_permission(batch: &mut super::Batch, permission: &Doc) {
        let id = permission
            .get("_id")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        batch.put(Tree::PermissionidPermission, id, encode(permission));
    }

    pub(super) fn put_setting(batch: &mut super::Batch, setting: &Doc) {
        let id = setting
            .get("_id")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        batch.put(Tree::SettingidSetting, id, encode(setting));
    }
}
