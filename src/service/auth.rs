//! Who is calling (`X-User-Id` + `X-Auth-Token`), logging in and out, and `/me`.

use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::blocking::{blocking_write, hash_blocking};
use crate::error::{ApiError, ApiResult};
use crate::model::id::{Ids, UserId};
use crate::model::time::{Clock, Millis};
use crate::model::user::Identity;
use crate::model::{time, User};
use crate::rules::credentials::{self, token_hash, TokenHash};
use crate::rules::login_throttle::{LoginThrottle, ThrottleLimits};
use crate::settings::Settings;
use crate::store::{AccountsView, LoginToken};

/// The authenticated caller.
pub struct Caller {
    pub identity: Arc<Identity>,
    pub token_hash: TokenHash,
}

impl Caller {
    pub fn id(&self) -> &str {
        &self.identity.id
    }
}

/// Who is logging in, as `loginCompatibility` reads the body.
pub enum Login {
    Username(String),
    Email(String),
    /// The realtime `login`'s `{user: {id}}`.
    Id(String),
}

/// A successful login: the new token (shown once) and the user's own view of their account.
pub struct LoggedIn {
    pub user_id: String,
    pub auth_token: String,
    pub me: Value,
}

/// The auth area: credentials, login tokens and the login throttle.
#[derive(Clone)]
pub struct Auth {
    pub(super) store: AccountsView,
    pub(super) settings: Settings,
    pub(super) clock: Clock,
    pub(super) ids: Ids,
    pub(super) throttle: Arc<Mutex<LoginThrottle>>,
    pub(super) throttle_limits: ThrottleLimits,
    /// Bounds concurrent argon2 hashes (each holds 19 MiB and a core); shared with the
    /// users area's password changes.
    pub(super) hashing: Arc<Semaphore>,
}

impl Auth {
    /// The caller named by `user_id` and `token`, if the token is theirs.
    pub fn authenticate(&self, user_id: &UserId, token: &str) -> ApiResult<Caller> {
        let hash = token_hash(token);
        match self.store.login_token(&hash)? {
            Some(t) if t.user_id == user_id.as_str() => {}
            _ => return Err(ApiError::NotLoggedIn),
        }
        self.caller_of(user_id, hash)
    }

    /// The caller of a realtime connection logged in as `user_id` with the token whose hash
    /// is `token_hash` (the socket checked the token at login, and the change feed closes the
    /// socket when the token goes).
    pub fn session_caller(&self, user_id: &str, token_hash: &str) -> ApiResult<Caller> {
        self.caller_of(user_id, TokenHash::from_stored(token_hash.to_string()))
    }

    /// `user_id` as a caller with `token_hash`; a user deleted since is not logged in.
    fn caller_of(&self, user_id: &str, token_hash: TokenHash) -> ApiResult<Caller> {
        let identity = self
            .store
            .user_identity(user_id)?
            .ok_or(ApiError::NotLoggedIn)?;
        Ok(Caller {
            identity,
            token_hash,
        })
    }

    /// `POST login`. `digest` is the SHA-256 hex of the password. Every failure is the
    /// same 401, whether or not the user exists, and takes as long (a dummy hash is checked
    /// for unknown users); failures are counted per name and per client address.
    pub async fn login(&self, who: Login, digest: String, ip: &str) -> ApiResult<LoggedIn> {
        let (name, user_id) = match &who {
            Login::Username(u) => (u.as_str(), self.store.user_id_by_username(u)?),
            Login::Email(e) => (e.as_str(), self.store.user_id_by_email(e)?),
            Login::Id(id) => (
                id.as_str(),
                self.store.user_identity(id)?.map(|_| id.to_string()),
            ),
        };
        let now = self.clock.now();
        let limits = self.throttle_limits;
        self.throttle()
            .check(name, ip, now, limits)
            .map_err(ApiError::LoginBlocked)?;

        let stored = match &user_id {
            Some(id) => self.store.password_hash(id)?,
            None => None,
        };
        let phc = stored
            .clone()
            .unwrap_or_else(|| credentials::DUMMY_HASH.to_string());
        let check = digest.clone();
        let verified = hash_blocking(&self.hashing, move || {
            anyhow::Ok(credentials::verify_password(&check, &phc))
        })
        .await?;
        let user = match (&user_id, verified) {
            (Some(id), true) => self.store.user(id)?,
            _ => None,
        };
        let Some(user) = user.filter(User::is_active) else {
            self.throttle().record_failure(name, ip, now, limits);
            return Err(ApiError::LoginFailed);
        };
        // rcpush has no second factor to ask for: users who have one log in with their
        // existing sessions only (import spec §3.6).
        if user.has_second_factor() {
            return Err(ApiError::LoginFailed);
        }
        self.throttle().record_success(name);

        // An imported (bcrypt) hash becomes rcpush's argon2id with this login's token.
        let upgrade = match stored.filter(|s| credentials::needs_rehash(s)) {
            Some(old) => {
                let salt: [u8; 16] = rand::random();
                // A hash that fails leaves the imported one: the login goes on.
                hash_blocking(&self.hashing, move || {
                    anyhow::Ok(credentials::hash_digest(&digest, &salt).ok())
                })
                .await?
                .map(|new| (old, new))
            }
            None => None,
        };
        let token = self.ids.secret();
        let record = LoginToken {
            user_id: user.id().to_string(),
            when: time::iso(now),
        };
        let hash = token_hash(&token);
        blocking_write(&self.store, move |s| {
            s.add_login_token(
                &hash,
                &record,
                upgrade.as_ref().map(|(o, n)| (o.as_str(), n.as_str())),
            )
        })
        .await?;
        Ok(LoggedIn {
            user_id: user.id().to_string(),
            auth_token: token,
            me: self.user_info(&user)?,
        })
    }

