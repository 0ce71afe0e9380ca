//! Creating, showing and changing users (`users.create`, `users.info`, `users.update`) and
//! their preferences (`users.setPreferences`, `users.getPreferences`, `saveUserPreferences`).

use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::auth::Caller;
use super::blocking::{blocking_write, hash_blocking};
use super::directory::{Directory, UserRef};
use super::permits::Permits;
use super::system_messages::SystemMessages;
use crate::error::{ApiError, ApiResult};
use crate::model::id::Ids;
use crate::model::room::{general_room, GENERAL};
use crate::model::subscription::new_joined_subscription;
use crate::model::time::{self, Clock};
use crate::model::user::{rocket_cat, NewUser, ProfileText, ROCKET_CAT};
use crate::model::{Doc, User};
use crate::rules::access::ROLES;
use crate::rules::credentials::{hash_password, hash_password_at, Cost};
use crate::rules::names::{username_is_blocked, valid_name};
use crate::rules::user_profile::{self, Editor, ProfileChange, ProfileUpdate, Refusal};
use crate::rules::{preferences, presence};
use crate::settings::Settings;
use crate::store::{Activation, Conflict, Store, StoreError, UsersView, WriteError};

/// `users.create`'s body, its types checked.
pub struct CreateUser {
    pub email: String,
    pub name: String,
    pub password: String,
    pub username: String,
    pub roles: Vec<String>,
    pub verified: Option<bool>,
    pub active: Option<bool>,
    pub require_password_change: Option<bool>,
    /// `joinDefaultChannels` (default true).
    pub join_default_channels: bool,
}

/// Fields of imported users that Rocket.Chat never returns: `services` (what is left of it
/// after import: 2FA flags, external logins) and the room list `__rooms`.
const NEVER_SHOWN: &[&str] = &["services", "__rooms"];

/// Fields hidden from callers without `view-full-other-user-info`.
const PRIVATE_FIELDS: &[&str] = &[
    "avatarOrigin",
    "emails",
    "phone",
    "statusConnection",
    "createdAt",
    "lastLogin",
    "services",
    "requirePasswordChange",
    "requirePasswordChangeReason",
    "roles",
    "statusDefault",
    "_updatedAt",
    "settings",
    "inviteToken",
];

/// The subscription fields `users.info?includeUserRooms=true` shows.
const ROOM_FIELDS: &[&str] = &["_id", "rid", "name", "t", "roles", "unread", "federated"];

/// The users area: `users.create`, `users.info`.
#[derive(Clone)]
pub struct Users {
    pub(super) store: UsersView,
    pub(super) settings: Settings,
    pub(super) permits: Permits,
    pub(super) directory: Directory,
    pub(super) system: SystemMessages,
    pub(super) clock: Clock,
    pub(super) ids: Ids,
    /// The password hashes that may run at once (shared with logins).
    pub(super) hashing: Arc<Semaphore>,
}

impl Users {
    /// `users.create` (needs `create-user`), checks in Rocket.Chat's order.
    pub async fn create_user(&self, caller: &Caller, new: CreateUser) -> ApiResult<User> {
        if !self.permits.has("create-user", &caller.identity.roles()) {
            return Err(ApiError::AddingUserNotAllowed);
        }
        let username = new.username.as_str();
        if username.trim().is_empty() {
            return Err(ApiError::FieldRequired("Username"));
        }
        if !valid_name(username) {
            return Err(ApiError::InvalidUsername(username.to_string()));
        }
        if new.password.is_empty() {
            return Err(ApiError::FieldRequired("Password"));
        }
        if !new.email.contains('@') {
            return Err(ApiError::InvalidEmail(new.email));
        }
        if new.roles.iter().any(|r| !ROLES.contains(&r.as_str())) {
            return Err(ApiError::InvalidRole);
        }
        // `getNewUserRoles`: without roles given, those of
        // `Accounts_Registration_Users_Default_Roles`.
        let roles = match new.roles {
            r if r.is_empty() => self.settings.snapshot().default_user_roles.clone(),
            r => r,
        };

        let blocked = &self.settings.snapshot().blocked_usernames;
        if username_is_blocked(username, &[&blocked[0], &blocked[1]]) {
            return Err(ApiError::BlockedUsername(username.to_string()));
        }

        let password = new.password;
        let phc = hash_blocking(&self.hashing, move || hash_new_password(&password)).await?;
        let now = self.clock.now();
        let mut user = NewUser {
            id: &self.ids.id(),
            username,
            email: &new.email,
            name: &new.name,
            roles,
            verified: new.verified.unwrap_or(false),
            active: new.active.unwrap_or(true),
            now,
        }
        .into_doc();
        if let Some(r) = new.require_password_change {
            user.set_require_password_change(r);
        }
        // New users join the default rooms (`#general`), as `insertUserDoc` does unless told
        // not to.
        let joins = match new.join_default_channels {
            false => Vec::new(),
            true => self
                .store
                .default_rooms()?
                .iter()
                .map(|room| {
                    let note = self.system.message("uj", room.id(), username, user.short());
                    let sub = new_joined_subscription(room, &user, now, &self.ids);
                    Ok((sub, Some(note)))
                })
                .collect::<ApiResult<Vec<_>>>()?,
        };
        let stored = user.clone();
        let created = blocking_write(&self.store, move |s| {
            s.create_user(&stored, Some(&phc), &joins)
        });
        match created.await {
            Ok(()) => Ok(user),
            Err(WriteError::Conflict(Conflict::Email)) => Err(ApiError::AlreadyInUse(new.email)),
            Err(WriteError::Conflict(_)) => Err(ApiError::AlreadyInUse(username.to_string())),
            Err(WriteError::Store(e)) => Err(e.into()),
        }
    }

