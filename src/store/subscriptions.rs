use std::collections::{BTreeMap, BTreeSet};

use super::keys;
use super::trees::Tree;
use super::{decode, encode, Batch, Store, StoreResult};
use crate::model::Subscription;

/// The badge's view of a subscription; values of other types are accepted and ignored.
#[derive(serde::Deserialize)]
struct Counters {
    #[serde(default)]
    unread: Option<Loose>,
    #[serde(default)]
    archived: Option<Loose>,
}

#[derive(serde::Deserialize, PartialEq)]
#[serde(untagged)]
enum Loose {
    Bool(bool),
    Number(serde_json::Number),
    Other(serde::de::IgnoredAny),
}

/// What one stored subscription adds to its user's badge (`Subscriptions.getBadgeCount`):
/// its `unread`, unless it is archived. Only the two counters are decoded.
fn badge_share(subscription: &[u8]) -> StoreResult<i64> {
    let c: Counters = decode(Tree::UserroomidSubscription, subscription)?;
    Ok(match c.unread {
        _ if c.archived == Some(Loose::Bool(true)) => 0,
        Some(Loose::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        _ => 0,
    })
}

/// The badge of stored subscriptions: the sum of their shares.
fn badge_of<'a>(subscriptions: impl IntoIterator<Item = &'a [u8]>) -> StoreResult<i64> {
    subscriptions.into_iter().try_fold(0i64, |total, bytes| {
        Ok(total.saturating_add(badge_share(bytes)?))
    })
}

impl Store {
    pub fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>> {
        let key = keys::pair(user_id, room_id);
        let cached = self
            .caches
            .subscriptions
            .get_or_load(&key, || self.get_json(Tree::UserroomidSubscription, &key))?;
        Ok(cached.map(std::sync::Arc::unwrap_or_clone))
    }

    pub fn subscriptions_of_user(&self, user_id: &str) -> StoreResult<Vec<Subscription>> {
        self.engine
            .scan_prefix(Tree::UserroomidSubscription, &keys::prefix(user_id))?
            .into_iter()
            .map(|(_, v)| decode(Tree::UserroomidSubscription, &v))
            .collect()
    }

    /// The subscriptions to `room_id` of those of `user_ids` who have one, in their order
    /// (one read for all).
    pub fn room_subscriptions(
        &self,
        room_id: &str,
        user_ids: &[&str],
    ) -> StoreResult<Vec<Subscription>> {
        let keys: Vec<Vec<u8>> = user_ids.iter().map(|u| keys::pair(u, room_id)).collect();
        self.engine
            .get_many(Tree::UserroomidSubscription, &keys)?
            .into_iter()
            .flatten()
            .map(|bytes| decode(Tree::UserroomidSubscription, &bytes))
            .collect()
    }

    pub fn room_member_ids(&self, room_id: &str) -> StoreResult<Vec<String>> {
        self.engine
            .scan_prefix(Tree::Roomuserids, &keys::prefix(room_id))?
            .into_iter()
            .map(|(k, _)| {
                keys::second(&k)
                    .map(str::to_string)
                    .ok_or_else(|| super::corrupt(Tree::Roomuserids, "key without user id"))
            })
            .collect()
    }

    /// `Subscriptions.getBadgeCount`, read from the index `derive_badges` keeps: push.get
    /// asks for it on every call, and a user may have hundreds of subscriptions.
    pub fn badge(&self, user_id: &str) -> StoreResult<i64> {
        let badge = self.caches.badges.get_or_load(user_id.as_bytes(), || {
            parse_badge(self.engine.get(Tree::UseridBadge, user_id.as_bytes())?).map(Some)
        })?;
        Ok(badge.map_or(0, |b| *b))
    }

    /// The badge computed from the subscriptions themselves.
    pub(super) fn badge_from_subscriptions(&self, user_id: &str) -> StoreResult<i64> {
        let stored = self
            .engine
            .scan_prefix(Tree::UserroomidSubscription, &keys::prefix(user_id))?;
        badge_of(stored.iter().map(|(_, v)| v.as_slice()))
    }

