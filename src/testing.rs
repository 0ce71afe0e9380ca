//! `TestServer`: rcpush as a test double inside a Rust test process, in testing mode on a
//! free loopback port and a temporary database, with its controls (README, "Testing mode").
//! Other languages start the binary instead: `rcpush --ephemeral`.

use anyhow::Context;
use serde_json::Value;

use crate::config::Config;
use crate::startup::{spawn, use_temporary_storage, RunningServer};

pub struct TestServer {
    server: RunningServer,
    agent: ureq::Agent,
    /// Removed after the server has stopped (fields drop in order).
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts `config` (its seed bundle, settings, admin; `testing.seed` for a
    /// deterministic run) in testing mode on `127.0.0.1`, a free port and a new temporary
    /// database.
    pub fn start(mut config: Config) -> anyhow::Result<TestServer> {
        config.testing.enabled = true;
        config.server.bind = "127.0.0.1:0".into();
        let dir = use_temporary_storage(&mut config)?;
        Ok(TestServer {
            server: spawn(config)?,
            agent: ureq::Agent::new(),
            _dir: dir,
        })
    }

    /// `http://127.0.0.1:<port>`, the base of every API path.
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// The pushes the server would have sent since start or reset, in order:
    /// `{"transport","path","body"}` each.
    pub fn pushes(&self) -> anyhow::Result<Vec<Value>> {
        Self::pushes_from(self.call("GET", "pushes", None)?)
    }

    /// Empties the list of captured pushes, returning what it held.
    pub fn take_pushes(&self) -> anyhow::Result<Vec<Value>> {
        Self::pushes_from(self.call("DELETE", "pushes", None)?)
    }

    /// Sets the server's clock to `iso` (`2030-01-02T03:04:05.000Z`); returns the time.
    pub fn set_clock(&self, iso: &str) -> anyhow::Result<String> {
        let body = serde_json::json!({ "now": iso });
        Self::now_from(self.call("POST", "clock", Some(body))?)
    }

    /// Moves the server's clock `ms` forward; returns the time.
    pub fn advance_clock(&self, ms: u64) -> anyhow::Result<String> {
        let body = serde_json::json!({ "advance_ms": ms });
        Self::now_from(self.call("POST", "clock", Some(body))?)
    }

    /// The database back to its state right after start-up; captured pushes cleared; the
    /// clock and the id generator restarted.
    pub fn reset(&self) -> anyhow::Result<()> {
        self.call("POST", "reset", None).map(drop)
    }

    /// Stops the server (dropping it does the same).
    pub fn stop(self) {
        self.server.stop();
    }

    fn call(&self, method: &str, control: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}/api/rcpush/testing/{control}", self.server.url);
        let request = self.agent.request(method, &url);
        let response = match body {
            Some(body) => request
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
            None => request.call(),
        }
        .with_context(|| format!("{method} {url}"))?;
        let text = response.into_string()?;
        serde_json::from_str(&text).with_context(|| format!("{method} {url} answered {text}"))
    }

    fn pushes_from(mut answer: Value) -> anyhow::Result<Vec<Value>> {
        match answer["pushes"].take() {
            Value::Array(pushes) => Ok(pushes),
            other => anyhow::bail!("no list of pushes: {other}"),
        }
    }

    fn now_from(answer: Value) -> anyhow::Result<String> {
        answer["now"]
            .as_str()
            .map(str::to_string)
            .context("no time in the answer")
    }
}
