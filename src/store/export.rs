//! A consistent copy of the whole database, for backups (`rcpush export`).

use std::collections::HashMap;

use super::import::{Import, ImportedMessage, ImportedUser};
use super::tokens::LoginToken;
use super::trees::Tree;
use super::{corrupt, decode, Store, StoreResult};
use crate::model::Message;

impl Store {
    /// Every document with its secrets, read while writers are held off, so that the copy
    /// is a state the database really was in (never half of one write).
    pub fn snapshot(&self) -> StoreResult<Import> {
        self.read_consistent(Self::read_all)
    }

    fn read_all(&self) -> StoreResult<Import> {
        let mut tokens: HashMap<String, Vec<(String, LoginToken)>> = HashMap::new();
        for (hash, value) in self.entries(Tree::TokenhashToken)? {
            let token: LoginToken = decode(Tree::TokenhashToken, &value)?;
            let hash = String::from_utf8(hash).map_err(|e| corrupt(Tree::TokenhashToken, e))?;
            tokens
                .entry(token.user_id.clone())
                .or_default()
                .push((hash, token));
        }
        let mut import = Import::default();
        for (key, value) in self.entries(Tree::UseridUser)? {
            import.users.push(ImportedUser {
                user: decode(Tree::UseridUser, &value)?,
                password_hash: self.get_string(Tree::UseridPassword, &key)?,
                tokens: tokens
                    .remove(&String::from_utf8_lossy(&key).into_owned())
                    .unwrap_or_default(),
            });
        }
        for (_, value) in self.entries(Tree::RoomidRoom)? {
            import.rooms.push(decode(Tree::RoomidRoom, &value)?);
        }
        import.subscriptions = self.all_subscriptions()?;
        for (key, value) in self.entries(Tree::MessageidMessage)? {
            import.messages.push(ImportedMessage {
                id: String::from_utf8_lossy(&key).into_owned(),
                message: Message::from_json(value)
                    .map_err(|e| corrupt(Tree::MessageidMessage, e))?,
            });
        }
        for (_, value) in self.entries(Tree::SettingidSetting)? {
            import
                .settings
                .push(decode(Tree::SettingidSetting, &value)?);
        }
        for (_, value) in self.entries(Tree::PermissionidPermission)? {
            import
                .permissions
                .push(decode(Tree::PermissionidPermission, &value)?);
        }
        for (_, value) in self.entries(Tree::PushtokenidPushtoken)? {
            import
                .push_tokens
                .push(decode(Tree::PushtokenidPushtoken, &value)?);
        }
        import.pushes = self.outbox_records()?;
        for (_, value) in self.entries(Tree::TeamidTeam)? {
            import.teams.push(decode(Tree::TeamidTeam, &value)?);
        }
        for (_, value) in self.entries(Tree::TeamuseridMember)? {
            import
                .team_members
                .push(decode(Tree::TeamuseridMember, &value)?);
        }
        Ok(import)
    }

    /// Every raw entry of one tree, in key order (backups, and tests that compare databases).
    pub fn entries(&self, tree: Tree) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.engine.scan_prefix(tree, b"")
    }
}
