//! `permissions.listAll` and `permissions.update`: the permission table admins change at
//! run time, effective at once and kept in the store.

use serde_json::{json, Value};

use super::auth::Caller;
use super::blocking::blocking_write;
use super::settings::Configuration;
use crate::error::{ApiError, ApiResult};
use crate::model::{time, Doc};
use crate::rules::access::ROLES;

/// `permissions.update`'s change to one permission.
pub struct PermissionChange {
    pub id: String,
    pub roles: Vec<String>,
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
