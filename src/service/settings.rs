//! Reading and changing Rocket.Chat settings (admin), and what `/api/info` tells.

use serde::Serialize;
use serde_json::Value;

use std::sync::Arc;

use super::auth::Caller;
use super::blocking::blocking_write;
use super::permits::Permits;
use crate::error::{ApiError, ApiResult};
use crate::model::SettingDoc;
use crate::settings::Settings;
use crate::store::PermissionsView;

/// The Rocket.Chat release whose REST behaviour rcpush reproduces.
pub const COMPATIBLE_VERSION: &str = "7.10.0";

/// The Apps-Engine version Rocket.Chat 7.10 reports as `marketplaceApiVersion`.
const MARKETPLACE_API_VERSION: &str = "1.55.0";

/// `GET /api/info`'s body, in `getServerInfo`'s key order (`version` first even when the
/// full version replaces the short one).
#[derive(Serialize)]
pub struct ServerInfo {
    version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    info: Option<Info>,
    #[serde(rename = "minimumClientVersions")]
    minimum_client_versions: MinimumClientVersions,
}

/// `rocketchat.info` as Rocket.Chat's build writes it: the version, then `build`,
/// `marketplaceApiVersion`, `commit`. rcpush fills what it knows of itself: when the server
/// started, the machine's architecture, platform and cores, and the release tag.
#[derive(Serialize)]
struct Info {
    version: &'static str,
    build: Build,
    #[serde(rename = "marketplaceApiVersion")]
    marketplace_api_version: &'static str,
    commit: Commit,
}

#[derive(Serialize)]
struct Build {
    date: String,
    arch: &'static str,
    platform: &'static str,
    cpus: usize,
}

#[derive(Serialize)]
struct Commit {
    tag: &'static str,
}

#[derive(Serialize)]
struct MinimumClientVersions {
    desktop: &'static str,
    mobile: &'static str,
}

/// Node's `process.arch` name for this machine.
fn node_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "x86" => "ia32",
        other => other,
    }
}

/// The settings and permissions area: the settings admins read and change, the permission
/// table, and `/api/info`.
#[derive(Clone)]
pub struct Configuration {
    pub(super) settings: Settings,
    pub(super) permits: Permits,
    /// Where `permissions.update` keeps its changes.
    pub(super) store: PermissionsView,
    pub(super) clock: crate::model::time::Clock,
    /// Serialises `permissions.update` calls (their store write and the table change).
    pub(super) permission_updates: Arc<tokio::sync::Mutex<()>>,
    /// When the server started (ISO date): `/api/info`'s build date.
    pub(super) started_at: String,
}

impl Configuration {
    /// `GET settings/:_id` → the setting's value, a secret one masked; unknown ids are a
    /// bare failure.
    pub fn setting(&self, caller: &Caller, id: &str) -> ApiResult<Value> {
        self.permits.require(caller, "view-privileged-setting")?;
        let doc = self.settings.get(id).ok_or(ApiError::SettingNotFound)?;
        let value = SettingDoc(&doc).value().cloned().unwrap_or(Value::Null);
        Ok(crate::settings::shown_value(id, value))
    }

    /// `POST settings/:_id`: the new value must keep the setting's JSON type.
    pub async fn change_setting(
        &self,
        caller: &Caller,
        id: String,
        value: Option<Value>,
    ) -> ApiResult<()> {
        self.permits.require(caller, "edit-privileged-setting")?;
        let current = self.settings.get(&id).ok_or(ApiError::SettingNotFound)?;
        let value = value.ok_or(ApiError::InvalidSettingValue)?;
        if !crate::settings::same_type(SettingDoc(&current).value(), &value) {
            return Err(ApiError::InvalidSettingValue);
        }
        // A client that read a secret and sends it back unchanged keeps the stored one.
        if crate::settings::SECRET_SETTINGS.contains(&id.as_str())
            && value == crate::settings::SECRET_MASK
        {
            return Ok(());
        }
        blocking_write(&self.settings, move |s| s.set(&id, value)).await?;
        Ok(())
    }

    /// `/api/info` (`getServerInfo`): `major.minor` and the minimum client versions; for
    /// holders of `get-server-info`, the full version and the build `info`.
    pub fn server_info(&self, caller: Option<&Caller>) -> ServerInfo {
        let full = self.permits.caller_may(caller, "get-server-info");
        let short = COMPATIBLE_VERSION
            .rsplit_once('.')
            .map_or(COMPATIBLE_VERSION, |(a, _)| a);
        ServerInfo {
            version: if full { COMPATIBLE_VERSION } else { short },
            info: full.then(|| Info {
                version: COMPATIBLE_VERSION,
                build: Build {
                    date: self.started_at.clone(),
                    arch: node_arch(),
                    platform: std::env::consts::OS,
                    cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
                },
                marketplace_api_version: MARKETPLACE_API_VERSION,
                commit: Commit {
                    tag: COMPATIBLE_VERSION,
                },
            }),
            minimum_client_versions: MinimumClientVersions {
                desktop: "3.9.6",
                mobile: "4.39.0",
            },
        }
    }
}
