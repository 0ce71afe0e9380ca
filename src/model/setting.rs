//! Settings (`rocketchat_settings`) and permission changes (`rocketchat_permissions`).
//!
//! Both stay whole `Doc`s from import to the admin API, which hand them back as stored; the
//! views here borrow one and type the few fields the server itself reads.

use serde_json::Value;

use super::{Doc, DocExt};

/// A setting document: `{"_id", "value", …}`.
#[derive(Debug, Clone, Copy)]
pub struct SettingDoc<'a>(pub &'a Doc);

impl<'a> SettingDoc<'a> {
    /// The setting's id; empty for a document without one, which is stored under "".
    pub fn id(self) -> &'a str {
        self.0.str_at("_id").unwrap_or_default()
    }

    /// The value as stored; any JSON type, since each setting keeps its own.
    pub fn value(self) -> Option<&'a Value> {
        self.0.get("value")
    }
}

/// A changed permission: `{"_id", "roles", "_updatedAt"}`.
#[derive(Debug, Clone, Copy)]
pub struct PermissionDoc<'a>(pub &'a Doc);

impl<'a> PermissionDoc<'a> {
    /// The permission's id, `None` when the document has none (the table skips it).
    pub fn id(self) -> Option<&'a str> {
        self.0.str_at("_id")
    }

    /// The roles granted the permission; entries that are not text are ignored.
    pub fn roles(self) -> Vec<&'a str> {
        self.0.strs_at("roles")
    }

    /// `_updatedAt` as stored (ISO text), empty when absent.
    pub fn updated_at(self) -> &'a str {
        self.0.str_at("_updatedAt").unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::object;
    use serde_json::json;

    #[test]
    fn a_permission_reads_its_three_fields_and_skips_non_text_roles() {
        let doc = object(
            json!({"_id": "view-c-room", "roles": ["user", 3, "guest"], "_updatedAt": "T1"}),
        );
        let p = PermissionDoc(&doc);
        assert_eq!(p.id(), Some("view-c-room"));
        assert_eq!(p.roles(), ["user", "guest"]);
        assert_eq!(p.updated_at(), "T1");
        let bare = Doc::new();
        assert_eq!(PermissionDoc(&bare).id(), None);
        assert_eq!(PermissionDoc(&bare).updated_at(), "");
    }

    #[test]
    fn a_setting_reads_its_id_and_value_of_any_type() {
        let doc = object(json!({"_id": "Push_enable", "value": false}));
        assert_eq!(SettingDoc(&doc).id(), "Push_enable");
        assert_eq!(SettingDoc(&doc).value(), Some(&json!(false)));
        assert_eq!(SettingDoc(&Doc::new()).id(), "");
    }
}
