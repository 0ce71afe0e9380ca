//! rcpush: a Rocket.Chat-compatible push.get server with an embedded database.

pub mod api;
pub mod config;
pub mod delivery;
pub mod error;
#[cfg(feature = "bench-data")]
pub mod generate;
pub mod import;
pub mod metrics;
pub mod model;
pub mod online_export;
pub mod rules;
pub mod seed;
pub mod service;
pub mod settings;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod testing;