    /// Every user with at least one subscription.
    pub(super) fn subscribed_user_ids(&self) -> StoreResult<BTreeSet<String>> {
        let mut users = BTreeSet::new();
        self.engine
            .visit_prefix(Tree::UserroomidSubscription, b"", &mut |key, _| {
                let user = std::str::from_utf8(keys::first(key))
                    .map_err(|e| super::corrupt(Tree::UserroomidSubscription, e))?;
                users.insert(user.to_string());
                Ok(true)
            })?;
        Ok(users)
    }

    /// Brings the badge index up to date with the subscriptions `batch` writes: each
    /// user's stored badge moves by what their written subscriptions' shares change (the
    /// last write of a key in the batch counts). Only the written subscriptions are read,
    /// not all of the user's; `rcpush check` compares the index with a full recount.
    pub(super) fn derive_badges(&self, batch: &mut Batch) -> StoreResult<super::Badges> {
        let mut last: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
        for (tree, key, value) in &batch.writes {
            if *tree == Tree::UserroomidSubscription {
                last.insert(key, value.as_deref());
            }
        }
        // Two reads for the lot: the written subscriptions as stored, and their users' badges.
        let written: Vec<Vec<u8>> = last.keys().map(|k| k.to_vec()).collect();
        let stored = self
            .engine
            .get_many(Tree::UserroomidSubscription, &written)?;
        let mut users = Vec::with_capacity(written.len());
        for key in &written {
            let user = std::str::from_utf8(keys::first(key))
                .map_err(|e| super::corrupt(Tree::UserroomidSubscription, e))?;
            users.push(user);
        }
        let distinct: BTreeSet<&str> = users.iter().copied().collect();
        let user_keys: Vec<Vec<u8>> = distinct.iter().map(|u| u.as_bytes().to_vec()).collect();
        let mut badges = super::Badges::new();
        for (user, badge) in distinct
            .iter()
            .zip(self.engine.get_many(Tree::UseridBadge, &user_keys)?)
        {
            badges.insert(user.to_string(), parse_badge(badge)?);
        }
        for ((user, old), new) in users.iter().zip(stored).zip(last.into_values()) {
            let old = old.as_deref().map(badge_share).transpose()?.unwrap_or(0);
            let new = new.map(badge_share).transpose()?.unwrap_or(0);
            let badge = badges.entry(user.to_string()).or_default();
            *badge = badge.saturating_add(new - old);
        }
        for (user, total) in &badges {
            batch.put(Tree::UseridBadge, user.as_str(), total.to_string());
        }
        Ok(badges)
    }

    /// Marks a room read for a user (`unread` and mentions to zero, `alert` off, `open` on,
    /// `ls` and `_updatedAt` to `at`). Unread threads (`tunread`, `tunreadUser`,
    /// `tunreadGroup`) go too with `read_threads`; otherwise, if there are some, `alert` stays
    /// as it was. `None` if the user has no subscription to the room.
    pub fn mark_read(
        &self,
        room_id: &str,
        user_id: &str,
        at: &str,
        read_threads: bool,
    ) -> StoreResult<Option<()>> {
        self.write(|store, batch| {
            let Some(mut sub) = store.subscription(room_id, user_id)? else {
                return Ok(None);
            };
            crate::rules::counters::mark_read(&mut sub, at, read_threads);
            Self::update_subscription(batch, &sub);
            Ok(Some(()))
        })
    }

    /// Stores a new subscription with its room-member index entry.
    pub(super) fn put_subscription(batch: &mut Batch, sub: &Subscription) {
        Self::update_subscription(batch, sub);
        batch.put(Tree::Roomuserids, keys::pair(sub.rid(), sub.user_id()), "");
    }

    /// Stores a changed subscription (its member index entry is there already).
    pub(super) fn update_subscription(batch: &mut Batch, sub: &Subscription) {
        batch.put(
            Tree::UserroomidSubscription,
            keys::pair(sub.user_id(), sub.rid()),
            encode(sub),
        );
    }
}

