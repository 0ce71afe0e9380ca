//! rcpush: a Rocket.Chat-compatible server in one binary. It answers `GET /api/v1/push.get`
//! and the REST endpoints around it (authentication, users, rooms, messages, subscriptions,
//! settings, permissions) byte for byte as Rocket.Chat does, and delivers the pushes new
//! messages cause through Rocket.Chat's gateway or straight to FCM and APNs. Data lives in
//! an embedded database (sled) or in PostgreSQL for several processes; `rcpush import` reads
//! a Rocket.Chat dump. The binary, the integration tests and embedders (`testing::TestServer`)
//! all link this library.

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
pub mod realtime;
pub mod rules;
pub mod seed;
pub mod service;
pub mod settings;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod testing;
