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

    pub(super) fn put_setting(batch: &mut super::Batch, setting: &Doc) {
        let id = setting
            .get("_id")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        batch.put(Tree::SettingidSetting, id, encode(setting));
    }
}
