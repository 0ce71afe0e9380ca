//! The APNs client of direct mode (direct-push spec §4): HTTP/2 through `reqwest`, one
//! client per credential set, authenticated by a provider token or a TLS client certificate.
//!
//! * **Token authentication** (rcpush's own, Apple's recommendation): `Push_apn_auth_key`
//!   (the `.p8` file's PEM text), `Push_apn_key_id` and `Push_apn_team_id` give an ES256
//!   JWT, sent as `authorization: bearer …` and reused for 50 minutes (Apple refuses one
//!   older than an hour and throttles one renewed more often than every 20 minutes). It is
//!   preferred to the certificate when the key is set.
//! * **Certificate authentication** (Rocket.Chat's): `Push_apn_cert` and `Push_apn_key` (or
//!   the `_dev_` pair when `Push_production` is off) as PEM text, the key unencrypted
//!   (PKCS#8, PKCS#1 RSA or SEC1 EC) or encrypted as PKCS#8 (`ENCRYPTED PRIVATE KEY`,
//!   PBES2: PBKDF2 or scrypt with AES-CBC, what `openssl pkcs8 -topk8` writes) with
//!   `Push_apn_passphrase`. Not supported, and a configuration error saying so: OpenSSL's
//!   legacy encrypted PEM (`Proc-Type: 4,ENCRYPTED`), PBES1 (DES/MD5) keys and `.p12`
//!   files.
//!
//! `a2` is not used: its URL cannot point at a test fake and its payload has no
//! `thread-id` (spec §8.2).

pub mod rules;

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use pkcs8::der::pem::LineEnding;
use pkcs8::{EncryptedPrivateKeyInfo, SecretDocument};
use reqwest::blocking::Client;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::direct::rules::Outcome;
use super::direct::Sent;
use super::reachability::{root_cause, Reachability};
use crate::model::time::now_millis;
use crate::settings::{ApnCredentials, ApnTokenCredentials, Snapshot};
use rules::{ProviderClaims, Request, EXPIRED_PROVIDER_TOKEN};

/// How long a provider token is used.
const TOKEN_LIFETIME: Duration = Duration::from_secs(50 * 60);

