//! Cross-checks of indexes against documents, for `rcpush check` and the crash tests: after
//! an abrupt stop every index entry must point at a document that agrees with it, and every
//! document must be reachable through its indexes. Counters (`msgs`, `unread`) depend on
//! settings and on imported data, so they are checked by the callers that know both.

use super::keys::{self, SEP};
use super::trees::Tree;
use super::{Store, StoreResult};
use crate::model::push_token::PushToken;
use crate::model::{DocExt, Room, Subscription, User};

impl Store {
    /// Every inconsistency found, one sentence each (empty when the database is consistent).
    pub fn check_consistency(&self) -> StoreResult<Vec<String>> {
        let mut problems = Vec::new();
        self.check_users(&mut problems)?;
        self.check_rooms(&mut problems)?;
        self.check_subscriptions(&mut problems)?;
        self.check_messages(&mut problems)?;
        self.check_push_tokens(&mut problems)?;
        Ok(problems)
    }

    /// The ids of a room's messages, oldest first, as the time index lists them.
    pub fn room_message_ids(&self, room_id: &str) -> StoreResult<Vec<String>> {
        let prefix = keys::prefix(room_id);
        self.engine
            .scan_prefix(Tree::Roomtsmessageids, &prefix)?
            .into_iter()
            .map(|(k, _)| {
                message_of_time_key(&k, prefix.len())
                    .map(str::to_string)
                    .ok_or_else(|| super::corrupt(Tree::Roomtsmessageids, "malformed key"))
            })
            .collect()
    }

    fn check_users(&self, problems: &mut Vec<String>) -> StoreResult<()> {
        for (key, value) in self.engine.scan_prefix(Tree::UseridUser, b"")? {
            let id = lossy(&key);
            let user: User = super::decode(Tree::UseridUser, &value)?;
            if user.id() != id {
                problems.push(format!("user {id} is stored with _id {}", user.id()));
            }
            if let Some(name) = user.username() {
                self.expect_index(Tree::UsernameUserid, &name.to_lowercase(), &id, problems)?;
            }
            for email in user.emails() {
                self.expect_index(Tree::EmailUserid, &email.to_lowercase(), &id, problems)?;
            }
        }
        for (key, value) in self.engine.scan_prefix(Tree::UsernameUserid, b"")? {
            let (name, id) = (lossy(&key), lossy(&value));
            match self.user(&id)? {
                Some(u) if u.username().map(str::to_lowercase).as_deref() == Some(&name) => {}
                _ => problems.push(format!("username {name} points at {id}, who is not it")),
            }
        }
        for (key, value) in self.engine.scan_prefix(Tree::EmailUserid, b"")? {
            let (email, id) = (lossy(&key), lossy(&value));
            match self.user(&id)? {
                Some(u) if u.emails().iter().any(|e| e.to_lowercase() == email) => {}
                _ => problems.push(format!("e-mail {email} points at {id}, who lacks it")),
            }
        }
        for tree in [Tree::UseridPassword, Tree::TokenhashToken] {
            for (key, value) in self.engine.scan_prefix(tree, b"")? {
                let owner = match tree {
                    Tree::TokenhashToken => {
                        super::decode::<super::LoginToken>(tree, &value)?.user_id
                    }
                    _ => lossy(&key),
                };
                if self.user(&owner)?.is_none() {
                    problems.push(format!("{} entry of missing user {owner}", tree.name()));
                }
            }
        }
        Ok(())
    }

    fn check_rooms(&self, problems: &mut Vec<String>) -> StoreResult<()> {
        for (key, value) in self.engine.scan_prefix(Tree::RoomidRoom, b"")? {
            let id = lossy(&key);
            let room: Room = super::decode(Tree::RoomidRoom, &value)?;
            if room.id() != id {
                problems.push(format!("room {id} is stored with _id {}", room.id()));
            }
            if let Some(name) = room.name() {
                self.expect_index(Tree::RoomnameRoomid, name, &id, problems)?;
            }
        }
        for (key, value) in self.engine.scan_prefix(Tree::RoomnameRoomid, b"")? {
            let (name, id) = (lossy(&key), lossy(&value));
            if self.room(&id)?.as_deref().and_then(Room::name) != Some(name.as_str()) {
                problems.push(format!("room name {name} points at {id}, which is not it"));
            }
        }
        Ok(())
    }

