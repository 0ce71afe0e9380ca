//! Decoded documents of the few trees every request reads (login tokens, users, rooms), kept
//! in memory in front of the engine, as Conduit does. Without them each push.get decodes the
//! same user and room JSON again, and on a large database the engine's page cache, flooded by
//! message reads, has often evicted those pages as well.
//!
//! Writers invalidate after their batch is applied (`Store::write`). A reader that loaded a
//! value while a writer ran may hold an old value, so it inserts only if no invalidation
//! happened since it started loading: the epoch check below.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::trees::Tree;
use super::StoreResult;
use crate::model::push_token::PushToken;
use crate::model::user::{Identity, Names};
use crate::model::Room;
use crate::store::LoginToken;

const SHARDS: usize = 8;

/// Buckets of document versions: 512 KiB, whatever the number of documents.
const VERSION_BUCKETS: usize = 1 << 16;

type Shard<V> = RwLock<HashMap<Box<[u8]>, Arc<V>, foldhash::fast::RandomState>>;

/// A bounded map from key to decoded value, sharded so that readers on different keys do not
/// meet on one lock. Absent keys are never cached: a flood of unknown tokens costs no memory.
pub(super) struct Cache<V> {
    shards: [Shard<V>; SHARDS],
    per_shard: usize,
    epoch: AtomicU64,
}

