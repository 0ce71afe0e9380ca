//! Teams and their members (`rocketchat_team`, `rocketchat_team_member`), and which rooms
//! belong to which team. A room's `teamId` lives in the room document; `Teamroomids`
//! indexes it, written with the room (`put_room`).

use std::sync::Arc;

use super::keys;
use super::trees::Tree;
use super::{
    decode, encode, Batch, Conflict, Removal, Store, StoreResult, SystemMessage, WriteError,
};
use crate::model::{Room, Subscription, Team, TeamMember};
use crate::rules::counters;

/// The outcome of `remove_team_member`.
#[derive(Debug, PartialEq, Eq)]
pub enum TeamExit {
    Left,
    /// Neither a member of the team nor in its main room (or the team is gone).
    NotMember,
    /// The team's last owner, or its main room's.
    LastOwner,
}

impl Store {
    pub fn team(&self, id: &str) -> StoreResult<Option<Team>> {
        self.get_json(Tree::TeamidTeam, id.as_bytes())
    }

    /// The team called `name` (`Team.findOneByName`). Teams are few: no name index.
    pub fn team_by_name(&self, name: &str) -> StoreResult<Option<Team>> {
        Ok(self.teams()?.into_iter().find(|t| t.name() == Some(name)))
    }

    /// Every team, in id order.
    pub fn teams(&self) -> StoreResult<Vec<Team>> {
        self.engine
            .scan_prefix(Tree::TeamidTeam, b"")?
            .iter()
            .map(|(_, v)| decode(Tree::TeamidTeam, v))
            .collect()
    }

    pub fn team_member(&self, team_id: &str, user_id: &str) -> StoreResult<Option<TeamMember>> {
        self.get_json(Tree::TeamuseridMember, &keys::pair(team_id, user_id))
    }

    /// The members of a team, in user id order.
    pub fn team_members(&self, team_id: &str) -> StoreResult<Vec<TeamMember>> {
        self.engine
            .scan_prefix(Tree::TeamuseridMember, &keys::prefix(team_id))?
            .iter()
            .map(|(_, v)| decode(Tree::TeamuseridMember, v))
            .collect()
    }

    /// The ids of the teams `user_id` is a member of.
    pub fn user_team_ids(&self, user_id: &str) -> StoreResult<Vec<String>> {
        self.second_parts(Tree::Userteamids, user_id)
    }

    /// The ids of the rooms in a team, its main room included.
    pub fn team_room_ids(&self, team_id: &str) -> StoreResult<Vec<String>> {
        self.second_parts(Tree::Teamroomids, team_id)
    }

    fn second_parts(&self, tree: Tree, first: &str) -> StoreResult<Vec<String>> {
        self.engine
            .scan_prefix(tree, &keys::prefix(first))?
            .into_iter()
            .map(|(k, _)| {
                keys::second(&k)
                    .map(str::to_string)
                    .ok_or_else(|| super::corrupt(tree, "key without its second part"))
            })
            .collect()
    }

    /// `teams.create`: the main room (with `teamMain` and `teamId` set) and its
    /// subscriptions, the team and its members, in one write — unless the room's name or
    /// id, or the team's id, is taken (decided inside the write).
    pub fn create_team(
        &self,
        team: &Team,
        room: &Room,
        subscriptions: &[Subscription],
        members: &[TeamMember],
    ) -> Result<(), WriteError> {
        self.write_unique(|store, batch| {
            if store.team(team.id())?.is_some() {
                return Err(WriteError::Conflict(Conflict::Id));
            }
            store.put_new_room(batch, room, subscriptions)?;
            Self::put_team(batch, team);
            for m in members {
                Self::put_team_member(batch, m);
            }
            Ok(())
        })
    }

    /// `channels.create` / `groups.create` with a `teamId`: the room (its `teamId` set) and
    /// its first subscriptions, with the `notes` that announce it in the team's main room
    /// (at `at`), in one write. False, and nothing written, if the team is gone by then;
    /// a taken room name or id is a conflict, as in `create_room`.
    pub fn create_team_room(
        &self,
        room: &Room,
        subscriptions: &[Subscription],
        notes: &[SystemMessage],
        at: &str,
    ) -> Result<bool, WriteError> {
        self.write_unique(|store, batch| {
            let team_id = room.team_id().unwrap_or_default();
            if store.team(team_id)?.is_none() {
                return Ok(false);
            }
            store.put_new_room(batch, room, subscriptions)?;
            store.announce_in_team(batch, team_id, notes, at)?;
            Ok(true)
        })
    }

    /// `teams.addMembers`, in one write: each user not in the team's main room joins it
    /// with their `subscriptions` (each with the note that reports it, at `at`), and each of
    /// `members` not in the team yet becomes a member. Returns how many memberships were
    /// added, or `None` if the team is gone.
    pub fn add_team_members(
        &self,
        team_id: &str,
        subscriptions: &[(Subscription, SystemMessage)],
        members: &[TeamMember],
        at: &str,
    ) -> StoreResult<Option<usize>> {
        self.write(|store, batch| {
            let Some(team) = store.team(team_id)? else {
                return Ok(None);
            };
            if let Some(main) = team.room_id() {
                store.add_members_in(batch, main, subscriptions, at)?;
            }
            let mut added = 0;
            for m in members {
                if store.team_member(team_id, m.user_id())?.is_none() {
                    Self::put_team_member(batch, m);
                    added += 1;
                }
            }
            Ok(Some(added))
        })
    }