    /// `users.info`: the user, without private fields unless the caller is that user or
    /// holds `view-full-other-user-info`; with `include_rooms`, the user's subscriptions
    /// as `rooms` (to themself or a holder of `view-other-user-channels`).
    pub fn user_info_of(
        &self,
        caller: &Caller,
        who: UserRef,
        include_rooms: bool,
    ) -> ApiResult<Value> {
        let user = self
            .directory
            .find_user(who)?
            .ok_or(ApiError::UserNotFound)?;
        let myself = user.id() == caller.id();
        let roles = caller.identity.roles();
        let full = myself || self.permits.has("view-full-other-user-info", &roles);
        let rooms =
            include_rooms && (myself || self.permits.has("view-other-user-channels", &roles));
        let rooms = match rooms {
            true => Some(self.user_rooms(user.id())?),
            false => None,
        };
        let mut shown = shown_fields(user, full);
        if let Some(rooms) = rooms {
            // An answer being shaped, not a stored document: `users.info` appends `rooms` last.
            shown.insert("rooms".into(), rooms.into());
        }
        Ok(Value::Object(shown))
    }

    /// `users.info`'s `rooms`: the user's subscriptions reduced to `_id, rid, name, t,
    /// roles, unread` (in their stored order), sorted by type, then name (absent first).
    fn user_rooms(&self, user_id: &str) -> ApiResult<Vec<Value>> {
        let mut subs = self.store.subscriptions_of_user(user_id)?;
        let key = |s: &crate::model::Subscription| {
            let at = |k: &str| s.0.get(k).and_then(Value::as_str).map(str::to_string);
            (at("t"), at("name"))
        };
        subs.sort_by_key(key);
        Ok(subs
            .into_iter()
            .map(|s| {
                let kept =
                    s.0.into_iter()
                        .filter(|(k, _)| ROOM_FIELDS.contains(&k.as_str()))
                        .collect();
                Value::Object(kept)
            })
            .collect())
    }
}

/// The fields of `user` a caller sees: all but those never shown, and without the private
/// ones unless `full` (`view-full-other-user-info`, or the user themself where allowed).
fn shown_fields(user: User, full: bool) -> Doc {
    user.0
        .into_iter()
        .filter(|(k, _)| !NEVER_SHOWN.contains(&k.as_str()))
        .filter(|(k, _)| full || !PRIVATE_FIELDS.contains(&k.as_str()))
        .collect()
}

/// `users.update`'s body, its types checked.
pub struct UpdateUser {
    pub user_id: String,
    pub data: ProfileUpdate,
}

/// `users.setPreferences`' body, its types checked.
pub struct SetPreferences {
    /// Whose preferences (`None`: the caller's).
    pub user_id: Option<String>,
    pub data: Doc,
}

