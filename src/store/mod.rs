//! Typed storage of users, login tokens, rooms, subscriptions, messages, settings, push
//! devices and the push outbox. The only code that knows a backend is `sled.rs` or
//! `postgres.rs`, behind the `Engine` seam.
//!
//! # The transaction contract
//!
//! What any backend must keep, so that the services above can be written once: write
//! transactions that run as if one at a time, with reads inside them that see every
//! earlier commit. sled runs them one at a time with a lock in this process (its directory
//! lock keeps other processes out). PostgreSQL does for `engine::Mode::Write` with an
//! advisory lock that every process takes; a `Mode::Keyed` write (a post, an edit, marking
//! read, a login) shares that lock and takes one per message, room and user it touches
//! (`engine::Lock`) — its members whose badges it derives included, so two posts into two
//! rooms of one user take turns on that user — and keyed writes on different data commit
//! at the same time. The wait
//! for the disk is not part of it: a writer lets go of its locks once its writes are
//! applied (sled) or committed asynchronously (PostgreSQL, when other writers of this
//! process are under way; alone, it commits synchronously), then
//! waits for a flush it shares with the writers applied meanwhile (group commit,
//! `engine::Flusher`): one flush at a time, each for every write applied before it began.
//! A later write may therefore read an earlier one before it is durable; it is durable no
//! sooner, so a crash loses the later with the earlier or neither.
//!
//! * **One write method, one transaction.** Each public method that changes data is
//!   all-or-nothing, and returns `Ok` only once its data is durable (on disk after a flush
//!   that began after it was applied; on PostgreSQL, a synchronous commit of this process
//!   after its own); the one exception is `claim_pushes`, whose loss in a crash only lets
//!   a push be sent once more. Callers pass prepared, typed values
//!   and rules values; no service code runs inside a transaction.
//! * **Decided inside the transaction**, on the state as it is then, whatever the caller
//!   read before:
//!   - uniqueness: user ids, usernames and e-mail addresses (both case-insensitive), room
//!     ids and names, message ids (a `WriteError::Conflict` says which was taken); a device registration
//!     per (service, token, app) (`register_push_token`);
//!   - counters: `insert_message` adds its bumps to the subscription counters (`unread`,
//!     `userMentions`, `groupMentions`) and to the room's `msgs` as stored then, so no
//!     concurrent increment is lost. A plain message's bumps go in one record of the room
//!     (`tails.rs`), not into the members' documents: every read of a subscription adds
//!     the records after its fold marker (`subscriptions::merged`), every write of the
//!     document (from such a read) moves the marker past them, and the post that brings a
//!     room to `tails::FOLD_AT` records folds them into every document; `add_members` /
//!     `remove_member` move `usersCount` by the members actually added or removed;
//!   - changes to a message: `modify_message` applies a `rules::message_changes` mutation
//!     (an edit, a deletion, and for `insert_message` a reply's effect on its thread's
//!     parent) to the message as stored then, so two changes that meet lose neither;
//!   - preconditions: `remove_member` refuses the last owner, `remove_team_member` the
//!     last owner of the team or of its main room; `add_members` skips users who are
//!     members already; `create_team_room` needs its team; `insert_message` queues a
//!     push only for a member whose subscription still exists; `mark_read` needs the
//!     subscription.
//!
//!   The rules that decide these run inside the write: they are pure functions over the
//!   typed documents, so no code that does I/O runs in a transaction —
//!   `rules::message_changes` (`Edit`, `Delete`, `ThreadReply`), `rules::counters`
//!   (`count_message`, `count_system_message`, `follow_edit`, `uncount_message`,
//!   `move_users_count`, `bump_subscription`, `mark_read`, `may_leave`, `may_leave_team`).
//! * **Derived data is written in the same transaction** as what it derives from: each
//!   user's badge index (the sum of `unread` over their subscriptions that are not
//!   archived, without their rooms' records, which a badge read adds), the
//!   member index of rooms, the indexes of push devices by user and by token. The outbox
//!   record `insert_message` queues (one per message: its body drafted once, its receivers,
//!   and their devices by reference to a snapshot of the room's devices, counted and written
//!   with its first reference) carries each receiver's badge as of that transaction.
//! * **Every committed write announces itself** on the change feed (`feed.rs`): the
//!   events are derived from its batch, numbered in commit order, and published once it is
//!   durable (on PostgreSQL journaled in the same transaction, for every process).
//! * **Reads outside a write method are not transactional.** A service that reads, then
//!   writes, relies only on what the write method re-checks (above). Whole-database reads
//!   (`snapshot` for export, `check_consistency`) run in one `Mode::Snapshot` transaction.
//! * **Caches.** Decoded tokens, users, rooms, subscriptions, badges and users' devices are
//!   cached in this process and invalidated after every write that touches them
//!   (`cache.rs`). On a backend written by other processes too (`Engine::is_shared`) the
//!   change feed's listener also invalidates them from every process's events, and a request
//!   passes the read fence first (`fence.rs`), so that a logout on one instance fails the
//!   token on every other at once; reads inside a write transaction there are never cached,
//!   and devices are not cached at all.

