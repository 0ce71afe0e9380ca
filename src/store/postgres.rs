//! The PostgreSQL backend: the only file that knows PostgreSQL.
//!
//! Each tree is a table `(k bytea PRIMARY KEY, v bytea NOT NULL)`: PostgreSQL's B-tree on the
//! key gives the same order, prefix scans and uniqueness as sled's trees (usernames, e-mail
//! addresses and room names are keys of their index tables), and documents stay the bytes
//! push.get serves. Several rcpush processes may share the database: write transactions
//! take one transaction-scoped advisory lock, so they run one at a time across all of them
//! and each reads what the ones before it committed (the store's contract, `mod.rs`).
//!
//! The store is synchronous and is called from actix's threads, the blocking pool and the
//! delivery threads alike; tokio-postgres is asynchronous. Every call therefore runs on a
//! one-thread runtime of this engine's own and the caller waits on a channel, which works
//! from any thread, inside another runtime or not. (A runtime of several threads was half
//! as fast: a query's task and its connection's woke each other across threads.)

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use futures_util::future::{try_join, try_join_all};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use tokio_postgres::{AsyncMessage, NoTls};

use prometheus_client::metrics::counter::Counter;

use super::engine::{Batch, Engine, Entries, Flusher, Mode, Transaction, Visitor};
use super::feed::{Feed, Retention};
use super::fence::{position, Answer, PositionReader};
use super::trees::Tree;
use super::{StoreError, StoreResult};
use crate::model::change::{Change, Event};

/// Advisory lock keys (an arbitrary constant, "rcpush" in ASCII, and the next number).
const WRITE_LOCK: i64 = 0x7263_7075_7368;
const SETUP_LOCK: i64 = WRITE_LOCK + 1;

/// Rows fetched per round trip when visiting a whole tree.
const VISIT_PAGE: i64 = 1000;
/// The first page of a reverse walk, which doubles up to `VISIT_PAGE`.
const FIRST_REV_PAGE: i64 = 64;

pub struct PgEngine {
    shared: Arc<Shared>,
    source: Source,
}

struct Shared {
    /// Ends the thread that drives the runtime.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    sql: Vec<Sql>,
    /// This process's writers queue here, not in PostgreSQL: only one write transaction
    /// can hold the advisory lock anyway, and waiting writers would hold connections that
    /// readers need.
    writers: Arc<AsyncMutex<()>>,
    /// Counts every call waited for (`rcpush_store_round_trips`), where a feed is followed.
    feed: Option<Feed>,
    /// Group commit: a write commits asynchronously under the write lock, which it then
    /// lets go, and waits for a flush shared with this process's other writers (`FLUSH`).
    flusher: Flusher,
    /// This process's row in `flushes`.
    process: String,
    /// This process's writers waiting for `writers`: a writer that sees none commits
    /// synchronously itself (one round trip less than committing, then flushing).
    queued: Arc<std::sync::atomic::AtomicUsize>,
    /// When the server this process's commits went to started (`FLUSH` tells a restart).
    started: parking_lot::Mutex<String>,
}

/// Where a call's connection comes from: the pool, or the one an open transaction holds.
#[derive(Clone)]
enum Source {
    Pool,
    Transaction(Arc<AsyncMutex<Object>>),
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Shared {
    /// Runs `work` on the engine's runtime and waits for it, from any thread.
    fn block_on<T: Send + 'static>(
        &self,
        work: impl Future<Output = StoreResult<T>> + Send + 'static,
    ) -> StoreResult<T> {
        if let Some(feed) = &self.feed {
            feed.round_trip();
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| StoreError::Backend("the PostgreSQL runtime has stopped".into()))?
    }

    /// Makes every commit of this process before the call durable (`FLUSH`). The commits
    /// waiting for it are visible already, so failing them would answer an error for writes
    /// that stay: a failed attempt is tried again (a lost connection, a busy pool) on
    /// another connection. Only a server that restarted since (a later start time) may
    /// have lost them, and only then, or when every attempt fails, is the answer an error.
    /// (A server that recovers from a crash without its postmaster restarting keeps its
    /// start time: that loss is not told apart.)
    fn flush(&self) -> StoreResult<()> {
        let mut pauses = FLUSH_RETRIES.iter();
        loop {
            let pool = self.pool.clone();
            let process = self.process.clone();
            let started: StoreResult<String> = self.block_on(async move {
                let client = pool.get().await.map_err(backend)?;
                let flush = client.prepare_cached(FLUSH).await.map_err(backend)?;
                let row = client
                    .query_one(&flush, &[&process])
                    .await
                    .map_err(backend)?;
                row.try_get(0).map_err(backend)
            });
            let error = match started {
                Ok(started) => {
                    let mut known = self.started.lock();
                    if *known == started {
                        return Ok(());
                    }
                    let error = format!(
                        "PostgreSQL restarted (at {started}) after writes committed \
                         asynchronously before it: they may be lost"
                    );
                    // Commits from now on are on the new server, which the next flush vouches for.
                    *known = started;
                    return Err(StoreError::Backend(error));
                }
                Err(e) => e,
            };
            let Some(pause) = pauses.next() else {
                return Err(error);
            };
            tracing::warn!(%error, retry_in_ms = pause.as_millis() as u64, "a shared flush failed");
            std::thread::sleep(*pause);
        }
    }
}

