//! System tests: the built `rcpush` binary run as a process (`CARGO_BIN_EXE_rcpush`), one test
//! binary with a module per subject. One module: `cargo test --test system crash`.
//!
//! The tests of this binary run in parallel threads. Each starts its own server process on a
//! free port (`127.0.0.1:0`, read back from its log) with its own temporary database, and gives
//! the server its environment and working directory on the `Command`, never through
//! `std::env::set_var` or `set_current_dir` (which every thread would share). The two that load
//! the machine on their own, the crash trials and the hostile generator, take
//! `support::heavy()` so that they do not run at once.

mod admin_browser;
mod backup;
mod cli;
mod crash;
#[path = "../api/fake_gateway.rs"]
#[allow(dead_code)]
mod fake_gateway;
mod hostile;
mod import;
mod lifecycle;
mod python_hypothesis;
mod realtime_clients;
mod scale_out;
mod secrets;
mod skip_rules;
#[path = "../support/mod.rs"]
mod support;
mod upgrade;
