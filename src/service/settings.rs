//! Reading and changing Rocket.Chat settings (admin), and what `/api/info` tells.

use serde_json::Value;

use super::auth::Caller;
use super::Services;
use crate::error::{ApiError, ApiResult};

/// The Rocket.Chat release whose REST behaviour rcpush reproduces.
pub const COMPATIBLE_VERSION: &str = "7.10.0";

impl Services {
    /// `GET settings/:_id` → the setting's value; unknown ids are a bare failure.
    pub fn setting(&self, caller: &Caller, id: &str) -> ApiResult<Value> {
        self.require(caller, "view-privileged-setting")?;
        let doc = self.settings.get(id).ok_or(ApiError::SettingNotFound)?;
        Ok(doc.get("value").cloned().unwrap_or(Value::Null))
    }

    /// `POST settings/:_id`: the new value must keep the setting's JSON type.
    pub async fn change_setting(
        &self,
        caller: &Caller,
        id: String,
        value: Option<Value>,
    ) -> ApiResult<()> {
        self.require(caller, "edit-privileged-setting")?;
        let current = self.settings.get(&id).ok_or(ApiError::SettingNotFound)?;
        let value = value.ok_or(ApiError::InvalidSettingValue)?;
        if !crate::settings::same_type(current.get("value"), &value) {
            return Err(ApiError::InvalidSettingValue);
        }
        let settings = self.settings.clone();
        self.write(move |_| settings.set(&id, value)).await??;
        Ok(())
    }

    /// `/api/info`: the full version for holders of `get-server-info`, else `major.minor`.
    pub fn version(&self, caller: Option<&Caller>) -> (bool, &'static str) {
        if self.caller_may(caller, "get-server-info") {
            return (true, COMPATIBLE_VERSION);
        }
        let short = COMPATIBLE_VERSION
            .rsplit_once('.')
            .map_or(COMPATIBLE_VERSION, |(a, _)| a);
        (false, short)
    }

    fn require(&self, caller: &Caller, permission: &str) -> ApiResult<()> {
        match self.has_permission(permission, &caller.identity.roles()) {
            true => Ok(()),
            false => Err(ApiError::PermissionDenied),
        }
    }
}