/// The statements of one table, formatted once.
struct Sql {
    get: Arc<str>,
    get_many: Arc<str>,
    scan_many: Arc<str>,
    scan_from: Arc<str>,
    scan_between: Arc<str>,
    scan_until: Arc<str>,
    /// The last entries, newest first: `$1` how many.
    scan_last: Arc<str>,
    /// The entries below `$1`, newest first: `$2` how many.
    scan_before: Arc<str>,
    count: Arc<str>,
    any: Arc<str>,
    upsert: Arc<str>,
    delete: Arc<str>,
}

impl Sql {
    fn new(table: &str) -> Sql {
        Sql {
            get: Arc::from(format!("SELECT v FROM {table} WHERE k = $1")),
            get_many: Arc::from(format!("SELECT k, v FROM {table} WHERE k = ANY($1)")),
            scan_many: Arc::from(format!(
                "SELECT r.i, t.k, t.v \
                 FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY AS r(lo, hi, i) \
                 JOIN {table} t ON t.k >= r.lo AND (r.hi IS NULL OR t.k < r.hi) \
                 ORDER BY r.i, t.k"
            )),
            scan_from: Arc::from(format!(
                "SELECT k, v FROM {table} WHERE k >= $1 ORDER BY k LIMIT $2"
            )),
            scan_between: Arc::from(format!(
                "SELECT k, v FROM {table} WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3"
            )),
            scan_until: Arc::from(format!(
                "SELECT k, v FROM {table} WHERE k < $1 ORDER BY k LIMIT $2"
            )),
            scan_last: Arc::from(format!("SELECT k, v FROM {table} ORDER BY k DESC LIMIT $1")),
            scan_before: Arc::from(format!(
                "SELECT k, v FROM {table} WHERE k < $1 ORDER BY k DESC LIMIT $2"
            )),
            count: Arc::from(format!("SELECT count(*) FROM {table}")),
            any: Arc::from(format!("SELECT EXISTS (SELECT 1 FROM {table})")),
            upsert: Arc::from(format!(
                "INSERT INTO {table} (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
            )),
            delete: Arc::from(format!("DELETE FROM {table} WHERE k = ANY($1)")),
        }
    }
}

fn table_ddl(table: &str) -> String {
    format!("CREATE TABLE IF NOT EXISTS {table} (k bytea PRIMARY KEY, v bytea NOT NULL);")
}

/// One row per process, written by its flushes.
const FLUSHES_DDL: &str =
    "CREATE TABLE IF NOT EXISTS flushes (process text PRIMARY KEY, n bigint NOT NULL);";

/// A flush: a transaction that writes, committed synchronously, so that PostgreSQL writes
/// its log to disk up to its commit, and with it every commit that came before (the
/// asynchronous commits of the writes waiting for it). `$1`: this process.
/// Answers when the server started, which tells whether it restarted since a commit.
const FLUSH: &str = "INSERT INTO flushes (process, n) VALUES ($1, 1) \
    ON CONFLICT (process) DO UPDATE SET n = flushes.n + 1 \
    RETURNING pg_postmaster_start_time()::text";

/// The pauses before a failed flush is tried again.
const FLUSH_RETRIES: [Duration; 2] = [Duration::from_millis(100), Duration::from_secs(1)];

/// The change feed's journal (`feed.rs`): the events, and the one row that numbers them.
/// `epoch` grows when the numbering starts again (a testing reset). Events are JSON text,
/// not `jsonb`, which would reorder a document's keys.
const CHANGES_DDL: &str = "\
    CREATE TABLE IF NOT EXISTS changes (seq bigint PRIMARY KEY, \
        at timestamptz NOT NULL DEFAULT now(), event text NOT NULL); \
    CREATE TABLE IF NOT EXISTS changes_seq (one boolean PRIMARY KEY DEFAULT true CHECK (one), \
        last bigint NOT NULL, epoch bigint NOT NULL); \
    INSERT INTO changes_seq (last, epoch) VALUES (0, 0) ON CONFLICT DO NOTHING;";

