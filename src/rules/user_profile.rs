//! `users.update` (`saveUser`): who may change which field of a user, checked in Rocket.Chat's
//! order (`validateUserData`, then `validateUserEditing`, then `saveUserIdentity`), and the
//! change itself, which the store applies to the user as stored at the time of the write.

use crate::model::subscription::DirectNames;
use crate::model::user::{Names, ProfileText};
use crate::model::{Subscription, User};
use crate::rules::names::valid_name;

/// `users.update`'s `data`, its types checked; `null` counts as absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileUpdate {
    pub email: Option<String>,
    pub name: Option<String>,
    pub password: Option<String>,
    pub username: Option<String>,
    pub active: Option<bool>,
    pub bio: Option<String>,
    pub nickname: Option<String>,
    pub status_text: Option<String>,
    pub roles: Option<Vec<String>>,
    pub require_password_change: Option<bool>,
    pub set_random_password: Option<bool>,
    pub verified: Option<bool>,
}

/// What the caller may do, from their permissions, and whether they edit themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Editor {
    pub myself: bool,
    /// `edit-other-user-info`.
    pub edit_other_info: bool,
    /// `edit-other-user-password`.
    pub edit_other_password: bool,
    /// `assign-roles`.
    pub assign_roles: bool,
    /// `assign-admin-role`.
    pub assign_admin: bool,
}

/// The `Accounts_Allow*Change` settings: what users may change of their own profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileRules {
    pub user_profile: bool,
    pub username: bool,
    pub status_message: bool,
    pub real_name: bool,
    pub email: bool,
    pub password: bool,
}

impl Default for ProfileRules {
    /// Rocket.Chat's defaults: everything may change.
    fn default() -> Self {
        ProfileRules {
            user_profile: true,
            username: true,
            status_message: true,
            real_name: true,
            email: true,
            password: true,
        }
    }
}

/// The field `validateUserEditing` refuses to let the caller change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Profile,
    Username,
    StatusText,
    RealName,
    Email,
    Password,
}

/// Why an update is refused, each one of Rocket.Chat's errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A user marks their own address verified.
    EmailVerification,
    /// Another user, without `edit-other-user-info`.
    EditingUser,
    /// A role that does not exist.
    InvalidRole,
    /// `admin` given without `assign-admin-role`.
    AssignAdmin,
    /// The username fails `UTF8_User_Names_Validation`; echoes it.
    InvalidUsername(String),
    /// The roles change without `assign-roles`.
    AssignRoles,
    NotAllowed(Edit),
    /// `saveUserIdentity` failed: the new username is taken or the new name is blank.
    Identity,
    /// A profile text over its limit (`bio` 260, `nickname` 120 UTF-16 units).
    TooLong(ProfileText),
}

/// `validateUserData` for an update: the checks that need no stored user.
pub fn check_data(update: &ProfileUpdate, editor: &Editor, roles: &[&str]) -> Result<(), Refusal> {
    if update.verified == Some(true) && editor.myself {
        return Err(Refusal::EmailVerification);
    }
    if !editor.myself && !editor.edit_other_info {
        return Err(Refusal::EditingUser);
    }
    if let Some(given) = &update.roles {
        if given.iter().any(|r| !roles.contains(&r.as_str())) {
            return Err(Refusal::InvalidRole);
        }
        if given.iter().any(|r| r == "admin") && !editor.assign_admin {
            return Err(Refusal::AssignAdmin);
        }
    }
    match update.username.as_deref() {
        Some(u) if !u.is_empty() && !valid_name(u) => Err(Refusal::InvalidUsername(u.to_string())),
        _ => Ok(()),
    }
}

/// `validateUserEditing`: what of the stored user the caller may change.
pub fn check_editing(
    update: &ProfileUpdate,
    stored: &User,
    editor: &Editor,
    rules: &ProfileRules,
) -> Result<(), Refusal> {
    let edits =
        |old: Option<&str>, new: &Option<String>| new.as_deref().is_some_and(|n| Some(n) != old);
    let roles_change = update.roles.as_ref().is_some_and(|new| {
        let old = stored.roles();
        new.iter().any(|r| !old.contains(&r.as_str()))
            || old.iter().any(|r| !new.iter().any(|n| n == r))
    });
    if roles_change && !editor.assign_roles {
        return Err(Refusal::AssignRoles);
    }
    if !rules.user_profile && !editor.edit_other_info && !editor.edit_other_password {
        return Err(Refusal::NotAllowed(Edit::Profile));
    }
    // Only an editor of others, editing someone else, is exempt from the settings.
    let bound = !editor.edit_other_info || editor.myself;
    let refused = [
        (
            edits(stored.username(), &update.username) && !rules.username,
            Edit::Username,
        ),
        (
            edits(stored.status_text(), &update.status_text) && !rules.status_message,
            Edit::StatusText,
        ),
        (
            edits(stored.name(), &update.name) && !rules.real_name,
            Edit::RealName,
        ),
        (
            stored.first_email().is_some()
                && edits(stored.first_email(), &update.email)
                && !rules.email,
            Edit::Email,
        ),
    ];
    if let Some((_, edit)) = refused.iter().find(|(refused, _)| *refused && bound) {
        return Err(Refusal::NotAllowed(*edit));
    }
    let password = update.password.as_deref().is_some_and(|p| !p.is_empty());
    if password && !rules.password && (!editor.edit_other_password || editor.myself) {
        return Err(Refusal::NotAllowed(Edit::Password));
    }
    Ok(())
}

