use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::trees::Tree;
use super::{decode, encode, Batch, Store, StoreResult};

/// A login token, known only by its hash (`base64(sha256(token))`, spec §3.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoginToken {
    #[serde(rename = "userId")]
    pub user_id: String,
    /// ISO date of the login.
    pub when: String,
}

impl Store {
    pub fn login_token(&self, token_hash: &str) -> StoreResult<Option<Arc<LoginToken>>> {
        self.caches.tokens.get_or_load(token_hash.as_bytes(), || {
            self.get_json(Tree::TokenhashToken, token_hash.as_bytes())
        })
    }

    /// Adds a login token and, with `upgrade = (old, new)`, replaces the user's password
    /// hash in the same write if it is still `old` (a concurrent change wins).
    pub fn add_login_token(
        &self,
        token_hash: &str,
        token: &LoginToken,
        upgrade: Option<(&str, &str)>,
    ) -> StoreResult<()> {
        // The token is new: only the password upgrade reads, under its user's lock.
        self.write_keyed(|store, batch| {
            store.engine.lock(&[super::Lock::User(&token.user_id)])?;
            batch.put(Tree::TokenhashToken, token_hash, encode(token));
            if let Some((old, new)) = upgrade {
                if store.password_hash(&token.user_id)?.as_deref() == Some(old) {
                    batch.put(Tree::UseridPassword, token.user_id.as_str(), new);
                }
            }
            Ok(())
        })
    }

    /// Gives `user_id` a new password hash and removes every login token of theirs, with the
    /// devices registered through them (as a logout does), in one write: after a reset no
    /// session of the old password is left. Returns how many sessions ended. Walks every
    /// token (`rcpush admin reset-password`, not a request path).
    pub fn reset_password(&self, user_id: &str, password_hash: &str) -> StoreResult<usize> {
        self.write(|store, batch| {
            batch.put(Tree::UseridPassword, user_id, password_hash);
            store.end_sessions(batch, user_id)
        })
    }

    /// Removes every login token of `user_id`, with the devices registered through them;
    /// how many sessions ended. Walks every token.
    pub(super) fn end_sessions(&self, batch: &mut Batch, user_id: &str) -> StoreResult<usize> {
        let mut ended = Vec::new();
        for (hash, value) in self.entries(Tree::TokenhashToken)? {
            let token: LoginToken = decode(Tree::TokenhashToken, &value)?;
            if token.user_id == user_id {
                ended.push(String::from_utf8_lossy(&hash).into_owned());
                batch.delete(Tree::TokenhashToken, hash);
            }
        }
        for device in self.push_tokens_of_user(user_id)? {
            if ended.iter().any(|h| h == device.auth_token_hash()) {
                Self::delete_push_token(batch, &device);
            }
        }
        Ok(ended.len())
    }

    /// Removes one login token; true if it existed.
    pub fn remove_login_token(&self, token_hash: &str) -> StoreResult<bool> {
        self.write(|store, batch| {
            let existed = store.login_token(token_hash)?.is_some();
            batch.delete(Tree::TokenhashToken, token_hash);
            Ok(existed)
        })
    }
}
