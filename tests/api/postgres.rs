//! The HTTP integration suite of `main.rs`, every module of it, on PostgreSQL: each test's
//! server gets a new database of a private cluster (`support/postgres.rs`).

mod access_oracle;
mod admin_page;
mod auth;
mod chat;
mod concurrent_edits;
mod fake_apns;
mod fake_fcm;
mod fake_gateway;
mod first_start;
mod helpers;
mod import;
mod permissions;
mod push;
mod push_apns;
mod push_delivery;
mod push_direct;
mod python_client;
mod room_admin;
mod rooms;
#[path = "../support/mod.rs"]
mod support;
mod system_messages;
mod testing;
mod testing_property;

/// The backend every `spawn_app` of this binary uses.
pub const BACKEND: rcpush::config::Backend = rcpush::config::Backend::Postgres;
