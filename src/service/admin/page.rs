//! The admin page (`/admin/push`, the `admin` feature): its sessions, and what it shows of the
//! outbox, the delivery log, a user's devices and the push settings' health.
//!
//! A session is a Rocket.Chat login token made by `login` itself (the same password check and
//! failed-login throttling), which the page keeps in an HttpOnly cookie. So it is durable and
//! valid in every process on one database, logging out removes it, and the page accepts it
//! for `SESSION_TTL_MS` after the login, after which it removes it. Each view checks
//! `view-privileged-setting` again: an admin who loses it loses the page at once.

use secrecy::ExposeSecret;

use super::Admin;
use crate::delivery::credentials::{
    apns_certificate, apns_key, apns_token_key, fcm_credentials, Credential,
};
use crate::delivery::gateway::rules::{body_message_id, token_tail, transport, Transport};
use crate::error::{ApiError, ApiResult};
use crate::model::id::UserId;
use crate::model::time;
use crate::rules::credentials::{csrf_matches, csrf_token, password_digest, token_hash};
use crate::service::auth::{Caller, Login};
use crate::store::{DeliveryFilter, DeliveryPage};

/// How long after the login a session of the page lasts.
pub const SESSION_TTL_MS: i64 = 8 * 3600 * 1000;

/// Deliveries per page, and outbox entries shown.
pub const PAGE_SIZE: usize = 50;

/// Who may see the page (the permission of the settings and of the delivery API).
const PERMISSION: &str = "view-privileged-setting";

/// The login form's CSRF secret (kept in its own cookie) and the token the form carries.
pub struct LoginForm {
    pub secret: String,
    pub csrf: String,
}

/// What the page was asked for.
#[derive(Debug, Default)]
pub struct AdminQuery {
    pub filter: DeliveryFilter,
    pub offset: usize,
    /// Whose devices to list: a username or a user id.
    pub devices_of: Option<String>,
}

/// A push waiting in the outbox; of its device only the end of the token.
pub struct OutboxEntry {
    pub push_id: String,
    pub user_id: String,
    pub service: String,
    pub token_tail: String,
    pub message_id: Option<String>,
    /// Failed attempts so far: 0 means pending, more means retrying.
    pub attempts: u32,
    /// When the next attempt is due (ms).
    pub due: i64,
}

/// The outbox's length and its first entries, soonest due first.
pub struct Outbox {
    pub total: usize,
    pub head: Vec<OutboxEntry>,
}

/// One registered device, by the end of its token.
pub struct Device {
    pub app: String,
    pub service: String,
    pub token_tail: String,
    pub enabled: bool,
}

/// The answer to "whose devices": the user found, if any, and their devices.
pub struct Devices {
    pub asked: String,
    /// `(id, username)`.
    pub user: Option<(String, String)>,
    pub devices: Vec<Device>,
}

/// The push settings' health.
pub struct Health {
    pub push_enabled: bool,
    pub transport: Transport,
    pub gateway: String,
    pub fcm: Credential,
    /// The age of this process's cached FCM access token (ms).
    pub fcm_token_age_ms: Option<u128>,
    /// Which APNs credentials `Push_production` picks.
    pub apns_production: bool,
    pub apns_cert: Credential,
    pub apns_key: Credential,
    /// Token authentication, preferred to the certificate when its key is set.
    pub apns_token: Credential,
}

/// Everything `/admin/push` shows.
pub struct AdminPage {
    pub username: String,
    /// The token of the page's forms (logout).
    pub csrf: String,
    pub now: i64,
    pub outbox: Outbox,
    pub query: AdminQuery,
    pub deliveries: DeliveryPage,
    pub devices: Option<Devices>,
    pub health: Health,
}

impl Admin {
    /// The login form, keeping the CSRF secret of an earlier visit (other tabs stay valid).
    pub fn admin_login_form(&self, secret: Option<&str>) -> LoginForm {
        let secret = match secret.filter(|s| !s.is_empty()) {
            Some(s) => s.to_string(),
            None => self.ids.secret(),
        };
        LoginForm {
            csrf: csrf_token(&secret),
            secret,
        }
    }

    /// `POST /admin/login`: the form's CSRF token (against the secret of its cookie), then
    /// `login`; returns the session's token. A user without the permission gets a 403 and
    /// no session (the token just made is removed again).
    pub async fn admin_login(
        &self,
        who: Login,
        password: &str,
        (secret, csrf): (&str, &str),
        ip: &str,
    ) -> ApiResult<String> {
        if !csrf_matches(secret, csrf) {
            return Err(ApiError::Forbidden);
        }
        let logged_in = self.auth.login(who, password_digest(password), ip).await?;
        let caller = self
            .auth
            .authenticate(&UserId::new(logged_in.user_id), &logged_in.auth_token)?;
        if let Err(denied) = self.permits.require(&caller, PERMISSION) {
            self.auth.logout(&caller).await?;
            return Err(denied);
        }
        Ok(logged_in.auth_token)
    }

