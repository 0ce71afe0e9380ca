//! `permissions.listAll` and `permissions.update`: the permission table admins change at
//! run time, effective at once and kept in the store.

use std::collections::HashMap;

use std::sync::Arc;

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::{json, Value};

use super::auth::Caller;
use super::blocking_write;
use super::settings::Configuration;
use crate::error::{ApiError, ApiResult};
use crate::model::{time, Doc, DocExt};
use crate::rules::access::{Permissions, ROLES};
use crate::settings::{ChangedPermissions, Settings};

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

/// The permission check every area shares: the table in force and nothing else, so that an
/// area that checks permissions holds this, not the other areas' handles.
#[derive(Clone)]
pub struct Permits {
    settings: Settings,
    /// The permission table in force: defaults, `[permissions]`, then admins' changes.
    table: Arc<RwLock<PermissionTable>>,
    /// Rocket.Chat's default roles with `[permissions]` of the configuration: what the
    /// stored changes apply to.
    base: Arc<Permissions>,
}

impl Permits {
    pub fn new(base: Permissions, settings: Settings) -> Permits {
        let table = PermissionTable::new(base.clone(), &settings.changed_permissions());
        Permits {
            settings,
            table: Arc::new(RwLock::new(table)),
            base: Arc::new(base),
        }
    }

    /// The permission table in force: rebuilt from the configuration and the stored changes
    /// when another process changed them (shared databases; see `Settings`).
    pub fn table(&self) -> RwLockReadGuard<'_, PermissionTable> {
        let changed = self.settings.changed_permissions();
        if self.table.read().loads != changed.loads {
            let fresh = PermissionTable::new((*self.base).clone(), &changed);
            *self.table.write() = fresh;
        }
        self.table.read()
    }

    /// Whether `roles` (global plus room-scoped) hold `permission`.
    pub fn has(&self, permission: &str, roles: &[&str]) -> bool {
        self.table().rules.has(permission, roles)
    }

    /// Whether `caller` (if any) holds `permission`.
    pub fn caller_may(&self, caller: Option<&Caller>, permission: &str) -> bool {
        caller.is_some_and(|c| self.has(permission, &c.identity.roles()))
    }

    /// `Ok` when `caller` holds `permission`, else the catalog's permission error.
    pub fn require(&self, caller: &Caller, permission: &str) -> ApiResult<()> {
        match self.has(permission, &caller.identity.roles()) {
            true => Ok(()),
            false => Err(ApiError::PermissionDenied),
        }
    }

    /// For `permissions.update`, which serialises its changes itself.
    fn table_mut(&self) -> RwLockWriteGuard<'_, PermissionTable> {
        self.table.write()
    }
}

impl Configuration {
    /// `permissions/get`: every permission as `{_id, roles, _updatedAt}`, or those changed
    /// after `since`. Permissions nobody changed date from this server's start.
    pub fn permission_list(&self, since: Option<time::Millis>) -> Vec<Value> {
        let table = self.permits.table();
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
        if !self
            .permits
            .has("access-permissions", &caller.identity.roles())
        {
            return Err(ApiError::PermissionDenied);
        }
        let changes = changes?;
        let _one_at_a_time = self.permission_updates.lock().await;
        let mut ids: Vec<&str> = changes.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let known = {
            let table = self.permits.table();
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
        let at = time::iso(self.clock.now());
        let docs: Vec<Doc> = changes
            .iter()
            .map(|c| {
                let doc = json!({"_id": c.id, "roles": c.roles, "_updatedAt": at});
                crate::model::object(doc)
            })
            .collect();
        blocking_write(&self.store, move |s| s.put_permissions(&docs)).await?;
        {
            let mut table = self.permits.table_mut();
            for c in changes {
                table.changed_at.insert(c.id.clone(), at.clone());
                table.rules.set(&c.id, c.roles);
            }
        }
        Ok(self.permission_list(None))
    }
}
