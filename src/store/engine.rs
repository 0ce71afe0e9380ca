//! The seam between typed storage code and a key-value backend (Conduit's engine/tree split).
//!
//! Everything above this trait is written once; a backend implements it in one file:
//! `sled.rs` (the embedded default) and `postgres.rs` (several processes on one database).

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard};
use prometheus_client::metrics::counter::Counter;

use super::trees::Tree;
use super::{StoreError, StoreResult};
use crate::model::change::Event;

/// One atomic set of writes across trees, with what the change feed needs to know of it
/// beyond its writes (`feed.rs`).
#[derive(Default, Debug)]
pub struct Batch {
    pub(super) writes: Vec<(Tree, Vec<u8>, Option<Vec<u8>>)>,
    /// Keys of `writes` put as new documents: a put alone does not say whether a message
    /// was inserted or updated.
    pub(super) inserted: HashSet<(Tree, Vec<u8>)>,
    /// The batch rewrites documents wholesale (an import, a testing reset): the feed says
    /// `Resync` once rather than an event per document.
    pub(super) wholesale: bool,
    /// The feed starts numbering again (testing mode's reset).
    pub(super) restarts_feed: bool,
    /// The batch's events, set by the store before it is applied: a backend shared by
    /// several processes journals them in the same transaction.
    pub(super) changes: Vec<Event>,
    /// The subscriptions (by key) whose documents a room record of the batch changes
    /// without writing them (`tails.rs`): their caches, events and badges follow.
    pub(super) bumped_members: Vec<Vec<u8>>,
}

impl Batch {
    pub fn put(&mut self, tree: Tree, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.writes.push((tree, key.into(), Some(value.into())));
    }

    /// As `put`, for a document that did not exist before this batch.
    pub fn insert(&mut self, tree: Tree, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        let key = key.into();
        self.inserted.insert((tree, key.clone()));
        self.put(tree, key, value);
    }