    /// `teams.removeMember` / `teams.leave`, in one write: `user_id`'s membership ends and
    /// they leave the team's main room (with `note`) and those of `rooms` that are the
    /// team's (each with its note), at `at`. Nothing changes when they are neither a member
    /// nor in the main room, or are the last owner of the team or of its main room.
    pub fn remove_team_member(
        &self,
        team_id: &str,
        user_id: &str,
        note: &SystemMessage,
        rooms: &[(String, SystemMessage)],
        at: &str,
    ) -> StoreResult<TeamExit> {
        self.write(|store, batch| {
            let Some(team) = store.team(team_id)? else {
                return Ok(TeamExit::NotMember);
            };
            let main = team.room_id().unwrap_or_default();
            let member = store.team_member(team_id, user_id)?;
            if let Some(m) = &member {
                if !counters::may_leave_team(m, &store.team_members(team_id)?) {
                    return Ok(TeamExit::LastOwner);
                }
            }
            // Writes nothing unless the user leaves the main room.
            match store.remove_member_in(batch, main, user_id, at, note)? {
                Some(Removal::LastOwner) => return Ok(TeamExit::LastOwner),
                Some(Removal::NotMember) | None if member.is_none() => {
                    return Ok(TeamExit::NotMember)
                }
                _ => {}
            }
            if member.is_some() {
                Self::delete_team_member(batch, team_id, user_id);
            }
            let in_team = store.team_room_ids(team_id)?;
            let mut done = vec![main];
            for (rid, note) in rooms {
                if in_team.contains(rid) && !done.contains(&rid.as_str()) {
                    // A room's last owner stays in it, as when they are removed alone.
                    store.remove_member_in(batch, rid, user_id, at, note)?;
                    done.push(rid);
                }
            }
            Ok(TeamExit::Left)
        })
    }

    /// Puts rooms in a team (`Rooms.setTeamByIds`), with the `notes` that announce it in
    /// the team's main room (at `at`); the rooms that are gone are skipped. Returns the
    /// rooms as stored.
    pub fn set_rooms_team(
        &self,
        room_ids: &[&str],
        team_id: &str,
        notes: &[SystemMessage],
        at: &str,
    ) -> StoreResult<Vec<Room>> {
        self.write(|store, batch| {
            store.announce_in_team(batch, team_id, notes, at)?;
            let mut moved = Vec::new();
            for id in room_ids {
                if let Some(room) = store.room(id)? {
                    let mut room = Arc::unwrap_or_clone(room);
                    room.set_team(team_id, false);
                    Self::put_room(batch, &room);
                    moved.push(room);
                }
            }
            Ok(moved)
        })
    }

    /// Takes a room out of its team (`Rooms.unsetTeamById`), with the `notes` that say so
    /// in the team's main room (at `at`); `None` if the room is gone.
    pub fn unset_room_team(
        &self,
        room_id: &str,
        notes: &[SystemMessage],
        at: &str,
    ) -> StoreResult<Option<Room>> {
        self.write(|store, batch| {
            let Some(room) = store.room(room_id)? else {
                return Ok(None);
            };
            let mut room = Arc::unwrap_or_clone(room);
            if let Some(team_id) = room.team_id() {
                batch.delete(Tree::Teamroomids, keys::pair(team_id, room_id));
                store.announce_in_team(batch, team_id, notes, at)?;
            }
            room.unset_team();
            Self::put_room(batch, &room);
            Ok(Some(room))
        })
    }

    /// `teams.delete`, in one write: the team's main room and those of `erase` that are
    /// the team's are erased (as `erase_room`), its other rooms leave it, its memberships
    /// and the team go. Returns the pushes the erased rooms dropped, or `None` if the team
    /// was already gone.
    pub fn delete_team(&self, team_id: &str, erase: &[String]) -> StoreResult<Option<usize>> {
        self.write(|store, batch| {
            let Some(team) = store.team(team_id)? else {
                return Ok(None);
            };
            let mut erased = Vec::new();
            for room_id in store.team_room_ids(team_id)? {
                batch.delete(Tree::Teamroomids, keys::pair(team_id, &room_id));
                let Some(room) = store.room(&room_id)? else {
                    continue;
                };
                if Some(room_id.as_str()) == team.room_id() || erase.contains(&room_id) {
                    erased.push(room);
                } else {
                    let mut room = Arc::unwrap_or_clone(room);
                    room.unset_team();
                    Self::put_room(batch, &room);
                }
            }
            let dropped = store.erase_rooms_in(batch, &erased)?;
            for m in store.team_members(team_id)? {
                Self::delete_team_member(batch, team_id, m.user_id());
            }
            batch.delete(Tree::TeamidTeam, team_id);
            Ok(Some(dropped))
        })
    }

