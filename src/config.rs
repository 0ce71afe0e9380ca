//! Configuration: built-in defaults, then `config.toml`, then `RCPUSH_<SECTION>_<KEY>` variables.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use indexmap::IndexMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::rules::access::{Permissions, ROLES};

/// The nesting limit of JSON bodies when none is configured.
pub const DEFAULT_MAX_JSON_DEPTH: usize = 64;

/// The time limit of reading a request body when none is configured.
pub const DEFAULT_BODY_TIMEOUT_MS: u64 = 5_000;

/// The whole configuration, one struct per `config.toml` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub admin: AdminConfig,
    pub seed: SeedConfig,
    /// Initial values of Rocket.Chat settings, by setting id (spec §2.3).
    pub settings: InitialSettings,
    /// Permission id → roles, replacing the default row (spec §1.4).
    pub permissions: IndexMap<String, Vec<String>>,
    pub limits: LimitsConfig,
    pub push: PushConfig,
    pub metrics: MetricsConfig,
    pub realtime: RealtimeConfig,
    pub log: LogConfig,
    pub testing: TestingConfig,
}

/// Setting id → value; its `Debug` hides the values of secret settings (APNs keys, the
/// FCM service account), so that printing the configuration never shows them.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct InitialSettings(pub IndexMap<String, serde_json::Value>);

impl std::ops::Deref for InitialSettings {
    type Target = IndexMap<String, serde_json::Value>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for InitialSettings {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl std::fmt::Debug for InitialSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .map(|(id, v)| (id, crate::settings::shown_value(id, v.clone()))),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: String,
    pub site_url: String,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub backend: Backend,
    /// The sled database's directory.
    pub path: PathBuf,
    /// Memory for cached data, in MiB: half for push.get's prepared messages, half
    /// for sled's page cache (sled only).
    pub cache_mb: u64,
    /// PostgreSQL: `postgres://user:password@host:port/database` (or a key=value string);
    /// may hold a password, so `Debug` shows `[REDACTED]`.
    pub url: SecretString,
    /// PostgreSQL: connections this process keeps open at most.
    pub pool_size: usize,
    /// PostgreSQL: how long the change feed's journal keeps an event, in seconds, and how
    /// many of the newest it keeps at most (an instance away longer resyncs its sockets).
    pub change_retention_secs: u64,
    pub change_retention_rows: u64,
    /// A throwaway sled database (`--ephemeral`, `TestServer`): removed at exit, so its
    /// writes are not synced to disk (`Store::open_temporary`). Never from a file.
    #[serde(skip)]
    pub temporary: bool,
}

impl StorageConfig {
    /// sled's share of `cache_mb`.
    pub fn sled_cache_mb(&self) -> u64 {
        self.cache_mb - self.cache_mb / 2
    }

    /// What the PostgreSQL change journal keeps.
    pub fn change_retention(&self) -> crate::store::Retention {
        crate::store::Retention {
            age: std::time::Duration::from_secs(self.change_retention_secs),
            rows: self.change_retention_rows,
        }
    }

    /// push.get's share of `cache_mb`, in bytes.
    pub fn prepared_cache_bytes(&self) -> u64 {
        (self.cache_mb / 2).saturating_mul(1024 * 1024)
    }
}

/// Where the data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded, in `path`: one process, no server.
    Sled,
    /// A PostgreSQL database at `url`, which several rcpush processes may share.
    Postgres,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    pub username: String,
    pub email: String,
    /// Empty: a strong password is generated and printed once, at creation. `Debug` shows
    /// `[REDACTED]`; zeroed when dropped.
    pub password: SecretString,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeedConfig {
    /// Bundle loaded into an empty database on first start; empty disables.
    pub file: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub login_failures_per_user: u32,
    pub login_failures_per_ip: u32,
    pub login_block_seconds: u64,
    /// Password hashes computed at once; each argon2id hash holds 19 MiB.
    pub concurrent_password_hashes: usize,
    pub max_body_bytes: usize,
    /// Deepest nesting of arrays and objects accepted in a JSON body.
    pub max_json_depth: usize,
    /// Time a client has to send a request's head, and then again its whole body; a
    /// stalled body gets a 408, a stalled head a closed connection.
    pub body_timeout_ms: u64,
}

/// Delivery to the push gateway, or directly to FCM and APNs when the gateway is off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// Gateway requests in flight at once.
    pub concurrency: usize,
    /// Time limit of one gateway request.
    pub timeout_ms: u64,
    /// Waits before each retry; Rocket.Chat's are 1, 2, 4, 8 and 16 minutes.
    pub retry_delays_ms: Vec<u64>,
    /// Sent as the `Authorization` header of gateway requests when not empty.
    pub gateway_authorization: SecretString,
    /// FCM HTTP v1's base URL (direct mode); tests point it at a local fake.
    pub fcm_url: String,
    /// APNs' base URL (direct mode). Empty: Apple's production or sandbox host, as
    /// `Push_production` says. An `http://` URL is HTTP/2 without TLS, for local fakes.
    pub apns_url: String,
    /// Waits before each retry of a direct push (FCM or APNs) after a 5xx or a network
    /// error; Rocket.Chat's FCM ones are 10, 20, 40, 80 and 160 s (it never retries APNs).
    /// Their count is also the most retries after a 429. Its first name,
    /// `fcm_retry_delays_ms`, is still read.
    #[serde(alias = "fcm_retry_delays_ms")]
    pub direct_retry_delays_ms: Vec<u64>,
    /// The delivery log keeps at most this many attempts, none older than `log_max_age_ms`.
    pub log_max_records: usize,
    pub log_max_age_ms: u64,
}

