//! Integration tests: the real server over HTTP (one test binary).

mod access_oracle;
mod auth;
mod fake_gateway;
mod helpers;
mod import;
mod push;
mod push_delivery;
mod python_client;
mod rooms;
#[path = "../support/mod.rs"]
mod support;
