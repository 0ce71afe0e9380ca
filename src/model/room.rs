//! Rooms (`rocketchat_room`).

use serde_json::Value;

use super::{document, DocExt};

document!(
    /// A room document in Rocket.Chat's shape.
    Room
);

/// A room's type (`t`): rcpush creates the first three; stored rooms may carry the
/// omnichannel ones or a type rcpush does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomType {
    Channel,
    Group,
    Direct,
    Livechat,
    Voip,
    Other,
}

impl RoomType {
    pub fn of(code: &str) -> RoomType {
        match code {
            "c" => RoomType::Channel,
            "p" => RoomType::Group,
            "d" => RoomType::Direct,
            "l" => RoomType::Livechat,
            "v" => RoomType::Voip,
            _ => RoomType::Other,
        }
    }

    /// `t` as stored; empty for a type rcpush does not know.
    pub fn code(self) -> &'static str {
        match self {
            RoomType::Channel => "c",
            RoomType::Group => "p",
            RoomType::Direct => "d",
            RoomType::Livechat => "l",
            RoomType::Voip => "v",
            RoomType::Other => "",
        }
    }

    /// A public channel or a private group (what `#name` mentions and `channels` list).
    pub fn is_channel_or_group(self) -> bool {
        matches!(self, RoomType::Channel | RoomType::Group)
    }

    /// The permission that lets a member read a joined room of this type (`view-c-room`,
    /// …); none for an unknown type.
    pub fn view_permission(self) -> Option<&'static str> {
        match self {
            RoomType::Channel => Some("view-c-room"),
            RoomType::Group => Some("view-p-room"),
            RoomType::Direct => Some("view-d-room"),
            RoomType::Livechat => Some("view-l-room"),
            RoomType::Voip => Some("view-v-room"),
            RoomType::Other => None,
        }
    }
}

/// Which REST namespace a room call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channels,
    Groups,
}

impl Kind {
    pub fn room_type(self) -> RoomType {
        match self {
            Kind::Channels => RoomType::Channel,
            Kind::Groups => RoomType::Group,
        }
    }

    /// The key the room is returned under.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Channels => "channel",
            Kind::Groups => "group",
        }
    }
}

impl Room {
    /// `t`: `c`, `p`, `d`, `l`, `v`, …
    pub fn t(&self) -> &str {
        self.0.str_at("t").unwrap_or_default()
    }

    pub fn room_type(&self) -> RoomType {
        RoomType::of(self.t())
    }

    /// How a message's `channels` names the room: `{_id, fname, name}` in stored order.
    pub fn mention(&self) -> Value {
        Value::Object(self.0.pick(&["_id", "name", "fname"]))
    }

    pub fn name(&self) -> Option<&str> {
        self.0.str_at("name")
    }

    pub fn fname(&self) -> Option<&str> {
        self.0.str_at("fname")
    }

    /// The parent room of a discussion.
    pub fn prid(&self) -> Option<&str> {
        self.0.str_at("prid").filter(|p| !p.is_empty())
    }

    /// New users join it (`default: true`).
    pub fn is_default(&self) -> bool {
        self.0.get("default") == Some(&Value::Bool(true))
    }

    /// End-to-end encrypted (`encrypted`).
    pub fn encrypted(&self) -> bool {
        self.0.get("encrypted") == Some(&Value::Bool(true))
    }

    /// Sets `encrypted` on a new room where `createRoom` puts its `extraData`: after a
    /// group's `_updatedAt`, after a DM's `uids`.
    pub fn set_encrypted(&mut self, encrypted: bool) {
        let after = if self.room_type() == RoomType::Direct {
            "uids"
        } else {
            "_updatedAt"
        };
        let at = self
            .0
            .keys()
            .position(|k| k == after)
            .map_or(self.0.len(), |i| i + 1);
        self.0
            .shift_insert(at, "encrypted".into(), encrypted.into());
    }

    pub fn read_only(&self) -> bool {
        self.0.get("ro") == Some(&Value::Bool(true))
    }

    /// Members may react in the read-only room all the same.
    pub fn react_when_read_only(&self) -> bool {
        self.0.get("reactWhenReadOnly") == Some(&Value::Bool(true))
    }

    pub fn muted(&self) -> Vec<&str> {
        self.0.strs_at("muted")
    }

    /// Who may post in the read-only room all the same.
    pub fn unmuted(&self) -> Vec<&str> {
        self.0.strs_at("unmuted")
    }

    pub fn uids(&self) -> Vec<&str> {
        self.0.strs_at("uids")
    }

    /// A member's username changed: in `usernames` and `muted` (`Rooms.replaceUsername`,
    /// `replaceMutedUsername`) and as the creator `u.username`; whether anything changed.
    pub fn replace_username(&mut self, user_id: &str, old: &str, new: &str) -> bool {
        let mut changed = false;
        for list in ["usernames", "muted"] {
            if let Some(items) = self.0.get_mut(list).and_then(Value::as_array_mut) {
                for item in items.iter_mut().filter(|i| i.as_str() == Some(old)) {
                    *item = new.into();
                    changed = true;
                }
            }
        }
        if let Some(u) = self.0.get_mut("u").and_then(Value::as_object_mut) {
            if u.get("_id").and_then(Value::as_str) == Some(user_id) {
                u.insert("username".into(), new.into());
                changed = true;
            }
        }
        changed
    }

