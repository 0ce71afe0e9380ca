//! `spawn_app!`: the real server on a free port with a temporary database of the binary's
//! backend, reached through the shared client (`support::client`).

use std::path::PathBuf;

use rcpush::config::{Backend, Config};
use rcpush::startup::{spawn, RunningServer};
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "admin-test-password";

/// The demo users of `data/seed.json` and their login tokens.
pub use crate::support::{ALICE, BOB, GINA, RODRIQ};

pub use crate::support::client::{Client, Resp};

/// A running server of the test, and a client of it (`Deref`: `app.get(…)`, `app.login(…)`).
pub struct TestApp {
    pub url: String,
    client: Client,
    data_dir: PathBuf,
    config: Config,
    server: Option<RunningServer>,
    _dir: tempfile::TempDir,
}

/// `spawn_app!()`: the committed `config.toml` with the demo seed, on a free port and a
/// temporary database of this test binary's backend (`crate::BACKEND`): a directory for sled,
/// a new database of the test cluster for PostgreSQL.
///
/// Where the backend is missing (no PostgreSQL), the macro *returns from the calling test*,
/// which passes having said so, or fails where the run requires PostgreSQL
/// (`support::require`): a test cannot skip otherwise, and ending the process would stop
/// every other test.
macro_rules! spawn_app {
    () => {
        $crate::helpers::spawn_app_with!(|_| {})
    };
}

/// `spawn_app!()` with `adjust` applied to the configuration first.
macro_rules! spawn_app_with {
    ($adjust:expr) => {
        match $crate::helpers::try_spawn_app_with($adjust) {
            Some(app) => app,
            None => return,
        }
    };
}

pub(crate) use {spawn_app, spawn_app_with};

/// What `spawn_app_with!` runs; `None` where the backend is missing.
pub fn try_spawn_app_with(adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = Config::load(Some(&root.join("config.toml")), Vec::new()).expect("config");
    let dir = tempfile::tempdir().expect("tempdir");
    config.server.bind = "127.0.0.1:0".into();
    config.storage.path = dir.path().join("db");
    if crate::BACKEND == Backend::Postgres {
        config.storage.backend = Backend::Postgres;
        config.storage.url = crate::support::postgres::database_or_skip()?.into();
    }
    config.seed.file = root.join("data/seed.json").display().to_string();
    config.admin.password = ADMIN_PASSWORD.into();
    // Pushes go to a closed loopback port unless a test starts a fake gateway.
    config.settings.insert(
        "Push_gateway".into(),
        serde_json::json!("http://127.0.0.1:9"),
    );
    if std::env::var_os("TEST_LOG").is_some() {
        rcpush::telemetry::init("debug");
    }
    adjust(&mut config);
    let data_dir = config.storage.path.clone();
    let server = spawn(config.clone()).expect("server starts");
    Some(TestApp {
        url: server.url.clone(),
        client: Client::new(&server.url),
        data_dir,
        config,
        server: Some(server),
        _dir: dir,
    })
}

/// Tries `open` again while it fails because the database is locked: a stopped server's
/// worker threads let go of sled's lock a moment after it stops.
fn while_locked<T, E: std::fmt::Display>(mut open: impl FnMut() -> Result<T, E>, what: &str) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match open() {
            Ok(opened) => return opened,
            Err(e)
                if format!("{e:#}").contains("locked") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("{what}: {e:#}"),
        }
    }
}

impl std::ops::Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl TestApp {
    pub fn admin(&self) -> (String, String) {
        self.login("admin", ADMIN_PASSWORD)
    }

    /// `POST /api/v1/settings/:id` as the admin, which must succeed.
    pub fn set_setting(&self, id: &str, value: Value) {
        let admin = self.admin();
        let r = self.post(
            &format!("/api/v1/settings/{id}"),
            auth(&admin),
            &serde_json::json!({ "value": value }),
        );
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"success":true}"#), "{id}");
    }

    /// Stops the server, keeping the data directory (for restart and file checks).
    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
    }

    /// Stops the server and starts it again on the same data, with `adjust` applied.
    pub fn restart(&mut self, adjust: impl FnOnce(&mut Config)) {
        self.stop();
        adjust(&mut self.config);
        let server = while_locked(|| spawn(self.config.clone()), "server restarts");
        self.url = server.url.clone();
        self.client = Client::new(&server.url);
        self.server = Some(server);
    }

    /// The server's database, opened directly (on sled, stop the server first).
    pub fn open_store(&self) -> rcpush::store::Store {
        while_locked(
            || rcpush::startup::open_store(&self.config.storage),
            "the database opens",
        )
    }

    /// Every file of the database with its bytes: sled's files, or PostgreSQL's dump of the
    /// database (where `bytea` is hex, so look for both forms).
    pub fn stored_bytes(&self) -> Vec<(String, Vec<u8>)> {
        if self.config.storage.backend == Backend::Postgres {
            let cluster = crate::support::postgres::cluster().expect("the test cluster");
            let url = secrecy::ExposeSecret::expose_secret(&self.config.storage.url);
            return vec![("pg_dump".into(), cluster.dump(url))];
        }
        walk(&self.data_dir)
            .into_iter()
            .map(|p| {
                (
                    p.display().to_string(),
                    std::fs::read(&p).expect("readable"),
                )
            })
            .collect()
    }
}

/// Writes the demo bundle, changed by `edit`, into `dir`; returns its path for `seed.file`.
pub fn custom_seed(dir: &std::path::Path, edit: impl FnOnce(&mut Value)) -> String {
    let mut bundle: Value = serde_json::from_str(include_str!("../../data/seed.json")).unwrap();
    edit(&mut bundle);
    let path = dir.join("bundle.json");
    std::fs::write(&path, bundle.to_string()).unwrap();
    path.display().to_string()
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("a directory") {
        let p = e.expect("an entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The key orders of the documents the server answers with, as Rocket.Chat writes them: one
/// list per document, shared by the tests that check it.
pub mod key_order {
    /// A subscription `addUserToRoom` writes (`subscriptions.getOne`); a room without a
    /// display name has no `fname` (see `without`).
    pub const SUBSCRIPTION: &[&str] = &[
        "_id",
        "open",
        "alert",
        "unread",
        "userMentions",
        "groupMentions",
        "ts",
        "rid",
        "name",
        "fname",
        "t",
        "u",
        "_updatedAt",
    ];

    /// `order` less `key`.
    pub fn without<'a>(order: &[&'a str], key: &str) -> Vec<&'a str> {
        order.iter().copied().filter(|k| *k != key).collect()
    }
}

/// The keys of a JSON object, in order.
pub fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// `(a, b)` as the pair `get`/`post` take.
pub fn auth(pair: &(String, String)) -> Option<(&str, &str)> {
    Some((pair.0.as_str(), pair.1.as_str()))
}
