//! The services: the only code that orchestrates. A handler in `api/` parses a request and
//! calls one function here; that function reads through the store, asks the pure rules,
//! and hands the store one prepared write (the store's transaction contract is in
//! `store/mod.rs`). Nothing here knows HTTP beyond the error catalog it returns.
//!
//! Services are split by area, Conduit-style: `Auth`, `Messages`, `Rooms`, `Users`,
//! `Subscriptions`, `Push`, `Configuration` (settings and permissions), `Admin` and
//! `Testing`. Each is a struct holding only the handles it needs and a narrow view of the
//! store (`store/views.rs`) that lists exactly the store methods it calls. What several
//! areas need is a small struct each of them holds, never a way into another area:
//! `Permits` (the permission table), `RoomAccess` (who may read a room), `Directory` (users
//! by reference, DMs), `SystemMessages` (join/leave/rename notes) and `PushDrafts` (a new
//! message's pushes, the hand-off to delivery). `Services` only hands out the areas, with
//! what the HTTP layer needs besides (metrics, latency, the clock).

pub mod access;
pub mod admin;
pub mod auth;
mod blocking;
mod deliveries;
pub mod directory;
pub mod message_edits;
pub mod messages;
pub mod meteor_methods;
mod notification;
pub mod permissions;
pub mod permits;
mod prepared;
pub mod push;
mod push_drafts;
pub mod reactions;
mod room_admin;
pub mod rooms;
pub mod settings;
pub mod streams;
pub mod subscriptions;
mod system_messages;
pub mod teams;
pub mod testing;
pub mod users;

use std::sync::Arc;

use parking_lot::Mutex;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::config::{Config, MetricsConfig};
use crate::delivery::Delivery;
use crate::error::{ApiError, ApiResult};
use crate::metrics::{Latency, Registry, SocketCounters};
use crate::model::id::Ids;
use crate::model::time::Clock;
use crate::rules::access::Permissions;
use crate::rules::login_throttle::{LoginThrottle, ThrottleLimits};
use crate::settings::Settings;
use crate::store::{Feed, Snapshot, Store};
use access::RoomAccess;
use admin::Admin;
use auth::Auth;
use directory::Directory;
use messages::Messages;
use permits::Permits;
use prepared::PreparedCache;
use push::{push_test_limiter, Push};
use push_drafts::PushDrafts;
use rooms::Rooms;
use settings::Configuration;
use streams::StreamReads;
use subscriptions::Subscriptions;
use system_messages::SystemMessages;
use teams::Teams;
use testing::Testing;
use users::Users;

/// The service areas, built once at start-up, with what the HTTP layer needs (metrics,
/// latency, the clock). Cheap to clone; the store stays private to the areas.
#[derive(Clone)]
pub struct Services {
    latency: Arc<Latency>,
    sockets: SocketCounters,
    /// Every committed write's events, for the realtime streams.
    feed: Feed,
    /// What `GET /metrics` encodes: `latency` and the delivery counters.
    metrics: Arc<Registry>,
    metrics_access: Arc<MetricsConfig>,
    /// What every service reads the time from (adjustable in testing mode).
    clock: Clock,
    /// Where new ids come from (seeded in a deterministic run).
    ids: Ids,
    auth: Auth,
    messages: Messages,
    rooms: Rooms,
    teams: Teams,
    users: Users,
    subscriptions: Subscriptions,
    push: Push,
    configuration: Configuration,
    admin: Admin,
    testing: Testing,
    streams: StreamReads,
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
        let sockets = SocketCounters::default();
        sockets.register(&mut metrics);
        store.feed().register(&mut metrics);
        store.register(&mut metrics);
        let prepared = PreparedCache::new(config.storage.prepared_cache_bytes());
        let hashing = Arc::new(Semaphore::new(config.limits.concurrent_password_hashes));
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
            hashing: hashing.clone(),
        };
        let access = RoomAccess {
            store: store.access(),
            permits: permits.clone(),
        };
        let drafts = PushDrafts {
            store: store.drafts(),
            permits: permits.clone(),
            ids: ids.clone(),
            delivery: delivery.clone(),
        };
        let directory = Directory {
            store: store.directory(),
            settings: settings.clone(),
            permits: permits.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
        };
        let system = SystemMessages {
            clock: clock.clone(),
            ids: ids.clone(),
        };
        let messages = Messages {
            store: store.messages(),
            settings: settings.clone(),
            access: access.clone(),
            directory: directory.clone(),
            system: system.clone(),
            drafts: drafts.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
        };
        let rooms = Rooms {
            store: store.rooms(),
            settings: settings.clone(),
            permits: permits.clone(),
            access: access.clone(),
            directory: directory.clone(),
            system: system.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            delivery: delivery.clone(),
        };
        let teams = Teams {
            store: store.teams_view(),
            permits: permits.clone(),
            access: access.clone(),
            directory: directory.clone(),
            system: system.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            delivery: delivery.clone(),
        };
        let users = Users {
            store: store.users(),
            settings: settings.clone(),
            permits: permits.clone(),
            directory,
            system,
            clock: clock.clone(),
            ids: ids.clone(),
            hashing,
        };
        let subscriptions = Subscriptions {
            store: store.subscriptions(),
            access: access.clone(),
            clock: clock.clone(),
        };
        let streams = StreamReads::new(
            store.streams(),
            access.clone(),
            permits.clone(),
            clock.clone(),
        );
        let push = Push {
            store: store.pushes(),
            settings: settings.clone(),
            clock: clock.clone(),
            ids: ids.clone(),
            permits: permits.clone(),
            access,
            drafts,
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
            permits,
            auth: auth.clone(),
        };
        let testing = Testing {
            store: store.snapshots(),
            settings,
            delivery,
            clock: clock.clone(),
            ids: ids.clone(),
            throttle: auth.throttle.clone(),
            push_tests: push.push_tests.clone(),
            start_state: start_state.map(Arc::new),
        };
        Services {
            latency: Arc::new(latency),
            sockets,
            feed: store.feed(),
            metrics: Arc::new(metrics),
            metrics_access: Arc::new(config.metrics.clone()),
            clock,
            ids,
            auth,
            messages,
            rooms,
            teams,
            users,
            subscriptions,
            push,
            configuration,
            admin,
            testing,
            streams,
        }
    }

    /// Who is calling; logging in and out.
    pub fn teams(&self) -> &Teams {
        &self.teams
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Posting, reading, editing and deleting messages.
    pub fn messages(&self) -> &Messages {
        &self.messages
    }

    /// Rooms, their members, DMs.
    pub fn rooms(&self) -> &Rooms {
        &self.rooms
    }

    /// Creating and showing users.
    pub fn users(&self) -> &Users {
        &self.users
    }

    /// The caller's subscriptions.
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subscriptions
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

    /// Every committed write's events from now on, in commit order (the realtime streams'
    /// one source; a `Lagged` receiver has missed some and must resync).
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<Arc<crate::model::change::Change>> {
        self.feed.subscribe()
    }

    /// Waits until this process's caches hold every write acknowledged before the call,
    /// by any instance (the read fence; immediate on sled). Every request passes it first.
    pub async fn fence(&self) {
        self.feed.fence().await
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
}
