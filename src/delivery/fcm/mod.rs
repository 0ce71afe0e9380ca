//! The FCM HTTP v1 client of direct mode (direct-push spec §3): an OAuth2 access token from
//! the service account's JWT grant, cached until shortly before it expires (Rocket.Chat
//! mints one per device and push), then one `messages:send` per device.

pub mod rules;

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::direct::rules::Outcome;
use super::direct::Sent;
use super::reachability::{host, ureq_failure, Reachability};
use crate::model::time::now_millis;
use rules::{GrantClaims, ServiceAccount};

/// A token is not used in its last minute (§8.1).
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

pub struct Fcm {
    agent: ureq::Agent,
    base_url: String,
    token: Mutex<Option<CachedToken>>,
    /// FCM's and the token endpoint's hosts.
    reachability: Reachability,
}

/// An access token, for the account (email, key id, token URL) that was granted it.
struct CachedToken {
    account: (String, String, String),
    access_token: SecretString,
    granted: Instant,
    until: Instant,
}

#[derive(Deserialize)]
struct Grant {
    access_token: SecretString,
    #[serde(default = "default_expires_in")]
    expires_in: u64,
}

fn default_expires_in() -> u64 {
    3600
}

impl Fcm {
    pub fn new(agent: ureq::Agent, base_url: &str) -> Fcm {
        Fcm {
            agent,
            base_url: base_url.trim_end_matches('/').to_string(),
            token: Mutex::new(None),
            reachability: Reachability::new("fcm"),
        }
    }

    /// Posts `message` (a §3.3 body) for `account`'s project.
    pub fn send(&self, account: &ServiceAccount, message: &str) -> Sent {
        let token = match self.access_token(account) {
            Ok(t) => t,
            Err(failed) => return failed,
        };
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.base_url, account.project_id
        );
        let answer = self
            .agent
            .post(&url)
            .set("Content-Type", "application/json")
            .set(
                "Authorization",
                &format!("Bearer {}", token.expose_secret()),
            )
            .send_string(message);
        let (status, retry_after, body) = match answer {
            Ok(r) => (Some(r.status()), None, String::new()),
            Err(ureq::Error::Status(code, r)) => {
                let retry_after = r.header("Retry-After").map(str::to_string);
                (Some(code), retry_after, r.into_string().unwrap_or_default())
            }
            Err(ureq::Error::Transport(e)) => {
                let reason = ureq_failure(&self.reachability, &url, &e);
                return Sent::failed(Outcome::Retry, None, reason);
            }
        };
        self.reachability.answered(&url);
        let outcome = rules::outcome(status, retry_after.as_deref(), &body);
        if status == Some(401) {
            // Revoked or otherwise refused: the next push asks for a new one.
            *self.token.lock() = None;
        }
        Sent {
            reason: (outcome != Outcome::Delivered)
                .then(|| rules::error_code(&body).unwrap_or_else(|| format!("HTTP {status:?}"))),
            outcome,
            status,
        }
    }

    /// How long ago the cached access token was granted, while it is still in use (the
    /// admin page's health section; the token itself never leaves this file).
    pub fn token_age(&self) -> Option<Duration> {
        let cached = self.token.lock();
        let token = cached.as_ref().filter(|c| Instant::now() < c.until)?;
        Some(token.granted.elapsed())
    }

    /// The cached token for `account`, or a new one from its JWT grant. The cache stays
    /// locked during a grant: workers that need a token meanwhile wait for that one rather
    /// than each asking for their own.
    fn access_token(&self, account: &ServiceAccount) -> Result<SecretString, Sent> {
        let key = (
            account.client_email.clone(),
            account.private_key_id.clone(),
            account.token_uri().to_string(),
        );
        let mut cached = self.token.lock();
        if let Some(c) = &*cached {
            if c.account == key && Instant::now() < c.until {
                return Ok(c.access_token.clone());
            }
        }
        let grant = self.grant(account)?;
        let lifetime = Duration::from_secs(grant.expires_in).saturating_sub(EXPIRY_MARGIN);
        let granted = Instant::now();
        *cached = Some(CachedToken {
            account: key,
            access_token: grant.access_token.clone(),
            granted,
            until: granted + lifetime,
        });
        Ok(grant.access_token)
    }

    /// §3.1: an RS256 assertion posted to the token URL. A key that cannot sign, or a grant
    /// refused, is a configuration error; no answer or a 5xx is worth a retry.
    fn grant(&self, account: &ServiceAccount) -> Result<Grant, Sent> {
        let config_error = |reason: &str| Sent::failed(Outcome::ConfigError, None, reason);
        let key = EncodingKey::from_rsa_pem(account.private_key.expose_secret().as_bytes())
            .map_err(|_| config_error("private_key is not an RSA key in PEM"))?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(account.private_key_id.clone());
        let claims = GrantClaims::new(account, now_millis() / 1000);
        let assertion = jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|_| config_error("cannot sign the grant"))?;
        let token_uri = account.token_uri();
        let answer = match self.agent.post(token_uri).send_form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &assertion),
        ]) {
            Ok(r) => Ok(r),
            Err(ureq::Error::Status(code, r)) => Err((code, r)),
            Err(ureq::Error::Transport(e)) => {
                let reason = ureq_failure(&self.reachability, token_uri, &e);
                return Err(Sent::failed(Outcome::Retry, None, reason));
            }
        };
        self.reachability.answered(token_uri);
        match answer {
            Ok(r) => read_json::<Grant>(r)
                .map_err(|_| config_error("the token endpoint's answer has no access_token")),
            Err((code @ 500..=599, _)) => Err(Sent::failed(
                Outcome::Retry,
                Some(code),
                format!("token endpoint {} unavailable", host(token_uri)),
            )),
            Err((code, r)) => {
                // OAuth's `error` (`invalid_grant`…) names the cause without secrets.
                let error = read_json::<serde_json::Value>(r)
                    .ok()
                    .and_then(|v| v.get("error")?.as_str().map(str::to_string))
                    .unwrap_or_default();
                Err(Sent::failed(
                    Outcome::ConfigError,
                    Some(code),
                    format!("token grant refused: {error}"),
                ))
            }
        }
    }
}

/// ureq is built without its `json` feature.
fn read_json<T: serde::de::DeserializeOwned>(r: ureq::Response) -> anyhow::Result<T> {
    Ok(serde_json::from_str(&r.into_string()?)?)
}
