//! The seam between typed storage code and a key-value backend (Conduit's engine/tree split).
//!
//! Everything above this trait is written once; a backend (sled today, perhaps PostgreSQL
//! later) implements it in one file.

use super::trees::Tree;
use super::StoreResult;

/// One atomic set of writes across trees.
#[derive(Default, Debug)]
pub struct Batch {
    pub(super) writes: Vec<(Tree, Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    pub fn put(&mut self, tree: Tree, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.writes.push((tree, key.into(), Some(value.into())));
    }

    pub fn delete(&mut self, tree: Tree, key: impl Into<Vec<u8>>) {
        self.writes.push((tree, key.into(), None));
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

/// Sees one `(key, value)` entry; returns whether to go on.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> StoreResult<bool> + 'a;

pub trait Engine: Send + Sync {
    fn get(&self, tree: Tree, key: &[u8]) -> StoreResult<Option<Vec<u8>>>;
    /// Every entry whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, tree: Tree, prefix: &[u8]) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Up to `limit` entries with keys below `end`, in key order.
    fn scan_until(
        &self,
        tree: Tree,
        end: &[u8],
        limit: usize,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>>;
    /// The number of entries of a tree (walks it: for start-up, not for requests).
    fn count(&self, tree: Tree) -> StoreResult<usize>;
    /// Applies all writes of `batch` atomically (all or none become visible).
    fn apply(&self, batch: Batch) -> StoreResult<()>;
    /// Returns once everything applied so far is on disk.
    fn flush(&self) -> StoreResult<()>;
    /// True when `tree` holds no entry (cheap: it looks at one entry at most).
    fn tree_is_empty(&self, tree: Tree) -> StoreResult<bool>;
    /// Shows `visit` the entries whose keys start with `prefix`, in key order, one at a time
    /// without copying the tree, until it returns false.
    fn visit_prefix(&self, tree: Tree, prefix: &[u8], visit: &mut Visitor<'_>) -> StoreResult<()>;
    /// Removes a tree of an earlier schema (see `trees::RETIRED`) with everything in it.
    fn drop_retired(&self, name: &str) -> StoreResult<()>;
}