    /// `sysMes`: the system message types the room hides.
    pub fn sys_mes(&self) -> Vec<&str> {
        self.0.strs_at("sysMes")
    }

    /// `t` as stored (absent stays absent, unlike [`Room::t`]).
    pub fn stored_t(&self) -> Option<&str> {
        self.0.str_at("t")
    }

    /// `msgs`: the messages the room holds.
    pub fn msgs(&self) -> i64 {
        self.0.int_at("msgs")
    }

    pub fn set_msgs(&mut self, n: i64) {
        self.0.insert("msgs".into(), n.into());
    }

    /// `usersCount`: the members the room has.
    pub fn users_count(&self) -> i64 {
        self.0.int_at("usersCount")
    }

    pub fn set_users_count(&mut self, n: i64) {
        self.0.insert("usersCount".into(), n.into());
    }

    /// `name` and `fname` both become `name`.
    pub fn rename(&mut self, name: &str) {
        self.0.insert("name".into(), name.into());
        self.0.insert("fname".into(), name.into());
    }

    /// `_updatedAt`: the last change (ISO).
    pub fn updated_at(&self) -> Option<&str> {
        self.0.str_at("_updatedAt")
    }

    pub fn set_updated_at(&mut self, at: &str) {
        self.0.insert("_updatedAt".into(), at.into());
    }

    /// The `_id` of `lastMessage`, if the room has one.
    pub fn last_message_id(&self) -> Option<&str> {
        self.0.str_in("lastMessage", "_id")
    }

    /// `lastMessage`: a copy of the newest message as stored.
    pub fn set_last_message(&mut self, message: Value) {
        self.0.insert("lastMessage".into(), message);
    }

    pub fn drop_last_message(&mut self) {
        self.0.shift_remove("lastMessage");
    }

    /// `lm`: when the last message was posted.
    pub fn set_lm(&mut self, at: &str) {
        self.0.insert("lm".into(), at.into());
    }

    /// `teamId`: the team the room belongs to (its main room or one of its rooms).
    pub fn team_id(&self) -> Option<&str> {
        self.0.str_at("teamId").filter(|t| !t.is_empty())
    }

    /// `teamMain`: the room is its team's main room.
    pub fn is_team_main(&self) -> bool {
        self.0.get("teamMain") == Some(&Value::Bool(true))
    }

    /// `teamDefault`: members who join the team join the room too (`type=autoJoin`).
    pub fn is_team_default(&self) -> bool {
        self.0.get("teamDefault") == Some(&Value::Bool(true))
    }

    /// Puts the room in a team (`Rooms.setTeamMainById` / `setTeamByIds`).
    pub fn set_team(&mut self, team_id: &str, main: bool) {
        if main {
            self.0.insert("teamMain".into(), true.into());
        }
        self.0.insert("teamId".into(), team_id.into());
    }

    /// Takes the room out of its team (`Rooms.unsetTeamById`: `teamId` and `teamDefault`).
    pub fn unset_team(&mut self) {
        self.0.shift_remove("teamId");
        self.0.shift_remove("teamDefault");
    }
}

/// A new channel or private group, in `createRoom`'s insertion order.
pub fn new_group_room(
    id: &str,
    t: RoomType,
    name: &str,
    owner: &super::User,
    users_count: usize,
    read_only: bool,
    now: super::time::Millis,
) -> Room {
    let now = super::time::iso(now);
    Room(super::object(serde_json::json!({
        "_id": id,
        "fname": name,
        "_updatedAt": now,
        "name": name,
        "t": t.code(),
        "msgs": 0,
        "usersCount": users_count,
        "u": owner.short(),
        "ts": now,
        "ro": read_only,
    })))
}

/// A new direct-message room, in `createDirectRoom`'s order. `members` are sorted by id.
pub fn new_direct_room(id: &str, members: &[&super::User], now: super::time::Millis) -> Room {
    let now = super::time::iso(now);
    let usernames: Vec<&str> = members.iter().filter_map(|u| u.username()).collect();
    let mut uids: Vec<&str> = members.iter().map(|u| u.id()).collect();
    uids.sort_unstable();
    Room(super::object(serde_json::json!({
        "_id": id,
        "t": "d",
        "usernames": usernames,
        "usersCount": members.len(),
        "msgs": 0,
        "ts": now,
        "uids": uids,
        "_updatedAt": now,
    })))
}

/// The id of the room every Rocket.Chat has from its first start.
pub const GENERAL: &str = "GENERAL";

/// `#general` as `initialData` creates it (`createWithIdTypeAndName`): public, empty, and
/// `default`, so that new users join it.
pub fn general_room(now: super::time::Millis) -> Room {
    let now = super::time::iso(now);
    Room(super::object(serde_json::json!({
        "_id": GENERAL,
        "ts": now,
        "t": "c",
        "name": "general",
        "usernames": [],
        "msgs": 0,
        "usersCount": 0,
        "default": true,
        "_updatedAt": now,
    })))
}
