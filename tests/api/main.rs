//! Integration tests: the real server over HTTP, on sled. The modules are listed once, in
//! `suite.rs`, which `postgres.rs` includes too.

include!("suite.rs");

/// The backend every `spawn_app!` of this binary uses.
pub const BACKEND: rcpush::config::Backend = rcpush::config::Backend::Sled;
