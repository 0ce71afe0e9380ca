//! Login tokens and passwords as Meteor stores them (spec §3.2, §0.2).
//!
//! Password hashing is CPU-heavy: callers run `hash_password` / `verify_password` on the
//! blocking pool, never on the event loop.

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A login token as stored: its hash, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for TokenHash {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// `Accounts._hashLoginToken`: base64(SHA-256(token)). Tokens imported from a Rocket.Chat
/// database keep working because this is the same function.
pub fn token_hash(token: &str) -> TokenHash {
    TokenHash(base64::engine::general_purpose::STANDARD.encode(Sha256::digest(token.as_bytes())))
}

/// Meteor hashes the lower-case hex SHA-256 of a password, so that clients may send either
/// the password or its digest (`{digest, algorithm:"sha-256"}`).
pub fn password_digest(password: &str) -> String {
    hex::encode(Sha256::digest(password.as_bytes()))
}

/// argon2id with OWASP's minimum cost (m=19456 KiB, t=2, p=1).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password` (its Meteor digest, as logins verify it) under `salt`.
pub fn hash_password(password: &str, salt: &[u8; 16]) -> anyhow::Result<String> {
    let digest = password_digest(password);
    let salt = argon2::password_hash::SaltString::encode_b64(salt)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(argon2()
        .hash_password(digest.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

/// Whether `digest` matches the stored PHC string. A malformed hash never matches.
pub fn verify_password(digest: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| argon2().verify_password(digest.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// Verified for unknown users so that a login takes as long whether or not the user exists.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3j9IaY5RczGLxDi1HEtd2Ve5kJpPqcP+MwcUeBAjfAk";

/// Whether `s` looks like a SHA-256 hex digest as clients send it.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_matches_meteor() {
        assert_eq!(
            token_hash("Zu-Z6eKzIIz7MCCRGeHi29bYkXZCJ4SxFC0JAasqm92").as_str(),
            "9Wrt+4w4fWREsSRwkIOnfHGa55RYZnqQQVLIWC22OCQ="
        );
    }

    #[test]
    fn password_round_trip_and_wrong_password() {
        let d = password_digest("correct horse");
        let phc = hash_password("correct horse", &[7; 16]).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&d, &phc));
        assert!(!verify_password(&password_digest("wrong"), &phc));
        assert!(!verify_password(&d, "not a hash"));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password(&d, DUMMY_HASH));
    }

    #[test]
    fn digest_is_lower_hex() {
        let d = password_digest("x");
        assert!(is_sha256_hex(&d));
        assert_eq!(d, d.to_lowercase());
    }
}
