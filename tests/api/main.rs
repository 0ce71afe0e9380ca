//! Integration tests: the real server over HTTP (one test binary).

mod access_oracle;
mod auth;
mod helpers;
mod push;
mod python_client;
mod rooms;
