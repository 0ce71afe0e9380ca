//! The permission table in force and the check every area shares.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::model::PermissionDoc;
use crate::rules::access::Permissions;
use crate::settings::{ChangedPermissions, Settings};

/// The rules in force and when each permission last changed.
pub struct PermissionTable {
    pub rules: Permissions,
    /// `_updatedAt` of the permissions admins changed.
    pub(super) changed_at: HashMap<String, String>,
    /// The load of the stored changes this table was built from (`ChangedPermissions`).
    loads: u64,
}

impl PermissionTable {
    /// `base` (defaults and configuration) with the stored changes applied over it.
    pub fn new(mut base: Permissions, changed: &ChangedPermissions) -> PermissionTable {
        let mut changed_at = HashMap::new();
        for doc in changed.documents.iter() {
            let doc = PermissionDoc(doc);
            let Some(id) = doc.id() else {
                continue;
            };
            let roles = doc.roles().into_iter().map(str::to_string).collect();
            base.set(id, roles);
            let at = doc.updated_at().to_string();
            changed_at.insert(id.to_string(), at);
        }
        PermissionTable {
            rules: base,
            changed_at,
            loads: changed.loads,
        }
    }
}

/// The table being changed; the generation moves when the change is done.
pub(super) struct TableWrite<'a> {
    guard: RwLockWriteGuard<'a, PermissionTable>,
    generation: &'a AtomicU64,
}

impl std::ops::Deref for TableWrite<'_> {
    type Target = PermissionTable;

    fn deref(&self) -> &PermissionTable {
        &self.guard
    }
}

impl std::ops::DerefMut for TableWrite<'_> {
    fn deref_mut(&mut self) -> &mut PermissionTable {
        &mut self.guard
    }
}

impl Drop for TableWrite<'_> {
    fn drop(&mut self) {
        // Before the lock is released: a reader of the new generation waits for the table.
        self.generation.fetch_add(1, Ordering::Release);
    }
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
    /// Bumped at each change of the table, so that whoever caches an access decision
    /// (the realtime streams) knows when to drop it.
    generation: Arc<AtomicU64>,
}

impl Permits {
    pub fn new(base: Permissions, settings: Settings) -> Permits {
        let table = PermissionTable::new(base.clone(), &settings.changed_permissions());
        Permits {
            settings,
            table: Arc::new(RwLock::new(table)),
            base: Arc::new(base),
            generation: Arc::default(),
        }
    }

    /// The permission table in force: rebuilt from the configuration and the stored changes
    /// when another process changed them (shared databases; see `Settings`).
    pub fn table(&self) -> RwLockReadGuard<'_, PermissionTable> {
        let changed = self.settings.changed_permissions();
        if self.table.read().loads != changed.loads {
            let fresh = PermissionTable::new((*self.base).clone(), &changed);
            *self.table.write() = fresh;
            self.generation.fetch_add(1, Ordering::Release);
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
    pub(super) fn table_mut(&self) -> TableWrite<'_> {
        TableWrite {
            guard: self.table.write(),
            generation: &self.generation,
        }
    }

    /// Changes whenever the table may have: an access decision made under another
    /// generation may be stale.
    pub fn generation(&self) -> u64 {
        // Reading the table first picks up other processes' changes.
        drop(self.table());
        self.generation.load(Ordering::Acquire)
    }
}