/// Journals a write's events (`$1`, JSON texts) under the numbers after the last, and wakes
/// every listener at commit. Runs under the write lock, so numbers follow commit order.
const JOURNAL: &str = "\
    WITH s AS (UPDATE changes_seq SET last = last + cardinality($1::text[]) RETURNING last), \
    i AS (INSERT INTO changes (seq, event) \
        SELECT s.last - cardinality($1::text[]) + e.i, e.ev \
        FROM s, unnest($1::text[]) WITH ORDINALITY AS e(ev, i)) \
    SELECT pg_notify('rcpush_changes', '')";

/// Starts the numbering again, forgetting the journal (a testing reset).
const RESTART_JOURNAL: &str =
    "DELETE FROM changes; UPDATE changes_seq SET last = 0, epoch = epoch + 1;";

/// The channel `JOURNAL` notifies.
const CHANNEL: &str = "rcpush_changes";
/// The listener's connection, as `pg_stat_activity` names it.
pub const LISTENER_NAME: &str = "rcpush-listener";
/// Rows a listener reads per round trip.
const LISTEN_PAGE: i64 = 500;
/// How often a listener prunes the journal.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// An error with its causes (tokio-postgres says only "db error" at the top).
fn backend(e: impl std::error::Error) -> StoreError {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        // A wrapper (deadpool's `PoolError`) often prints its source already.
        let said = c.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = c.source();
    }
    StoreError::Backend(format!("PostgreSQL: {text}"))
}

/// A connection for one call.
enum Conn {
    Pooled(Box<Object>),
    Held(OwnedMutexGuard<Object>),
}

impl Deref for Conn {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        match self {
            Conn::Pooled(object) => object,
            Conn::Held(guard) => guard,
        }
    }
}