mod cache;
mod check;
mod deliveries;
mod engine;
mod export;
mod feed;
mod fence;
mod history;
mod import;
mod keys;
mod messages;
mod outbox;
/// PostgreSQL is the `postgres` feature's (default); without it a stand-in refuses it at open.
#[cfg_attr(not(feature = "postgres"), path = "postgres_absent.rs")]
mod postgres;
mod presence;
mod push_tokens;
mod rooms;
mod settings;
mod sled;
mod snapshot;
mod subscriptions;
mod tails;
mod teams;
mod tokens;
pub mod trees;
mod users;
mod views;

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use cache::Caches;
pub use deliveries::{DeliveryFilter, DeliveryPage, DeliveryRecord, DeliveryStatus};
pub use engine::{Batch, Engine, Lock, Mode, Transaction};
pub use feed::{Feed, Retention};
pub use import::{Import, ImportedMessage, ImportedUser};
pub use messages::{MemberBump, NewMessage, SystemMessage};
pub use outbox::{
    BundledPushes, Device, DeviceSnapshot, Finish, OutboxRecord, PendingPush, QueuedBody, Receiver,
    RoomDevices, Shared, SnapshotDevice, SnapshotMember,
};
pub use push_tokens::Registration;
pub use rooms::Removal;
pub use snapshot::Snapshot;
pub use teams::TeamExit;
pub use tokens::LoginToken;
use trees::{Tree, SCHEMA_VERSION};
pub use users::Activation;
pub use views::{
    AccessView, AccountsView, AdminView, DirectoryView, DraftsView, MessagesView, PermissionsView,
    PushView, RoomsView, SnapshotsView, StreamsView, SubscriptionsView, TeamsView, UsersView,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Open(String),
    #[error("storage backend failed: {0}")]
    Backend(String),
    #[error("corrupt entry in {tree}: {detail}")]
    Corrupt { tree: &'static str, detail: String },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The badge of every user whose subscriptions a batch changes, as of that batch.
pub(crate) type Badges = std::collections::BTreeMap<String, i64>;

/// A uniqueness rule a write would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    Username,
    Email,
    RoomName,
    Id,
}

/// Why a write that keeps a uniqueness rule did not happen: the store failed, or the write
/// would break the rule (what that means to a client, the caller knows).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0:?} is taken")]
    Conflict(Conflict),
}

#[derive(Clone)]
pub struct Store {
    engine: Arc<dyn Engine>,
    caches: Arc<Caches>,
    feed: Feed,
    written: Written,
}

/// What `/metrics` shows of the write path (benchmarks/write.py weighs a message with it).
#[derive(Clone, Default)]
struct Written {
    commits: prometheus_client::metrics::counter::Counter,
    entries: prometheus_client::metrics::counter::Counter,
    bytes: prometheus_client::metrics::counter::Counter,
}