/// `GET /metrics`: off unless enabled, as ntfy, Synapse and Gitea have it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// When not empty, scrapers must send `Authorization: Bearer <token>`.
    pub token: SecretString,
}

/// The realtime API (`/websocket`, README "Realtime").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealtimeConfig {
    /// Frames queued for one connection at most; a client that stops reading for that long
    /// is disconnected (and counted in `/metrics`) instead of being buffered without bound.
    pub queue_frames: usize,
    /// The server's heartbeat (DDP `1`/`pre2`): a client silent for one interval is pinged
    /// and closed if still silent one interval later (spec §2.4: 15 s).
    pub heartbeat_ms: u64,
    /// The largest message a client may send, in bytes; a larger one closes the socket with
    /// 1009 (Rocket.Chat: 67 108 863).
    pub max_frame_bytes: usize,
    /// Rocket.Chat's DDP rate limits (spec §2.8), on by default as in Rocket.Chat.
    pub rate_limit: bool,
}

/// Testing mode: rcpush as a test double (README, "Testing mode"). Never on a server that
/// faces a network: its controls need no login.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TestingConfig {
    /// On with `--ephemeral`; this key turns it on for a persistent database.
    pub enabled: bool,
    /// `--deterministic SEED`: ids, login tokens and the clock's start follow from it, so
    /// that two runs sending the same requests get the same answers, byte for byte.
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `rcpush=debug`.
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            storage: StorageConfig::default(),
            admin: AdminConfig::default(),
            seed: SeedConfig::default(),
            settings: InitialSettings::default(),
            permissions: IndexMap::new(),
            limits: LimitsConfig::default(),
            push: PushConfig::default(),
            metrics: MetricsConfig::default(),
            realtime: RealtimeConfig::default(),
            log: LogConfig::default(),
            testing: TestingConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:3000".into(),
            site_url: "http://localhost:3000".into(),
            workers: 0,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: Backend::Sled,
            path: "data/db".into(),
            cache_mb: 32,
            url: SecretString::default(),
            pool_size: 16,
            change_retention_secs: 3600,
            change_retention_rows: 100_000,
            temporary: false,
        }
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            username: "admin".into(),
            email: "admin@localhost".into(),
            password: SecretString::default(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            login_failures_per_user: 10,
            login_failures_per_ip: 50,
            login_block_seconds: 300,
            concurrent_password_hashes: 2,
            max_body_bytes: 1 << 20,
            max_json_depth: DEFAULT_MAX_JSON_DEPTH,
            body_timeout_ms: DEFAULT_BODY_TIMEOUT_MS,
        }
    }
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            concurrency: 4,
            timeout_ms: 15_000,
            retry_delays_ms: vec![60_000, 120_000, 240_000, 480_000, 960_000],
            gateway_authorization: SecretString::default(),
            fcm_url: "https://fcm.googleapis.com".into(),
            apns_url: String::new(),
            direct_retry_delays_ms: vec![10_000, 20_000, 40_000, 80_000, 160_000],
            log_max_records: 100_000,
            log_max_age_ms: 7 * 24 * 3_600_000,
        }
    }
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        RealtimeConfig {
            queue_frames: 1024,
            heartbeat_ms: 15_000,
            max_frame_bytes: 0x3ff_ffff,
            rate_limit: true,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

/// Sections whose keys can be overridden from the environment.
const SECTIONS: [&str; 12] = [
    "server",
    "storage",
    "admin",
    "seed",
    "settings",
    "permissions",
    "limits",
    "push",
    "metrics",
    "realtime",
    "log",
    "testing",
];

impl Config {
    /// Reads `path` (if given, it must exist) and applies `RCPUSH_*` overrides from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Config> {
        let table = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read config file {}", p.display()))?;
                text.parse::<toml::Table>()
                    .with_context(|| format!("invalid config file {}", p.display()))?
            }
            None => toml::Table::new(),
        };
        Self::from_table(table, env)
    }

    /// The configuration a `config.toml` text gives, with `RCPUSH_*` overrides from `env`
    /// (the loader without the file; the fuzz target drives it).
    pub fn parse(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Config> {
        Self::from_table(text.parse::<toml::Table>()?, env)
    }

    fn from_table(
        mut table: toml::Table,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Config> {
        for (name, value) in env {
            // `RUST_LOG` replaces `log.level` (telemetry.rs): a typo there silences the log
            // just the same.
            if name == "RUST_LOG" {
                check_log_filter(&value).map_err(|e| anyhow::anyhow!("invalid RUST_LOG: {e}"))?;
            }
            apply_env(&mut table, &name, &value)?;
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// Testing mode's conditions, checked when a server is built (after the command line had
    /// its say: `--ephemeral` turns testing mode on).
    pub fn check_testing(&self) -> anyhow::Result<()> {
        let t = &self.testing;
        if t.seed.is_some() && !t.enabled {
            bail!("--deterministic (testing.seed) needs testing mode: add --ephemeral, or set testing.enabled = true");
        }
        if t.enabled && self.storage.backend == Backend::Postgres {
            bail!("testing mode works on sled only (its reset restores an in-memory copy of the database): use storage.backend = \"sled\"");
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.storage.cache_mb == 0 {
            bail!("invalid configuration: storage.cache_mb must be at least 1");
        }
        if self.storage.backend == Backend::Postgres {
            if self.storage.url.expose_secret().is_empty() {
                bail!("invalid configuration: storage.url must be set when storage.backend is \"postgres\"");
            }
            if self.storage.pool_size == 0 {
                bail!("invalid configuration: storage.pool_size must be at least 1");
            }
        }
        if !(self.server.site_url.starts_with("http://")
            || self.server.site_url.starts_with("https://"))
        {
            bail!("invalid configuration: server.site_url must start with http:// or https://");
        }
        if let Some(id) = self
            .settings
            .keys()
            .find(|id| !crate::settings::is_known(id))
        {
            bail!("invalid configuration: unknown setting [settings] {id}");
        }
        for (id, value) in self.settings.iter() {
            if let Err(expected) = crate::settings::check_initial(id, value) {
                bail!("invalid configuration: setting [settings] {id} must be of type {expected}");
            }
        }
        for (id, roles) in &self.permissions {
            if !Permissions::default().contains(id) {
                bail!("invalid configuration: unknown permission [permissions] {id}");
            }
            if let Some(role) = roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
                bail!("invalid configuration: unknown role {role:?} in [permissions] {id}");
            }
        }
        if let Err(e) = check_log_filter(&self.log.level) {
            bail!("invalid configuration: log.level: {e}");
        }
        if self.push.concurrency == 0 {
            bail!("invalid configuration: push.concurrency must be at least 1");
        }
        if self.limits.max_json_depth == 0 {
            bail!("invalid configuration: limits.max_json_depth must be at least 1");
        }
        if self.limits.body_timeout_ms == 0 {
            bail!("invalid configuration: limits.body_timeout_ms must be at least 1");
        }
        if self.limits.concurrent_password_hashes == 0 {
            bail!("invalid configuration: limits.concurrent_password_hashes must be at least 1");
        }
        let realtime = &self.realtime;
        if realtime.queue_frames == 0 || realtime.heartbeat_ms == 0 || realtime.max_frame_bytes == 0
        {
            bail!("invalid configuration: realtime.queue_frames, realtime.heartbeat_ms and realtime.max_frame_bytes must be at least 1");
        }
        Ok(())
    }
}

/// Refuses a log filter that would silence the log by mistake: a bare word that is not a
/// level (`tracing` reads it as a target, so `warning` shows only the events of a target
/// named `warning`: none), a `target=level` whose level is not one, or what `tracing` cannot
/// parse.
fn check_log_filter(filter: &str) -> Result<(), String> {
    let is_level = |word: &str| word.parse::<tracing::level_filters::LevelFilter>().is_ok();
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        // A span or field filter (`target[span{field=value}]`) may hold `=` of its own.
        let level = match directive.rsplit_once('=') {
            Some((_, level)) if !level.contains([']', '}']) => Some(level),
            Some(_) => None,
            None if directive.contains('[') => None,
            None => Some(directive),
        };
        if let Some(level) = level.filter(|l| !is_level(l)) {
            let known = "off, error, warn, info, debug, trace";
            return Err(match level == directive {
                true => format!(
                    "{level:?} is not a level ({known}; or TARGET=LEVEL, e.g. rcpush=debug)"
                ),
                false => format!("{directive:?}: {level:?} is not a level ({known})"),
            });
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|e| format!("{filter:?}: {e}"))
}

/// `RCPUSH_SERVER_BIND=…` sets `[server] bind`. Keys match case-insensitively, so
/// `RCPUSH_SETTINGS_PUSH_SHOW_MESSAGE` reaches `Push_show_message` when the file names it.
fn apply_env(table: &mut toml::Table, name: &str, value: &str) -> anyhow::Result<()> {
    let Some(rest) = name.strip_prefix("RCPUSH_") else {
        return Ok(());
    };
    if rest == "CONFIG" {
        return Ok(());
    }
    let lower = rest.to_ascii_lowercase();
    let Some(section) = SECTIONS
        .iter()
        .find(|s| lower.starts_with(&format!("{s}_")))
    else {
        bail!("unknown configuration variable {name}: no section matches");
    };
    let key = &rest[section.len() + 1..];
    let entry = table
        .entry(section.to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(section_table) = entry else {
        bail!("invalid config file: [{section}] is not a table");
    };
    let existing = section_table
        .keys()
        .find(|k| k.eq_ignore_ascii_case(key))
        .cloned();
    let key = existing.unwrap_or_else(|| {
        if matches!(*section, "settings" | "permissions") {
            key.to_string()
        } else {
            key.to_ascii_lowercase()
        }
    });
    section_table.insert(key, parse_env_value(value));
    Ok(())
}

/// A TOML literal when the value is one (`true`, `8`, `["admin"]`), a string otherwise.
fn parse_env_value(value: &str) -> toml::Value {
    format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_overrides_every_section() {
        let c = Config::load(
            None,
            env(&[
                ("RCPUSH_SERVER_BIND", "0.0.0.0:9"),
                ("RCPUSH_STORAGE_CACHE_MB", "16"),
                ("RCPUSH_ADMIN_PASSWORD", "s3cret"),
                ("RCPUSH_SETTINGS_Push_show_message", "false"),
                ("RCPUSH_SERVER_SITE_URL", "https://chat.example"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(c.server.bind, "0.0.0.0:9");
        assert_eq!(c.server.site_url, "https://chat.example");
        assert_eq!(c.storage.cache_mb, 16);
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&c.admin.password),
            "s3cret"
        );
        assert_eq!(c.settings["Push_show_message"], serde_json::json!(false));
    }

    #[test]
    fn bad_values_are_reported_not_panicked() {
        assert!(Config::load(None, env(&[("RCPUSH_STORAGE_CACHE_MB", "lots")])).is_err());
        assert!(Config::load(None, env(&[("RCPUSH_NOPE_X", "1")])).is_err());
        assert!(Config::load(None, env(&[("RCPUSH_SERVER_NOPE", "1")])).is_err());
    }

    #[test]
    fn testing_mode_is_refused_on_postgres_and_a_seed_needs_it() {
        let c = Config::parse(
            "[storage]\nbackend = \"postgres\"\nurl = \"postgres://x/y\"\n[testing]\nenabled = true\n",
            Vec::new(),
        )
        .unwrap();
        let e = c.check_testing().unwrap_err();
        assert!(
            e.to_string().contains("testing mode works on sled only"),
            "{e}"
        );
        let c = Config::load(None, env(&[("RCPUSH_TESTING_SEED", "7")])).unwrap();
        let e = c.check_testing().unwrap_err();
        assert!(e.to_string().contains("needs testing mode"), "{e}");
        let c = Config::load(None, env(&[("RCPUSH_TESTING_ENABLED", "true")])).unwrap();
        assert!(c.check_testing().is_ok());
    }

    #[test]
    fn text_and_variables_combine() {
        let c = Config::parse(
            "[server]\nworkers = 3\n",
            env(&[("RCPUSH_LOG_LEVEL", "debug")]),
        );
        let c = c.unwrap();
        assert_eq!((c.server.workers, c.log.level.as_str()), (3, "debug"));
        assert!(Config::parse("[server\n", Vec::new()).is_err());
    }

    #[test]
    fn the_apns_url_and_the_first_name_of_the_direct_retry_delays() {
        let c = Config::default();
        assert_eq!(
            (
                c.push.apns_url.as_str(),
                c.push.direct_retry_delays_ms.len()
            ),
            ("", 5)
        );
        let c = Config::parse(
            "[push]\nfcm_retry_delays_ms = [1, 2]\n",
            env(&[("RCPUSH_PUSH_APNS_URL", "http://127.0.0.1:9")]),
        )
        .unwrap();
        assert_eq!(c.push.apns_url, "http://127.0.0.1:9");
        assert_eq!(c.push.direct_retry_delays_ms, [1, 2]);
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let c = Config::load(
            None,
            env(&[
                ("RCPUSH_ADMIN_PASSWORD", "hunter2"),
                ("RCPUSH_PUSH_GATEWAY_AUTHORIZATION", "Bearer gw-key-7"),
                ("RCPUSH_SETTINGS_Push_google_api_credentials", "fcm-key-8"),
                ("RCPUSH_SETTINGS_Push_apn_auth_key", "p8-key-9"),
            ]),
        )
        .unwrap();
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("hunter2")
                && !debug.contains("gw-key-7")
                && !debug.contains("fcm-key-8")
                && !debug.contains("p8-key-9"),
            "{debug}"
        );
        let exposed = secrecy::ExposeSecret::expose_secret(&c.push.gateway_authorization);
        assert_eq!(exposed, "Bearer gw-key-7");
    }

    #[test]
    fn a_mistyped_log_level_is_refused_in_the_file_and_in_rust_log() {
        for level in ["warning", "verbose", "rcpush=verbose", "info,sled=loud"] {
            let e = Config::load(None, env(&[("RCPUSH_LOG_LEVEL", level)])).unwrap_err();
            assert!(e.to_string().contains("log.level"), "{level}: {e}");
            assert!(e.to_string().contains("is not a level"), "{level}: {e}");
        }
        let e = Config::load(None, env(&[("RUST_LOG", "verbose")])).unwrap_err();
        assert!(e.to_string().starts_with("invalid RUST_LOG"), "{e}");
        for good in [
            "info",
            "WARN",
            "rcpush=debug,actix_web=warn",
            "rcpush::http=trace",
            "rcpush=3",
            "info,[request{route=/api/v1/push.get}]=debug",
        ] {
            let c = Config::load(None, env(&[("RCPUSH_LOG_LEVEL", good), ("RUST_LOG", good)]));
            assert!(c.is_ok(), "{good}: {:?}", c.err());
        }
    }

    proptest::proptest! {
        /// A bare word is refused unless it is one of tracing's levels, in any case.
        #[test]
        fn a_bare_word_passes_only_when_it_is_a_level(word in "[a-zA-Z]{1,9}") {
            let level = ["off", "error", "warn", "info", "debug", "trace"]
                .iter()
                .any(|l| l.eq_ignore_ascii_case(&word));
            proptest::prop_assert_eq!(check_log_filter(&word).is_ok(), level);
            let targeted = format!("rcpush={word}");
            proptest::prop_assert_eq!(check_log_filter(&targeted).is_ok(), level);
        }
    }

    #[test]
    fn unknown_permissions_and_roles_are_refused() {
        let e =
            Config::parse("[permissions]\nview-c-rooms = [\"user\"]\n", Vec::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: unknown permission [permissions] view-c-rooms"
        );
        let e = Config::load(
            None,
            env(&[("RCPUSH_PERMISSIONS_view-c-room", "[\"users\"]")]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: unknown role \"users\" in [permissions] view-c-room"
        );
        let c = Config::parse(
            "[permissions]\nview-c-room = [\"admin\", \"guest\"]\n",
            Vec::new(),
        )
        .unwrap();
        assert_eq!(c.permissions["view-c-room"], ["admin", "guest"]);
    }
}
