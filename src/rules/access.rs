//! Who may read a room: Rocket.Chat's `canAccessRoom` validator chain (spec §1.4, §0.3).
//! Admins get no bypass; a public room of a team is open as its team decides (a private
//! team's only to its members); discussions defer to their parent.

use indexmap::IndexMap;

use crate::model::RoomType;

/// Permission id → roles that hold it, in Rocket.Chat's listing order (defaults first).
#[derive(Debug, Clone)]
pub struct Permissions(IndexMap<String, Vec<String>>);

/// Every role of a fresh Rocket.Chat (`Roles`): global ones and the room-scoped `owner`,
/// `moderator` and `leader`. `permissions.update` accepts only these.
pub const ROLES: &[&str] = &[
    "admin",
    "moderator",
    "leader",
    "owner",
    "user",
    "bot",
    "app",
    "guest",
    "anonymous",
    "livechat-agent",
    "livechat-manager",
    "livechat-monitor",
];

/// Rocket.Chat's default roles for the permissions rcpush checks (`upsertPermissions.ts`).
const DEFAULTS: &[(&str, &[&str])] = &[
    ("view-c-room", &["admin", "user", "bot", "app", "anonymous"]),
    // Reading a public channel's messages without joining it (`loadHistory`), and subscribing
    // to them (streams, realtime.md §4.1).
    ("preview-c-room", &["admin", "user", "anonymous"]),
    ("view-d-room", &["admin", "user", "bot", "app", "guest"]),
    ("view-p-room", &["admin", "user", "anonymous", "guest"]),
    ("view-joined-room", &["guest", "bot", "app", "anonymous"]),
    (
        "view-livechat-rooms",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    ("create-c", &["admin", "user", "bot", "app"]),
    ("create-p", &["admin", "user", "bot", "app"]),
    ("create-d", &["admin", "user", "bot", "app"]),
    ("create-user", &["admin"]),
    // users.update: editing others, their passwords, and the roles anyone holds.
    ("edit-other-user-info", &["admin"]),
    ("edit-other-user-password", &["admin"]),
    ("edit-other-user-active-status", &["admin"]),
    ("assign-roles", &["admin"]),
    ("assign-admin-role", &["admin"]),
    ("view-full-other-user-info", &["admin"]),
    ("view-other-user-channels", &["admin"]),
    ("add-user-to-joined-room", &["admin", "owner", "moderator"]),
    ("add-user-to-any-c-room", &["admin"]),
    ("add-user-to-any-p-room", &[]),
    ("remove-user", &["admin", "owner", "moderator"]),
    ("leave-c", &["admin", "user", "bot", "anonymous", "app"]),
    ("leave-p", &["admin", "user", "bot", "anonymous", "app"]),
    ("view-privileged-setting", &["admin"]),
    ("edit-privileged-setting", &["admin"]),
    ("test-push-notifications", &["admin", "user"]),
    ("get-server-info", &["admin"]),
    ("post-readonly", &["admin", "owner", "moderator"]),
    ("message-impersonate", &["bot", "app"]),
    ("edit-message", &["admin", "owner", "moderator"]),
    ("delete-message", &["admin", "owner", "moderator"]),
    ("delete-own-message", &["admin", "user"]),
    ("force-delete-message", &["admin", "owner"]),
    ("delete-c", &["admin", "owner"]),
    ("delete-p", &["admin", "owner"]),
    ("edit-room", &["admin", "owner", "moderator"]),
    ("view-room-administration", &["admin"]),
    ("access-permissions", &["admin"]),
    ("kick-user-from-any-c-room", &["admin"]),
    ("kick-user-from-any-p-room", &[]),
    ("api-bypass-rate-limit", &["admin", "bot", "app"]),
    // Issue 28: permissions Rocket.Chat's own REST tests update, so that their set-up hooks
    // succeed; rcpush checks none of these yet (README, "Rocket.Chat's own tests").
    ("pin-message", &["owner", "moderator", "admin"]),
    ("join-without-join-code", &["admin", "bot", "app"]),
    ("manage-incoming-integrations", &["admin"]),
    ("manage-own-incoming-integrations", &["admin"]),
    ("manage-outgoing-integrations", &["admin"]),
    ("manage-own-outgoing-integrations", &["admin"]),
    (
        "view-outside-room",
        &["admin", "owner", "moderator", "user"],
    ),
    ("edit-other-user-avatar", &["admin"]),
    ("delete-user", &["admin"]),
    ("logout-other-user", &["admin"]),
    ("create-personal-access-tokens", &["admin", "user"]),
    ("manage-moderation-actions", &["admin"]),
    // Teams (issue 28). Checked in the team's main room, so its owners and moderators count.
    ("create-team", &["admin", "user"]),
    ("delete-team", &["admin", "owner"]),
    ("edit-team", &["admin", "owner"]),
    ("convert-team", &["admin", "owner"]),
    ("add-team-member", &["admin", "owner", "moderator"]),
    ("edit-team-member", &["admin", "owner", "moderator"]),
    ("add-team-channel", &["admin", "owner", "moderator"]),
    ("move-room-to-team", &["admin", "owner", "moderator"]),
    ("edit-team-channel", &["admin", "owner", "moderator"]),
    ("remove-team-channel", &["admin", "owner", "moderator"]),
    ("create-team-channel", &["admin", "owner", "moderator"]),
    ("create-team-group", &["admin", "owner", "moderator"]),
    ("delete-team-channel", &["admin", "owner", "moderator"]),
    ("delete-team-group", &["admin", "owner", "moderator"]),
    ("view-all-team-channels", &["admin", "owner"]),
    ("view-all-teams", &["admin"]),
];

impl Default for Permissions {
    fn default() -> Self {
        Permissions(
            DEFAULTS
                .iter()
                .map(|(p, roles)| (p.to_string(), roles.iter().map(|r| r.to_string()).collect()))
                .collect(),
        )
    }
}

impl Permissions {
    /// The defaults with whole rows replaced by `overrides`.
    pub fn with_overrides<'a>(
        overrides: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
    ) -> Self {
        let mut p = Permissions::default();
        for (perm, roles) in overrides {
            p.0.insert(perm.clone(), roles.clone());
        }
        p
    }

    /// Gives `permission` exactly `roles` (a known permission, or a new one).
    pub fn set(&mut self, permission: &str, roles: Vec<String>) {
        self.0.insert(permission.to_string(), roles);
    }

    pub fn contains(&self, permission: &str) -> bool {
        self.0.contains_key(permission)
    }

    /// Every permission with its roles, defaults first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(p, r)| (p.as_str(), r.as_slice()))
    }

    /// Whether any of `roles` holds `permission`.
    pub fn has(&self, permission: &str, roles: &[&str]) -> bool {
        self.0
            .get(permission)
            .is_some_and(|holders| holders.iter().any(|h| roles.contains(&h.as_str())))
    }
}