impl Store {
    /// Opens (or creates) the sled database at `path`, checking its schema version.
    pub fn open(path: &Path, cache_mb: u64) -> StoreResult<Store> {
        let engine = self::sled::SledEngine::open(path, cache_mb, true)?;
        Self::with_engine(Arc::new(engine), Feed::default())
    }

    /// As `open`, for a database that is thrown away at exit (testing mode's): a write is
    /// acknowledged once applied, without syncing the disk. A crash loses what exit would
    /// have removed anyway, and the syncs were most of a test double's start-up.
    pub fn open_temporary(path: &Path, cache_mb: u64) -> StoreResult<Store> {
        let engine = self::sled::SledEngine::open(path, cache_mb, false)?;
        Self::with_engine(Arc::new(engine), Feed::default())
    }

    /// Connects to the PostgreSQL database at `url` with at most `pool_size` connections,
    /// creating the tables that do not exist yet and checking the schema version; its change
    /// feed keeps the default retention.
    pub fn open_postgres(url: &str, pool_size: usize) -> StoreResult<Store> {
        Self::open_postgres_retaining(url, pool_size, Retention::default())
    }

    /// As `open_postgres`, keeping the change feed's events for `retention`.
    pub fn open_postgres_retaining(
        url: &str,
        pool_size: usize,
        retention: Retention,
    ) -> StoreResult<Store> {
        let feed = Feed::default();
        let follow = Some((feed.clone(), retention));
        let engine = postgres::PgEngine::connect(url, pool_size, false, follow)?;
        Self::with_engine(Arc::new(engine), feed)
    }

    /// As `open_postgres`, for a command that only reads: fails where the database has no
    /// rcpush tables rather than create them, and follows no change feed.
    pub fn open_existing_postgres(url: &str, pool_size: usize) -> StoreResult<Store> {
        let engine = postgres::PgEngine::connect(url, pool_size, true, None)?;
        Self::with_engine(Arc::new(engine), Feed::default())
    }

    fn with_engine(engine: Arc<dyn Engine>, feed: Feed) -> StoreResult<Store> {
        let caches = Arc::new(Caches::new(feed.fence_state(), engine.is_shared()));
        if engine.is_shared() {
            feed.keep_exact(caches.clone());
        }
        let store = Store {
            caches,
            engine,
            feed,
            written: Written::default(),
        };
        store.check_schema()?;
        Ok(store)
    }

    /// Held while this process seeds the database and creates what start-up needs, so that
    /// of several processes starting at once on one database exactly one does it.
    pub fn setup_lock(&self) -> StoreResult<Box<dyn Send>> {
        self.engine.setup_lock()
    }

    /// The events of every committed write, in commit order (`feed.rs`).
    pub fn feed(&self) -> Feed {
        self.feed.clone()
    }