/// A stored badge (absent: 0).
fn parse_badge(stored: Option<Vec<u8>>) -> StoreResult<i64> {
    match stored {
        None => Ok(0),
        Some(bytes) => std::str::from_utf8(&bytes)
            .map_err(|e| super::corrupt(Tree::UseridBadge, e))?
            .parse()
            .map_err(|e| super::corrupt(Tree::UseridBadge, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(subscriptions: &str) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 4).unwrap();
        let import = crate::seed::parse(&format!(
            r#"{{"users":[{{"_id":"u1","username":"ann"}},{{"_id":"u2","username":"bob"}}],
                "rooms":[{{"_id":"r1","t":"c","name":"a"}},{{"_id":"r2","t":"c","name":"b"}},
                         {{"_id":"r3","t":"c","name":"c"}}],
                "subscriptions":{subscriptions}}}"#
        ))
        .unwrap();
        store.import(&import).unwrap();
        (dir, store)
    }

    const SUBSCRIPTIONS: &str = r#"[
        {"_id":"s1","rid":"r1","u":{"_id":"u1"},"unread":2},
        {"_id":"s2","rid":"r2","u":{"_id":"u1"},"unread":3.0},
        {"_id":"s3","rid":"r3","u":{"_id":"u1"},"unread":5,"archived":true},
        {"_id":"s4","rid":"r1","u":{"_id":"u2"},"unread":"7"}]"#;

    #[test]
    fn the_badge_index_follows_every_subscription_write() {
        let (_dir, store) = store_with(SUBSCRIPTIONS);
        assert_eq!(
            (store.badge("u1").unwrap(), store.badge("u2").unwrap()),
            (5, 0)
        );
        assert_eq!(store.badge("nobody").unwrap(), 0);

        store
            .mark_read("r1", "u1", "2030-01-01T00:00:00.000Z", false)
            .unwrap();
        assert_eq!(store.badge("u1").unwrap(), 3);

        let (id, doc) = crate::model::message::new_system_message(
            "ul",
            "r2",
            "ann",
            serde_json::json!({"_id": "u1"}),
            0,
            &crate::model::id::Ids::default(),
        );
        let note = super::super::SystemMessage::new(id, doc);
        store
            .remove_member("r2", "u1", "2030-01-01T00:00:00.000Z", &note)
            .unwrap();
        assert_eq!(store.badge("u1").unwrap(), 0);
        assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
    }

    /// One write of a test batch: a subscription of user `u` to room `r` with these
    /// counters, or its deletion.
    #[derive(Debug, Clone)]
    struct SubWrite {
        u: u8,
        r: u8,
        unread: Option<i64>,
        archived: bool,
        delete: bool,
    }

    fn sub_write() -> impl proptest::strategy::Strategy<Value = SubWrite> {
        use proptest::prelude::*;
        (
            0u8..3,
            0u8..3,
            prop::option::of(0i64..5),
            any::<bool>(),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(u, r, unread, archived, delete)| SubWrite {
                u,
                r,
                unread,
                archived,
                delete,
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(32))]
        /// However batches of subscription writes (repeats of a key included) fall, the
        /// badge index the writes maintain by increments equals a full recount.
        #[test]
        fn the_badge_index_equals_a_recount(
            batches in proptest::collection::vec(proptest::collection::vec(sub_write(), 0..6), 1..6)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&dir.path().join("db"), 4).unwrap();
            for writes in batches {
                store.write(|_, batch| {
                    for w in &writes {
                        let (uid, rid) = (format!("u{}", w.u), format!("r{}", w.r));
                        if w.delete {
                            batch.delete(Tree::UserroomidSubscription, keys::pair(&uid, &rid));
                            continue;
                        }
                        let mut doc = serde_json::json!({"_id": format!("{uid}{rid}"), "rid": rid, "u": {"_id": uid}});
                        if let Some(n) = w.unread {
                            doc["unread"] = n.into();
                        }
                        if w.archived {
                            doc["archived"] = true.into();
                        }
                        Store::update_subscription(batch, &Subscription(crate::model::object(doc)));
                    }
                    Ok(())
                }).unwrap();
                for u in 0..3 {
                    let uid = format!("u{u}");
                    proptest::prop_assert_eq!(store.badge(&uid).unwrap(), store.badge_from_subscriptions(&uid).unwrap());
                }
            }
        }
    }
}
