//! Decoded documents of the few trees every request reads (login tokens, users, rooms), kept
//! in memory in front of the engine, as Conduit does. Without them each push.get decodes the
//! same user and room JSON again, and on a large database the engine's page cache, flooded by
//! message reads, has often evicted those pages as well.
//!
//! Writers invalidate after their batch is applied (`Store::write`). A reader that loaded a
//! value while a writer ran may hold an old value, so it inserts only if no invalidation
//! happened since it started loading: the epoch check below.
//!
//! On a database other processes write to (PostgreSQL), their writes reach the caches as
//! the change feed's events (`Caches::apply`, run by the listener before it publishes), and
//! a cached value is used only while the read fence says the caches are up to date
//! (`fence.rs`); otherwise reads go to the database and nothing is kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::fence::Fence;
use super::keys;
use super::trees::Tree;
use super::StoreResult;
use crate::model::change::Event;
use crate::model::push_token::PushToken;
use crate::model::user::{Identity, Names};
use crate::model::{Room, Subscription};
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
    fence: Arc<Fence>,
}

impl<V> Cache<V> {
    fn new(capacity: usize, fence: Arc<Fence>) -> Cache<V> {
        Cache {
            shards: std::array::from_fn(|_| RwLock::new(HashMap::default())),
            per_shard: capacity.div_ceil(SHARDS),
            epoch: AtomicU64::new(0),
            fence,
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
        let current = self.fence.caught_up();
        if current {
            if let Some(hit) = shard.read().get(key) {
                return Ok(Some(hit.clone()));
            }
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let Some(value) = load()? else {
            return Ok(None);
        };
        let value = Arc::new(value);
        self.keep(key, &value, epoch, current);
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
        let current = self.fence.caught_up();
        let mut found: Vec<Option<Arc<V>>> = keys
            .iter()
            .map(|k| match current {
                true => self.shard(k).read().get(*k).cloned(),
                false => None,
            })
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
                self.keep(keys[at], &value, epoch, current);
                found[at] = Some(value);
            }
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// Caches `value`, loaded when the epoch was `epoch` and the fence said `current`, unless
    /// an invalidation came since.
    fn keep(&self, key: &[u8], value: &Arc<V>, epoch: u64, current: bool) {
        let mut map = self.shard(key).write();
        if current && self.per_shard > 0 && self.epoch.load(Ordering::SeqCst) == epoch {
            if map.len() >= self.per_shard {
                // Any entry will do: the hot ones come back at the next request.
                if let Some(victim) = map.keys().next().cloned() {
                    map.remove(&victim);
                }
            }
            map.insert(key.into(), value.clone());
        }
    }

    /// Moved by every invalidation: equal before and after a read, nothing it read changed.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Whether `key` is cached now and may be used.
    pub(super) fn holds(&self, key: &[u8]) -> bool {
        self.fence.caught_up() && self.shard(key).read().contains_key(key)
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
/// users, a few thousand rooms) and their subscriptions in at most ~30 MB, and bound memory
/// on any database. Behind a closed fence they hold nothing: every read goes to the engine.
pub(super) struct Caches {
    pub tokens: Cache<LoginToken>,
    pub identities: Cache<Identity>,
    pub names: Cache<Names>,
    pub rooms: Cache<Room>,
    /// By `keys::pair(user, room)`.
    pub subscriptions: Cache<Subscription>,
    pub badges: Cache<i64>,
    /// A user's registered devices, by user id: what drafting a message's pushes reads for
    /// every receiver. Exact because every write of a registration writes its owner's
    /// `Useridpushtokenids` entry beside it (`put_push_token`, `delete_push_token`).
    pub devices: Cache<Vec<PushToken>>,
    /// Snapshots of rooms' devices (`outbox.rs`).
    pub snapshots: super::outbox::SnapshotCache,
    pub versions: Versions,
    /// Moved by every change of settings or permissions another process may have made.
    settings: AtomicU64,
    pub(super) fence: Arc<Fence>,
}

/// Tells whether a message, room or user may have changed since a reader last looked,
/// without reading it: a counter per bucket of (tree, id), moved after every write to a
/// document of the bucket has been applied (so a version read before a read of the document
/// is never newer than what that read saw). Equal versions mean the document is as it was;
/// a write to another one of the same bucket only costs its readers one read.
///
/// While the fence says the caches may be behind, every look gives a version never given
/// before: the feed has not told yet what changed.
pub(super) struct Versions {
    /// Moved by `clear`, for writes that may have touched any document.
    all: AtomicU64,
    buckets: Box<[AtomicU64]>,
    fence: Arc<Fence>,
}

impl Versions {
    fn new(fence: Arc<Fence>) -> Versions {
        Versions {
            all: AtomicU64::new(0),
            buckets: (0..VERSION_BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            fence,
        }
    }

    fn bucket(&self, tree: Tree, key: &[u8]) -> &AtomicU64 {
        let hash = spread((tree, key));
        &self.buckets[(hash % VERSION_BUCKETS as u64) as usize]
    }

    /// Grows whenever the document under `key` of `tree` may have changed.
    pub fn of(&self, tree: Tree, key: &[u8]) -> u64 {
        let all = match self.fence.caught_up() {
            true => self.all.load(Ordering::SeqCst),
            false => self.all.fetch_add(1, Ordering::SeqCst) + 1,
        };
        // Both only grow, so their sum grows when either does.
        all + self.bucket(tree, key).load(Ordering::SeqCst)
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
    /// Caches that serve while `fence` says they are current, for a database other processes
    /// write to too when `shared`.
    pub fn new(fence: Arc<Fence>, shared: bool) -> Caches {
        Caches {
            tokens: Cache::new(16_384, fence.clone()),
            identities: Cache::new(16_384, fence.clone()),
            names: Cache::new(16_384, fence.clone()),
            rooms: Cache::new(4096, fence.clone()),
            subscriptions: Cache::new(32_768, fence.clone()),
            badges: Cache::new(16_384, fence.clone()),
            // Device writes are not events of the change feed: on a database other processes
            // write to, devices are not cached.
            devices: Cache::new(if shared { 0 } else { 16_384 }, fence.clone()),
            snapshots: Default::default(),
            versions: Versions::new(fence.clone()),
            settings: AtomicU64::new(0),
            fence,
        }
    }

    /// Caches that never serve: for reads inside a write transaction on a database other
    /// processes write to, which must see what the transaction sees. One for the process.
    pub fn closed() -> Arc<Caches> {
        static CLOSED: std::sync::OnceLock<Arc<Caches>> = std::sync::OnceLock::new();
        CLOSED
            .get_or_init(|| Arc::new(Caches::new(Arc::new(Fence::closed()), true)))
            .clone()
    }

    /// Forgets what a committed write of any process changed, from its event (the
    /// listener runs this before it tells the fence the event is applied).
    pub fn apply(&self, event: &Event) {
        match event {
            Event::MessageInserted { message } | Event::MessageUpdated { message } => {
                match message.view() {
                    Ok(view) => self.invalidate(Tree::MessageidMessage, view.id.as_bytes()),
                    Err(_) => self.clear(),
                }
            }
            Event::MessageDeleted { message_id, .. } => {
                self.invalidate(Tree::MessageidMessage, message_id.as_bytes())
            }
            Event::SubscriptionChanged { subscription } => {
                self.subscription_changed(subscription.user_id(), subscription.rid())
            }
            Event::SubscriptionRemoved {
                room_id, user_id, ..
            } => self.subscription_changed(user_id, room_id),
            Event::RoomChanged { room } => self.invalidate(Tree::RoomidRoom, room.id().as_bytes()),
            Event::RoomRemoved { room_id } => self.invalidate(Tree::RoomidRoom, room_id.as_bytes()),
            Event::UserChanged { user_id } => self.invalidate(Tree::UseridUser, user_id.as_bytes()),
            Event::LoginTokensRemoved { token_hashes, .. } => {
                for hash in token_hashes {
                    self.invalidate(Tree::TokenhashToken, hash.as_bytes());
                }
            }
            Event::SettingsChanged => {
                self.settings.fetch_add(1, Ordering::SeqCst);
            }
            // Teams and their members are read from the database at each access check.
            Event::TeamsChanged => {}
            Event::Resync => self.clear(),
        }
    }

    /// A subscription's write changes it and its user's badge (derived in the same write).
    fn subscription_changed(&self, user_id: &str, room_id: &str) {
        self.invalidate(Tree::UserroomidSubscription, &keys::pair(user_id, room_id));
        self.invalidate(Tree::UseridBadge, user_id.as_bytes());
    }

    /// Moves whenever settings or permissions may have changed; `None` while the caches
    /// may be behind the database.
    pub fn settings_generation(&self) -> Option<u64> {
        // The fence first: read before it, the generation could predate a change the
        // listener applies meanwhile, just before the fence says it is caught up.
        self.fence
            .caught_up()
            .then(|| self.settings.load(Ordering::SeqCst))
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
            // The badge adds the subscription's unfolded room records, which a write of
            // the document folds without moving the badge index.
            Tree::UserroomidSubscription | Tree::UserroomidCounters => {
                self.subscriptions.invalidate(key);
                self.badges.invalidate(super::keys::first(key));
            }
            Tree::Useridpushtokenids => self.devices.invalidate(super::keys::first(key)),
            // A room's members: its snapshot of devices (`outbox.rs`) is kept by version.
            Tree::Roomuserids => self.versions.moved(tree, super::keys::first(key)),
            _ => {}
        }
    }

    /// Forgets everything (after a write that may have changed any entry).
    pub fn clear(&self) {
        self.tokens.clear();
        self.identities.clear();
        self.names.clear();
        self.rooms.clear();
        self.subscriptions.clear();
        self.badges.clear();
        self.devices.clear();
        self.versions.clear();
        self.settings.fetch_add(1, Ordering::SeqCst);
    }

    pub fn holds(tree: Tree) -> bool {
        matches!(
            tree,
            Tree::TokenhashToken
                | Tree::UseridUser
                | Tree::RoomidRoom
                | Tree::MessageidMessage
                | Tree::UseridBadge
                | Tree::UserroomidSubscription
                | Tree::UserroomidCounters
                | Tree::Useridpushtokenids
                | Tree::Roomuserids
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_moves_with_each_write_to_its_document_and_with_a_clear() {
        let caches = Caches::new(Arc::default(), false);
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
        let caches = Caches::new(Arc::default(), false);
        let before = caches.versions.of(Tree::MessageidMessage, b"x");
        caches.invalidate(Tree::RoomidRoom, b"x");
        caches.invalidate(Tree::UseridUser, b"x");
        caches.invalidate(Tree::UseridBadge, b"x");
        assert_eq!(caches.versions.of(Tree::MessageidMessage, b"x"), before);
    }

    #[test]
    fn a_load_that_raced_a_write_is_not_kept() {
        let cache: Cache<u32> = Cache::new(16, Arc::default());
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

    /// What each event of another process's write makes the caches forget, and only that.
    #[test]
    fn an_event_drops_exactly_what_its_write_changed() {
        use crate::model::change::Event;
        use crate::model::{object, Message};
        use serde_json::json;
        let caches = Caches::new(Arc::default(), false);
        let token = || LoginToken {
            user_id: "u1".into(),
            when: "t".into(),
        };
        let sub =
            |uid: &str| Subscription(object(json!({"_id": "s", "rid": "r1", "u": {"_id": uid}})));
        // Fills every cache; returns which of them had to load again.
        let fill = || {
            let mut loaded = Vec::new();
            let mut load = |name: &'static str| {
                loaded.push(name);
            };
            caches
                .tokens
                .get_or_load(b"h1", || {
                    load("token");
                    Ok(Some(token()))
                })
                .unwrap();
            caches
                .rooms
                .get_or_load(b"r1", || {
                    load("room");
                    Ok(Some(Room(object(json!({"_id": "r1", "t": "c"})))))
                })
                .unwrap();
            caches
                .subscriptions
                .get_or_load(&keys::pair("u1", "r1"), || {
                    load("subscription");
                    Ok(Some(sub("u1")))
                })
                .unwrap();
            caches
                .badges
                .get_or_load(b"u1", || {
                    load("badge");
                    Ok(Some(1))
                })
                .unwrap();
            caches
                .names
                .get_or_load(b"u1", || {
                    load("user");
                    Ok(Some(Names::default()))
                })
                .unwrap();
            loaded
        };
        assert_eq!(fill().len(), 5);
        assert!(fill().is_empty(), "all cached");
        let message = Message::from_json(br#"{"_id":"m1","rid":"r1"}"#.to_vec()).unwrap();
        let cases: Vec<(Event, Vec<&str>)> = vec![
            (
                Event::LoginTokensRemoved {
                    user_id: "u1".into(),
                    token_hashes: vec!["h1".into()],
                },
                vec!["token"],
            ),
            (
                Event::RoomChanged {
                    room: Arc::new(Room(object(json!({"_id": "r1"})))),
                },
                vec!["room"],
            ),
            (
                Event::SubscriptionChanged {
                    subscription: sub("u1"),
                },
                vec!["subscription", "badge"],
            ),
            (
                Event::SubscriptionRemoved {
                    room_id: "r1".into(),
                    user_id: "u1".into(),
                    subscription_id: "s".into(),
                },
                vec!["subscription", "badge"],
            ),
            (
                Event::UserChanged {
                    user_id: "u1".into(),
                },
                vec!["user"],
            ),
            (
                Event::UserChanged {
                    user_id: "u2".into(),
                },
                vec![],
            ),
            (Event::MessageUpdated { message }, vec![]),
            (
                Event::Resync,
                vec!["token", "room", "subscription", "badge", "user"],
            ),
        ];
        for (event, dropped) in cases {
            caches.apply(&event);
            assert_eq!(fill(), dropped, "{event:?}");
        }
        let message_version = caches.versions.of(Tree::MessageidMessage, b"m1");
        let settings = caches.settings_generation();
        caches.apply(&Event::MessageDeleted {
            room_id: "r1".into(),
            message_id: "m1".into(),
        });
        caches.apply(&Event::SettingsChanged);
        assert!(caches.versions.of(Tree::MessageidMessage, b"m1") > message_version);
        assert_ne!(caches.settings_generation(), settings);
    }

    /// A request that learned position `k` (and so needs the `k`-th settings change) is
    /// never given a generation from before it: the listener applies change `k` and moves
    /// the fence on one thread just as a request asks on another, `CHANGES` times.
    #[test]
    fn a_settings_generation_is_never_older_than_the_fence_says() {
        const CHANGES: u64 = 10_000;
        let fence = Arc::new(Fence::default());
        let caches = Arc::new(Caches::new(fence.clone(), true));
        let asked = Arc::new(AtomicU64::new(0));
        let listener = {
            let (caches, fence, asked) = (caches.clone(), fence.clone(), asked.clone());
            std::thread::spawn(move || {
                for k in 1..=CHANGES {
                    while asked.load(Ordering::SeqCst) < k {
                        std::hint::spin_loop();
                    }
                    caches.apply(&Event::SettingsChanged);
                    fence.reached(k);
                }
            })
        };
        for k in 1..=CHANGES {
            fence.require(k);
            asked.store(k, Ordering::SeqCst);
            // Asked over and over while the listener gets there.
            let generation = loop {
                if let Some(generation) = caches.settings_generation() {
                    break generation;
                }
                std::hint::spin_loop();
            };
            assert!(
                generation >= k,
                "generation {generation} given at position {k}"
            );
        }
        listener.join().unwrap();
    }

    #[test]
    fn absent_keys_are_not_cached_and_the_size_is_bounded() {
        let cache: Cache<u32> = Cache::new(SHARDS * 2, Arc::default());
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