    /// `POST login {resume}`: the token's user, if the token is still valid and the user
    /// active; the token stays as it is. Failures are the login 401 (Rocket.Chat's
    /// `loginErrorMessageOverride`).
    pub fn resume_login(&self, token: &str) -> ApiResult<LoggedIn> {
        let record = self
            .store
            .login_token(&token_hash(token))?
            .ok_or(ApiError::LoginFailed)?;
        let user = self
            .store
            .user(&record.user_id)?
            .filter(User::is_active)
            .ok_or(ApiError::LoginFailed)?;
        Ok(LoggedIn {
            user_id: user.id().to_string(),
            auth_token: token.to_string(),
            me: self.user_info(&user)?,
        })
    }

    /// `logout`: forgets the caller's token and the push registrations made with it.
    pub async fn logout(&self, caller: &Caller) -> ApiResult<()> {
        self.end_session(caller.id(), &caller.token_hash).await
    }

    /// `logout` of the session `token_hash` of `user_id` (the realtime API keeps only the
    /// hash of a connection's token).
    pub async fn end_session(&self, user_id: &str, token_hash: &str) -> ApiResult<()> {
        let (user_id, hash) = (user_id.to_string(), token_hash.to_string());
        blocking_write(&self.store, move |s| {
            s.remove_login_token(&hash)?;
            s.delete_push_tokens_of_session(&user_id, &hash)
        })
        .await?;
        Ok(())
    }

    /// When the session `token_hash` of `user_id` began, if it still exists (a realtime
    /// connection's login is checked against it: a token removed elsewhere ends it).
    pub fn session_start(&self, user_id: &str, token_hash: &str) -> ApiResult<Option<Millis>> {
        Ok(self
            .store
            .login_token(token_hash)?
            .filter(|t| t.user_id == user_id)
            .map(|t| time::parse_iso(&t.when).unwrap_or_default()))
    }

    /// `GET me`.
    pub fn me(&self, caller: &Caller) -> ApiResult<Value> {
        let user = self.store.user(caller.id())?.ok_or(ApiError::NotLoggedIn)?;
        self.user_info(&user)
    }

    fn throttle(&self) -> MutexGuard<'_, LoginThrottle> {
        self.throttle.lock()
    }

    /// `getUserInfo`: the user's own view of their account (login `data.me` and `/me`).
    fn user_info(&self, user: &User) -> ApiResult<Value> {
        let settings = self.settings.snapshot();
        // `getUserPreferences`: the server's defaults, then the user's own choices.
        let mut preferences = settings.default_user_preferences.clone();
        if let Some(own) = user.preferences() {
            for (k, v) in own {
                preferences.insert(k.clone(), v.clone());
            }
        }
        let avatar_url = format!(
            "{}/avatar/{}",
            settings.site_url.trim_end_matches('/'),
            user.username().unwrap_or_default()
        );
        let has_password = self.store.password_hash(user.id())?.is_some();
        Ok(user.own_info(preferences, avatar_url, has_password))
    }
}
