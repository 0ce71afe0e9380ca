//! The admin area: `rcpush admin reset-password`, the delivery log (`deliveries.rs`) and,
//! with the `admin` feature (default; the edge build leaves it out), the admin page
//! (`admin/page.rs`).

use super::auth::Auth;
use super::permits::Permits;
use super::users::hash_new_password;
use crate::delivery::Delivery;
use crate::model::id::Ids;
use crate::model::time::Clock;
use crate::settings::Settings;
use crate::store::{AdminView, Store};

#[cfg(feature = "admin")]
pub mod page;

/// What `rcpush admin reset-password` did.
pub struct PasswordReset {
    pub user_id: String,
    pub username: String,
    /// The new password, shown once and never stored in clear.
    pub password: String,
    /// Login sessions (and so devices registered through them) that ended.
    pub sessions_ended: usize,
}

/// `rcpush admin reset-password USER` (a username, else a user id): a new generated password,
/// and every session of the user ended, durably, so that a lost or leaked password can be
/// replaced without the page or the API (which need the password to sign in).
pub fn reset_password(store: &Store, who: &str) -> anyhow::Result<PasswordReset> {
    let id = match store.user_id_by_username(who)? {
        Some(id) => id,
        None => who.to_string(),
    };
    let Some(user) = store.user(&id)? else {
        anyhow::bail!("no user {who:?} (neither a username nor a user id)");
    };
    let password = Ids::default().secret();
    let hash = hash_new_password(&password)?;
    let sessions_ended = store.reset_password(&id, &hash)?;
    Ok(PasswordReset {
        username: user.username().unwrap_or_default().to_string(),
        user_id: id,
        password,
        sessions_ended,
    })
}

/// The admin area: the admin page and the delivery log. It logs in through the auth area,
/// so that the page's sessions are Rocket.Chat logins.
// Without the page, the delivery log reads only the store and the permits.
#[cfg_attr(not(feature = "admin"), allow(dead_code))]
#[derive(Clone)]
pub struct Admin {
    pub(super) store: AdminView,
    pub(super) settings: Settings,
    pub(super) clock: Clock,
    pub(super) ids: Ids,
    pub(super) delivery: Delivery,
    pub(super) permits: Permits,
    pub(super) auth: Auth,
}
