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

    /// A hash computed before (kept by a realtime connection since its login).
    pub fn from_stored(hash: String) -> TokenHash {
        TokenHash(hash)
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

/// The CSRF token of the admin page's forms for `secret`: the session's login token, or
/// before login a random value of its own cookie. Both live in HttpOnly cookies only, so no
/// other site can know the token its forged form would need.
pub fn csrf_token(secret: &str) -> String {
    hex::encode(Sha256::digest(
        format!("rcpush admin csrf\0{secret}").as_bytes(),
    ))
}

/// Whether `given` is `secret`'s CSRF token (compared as digests, in constant time for
/// practical purposes).
pub fn csrf_matches(secret: &str, given: &str) -> bool {
    !secret.is_empty()
        && Sha256::digest(csrf_token(secret).as_bytes()) == Sha256::digest(given.as_bytes())
}

/// Meteor hashes the lower-case hex SHA-256 of a password, so that clients may send either
/// the password or its digest (`{digest, algorithm:"sha-256"}`).
pub fn password_digest(password: &str) -> String {
    hex::encode(Sha256::digest(password.as_bytes()))
}

/// The cost of a new password hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// argon2id with OWASP's minimum cost (m=19456 KiB, t=2, p=1): every stored password.
    Full,
    /// argon2id's lowest (m=8 KiB, t=1): the admin testing mode creates at start, since a
    /// test suite starts hundreds of servers and a full hash is most of a start-up. Its
    /// first login replaces it with a full one (`needs_rehash`), as for an imported hash.
    Testing,
}

fn argon2(cost: Cost) -> Argon2<'static> {
    let (m, t) = match cost {
        Cost::Full => (19_456, 2),
        Cost::Testing => (Params::MIN_M_COST, Params::MIN_T_COST),
    };
    let params = Params::new(m, t, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password` (its Meteor digest, as logins verify it) under `salt`.
pub fn hash_password(password: &str, salt: &[u8; 16]) -> anyhow::Result<String> {
    hash_password_at(Cost::Full, password, salt)
}

/// `hash_password` at `cost`.
pub fn hash_password_at(cost: Cost, password: &str, salt: &[u8; 16]) -> anyhow::Result<String> {
    hash_digest_at(cost, &password_digest(password), salt)
}

/// The PHC string of a Meteor password digest under `salt`: what a login stores when it
/// upgrades an imported hash (it knows only the digest).
pub fn hash_digest(digest: &str, salt: &[u8; 16]) -> anyhow::Result<String> {
    hash_digest_at(Cost::Full, digest, salt)
}

fn hash_digest_at(cost: Cost, digest: &str, salt: &[u8; 16]) -> anyhow::Result<String> {
    let salt = argon2::password_hash::SaltString::encode_b64(salt)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(argon2(cost)
        .hash_password(digest.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

/// Whether `digest` matches the stored hash: an argon2 PHC string (any variant and cost, as
/// Meteor 3 writes them) or a bcrypt hash imported from Rocket.Chat (`$2a$`, `$2b$`, any
/// cost). A malformed hash never matches. Each check also verifies a dummy hash of the
/// other scheme, so that a login takes as long whichever kind the user has, or none.
pub fn verify_password(digest: &str, stored: &str) -> bool {
    if is_bcrypt(stored) {
        verify_argon2(digest, DUMMY_HASH);
        bcrypt::verify(digest, stored).unwrap_or(false)
    } else {
        let _ = bcrypt::verify(digest, DUMMY_BCRYPT);
        verify_argon2(digest, stored)
    }
}

fn verify_argon2(digest: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        // The hash's own parameters are used, whatever `Cost` names.
        .map(|h| {
            argon2(Cost::Full)
                .verify_password(digest.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2x$", "$2y$"]
        .iter()
        .any(|p| hash.starts_with(p))
}

/// Whether a stored hash should be replaced by rcpush's argon2id after a successful login:
/// bcrypt hashes and argon2 hashes of other variants or costs (spec §3.3).
pub fn needs_rehash(stored: &str) -> bool {
    !stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
}

/// A bcrypt hash of cost 10, as Rocket.Chat writes them, of no digest anyone can send.
const DUMMY_BCRYPT: &str = "$2b$10$abcdefghijklmnopqrstuuaDDmPWNRqhNyL44KvWaEPmBlBEVL/9W";

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
    fn a_testing_hash_verifies_and_asks_for_a_full_one() {
        let d = password_digest("correct horse");
        let phc = hash_password_at(Cost::Testing, "correct horse", &[7; 16]).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert!(verify_password(&d, &phc));
        assert!(!verify_password(&password_digest("wrong"), &phc));
        assert!(needs_rehash(&phc));
    }

    /// The vectors of the import spec (§3.1–3.3).
    #[test]
    fn rocketchat_bcrypt_hashes_verify_over_the_digest() {
        let d = password_digest("correct horse");
        assert_eq!(
            d,
            "4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631"
        );
        let b = "$2b$10$abcdefghijklmnopqrstuuaDDmPWNRqhNyL44KvWaEPmBlBEVL/9W";
        assert!(verify_password(&d, b));
        assert!(verify_password(&d, &b.replacen("$2b$", "$2a$", 1)));
        assert!(!verify_password("correct horse", b));
        assert!(!verify_password(&d.to_uppercase(), b));
        assert!(needs_rehash(b));
        assert_eq!(
            password_digest("pässwörd😀"),
            "8694ef7d97c51ea33e46a47a16af49b2968cbd10a2f25094a2d8c2a3eb0032a9"
        );
        let upgraded = hash_digest(&d, b"0123456789abcdef").unwrap();
        assert_eq!(
            upgraded,
            "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$q9V3TeOBfU6QTswfBIkKv0MEmfkXqJ0fvIvT+GypgCA"
        );
        assert!(verify_password(&d, &upgraded));
        assert!(!needs_rehash(&upgraded));
    }

    #[test]
    fn digest_is_lower_hex() {
        let d = password_digest("x");
        assert!(is_sha256_hex(&d));
        let token = csrf_token("session");
        assert!(csrf_matches("session", &token));
        assert!(!csrf_matches("other", &token));
        assert!(!csrf_matches("session", ""));
        assert!(!csrf_matches("", &csrf_token("")));
        assert_eq!(d, d.to_lowercase());
    }
}