impl PgEngine {
    /// Connects to `url` and creates the tables that do not exist yet; with `existing`, fails
    /// instead where the database has no rcpush tables at all (a command that only reads).
    /// With `follow`, a listener publishes every process's committed events into the feed.
    pub fn connect(
        url: &str,
        pool_size: usize,
        existing: bool,
        follow: Option<(Feed, Retention)>,
    ) -> StoreResult<PgEngine> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Open(format!("invalid storage.url: {e}")))?;
        // A write is answered after its commit is on disk, whatever the server's default;
        // notices ("relation … already exists, skipping") are not worth a log line each.
        let options = format!(
            "{} -c synchronous_commit=on -c client_min_messages=warning",
            config.get_options().unwrap_or_default()
        );
        config
            .application_name("rcpush")
            .connect_timeout(Duration::from_secs(10))
            .options(options.trim_start());
        let place = describe(&config);
        let mut listener = config.clone();
        listener.application_name(LISTENER_NAME);
        // One thread runs every query and connection task, so that a query's task and its
        // connection's never wake each other across threads: the only hand-offs are the
        // caller's request and the answer.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Open(format!("cannot start the PostgreSQL client: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("rcpush-postgres".into())
            .spawn(move || {
                let _ = runtime.block_on(stopped);
                runtime.shutdown_background();
            })
            .map_err(|e| StoreError::Open(format!("cannot start the PostgreSQL client: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // Cheap: a closed connection is replaced, which is how a restarted database
                // is found again.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(10)))
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| StoreError::Open(format!("cannot connect to PostgreSQL {place}: {e}")))?;
        let shared = Arc::new(Shared {
            handle,
            stop: Some(stop),
            pool,
            sql: Tree::ALL.iter().map(|t| Sql::new(t.name())).collect(),
            writers: Arc::new(AsyncMutex::new(())),
            feed: follow.as_ref().map(|(feed, _)| feed.clone()),
            flusher: Flusher::new(),
            process: uuid::Uuid::new_v4().simple().to_string(),
            queued: Arc::default(),
            started: Default::default(),
        });
        let pool = shared.pool.clone();
        let shared_started = shared.clone();
        let meta = Tree::Meta.name();
        let found = shared
            .block_on(async move {
                let client = pool.get().await.map_err(backend)?;
                if existing {
                    let row = client
                        .query_one(&format!("SELECT to_regclass('{meta}') IS NOT NULL"), &[])
                        .await
                        .map_err(backend)?;
                    if !row.get::<_, bool>(0) {
                        return Ok(None);
                    }
                }
                // Concurrent CREATE TABLE IF NOT EXISTS can still collide: one at a time, each
                // committed before the next process looks (three statements, not one batch,
                // which would be one transaction committed after the unlock).
                let mut ddl: String = Tree::ALL.iter().map(|t| table_ddl(t.name())).collect();
                ddl.push_str(CHANGES_DDL);
                ddl.push_str(FLUSHES_DDL);
                for sql in [
                    format!("SELECT pg_advisory_lock({SETUP_LOCK})"),
                    ddl,
                    format!("SELECT pg_advisory_unlock({SETUP_LOCK})"),
                ] {
                    client.batch_execute(&sql).await.map_err(backend)?;
                }
                // The feed starts here: every event committed from now on is published.
                let row = client
                    .query_one(
                        "SELECT epoch, last, pg_postmaster_start_time()::text FROM changes_seq",
                        &[],
                    )
                    .await
                    .map_err(backend)?;
                *shared_started.started.lock() = row.try_get(2).map_err(backend)?;
                Ok(Some((
                    row.try_get(0).map_err(backend)?,
                    row.try_get(1).map_err(backend)?,
                )))
            })
            .map_err(|e| StoreError::Open(format!("cannot open PostgreSQL {place}: {e}")))?;
        let Some(start) = found else {
            return Err(StoreError::Open(format!(
                "there is no database at PostgreSQL {place} (it has no rcpush tables)"
            )));
        };
        if let Some((feed, retention)) = follow {
            // Nothing is cached yet: the caches are as fresh as the feed's start.
            feed.reached(position(start.0, start.1));
            feed.set_position_reader(position_reader(Arc::downgrade(&shared)));
            shared
                .handle
                .spawn(listen(listener, feed, retention, start));
        }
        Ok(PgEngine {
            shared,
            source: Source::Pool,
        })
    }

    /// Runs `work` with a connection: the open transaction's, or one from the pool.
    fn call<T, F, Fut>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Conn) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, tokio_postgres::Error>> + Send,
    {
        let source = self.source.clone();
        let pool = self.shared.pool.clone();
        self.shared.block_on(async move {
            let conn = match source {
                Source::Pool => Conn::Pooled(Box::new(pool.get().await.map_err(backend)?)),
                Source::Transaction(held) => Conn::Held(held.lock_owned().await),
            };
            work(conn).await.map_err(backend)
        })
    }

    fn sql(&self, tree: Tree) -> &Sql {
        &self.shared.sql[tree.index()]
    }

    /// Up to `limit` entries from `from` on (and below `to`), in key order.
    fn scan(
        &self,
        tree: Tree,
        from: Vec<u8>,
        to: Option<Vec<u8>>,
        limit: i64,
    ) -> StoreResult<Entries> {
        let sql = match to {
            Some(_) => self.sql(tree).scan_between.clone(),
            None => self.sql(tree).scan_from.clone(),
        };
        self.call(move |c| async move {
            let statement = c.prepare_cached(&sql).await?;
            let rows = match &to {
                Some(to) => c.query(&statement, &[&from, to, &limit]).await?,
                None => c.query(&statement, &[&from, &limit]).await?,
            };
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }
}

/// `host:port/database` of a configuration, without its user or password (for messages).
fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(""))
}