/// The credentials in force, as the settings give them.
pub enum Credentials<'a> {
    Token(&'a ApnTokenCredentials),
    Certificate(&'a ApnCredentials),
}

impl<'a> Credentials<'a> {
    /// Token authentication when its key is set, else the certificate `Push_production`
    /// picks; `None` when neither is set (Rocket.Chat then skips iOS devices).
    pub fn of(settings: &'a Snapshot) -> Option<Credentials<'a>> {
        if settings.push_apn_token.configured() {
            Some(Credentials::Token(&settings.push_apn_token))
        } else if settings.push_apn.configured() {
            Some(Credentials::Certificate(&settings.push_apn))
        } else {
            None
        }
    }

    /// A digest of every secret: a new one means a new client (and token). Only the
    /// digest is kept, never the secrets.
    fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        let parts: [&str; 4] = match self {
            Credentials::Token(t) => ["token", t.key.expose_secret(), &t.key_id, &t.team_id],
            Credentials::Certificate(c) => [
                "certificate",
                c.cert.expose_secret(),
                c.key.expose_secret(),
                c.passphrase.expose_secret(),
            ],
        };
        for part in parts {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.finalize().into()
    }
}

pub struct Apns {
    /// `[push] apns_url`; empty: the host `Push_production` picks.
    configured_url: String,
    timeout: Duration,
    client: Mutex<Option<([u8; 32], Client)>>,
    token: Mutex<Option<CachedToken>>,
    reachability: Reachability,
}

struct CachedToken {
    fingerprint: [u8; 32],
    jwt: SecretString,
    minted: Instant,
}

impl Apns {
    pub fn new(configured_url: &str, timeout: Duration) -> Apns {
        Apns {
            configured_url: configured_url.to_string(),
            timeout,
            client: Mutex::new(None),
            token: Mutex::new(None),
            reachability: Reachability::new("apns"),
        }
    }

    /// Posts `request` to `device_token` with `credentials`.
    pub fn send(
        &self,
        credentials: &Credentials,
        production: bool,
        device_token: &str,
        request: &Request,
    ) -> Sent {
        let config_error = |reason: String| Sent::failed(Outcome::ConfigError, None, reason);
        let fingerprint = credentials.fingerprint();
        let client = match self.client(credentials, fingerprint) {
            Ok(c) => c,
            Err(reason) => return config_error(reason),
        };
        let bearer = match credentials {
            Credentials::Token(t) => match self.provider_token(t, fingerprint) {
                Ok(jwt) => Some(jwt),
                Err(reason) => return config_error(reason.into()),
            },
            Credentials::Certificate(_) => None,
        };
        let base = rules::base_url(&self.configured_url, production);
        let mut post = client
            .post(format!("{base}{}", rules::device_path(device_token)))
            .body(request.payload.clone());
        for (name, value) in request.headers() {
            post = post.header(name, value);
        }
        if let Some(jwt) = bearer {
            post = post.header("authorization", format!("bearer {}", jwt.expose_secret()));
        }
        let answer = match post.send() {
            Ok(answer) => answer,
            // The error's own text holds the URL, and so the device token: only its kind
            // and its innermost cause.
            Err(e) => {
                let cause = root_cause(&e);
                let reason = self
                    .reachability
                    .no_answer(base, error_kind(&e), cause.as_deref());
                return Sent::failed(Outcome::Retry, None, reason);
            }
        };
        self.reachability.answered(base);
        let status = answer.status().as_u16();
        let retry_after = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = answer.text().unwrap_or_default();
        let outcome = rules::outcome(Some(status), retry_after.as_deref(), &body);
        let reason = rules::reason(&body);
        if reason.as_deref() == Some(EXPIRED_PROVIDER_TOKEN) {
            // The next push signs a new one.
            *self.token.lock() = None;
        }
        Sent {
            reason: (outcome != Outcome::Delivered)
                .then(|| reason.unwrap_or_else(|| format!("HTTP {status}"))),
            outcome,
            status: Some(status),
        }
    }

    /// The client for these credentials: the cached one, or a new one when they changed.
    /// Always HTTP/2, with TLS unless the configured URL is `http://` (h2c, for fakes).
    fn client(&self, credentials: &Credentials, fingerprint: [u8; 32]) -> Result<Client, String> {
        let mut cached = self.client.lock();
        if let Some((f, client)) = &*cached {
            if *f == fingerprint {
                return Ok(client.clone());
            }
        }
        let mut builder = Client::builder()
            .use_rustls_tls()
            .http2_prior_knowledge()
            .timeout(self.timeout);
        if let Credentials::Certificate(c) = credentials {
            let pem = identity_pem(
                c.cert.expose_secret(),
                c.key.expose_secret(),
                c.passphrase.expose_secret(),
            )?;
            let identity = reqwest::Identity::from_pem(pem.expose_secret().as_bytes())
                .map_err(|_| "Push_apn_cert holds no PEM certificate".to_string())?;
            builder = builder.identity(identity);
        }
        let client = builder
            .build()
            .map_err(|_| "Push_apn_cert and Push_apn_key do not make a TLS client identity")?;
        // The old client, if any, is dropped once its last request is answered.
        *cached = Some((fingerprint, client.clone()));
        Ok(client)
    }

    /// The cached provider token, or a new one. The cache stays locked while signing, so
    /// workers wait for one token rather than each signing their own.
    fn provider_token(
        &self,
        t: &ApnTokenCredentials,
        fingerprint: [u8; 32],
    ) -> Result<SecretString, &'static str> {
        if t.key_id.is_empty() || t.team_id.is_empty() {
            return Err("Push_apn_auth_key needs Push_apn_key_id and Push_apn_team_id");
        }
        let mut cached = self.token.lock();
        if let Some(c) = &*cached {
            if c.fingerprint == fingerprint && c.minted.elapsed() < TOKEN_LIFETIME {
                return Ok(c.jwt.clone());
            }
        }
        let key = EncodingKey::from_ec_pem(t.key.expose_secret().trim().as_bytes())
            .map_err(|_| "Push_apn_auth_key is not a P-256 key in PEM (the .p8 file's text)")?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(t.key_id.clone());
        let claims = ProviderClaims {
            iss: &t.team_id,
            iat: now_millis() / 1000,
        };
        let jwt = SecretString::from(
            jsonwebtoken::encode(&header, &claims, &key)
                .map_err(|_| "Push_apn_auth_key cannot sign a provider token")?,
        );
        *cached = Some(CachedToken {
            fingerprint,
            jwt: jwt.clone(),
            minted: Instant::now(),
        });
        Ok(jwt)
    }
}

/// What went wrong with a request that got no answer, without its URL.
fn error_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "no answer"
    }
}

