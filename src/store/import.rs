use super::tokens::LoginToken;
use super::trees::Tree;
use super::OutboxRecord;
use super::{encode, Store, StoreResult};
use crate::model::push_token::PushToken;
use crate::model::{Doc, Message, Room, Subscription, Team, TeamMember, User};

/// Documents to load in one atomic write (seed bundles, restores).
#[derive(Default)]
pub struct Import {
    pub users: Vec<ImportedUser>,
    pub rooms: Vec<Room>,
    pub subscriptions: Vec<Subscription>,
    pub messages: Vec<ImportedMessage>,
    pub settings: Vec<Doc>,
    /// Permissions whose roles an admin changed.
    pub permissions: Vec<Doc>,
    /// Device registrations (`_raix_push_app_tokens` documents).
    pub push_tokens: Vec<PushToken>,
    /// Pushes not yet delivered: the outbox's records.
    pub pushes: Vec<OutboxRecord>,
    /// Teams (`rocketchat_team`) and their members (`rocketchat_team_member`): without
    /// them a public room of a private team would be open to everyone.
    pub teams: Vec<Team>,
    pub team_members: Vec<TeamMember>,
}

impl Import {
    /// How many documents (users, rooms, subscriptions, messages, settings, teams and
    /// their members) it holds.
    pub fn document_count(&self) -> usize {
        self.users.len()
            + self.rooms.len()
            + self.subscriptions.len()
            + self.messages.len()
            + self.settings.len()
            + self.teams.len()
            + self.team_members.len()
    }
}

pub struct ImportedUser {
    pub user: User,
    pub password_hash: Option<String>,
    /// `(base64(sha256(token)), token)` pairs.
    pub tokens: Vec<(String, LoginToken)>,
}

pub struct ImportedMessage {
    pub message: Message,
    pub id: String,
}

impl Store {
    /// Writes every document of `data`, replacing documents with the same ids.
    /// The change feed says `Resync` for it, not an event per document.
    pub fn import(&self, data: &Import) -> StoreResult<()> {
        self.write(|_, batch| {
            batch.wholesale = true;
            for u in &data.users {
                Self::put_user(batch, &u.user, u.password_hash.as_deref());
                for (hash, token) in &u.tokens {
                    batch.put(Tree::TokenhashToken, hash.as_str(), encode(token));
                }
            }
            for room in &data.rooms {
                Self::put_room(batch, room);
            }
            for sub in &data.subscriptions {
                Self::put_subscription(batch, sub);
            }
            for m in &data.messages {
                Self::put_message(batch, &m.message, &m.id, false);
            }
            for s in &data.settings {
                Self::put_setting(batch, s);
            }
            for p in &data.permissions {
                Self::put_permission(batch, p);
            }
            for t in &data.push_tokens {
                Self::put_push_token(batch, t);
            }
            for r in &data.pushes {
                Self::put_record(batch, r);
            }
            for t in &data.teams {
                Self::put_team(batch, t);
            }
            for m in &data.team_members {
                Self::put_team_member(batch, m);
            }
            Ok(())
        })
    }
}

/// `Tree::Meta` key of the Rocket.Chat import's state (`rcpush import`).
const ROCKETCHAT_IMPORT: &[u8] = b"rocketchat_import";

impl Store {
    /// The state of a Rocket.Chat import into this database, if one was started.
    pub fn rocketchat_import(&self) -> StoreResult<Option<serde_json::Value>> {
        self.get_json(Tree::Meta, ROCKETCHAT_IMPORT)
    }

    pub fn set_rocketchat_import(&self, state: &serde_json::Value) -> StoreResult<()> {
        self.write(|_, batch| {
            batch.put(Tree::Meta, ROCKETCHAT_IMPORT, encode(state));
            Ok(())
        })
    }
}