/// The first key after every key that starts with `prefix` (`None`: there is none).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl Engine for PgEngine {
    fn get(&self, tree: Tree, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let sql = self.sql(tree).get.clone();
        let key = key.to_vec();
        self.call(move |c| async move {
            let statement = c.prepare_cached(&sql).await?;
            match c.query_opt(&statement, &[&key]).await? {
                Some(row) => Ok(Some(row.try_get(0)?)),
                None => Ok(None),
            }
        })
    }

    fn get_many(&self, tree: Tree, keys: &[Vec<u8>]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = self.sql(tree).get_many.clone();
        let wanted = keys.to_vec();
        let mut found: std::collections::HashMap<Vec<u8>, Vec<u8>> =
            self.call(move |c| async move {
                let statement = c.prepare_cached(&sql).await?;
                let rows = c.query(&statement, &[&wanted]).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect()
            })?;
        Ok(keys.iter().map(|k| found.remove(k)).collect())
    }

    fn scan_prefixes(&self, tree: Tree, prefixes: &[Vec<u8>]) -> StoreResult<Vec<Entries>> {
        if prefixes.is_empty() {
            return Ok(Vec::new());
        }
        let sql = self.sql(tree).scan_many.clone();
        let lows = prefixes.to_vec();
        let highs: Vec<Option<Vec<u8>>> = prefixes.iter().map(|p| successor(p)).collect();
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = self.call(move |c| async move {
            let statement = c.prepare_cached(&sql).await?;
            let rows = c.query(&statement, &[&lows, &highs]).await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect()
        })?;
        let mut out = vec![Vec::new(); prefixes.len()];
        for (i, k, v) in rows {
            // ORDINALITY counts from 1.
            if let Some(slot) = usize::try_from(i - 1).ok().and_then(|i| out.get_mut(i)) {
                slot.push((k, v));
            }
        }
        Ok(out)
    }

    fn scan_prefix(&self, tree: Tree, prefix: &[u8]) -> StoreResult<Entries> {
        self.scan(tree, prefix.to_vec(), successor(prefix), i64::MAX)
    }

    fn scan_until(&self, tree: Tree, end: &[u8], limit: usize) -> StoreResult<Entries> {
        let sql = self.sql(tree).scan_until.clone();
        let end = end.to_vec();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |c| async move {
            let statement = c.prepare_cached(&sql).await?;
            let rows = c.query(&statement, &[&end, &limit]).await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }

    fn count(&self, tree: Tree) -> StoreResult<usize> {
        let sql = self.sql(tree).count.clone();
        let n: i64 =
            self.call(move |c| async move { c.query_one(&*sql, &[]).await?.try_get(0) })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn tree_is_empty(&self, tree: Tree) -> StoreResult<bool> {
        let sql = self.sql(tree).any.clone();
        let any: bool =
            self.call(move |c| async move { c.query_one(&*sql, &[]).await?.try_get(0) })?;
        Ok(!any)
    }

    fn visit_prefix(&self, tree: Tree, prefix: &[u8], visit: &mut Visitor<'_>) -> StoreResult<()> {
        // Page by page, so that memory stays bounded however large the tree.
        let end = successor(prefix);
        let mut from = prefix.to_vec();
        loop {
            let page = self.scan(tree, from.clone(), end.clone(), VISIT_PAGE)?;
            let full = page.len() as i64 == VISIT_PAGE;
            for (k, v) in &page {
                if !visit(k, v)? {
                    return Ok(());
                }
            }
            match page.last() {
                Some((last, _)) if full => {
                    from = last.clone();
                    from.push(0);
                }
                _ => return Ok(()),
            }
        }
    }

    fn visit_rev(&self, tree: Tree, visit: &mut Visitor<'_>) -> StoreResult<()> {
        // Page by page from the end, each below the last key seen; pages start small and
        // grow, so that a caller wanting a few entries fetches few.
        let mut below: Option<Vec<u8>> = None;
        let mut size = FIRST_REV_PAGE;
        loop {
            let sql = match below {
                Some(_) => self.sql(tree).scan_before.clone(),
                None => self.sql(tree).scan_last.clone(),
            };
            let bound = below.clone();
            let page: Entries = self.call(move |c| async move {
                let statement = c.prepare_cached(&sql).await?;
                let rows = match &bound {
                    Some(b) => c.query(&statement, &[b, &size]).await?,
                    None => c.query(&statement, &[&size]).await?,
                };
                rows.iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect()
            })?;
            let full = page.len() as i64 == size;
            for (k, v) in &page {
                if !visit(k, v)? {
                    return Ok(());
                }
            }
            size = (size * 2).min(VISIT_PAGE);
            match page.last() {
                Some((last, _)) if full => below = Some(last.clone()),
                _ => return Ok(()),
            }
        }
    }

    fn drop_retired(&self, name: &str) -> StoreResult<()> {
        let sql = format!("DROP TABLE IF EXISTS {name}");
        self.call(move |c| async move { c.batch_execute(&sql).await })
    }

    fn begin(self: Arc<Self>, mode: Mode) -> StoreResult<Box<dyn Transaction>> {
        let start = match mode {
            Mode::Write => format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK});"),
            Mode::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;".into(),
        };
        let pool = self.shared.pool.clone();
        let writers = (mode == Mode::Write).then(|| self.shared.writers.clone());
        let queued = self.shared.queued.clone();
        let (writer, object) = self.shared.block_on(async move {
            let writer = match writers {
                Some(w) => {
                    queued.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let writer = w.lock_owned().await;
                    queued.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    Some(writer)
                }
                None => None,
            };
            let object = pool.get().await.map_err(backend)?;
            object.batch_execute(&start).await.map_err(backend)?;
            Ok((writer, object))
        })?;
        let held = Arc::new(AsyncMutex::new(object));
        Ok(Box::new(PgTransaction {
            view: Arc::new(PgEngine {
                shared: self.shared.clone(),
                source: Source::Transaction(held.clone()),
            }),
            held: Some(held),
            writer,
        }))
    }

    fn setup_lock(&self) -> StoreResult<Box<dyn Send>> {
        let pool = self.shared.pool.clone();
        let object = self.shared.block_on(async move {
            let object = pool.get().await.map_err(backend)?;
            let lock = format!("SELECT pg_advisory_lock({SETUP_LOCK})");
            object.batch_execute(&lock).await.map_err(backend)?;
            Ok(object)
        })?;
        Ok(Box::new(SetupLock {
            shared: self.shared.clone(),
            object: Some(object),
        }))
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn flushes(&self) -> Counter {
        self.shared.flusher.flushes()
    }
}

