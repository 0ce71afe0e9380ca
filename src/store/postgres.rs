//! The PostgreSQL backend: the only file that knows PostgreSQL.
//!
//! Each tree is a table `(k bytea PRIMARY KEY, v bytea NOT NULL)`: PostgreSQL's B-tree on the
//! key gives the same order, prefix scans and uniqueness as sled's trees (usernames, e-mail
//! addresses and room names are keys of their index tables), and documents stay the bytes
//! push.get serves. Several rcpush processes may share the database, and their write
//! transactions run as if one at a time (the store's contract, `mod.rs`) with locks that
//! follow the data: transaction-scoped advisory locks, so that a lock covers keys that do
//! not exist yet (a new message id) and costs no row. A `Write` transaction takes the write
//! lock exclusively; a `Keyed` one takes it shared, then a lock per room, message and user it
//! touches (`Engine::lock`), so that posts into different rooms commit at the same time.
//! Row locks would not cover keys that do not exist yet; SERIALIZABLE would
//! have to re-run whole transactions whenever their reads meet (a room's member scan).
//!
//! The store is synchronous and is called from actix's threads, the blocking pool and the
//! delivery threads alike; tokio-postgres is asynchronous. Every call therefore runs on a
//! one-thread runtime of this engine's own and the caller waits on a channel, which works
//! from any thread, inside another runtime or not. (A runtime of several threads was half
//! as fast: a query's task and its connection's woke each other across threads.)

use std::future::Future;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use futures_util::future::{try_join, try_join_all};
use parking_lot::Mutex;
use tokio::sync::{Mutex as AsyncMutex, OwnedMappedMutexGuard, OwnedMutexGuard, Semaphore};
use tokio_postgres::{AsyncMessage, NoTls};

use prometheus_client::metrics::counter::Counter;

use super::engine::{Batch, Engine, Entries, Flusher, Lock, Mode, Transaction, Visitor};
use super::feed::{Feed, Retention};
use super::fence::{position, Answer, PositionReader};
use super::trees::Tree;
use super::{StoreError, StoreResult};
use crate::model::change::{Change, Event};

/// Advisory lock keys (an arbitrary constant, "rcpush" in ASCII, and the next number).
/// Both are below 2^56, where no data lock (`lock_id`) is.
const WRITE_LOCK: i64 = 0x7263_7075_7368;
const SETUP_LOCK: i64 = WRITE_LOCK + 1;

/// Takes the advisory locks `$1` in the order given (a function scan keeps it).
const LOCK: &str = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k";

/// A data lock's advisory key: its kind in the top byte (the order kinds are taken in), a
/// 56-bit FNV-1a hash of its name below. Every process computes the same key; two names
/// that share one only wait for each other, in an order that stays the same.
fn lock_id(lock: &Lock<'_>) -> i64 {
    let (kind, name) = match lock {
        Lock::Message(name) => (1, name),
        Lock::Room(name) => (2, name),
        Lock::Snapshot(name) => (3, name),
        Lock::User(name) => (4, name),
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    ((kind << 56) | (hash & ((1 << 56) - 1))) as i64
}

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
    /// This process's `Write` transactions queue here, not in PostgreSQL: only one can
    /// hold the write lock anyway, and waiting ones would hold connections readers need.
    writers: Arc<AsyncMutex<()>>,
    /// Permits for this process's `Keyed` transactions, half the pool: writers waiting for
    /// each other's data locks never take every connection from the readers.
    keyed: Arc<Semaphore>,
    /// Counts every call waited for (`rcpush_store_round_trips`), where a feed is followed.
    feed: Option<Feed>,
    /// Group commit: a write that other writers of this process run beside commits
    /// asynchronously, which lets go of its locks, then waits for a flush it shares with
    /// them (`FLUSH`).
    flusher: Flusher,
    /// This process's row in `flushes`.
    process: String,
    /// This process's write transactions begun and not yet committed: a writer that sees
    /// no other commits synchronously itself (one round trip less than committing, then
    /// flushing).
    writing: Arc<AtomicUsize>,
    /// When the server this process's commits went to started (`FLUSH` tells a restart).
    started: parking_lot::Mutex<String>,
}