    /// Subscriptions and the member index are two views of one relation.
    fn check_subscriptions(&self, problems: &mut Vec<String>) -> StoreResult<()> {
        for (key, value) in self.engine.scan_prefix(Tree::UserroomidSubscription, b"")? {
            let sub: Subscription = super::decode(Tree::UserroomidSubscription, &value)?;
            if key != keys::pair(sub.user_id(), sub.rid()) {
                problems.push(format!(
                    "subscription {} is stored under another user or room",
                    sub.id()
                ));
            }
            let member = keys::pair(sub.rid(), sub.user_id());
            if self.engine.get(Tree::Roomuserids, &member)?.is_none() {
                problems.push(format!(
                    "{} is subscribed to {} but not listed as a member",
                    sub.user_id(),
                    sub.rid()
                ));
            }
        }
        for (key, _) in self.engine.scan_prefix(Tree::Roomuserids, b"")? {
            let room = key
                .split(|b| *b == SEP)
                .next()
                .map(lossy)
                .unwrap_or_default();
            let user = keys::second(&key).unwrap_or_default();
            if self.subscription(&room, user)?.is_none() {
                problems.push(format!(
                    "{user} is a member of {room} without a subscription"
                ));
            }
        }
        self.check_badges(problems)
    }

    /// The badge index agrees with the subscriptions, for every user either one mentions.
    fn check_badges(&self, problems: &mut Vec<String>) -> StoreResult<()> {
        let mut users = std::collections::BTreeSet::new();
        for (key, _) in self.engine.scan_prefix(Tree::UserroomidSubscription, b"")? {
            users.insert(
                key.split(|b| *b == SEP)
                    .next()
                    .map(lossy)
                    .unwrap_or_default(),
            );
        }
        for (key, _) in self.engine.scan_prefix(Tree::UseridBadge, b"")? {
            users.insert(lossy(&key));
        }
        for user in users {
            let (indexed, counted) = (self.badge(&user)?, self.badge_from_subscriptions(&user)?);
            if indexed != counted {
                problems.push(format!(
                    "the badge of {user} is indexed as {indexed} but its subscriptions add up to {counted}"
                ));
            }
        }
        Ok(())
    }

    /// A registration is listed under its device token and its user, and only there.
    fn check_push_tokens(&self, problems: &mut Vec<String>) -> StoreResult<()> {
        let mut expected = std::collections::HashSet::new();
        for (key, value) in self.engine.scan_prefix(Tree::PushtokenidPushtoken, b"")? {
            let token: PushToken = super::decode(Tree::PushtokenidPushtoken, &value)?;
            let id = lossy(&key);
            if token.id() != id {
                problems.push(format!("push token {id} is stored with _id {}", token.id()));
            }
            let Some((_, value)) = token.device() else {
                problems.push(format!("push token {id} has no device token"));
                continue;
            };
            expected.insert((Tree::Pushtokenvaluepushtokenids, keys::pair(value, &id)));
            expected.insert((Tree::Useridpushtokenids, keys::pair(token.user_id(), &id)));
        }
        for tree in [Tree::Pushtokenvaluepushtokenids, Tree::Useridpushtokenids] {
            let mut found = 0;
            for (key, _) in self.engine.scan_prefix(tree, b"")? {
                if expected.contains(&(tree, key.clone())) {
                    found += 1;
                } else {
                    problems.push(format!(
                        "{} lists {} without its document",
                        tree.name(),
                        lossy(&key)
                    ));
                }
            }
            let wanted = expected.iter().filter(|(t, _)| *t == tree).count();
            if found != wanted {
                problems.push(format!(
                    "{} misses {} registrations",
                    tree.name(),
                    wanted - found.min(wanted)
                ));
            }
        }
        Ok(())
    }

