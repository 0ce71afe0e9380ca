//! Room access for the HTTP layer: the pure rule chain fed from the store.

use std::sync::Arc;

use crate::error::ApiResult;
use crate::model::user::Identity;
use crate::model::Room;
use crate::rules::access::{can_access_room, Access, RoomFacts};
use crate::state::AppState;

/// How deep a chain of discussions is followed before access is refused.
const MAX_DISCUSSION_DEPTH: usize = 16;

/// `canAccessRoom(room, user)`: the rule chain, following discussions to their parents.
/// The caller's subscription is looked up only when the rules ask for it.
pub fn can_read(state: &AppState, user: &Identity, room: &Room) -> ApiResult<bool> {
    let roles = user.roles();
    let mut parent: Option<Arc<Room>> = None;
    for _ in 0..MAX_DISCUSSION_DEPTH {
        let current = parent.as_deref().unwrap_or(room);
        let mut failed = None;
        let facts = RoomFacts {
            t: current.t(),
            prid: current.prid(),
        };
        let access = can_access_room(facts, &roles, &state.permissions, || {
            match state.store.subscription(current.id(), &user.id) {
                Ok(sub) => sub.is_some(),
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        match access {
            Access::Granted => return Ok(true),
            Access::Denied => return Ok(false),
            Access::AsParent(prid) => {
                let prid = prid.to_string();
                match state.store.room(&prid)? {
                    Some(p) => parent = Some(p),
                    None => return Ok(false),
                }
            }
        }
    }
    Ok(false)
}

/// Whether `user` holds `permission` in `room_id`: global roles plus the room-scoped roles
/// of their subscription (`owner`, `moderator`).
pub fn has_room_permission(
    state: &AppState,
    user: &Identity,
    room_id: &str,
    permission: &str,
) -> ApiResult<bool> {
    let sub = state.store.subscription(room_id, &user.id)?;
    let mut roles = user.roles();
    if let Some(sub) = &sub {
        roles.extend(sub.roles());
    }
    Ok(state.has_permission(permission, &roles))
}
