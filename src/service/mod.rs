//! The services: the only code that orchestrates. A handler in `api/` parses a request and
//! calls one function here; that function reads through the store, asks the pure rules,
//! and hands the store one prepared write (the store's transaction contract is in
//! `store/mod.rs`). Nothing here knows HTTP beyond the error catalog it returns.

pub mod access;
pub mod admin;
pub mod auth;
mod deliveries;
pub mod message_edits;
pub mod messages;
mod notification;
pub mod permissions;
mod prepared;
pub mod push;
mod push_drafts;
mod room_admin;
pub mod rooms;
pub mod settings;
pub mod subscriptions;
pub mod testing;
pub mod users;

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use parking_lot::Mutex;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::config::{Config, MetricsConfig};
use crate::delivery::Delivery;
use crate::error::{ApiError, ApiResult};
use crate::metrics::{Latency, Registry};
use crate::model::id::Ids;
use crate::model::time::{Clock, Millis};
use crate::rules::access::Permissions;
use crate::rules::login_throttle::{LoginThrottle, ThrottleLimits};
use crate::settings::Settings;
use crate::store::{Snapshot, Store};
use crate::telemetry::block_in_span;
use permissions::PermissionTable;
use prepared::PreparedCache;

/// push.test's limiter, on the server's clock: testing mode's clock governs it too.
type PushTestLimiter = RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    LimiterClock,
    NoOpMiddleware<std::time::Duration>,
>;

/// One call per second per user (push.test's `rateLimiterOptions`), a new limiter each
/// time (a testing reset forgets the calls made).
fn push_test_limiter(clock: &Clock) -> PushTestLimiter {
    let once_a_second = Quota::per_second(NonZeroU32::MIN);
    RateLimiter::new(
        once_a_second,
        DefaultKeyedStateStore::default(),
        LimiterClock(clock.clone()),
    )
}

/// The server's clock as `governor` reads it: the time since the epoch.
struct LimiterClock(Clock);

impl governor::clock::Clock for LimiterClock {
    type Instant = std::time::Duration;

    fn now(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::try_from(self.0.now()).unwrap_or(0))
    }
}

/// What every service function works with. Cheap to clone; the store stays private to the
/// services.
#[derive(Clone)]
pub struct Services {
    store: Store,
    settings: Settings,
    /// The permission table in force: defaults, `[permissions]`, then admins' changes.
    permissions: Arc<parking_lot::RwLock<PermissionTable>>,
    /// Rocket.Chat's default roles with `[permissions]` of the configuration: what the
    /// stored changes apply to.
    base_permissions: Arc<Permissions>,
    /// Serialises `permissions.update` calls (their store write and the table change).
    permission_updates: Arc<tokio::sync::Mutex<()>>,
    throttle: Arc<Mutex<LoginThrottle>>,
    throttle_limits: ThrottleLimits,
    /// Bounds concurrent argon2 hashes (each holds 19 MiB and a core).
    hashing: Arc<Semaphore>,
    delivery: Delivery,
    /// push.get's messages prepared for all their readers.
    prepared: Arc<PreparedCache>,
    /// push.test's one call per second per user (its `rateLimiterOptions`).
    push_tests: Arc<parking_lot::RwLock<PushTestLimiter>>,
    latency: Arc<Latency>,
    /// What `GET /metrics` encodes: `latency` and the delivery counters.
    metrics: Arc<Registry>,
    metrics_access: Arc<MetricsConfig>,
    /// When the server started (ISO date): `/api/info`'s build date.
    started_at: String,
    /// What every service reads the time from (adjustable in testing mode).
    clock: Clock,
    /// Where new ids and login tokens come from (seeded in a deterministic run).
    ids: Ids,
    /// Testing mode: the database right after start-up, which a reset restores. `None`
    /// outside testing mode, where the testing endpoints do not exist.
    start_state: Option<Arc<Snapshot>>,
}