/// What the chain needs to know about a room.
#[derive(Debug, Clone, Copy)]
pub struct RoomFacts<'a> {
    pub t: RoomType,
    /// The parent room of a discussion.
    pub prid: Option<&'a str>,
    /// The room's `teamId`.
    pub team: Option<&'a str>,
}

/// The caller and the team of a public room in a team, as validator 1 asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamStanding {
    /// A public team (`type` 0): its rooms are as open as any public room.
    PublicTeam,
    /// A private team (or one that is gone) the caller is a member of.
    Member,
    /// A private team (or one that is gone) the caller is not a member of.
    Outsider,
}

/// What the caller of the chain found out when asked (`None`: not looked up yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Known {
    pub subscribed: Option<bool>,
    pub team: Option<TeamStanding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'a> {
    Granted,
    Denied,
    /// A discussion the caller may read iff they may read this parent room.
    AsParent(&'a str),
    /// The answer depends on whether the caller is subscribed: ask again knowing it.
    NeedsSubscription,
    /// The answer depends on this team and the caller's membership: ask again knowing it.
    NeedsTeam(&'a str),
}

/// One step of the chain for `room`; the caller follows `AsParent` (with a depth limit).
/// What costs a lookup (the subscription, the team) may be unknown at first: the rule
/// answers `NeedsTeam` or `NeedsSubscription` only when the answer depends on it.
pub fn can_access_room<'a>(
    room: RoomFacts<'a>,
    roles: &[&str],
    perms: &Permissions,
    known: Known,
) -> Access<'a> {
    if room.t == RoomType::Channel {
        match room.team {
            // Validator 1: a public room of a team, open as its team says.
            Some(team) => match known.team {
                None => return Access::NeedsTeam(team),
                Some(TeamStanding::PublicTeam) if perms.has("view-c-room", roles) => {
                    return Access::Granted
                }
                Some(TeamStanding::Member) => return Access::Granted,
                Some(_) => {}
            },
            // Validator 2: a public room outside teams is open to holders of view-c-room.
            None if perms.has("view-c-room", roles) => return Access::Granted,
            None => {}
        }
    }
    // Validator 3: a joined room, with view-joined-room or the room type's view permission.
    let by_type = room.t.view_permission();
    if perms.has("view-joined-room", roles) || by_type.is_some_and(|p| perms.has(p, roles)) {
        match known.subscribed {
            None => return Access::NeedsSubscription,
            Some(true) => return Access::Granted,
            Some(false) => {}
        }
    }
    // Validator 5: omnichannel rooms, for livechat staff only. Any validator that grants
    // is enough, so this one goes before the discussion step, which defers to the parent.
    if matches!(room.t, RoomType::Livechat | RoomType::Voip)
        && perms.has("view-livechat-rooms", roles)
    {
        return Access::Granted;
    }
    // Validator 4: a discussion inherits its parent's access.
    if let Some(prid) = room.prid {
        return Access::AsParent(prid);
    }
    Access::Denied
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_permission_is_listed_once() {
        let mut ids: Vec<&str> = DEFAULTS.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "a permission id is listed twice");
    }

    fn check<'a>(t: &'a str, subscribed: bool, roles: &[&str], p: &Permissions) -> Access<'a> {
        let t = RoomType::of(t);
        let known = Known {
            subscribed: Some(subscribed),
            team: None,
        };
        can_access_room(
            RoomFacts {
                t,
                prid: None,
                team: None,
            },
            roles,
            p,
            known,
        )
    }

    fn subscribed(s: bool) -> Known {
        Known {
            subscribed: Some(s),
            team: None,
        }
    }

    const STANDINGS: [TeamStanding; 3] = [
        TeamStanding::PublicTeam,
        TeamStanding::Member,
        TeamStanding::Outsider,
    ];

    #[test]
    fn default_matrix() {
        let p = Permissions::default();
        let user = ["user"];
        let guest = ["guest"];
        let admin = ["admin"];
        assert_eq!(check("c", false, &user, &p), Access::Granted);
        assert_eq!(check("c", false, &guest, &p), Access::Denied);
        assert_eq!(check("c", true, &guest, &p), Access::Granted);
        assert_eq!(check("p", false, &user, &p), Access::Denied);
        assert_eq!(check("p", false, &admin, &p), Access::Denied);
        assert_eq!(check("p", true, &user, &p), Access::Granted);
        assert_eq!(check("d", false, &admin, &p), Access::Denied);
        assert_eq!(check("d", true, &guest, &p), Access::Granted);
        assert_eq!(check("l", false, &user, &p), Access::Denied);
        assert_eq!(check("l", false, &admin, &p), Access::Granted);
        let discussion = RoomFacts {
            t: RoomType::Group,
            prid: Some("parent"),
            team: None,
        };
        assert_eq!(
            can_access_room(discussion, &user, &p, subscribed(false)),
            Access::AsParent("parent")
        );
        // A livechat discussion is open to livechat staff whatever its parent allows.
        let livechat_discussion = RoomFacts {
            t: RoomType::Livechat,
            prid: Some("parent"),
            team: None,
        };
        assert_eq!(
            can_access_room(
                livechat_discussion,
                &["livechat-manager"],
                &p,
                subscribed(false)
            ),
            Access::Granted
        );
    }

    #[test]
    fn a_public_room_of_a_private_team_is_for_its_members() {
        let p = Permissions::default();
        let room = RoomFacts {
            t: RoomType::Channel,
            prid: None,
            team: Some("T"),
        };
        let ask = |roles: &[&str], team, subscribed| {
            can_access_room(room, roles, &p, Known { subscribed, team })
        };
        assert_eq!(ask(&["user"], None, None), Access::NeedsTeam("T"));
        assert_eq!(
            ask(&["user"], Some(TeamStanding::PublicTeam), None),
            Access::Granted
        );
        assert_eq!(
            ask(&["guest"], Some(TeamStanding::Member), None),
            Access::Granted
        );
        // Not even an admin reads it from outside, unless subscribed (validator 3).
        assert_eq!(
            ask(&["admin"], Some(TeamStanding::Outsider), None),
            Access::NeedsSubscription
        );
        assert_eq!(
            ask(&["admin"], Some(TeamStanding::Outsider), Some(false)),
            Access::Denied
        );
        assert_eq!(
            ask(&["admin"], Some(TeamStanding::Outsider), Some(true)),
            Access::Granted
        );
        // A public team's room needs view-c-room, as any public room.
        assert_eq!(
            ask(&["guest"], Some(TeamStanding::PublicTeam), Some(false)),
            Access::Denied
        );
        // A team's private group is a private group: the team is never asked.
        let group = RoomFacts {
            t: RoomType::Group,
            ..room
        };
        assert_eq!(
            can_access_room(group, &["user"], &p, Known::default()),
            Access::NeedsSubscription
        );
    }

    #[test]
    fn overrides_replace_rows() {
        let o: indexmap::IndexMap<String, Vec<String>> =
            [("view-c-room".to_string(), vec!["guest".to_string()])]
                .into_iter()
                .collect();
        let p = Permissions::with_overrides(&o);
        assert!(p.has("view-c-room", &["guest"]));
        assert!(!p.has("view-c-room", &["user"]));
    }

    proptest! {
        /// Without a subscription, only public channels (and livechat for staff) can be read;
        /// a subscription is never required for a readable public channel.
        #[test]
        fn non_members_never_read_private_rooms(
            t in prop::sample::select(vec!["c", "p", "d", "l", "v", "x"]),
            roles in prop::collection::vec(
                prop::sample::select(vec!["admin", "user", "guest", "bot", "app", "anonymous", "owner"]), 0..4),
        ) {
            let p = Permissions::default();
            let r: Vec<&str> = roles.clone();
            let got = check(t, false, &r, &p);
            if matches!(t, "p" | "d" | "x") {
                prop_assert_eq!(got, Access::Denied);
            }
            if got == Access::Granted {
                let member = check(t, true, &r, &p);
                prop_assert_eq!(member, Access::Granted);
            }
        }

        /// Knowing the subscription or the team never changes an answer given without
        /// it, and once both are known the rule asks for nothing more.
        #[test]
        fn lookups_are_asked_for_only_when_they_matter(
            t in prop::sample::select(vec!["c", "p", "d", "l", "v", "x"]),
            prid in prop::option::of(Just("parent")),
            team in prop::option::of(Just("team")),
            subscribed: bool,
            standing in prop::sample::select(STANDINGS.to_vec()),
            roles in prop::collection::vec(
                prop::sample::select(vec!["admin", "user", "guest", "bot", "app", "anonymous", "livechat-manager"]), 0..4),
        ) {
            let p = Permissions::default();
            let room = RoomFacts { t: RoomType::of(t), prid, team };
            let all = Known { subscribed: Some(subscribed), team: Some(standing) };
            let answer = can_access_room(room, &roles, &p, all);
            prop_assert!(!matches!(answer, Access::NeedsSubscription | Access::NeedsTeam(_)));
            for partial in [
                Known::default(),
                Known { subscribed: Some(subscribed), team: None },
                Known { subscribed: None, team: Some(standing) },
            ] {
                let first = can_access_room(room, &roles, &p, partial);
                let asked = match first {
                    Access::NeedsSubscription => partial.subscribed.is_none(),
                    Access::NeedsTeam(_) => partial.team.is_none() && team.is_some(),
                    _ => { prop_assert_eq!(first, answer); true }
                };
                prop_assert!(asked, "asked for what it knew: {:?}", first);
            }
        }

        /// Team rule (validator 1): an outsider of a private team reads its public room
        /// only when subscribed, whatever their roles; a member always does.
        #[test]
        fn outsiders_of_a_private_team_need_a_subscription(
            subscribed: bool,
            roles in prop::collection::vec(
                prop::sample::select(vec!["admin", "user", "guest", "bot", "app", "anonymous", "owner"]), 0..4),
        ) {
            let p = Permissions::default();
            let room = RoomFacts { t: RoomType::Channel, prid: None, team: Some("T") };
            let outsider = Known { subscribed: Some(subscribed), team: Some(TeamStanding::Outsider) };
            let member = Known { subscribed: Some(subscribed), team: Some(TeamStanding::Member) };
            if !subscribed {
                prop_assert_eq!(can_access_room(room, &roles, &p, outsider), Access::Denied);
            }
            prop_assert_eq!(can_access_room(room, &roles, &p, member), Access::Granted);
        }
    }
}