    /// `POST /admin/logout`: ends the session, if the form's CSRF token is its own.
    pub async fn admin_logout(&self, session: Option<&str>, csrf: &str) -> ApiResult<()> {
        let (caller, token) = self.admin_session(session).await?;
        if !csrf_matches(token, csrf) {
            return Err(ApiError::Forbidden);
        }
        self.auth.logout(&caller).await
    }

    /// `GET /admin/push`: the page for the session's admin.
    pub async fn admin_push(
        &self,
        session: Option<&str>,
        query: AdminQuery,
    ) -> ApiResult<AdminPage> {
        let (caller, token) = self.admin_session(session).await?;
        self.permits.require(&caller, PERMISSION)?;
        let head = self
            .store
            .pending_pushes(PAGE_SIZE)?
            .into_iter()
            .map(|p| OutboxEntry {
                message_id: body_message_id(&p.body),
                token_tail: token_tail(&p.token).to_string(),
                push_id: p.id,
                user_id: p.user_id,
                service: p.service,
                attempts: p.attempts,
                due: p.due,
            })
            .collect();
        let outbox = Outbox {
            total: self.store.outbox_len()?,
            head,
        };
        let deliveries = self
            .store
            .deliveries(&query.filter, query.offset, PAGE_SIZE)?;
        let devices = match query.devices_of.as_deref() {
            Some(asked) => Some(self.devices_of(asked)?),
            None => None,
        };
        Ok(AdminPage {
            username: caller.identity.username.clone().unwrap_or_default(),
            csrf: csrf_token(token),
            now: self.clock.now(),
            outbox,
            query,
            deliveries,
            devices,
            health: self.push_health(),
        })
    }

    /// The session's caller, while it lasts; an expired session is removed.
    async fn admin_session<'a>(&self, session: Option<&'a str>) -> ApiResult<(Caller, &'a str)> {
        let token = session
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::NotLoggedIn)?;
        let record = self
            .store
            .login_token(&token_hash(token))?
            .ok_or(ApiError::NotLoggedIn)?;
        let caller = self
            .auth
            .authenticate(&UserId::new(record.user_id.clone()), token)?;
        let since = time::parse_iso(&record.when).unwrap_or(i64::MIN);
        if self.clock.now().saturating_sub(since) > SESSION_TTL_MS {
            self.auth.logout(&caller).await?;
            return Err(ApiError::NotLoggedIn);
        }
        Ok((caller, token))
    }

    /// The devices of the user named `asked` (a username, else a user id).
    fn devices_of(&self, asked: &str) -> ApiResult<Devices> {
        let id = match self.store.user_id_by_username(asked)? {
            Some(id) => Some(id),
            None => self.store.user(asked)?.map(|u| u.id().to_string()),
        };
        let Some(id) = id else {
            return Ok(Devices {
                asked: asked.to_string(),
                user: None,
                devices: Vec::new(),
            });
        };
        let username = self
            .store
            .user_identity(&id)?
            .and_then(|i| i.username.clone())
            .unwrap_or_default();
        let devices = self
            .store
            .push_tokens_of_user(&id)?
            .iter()
            .filter_map(|t| {
                let (service, token) = t.device()?;
                Some(Device {
                    app: t.app_name().to_string(),
                    service: service.code().to_string(),
                    token_tail: token_tail(token).to_string(),
                    enabled: t.enabled(),
                })
            })
            .collect();
        Ok(Devices {
            asked: asked.to_string(),
            user: Some((id, username)),
            devices,
        })
    }

    /// The settings in force, read live, as `Health`.
    fn push_health(&self) -> Health {
        let s = self.settings.snapshot();
        Health {
            push_enabled: s.push_enable,
            transport: transport(
                s.push_enable_gateway,
                s.register_server,
                s.cloud_service_agree_privacy_terms,
            ),
            gateway: s.push_gateway.clone(),
            fcm: fcm_credentials(s.push_google_api_credentials.expose_secret()),
            fcm_token_age_ms: self.delivery.fcm_token_age().map(|a| a.as_millis()),
            apns_production: s.push_production,
            apns_cert: apns_certificate(s.push_apn.cert.expose_secret()),
            apns_key: apns_key(s.push_apn.key.expose_secret()),
            apns_token: apns_token_key(
                s.push_apn_token.key.expose_secret(),
                &s.push_apn_token.key_id,
                &s.push_apn_token.team_id,
            ),
        }
    }
}