/// Holds the setup lock's session; dropping it unlocks.
struct SetupLock {
    shared: Arc<Shared>,
    object: Option<Object>,
}

impl Drop for SetupLock {
    fn drop(&mut self) {
        if let Some(object) = self.object.take() {
            self.shared.handle.spawn(async move {
                let unlock = format!("SELECT pg_advisory_unlock({SETUP_LOCK})");
                if object.batch_execute(&unlock).await.is_err() {
                    // Closing the session releases its locks too.
                    drop(Object::take(object));
                }
            });
        }
    }
}

struct PgTransaction {
    view: Arc<PgEngine>,
    /// `None` once committed.
    held: Option<Arc<AsyncMutex<Object>>>,
    /// A write transaction's place among this process's writers, given up when it ends.
    writer: Option<OwnedMutexGuard<()>>,
}

impl Transaction for PgTransaction {
    fn view(&self) -> Arc<dyn Engine> {
        self.view.clone()
    }

    fn apply(&mut self, batch: Batch) -> StoreResult<()> {
        // Only each key's last write counts, and one statement per table and kind of write
        // (an upsert may not touch a row twice). The statements are pipelined.
        let mut last: std::collections::HashMap<(Tree, Vec<u8>), Option<Vec<u8>>> =
            std::collections::HashMap::with_capacity(batch.writes.len());
        for (tree, key, value) in batch.writes {
            last.insert((tree, key), value);
        }
        // Per tree: the keys and values to put, and the keys to delete.
        let mut put_keys: Vec<Vec<Vec<u8>>> = vec![Vec::new(); Tree::ALL.len()];
        let mut put_values: Vec<Vec<Vec<u8>>> = vec![Vec::new(); Tree::ALL.len()];
        let mut deletes: Vec<Vec<Vec<u8>>> = vec![Vec::new(); Tree::ALL.len()];
        for ((tree, key), value) in last {
            match value {
                Some(v) => {
                    put_keys[tree.index()].push(key);
                    put_values[tree.index()].push(v);
                }
                None => deletes[tree.index()].push(key),
            }
        }
        let mut statements = Vec::new();
        for tree in Tree::ALL {
            let sql = self.view.sql(tree);
            let keys = std::mem::take(&mut put_keys[tree.index()]);
            let values = std::mem::take(&mut put_values[tree.index()]);
            if !keys.is_empty() {
                statements.push((sql.upsert.clone(), keys, Some(values)));
            }
            let keys = std::mem::take(&mut deletes[tree.index()]);
            if !keys.is_empty() {
                statements.push((sql.delete.clone(), keys, None));
            }
        }
        let restart = batch.restarts_feed;
        let events: Vec<String> = batch
            .changes
            .iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .collect();
        self.view.call(move |c| async move {
            let mut prepared = Vec::with_capacity(statements.len());
            for (sql, _, _) in &statements {
                prepared.push(c.prepare_cached(sql).await?);
            }
            let journal = match events.is_empty() {
                true => None,
                false => Some(c.prepare_cached(JOURNAL).await?),
            };
            let runs = statements
                .iter()
                .zip(&prepared)
                .map(|((_, keys, values), statement)| {
                    let c = &c;
                    async move {
                        match values {
                            Some(values) => c.execute(statement, &[keys, values]).await,
                            None => c.execute(statement, &[keys]).await,
                        }
                    }
                });
            // Pipelined with the writes: no round trip of its own.
            let journaled = async {
                if restart {
                    c.batch_execute(RESTART_JOURNAL).await?;
                }
                if let Some(journal) = &journal {
                    c.query_one(journal, &[&events]).await?;
                }
                Ok(())
            };
            try_join(try_join_all(runs), journaled).await.map(|_| ())
        })
    }