impl<V> Cache<V> {
    fn new(capacity: usize) -> Cache<V> {
        Cache {
            shards: std::array::from_fn(|_| RwLock::new(HashMap::default())),
            per_shard: capacity.div_ceil(SHARDS),
            epoch: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &[u8]) -> &Shard<V> {
        &self.shards[(spread(key) % SHARDS as u64) as usize]
    }

    /// The cached value of `key`, else what `load` finds (cached when it is something).
    pub(super) fn get_or_load(
        &self,
        key: &[u8],
        load: impl FnOnce() -> StoreResult<Option<V>>,
    ) -> StoreResult<Option<Arc<V>>> {
        let shard = self.shard(key);
        if let Some(hit) = shard.read().get(key) {
            return Ok(Some(hit.clone()));
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let Some(value) = load()? else {
            return Ok(None);
        };
        let value = Arc::new(value);
        self.keep(key, &value, epoch);
        Ok(Some(value))
    }

    /// The values of `keys`, in order: those cached, and the others from one call of `load`
    /// (given the positions in `keys` of those not cached, it returns a value for each, in
    /// order), cached then.
    pub(super) fn get_many_or_load(
        &self,
        keys: &[&[u8]],
        load: impl FnOnce(&[usize]) -> StoreResult<Vec<V>>,
    ) -> StoreResult<Vec<Arc<V>>> {
        let mut found: Vec<Option<Arc<V>>> = keys
            .iter()
            .map(|k| self.shard(k).read().get(*k).cloned())
            .collect();
        let missing: Vec<usize> = (0..keys.len()).filter(|i| found[*i].is_none()).collect();
        if !missing.is_empty() {
            let epoch = self.epoch.load(Ordering::SeqCst);
            let loaded = load(&missing)?;
            if loaded.len() != missing.len() {
                return Err(super::StoreError::Backend(
                    "a load did not return one value per key".into(),
                ));
            }
            for (at, value) in missing.into_iter().zip(loaded) {
                let value = Arc::new(value);
                self.keep(keys[at], &value, epoch);
                found[at] = Some(value);
            }
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// Caches `value`, loaded when the epoch was `epoch`, unless an invalidation came since.
    fn keep(&self, key: &[u8], value: &Arc<V>, epoch: u64) {
        let mut map = self.shard(key).write();
        if self.per_shard > 0 && self.epoch.load(Ordering::SeqCst) == epoch {
            if map.len() >= self.per_shard {
                // Any entry will do: the hot ones come back at the next request.
                if let Some(victim) = map.keys().next().cloned() {
                    map.remove(&victim);
                }
            }
            map.insert(key.into(), value.clone());
        }
    }

    /// Whether `key` is cached now.
    pub(super) fn holds(&self, key: &[u8]) -> bool {
        self.shard(key).read().contains_key(key)
    }

    fn invalidate(&self, key: &[u8]) {
        let mut map = self.shard(key).write();
        map.remove(key);
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    fn clear(&self) {
        for shard in &self.shards {
            shard.write().clear();
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

/// One cache per decoded view. Sizes hold every user and room of a small server (10,000
/// users, a few thousand rooms) in at most ~15 MB, and bound memory on any database.
/// Disabled, they hold nothing: every read goes to the engine.
pub(super) struct Caches {
    pub tokens: Cache<LoginToken>,
    pub identities: Cache<Identity>,
    pub names: Cache<Names>,
    pub rooms: Cache<Room>,
    pub badges: Cache<i64>,
    /// A user's registered devices, by user id: what drafting a message's pushes reads for
    /// every receiver. Exact because every write of a registration writes its owner's
    /// `Useridpushtokenids` entry beside it (`put_push_token`, `delete_push_token`).
    pub devices: Cache<Vec<PushToken>>,
    pub versions: Versions,
}

/// Tells whether a message, room or user may have changed since a reader last looked,
/// without reading it: a counter per bucket of (tree, id), moved after every write to a
/// document of the bucket has been applied (so a version read before a read of the document
/// is never newer than what that read saw). Equal versions mean the document is as it was;
/// a write to another one of the same bucket only costs its readers one read.
pub(super) struct Versions {
    /// Moved by `clear`, for writes that may have touched any document.
    all: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl Versions {
    fn new() -> Versions {
        Versions {
            all: AtomicU64::new(0),
            buckets: (0..VERSION_BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn bucket(&self, tree: Tree, key: &[u8]) -> &AtomicU64 {
        let hash = spread((tree, key));
        &self.buckets[(hash % VERSION_BUCKETS as u64) as usize]
    }

    /// Grows whenever the document under `key` of `tree` may have changed.
    pub fn of(&self, tree: Tree, key: &[u8]) -> u64 {
        // Both only grow, so their sum grows when either does.
        self.all.load(Ordering::SeqCst) + self.bucket(tree, key).load(Ordering::SeqCst)
    }

    fn moved(&self, tree: Tree, key: &[u8]) {
        self.bucket(tree, key).fetch_add(1, Ordering::SeqCst);
    }

    fn clear(&self) {
        self.all.fetch_add(1, Ordering::SeqCst);
    }
}

/// Where a key goes among shards and version buckets: foldhash with a fixed seed, as that
/// must not change while the process runs (several times faster than FNV-1a's byte loop).
fn spread(key: impl std::hash::Hash) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(key)
}

impl Caches {
    pub fn new(enabled: bool) -> Caches {
        let size = |n: usize| if enabled { n } else { 0 };
        Caches {
            tokens: Cache::new(size(16_384)),
            identities: Cache::new(size(16_384)),
            names: Cache::new(size(16_384)),
            rooms: Cache::new(size(4096)),
            badges: Cache::new(size(16_384)),
            devices: Cache::new(size(16_384)),
            versions: Versions::new(),
        }
    }

    /// Forgets what a write to `key` of `tree` may have changed; called after the write is
    /// applied to the engine.
    pub fn invalidate(&self, tree: Tree, key: &[u8]) {
        match tree {
            Tree::TokenhashToken => self.tokens.invalidate(key),
            Tree::UseridUser => {
                self.identities.invalidate(key);
                self.names.invalidate(key);
                self.versions.moved(tree, key);
            }
            Tree::RoomidRoom => {
                self.rooms.invalidate(key);
                self.versions.moved(tree, key);
            }
            Tree::MessageidMessage => self.versions.moved(tree, key),
            Tree::UseridBadge => self.badges.invalidate(key),
            Tree::Useridpushtokenids => self.devices.invalidate(super::keys::first(key)),
            _ => {}
        }
    }

    /// Forgets everything (after a write that may have changed any entry).
    pub fn clear(&self) {
        self.tokens.clear();
        self.identities.clear();
        self.names.clear();
        self.rooms.clear();
        self.badges.clear();
        self.devices.clear();
        self.versions.clear();
    }

    pub fn holds(tree: Tree) -> bool {
        matches!(
            tree,
            Tree::TokenhashToken
                | Tree::UseridUser
                | Tree::RoomidRoom
                | Tree::MessageidMessage
                | Tree::UseridBadge
                | Tree::Useridpushtokenids
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_moves_with_each_write_to_its_document_and_with_a_clear() {
        let caches = Caches::new(true);
        let version = |t: Tree, k: &[u8]| caches.versions.of(t, k);
        for tree in [Tree::MessageidMessage, Tree::RoomidRoom, Tree::UseridUser] {
            let (a, b) = (version(tree, b"a"), version(tree, b"b"));
            caches.invalidate(tree, b"a");
            assert!(version(tree, b"a") > a, "{tree:?}");
            let a = version(tree, b"a");
            caches.clear();
            assert!(
                version(tree, b"a") > a && version(tree, b"b") > b,
                "{tree:?}"
            );
        }
    }

    #[test]
    fn a_write_leaves_the_same_id_in_other_trees_alone() {
        let caches = Caches::new(true);
        let before = caches.versions.of(Tree::MessageidMessage, b"x");
        caches.invalidate(Tree::RoomidRoom, b"x");
        caches.invalidate(Tree::UseridUser, b"x");
        caches.invalidate(Tree::UseridBadge, b"x");
        assert_eq!(caches.versions.of(Tree::MessageidMessage, b"x"), before);
    }

    #[test]
    fn a_load_that_raced_a_write_is_not_kept() {
        let cache: Cache<u32> = Cache::new(16);
        let stale = cache.get_or_load(b"k", || {
            // A writer applies and invalidates while this reader is still loading.
            cache.invalidate(b"k");
            Ok(Some(1))
        });
        assert_eq!(stale.unwrap().as_deref(), Some(&1));
        let fresh = cache.get_or_load(b"k", || Ok(Some(2))).unwrap();
        assert_eq!(fresh.as_deref(), Some(&2));
        let cached = cache.get_or_load(b"k", || Ok(Some(3))).unwrap();
        assert_eq!(cached.as_deref(), Some(&2));
    }

    #[test]
    fn the_store_serves_every_write_at_once_through_its_caches() {
        use crate::store::{LoginToken, Store};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 4).unwrap();
        let import = crate::seed::parse(
            r#"{"users":[{"_id":"u1","username":"ann","roles":["user"]}],
                "rooms":[{"_id":"r1","t":"c","name":"general"}]}"#,
        )
        .unwrap();
        store.import(&import).unwrap();
        let token = LoginToken {
            user_id: "u1".into(),
            when: "2024-01-01T00:00:00.000Z".into(),
        };
        store.add_login_token("h", &token, None).unwrap();
        // Load all three into the caches, then change them.
        assert!(store.login_token("h").unwrap().is_some());
        assert_eq!(store.user_identity("u1").unwrap().unwrap().roles, ["user"]);
        assert_eq!(store.room("r1").unwrap().unwrap().name(), Some("general"));

        store.remove_login_token("h").unwrap();
        assert!(store.login_token("h").unwrap().is_none());
        let mut user = store.user("u1").unwrap().unwrap();
        user.0.insert("roles".into(), serde_json::json!(["admin"]));
        user.0.insert("name".into(), "Ann".into());
        store
            .write(|_, batch| {
                batch.put(Tree::UseridUser, "u1", super::super::encode(&user));
                Ok(())
            })
            .unwrap();
        assert_eq!(store.user_identity("u1").unwrap().unwrap().roles, ["admin"]);
        assert_eq!(
            store.user_names("u1").unwrap().unwrap().name.as_deref(),
            Some("Ann")
        );
        store
            .add_members("r1", &[], "2030-01-01T00:00:00.000Z")
            .unwrap();
        assert_eq!(
            store.room("r1").unwrap().unwrap().0.get("_updatedAt"),
            Some(&serde_json::json!("2030-01-01T00:00:00.000Z"))
        );
    }

    #[test]
    fn absent_keys_are_not_cached_and_the_size_is_bounded() {
        let cache: Cache<u32> = Cache::new(SHARDS * 2);
        assert!(cache.get_or_load(b"none", || Ok(None)).unwrap().is_none());
        assert_eq!(
            cache
                .get_or_load(b"none", || Ok(Some(5)))
                .unwrap()
                .as_deref(),
            Some(&5)
        );
        for i in 0..1000u32 {
            cache.get_or_load(&i.to_be_bytes(), || Ok(Some(i))).unwrap();
        }
        let held: usize = cache.shards.iter().map(|s| s.read().len()).sum();
        assert!(held <= SHARDS * 2, "{held} entries held");
    }
}