    pub fn delete(&mut self, tree: Tree, key: impl Into<Vec<u8>>) {
        self.writes.push((tree, key.into(), None));
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The bytes of its keys and values.
    pub fn bytes(&self) -> usize {
        self.writes
            .iter()
            .map(|(_, k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
            .sum()
    }
}

/// Group commit: one flush at a time makes durable every transaction numbered by then;
/// the transactions numbered meanwhile wait for the next flush, which one of them runs for
/// all. Each is still answered only once a flush that began after it was numbered has ended.
pub(super) struct Flusher {
    state: Mutex<Flushed>,
    ended: Condvar,
    flushes: Counter,
}

#[derive(Default)]
struct Flushed {
    /// Transactions numbered so far.
    numbered: u64,
    /// Every transaction numbered up to this is durable.
    durable: u64,
    /// A flush is running.
    flushing: bool,
    /// The last failed flush: the transactions it was for (up to the number) fail with it.
    failed: Option<(u64, String)>,
}

impl Flusher {
    pub(super) fn new() -> Flusher {
        Flusher {
            state: Mutex::new(Flushed::default()),
            ended: Condvar::new(),
            flushes: Counter::default(),
        }
    }

    /// Numbers a transaction whose writes are done, waiting only for a flush.
    pub(super) fn numbered(&self) -> u64 {
        let mut state = self.state.lock();
        state.numbered += 1;
        state.numbered
    }

    /// The number of the last transaction numbered.
    pub(super) fn last(&self) -> u64 {
        self.state.lock().numbered
    }

    pub(super) fn flushes(&self) -> Counter {
        self.flushes.clone()
    }

    /// A transaction was made durable by its own commit: one wait for the disk. It makes no
    /// other transaction durable here, as writers running beside it may have committed
    /// after it on disk however they were numbered.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) fn durable_by_commit(&self) {
        self.flushes.inc();
    }

    /// Returns once transaction `number` is durable: by a `flush` this call runs, or one
    /// that another transaction's call runs meanwhile.
    pub(super) fn wait_durable(
        &self,
        number: u64,
        mut flush: impl FnMut() -> StoreResult<()>,
    ) -> StoreResult<()> {
        let mut state = self.state.lock();
        loop {
            if state.durable >= number {
                return Ok(());
            }
            if let Some((upto, error)) = &state.failed {
                if *upto >= number {
                    return Err(StoreError::Backend(error.clone()));
                }
            }
            if state.flushing {
                self.ended.wait(&mut state);
                continue;
            }
            state.flushing = true;
            let target = state.numbered;
            let flushed = MutexGuard::unlocked(&mut state, &mut flush);
            self.flushes.inc();
            state.flushing = false;
            match flushed {
                Ok(()) => state.durable = state.durable.max(target),
                Err(StoreError::Backend(e)) => state.failed = Some((target, e)),
                Err(e) => state.failed = Some((target, e.to_string())),
            }
            self.ended.notify_all();
        }
    }
}

/// Entries in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Sees one `(key, value)` entry; returns whether to go on.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> StoreResult<bool> + 'a;

/// What a transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reads, decides and writes: no other write transaction, of this process or another,
    /// runs until it ends, and its reads see every write committed before it began.
    Write,
    /// As `Write`, but other `Keyed` transactions may run beside it (a backend without
    /// per-data locks runs it as `Write`): it locks (`Engine::lock`) what it reads and
    /// writes before reading it, so that it runs as if alone, and every key it writes
    /// belongs to something it locked. It waits for every `Write` transaction, and they
    /// for it.
    Keyed,
    /// Reads only, all from one state the database was in (never half of one write).
    Snapshot,
}

/// What a `Keyed` write transaction locks: the data that only writes holding the same lock
/// read and write. A message covers its document (a new one: its id); a room its document,
/// its subscriptions and their fold markers, its bump records, its member index; a device
/// snapshot its reference count; a user their badge and password.
///
/// Locks are taken in kind order — messages, rooms, device snapshots, users (one call may
/// mix kinds: it is sorted) — so that two keyed writes can never wait for each other in a
/// circle; a backend refuses a lock that comes after a later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock<'a> {
    Message(&'a str),
    Room(&'a str),
    /// A device snapshot's reference count: rooms with the same devices share one snapshot,
    /// so posts into different rooms may count it at once.
    Snapshot(&'a str),
    User(&'a str),
}

pub trait Engine: Send + Sync {
    fn get(&self, tree: Tree, key: &[u8]) -> StoreResult<Option<Vec<u8>>>;
    /// The values of `keys`, in their order (one round trip where the backend is remote).
    fn get_many(&self, tree: Tree, keys: &[Vec<u8>]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        keys.iter().map(|k| self.get(tree, k)).collect()
    }
    /// Every entry whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, tree: Tree, prefix: &[u8]) -> StoreResult<Entries>;
    /// `scan_prefix` for each of `prefixes`, in their order (one round trip where the
    /// backend is remote).
    fn scan_prefixes(&self, tree: Tree, prefixes: &[Vec<u8>]) -> StoreResult<Vec<Entries>> {
        prefixes.iter().map(|p| self.scan_prefix(tree, p)).collect()
    }
    /// Up to `limit` entries with keys below `end`, in key order.
    fn scan_until(&self, tree: Tree, end: &[u8], limit: usize) -> StoreResult<Entries>;
    /// The number of entries of a tree (walks it: for start-up, not for requests).
    fn count(&self, tree: Tree) -> StoreResult<usize>;
    /// True when `tree` holds no entry (cheap: it looks at one entry at most).
    fn tree_is_empty(&self, tree: Tree) -> StoreResult<bool>;
    /// Shows `visit` the entries whose keys start with `prefix`, in key order, one at a time
    /// without copying the tree, until it returns false.
    fn visit_prefix(&self, tree: Tree, prefix: &[u8], visit: &mut Visitor<'_>) -> StoreResult<()>;
    /// Shows `visit` every entry of `tree` in reverse key order (newest first in a tree keyed
    /// by time), one at a time without copying the tree, until it returns false. Stopping
    /// early costs only the entries seen (a remote backend fetches a bounded page at a time),
    /// so the last `n` entries cost O(n), not O(tree).
    fn visit_rev(&self, tree: Tree, visit: &mut Visitor<'_>) -> StoreResult<()>;
    /// Removes a tree of an earlier schema (see `trees::RETIRED`) with everything in it.
    fn drop_retired(&self, name: &str) -> StoreResult<()>;
    /// Starts a transaction (see `Mode`); dropping it without `commit` abandons its writes.
    fn begin(self: Arc<Self>, mode: Mode) -> StoreResult<Box<dyn Transaction>>;
    /// In a `Keyed` transaction's view, waits for `locks` (held until the transaction ends);
    /// elsewhere nothing: a `Write` transaction runs alone already.
    fn lock(&self, _locks: &[Lock<'_>]) -> StoreResult<()> {
        Ok(())
    }
    /// Held while a process brings the database up to date at start-up (seed, settings,
    /// admin), so that of several processes starting at once exactly one does it.
    fn setup_lock(&self) -> StoreResult<Box<dyn Send>>;
    /// True when other processes may write to the same database: then nothing read can be
    /// cached, and pushes are claimed before they are sent.
    fn is_shared(&self) -> bool;
    /// Counts the times this process waited for the disk to make writes durable: fewer than
    /// its durable commits when commits shared a flush.
    fn flushes(&self) -> Counter;
}

/// An open transaction of an `Engine`.
pub trait Transaction {
    /// The database as this transaction sees it.
    fn view(&self) -> Arc<dyn Engine>;
    /// Writes `batch` (all of it or, if the transaction is abandoned, none).
    fn apply(&mut self, batch: Batch) -> StoreResult<()>;
    /// Ends the transaction. With `durable`, returns only once its writes are on disk; without,
    /// a crash may lose them (for writes whose loss only repeats work, such as push claims).
    fn commit(self: Box<Self>, durable: bool) -> StoreResult<()>;
}