/// A change to a user, decided: each field is set as given (`None`: left alone).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileChange {
    /// The new username, when it differs from the stored one.
    pub username: Option<String>,
    /// The new name, when it differs from the stored one.
    pub name: Option<String>,
    pub status_text: Option<String>,
    /// The new address and whether it is verified (`setEmail`).
    pub email: Option<(String, bool)>,
    /// `None` removes the text (`saveUser` sets or removes both on every update).
    pub bio: Option<String>,
    pub nickname: Option<String>,
    pub roles: Option<Vec<String>>,
    pub require_password_change: Option<bool>,
    /// `emails.0.verified`, when no new address is given.
    pub verified: Option<bool>,
    pub updated_at: String,
}

impl ProfileChange {
    /// Whether the username or the name changes: what DM subscriptions name.
    pub fn renames(&self) -> bool {
        self.username.is_some() || self.name.is_some()
    }

    /// Applies the change to `user` as stored; the old username, if it changed. Fields are
    /// set in lexicographic order, as MongoDB applies one update's `$set`: a field the
    /// user lacked is appended in that order.
    pub fn apply(&self, user: &mut User) -> Option<String> {
        let old_username = self
            .username
            .as_ref()
            .and(user.username().map(str::to_string));
        user.set_profile_text(ProfileText::Bio, self.bio.as_deref());
        if let Some((address, verified)) = &self.email {
            user.set_email(address, *verified);
        }
        if let Some(v) = self.verified {
            user.set_email_verified(v);
        }
        if let Some(n) = &self.name {
            user.set_name(n);
        }
        user.set_profile_text(ProfileText::Nickname, self.nickname.as_deref());
        if let Some(r) = self.require_password_change {
            user.set_require_password_change_and_reason(r);
        }
        if let Some(r) = &self.roles {
            user.set_roles(r);
        }
        if let Some(t) = &self.status_text {
            user.set_status_text(t);
        }
        if let Some(u) = &self.username {
            user.set_username(u);
        }
        user.set_updated_at(&self.updated_at);
        old_username
    }
}

/// `saveUserIdentity`'s own checks: the new username (trimmed) and name (trimmed) where
/// they differ from the stored ones. A username taken by another user is decided by the
/// write; a blank name is refused (`Accounts_RequireNameForSignUp`).
pub fn identity(
    update: &ProfileUpdate,
    stored: &User,
) -> Result<(Option<String>, Option<String>), Refusal> {
    let username = match update.username.as_deref().map(str::trim) {
        Some(u) if Some(u) != stored.username() => {
            // `validateName` keeps the names of group mentions free.
            if !valid_name(u) || ["all", "here"].contains(&u.to_lowercase().as_str()) {
                return Err(Refusal::Identity);
            }
            Some(u.to_string())
        }
        _ => None,
    };
    let name = match update.name.as_deref().map(str::trim) {
        Some(n) if Some(n) != stored.name() => {
            if n.is_empty() {
                return Err(Refusal::Identity);
            }
            Some(n.to_string())
        }
        _ => None,
    };
    Ok((username, name))
}

/// `updateDirectNameAndFnameByName` / `updateGroupDMsName` for one DM subscription: the
/// renamed member's username (in `name`) and display name (in `fname`) replaced where they
/// stand among the other members'. Whether anything changed.
pub fn rename_in_direct(sub: &mut Subscription, old: &Names, new: &Names) -> bool {
    fn replace(list: Option<&str>, from: Option<&str>, to: Option<&str>) -> Option<String> {
        let (list, from, to) = (list?, from?, to?);
        let joined = list
            .split(", ")
            .map(|item| if item == from { to } else { item })
            .collect::<Vec<_>>()
            .join(", ");
        (joined != list).then_some(joined)
    }
    let display = |n: &'_ Names| n.name.clone().or_else(|| n.username.clone());
    let (old_display, new_display) = (display(old), display(new));
    let name = replace(sub.name(), old.username.as_deref(), new.username.as_deref());
    let fname = replace(sub.fname(), old_display.as_deref(), new_display.as_deref());
    if name.is_none() && fname.is_none() {
        return false;
    }
    let names = DirectNames {
        name: name.unwrap_or_else(|| sub.name().unwrap_or_default().to_string()),
        fname: fname.unwrap_or_else(|| sub.fname().unwrap_or_default().to_string()),
    };
    sub.set_direct_names(&names);
    true
}

