//! The sled backend: the only file that knows sled.

use std::path::Path;
use std::sync::Arc;

use parking_lot::{ArcMutexGuard, Mutex, RawMutex};
use prometheus_client::metrics::counter::Counter;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::engine::{Batch, Engine, Entries, Flusher, Mode, Transaction, Visitor};
use super::trees::Tree;
use super::{StoreError, StoreResult};

pub struct SledEngine {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    /// One transaction at a time: sled's lock on the directory keeps other processes out.
    transactions: Arc<Mutex<()>>,
    /// sled makes durable everything written before a `flush()` begins, but each flush
    /// seals and syncs a log buffer of its own: writers flushing one after the other would
    /// pay a sync each. They share flushes instead.
    flusher: Flusher,
    /// False for a temporary database (`Store::open_temporary`): commits do not flush.
    syncs: bool,
}

impl SledEngine {
    pub fn open(path: &Path, cache_mb: u64, syncs: bool) -> StoreResult<SledEngine> {
        // sled reads a damaged log as if it ended there; a log with data but without our
        // trees means the damage came first, and serving it would silently start over empty.
        let had_data = std::fs::metadata(path.join("db")).is_ok_and(|m| m.len() > 0);
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_mb * 1024 * 1024)
            // Durability comes from explicit flushes before each acknowledgement; sled's
            // own timer only bounds what a crash loses of the rest (nothing to bound for a
            // temporary database).
            .flush_every_ms(syncs.then_some(1000))
            .open()
            .map_err(|e| open_error(path, e))?;
        let meta = Tree::Meta.name().as_bytes();
        if had_data && !db.tree_names().iter().any(|n| n.as_ref() == meta) {
            return Err(StoreError::Open(format!(
                "cannot open database {}: {CORRUPT}",
                path.display()
            )));
        }
        let trees = Tree::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| open_error(path, e))?;
        Ok(SledEngine {
            db,
            trees,
            transactions: Arc::new(Mutex::new(())),
            flusher: Flusher::new(),
            syncs,
        })
    }

    fn tree(&self, tree: Tree) -> &sled::Tree {
        &self.trees[tree.index()]
    }
}

const CORRUPT: &str = "the database is corrupt; restore a backup";

fn open_error(path: &Path, e: sled::Error) -> StoreError {
    let detail = match &e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            "it is locked by another process (is rcpush already running?)".to_string()
        }
        // ENOSPC, or EFBIG under a file size limit: no room to extend the log.
        sled::Error::Io(io) if matches!(io.raw_os_error(), Some(27 | 28)) => {
            format!("the disk is full ({io})")
        }
        sled::Error::Io(io) => io.to_string(),
        sled::Error::Corruption { .. } => CORRUPT.to_string(),
        other => other.to_string(),
    };
    StoreError::Open(format!("cannot open database {}: {detail}", path.display()))
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl Engine for SledEngine {
    fn get(&self, tree: Tree, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.tree(tree).get(key)?.map(|v| v.to_vec()))
    }

    fn scan_prefix(&self, tree: Tree, prefix: &[u8]) -> StoreResult<Entries> {
        self.tree(tree)
            .scan_prefix(prefix)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(Into::into))
            .collect()
    }

    fn scan_until(&self, tree: Tree, end: &[u8], limit: usize) -> StoreResult<Entries> {
        self.tree(tree)
            .range(..end)
            .take(limit)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(Into::into))
            .collect()
    }

    fn count(&self, tree: Tree) -> StoreResult<usize> {
        Ok(self.tree(tree).len())
    }

    fn tree_is_empty(&self, tree: Tree) -> StoreResult<bool> {
        Ok(self.tree(tree).is_empty())
    }

    fn visit_prefix(&self, tree: Tree, prefix: &[u8], visit: &mut Visitor<'_>) -> StoreResult<()> {
        for entry in self.tree(tree).scan_prefix(prefix) {
            let (k, v) = entry?;
            if !visit(&k, &v)? {
                break;
            }
        }
        Ok(())
    }

    fn visit_rev(&self, tree: Tree, visit: &mut Visitor<'_>) -> StoreResult<()> {
        for entry in self.tree(tree).iter().rev() {
            let (k, v) = entry?;
            if !visit(&k, &v)? {
                break;
            }
        }
        Ok(())
    }

    fn drop_retired(&self, name: &str) -> StoreResult<()> {
        self.db.drop_tree(name)?;
        Ok(())
    }

    fn begin(self: Arc<Self>, _mode: Mode) -> StoreResult<Box<dyn Transaction>> {
        // A snapshot also holds writers off: sled has no snapshots of its own.
        let guard = self.transactions.lock_arc();
        Ok(Box::new(SledTransaction {
            engine: self,
            guard: Some(guard),
            number: None,
        }))
    }

    fn setup_lock(&self) -> StoreResult<Box<dyn Send>> {
        // The directory lock already keeps every other process out.
        Ok(Box::new(()))
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn flushes(&self) -> Counter {
        self.flusher.flushes()
    }
}

/// The process's one transaction: reads go straight to the trees (nothing else writes
/// meanwhile), the batch is applied as one sled transaction, and the flush happens after
/// the lock is released, shared with the writers applied meanwhile (`Flusher`).
struct SledTransaction {
    engine: Arc<SledEngine>,
    guard: Option<ArcMutexGuard<RawMutex, ()>>,
    /// Its number in `Flusher`, once applied.
    number: Option<u64>,
}

impl Transaction for SledTransaction {
    fn view(&self) -> Arc<dyn Engine> {
        self.engine.clone()
    }

    fn apply(&mut self, batch: Batch) -> StoreResult<()> {
        let trees: Vec<&sled::Tree> = self.engine.trees.iter().collect();
        trees
            .as_slice()
            .transaction(|tx| {
                for (tree, key, value) in &batch.writes {
                    let t = &tx[tree.index()];
                    match value {
                        Some(v) => t.insert(key.as_slice(), v.as_slice())?,
                        None => t.remove(key.as_slice())?,
                    };
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(s) => StoreError::from(s),
                TransactionError::Abort(()) => StoreError::Backend("transaction aborted".into()),
            })?;
        self.number = Some(self.engine.flusher.numbered());
        Ok(())
    }

    fn commit(mut self: Box<Self>, durable: bool) -> StoreResult<()> {
        // Without writes of its own, a durable transaction still waits for what it read:
        // the writes applied before it, some of them perhaps not flushed yet.
        let number = self.number.unwrap_or_else(|| self.engine.flusher.last());
        drop(self.guard.take());
        if durable && self.engine.syncs {
            let db = &self.engine.db;
            self.engine
                .flusher
                .wait_durable(number, || db.flush().map(drop).map_err(StoreError::from))?;
        }
        Ok(())
    }
}
