//! Teams (`rocketchat_team`) and their members (`rocketchat_team_member`).

use serde_json::Value;

use super::{document, DocExt};

document!(
    /// A team: `_id, name, type, createdAt, createdBy, _updatedAt, roomId` (its main room).
    Team
);

document!(
    /// One user's membership of a team: `_id, teamId, userId, roles?, createdAt, createdBy`.
    TeamMember
);

/// A team's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamType {
    Public,
    Private,
}

impl TeamType {
    /// Rocket.Chat's `TEAM_TYPE`: 0 public, 1 private.
    pub fn of(code: i64) -> Option<TeamType> {
        match code {
            0 => Some(TeamType::Public),
            1 => Some(TeamType::Private),
            _ => None,
        }
    }

    pub fn code(self) -> i64 {
        match self {
            TeamType::Public => 0,
            TeamType::Private => 1,
        }
    }
}

impl Team {
    pub fn name(&self) -> Option<&str> {
        self.0.str_at("name")
    }

    /// Only a stored `type` of 0 makes a team public: the access check compares with
    /// `TEAM_TYPE.PUBLIC` and treats anything else as private.
    pub fn is_public(&self) -> bool {
        self.0.get("type").and_then(Value::as_i64) == Some(TeamType::Public.code())
    }

    /// The team's main room.
    pub fn room_id(&self) -> Option<&str> {
        self.0.str_at("roomId").filter(|r| !r.is_empty())
    }

    /// `ITeamInfo`, as `teams.list` shows a team: the document, then `rooms` and
    /// `numberOfUsers`.
    pub fn info(&self, rooms: usize, users: usize) -> Value {
        let mut doc = self.0.clone();
        doc.insert("rooms".into(), rooms.into());
        doc.insert("numberOfUsers".into(), users.into());
        Value::Object(doc)
    }
}

impl TeamMember {
    pub fn team_id(&self) -> &str {
        self.0.str_at("teamId").unwrap_or_default()
    }

    pub fn user_id(&self) -> &str {
        self.0.str_at("userId").unwrap_or_default()
    }

    pub fn roles(&self) -> Vec<&str> {
        self.0.strs_at("roles")
    }

    /// The membership as `teams.members` lists it: `{user, roles, createdBy, createdAt}`,
    /// without the fields a document lacks (JSON drops `undefined`).
    pub fn info(&self, user: &super::User) -> Value {
        let mut u = super::Doc::new();
        u.insert("_id".into(), user.id().into());
        for key in ["username", "name", "status", "settings"] {
            if let Some(v) = user.0.get(key) {
                u.insert(key.into(), v.clone());
            }
        }
        let mut info = super::Doc::new();
        info.insert("user".into(), Value::Object(u));
        if let Some(roles) = self.0.get("roles") {
            info.insert("roles".into(), roles.clone());
        }
        let by = self.0.get("createdBy");
        let mut created_by = super::Doc::new();
        for key in ["_id", "username"] {
            if let Some(v) = by.and_then(|b| b.get(key)) {
                created_by.insert(key.into(), v.clone());
            }
        }
        info.insert("createdBy".into(), Value::Object(created_by));
        if let Some(at) = self.0.get("createdAt") {
            info.insert("createdAt".into(), at.clone());
        }
        Value::Object(info)
    }
}

/// A new team in `Team.create`'s insertion order (MongoDB puts `_id` first).
pub fn new_team(
    id: &str,
    name: &str,
    t: TeamType,
    created_by: Value,
    room_id: &str,
    now: super::time::Millis,
) -> Team {
    let now = super::time::iso(now);
    Team(super::object(serde_json::json!({
        "_id": id,
        "name": name,
        "type": t.code(),
        "createdAt": now,
        "createdBy": created_by,
        "_updatedAt": now,
        "roomId": room_id,
    })))
}

/// A new membership, as `TeamMember.insertMany` stores it: `roles` only when given.
pub fn new_team_member(
    id: &str,
    team_id: &str,
    user_id: &str,
    roles: &[&str],
    created_by: Value,
    now: super::time::Millis,
) -> TeamMember {
    let now = super::time::iso(now);
    let mut doc = super::object(serde_json::json!({
        "_id": id,
        "teamId": team_id,
        "userId": user_id,
    }));
    if !roles.is_empty() {
        doc.insert("roles".into(), roles.into());
    }
    doc.insert("createdAt".into(), now.clone().into());
    doc.insert("createdBy".into(), created_by);
    doc.insert("_updatedAt".into(), now.into());
    TeamMember(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_type_zero_is_public() {
        let team = |t: Value| {
            Team(crate::model::object(
                serde_json::json!({"_id": "t", "type": t}),
            ))
        };
        assert!(team(0.into()).is_public());
        for other in [
            Value::from(1),
            Value::from(2),
            Value::from("0"),
            Value::Null,
        ] {
            assert!(!team(other).is_public());
        }
    }

    #[test]
    fn members_keep_rocket_chat_key_order() {
        let m = new_team_member(
            "m",
            "t",
            "u",
            &["owner"],
            serde_json::json!({"_id": "u"}),
            0,
        );
        let keys: Vec<&str> = m.0.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "_id",
                "teamId",
                "userId",
                "roles",
                "createdAt",
                "createdBy",
                "_updatedAt"
            ]
        );
        let plain = new_team_member("m", "t", "u", &[], serde_json::json!({"_id": "u"}), 0);
        assert!(plain.roles().is_empty() && !plain.0.contains_key("roles"));
    }
}