    fn commit(mut self: Box<Self>, durable: bool) -> StoreResult<()> {
        // With writers of this process waiting, asynchronously: the next one need not wait
        // for the disk, and this one shares a flush with them (`Flusher`). Alone, at once
        // durably, which also makes every earlier commit of this process durable.
        let shared = self.view.shared.clone();
        let queued = shared.queued.load(std::sync::atomic::Ordering::SeqCst) > 0;
        let alone = durable && !queued;
        let end = match alone {
            true => "COMMIT",
            false => "SET LOCAL synchronous_commit TO off; COMMIT",
        };
        self.held = None;
        self.view
            .call(move |c| async move { c.batch_execute(end).await })?;
        if !durable {
            return Ok(());
        }
        // Numbered before this process's next writer may commit.
        let number = shared.flusher.numbered();
        drop(self.writer.take());
        match alone {
            true => {
                shared.flusher.durable_through(number);
                Ok(())
            }
            false => shared.flusher.wait_durable(number, || shared.flush()),
        }
    }
}

impl Drop for PgTransaction {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            let writer = self.writer.take();
            self.view.shared.handle.spawn(async move {
                let _writer = writer;
                let object = held.lock().await;
                if object.batch_execute("ROLLBACK").await.is_err() {
                    drop(object);
                    if let Ok(object) = Arc::try_unwrap(held) {
                        drop(Object::take(object.into_inner()));
                    }
                }
            });
        }
    }
}

/// The feed's position in the database (`fence.rs`).
const POSITION: &str = "SELECT epoch, last FROM changes_seq";

/// Reads `POSITION` on the engine's runtime for the read fence. It holds the engine weakly:
/// the fence belongs to the feed, which the engine's listener holds.
fn position_reader(shared: std::sync::Weak<Shared>) -> PositionReader {
    Box::new(move |answer: Answer| {
        let Some(shared) = shared.upgrade() else {
            answer(Err(StoreError::Backend(
                "the PostgreSQL engine is closed".into(),
            )));
            return;
        };
        if let Some(feed) = &shared.feed {
            feed.round_trip();
        }
        let pool = shared.pool.clone();
        shared.handle.spawn(async move {
            let found = async {
                let client = pool.get().await.map_err(backend)?;
                let statement = client.prepare_cached(POSITION).await.map_err(backend)?;
                let row = client.query_one(&statement, &[]).await.map_err(backend)?;
                let (epoch, last) = (row.try_get(0), row.try_get(1));
                Ok(position(epoch.map_err(backend)?, last.map_err(backend)?))
            };
            answer(found.await);
        });
    })
}

