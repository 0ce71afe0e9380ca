//! Stands in for `postgres.rs` in a build without the `postgres` feature (the edge build,
//! README "Build"): the same `PgEngine::connect`, which fails with a clear error, so that a
//! configuration naming PostgreSQL stops the server at start and every caller stays as it is.
//! `PgEngine` has no value, so its `Engine` methods can never run.

use std::sync::Arc;

use super::engine::{Engine, Entries, Mode, Transaction, Visitor};
use super::feed::{Feed, Retention};
use super::trees::Tree;
use super::{StoreError, StoreResult};
use prometheus_client::metrics::counter::Counter;

/// What a build without PostgreSQL says when asked for it.
const MISSING: &str = "storage.backend is \"postgres\", but this rcpush was built without \
     PostgreSQL (cargo feature `postgres`, left out of the edge build): use storage.backend = \
     \"sled\" or a build with default features";

pub enum PgEngine {}

impl PgEngine {
    pub fn connect(
        _url: &str,
        _pool_size: usize,
        _existing: bool,
        _follow: Option<(Feed, Retention)>,
    ) -> StoreResult<PgEngine> {
        Err(StoreError::Open(MISSING.to_string()))
    }
}

impl Engine for PgEngine {
    fn get(&self, _: Tree, _: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        match *self {}
    }
    fn scan_prefix(&self, _: Tree, _: &[u8]) -> StoreResult<Entries> {
        match *self {}
    }
    fn scan_until(&self, _: Tree, _: &[u8], _: usize) -> StoreResult<Entries> {
        match *self {}
    }
    fn count(&self, _: Tree) -> StoreResult<usize> {
        match *self {}
    }
    fn tree_is_empty(&self, _: Tree) -> StoreResult<bool> {
        match *self {}
    }
    fn visit_prefix(&self, _: Tree, _: &[u8], _: &mut Visitor<'_>) -> StoreResult<()> {
        match *self {}
    }
    fn visit_rev(&self, _: Tree, _: &mut Visitor<'_>) -> StoreResult<()> {
        match *self {}
    }
    fn drop_retired(&self, _: &str) -> StoreResult<()> {
        match *self {}
    }
    fn begin(self: Arc<Self>, _: Mode) -> StoreResult<Box<dyn Transaction>> {
        match *self {}
    }
    fn setup_lock(&self) -> StoreResult<Box<dyn Send>> {
        match *self {}
    }
    fn is_shared(&self) -> bool {
        match *self {}
    }
    fn flushes(&self) -> Counter {
        match *self {}
    }
}
