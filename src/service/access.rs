//! Room access: the pure rule chain, fed from the store.

use std::sync::Arc;

use super::permits::Permits;
use crate::error::{ApiError, ApiResult};
use crate::model::message::MessageView;
use crate::model::user::Identity;
use crate::model::{Message, Room};
use crate::rules::access::{can_access_room, Access, Known, RoomFacts, TeamStanding};
use crate::store::AccessView;

/// How deep a chain of discussions is followed before access is refused.
const MAX_DISCUSSION_DEPTH: usize = 16;

/// The access checks other areas share: rooms, subscriptions and the permission table,
/// nothing of the areas that hold it.
#[derive(Clone)]
pub struct RoomAccess {
    pub(super) store: AccessView,
    pub(super) permits: Permits,
}

impl RoomAccess {
    /// `canAccessRoom(room, user)`: the rule chain, following discussions to their parents.
    /// The caller's subscription and the room's team are looked up only when the rule asks.
    pub(super) fn can_read(&self, user: &Identity, room: &Room) -> ApiResult<bool> {
        self.can_read_known(user, room.id(), room_facts(room))
    }

    /// `can_read` of the room `room_id` from its facts, without the room itself (what
    /// push.get kept of it): only a discussion's parents are read.
    pub(super) fn can_read_known(
        &self,
        user: &Identity,
        room_id: &str,
        facts: RoomFacts,
    ) -> ApiResult<bool> {
        let subscribed = |rid: &str| Ok(self.store.subscription(rid, &user.id)?.is_some());
        self.can_read_given(user, room_id, facts, &subscribed)
    }

    /// `can_read_known` with the caller's memberships told by `subscribed` (room id →
    /// whether the user has a subscription): the realtime streams know them as of the
    /// event they deliver, which the store may have moved past.
    pub(super) fn can_read_given(
        &self,
        user: &Identity,
        room_id: &str,
        facts: RoomFacts,
        subscribed: &dyn Fn(&str) -> ApiResult<bool>,
    ) -> ApiResult<bool> {
        let roles = user.roles();
        let table = self.permits.table();
        let mut parent: Option<Arc<Room>> = None;
        for _ in 0..MAX_DISCUSSION_DEPTH {
            let (id, facts) = match parent.as_deref() {
                Some(p) => (p.id(), room_facts(p)),
                None => (room_id, facts),
            };
            let mut known = Known::default();
            // Each lookup is asked for at most once: the third answer is final.
            let access = loop {
                match can_access_room(facts, &roles, &table.rules, known) {
                    Access::NeedsTeam(team) if known.team.is_none() => {
                        known.team = Some(self.team_standing(team, &user.id)?);
                    }
                    Access::NeedsSubscription if known.subscribed.is_none() => {
                        known.subscribed = Some(subscribed(id)?);
                    }
                    access => break access,
                }
            };
            match access {
                Access::Granted => return Ok(true),
                Access::Denied | Access::NeedsSubscription | Access::NeedsTeam(_) => {
                    return Ok(false)
                }
                Access::AsParent(prid) => match self.store.room(prid)? {
                    Some(p) => parent = Some(p),
                    None => return Ok(false),
                },
            }
        }
        Ok(false)
    }

    /// Validator 1's question: is `team_id` public, else is `user_id` a member of it? A
    /// team that is gone counts as private, as in Rocket.Chat.
    fn team_standing(&self, team_id: &str, user_id: &str) -> ApiResult<TeamStanding> {
        if self.store.team(team_id)?.is_some_and(|t| t.is_public()) {
            return Ok(TeamStanding::PublicTeam);
        }
        Ok(match self.store.team_member(team_id, user_id)? {
            Some(_) => TeamStanding::Member,
            None => TeamStanding::Outsider,
        })
    }

    /// Whether `user` holds `permission` in `room_id`: global roles plus the room-scoped
    /// roles of their subscription (`owner`, `moderator`).
    pub(super) fn has_room_permission(
        &self,
        user: &Identity,
        room_id: &str,
        permission: &str,
    ) -> ApiResult<bool> {
        let sub = self.store.subscription(room_id, &user.id)?;
        let mut roles = user.roles();
        if let Some(sub) = &sub {
            roles.extend(sub.roles());
        }
        Ok(self.permits.has(permission, &roles))
    }

    /// The room of a message `user` asked for, if `user` may read it (spec §1.3: F room
    /// not found, then G not allowed).
    pub(super) fn readable_room(&self, user: &Identity, room_id: &str) -> ApiResult<Arc<Room>> {
        let room = self.store.room(room_id)?.ok_or(ApiError::RoomNotFound)?;
        match self.can_read(user, &room)? {
            true => Ok(room),
            false => Err(ApiError::NotAllowed),
        }
    }
}

/// The typed view of a stored message; a document that does not decode is a fault of ours.
pub(super) fn message_view<'m>(message: &'m Message, id: &str) -> ApiResult<MessageView<'m>> {
    message
        .view()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored message {id}: {e}")))
}

pub(super) fn room_facts(room: &Room) -> RoomFacts<'_> {
    RoomFacts {
        t: room.room_type(),
        prid: room.prid(),
        team: room.team_id(),
    }
}
