use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::trees::Tree;
use super::{encode, Store, StoreResult};

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
        self.write(|store, batch| {
            batch.put(Tree::TokenhashToken, token_hash, encode(token));
            if let Some((old, new)) = upgrade {
                if store.password_hash(&token.user_id)?.as_deref() == Some(old) {
                    batch.put(Tree::UseridPassword, token.user_id.as_str(), new);
                }
            }
            Ok(())
        })
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
