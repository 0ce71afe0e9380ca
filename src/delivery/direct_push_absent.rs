//! Stands in for `direct_push.rs` in a build without the `direct-push` feature (the edge
//! build, README "Build"): pushes go through the gateway only. Where the settings choose
//! direct mode, each push is dropped with an error that says why, and the delivery log keeps
//! that reason; the server itself runs on.

use std::time::Duration;

use super::Attempt;
use crate::config::PushConfig;
use crate::settings::Snapshot;
use crate::store::PendingPush;

const MISSING: &str = "direct push (FCM, APNs) is not in this build (cargo feature \
     `direct-push`, left out of the edge build): turn Push_enable_gateway on, or use a build \
     with default features";

pub struct DirectPush;

impl DirectPush {
    pub fn new(_agent: &ureq::Agent, _config: &PushConfig) -> anyhow::Result<DirectPush> {
        Ok(DirectPush)
    }

    /// Never a token: there is no FCM client.
    pub fn fcm_token_age(&self) -> Option<Duration> {
        None
    }

    pub fn attempt(&self, _settings: &Snapshot, push: PendingPush, _delays: &[u64]) -> Attempt {
        tracing::error!(push = %push.id, "{MISSING}");
        let transport = match push.service.as_str() {
            "gcm" => "fcm",
            _ => "apns",
        };
        Attempt::dropped(push, transport, MISSING)
    }
}