/// Where a call's connection comes from: the pool, or the one an open transaction holds
/// (with the data locks it took, for a `Keyed` one).
#[derive(Clone)]
enum Source {
    Pool,
    Transaction(Held, Option<Arc<Mutex<Taken>>>),
}

/// An open transaction's connection, given back to the pool when it ends (while its views
/// may still be held).
type Held = Arc<AsyncMutex<Option<Object>>>;

/// The data locks a `Keyed` transaction holds.
#[derive(Default)]
struct Taken {
    ids: std::collections::HashSet<i64>,
    /// The greatest: a new lock must come after it.
    last: i64,
}

/// Counts a write transaction in `Shared::writing` until dropped.
struct Writing(Arc<AtomicUsize>);

impl Writing {
    fn new(writing: &Arc<AtomicUsize>) -> Writing {
        writing.fetch_add(1, Ordering::SeqCst);
        Writing(writing.clone())
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
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
/// every listener at commit. Sent with the COMMIT, in one round trip: the counter's row
/// stays locked only until the commit ends, and is taken by one writer after another, so
/// numbers follow commit order, and a committed `last` means every event up to it is
/// committed (what the read fence relies on), however many writers run at once.
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
    Held(OwnedMappedMutexGuard<Option<Object>, Object>),
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
            keyed: Arc::new(Semaphore::new((pool_size / 2).max(1))),
            feed: follow.as_ref().map(|(feed, _)| feed.clone()),
            flusher: Flusher::new(),
            process: uuid::Uuid::new_v4().simple().to_string(),
            writing: Arc::default(),
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
                Source::Transaction(held, _) => {
                    match OwnedMutexGuard::try_map(held.lock_owned().await, Option::as_mut) {
                        Ok(object) => Conn::Held(object),
                        Err(_) => {
                            return Err(StoreError::Backend("the transaction has ended".into()))
                        }
                    }
                }
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
            Mode::Keyed => format!("BEGIN; SELECT pg_advisory_xact_lock_shared({WRITE_LOCK});"),
            Mode::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;".into(),
        };
        let pool = self.shared.pool.clone();
        let (writers, keyed) = (self.shared.writers.clone(), self.shared.keyed.clone());
        let writing = (mode != Mode::Snapshot).then(|| Writing::new(&self.shared.writing));
        let (writer, object) = self.shared.block_on(async move {
            let writer: Option<Box<dyn Send>> = match mode {
                Mode::Write => Some(Box::new(writers.lock_owned().await)),
                Mode::Keyed => Some(Box::new(keyed.acquire_owned().await.map_err(backend)?)),
                Mode::Snapshot => None,
            };
            let object = pool.get().await.map_err(backend)?;
            object.batch_execute(&start).await.map_err(backend)?;
            Ok((writer, object))
        })?;
        let held = Arc::new(AsyncMutex::new(Some(object)));
        let taken = (mode == Mode::Keyed).then(Arc::default);
        Ok(Box::new(PgTransaction {
            view: Arc::new(PgEngine {
                shared: self.shared.clone(),
                source: Source::Transaction(held.clone(), taken),
            }),
            held: Some(held),
            writer,
            writing,
            journal: Vec::new(),
        }))
    }

    fn lock(&self, locks: &[Lock<'_>]) -> StoreResult<()> {
        let Source::Transaction(_, Some(taken)) = &self.source else {
            return Ok(());
        };
        let mut ids: Vec<i64> = locks.iter().map(lock_id).collect();
        ids.sort_unstable();
        ids.dedup();
        {
            let mut taken = taken.lock();
            ids.retain(|id| !taken.ids.contains(id));
            match (ids.first(), ids.last()) {
                (Some(first), _) if *first < taken.last => {
                    return Err(StoreError::Backend(format!(
                        "a lock out of order in a keyed write ({locks:?}): it could deadlock"
                    )));
                }
                (_, Some(last)) => taken.last = *last,
                _ => return Ok(()),
            }
            taken.ids.extend(&ids);
        }
        self.call(move |c| async move {
            let statement = c.prepare_cached(LOCK).await?;
            c.execute(&statement, &[&ids]).await.map(|_| ())
        })
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
    held: Option<Held>,
    /// A write transaction's place among this process's writers (the queue of `Write`
    /// ones, a permit of `Keyed` ones), given up when it ends.
    writer: Option<Box<dyn Send>>,
    /// A write transaction counted in `Shared::writing` until it is committed.
    writing: Option<Writing>,
    /// The events of its batches, journaled with its COMMIT (`JOURNAL`).
    journal: Vec<String>,
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
        self.journal.extend(
            batch
                .changes
                .iter()
                .map(|e| serde_json::to_string(e).unwrap_or_default()),
        );
        self.view.call(move |c| async move {
            let mut prepared = Vec::with_capacity(statements.len());
            for (sql, _, _) in &statements {
                prepared.push(c.prepare_cached(sql).await?);
            }
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
            let restarted = async {
                match restart {
                    true => c.batch_execute(RESTART_JOURNAL).await,
                    false => Ok(()),
                }
            };
            try_join(try_join_all(runs), restarted).await.map(|_| ())
        })
    }

    fn commit(mut self: Box<Self>, durable: bool) -> StoreResult<()> {
        // With other writers of this process under way, asynchronously: the next one need
        // not wait for the disk, and this one shares a flush with them (`Flusher`). Alone, at
        // once durably.
        let shared = self.view.shared.clone();
        let others = shared.writing.load(Ordering::SeqCst) > 1;
        let alone = durable && !others;
        let end = match alone {
            true => "COMMIT",
            false => "SET LOCAL synchronous_commit TO off; COMMIT",
        };
        let held = self.held.take();
        let journal = std::mem::take(&mut self.journal);
        let committed = self.view.call(move |c| async move {
            let statement = match journal.is_empty() {
                true => None,
                false => Some(c.prepare_cached(JOURNAL).await?),
            };
            // Pipelined in this order: the journal's statement is sent first.
            let journaled = async {
                match &statement {
                    Some(statement) => c.query_one(statement, &[&journal]).await.map(|_| ()),
                    None => Ok(()),
                }
            };
            try_join(journaled, c.batch_execute(end)).await.map(|_| ())
        });
        // The connection goes back before the wait for the disk, which needs one to flush.
        if let Some(mut object) = held.as_ref().and_then(|h| h.try_lock().ok()) {
            object.take();
        }
        committed?;
        drop(self.writing.take());
        drop(self.writer.take());
        if !durable {
            return Ok(());
        }
        match alone {
            true => {
                shared.flusher.durable_by_commit();
                Ok(())
            }
            false => {
                let number = shared.flusher.numbered();
                shared.flusher.wait_durable(number, || shared.flush())
            }
        }
    }
}

