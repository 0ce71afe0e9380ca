//! Teams (`teams.*`, Rocket.Chat's `TeamService`): a team is a main room plus the
//! memberships that open the team's public rooms to its members (`rules::access`).
//! Permissions are checked in the main room, so its owners and moderators count.

use serde_json::{json, Value};

use super::access::RoomAccess;
use super::auth::Caller;
use super::blocking::blocking_write;
use super::directory::{Directory, UserRef};
use super::permits::Permits;
use super::system_messages::SystemMessages;
use crate::delivery::Delivery;
use crate::error::{ApiError, ApiResult, TeamFailure};
use crate::model::id::{Ids, UserId};
use crate::model::room::new_group_room;
use crate::model::subscription::{new_group_subscription, new_joined_subscription};
use crate::model::team::{new_team, new_team_member, TeamType};
use crate::model::time::{self, Clock};
use crate::model::{Room, RoomType, Team, TeamMember, User};
use crate::rules::names::valid_name;
use crate::store::{Conflict, SystemMessage, TeamExit, TeamsView, WriteError};

/// A team named by `teamId` or `teamName` (the first non-empty one, as
/// `getTeamByIdOrName`); `None` when neither is given.
pub enum TeamRef {
    Id(String),
    Name(String),
}

/// `teams.create`'s body, its types checked.
pub struct CreateTeam {
    pub name: String,
    pub kind: TeamType,
    /// Ids or usernames.
    pub members: Vec<String>,
}

/// One entry of `teams.addMembers`' `members`.
pub struct NewMember {
    pub user_id: String,
    pub roles: Vec<String>,
}

/// `teams.listRooms`' filters.
pub struct RoomsFilter {
    /// Part of the name, any case.
    pub name: Option<String>,
    /// `type=autoJoin`: the rooms members join with the team.
    pub auto_join: bool,
}

/// A page of `teams.members`.
pub struct MembersPage {
    pub members: Vec<Value>,
    pub total: usize,
}

#[derive(Clone)]
pub struct Teams {
    pub(super) store: TeamsView,
    pub(super) permits: Permits,
    pub(super) access: RoomAccess,
    pub(super) directory: Directory,
    pub(super) system: SystemMessages,
    pub(super) clock: Clock,
    pub(super) ids: Ids,
    /// Counts the pushes the rooms a deleted team takes along withdraw from the outbox.
    pub(super) delivery: Delivery,
}

