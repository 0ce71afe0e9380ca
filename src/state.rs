//! What every request handler shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::config::Config;
use crate::delivery::Delivery;
use crate::metrics::{Latency, Registry};
use crate::rules::access::Permissions;
use crate::rules::login_throttle::{LoginThrottle, ThrottleLimits};
use crate::settings::Settings;
use crate::store::Store;
use crate::telemetry::block_in_span;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Settings,
    pub permissions: Arc<Permissions>,
    pub throttle: Arc<Mutex<LoginThrottle>>,
    pub throttle_limits: ThrottleLimits,
    /// Bounds concurrent argon2 hashes (each holds 19 MiB and a core).
    pub hashing: Arc<Semaphore>,
    pub delivery: Delivery,
    pub latency: Arc<Latency>,
    /// What `GET /metrics` encodes: `latency` and the delivery counters.
    pub metrics: Arc<Registry>,
    /// When each user last called push.test (its 1-per-second limit).
    pub push_tests: Arc<Mutex<HashMap<String, i64>>>,
}

impl AppState {
    pub fn new(store: Store, settings: Settings, delivery: Delivery, config: &Config) -> AppState {
        let latency = Latency::default();
        let mut metrics = Registry::default();
        delivery.metrics().register(&mut metrics);
        latency.register(&mut metrics);
        AppState {
            store,
            settings,
            permissions: Arc::new(Permissions::with_overrides(&config.permissions)),
            throttle: Arc::new(Mutex::new(LoginThrottle::default())),
            throttle_limits: ThrottleLimits {
                per_user: config.limits.login_failures_per_user,
                per_ip: config.limits.login_failures_per_ip,
                window_ms: (config.limits.login_block_seconds as i64).saturating_mul(1000),
            },
            hashing: Arc::new(Semaphore::new(config.limits.concurrent_password_hashes)),
            delivery,
            latency: Arc::new(latency),
            metrics: Arc::new(metrics),
            push_tests: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Whether `roles` (global plus room-scoped) hold `permission`.
    pub fn has_permission(&self, permission: &str, roles: &[&str]) -> bool {
        self.permissions.has(permission, roles)
    }

    /// Runs CPU-heavy password work on the blocking pool, a bounded number at a time, in the
    /// request's span.
    pub async fn hash_blocking<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> anyhow::Result<R> {
        let _permit = self.hashing.acquire().await?;
        Ok(block_in_span(work).await?)
    }

    /// Runs a store write (which waits for its fsync) on the blocking pool, in the request's
    /// span.
    pub async fn write<R: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> R + Send + 'static,
    ) -> anyhow::Result<R> {
        let store = self.store.clone();
        Ok(block_in_span(move || work(&store)).await?)
    }
}