    /// Puts `notes` in the main room of `team_id`, if both exist.
    fn announce_in_team(
        &self,
        batch: &mut Batch,
        team_id: &str,
        notes: &[SystemMessage],
        at: &str,
    ) -> StoreResult<()> {
        if notes.is_empty() {
            return Ok(());
        }
        let team = self.team(team_id)?;
        let Some(main) = team.as_ref().and_then(Team::room_id) else {
            return Ok(());
        };
        if let Some(main) = self.room(main)? {
            let mut main = Arc::unwrap_or_clone(main);
            for note in notes {
                Self::put_system_message(batch, &mut main, note);
            }
            main.set_updated_at(at);
            Self::put_room(batch, &main);
        }
        Ok(())
    }

    pub(super) fn put_team(batch: &mut Batch, team: &Team) {
        batch.put(Tree::TeamidTeam, team.id(), encode(team));
    }

    /// A membership with its index by user.
    pub(super) fn put_team_member(batch: &mut Batch, m: &TeamMember) {
        batch.put(
            Tree::TeamuseridMember,
            keys::pair(m.team_id(), m.user_id()),
            encode(m),
        );
        batch.put(Tree::Userteamids, keys::pair(m.user_id(), m.team_id()), "");
    }

    fn delete_team_member(batch: &mut Batch, team_id: &str, user_id: &str) {
        batch.delete(Tree::TeamuseridMember, keys::pair(team_id, user_id));
        batch.delete(Tree::Userteamids, keys::pair(user_id, team_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::team::{new_team, new_team_member, TeamType};
    use serde_json::json;

    fn room(id: &str, team: Option<&str>) -> Room {
        let mut r = Room(crate::model::object(
            json!({"_id": id, "t": "c", "name": id}),
        ));
        if let Some(t) = team {
            r.set_team(t, false);
        }
        r
    }

    #[test]
    fn teams_members_and_rooms_are_indexed_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 4).unwrap();
        let by = json!({"_id": "u1", "username": "one"});
        let team = new_team("T", "crew", TeamType::Private, by.clone(), "main", 0);
        let mut main = room("main", None);
        main.set_team("T", true);
        let owner = new_team_member("m1", "T", "u1", &["owner"], by.clone(), 0);
        store.create_team(&team, &main, &[], &[owner]).unwrap();
        assert!(matches!(
            store.create_team(&team, &room("other", None), &[], &[]),
            Err(WriteError::Conflict(Conflict::Id))
        ));
        let added = new_team_member("m2", "T", "u2", &[], by, 0);
        assert_eq!(
            store
                .add_team_members("T", &[], std::slice::from_ref(&added), "x")
                .unwrap(),
            Some(1)
        );
        assert_eq!(
            store.add_team_members("T", &[], &[added], "x").unwrap(),
            Some(0)
        );
        assert_eq!(store.add_team_members("N", &[], &[], "x").unwrap(), None);
        assert_eq!(store.user_team_ids("u2").unwrap(), ["T"]);
        assert_eq!(store.team_by_name("crew").unwrap().unwrap().id(), "T");

        store.create_room(&room("side", None), &[]).unwrap();
        store
            .set_rooms_team(&["side", "gone"], "T", &[], "x")
            .unwrap();
        assert_eq!(store.team_room_ids("T").unwrap(), ["main", "side"]);
        store.unset_room_team("side", &[], "x").unwrap();
        assert_eq!(store.team_room_ids("T").unwrap(), ["main"]);
        assert_eq!(store.room("side").unwrap().unwrap().team_id(), None);

        store.set_rooms_team(&["side"], "T", &[], "x").unwrap();
        let note = |rid: &str| {
            let (id, doc) = crate::model::message::new_system_message(
                "ru",
                rid,
                "two",
                json!({"_id": "u1"}),
                0,
                &crate::model::id::Ids::default(),
            );
            SystemMessage::new(id, doc)
        };
        let leave = |who| store.remove_team_member("T", who, &note("main"), &[], "x");
        assert_eq!(leave("u1").unwrap(), TeamExit::LastOwner);
        assert_eq!(leave("u2").unwrap(), TeamExit::Left);
        assert_eq!(leave("u2").unwrap(), TeamExit::NotMember);
        assert_eq!(store.team_members("T").unwrap().len(), 1);

        store.create_room(&room("doomed", Some("T")), &[]).unwrap();
        assert_eq!(store.delete_team("T", &["doomed".into()]).unwrap(), Some(0));
        assert_eq!(store.delete_team("T", &[]).unwrap(), None);
        assert!(store.team("T").unwrap().is_none());
        assert!(store.team_members("T").unwrap().is_empty());
        assert!(store.user_team_ids("u1").unwrap().is_empty());
        assert!(store.team_room_ids("T").unwrap().is_empty());
        assert_eq!(store.room("side").unwrap().unwrap().team_id(), None);
        assert!(store.room("main").unwrap().is_none());
        assert!(store.room("doomed").unwrap().is_none());
    }
}
