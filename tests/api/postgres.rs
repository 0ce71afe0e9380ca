//! The HTTP integration suite of `suite.rs`, every module of it, on PostgreSQL: each test's
//! server gets a new database of a private cluster (`support/postgres.rs`). Where PostgreSQL
//! is missing, each test says so and passes, or fails under `RCPUSH_TEST_REQUIRE=postgres`
//! (`support/require.rs`).

include!("suite.rs");

/// The backend every `spawn_app!` of this binary uses.
pub const BACKEND: rcpush::config::Backend = rcpush::config::Backend::Postgres;