    /// Every message is listed once in its room's time index, and only there.
    fn check_messages(&self, problems: &mut Vec<String>) -> StoreResult<()> {
        let mut listed = std::collections::HashMap::new();
        for (key, _) in self.engine.scan_prefix(Tree::Roomtsmessageids, b"")? {
            let room_len = key.iter().position(|b| *b == SEP).unwrap_or(0);
            let room = lossy(&key[..room_len]);
            match message_of_time_key(&key, room_len + 1) {
                Some(mid) => *listed.entry((room, mid.to_string())).or_insert(0) += 1,
                None => problems.push(format!("malformed time index key in room {room}")),
            }
        }
        for (key, value) in self.engine.scan_prefix(Tree::MessageidMessage, b"")? {
            let id = lossy(&key);
            let doc: crate::model::Doc = super::decode(Tree::MessageidMessage, &value)?;
            if doc.str_at("_id") != Some(id.as_str()) {
                problems.push(format!("message {id} is stored with another _id"));
            }
            let rid = doc.str_at("rid").unwrap_or_default().to_string();
            match listed.remove(&(rid.clone(), id.clone())) {
                Some(1) => {}
                Some(n) => problems.push(format!("message {id} is listed {n} times in {rid}")),
                None => problems.push(format!("message {id} is missing from the index of {rid}")),
            }
        }
        for (room, mid) in listed.into_keys() {
            problems.push(format!(
                "the index of {room} lists {mid}, which is not stored there"
            ));
        }
        Ok(())
    }

    /// `tree[key]` must be `id`.
    fn expect_index(
        &self,
        tree: Tree,
        key: &str,
        id: &str,
        problems: &mut Vec<String>,
    ) -> StoreResult<()> {
        let found = self.get_string(tree, key.as_bytes())?;
        if found.as_deref() != Some(id) {
            problems.push(format!(
                "{} has {found:?} for {key}, expected {id}",
                tree.name()
            ));
        }
        Ok(())
    }
}

/// The message id of a `rid ∙ ts ∙ mid` key whose room part (with its separator) is
/// `prefix_len` bytes long. The 8 time bytes may contain `0xFF`, so they are skipped by length.
fn message_of_time_key(key: &[u8], prefix_len: usize) -> Option<&str> {
    let rest = key.get(prefix_len + 8..)?;
    let (sep, mid) = rest.split_first()?;
    (*sep == SEP)
        .then(|| std::str::from_utf8(mid).ok())
        .flatten()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_give_their_message_even_when_the_time_holds_separators() {
        let key = keys::room_ts_message("room", -1, "mid");
        assert_eq!(message_of_time_key(&key, 5), Some("mid"));
        assert_eq!(message_of_time_key(b"room\xFFshort", 5), None);
    }

    #[test]
    fn a_broken_index_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 4).unwrap();
        let import = crate::seed::parse(
            r#"{"users":[{"_id":"u1","username":"Ann","emails":[{"address":"a@x"}]}],
                "rooms":[{"_id":"r1","t":"c","name":"general"}],
                "subscriptions":[{"_id":"s1","rid":"r1","u":{"_id":"u1"}}],
                "messages":[{"_id":"m1","rid":"r1","ts":"2024-01-01T00:00:00.000Z"}]}"#,
        )
        .unwrap();
        store.import(&import).unwrap();
        assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
        assert_eq!(store.room_message_ids("r1").unwrap(), ["m1"]);
        store
            .write(|_, batch| {
                batch.delete(Tree::UsernameUserid, "ann");
                batch.put(Tree::RoomnameRoomid, "ghost", "r9");
                batch.delete(Tree::Roomuserids, keys::pair("r1", "u1"));
                batch.delete(
                    Tree::Roomtsmessageids,
                    keys::room_ts_message("r1", 1_704_067_200_000, "m1"),
                );
                batch.put(Tree::UseridBadge, "u1", "3");
                Ok(())
            })
            .unwrap();
        let problems = store.check_consistency().unwrap();
        assert_eq!(problems.len(), 5, "{problems:#?}");
    }
}