impl Teams {
    /// `teams.create`: the main room (private for a private team) with the caller as its
    /// owner and the active users among `members`, the team, and its memberships (the
    /// caller's with `owner`), in one write.
    pub async fn create(&self, caller: &Caller, create: ApiResult<CreateTeam>) -> ApiResult<Team> {
        if !self.permits.has("create-team", &caller.identity.roles()) {
            return Err(ApiError::Unauthorized);
        }
        let create = create?;
        let name = create.name;
        if self.store.user_by_username(&name)?.is_some() {
            return Err(ApiError::Team(TeamFailure::NameTaken));
        }
        if self.store.room_by_name(&name)?.is_some() {
            return Err(ApiError::Team(TeamFailure::RoomNameTaken));
        }
        // The main room is made inside a `try` that reports any failure as this.
        if !valid_name(&name) {
            return Err(ApiError::Team(TeamFailure::Creation));
        }
        let owner = self.directory.caller_user(caller)?;
        let mut users: Vec<User> = vec![owner.clone()];
        for who in &create.members {
            let found = match self.store.user(who)? {
                Some(u) => Some(u),
                None => self.store.user_by_username(who)?,
            };
            if let Some(u) = found.filter(User::is_active) {
                if !users.iter().any(|x| x.id() == u.id()) {
                    users.push(u);
                }
            }
        }
        let now = self.clock.now();
        let (team_id, room_id) = (self.ids.id(), self.ids.id());
        let t = match create.kind {
            TeamType::Public => RoomType::Channel,
            TeamType::Private => RoomType::Group,
        };
        let mut room = new_group_room(&room_id, t, &name, &owner, users.len(), false, now);
        room.set_team(&team_id, true);
        let subs: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(i, u)| new_group_subscription(&room, u, i == 0, now, &self.ids))
            .collect();
        let created_by = created_by(caller);
        let team = new_team(
            &team_id,
            &name,
            create.kind,
            created_by.clone(),
            &room_id,
            now,
        );
        // The others first, then the owner, as `Team.create` inserts them.
        let members: Vec<TeamMember> = users
            .iter()
            .skip(1)
            .chain(std::iter::once(&owner))
            .map(|u| {
                let roles: &[&str] = if u.id() == owner.id() {
                    &["owner"]
                } else {
                    &[]
                };
                new_team_member(
                    &self.ids.id(),
                    &team_id,
                    u.id(),
                    roles,
                    created_by.clone(),
                    now,
                )
            })
            .collect();
        let stored = team.clone();
        match blocking_write(&self.store, move |s| {
            s.create_team(&stored, &room, &subs, &members)
        })
        .await
        {
            Ok(()) => Ok(team),
            Err(WriteError::Conflict(Conflict::RoomName)) => {
                Err(ApiError::Team(TeamFailure::RoomNameTaken))
            }
            Err(WriteError::Conflict(_)) => Err(ApiError::Team(TeamFailure::Creation)),
            Err(WriteError::Store(e)) => Err(e.into()),
        }
    }

    /// `teams.info`: the team, for those who may read its main room or hold `view-all-teams`.
    pub fn info(&self, caller: &Caller, team: Option<TeamRef>) -> ApiResult<Team> {
        let team = self
            .find(team)?
            .ok_or(ApiError::Team(TeamFailure::NotFound))?;
        let room = self
            .store
            .room(team.room_id().unwrap_or_default())?
            .ok_or(ApiError::Team(TeamFailure::MainRoomNotFound))?;
        let me = &caller.identity;
        if !(self.access.can_read(me, &room)? || self.permits.has("view-all-teams", &me.roles())) {
            return Err(ApiError::Unauthorized);
        }
        Ok(team)
    }

    /// `teams.members`: the team's active members, for its members and holders of
    /// `view-all-teams` (anyone else gets an empty page, not an error).
    pub fn members(
        &self,
        caller: &Caller,
        team: Option<TeamRef>,
        offset: usize,
        count: usize,
    ) -> ApiResult<MembersPage> {
        let team = self.existing(team)?;
        let sees_all = self.in_main_room(caller, &team, &["view-all-teams"])?;
        if !sees_all && self.store.team_member(team.id(), caller.id())?.is_none() {
            return Ok(MembersPage {
                members: Vec::new(),
                total: 0,
            });
        }
        let mut shown = Vec::new();
        for m in self.store.team_members(team.id())? {
            if let Some(user) = self.store.user(m.user_id())?.filter(User::is_active) {
                shown.push(m.info(&user));
            }
        }
        let total = shown.len();
        let members = shown.into_iter().skip(offset).take(count).collect();
        Ok(MembersPage { members, total })
    }

    /// `teams.list`: a page of the caller's teams, each with its counts of rooms and
    /// members; and the total.
    pub fn list(
        &self,
        caller: &Caller,
        offset: usize,
        count: usize,
    ) -> ApiResult<(Vec<Value>, usize)> {
        let mut teams = Vec::new();
        for id in self.store.user_team_ids(caller.id())? {
            teams.extend(self.store.team(&id)?);
        }
        self.page_of(teams, offset, count)
    }

    /// `teams.listAll`: every team, for holders of `view-all-teams`.
    pub fn list_all(
        &self,
        caller: &Caller,
        offset: usize,
        count: usize,
    ) -> ApiResult<(Vec<Value>, usize)> {
        if !self.permits.has("view-all-teams", &caller.identity.roles()) {
            return Err(ApiError::Unauthorized);
        }
        self.page_of(self.store.teams()?, offset, count)
    }

    /// `ITeamInfo`s: the team with `rooms` (its rooms, the main one included) and
    /// `numberOfUsers`.
    fn page_of(
        &self,
        teams: Vec<Team>,
        offset: usize,
        count: usize,
    ) -> ApiResult<(Vec<Value>, usize)> {
        let total = teams.len();
        let mut page = Vec::new();
        for team in teams.into_iter().skip(offset).take(count) {
            let rooms = self.store.team_room_ids(team.id())?.len();
            let users = self.store.team_members(team.id())?.len();
            page.push(team.info(rooms, users));
        }
        Ok((page, total))
    }

    /// `teams.listRooms`: the team's rooms but its main room. Holders of
    /// `view-all-team-channels` see all of them, others the public ones and their own; a
    /// private team's only for its members and holders of `view-all-teams`.
    pub fn list_rooms(
        &self,
        caller: &Caller,
        team: Option<TeamRef>,
        filter: &RoomsFilter,
        offset: usize,
        count: usize,
    ) -> ApiResult<(Vec<Room>, usize)> {
        let team = self.existing(team)?;
        let all_teams = self.in_main_room(caller, &team, &["view-all-teams"])?;
        let all_rooms = self.in_main_room(caller, &team, &["view-all-team-channels"])?;
        let member = self.store.team_member(team.id(), caller.id())?.is_some();
        if !team.is_public() && !all_teams && !member {
            return Err(ApiError::Team(TeamFailure::NotOnPrivateTeam));
        }
        let needle = filter
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let needle = needle.map(str::to_lowercase);
        let mut rooms = Vec::new();
        for rid in self.store.team_room_ids(team.id())? {
            let Some(room) = self.store.room(&rid)? else {
                continue;
            };
            let named = needle.as_deref().is_none_or(|n| {
                room.name()
                    .is_some_and(|name| name.to_lowercase().contains(n))
            });
            let visible = all_rooms
                || room.room_type() == RoomType::Channel
                || self.store.subscription(&rid, caller.id())?.is_some();
            if !room.is_team_main()
                && named
                && visible
                && (!filter.auto_join || room.is_team_default())
            {
                rooms.push(std::sync::Arc::unwrap_or_clone(room));
            }
        }
        let total = rooms.len();
        Ok((rooms.into_iter().skip(offset).take(count).collect(), total))
    }

    /// `teams.addMembers`: each known user joins the main room (an `added-user-to-team`
    /// note by the caller) and the team, with the roles given (in both).
    pub async fn add_members(
        &self,
        caller: &Caller,
        team: Option<TeamRef>,
        members: Vec<NewMember>,
    ) -> ApiResult<()> {
        let team = self.existing(team)?;
        if !self.in_main_room(caller, &team, &["add-team-member", "edit-team-member"])? {
            return Err(ApiError::Unauthorized);
        }
        let room = self.main_room(&team)?;
        let now = self.clock.now();
        let inviter = created_by(caller);
        let mut subs = Vec::new();
        let mut added = Vec::new();
        for m in members {
            let Some(user) = self
                .directory
                .find_user(UserRef::Id(UserId::new(&m.user_id)))?
            else {
                continue;
            };
            let roles: Vec<&str> = m.roles.iter().map(String::as_str).collect();
            let mut sub = new_joined_subscription(&room, &user, now, &self.ids);
            if !roles.is_empty() {
                sub.set_roles(&roles);
            }
            let name = user.username().unwrap_or_default();
            let note = self
                .system
                .message("added-user-to-team", room.id(), name, inviter.clone());
            subs.push((sub, note));
            added.push(new_team_member(
                &self.ids.id(),
                team.id(),
                user.id(),
                &roles,
                inviter.clone(),
                now,
            ));
        }
        let team_id = team.id().to_string();
        blocking_write(&self.store, move |s| {
            s.add_team_members(&team_id, &subs, &added, &time::iso(now))
        })
        .await?;
        Ok(())
    }

    /// `teams.addRooms`: needs `add-team-channel` in the main room; every room must exist,
    /// be readable by the caller, be in no team and be owned by them. Public ones are
    /// announced in the main room (`user-added-room-to-team`). Returns the rooms as stored.
    pub async fn add_rooms(
        &self,
        caller: &Caller,
        team: Option<TeamRef>,
        room_ids: Vec<String>,
    ) -> ApiResult<Vec<Room>> {
        let team = self.existing(team)?;
        if !self.in_main_room(caller, &team, &["add-team-channel"])? {
            return Err(ApiError::TeamChannelNotAllowed);
        }
        let me = &caller.identity;
        let mut rooms = Vec::new();
        for rid in room_ids.iter().filter(|r| !r.is_empty()) {
            let room = self
                .store
                .room(rid)?
                .ok_or(ApiError::Team(TeamFailure::InvalidRoom))?;
            if !self.access.can_read(me, &room)? {
                return Err(ApiError::Team(TeamFailure::InvalidRoom));
            }
            rooms.push(room);
        }
        let mut notes = Vec::new();
        for room in &rooms {
            if room.team_id().is_some() {
                return Err(ApiError::Team(TeamFailure::RoomAlreadyOnTeam));
            }
            if !self
                .store
                .subscription(room.id(), caller.id())?
                .is_some_and(|s| s.is_owner())
            {
                return Err(ApiError::Team(TeamFailure::NotRoomOwner));
            }
            if room.room_type() == RoomType::Channel {
                let name = room.name().unwrap_or_default();
                let main = team.room_id().unwrap_or_default();
                notes.push(
                    self.system
                        .message("user-added-room-to-team", main, name, me.short()),
                );
            }
        }
        let ids: Vec<String> = rooms.iter().map(|r| r.id().to_string()).collect();
        let (team_id, at) = (team.id().to_string(), self.now_iso());
        blocking_write(&self.store, move |s| {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            s.set_rooms_team(&ids, &team_id, &notes, &at)
        })
        .await
        .map_err(ApiError::from)
    }

    /// `teams.removeRoom`: needs `remove-team-channel` in the main room; the room leaves the
    /// team (announced there for a public one). Without `view-all-team-channels` the caller
    /// must be able to read it. Returns the room as stored.
    pub async fn remove_room(
        &self,
        caller: &Caller,
        team: Option<TeamRef>,
        room_id: &str,
    ) -> ApiResult<Room> {
        let team = self.existing(team)?;
        if !self.in_main_room(caller, &team, &["remove-team-channel"])? {
            return Err(ApiError::Unauthorized);
        }
        let any = self.in_main_room(caller, &team, &["view-all-team-channels"])?;
        let me = &caller.identity;
        let room = self
            .store
            .room(room_id)?
            .ok_or(ApiError::Team(TeamFailure::InvalidRoom))?;
        if !any && !self.access.can_read(me, &room)? {
            return Err(ApiError::Team(TeamFailure::InvalidRoom));
        }
        if room.team_id() != Some(team.id()) {
            return Err(ApiError::Team(TeamFailure::RoomNotOnThatTeam));
        }
        let main = team.room_id().unwrap_or_default();
        let notes: Vec<_> = (room.room_type() == RoomType::Channel)
            .then(|| {
                let name = room.name().unwrap_or_default();
                self.system
                    .message("user-removed-room-from-team", main, name, me.short())
            })
            .into_iter()
            .collect();
        let (rid, at) = (room_id.to_string(), self.now_iso());
        blocking_write(&self.store, move |s| s.unset_room_team(&rid, &notes, &at))
            .await?
            .ok_or(ApiError::Team(TeamFailure::InvalidRoom))
    }

    /// `teams.removeMember`: the active user `user_id` leaves the team, its main room
    /// (`removed-user-from-team`, by the caller) and those of `rooms` that are the team's.
    pub async fn remove_member(
        &self,
        caller: &Caller,
        team: Option<TeamRef>,
        user_id: &str,
        rooms: Vec<String>,
    ) -> ApiResult<()> {
        let team = self.existing(team)?;
        if !self.in_main_room(caller, &team, &["edit-team-member"])? {
            return Err(ApiError::Unauthorized);
        }
        let user = self
            .store
            .user(user_id)?
            .filter(User::is_active)
            .ok_or(ApiError::Team(TeamFailure::InvalidUser))?;
        let name = user.username().unwrap_or_default();
        let rooms = rooms
            .into_iter()
            .map(|rid| {
                let note = self
                    .system
                    .message("ru", &rid, name, caller.identity.short());
                (rid, note)
            })
            .collect();
        self.remove_from_team(caller, &team, &user, rooms).await
    }

    /// `teams.leave`: the caller leaves the team and its main room (`ult`).
    pub async fn leave(&self, caller: &Caller, team: Option<TeamRef>) -> ApiResult<()> {
        let team = self.existing(team)?;
        let me = self.directory.caller_user(caller)?;
        self.remove_from_team(caller, &team, &me, Vec::new()).await
    }

    /// `teams.delete`: needs `delete-team`; the team's rooms named in `rooms_to_remove` are
    /// erased, its other rooms leave it, its main room is erased, its memberships go.
    pub async fn delete(
        &self,
        caller: &Caller,
        team: Option<TeamRef>,
        rooms_to_remove: Vec<String>,
    ) -> ApiResult<()> {
        let team = self.existing(team)?;
        if !self.in_main_room(caller, &team, &["delete-team"])? {
            return Err(ApiError::Unauthorized);
        }
        let team_id = team.id().to_string();
        let dropped = blocking_write(&self.store, move |s| {
            s.delete_team(&team_id, &rooms_to_remove)
        })
        .await?;
        let dropped = dropped.unwrap_or(0);
        self.delivery.metrics().withdrawn(dropped);
        Ok(())
    }

    /// `Team.removeMembers` for one user: their membership (not the team's last owner's)
    /// and their place in the main room go, by another (`removed-user-from-team`) or by
    /// themself (`ult`), and in the same write their place in those of `rooms` (each with
    /// its note) that are the team's.
    async fn remove_from_team(
        &self,
        caller: &Caller,
        team: &Team,
        user: &User,
        rooms: Vec<(String, SystemMessage)>,
    ) -> ApiResult<()> {
        let main = team.room_id().unwrap_or_default().to_string();
        let name = user.username().unwrap_or_default();
        let note = match caller.id() == user.id() {
            true => self.system.message("ult", &main, name, user.short()),
            false => self.system.message(
                "removed-user-from-team",
                &main,
                name,
                caller.identity.short(),
            ),
        };
        let (team_id, uid, at) = (team.id().to_string(), user.id().to_string(), self.now_iso());
        let exit = blocking_write(&self.store, move |s| {
            s.remove_team_member(&team_id, &uid, &note, &rooms, &at)
        })
        .await?;
        match exit {
            TeamExit::Left => Ok(()),
            TeamExit::NotMember => Err(ApiError::Team(TeamFailure::MemberDoesNotExist)),
            TeamExit::LastOwner => Err(ApiError::Team(TeamFailure::LastOwner)),
        }
    }

    fn find(&self, team: Option<TeamRef>) -> ApiResult<Option<Team>> {
        Ok(match team {
            Some(TeamRef::Id(id)) => self.store.team(&id)?,
            Some(TeamRef::Name(name)) => self.store.team_by_name(&name)?,
            None => None,
        })
    }

    /// The team, or `team-does-not-exist`.
    fn existing(&self, team: Option<TeamRef>) -> ApiResult<Team> {
        self.find(team)?
            .ok_or(ApiError::Team(TeamFailure::DoesNotExist))
    }

    fn main_room(&self, team: &Team) -> ApiResult<Room> {
        let room = self
            .store
            .room(team.room_id().unwrap_or_default())?
            .ok_or(ApiError::Team(TeamFailure::MainRoomNotFound))?;
        Ok(std::sync::Arc::unwrap_or_clone(room))
    }

    /// Whether the caller holds one of `permissions` in the team's main room.
    fn in_main_room(&self, caller: &Caller, team: &Team, permissions: &[&str]) -> ApiResult<bool> {
        let main = team.room_id().unwrap_or_default();
        for p in permissions {
            if self.access.has_room_permission(&caller.identity, main, p)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn now_iso(&self) -> String {
        time::iso(self.clock.now())
    }
}

/// `{_id, username}`: how a team and its memberships name who made them.
fn created_by(caller: &Caller) -> Value {
    json!({"_id": caller.id(), "username": caller.identity.username})
}