impl Users {
    /// `users.update` (`saveUser`, then `setUserActiveStatus`): the checks in Rocket.Chat's
    /// order, one write, and the user as the caller may see them.
    pub async fn update_user(&self, caller: &Caller, req: UpdateUser) -> ApiResult<Value> {
        let roles = caller.identity.roles();
        let has = |p: &str| self.permits.has(p, &roles);
        let editor = Editor {
            myself: req.user_id == caller.id(),
            edit_other_info: has("edit-other-user-info"),
            edit_other_password: has("edit-other-user-password"),
            assign_roles: has("assign-roles"),
            assign_admin: has("assign-admin-role"),
        };
        let mut data = req.data;
        user_profile::check_data(&data, &editor, ROLES).map_err(refused)?;
        if data.set_random_password == Some(true) {
            data.password = Some(self.ids.secret());
            data.require_password_change = Some(true);
        }
        let id = req.user_id;
        let stored = self.store.user(&id)?.ok_or(ApiError::UpdatedUserNotFound)?;
        let settings = self.settings.snapshot();
        user_profile::check_editing(&data, &stored, &editor, &settings.profile_rules)
            .map_err(refused)?;
        let (username, name) = user_profile::identity(&data, &stored).map_err(refused)?;
        if let Some(new) = &username {
            // `checkUsernameAvailability`, unless only the letter case changes.
            let recased = stored
                .username()
                .is_some_and(|old| old.to_lowercase() == new.to_lowercase());
            let blocked = &settings.blocked_usernames;
            if !recased && username_is_blocked(new, &[&blocked[0], &blocked[1]]) {
                return Err(ApiError::BlockedUsername(new.clone()));
            }
        }
        let status_text = data
            .status_text
            .as_deref()
            .map(presence::status_text)
            .filter(|t| Some(t.as_str()) != stored.status_text());
        let email = match data.email.as_deref().filter(|e| !e.is_empty()) {
            None => None,
            Some(e) if !e.trim().contains('@') => {
                return Err(ApiError::InvalidNewEmail(e.trim().to_string()))
            }
            Some(e) if Some(e.trim()) == stored.first_email() => None,
            Some(e) => Some((e.trim().to_string(), data.verified == Some(true))),
        };
        let password = data
            .password
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty() && editor.edit_other_password)
            .map(str::to_string);
        let password_hash = match password {
            Some(p) => Some(hash_blocking(&self.hashing, move || hash_new_password(&p)).await?),
            None => None,
        };
        let change = ProfileChange {
            username,
            name,
            status_text,
            bio: user_profile::profile_text(ProfileText::Bio, data.bio.as_deref())
                .map_err(refused)?,
            nickname: user_profile::profile_text(ProfileText::Nickname, data.nickname.as_deref())
                .map_err(refused)?,
            roles: data.roles.clone(),
            require_password_change: data.require_password_change,
            verified: data
                .verified
                .filter(|_| data.email.as_deref().is_none_or(str::is_empty)),
            email,
            updated_at: time::iso(self.clock.now()),
        };
        let taken_email = change.email.as_ref().map(|(e, _)| e.clone());
        let (target, written) = (id.clone(), change);
        let saved = blocking_write(&self.store, move |s| {
            s.save_user(&target, &written, password_hash.as_deref())
        });
        let mut user = match saved.await {
            Ok(Some(user)) => user,
            Ok(None) => return Err(ApiError::UpdatedUserNotFound),
            Err(WriteError::Conflict(Conflict::Email)) => {
                return Err(ApiError::EmailUnavailable(taken_email.unwrap_or_default()))
            }
            Err(WriteError::Conflict(_)) => return Err(ApiError::IdentityNotSaved),
            Err(WriteError::Store(e)) => return Err(e.into()),
        };
        if let Some(active) = data.active {
            user = self.set_active(caller, &id, active).await?;
        }
        Ok(Value::Object(shown_fields(
            user,
            has("view-full-other-user-info"),
        )))
    }

    /// `setUserActiveStatus` (needs `edit-other-user-active-status`).
    async fn set_active(&self, caller: &Caller, id: &str, active: bool) -> ApiResult<User> {
        if !self
            .permits
            .has("edit-other-user-active-status", &caller.identity.roles())
        {
            return Err(ApiError::ActiveStatusNotAllowed);
        }
        let (id, at) = (id.to_string(), time::iso(self.clock.now()));
        let done = blocking_write(&self.store, move |s| s.set_user_active(&id, active, &at));
        match done.await? {
            Activation::Done(user) => Ok(user),
            Activation::LastAdmin => Err(ApiError::LastAdmin),
            Activation::NoUser => Err(ApiError::UpdatedUserNotFound),
        }
    }

    /// `users.setPreferences`: the preferences of the caller, or of another user for a
    /// holder of `edit-other-user-info`; answers `{_id, settings: {preferences}}`.
    pub async fn set_preferences(&self, caller: &Caller, req: SetPreferences) -> ApiResult<Value> {
        let id = match req.user_id {
            Some(other) if other != caller.id() => {
                if !self
                    .permits
                    .has("edit-other-user-info", &caller.identity.roles())
                {
                    return Err(ApiError::EditingOtherPreferencesNotAllowed);
                }
                other
            }
            _ => caller.id().to_string(),
        };
        let user = self
            .save_preferences(&id, req.data)
            .await?
            .ok_or(ApiError::PreferencesUserNotFound)?;
        Ok(json!({
            "_id": user.id(),
            "settings": {"preferences": user.preferences_with_language()},
        }))
    }

    /// `saveUserPreferences`: `prefs` stored on the user `id` and copied into their
    /// subscriptions; `None` if there is no such user.
    pub async fn save_preferences(&self, id: &str, prefs: Doc) -> ApiResult<Option<User>> {
        let prefs = preferences::normalise(prefs).map_err(|_| ApiError::InvalidIdleTimeLimit)?;
        let (id, at) = (id.to_string(), time::iso(self.clock.now()));
        Ok(blocking_write(&self.store, move |s| s.save_preferences(&id, &prefs, &at)).await?)
    }

    /// `users.getPreferences`: the caller's own preferences with their `language`.
    pub fn get_preferences(&self, caller: &Caller) -> ApiResult<Value> {
        let user = self.store.user(caller.id())?.ok_or(ApiError::NotLoggedIn)?;
        if !user.has_settings() {
            return Err(ApiError::PreferencesNotAvailable);
        }
        Ok(Value::Object(user.preferences_with_language()))
    }
}

