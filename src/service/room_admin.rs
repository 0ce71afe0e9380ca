//! What test set-ups and bots do to whole rooms: `channels.info` / `groups.info`,
//! `channels.delete` / `groups.delete` (`eraseRoom`), `channels.rename` (`saveRoomName`).

use super::auth::Caller;
use super::blocking::blocking_write;
use super::rooms::{RoomRef, Rooms};
use crate::error::{ApiError, ApiResult};
use crate::model::room::Kind;
use crate::model::{time, Room};
use crate::rules::names::valid_name;
use crate::store::WriteError;

impl Rooms {
    /// `channels.info` / `groups.info`: the room as stored. Any logged-in user may look at a
    /// public channel (Rocket.Chat checks no access there); groups only show to members.
    pub fn room_info(&self, kind: Kind, caller: &Caller, room: RoomRef) -> ApiResult<Room> {
        self.find_room(kind, caller, room)
    }

    /// `eraseRoom`: a caller who may read the room and holds `delete-c` / `delete-p` there
    /// deletes it with its messages, subscriptions and pending pushes.
    pub async fn erase_room(&self, kind: Kind, caller: &Caller, room: RoomRef) -> ApiResult<()> {
        let room = self.find_room(kind, caller, room)?;
        let method = "eraseRoom";
        if !self.access.can_read(&caller.identity, &room)? {
            return Err(ApiError::InvalidRoomIn { method });
        }
        let permission = match kind {
            Kind::Channels => "delete-c",
            Kind::Groups => "delete-p",
        };
        if !self
            .access
            .has_room_permission(&caller.identity, room.id(), permission)?
        {
            return Err(ApiError::NotAllowedIn { method });
        }
        let rid = room.id().to_string();
        let dropped = blocking_write(&self.store, move |s| s.erase_room(&rid))
            .await?
            .ok_or(ApiError::RoomNotFoundIn(kind))?;
        self.delivery.metrics().withdrawn(dropped);
        Ok(())
    }

    /// `channels.rename` (`saveRoomSettings` with `roomName`): needs `edit-room`; the name is
    /// checked as at creation and must be free. Returns the renamed room.
    pub async fn rename_room(
        &self,
        kind: Kind,
        caller: &Caller,
        room: RoomRef,
        name: String,
    ) -> ApiResult<Room> {
        let room = self.find_room(kind, caller, room)?;
        if room.name() == Some(name.as_str()) {
            return Err(ApiError::SameName);
        }
        if !self
            .access
            .has_room_permission(&caller.identity, room.id(), "edit-room")?
        {
            return Err(ApiError::EditRoomNotAllowed);
        }
        if !valid_name(&name) {
            return Err(ApiError::InvalidRoomName(name));
        }
        let note = self
            .system
            .message("r", room.id(), &name, caller.identity.short());
        let rid = room.id().to_string();
        let (new_name, at) = (name.clone(), time::iso(self.clock.now()));
        let renamed = blocking_write(&self.store, move |s| {
            s.rename_room(&rid, &new_name, &at, &note)
        });
        match renamed.await {
            Ok(Some(room)) => Ok(room),
            Ok(None) => Err(ApiError::RoomNotFoundIn(kind)),
            Err(WriteError::Conflict(_)) => Err(ApiError::DuplicateChannelName(name)),
            Err(WriteError::Store(e)) => Err(e.into()),
        }
    }
}