/// The first PEM block of `text`: admins paste files with "Bag Attributes" and other lines
/// around it, as `openssl pkcs12` writes them.
fn first_pem_block(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")?;
    let end_label = start + text[start..].find("-----END ")?;
    let end = end_label + "-----END ".len() + text[end_label + 9..].find("-----")? + 5;
    Some(&text[start..end])
}

/// The PEM rustls takes as the client identity: the certificate (chain) and the private
/// key, decrypted with `passphrase` when it is an encrypted PKCS#8 key. A passphrase given
/// for a plain key is ignored, as Node's TLS does. No error quotes the secrets.
fn identity_pem(cert: &str, key: &str, passphrase: &str) -> Result<SecretString, String> {
    if key.contains("Proc-Type: 4,ENCRYPTED") {
        return Err("Push_apn_key is encrypted in OpenSSL's legacy PEM format, which rcpush does not read: convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc` (or remove its passphrase)".into());
    }
    let block = first_pem_block(key).ok_or("Push_apn_key holds no PEM private key")?;
    let (label, document) =
        SecretDocument::from_pem(block).map_err(|_| "Push_apn_key is not valid PEM")?;
    let key = match label {
        "ENCRYPTED PRIVATE KEY" => {
            if passphrase.is_empty() {
                return Err("Push_apn_key is encrypted: Push_apn_passphrase must be set".into());
            }
            let plain = EncryptedPrivateKeyInfo::try_from(document.as_bytes())
                .map_err(|_| "Push_apn_key is not a PKCS#8 encrypted key")?
                .decrypt(passphrase)
                .map_err(|_| "Push_apn_passphrase does not decrypt Push_apn_key (or its cipher is not PBES2 with AES)")?;
            let pem = plain
                .to_pem("PRIVATE KEY", LineEnding::LF)
                .map_err(|_| "Push_apn_key cannot be re-encoded")?;
            pem.as_str().to_string()
        }
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => block.to_string(),
        _ => return Err("Push_apn_key holds no private key".into()),
    };
    Ok(SecretString::from(format!("{}\n{key}\n", cert.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = include_str!("../../../tests/fixtures/apns-test-cert.pem");
    const KEY: &str = include_str!("../../../tests/fixtures/apns-test-cert-key.pem");
    const ENCRYPTED_KEY: &str = include_str!("../../../tests/fixtures/apns-test-cert-key.enc.pem");
    const LEGACY_KEY: &str = include_str!("../../../tests/fixtures/apns-test-cert-key.legacy.pem");
    /// `ENCRYPTED_KEY`'s passphrase.
    const PASSPHRASE: &str = "rcpush-test-passphrase";

    /// Builds the TLS client identity as `Apns::client` does.
    fn identity(key: &str, passphrase: &str) -> Result<(), String> {
        let pem = identity_pem(CERT, key, passphrase)?;
        let identity = reqwest::Identity::from_pem(pem.expose_secret().as_bytes())
            .map_err(|e| e.to_string())?;
        Client::builder()
            .use_rustls_tls()
            .identity(identity)
            .build()
            .map(drop)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_plain_or_pkcs8_encrypted_key_makes_a_client_identity() {
        assert_eq!(identity(KEY, ""), Ok(()));
        assert_eq!(identity(KEY, "ignored for a plain key"), Ok(()));
        assert_eq!(identity(ENCRYPTED_KEY, PASSPHRASE), Ok(()));
        // What `openssl pkcs12 -nodes` writes around the key.
        let exported = format!(
            "Bag Attributes\n    localKeyID: 01 02\nKey Attributes: <No Attributes>\n{KEY}"
        );
        assert_eq!(identity(&exported, ""), Ok(()));
    }

    #[test]
    fn a_wrong_or_missing_passphrase_and_legacy_pem_are_clear_configuration_errors() {
        let wrong = identity_pem(CERT, ENCRYPTED_KEY, "wrong").unwrap_err();
        assert!(wrong.contains("does not decrypt"), "{wrong}");
        let missing = identity_pem(CERT, ENCRYPTED_KEY, "").unwrap_err();
        assert!(
            missing.contains("Push_apn_passphrase must be set"),
            "{missing}"
        );
        let legacy = identity_pem(CERT, LEGACY_KEY, PASSPHRASE).unwrap_err();
        assert!(legacy.contains("legacy PEM"), "{legacy}");
        let garbage = identity_pem(CERT, "not a key", "").unwrap_err();
        assert!(garbage.contains("no PEM private key"), "{garbage}");
        for e in [wrong, missing, legacy, garbage] {
            assert!(!e.contains(PASSPHRASE) && !e.contains("MII"), "{e}");
        }
        assert!(identity(KEY, "").is_ok());
        let no_cert = identity_pem("", KEY, "").unwrap();
        assert!(reqwest::Identity::from_pem(no_cert.expose_secret().as_bytes()).is_err());
    }

    #[test]
    fn token_credentials_are_preferred_and_any_change_is_a_new_fingerprint() {
        let mut s = Snapshot::default();
        assert!(Credentials::of(&s).is_none());
        s.push_apn = ApnCredentials {
            cert: CERT.into(),
            key: KEY.into(),
            passphrase: "".into(),
        };
        let cert = Credentials::of(&s).unwrap().fingerprint();
        assert!(matches!(
            Credentials::of(&s),
            Some(Credentials::Certificate(_))
        ));
        s.push_apn.passphrase = "x".into();
        assert_ne!(Credentials::of(&s).unwrap().fingerprint(), cert);
        s.push_apn_token = ApnTokenCredentials {
            key: "k".into(),
            key_id: "KEYID".into(),
            team_id: "TEAM".into(),
        };
        let token = Credentials::of(&s).unwrap().fingerprint();
        assert!(matches!(Credentials::of(&s), Some(Credentials::Token(_))));
        s.push_apn_token.team_id = "OTHER".into();
        assert_ne!(Credentials::of(&s).unwrap().fingerprint(), token);
    }

    #[test]
    fn an_incomplete_or_unreadable_token_key_is_a_configuration_error() {
        let apns = Apns::new("", Duration::from_secs(1));
        let mut t = ApnTokenCredentials {
            key: "not a key".into(),
            key_id: "KEYID".into(),
            team_id: String::new(),
        };
        let e = apns.provider_token(&t, [0; 32]).unwrap_err();
        assert!(e.contains("Push_apn_team_id"), "{e}");
        t.team_id = "TEAM".into();
        let e = apns.provider_token(&t, [0; 32]).unwrap_err();
        assert!(e.contains("not a P-256 key"), "{e}");
    }
}