/// Publishes every process's committed events into `feed`, for as long as the engine's
/// runtime runs: on a dedicated connection, reconnecting with backoff when it is lost.
/// While it is away, requests stop waiting for it (`fence.rs`).
async fn listen(config: tokio_postgres::Config, feed: Feed, retention: Retention, start: Place) {
    let mut place = start;
    let mut backoff = FIRST_BACKOFF;
    let mut connected_before = false;
    loop {
        let lost = follow(
            &config,
            &feed,
            retention,
            &mut place,
            &mut connected_before,
            &mut backoff,
        )
        .await;
        feed.listening(false);
        tracing::warn!(error = %lost, retry_in_ms = backoff.as_millis() as u64, "the change listener lost its PostgreSQL connection");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Where a listener is in the journal: `(epoch, last seq published)`.
type Place = (i64, i64);

/// One connection's life: LISTEN, catch up, then read on every wake-up (and prune now and
/// then) until the connection fails; returns why.
async fn follow(
    config: &tokio_postgres::Config,
    feed: &Feed,
    retention: Retention,
    place: &mut Place,
    connected_before: &mut bool,
    backoff: &mut Duration,
) -> String {
    let (client, mut connection) = match config.connect(NoTls).await {
        Ok(pair) => pair,
        Err(e) => return backend(e).to_string(),
    };
    let (wake, mut woken) = tokio::sync::mpsc::unbounded_channel::<()>();
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => {
                    if wake.send(()).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    });
    let lost = async {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        if std::mem::replace(connected_before, true) {
            feed.reconnected();
        }
        *backoff = FIRST_BACKOFF;
        let mut prune = tokio::time::interval(PRUNE_EVERY);
        catch_up(&client, feed, place).await?;
        feed.listening(true);
        loop {
            catch_up(&client, feed, place).await?;
            tokio::select! {
                woke = woken.recv() => if woke.is_none() {
                    return Ok::<_, tokio_postgres::Error>("the connection closed".to_string());
                },
                _ = prune.tick() => prune_journal(&client, retention).await?,
            }
            // Wake-ups that came meanwhile are all answered by the next read.
            while woken.try_recv().is_ok() {}
        }
    }
    .await;
    driver.abort();
    match lost {
        Ok(why) => why,
        Err(e) => backend(e).to_string(),
    }
}

/// The counter and the page of events after a listener's place, read in ONE statement (one
/// snapshot): read apart, a reset committed between them would show the new epoch's rows
/// under the old epoch, and they would be published twice. `$1` last seq, `$2` its epoch.
const CATCH_UP: &str = "SELECT s.epoch, s.last, c.seq, c.event FROM changes_seq s \
    LEFT JOIN LATERAL (SELECT seq, event FROM changes \
        WHERE seq > CASE WHEN s.epoch = $2::bigint THEN $1::bigint ELSE 0 END ORDER BY seq LIMIT $3::bigint) c ON true \
    ORDER BY c.seq";

/// Publishes the journal's events after `place`, in order. A number skipped (its
/// row pruned while the listener was away) is published as a `Resync`; an epoch changed
/// (a testing reset) reads the new journal from its start.
async fn catch_up(
    client: &tokio_postgres::Client,
    feed: &Feed,
    place: &mut Place,
) -> Result<(), tokio_postgres::Error> {
    loop {
        let (was_epoch, was_last) = *place;
        let rows = client
            .query(CATCH_UP, &[&was_last, &was_epoch, &LISTEN_PAGE])
            .await?;
        let Some(counter) = rows.first() else {
            return Ok(());
        };
        let (epoch, newest): (i64, i64) = (counter.try_get(0)?, counter.try_get(1)?);
        let mut last = match epoch == was_epoch {
            true => was_last,
            false => 0,
        };
        if last >= newest {
            *place = (epoch, last);
            feed.reached(position(epoch, last));
            return Ok(());
        }
        let mut read = 0;
        for row in &rows {
            let Some(seq) = row.try_get::<_, Option<i64>>(2)? else {
                continue;
            };
            read += 1;
            if seq != last + 1 {
                feed.publish(Change {
                    seq: (seq - 1) as u64,
                    event: Event::Resync,
                });
            }
            let text: Option<&str> = row.try_get(3)?;
            let event = serde_json::from_str(text.unwrap_or_default()).unwrap_or_else(|e| {
                tracing::error!(seq, error = %e, "unreadable change event: consumers resync");
                Event::Resync
            });
            feed.publish(Change {
                seq: seq as u64,
                event,
            });
            last = seq;
        }
        if read == 0 {
            // Everything up to the newest was pruned.
            feed.publish(Change {
                seq: newest as u64,
                event: Event::Resync,
            });
            last = newest;
        }
        *place = (epoch, last);
        feed.reached(position(epoch, last));
    }
}

/// Drops the events beyond the retention bounds (any process may; each listener does now
/// and then). A listener that was away longer finds the gap and resyncs.
async fn prune_journal(
    client: &tokio_postgres::Client,
    retention: Retention,
) -> Result<(), tokio_postgres::Error> {
    let rows = i64::try_from(retention.rows).unwrap_or(i64::MAX);
    let age = retention.age.as_secs_f64();
    client
        .execute(
            "DELETE FROM changes WHERE seq <= (SELECT last FROM changes_seq) - $1 \
             OR at < now() - make_interval(secs => $2)",
            &[&rows, &age],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_successor_of_a_prefix_bounds_exactly_its_keys() {
        assert_eq!(successor(b"ab\xff"), Some(b"ac".to_vec()));
        assert_eq!(successor(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(successor(b"\xff\xff"), None);
        assert_eq!(successor(b""), None);
        let prefix = b"u1\xff";
        let end = successor(prefix).unwrap();
        for key in [&b"u1\xffroom"[..], b"u1\xff\xff\xff"] {
            assert!(key >= &prefix[..] && key < &end[..]);
        }
        assert!(b"u2"[..] >= end[..]);
    }

    /// An error that prints its source as deadpool's `PoolError` does.
    #[derive(Debug)]
    struct Wrapper(std::io::Error);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Error occurred while creating a new object: {}", self.0)
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_is_said_once() {
        let e = Wrapper(std::io::Error::other("db error"));
        assert_eq!(
            backend(e).to_string(),
            "storage backend failed: PostgreSQL: Error occurred while creating a new object: db error"
        );
    }
}