impl Drop for PgTransaction {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            let writer = self.writer.take();
            self.view.shared.handle.spawn(async move {
                let _writer = writer;
                let mut object = held.lock().await;
                let Some(client) = object.as_ref() else {
                    return;
                };
                if client.batch_execute("ROLLBACK").await.is_err() {
                    // Not back to the pool: a connection in an unknown state is closed.
                    if let Some(client) = object.take() {
                        drop(Object::take(client));
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

    proptest::proptest! {
        /// The order locks are taken in: every message before every room before every
        /// device snapshot before every user, all above the two fixed locks.
        #[test]
        fn data_locks_sort_by_kind_whatever_the_names(
            a in ".{0,24}", b in ".{0,24}", c in ".{0,24}", d in ".{0,24}"
        ) {
            let (message, room, snapshot, user) = (
                lock_id(&Lock::Message(&a)),
                lock_id(&Lock::Room(&b)),
                lock_id(&Lock::Snapshot(&c)),
                lock_id(&Lock::User(&d)),
            );
            proptest::prop_assert!(
                SETUP_LOCK < message && message < room && room < snapshot && snapshot < user
            );
        }
    }

    /// Every process, of any build, must compute the same key for the same data.
    /// FNV-1a of "GENERAL" (computed apart), in kind 2.
    const PINNED: i64 = 161_477_726_398_580_523;

    #[test]
    fn a_data_lock_key_is_fixed() {
        assert_eq!(lock_id(&Lock::Room("GENERAL")), PINNED);
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