/// The catalog's error for a refused update.
fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::EmailVerification => ApiError::OwnEmailVerification,
        Refusal::EditingUser => ApiError::EditingUserNotAllowed,
        Refusal::InvalidRole => ApiError::InvalidRole,
        Refusal::AssignAdmin => ApiError::AssignAdminNotAllowed,
        Refusal::InvalidUsername(u) => ApiError::InvalidUsername(u),
        Refusal::AssignRoles => ApiError::AssignRolesNotAllowed,
        Refusal::NotAllowed(edit) => ApiError::ProfileEditNotAllowed(edit),
        Refusal::Identity => ApiError::IdentityNotSaved,
        Refusal::TooLong(text) => ApiError::ProfileTextTooLong(text),
    }
}

/// A new argon2id hash of `password` under a fresh random salt: how every account's
/// password is stored. CPU-heavy: run it on the blocking pool.
pub fn hash_new_password(password: &str) -> anyhow::Result<String> {
    hash_password(password, &rand::random())
}

/// What `ensure_admin` found or did.
pub enum AdminAccount {
    Existing,
    Created,
    /// Created with this generated password, which the caller shows once.
    CreatedWithPassword(String),
}

/// Creates the configured admin account at first start when no admin exists, together with
/// what Rocket.Chat's `initialData` gives every new installation: the `rocket.cat` bot and
/// the default room `#general` (`GENERAL`), which the admin joins. Existing ones are kept.
/// The admin's password is hashed at `cost`.
pub fn ensure_admin(
    store: &Store,
    admin: &crate::config::AdminConfig,
    now: time::Millis,
    ids: &Ids,
    cost: Cost,
) -> anyhow::Result<AdminAccount> {
    // The configured account answers at once; only without it are all users looked at
    // (tens of milliseconds of start-up on a large database).
    let configured = match store.user_id_by_username(&admin.username)? {
        Some(id) => store.user_identity(&id)?,
        None => None,
    };
    if configured.is_some_and(|u| u.roles.iter().any(|r| r == "admin"))
        || store.any_user_has_role("admin")?
    {
        return Ok(AdminAccount::Existing);
    }
    let generated = admin.password.expose_secret().is_empty();
    let password = match generated {
        true => ids.secret(),
        false => admin.password.expose_secret().to_string(),
    };
    let phc = hash_password_at(cost, &password, &rand::random())?;
    let user = NewUser {
        id: &ids.id(),
        username: &admin.username,
        email: &admin.email,
        name: &admin.username,
        roles: vec!["admin".into()],
        verified: true,
        active: true,
        now,
    }
    .into_doc();
    if store.room(GENERAL)?.is_none() {
        let general = general_room(now);
        if store.room_id_by_name("general")?.is_none() {
            ignore_conflict(store.create_room(&general, &[]))?;
        }
    }
    if store.user(ROCKET_CAT)?.is_none() && store.user_id_by_username(ROCKET_CAT)?.is_none() {
        ignore_conflict(store.create_user(&rocket_cat(now), None, &[]))?;
    }
    // The admin joins silently, as Rocket.Chat's set-up does.
    let joins: Vec<_> = store
        .room(GENERAL)?
        .map(|general| (new_joined_subscription(&general, &user, now, ids), None))
        .into_iter()
        .collect();
    match store.create_user(&user, Some(&phc), &joins) {
        Err(WriteError::Conflict(_)) => anyhow::bail!(
            "cannot create the admin account: username '{}' or e-mail '{}' is taken by a non-admin user",
            admin.username,
            admin.email
        ),
        created => created?,
    }
    Ok(match generated {
        true => AdminAccount::CreatedWithPassword(password),
        false => AdminAccount::Created,
    })
}

/// A set-up step that another process starting on the same database may have done first:
/// its conflict is no error.
fn ignore_conflict(written: Result<(), WriteError>) -> Result<(), StoreError> {
    match written {
        Ok(()) | Err(WriteError::Conflict(_)) => Ok(()),
        Err(WriteError::Store(e)) => Err(e),
    }
}
