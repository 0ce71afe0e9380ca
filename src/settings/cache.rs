//! The settings in force, cached in memory and written through to the store; on a shared
//! database, reloaded when the change feed says some process changed them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use indexmap::IndexMap;
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};

use super::defaults::defaults;
use super::snapshot::Snapshot;
use crate::model::{object, Doc};
use crate::store::{Store, StoreResult};

/// The settings in force. Cheap to clone. Reads never touch a store of this process's
/// own; on a database shared with other processes each read first compares the store's
/// settings generation (moved by the change feed, exact behind the read fence) with the one
/// loaded, so that a change made by any process is in force on the next request everywhere.
/// While the store's caches may be behind, it compares the stored `settings_version`.
#[derive(Clone)]
pub struct Settings {
    store: Store,
    values: Arc<RwLock<IndexMap<String, Doc>>>,
    /// The typed view of `values`, replaced whole by every change.
    snapshot: Arc<RwLock<Arc<Snapshot>>>,
    /// The `settings_version` that `values` and `changed_permissions` reflect.
    version: Arc<AtomicU64>,
    /// The store's settings generation they reflect (`Store::settings_generation`).
    generation: Arc<AtomicU64>,
    reloading: Arc<Mutex<()>>,
    /// The permissions an admin changed, as stored: read at start and, on a shared
    /// database, again whenever another process changed settings or permissions (this
    /// process's own changes are applied by the services as they make them).
    changed_permissions: Arc<RwLock<ChangedPermissions>>,
}

/// The stored permission changes, and how many times they were loaded.
#[derive(Clone, Default)]
pub struct ChangedPermissions {
    pub loads: u64,
    pub documents: Arc<Vec<Doc>>,
}

impl Settings {
    /// Loads stored settings, storing defaults (overridden by `initial`) for missing ids.
    pub fn load(
        store: &Store,
        site_url: &str,
        unique_id: &str,
        initial: &IndexMap<String, Value>,
    ) -> anyhow::Result<Settings> {
        // Read before the settings: a change after it moves the generation again (`MAX`,
        // never the store's: behind, the first read loads them again).
        let generation = store.settings_generation().unwrap_or(u64::MAX);
        let known = defaults(site_url, unique_id);
        let mut values: IndexMap<String, Doc> = store
            .all_settings()?
            .into_iter()
            .filter_map(|d| Some((d.get("_id")?.as_str()?.to_string(), d)))
            .collect();
        let mut missing = Vec::new();
        for (id, default) in known {
            if values.contains_key(id) {
                continue;
            }
            let value = initial.get(id).cloned().unwrap_or(default);
            let doc = object(json!({"_id": id, "value": value}));
            values.insert(id.to_string(), doc.clone());
            missing.push(doc);
        }
        if !missing.is_empty() {
            store.put_settings(&missing)?;
        }
        let snapshot = Arc::new(Snapshot::read(&values));
        Ok(Settings {
            generation: Arc::new(AtomicU64::new(generation)),
            reloading: Arc::default(),
            store: store.clone(),
            values: Arc::new(RwLock::new(values)),
            snapshot: Arc::new(RwLock::new(snapshot)),
            version: Arc::new(AtomicU64::new(store.settings_version()?)),
            changed_permissions: Arc::new(RwLock::new(ChangedPermissions {
                loads: 0,
                documents: Arc::new(store.all_permissions()?),
            })),
        })
    }

    /// The `{"_id","roles","_updatedAt"}` documents of the permissions an admin changed
    /// through `permissions.update`, as last loaded (`loads` tells a caller whether they
    /// were loaded again since it last looked).
    pub fn changed_permissions(&self) -> ChangedPermissions {
        self.refresh();
        self.changed_permissions.read().clone()
    }

    /// The settings in force, typed (a snapshot: a later `set` does not change it).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.refresh();
        self.snapshot.read().clone()
    }

    /// The setting document (`{"_id","value",…}`) for `id`.
    pub fn get(&self, id: &str) -> Option<Doc> {
        self.refresh();
        self.read().get(id).cloned()
    }

    /// Loads the settings and permission changes again if another process changed them
    /// (shared databases only).
    /// If the database cannot be read, the settings loaded last stay in force: the request
    /// will meet the same failure where it needs the database, and say so.
    fn refresh(&self) {
        if !self.store.is_shared() {
            return;
        }
        match self.store.settings_generation() {
            Some(generation) if generation == self.generation.load(Ordering::SeqCst) => return,
            Some(_) => {
                // One reload at a time, so that the last one kept is the newest.
                let _one = self.reloading.lock();
                // Read before the reload: a change after it moves the generation again.
                if let Some(generation) = self.store.settings_generation() {
                    if generation != self.generation.load(Ordering::SeqCst) {
                        match self.reload() {
                            Ok(()) => self.generation.store(generation, Ordering::SeqCst),
                            Err(e) => tracing::warn!(error = %e, "cannot load the settings"),
                        }
                    }
                    return;
                }
            }
            None => {}
        }
        let reload = || -> StoreResult<()> {
            let stored = self.store.settings_version()?;
            if stored != self.version.load(Ordering::SeqCst) {
                self.reload()?;
            }
            Ok(())
        };
        if let Err(e) = reload() {
            tracing::warn!(error = %e, "cannot read the settings version");
        }
    }

    /// Loads the stored settings and permission changes again (after another process
    /// changed them, or a testing reset put the database back).
    pub fn reload(&self) -> StoreResult<()> {
        let stored = self.store.settings_version()?;
        let values: IndexMap<String, Doc> = self
            .store
            .all_settings()?
            .into_iter()
            .filter_map(|d| Some((d.get("_id")?.as_str()?.to_string(), d)))
            .collect();
        let permissions = self.store.all_permissions()?;
        let mut held = self.values.write();
        *self.snapshot.write() = Arc::new(Snapshot::read(&values));
        *held = values;
        let mut changed = self.changed_permissions.write();
        changed.loads += 1;
        changed.documents = Arc::new(permissions);
        self.version.store(stored, Ordering::SeqCst);
        Ok(())
    }

    /// Changes a setting's value, durably. `None` if the id is unknown.
    pub fn set(&self, id: &str, value: Value) -> StoreResult<Option<Doc>> {
        let Some(mut doc) = self.get(id) else {
            return Ok(None);
        };
        doc.insert("value".into(), value);
        self.store.put_settings(std::slice::from_ref(&doc))?;
        let mut values = self.values.write();
        values.insert(id.to_string(), doc.clone());
        *self.snapshot.write() = Arc::new(Snapshot::read(&values));
        Ok(Some(doc))
    }

    fn read(&self) -> parking_lot::RwLockReadGuard<'_, IndexMap<String, Doc>> {
        self.values.read()
    }
}
