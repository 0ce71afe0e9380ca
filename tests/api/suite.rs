// The API suite's modules, one list for every backend: each backend's test binary
// (`main.rs`: sled, `postgres.rs`: PostgreSQL) includes this file and sets `BACKEND`, so a
// module added here runs on each, and a new backend is one more three-line binary.
// (Included with `include!`, hence plain comments.)

mod access_oracle;
mod admin_page;
mod auth;
mod bad_words;
mod chat;
mod concurrent_edits;
mod e2e;
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
mod realtime_presence;
mod realtime_streams;
mod python_client;
mod reactions;
mod realtime_feed;
mod realtime_methods;
mod realtime_session;
mod room_admin;
mod rooms;
mod settings_catalog;
#[path = "../support/mod.rs"]
mod support;
mod system_messages;
mod teams;
mod testing;
mod testing_property;
mod users;
