//! The services: the only code that orchestrates. A handler in `api/` parses a request and
//! calls one function here; that function reads through the store, asks the pure rules,
//! and hands the store one prepared write (the store's transaction contract is in
//! `store/mod.rs`). Nothing here knows HTTP beyond the error catalog it returns.
//!
//! Services are split by area, each a struct holding only the handles it needs and a
//! narrow view of the store (`store/views.rs`): `Auth`, `Push`, `Configuration` (settings
//! and permissions), `Admin`, `Testing`. What several areas check is a small struct they
//! hold (`Permits`, `RoomAccess`), not a way into each other. Messages, rooms, users and
//! subscriptions are still methods of `Services` itself, over the whole store.

pub mod access;
pub mod admin;
pub mod auth;
mod deliveries;
pub mod message_edits;
pub mod messages;
mod notification;
pub mod permissions;
pub mod permits;
mod prepared;
pub mod push;
mod push_drafts;
mod room_admin;
pub mod rooms;
pub mod settings;
pub mod streams;
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
use crate::metrics::{Latency, Registry, SocketCounters};
use crate::model::id::Ids;
use crate::model::time::{Clock, Millis};
use crate::rules::access::Permissions;
use crate::rules::login_throttle::{LoginThrottle, ThrottleLimits};
use crate::settings::Settings;
use crate::store::{Snapshot, Store};
use crate::telemetry::block_in_span;
use access::RoomAccess;
use admin::Admin;
use auth::Auth;
use permits::Permits;
use prepared::PreparedCache;
use push::Push;
use settings::Configuration;
use streams::StreamReads;
use testing::Testing;

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

/// The service areas, built once at start-up, with what the HTTP layer needs (metrics,
/// latency, the clock). Cheap to clone; the store stays private to the services. Its own
/// fields serve the areas not yet split out (messages, rooms, users, subscriptions).
#[derive(Clone)]
pub struct Services {
    store: Store,
    settings: Settings,
    permits: Permits,
    delivery: Delivery,
    latency: Arc<Latency>,
    sockets: SocketCounters,
    /// What `GET /metrics` encodes: `latency` and the delivery counters.
    metrics: Arc<Registry>,
    metrics_access: Arc<MetricsConfig>,
    /// What every service reads the time from (adjustable in testing mode).
    clock: Clock,
    /// Where new ids and login tokens come from (seeded in a deterministic run).
    ids: Ids,
    auth: Auth,
    access: RoomAccess,
    push: Push,
    configuration: Configuration,
    admin: Admin,
    testing: Testing,
    streams: StreamReads,
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
        let permits = Permits::new(
            Permissions::with_overrides(&config.permissions),
            settings.clone(),
        );
        let latency = Latency::default();
        let mut metrics = Registry::default();
        delivery.metrics().register(&mut metrics);
        latency.register(&mut metrics);
        store.feed().register(&mut metrics);
        let sockets = SocketCounters::default();
        sockets.register(&mut metrics);
        let prepared = PreparedCache::new(prepared_budget(&store, config));
        let auth = Auth {
            store: store.accounts(),
            settings: settings.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            throttle: Arc::new(Mutex::new(LoginThrottle::default())),
            throttle_limits: ThrottleLimits {
                per_user: config.limits.login_failures_per_user,
                per_ip: config.limits.login_failures_per_ip,
                window_ms: (config.limits.login_block_seconds as i64).saturating_mul(1000),
            },
            hashing: Arc::new(Semaphore::new(config.limits.concurrent_password_hashes)),
        };
        let access = RoomAccess {
            store: store.access(),
            permits: permits.clone(),
        };
        let push = Push {
            store: store.pushes(),
            settings: settings.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            permits: permits.clone(),
            access: access.clone(),
            delivery: delivery.clone(),
            prepared: Arc::new(prepared),
            push_tests: Arc::new(parking_lot::RwLock::new(push_test_limiter(&clock))),
        };
        let configuration = Configuration {
            settings: settings.clone(),
            permits: permits.clone(),
            store: store.permissions(),
            clock: clock.clone(),
            permission_updates: Arc::new(tokio::sync::Mutex::new(())),
            started_at: crate::model::time::iso(clock.now()),
        };
        let admin = Admin {
            store: store.admin(),
            settings: settings.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            delivery: delivery.clone(),
            permits: permits.clone(),
            auth: auth.clone(),
        };
        let streams = StreamReads::new(
            store.streams(),
            access.clone(),
            permits.clone(),
            clock.clone(),
        );
        let testing = Testing {
            store: store.snapshots(),
            settings: settings.clone(),
            delivery: delivery.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            throttle: auth.throttle.clone(),
            push_tests: push.push_tests.clone(),
            start_state: start_state.map(Arc::new),
        };
        Services {
            store,
            settings,
            permits,
            delivery,
            latency: Arc::new(latency),
            sockets,
            metrics: Arc::new(metrics),
            metrics_access: Arc::new(config.metrics.clone()),
            clock,
            ids,
            auth,
            access,
            push,
            configuration,
            admin,
            testing,
            streams,
        }
    }

    /// Who is calling; logging in and out.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// push.get, devices, push.test.
    pub fn push(&self) -> &Push {
        &self.push
    }

    /// Settings, permissions, `/api/info`.
    pub fn settings(&self) -> &Configuration {
        &self.configuration
    }

    /// The admin page and the delivery log.
    pub fn admin(&self) -> &Admin {
        &self.admin
    }

    /// Testing mode's controls.
    pub fn testing(&self) -> &Testing {
        &self.testing
    }

    /// The server's clock, which a deterministic run's requests move.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The server's time (ms since the epoch).
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// Every committed write's events from now on, in commit order (the realtime streams'
    /// one source; a `Lagged` receiver has missed some and must resync).
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<Arc<crate::model::change::Change>> {
        self.store.feed().subscribe()
    }

    /// Where request latencies are recorded.
    pub fn latency(&self) -> Arc<Latency> {
        self.latency.clone()
    }

    /// The realtime API's counters, shown by `GET /metrics`.
    pub fn socket_counters(&self) -> SocketCounters {
        self.sockets.clone()
    }

    /// Where new ids come from (the realtime session ids).
    pub fn ids(&self) -> &Ids {
        &self.ids
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
        self.permits.has(permission, roles)
    }

    /// Runs CPU-heavy password work on the blocking pool, a bounded number at a time, in
    /// the request's span.
    async fn hash_blocking<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> ApiResult<R> {
        hash_blocking(&self.auth.hashing, work).await
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
        blocking_write(&self.store, work).await
    }
}

/// Runs CPU-heavy password work on the blocking pool, at most `hashing`'s permits at a
/// time, in the request's span.
async fn hash_blocking<R: Send + 'static>(
    hashing: &Semaphore,
    work: impl FnOnce() -> R + Send + 'static,
) -> ApiResult<R> {
    let _permit = hashing.acquire().await.map_err(anyhow::Error::from)?;
    Ok(block_in_span(work).await.map_err(anyhow::Error::from)?)
}

/// Runs a store write (which waits for its fsync) on the blocking pool, in the request's
/// span, through whichever view of the store an area holds; its error joins the catalog's,
/// so that results do not nest.
async fn blocking_write<V, R, E>(
    view: &V,
    work: impl FnOnce(&V) -> Result<R, E> + Send + 'static,
) -> ApiResult<R>
where
    V: Clone + Send + 'static,
    R: Send + 'static,
    E: Send + 'static,
    ApiError: From<E>,
{
    let view = view.clone();
    let done = block_in_span(move || work(&view))
        .await
        .map_err(anyhow::Error::from)?;
    Ok(done?)
}