    /// Adds the write path's counters to `/metrics`.
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        for (name, help, counter) in [
            (
                "rcpush_store_commits",
                "Write transactions that changed data",
                self.written.commits.clone(),
            ),
            (
                "rcpush_store_written_entries",
                "Entries (puts and deletions) those transactions wrote",
                self.written.entries.clone(),
            ),
            (
                "rcpush_store_written_bytes",
                "Bytes of the keys and values those transactions wrote",
                self.written.bytes.clone(),
            ),
            (
                "rcpush_store_flushes",
                "Waits for the disk: fewer than durable commits when commits shared one",
                self.engine.flushes(),
            ),
        ] {
            registry.register(name, help, counter);
        }
    }

    /// True when other processes may write to the same database.
    pub fn is_shared(&self) -> bool {
        self.engine.is_shared()
    }

    /// Moves whenever settings or permissions may have changed, in any process; `None`
    /// while this process's caches may be behind the database (then only the database
    /// can tell).
    pub fn settings_generation(&self) -> Option<u64> {
        self.caches.settings_generation()
    }

    fn check_schema(&self) -> StoreResult<()> {
        match self.engine.get(Tree::Meta, b"schema_version")? {
            None => self.write(|_, batch| {
                batch.put(Tree::Meta, "schema_version", SCHEMA_VERSION.to_string());
                Ok(())
            }),
            Some(v) if v == SCHEMA_VERSION.to_string().as_bytes() => Ok(()),
            Some(v) if v == b"1" => {
                self.migrate_to_2()?;
                self.migrate_to_3()
            }
            Some(v) if v == b"2" => self.migrate_to_3(),
            Some(v) => Err(StoreError::Open(format!(
                "database schema version {} is not supported by this rcpush (expects {SCHEMA_VERSION})",
                String::from_utf8_lossy(&v)
            ))),
        }
    }

    /// Schema 2 dropped the room time index and added the badge index, built from the
    /// subscriptions in one batch. Both steps can run again if a crash interrupts them.
    fn migrate_to_2(&self) -> StoreResult<()> {
        for name in trees::RETIRED {
            self.engine.drop_retired(name)?;
        }
        self.write(|store, batch| {
            for user in store.subscribed_user_ids()? {
                let badge = store.badge_from_subscriptions(&user)?;
                batch.put(Tree::UseridBadge, user, badge.to_string());
            }
            batch.put(Tree::Meta, "schema_version", "2");
            Ok(())
        })
    }

    /// Schema 3 keeps one outbox record per message instead of one entry per device: the
    /// pushes pending in schema 2 become records of one device each, in one batch.
    fn migrate_to_3(&self) -> StoreResult<()> {
        self.write(|store, batch| {
            // Another process sharing the database may have migrated it meanwhile.
            if store.engine.get(Tree::Meta, b"schema_version")?.as_deref() == Some(b"3") {
                return Ok(());
            }
            store.migrate_outbox_to_3(batch)?;
            batch.put(Tree::Meta, "schema_version", "3");
            Ok(())
        })
    }

    /// True when the database holds nothing but its schema marker.
    pub fn is_fresh(&self) -> StoreResult<bool> {
        Ok(self.engine.tree_is_empty(Tree::UseridUser)?
            && self.engine.tree_is_empty(Tree::RoomidRoom)?
            && self.engine.tree_is_empty(Tree::SettingidSetting)?)
    }

    /// Runs `decide` in a write transaction and applies its batch atomically and durably.
    fn write<R>(&self, decide: impl FnOnce(&Self, &mut Batch) -> StoreResult<R>) -> StoreResult<R> {
        self.write_then(decide, |_, _, result| result, true)
    }

    /// As `write`, in a `Keyed` transaction: `decide` locks what it reads first
    /// (`Engine::lock`).
    fn write_keyed<R>(
        &self,
        decide: impl FnOnce(&Self, &mut Batch) -> StoreResult<R>,
    ) -> StoreResult<R> {
        self.write_in(Mode::Keyed, decide, |_, _, result| result, true)
    }

    /// As `write`, for a write that keeps a uniqueness rule: `decide` refuses with the
    /// conflict, and nothing is applied.
    fn write_unique<R>(
        &self,
        decide: impl FnOnce(&Self, &mut Batch) -> Result<R, WriteError>,
    ) -> Result<R, WriteError> {
        self.write_then(decide, |_, _, result| result, true)
    }

    /// As `write`, with `complete` run once the batch's badges are derived (it sees each
    /// touched user's new badge) and before the batch is applied; `durable` as in
    /// `Transaction::commit`. `decide`'s error (a `StoreError`, or a `WriteError`) applies
    /// nothing.
    fn write_then<T, R, E: From<StoreError>>(
        &self,
        decide: impl FnOnce(&Self, &mut Batch) -> Result<T, E>,
        complete: impl FnOnce(&Badges, &mut Batch, T) -> R,
        durable: bool,
    ) -> Result<R, E> {
        self.write_in(Mode::Write, decide, complete, durable)
    }

    /// As `write_then`, in a transaction of `mode`: a `Keyed` one's `decide` locks what it
    /// reads (`Engine::lock`); the users whose badges the batch moves are locked here.
    fn write_in<T, R, E: From<StoreError>>(
        &self,
        mode: Mode,
        decide: impl FnOnce(&Self, &mut Batch) -> Result<T, E>,
        complete: impl FnOnce(&Badges, &mut Batch, T) -> R,
        durable: bool,
    ) -> Result<R, E> {
        let tx = self.engine.clone().begin(mode)?;
        let view = self.through(tx.view());
        let mut batch = Batch::default();
        let decided = decide(&view, &mut batch)?;
        view.derive_markers(&mut batch)?;
        view.engine.lock(&badge_owners(&batch))?;
        let badges = view.derive_badges(&mut batch)?;
        let result = complete(&badges, &mut batch, decided);
        self.commit(tx, &view, batch, durable)?;
        Ok(result)
    }

    /// Applies `batch` in `tx` (whose view is `view`) with its change events, invalidates
    /// the caches of what it wrote, commits, and publishes the events (`feed.rs`): here for
    /// a backend of this process alone, through the backend's journal for a shared one.
    fn commit(
        &self,
        mut tx: Box<dyn Transaction>,
        view: &Store,
        mut batch: Batch,
        durable: bool,
    ) -> StoreResult<()> {
        let touched = view.touched(&batch)?;
        let mut cached: Vec<(Tree, Vec<u8>)> = batch
            .writes
            .iter()
            .filter(|(tree, _, _)| Caches::holds(*tree))
            .map(|(tree, key, _)| (*tree, key.clone()))
            .collect();
        // A room record changes its members' subscriptions and badges without writing them.
        for key in &batch.bumped_members {
            cached.push((Tree::UserroomidSubscription, key.clone()));
            cached.push((Tree::UseridBadge, keys::first(key).to_vec()));
        }
        let restart = batch.restarts_feed;
        // A shared backend journals the events in the transaction; here, they are decoded
        // once the write lock is released.
        let (count, here) = match self.engine.is_shared() {
            true => {
                batch.changes = touched.events();
                (0, None)
            }
            false => (touched.len(), Some(touched)),
        };
        if !batch.is_empty() || !batch.changes.is_empty() || restart {
            self.written.commits.inc();
            self.written.entries.inc_by(batch.writes.len() as u64);
            self.written.bytes.inc_by(batch.bytes() as u64);
            tx.apply(batch)?;
        }
        // Still under the write lock: numbers follow the order of commits.
        let staged = self.feed.stage(count, restart);
        let forget = || {
            for (tree, key) in &cached {
                self.caches.invalidate(*tree, key);
            }
        };
        // sled's batch is applied already; a shared backend's is seen by other connections
        // only once committed (what a reader loads before that, it must not keep).
        let shared = self.engine.is_shared();
        if !shared {
            forget();
        }
        let committed = tx.commit(durable);
        if shared {
            forget();
        }
        if let (Some(ticket), Some(touched)) = (staged, here) {
            // Even after a failed flush: the batch is applied, and later ones wait on it.
            // Nobody subscribed yet has seen a number: decoding for no one is skipped.
            let events = match self.feed.is_watched() {
                true => touched.events(),
                false => Vec::new(),
            };
            self.feed.committed(ticket, events, durable);
        }
        committed
    }

    /// Runs `read` on one consistent state of the database (never half of one write).
    fn read_consistent<R>(&self, read: impl FnOnce(&Self) -> StoreResult<R>) -> StoreResult<R> {
        let tx = self.engine.clone().begin(Mode::Snapshot)?;
        read(&self.through(tx.view()))
    }

    /// This store, reading through a transaction's view of the engine. Where other processes
    /// write, the caches may be behind what the transaction sees: it reads past them.
    fn through(&self, engine: Arc<dyn Engine>) -> Store {
        let caches = match engine.is_shared() {
            true => Caches::closed(),
            false => self.caches.clone(),
        };
        Store {
            engine,
            caches,
            feed: self.feed.clone(),
            written: self.written.clone(),
        }
    }

    fn get_json<T: DeserializeOwned>(&self, tree: Tree, key: &[u8]) -> StoreResult<Option<T>> {
        match self.engine.get(tree, key)? {
            None => Ok(None),
            Some(bytes) => decode(tree, &bytes).map(Some),
        }
    }

    fn get_string(&self, tree: Tree, key: &[u8]) -> StoreResult<Option<String>> {
        match self.engine.get(tree, key)? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|e| corrupt(tree, e)),
        }
    }
}

