//! Integration tests: the real server over HTTP (one test binary).

mod access_oracle;
mod auth;
mod chat;
mod fake_gateway;
mod first_start;
mod helpers;
mod permissions;
mod push;
mod push_delivery;
mod python_client;
mod room_admin;
mod rooms;
#[path = "../support/mod.rs"]
mod support;
mod system_messages;
