//! Direct mode's two providers behind one handle: FCM for Android devices, APNs for the
//! others. The `direct-push` feature (default) brings it; a build without it (the edge build)
//! has `direct_push_absent.rs` instead, which drops each push saying why.

use std::time::Duration;

use secrecy::ExposeSecret;

use super::fcm::rules::{message_body, ServiceAccount};
use super::{apns, direct, fcm, Attempt};
use crate::config::PushConfig;
use crate::model::time::now_millis;
use crate::settings::Snapshot;
use crate::store::PendingPush;

/// The FCM side of `direct::attempt`.
const FCM: direct::Provider = direct::Provider {
    transport: "fcm",
    check: "Push_google_api_credentials",
};

/// The APNs side of `direct::attempt`.
const APNS: direct::Provider = direct::Provider {
    transport: "apns",
    check: "the Push_apn_* settings and the app's bundle id (the token's appName)",
};

pub struct DirectPush {
    fcm: fcm::Fcm,
    apns: apns::Apns,
}

impl DirectPush {
    pub fn new(agent: &ureq::Agent, config: &PushConfig) -> anyhow::Result<DirectPush> {
        Ok(DirectPush {
            fcm: fcm::Fcm::new(agent.clone(), &config.fcm_url),
            apns: apns::Apns::new(&config.apns_url, Duration::from_millis(config.timeout_ms)),
        })
    }

    /// The age of the cached FCM access token, if there is one.
    pub fn fcm_token_age(&self) -> Option<Duration> {
        self.fcm.token_age()
    }

    /// One attempt of `push` by the provider its service names (`gcm`: FCM).
    pub fn attempt(&self, settings: &Snapshot, push: PendingPush, delays: &[u64]) -> Attempt {
        match push.service.as_str() {
            "gcm" => self.fcm_attempt(settings, push, delays),
            _ => self.apns_attempt(settings, push, delays),
        }
    }

    /// One FCM HTTP v1 request (§3.4 through the outbox).
    fn fcm_attempt(&self, settings: &Snapshot, push: PendingPush, delays: &[u64]) -> Attempt {
        let credentials = settings.push_google_api_credentials.expose_secret();
        let account = match ServiceAccount::parse(credentials) {
            Ok(account) => account,
            Err(e) => {
                tracing::error!(push = %push.id, error = %e, "cannot send to FCM");
                return Attempt::dropped(push, FCM.transport, e.to_string());
            }
        };
        let Some(message) = message_body(&push.body, &push.token) else {
            tracing::error!(push = %push.id, "queued push body unreadable");
            return Attempt::dropped(push, FCM.transport, "queued push body unreadable");
        };
        let sent = self.fcm.send(&account, &message);
        direct::attempt(FCM, push, sent, delays)
    }

    /// One APNs request (§4 through the outbox, answers as `apns::rules::outcome` says).
    fn apns_attempt(&self, settings: &Snapshot, push: PendingPush, delays: &[u64]) -> Attempt {
        // Rocket.Chat skips iOS devices when APNs has no credentials.
        let Some(credentials) = apns::Credentials::of(settings) else {
            tracing::debug!(push = %push.id, "APNs is not configured: iOS push skipped");
            return Attempt::dropped(push, APNS.transport, "APNs not configured");
        };
        let Some(request) = apns::rules::request(&push.body, now_millis() / 1000) else {
            tracing::error!(push = %push.id, "queued push body unreadable");
            return Attempt::dropped(push, APNS.transport, "queued push body unreadable");
        };
        let sent = self.apns.send(
            &credentials,
            settings.push_production,
            &push.token,
            &request,
        );
        direct::attempt(APNS, push, sent, delays)
    }
}