/// The users whose subscriptions or fold markers `batch` writes, or whom a room bump record
/// of it bumps: those whose badges it may move, the ones `derive_badges` derives. Locked
/// before it reads, so two writes moving one user's badge (posts into two of their rooms)
/// take turns and each push's badge counts the other's record.
fn badge_owners(batch: &Batch) -> Vec<Lock<'_>> {
    let owners: std::collections::BTreeSet<&str> = batch
        .writes
        .iter()
        .filter(|(tree, _, _)| {
            matches!(
                tree,
                Tree::UserroomidSubscription | Tree::UserroomidCounters
            )
        })
        .map(|(_, key, _)| key)
        .chain(&batch.bumped_members)
        .filter_map(|key| std::str::from_utf8(keys::first(key)).ok())
        .collect();
    owners.into_iter().map(Lock::User).collect()
}

fn decode<T: DeserializeOwned>(tree: Tree, bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(tree, e))
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own document types cannot fail: they hold only JSON values.
    serde_json::to_vec(value).unwrap_or_default()
}

fn corrupt(tree: Tree, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        tree: tree.name(),
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sled lets go of its directory lock from a background thread, a moment after the last
    /// handle is dropped: opening again at once may find it still locked.
    fn retry_while_locked<T, E: std::fmt::Display>(open: impl Fn() -> Result<T, E>) -> T {
        for _ in 0..500 {
            match open() {
                Ok(opened) => return opened,
                Err(e) if e.to_string().contains("lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("the database stayed locked")
    }

    #[test]
    fn a_schema_1_database_is_migrated_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = Store::open(&path, 4).unwrap();
        let import = crate::seed::parse(
            r#"{"users":[{"_id":"u1","username":"ann"}],
                "rooms":[{"_id":"r1","t":"c","name":"a"},{"_id":"r2","t":"c","name":"b"}],
                "subscriptions":[{"_id":"s1","rid":"r1","u":{"_id":"u1"},"unread":2},
                                 {"_id":"s2","rid":"r2","u":{"_id":"u1"},"unread":3}]}"#,
        )
        .unwrap();
        store.import(&import).unwrap();
        drop(store);
        // Make it look like schema 1: the old time index, no badge index.
        {
            let db = retry_while_locked(|| ::sled::open(&path));
            db.open_tree("roomtsmessageids")
                .unwrap()
                .insert("r1\u{ff}x", "")
                .unwrap();
            db.open_tree(Tree::UseridBadge.name())
                .unwrap()
                .clear()
                .unwrap();
            db.open_tree(Tree::Meta.name())
                .unwrap()
                .insert("schema_version", "1")
                .unwrap();
            db.flush().unwrap();
        }

        let store = retry_while_locked(|| Store::open(&path, 4));
        assert_eq!(store.badge("u1").unwrap(), 5);
        assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
        let version = store.engine.get(Tree::Meta, b"schema_version").unwrap();
        assert_eq!(version.as_deref(), Some(b"3".as_slice()));
        drop(store);
        let db = retry_while_locked(|| ::sled::open(&path));
        assert!(!db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == b"roomtsmessageids"));
    }
}