/// `handleBio` / `handleNickname`: a text that is not blank is kept as given, within its
/// limit; a blank or absent one removes the field.
pub fn profile_text(field: ProfileText, text: Option<&str>) -> Result<Option<String>, Refusal> {
    let limit = match field {
        ProfileText::Bio => 260,
        ProfileText::Nickname => 120,
    };
    match text {
        Some(t) if !t.trim().is_empty() => match t.encode_utf16().count() > limit {
            true => Err(Refusal::TooLong(field)),
            false => Ok(Some(t.to_string())),
        },
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::object;
    use proptest::prelude::*;
    use serde_json::json;

    fn stored() -> User {
        User(object(json!({
            "_id": "u1", "username": "carol", "name": "Carol",
            "emails": [{"address": "carol@example.com", "verified": false}],
            "roles": ["user"], "statusText": "hi",
        })))
    }

    const ROLES: &[&str] = &["admin", "user", "bot"];

    fn admin() -> Editor {
        Editor {
            myself: false,
            edit_other_info: true,
            edit_other_password: true,
            assign_roles: true,
            assign_admin: true,
        }
    }

    fn myself() -> Editor {
        Editor {
            myself: true,
            ..Editor::default()
        }
    }

    #[test]
    fn the_data_checks_run_in_rocket_chats_order() {
        let verify_own = ProfileUpdate {
            verified: Some(true),
            roles: Some(vec!["x".into()]),
            ..Default::default()
        };
        assert_eq!(
            check_data(&verify_own, &myself(), ROLES),
            Err(Refusal::EmailVerification)
        );
        let other = ProfileUpdate {
            name: Some("X".into()),
            ..Default::default()
        };
        assert_eq!(
            check_data(&other, &Editor::default(), ROLES),
            Err(Refusal::EditingUser)
        );
        let unknown = ProfileUpdate {
            roles: Some(vec!["admin".into(), "x".into()]),
            ..Default::default()
        };
        assert_eq!(
            check_data(
                &unknown,
                &Editor {
                    assign_admin: false,
                    ..admin()
                },
                ROLES
            ),
            Err(Refusal::InvalidRole)
        );
        let to_admin = ProfileUpdate {
            roles: Some(vec!["admin".into()]),
            ..Default::default()
        };
        assert_eq!(
            check_data(
                &to_admin,
                &Editor {
                    assign_admin: false,
                    ..admin()
                },
                ROLES
            ),
            Err(Refusal::AssignAdmin)
        );
        let bad = ProfileUpdate {
            username: Some("a b".into()),
            ..Default::default()
        };
        assert_eq!(
            check_data(&bad, &admin(), ROLES),
            Err(Refusal::InvalidUsername("a b".into()))
        );
        assert_eq!(check_data(&other, &myself(), ROLES), Ok(()));
    }

    #[test]
    fn the_settings_bind_users_but_not_editors_of_others() {
        let none = ProfileRules {
            user_profile: true,
            username: false,
            status_message: false,
            real_name: false,
            email: false,
            password: false,
        };
        let s = stored();
        let rename = ProfileUpdate {
            name: Some("Caroline".into()),
            ..Default::default()
        };
        assert_eq!(
            check_editing(&rename, &s, &myself(), &none),
            Err(Refusal::NotAllowed(Edit::RealName))
        );
        assert_eq!(check_editing(&rename, &s, &admin(), &none), Ok(()));
        // The same value is no edit.
        let same = ProfileUpdate {
            name: Some("Carol".into()),
            username: Some("carol".into()),
            ..Default::default()
        };
        assert_eq!(check_editing(&same, &s, &myself(), &none), Ok(()));
        let admin_self = Editor {
            myself: true,
            ..admin()
        };
        let pw = ProfileUpdate {
            password: Some("p".into()),
            ..Default::default()
        };
        assert_eq!(
            check_editing(&pw, &s, &admin_self, &none),
            Err(Refusal::NotAllowed(Edit::Password))
        );
        let locked = ProfileRules {
            user_profile: false,
            ..ProfileRules::default()
        };
        assert_eq!(
            check_editing(&same, &s, &myself(), &locked),
            Err(Refusal::NotAllowed(Edit::Profile))
        );
        let roles = ProfileUpdate {
            roles: Some(vec!["user".into(), "bot".into()]),
            ..Default::default()
        };
        assert_eq!(
            check_editing(
                &roles,
                &s,
                &Editor {
                    assign_roles: false,
                    ..admin()
                },
                &ProfileRules::default()
            ),
            Err(Refusal::AssignRoles)
        );
        let same_roles = ProfileUpdate {
            roles: Some(vec!["user".into()]),
            ..Default::default()
        };
        assert_eq!(
            check_editing(&same_roles, &s, &myself(), &ProfileRules::default()),
            Ok(())
        );
    }

    #[test]
    fn identity_changes_only_what_differs() {
        let s = stored();
        let u = ProfileUpdate {
            username: Some(" carol2 ".into()),
            name: Some("Carol".into()),
            ..Default::default()
        };
        assert_eq!(identity(&u, &s), Ok((Some("carol2".into()), None)));
        let all = ProfileUpdate {
            username: Some("ALL".into()),
            ..Default::default()
        };
        assert_eq!(identity(&all, &s), Err(Refusal::Identity));
        let blank = ProfileUpdate {
            name: Some("  ".into()),
            ..Default::default()
        };
        assert_eq!(identity(&blank, &s), Err(Refusal::Identity));
    }

    #[test]
    fn applying_a_change_sets_its_fields_in_place() {
        let mut u = stored();
        let change = ProfileChange {
            username: Some("carol2".into()),
            name: Some("Caroline".into()),
            email: Some(("c2@example.com".into(), true)),
            bio: Some("about".into()),
            require_password_change: Some(false),
            updated_at: "2026-01-01T00:00:00.000Z".into(),
            ..Default::default()
        };
        assert_eq!(change.apply(&mut u), Some("carol".into()));
        assert_eq!(
            (u.username(), u.name(), u.first_email()),
            (Some("carol2"), Some("Caroline"), Some("c2@example.com"))
        );
        assert_eq!(u.verified_email(), Some("c2@example.com"));
        let keys: Vec<&str> = u.0.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "_id",
                "username",
                "name",
                "emails",
                "roles",
                "statusText",
                "bio",
                "requirePasswordChange",
                "_updatedAt"
            ]
        );
    }

    #[test]
    fn a_rename_replaces_the_member_where_they_stand() {
        let mut s = Subscription(object(json!({"name": "bob, carol", "fname": "Bob, Carol"})));
        let old = Names {
            username: Some("carol".into()),
            name: Some("Carol".into()),
        };
        let new = Names {
            username: Some("carol2".into()),
            name: Some("Caroline".into()),
        };
        assert!(rename_in_direct(&mut s, &old, &new));
        assert_eq!(
            (s.name(), s.fname()),
            (Some("bob, carol2"), Some("Bob, Caroline"))
        );
        assert!(
            !rename_in_direct(&mut s, &old, &new),
            "nothing left to rename"
        );
        // Without a name, the username stands in `fname` too.
        let mut s = Subscription(object(json!({"name": "dave", "fname": "dave"})));
        let old = Names {
            username: Some("dave".into()),
            name: None,
        };
        let new = Names {
            username: Some("dave".into()),
            name: Some("Dave".into()),
        };
        assert!(rename_in_direct(&mut s, &old, &new));
        assert_eq!((s.name(), s.fname()), (Some("dave"), Some("Dave")));
    }

    proptest! {
        /// A text that is not blank is kept as given unless over its limit; any other
        /// removes the field.
        #[test]
        fn profile_texts_are_kept_or_removed(t in "[ a-zé]{0,300}") {
            match profile_text(ProfileText::Bio, Some(&t)) {
                Ok(None) => prop_assert!(t.trim().is_empty()),
                Ok(Some(kept)) => {
                    prop_assert_eq!(&kept, &t);
                    prop_assert!(t.encode_utf16().count() <= 260);
                }
                Err(e) => {
                    prop_assert_eq!(e, Refusal::TooLong(ProfileText::Bio));
                    prop_assert!(t.encode_utf16().count() > 260 && !t.trim().is_empty());
                }
            }
        }

        /// An editor of others, editing someone else, passes every setting; a user editing
        /// themself passes exactly when each field they change is allowed.
        #[test]
        fn settings_decide_own_edits(
            username: bool, status: bool, name: bool, email: bool,
            change_name: bool, change_username: bool,
        ) {
            let rules = ProfileRules { user_profile: true, username, status_message: status, real_name: name, email, password: true };
            let update = ProfileUpdate {
                name: change_name.then(|| "Other".to_string()),
                username: change_username.then(|| "other".to_string()),
                ..Default::default()
            };
            prop_assert_eq!(check_editing(&update, &stored(), &admin(), &rules), Ok(()));
            let allowed = (!change_name || name) && (!change_username || username);
            prop_assert_eq!(check_editing(&update, &stored(), &myself(), &rules).is_ok(), allowed);
        }
    }
}
