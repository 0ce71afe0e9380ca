//! Cross-checks of indexes against documents, for `rcpush check` and the crash tests: after
//! an abrupt stop every index entry must point at a document that agrees with it, and every
//! document must be reachable through its indexes. Counters (`msgs`, `unread`) depend on
//! settings and on imported data, so they are checked by the callers that know both.

use super::keys;
use super::trees::Tree;
use super::{Store, StoreResult};
use crate::model::push_token::PushToken;
use crate::model::{Room, Subscription, User};

impl Store {
    /// Every inconsistency found, one sentence each (empty when the database is consistent),
    /// in one consistent state of the database (servers may be writing to PostgreSQL).
    pub fn check_consistency(&self) -> StoreResult<Vec<String>> {
        self.read_consistent(|store| {
            let mut problems = Vec::new();
            store.check_users(&mut problems)?;
            store.check_rooms(&mut problems)?;
            store.check_subscriptions(&mut problems)?;
            store.check_messages(&mut problems)?;
            store.check_push_tokens(&mut problems)?;
            store.check_outbox(&mut problems)?;
            store.check_snapshots(&mut problems)?;
            Ok(problems)
        })
    }

    /// How many documents of each kind the database holds, as `(kind, count)` pairs:
    /// users, rooms, subscriptions, messages, settings, push tokens, pending pushes.
    pub fn document_counts(&self) -> StoreResult<Vec<(&'static str, usize)>> {
        [
            ("users", Tree::UseridUser),
            ("rooms", Tree::RoomidRoom),
            ("subscriptions", Tree::UserroomidSubscription),
            ("messages", Tree::MessageidMessage),
            ("settings", Tree::SettingidSetting),
            ("push tokens", Tree::PushtokenidPushtoken),
        ]
        .into_iter()
        .map(|(kind, tree)| Ok((kind, self.engine.count(tree)?)))
        .chain([self.outbox_len().map(|n| ("pending pushes", n))])
        .collect()
    }

    /// The ids of a room's messages (walks every message: for checks, not for requests).
    pub fn room_message_ids(&self, room_id: &str) -> StoreResult<Vec<String>> {
        let mut ids = Vec::new();
        self.engine
            .visit_prefix(Tree::MessageidMessage, b"", &mut |key, value| {
                let view: crate::model::message::MessageView = serde_json::from_slice(value)
                    .map_err(|e| super::corrupt(Tree::MessageidMessage, e))?;
                if view.rid == room_id {
                    ids.push(lossy(key));
                }
                Ok(true)
            })?;
        Ok(ids)
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
        for (key, _) in self.engine.scan_prefix(Tree::UserroomidCounters, b"")? {
            if self
                .engine
                .get(Tree::UserroomidSubscription, &key)?
                .is_none()
            {
                problems.push(format!(
                    "pending counters of a missing subscription {}",
                    lossy(&key)
                ));
            }
        }
        for (key, _) in self.engine.scan_prefix(Tree::RoomseqBumps, b"")? {
            let room = lossy(keys::first(&key));
            if self.room(&room)?.is_none() {
                problems.push(format!("counter records of a missing room {room}"));
            }
        }
        for (key, _) in self.engine.scan_prefix(Tree::Roomuserids, b"")? {
            let room = lossy(keys::first(&key));
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
        let mut users = self.subscribed_user_ids()?;
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

    /// Every message is stored under its own id, in a room that exists.
    fn check_messages(&self, problems: &mut Vec<String>) -> StoreResult<()> {
        let mut rooms = std::collections::HashMap::new();
        for (key, value) in self.engine.scan_prefix(Tree::MessageidMessage, b"")? {
            let id = lossy(&key);
            let doc: crate::model::message::MessageDoc =
                super::decode(Tree::MessageidMessage, &value)?;
            if doc.id() != id {
                problems.push(format!("message {id} is stored with another _id"));
            }
            let rid = doc.rid().to_string();
            let exists = match rooms.get(&rid) {
                Some(known) => *known,
                None => {
                    let found = self.room(&rid)?.is_some();
                    rooms.insert(rid.clone(), found);
                    found
                }
            };
            if !exists {
                problems.push(format!("message {id} is in {rid}, which does not exist"));
            }
        }
        Ok(())
    }

    /// Every outbox record is filed under its first due time with a device, and indexed by
    /// its id; every index entry points at its record.
    fn check_outbox(&self, problems: &mut Vec<String>) -> StoreResult<()> {
        let mut filed = std::collections::HashSet::new();
        for (key, value) in self.engine.scan_prefix(Tree::Outbox, b"")? {
            let record = self.read_record(&value)?;
            let first = record
                .receivers
                .iter()
                .flat_map(|r| &r.devices)
                .map(|d| d.due)
                .min();
            match first {
                Some(due) if keys::due_id(due, &record.id) == key => {
                    let indexed = due.to_string();
                    self.expect_index(Tree::OutboxidDue, &record.id, &indexed, problems)?;
                }
                _ => problems.push(format!(
                    "outbox record {} is not filed under its first due push",
                    record.id
                )),
            }
            filed.insert(record.id);
        }
        for (key, _) in self.engine.scan_prefix(Tree::OutboxidDue, b"")? {
            if !filed.contains(&lossy(&key)) {
                problems.push(format!(
                    "outboxid_due lists {} without its record",
                    lossy(&key)
                ));
            }
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

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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
                batch.put(
                    Tree::MessageidMessage,
                    "m2",
                    r#"{"_id":"m2","rid":"r9","ts":"2024-01-01T00:00:00.000Z"}"#,
                );
                batch.put(Tree::UseridBadge, "u1", "3");
                Ok(())
            })
            .unwrap();
        let problems = store.check_consistency().unwrap();
        assert_eq!(problems.len(), 5, "{problems:#?}");
    }
}