/// push.get's prepared messages are cached only where the store caches rooms and users,
/// against which they are checked (not on a database other processes share).
fn prepared_budget(store: &Store, config: &Config) -> u64 {
    match store.is_shared() {
        true => 0,
        false => config.storage.prepared_cache_bytes(),
    }
}

impl Services {
    /// `start_state` is given in testing mode only.
    pub fn new(
        store: Store,
        settings: Settings,
        delivery: Delivery,
        config: &Config,
        (clock, ids): (Clock, Ids),
        start_state: Option<Snapshot>,
    ) -> Services {
        let base_permissions = Permissions::with_overrides(&config.permissions);
        let permissions =
            PermissionTable::new(base_permissions.clone(), &settings.changed_permissions());
        let latency = Latency::default();
        let mut metrics = Registry::default();
        delivery.metrics().register(&mut metrics);
        latency.register(&mut metrics);
        let prepared = PreparedCache::new(prepared_budget(&store, config));
        Services {
            prepared: Arc::new(prepared),
            store,
            settings,
            permissions: Arc::new(parking_lot::RwLock::new(permissions)),
            base_permissions: Arc::new(base_permissions),
            permission_updates: Arc::new(tokio::sync::Mutex::new(())),
            throttle: Arc::new(Mutex::new(LoginThrottle::default())),
            throttle_limits: ThrottleLimits {
                per_user: config.limits.login_failures_per_user,
                per_ip: config.limits.login_failures_per_ip,
                window_ms: (config.limits.login_block_seconds as i64).saturating_mul(1000),
            },
            hashing: Arc::new(Semaphore::new(config.limits.concurrent_password_hashes)),
            delivery,
            push_tests: Arc::new(parking_lot::RwLock::new(push_test_limiter(&clock))),
            latency: Arc::new(latency),
            metrics: Arc::new(metrics),
            metrics_access: Arc::new(config.metrics.clone()),
            started_at: crate::model::time::iso(clock.now()),
            clock,
            ids,
            start_state: start_state.map(Arc::new),
        }
    }

    /// The server's clock, which a deterministic run's requests move.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The server's time (ms since the epoch).
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// Where request latencies are recorded.
    pub fn latency(&self) -> Arc<Latency> {
        self.latency.clone()
    }

    /// `GET /metrics`: push delivery counters, the outbox length and request latencies, if
    /// enabled (else the API's 404) and, when a token is configured, for its bearer only.
    pub fn metrics(&self, bearer: Option<&str>) -> ApiResult<String> {
        let access = &self.metrics_access;
        if !access.enabled {
            return Err(ApiError::NotFound);
        }
        let token = access.token.expose_secret();
        // Compared as digests, so the time taken says nothing about the token.
        let digest = |s: &str| Sha256::digest(s.as_bytes());
        if !token.is_empty() && bearer.map(digest) != Some(digest(token)) {
            return Err(ApiError::MetricsTokenRequired);
        }
        Ok(crate::metrics::encode(&self.metrics).map_err(anyhow::Error::from)?)
    }

    /// Whether `roles` (global plus room-scoped) hold `permission`.
    fn has_permission(&self, permission: &str, roles: &[&str]) -> bool {
        self.permission_table().rules.has(permission, roles)
    }

    /// Runs CPU-heavy password work on the blocking pool, a bounded number at a time, in
    /// the request's span.
    async fn hash_blocking<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> ApiResult<R> {
        let _permit = self.hashing.acquire().await.map_err(anyhow::Error::from)?;
        Ok(block_in_span(work).await.map_err(anyhow::Error::from)?)
    }

    /// Runs a store write (which waits for its fsync) on the blocking pool, in the
    /// request's span; its error joins the catalog's, so that results do not nest.
    async fn write<R, E>(
        &self,
        work: impl FnOnce(&Store) -> Result<R, E> + Send + 'static,
    ) -> ApiResult<R>
    where
        R: Send + 'static,
        E: Send + 'static,
        ApiError: From<E>,
    {
        let store = self.store.clone();
        let done = block_in_span(move || work(&store))
            .await
            .map_err(anyhow::Error::from)?;
        Ok(done?)
    }
}
