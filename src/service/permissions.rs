//! `permissions.listAll` and `permissions.update`: the permission table admins change at
//! run time, effective at once and kept in the store.

use std::collections::HashMap;

use parking_lot::RwLockReadGuard;

use serde_json::{json, Value};

use super::auth::Caller;
use super::Services;
use crate::error::{ApiError, ApiResult};
use crate::model::{time, Doc, DocExt};
use crate::rules::access::{Permissions, ROLES};
use crate::settings::ChangedPermissions;

/// The rules in force and when each permission last changed.
pub struct PermissionTable {
    pub rules: Permissions,
    /// `_updatedAt` of the permissions admins changed.
    changed_at: HashMap<String, String>,
    /// The load of the stored changes this table was built from (`ChangedPermissions`).
    loads: u64,
}

impl PermissionTable {
    /// `base` (defaults and configuration) with the stored changes applied over it.
    pub fn new(mut base: Permissions, changed: &ChangedPermissions) -> PermissionTable {
        let mut changed_at = HashMap::new();
        for doc in changed.documents.iter() {
            let Some(id) = doc.str_at("_id") else {
                continue;
            };
            let roles = doc
                .strs_at("roles")
                .into_iter()
                .map(str::to_string)
                .collect();
            base.set(id, roles);
            let at = doc.str_at("_updatedAt").unwrap_or_default().to_string();
            changed_at.insert(id.to_string(), at);
        }
        PermissionTable {
            rules: base,
            changed_at,
            loads: changed.loads,
        }
    }
}

/// `permissions.update`'s change to one permission.
pub struct PermissionChange {
    pub id: String,
    pub roles: Vec<String>,
}

impl Services {
    /// The permission table in force: rebuilt from the configuration and the stored changes
    /// when another process changed them (shared databases; see `Settings`).
    pub(super) fn permission_table(&self) -> RwLockReadGuard<'_, PermissionTable> {
        let changed = self.settings.changed_permissions();
        if self.permissions.read().loads != changed.loads {
            let fresh = PermissionTable::new((*self.base_permissions).clone(), &changed);
            *self.permissions.write() = fresh;
        }
        self.permissions.read()
    }

    /// `permissions/get`: every permission as `{_id, roles, _updatedAt}`, or those changed
    /// after `since`. Permissions nobody changed date from this server's start.
    pub fn permission_list(&self, since: Option<time::Millis>) -> Vec<Value> {
        let table = self.permission_table();
        table
            .rules
            .iter()
            .map(|(id, roles)| {
                let at = table.changed_at.get(id).unwrap_or(&self.started_at);
                (id, roles, at)
            })
            .filter(|(_, _, at)| match since {
                None => true,
                Some(t) => time::parse_iso(at).is_some_and(|a| a > t),
            })
            .map(|(id, roles, at)| json!({"_id": id, "roles": roles, "_updatedAt": at}))
            .collect()
    }

    /// `permissions.update` (needs `access-permissions`, checked before the body, which is
    /// passed as parsed): every permission must exist and every role too; the new roles are
    /// stored in one write and apply to the next request.
    pub async fn update_permissions(
        &self,
        caller: &Caller,
        changes: ApiResult<Vec<PermissionChange>>,
    ) -> ApiResult<Vec<Value>> {
        if !self.has_permission("access-permissions", &caller.identity.roles()) {
            return Err(ApiError::PermissionDenied);
        }
        let changes = changes?;
        let _one_at_a_time = self.permission_updates.lock().await;
        let mut ids: Vec<&str> = changes.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let known = {
            let table = self.permission_table();
            ids.iter().all(|id| table.rules.contains(id))
        };
        if !known || ids.len() != changes.len() {
            return Err(ApiError::InvalidPermission);
        }
        if changes
            .iter()
            .flat_map(|c| &c.roles)
            .any(|r| !ROLES.contains(&r.as_str()))
        {
            return Err(ApiError::InvalidPermissionRole);
        }
        let at = time::iso(self.now());
        let docs: Vec<Doc> = changes
            .iter()
            .map(|c| {
                let doc = json!({"_id": c.id, "roles": c.roles, "_updatedAt": at});
                crate::model::object(doc)
            })
            .collect();
        self.write(move |s| s.put_permissions(&docs)).await?;
        {
            let mut table = self.permissions.write();
            for c in changes {
                table.changed_at.insert(c.id.clone(), at.clone());
                table.rules.set(&c.id, c.roles);
            }
        }
        Ok(self.permission_list(None))
    }
}
