use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::keys;
use super::trees::Tree;
use super::{decode, encode, Batch, Store, StoreResult};
use crate::model::Subscription;
use crate::rules::counters::PendingBumps;
use crate::rules::unread::Bump;

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

impl Counters {
    /// Only the two counters are decoded.
    fn of(subscription: &[u8]) -> StoreResult<Counters> {
        decode(Tree::UserroomidSubscription, subscription)
    }

    fn archived(&self) -> bool {
        self.archived == Some(Loose::Bool(true))
    }

    /// What the subscription adds to its user's badge (`Subscriptions.getBadgeCount`): its
    /// `unread`, unless it is archived.
    fn share(&self) -> i64 {
        match &self.unread {
            _ if self.archived() => 0,
            Some(Loose::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// No bump yet on this subscription.
    fn pending(&self) -> PendingBumps {
        let unread = match &self.unread {
            Some(Loose::Number(n)) => n.as_i64().unwrap_or(0),
            _ => 0,
        };
        PendingBumps::new(unread, self.share(), self.archived())
    }
}

fn decode_pending(bytes: &[u8]) -> StoreResult<PendingBumps> {
    decode(Tree::UserroomidCounters, bytes)
}

/// What a stored subscription with its pending bumps (if any) adds to its user's badge.
fn badge_share(subscription: &[u8], pending: Option<&[u8]>) -> StoreResult<i64> {
    match pending {
        Some(p) => Ok(decode_pending(p)?.share()),
        None => Ok(Counters::of(subscription)?.share()),
    }
}

/// A stored subscription as its pending bumps (if any) leave it.
pub(super) fn merged(subscription: &[u8], pending: Option<&[u8]>) -> StoreResult<Subscription> {
    let mut sub: Subscription = decode(Tree::UserroomidSubscription, subscription)?;
    if let Some(p) = pending {
        decode_pending(p)?.apply(&mut sub);
    }
    Ok(sub)
}

impl Store {
    pub fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>> {
        let key = keys::pair(user_id, room_id);
        let cached = self.caches.subscriptions.get_or_load(&key, || {
            let Some(doc) = self.engine.get(Tree::UserroomidSubscription, &key)? else {
                return Ok(None);
            };
            let pending = self.engine.get(Tree::UserroomidCounters, &key)?;
            merged(&doc, pending.as_deref()).map(Some)
        })?;
        Ok(cached.map(std::sync::Arc::unwrap_or_clone))
    }

    pub fn subscriptions_of_user(&self, user_id: &str) -> StoreResult<Vec<Subscription>> {
        let prefix = keys::prefix(user_id);
        self.merged_entries(
            self.engine
                .scan_prefix(Tree::UserroomidSubscription, &prefix)?,
            self.engine.scan_prefix(Tree::UserroomidCounters, &prefix)?,
        )
    }

    /// Every subscription, in key order (backups).
    pub(super) fn all_subscriptions(&self) -> StoreResult<Vec<Subscription>> {
        self.merged_entries(
            self.engine.scan_prefix(Tree::UserroomidSubscription, b"")?,
            self.engine.scan_prefix(Tree::UserroomidCounters, b"")?,
        )
    }

    /// Stored subscriptions merged with the pending bumps among `pending`.
    fn merged_entries(
        &self,
        documents: super::engine::Entries,
        pending: super::engine::Entries,
    ) -> StoreResult<Vec<Subscription>> {
        let pending: HashMap<Vec<u8>, Vec<u8>> = pending.into_iter().collect();
        documents
            .into_iter()
            .map(|(k, v)| merged(&v, pending.get(&k).map(Vec::as_slice)))
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
        let documents = self.engine.get_many(Tree::UserroomidSubscription, &keys)?;
        let pending = self.engine.get_many(Tree::UserroomidCounters, &keys)?;
        documents
            .into_iter()
            .zip(pending)
            .filter_map(|(doc, pending)| Some(merged(&doc?, pending.as_deref())))
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
        let prefix = keys::prefix(user_id);
        let stored = self
            .engine
            .scan_prefix(Tree::UserroomidSubscription, &prefix)?;
        let pending: HashMap<Vec<u8>, Vec<u8>> = self
            .engine
            .scan_prefix(Tree::UserroomidCounters, &prefix)?
            .into_iter()
            .collect();
        stored.iter().try_fold(0i64, |total, (k, v)| {
            let share = badge_share(v, pending.get(k).map(Vec::as_slice))?;
            Ok(total.saturating_add(share))
        })
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

    /// Brings the badge index up to date with the subscriptions and pending bumps `batch`
    /// writes: each user's stored badge moves by what their written subscriptions' shares
    /// change (the last write of a key in the batch counts). Only the written subscriptions
    /// are read, not all of the user's, and of a subscription only bumped, only its pending
    /// bumps; `rcpush check` compares the index with a full recount.
    pub(super) fn derive_badges(&self, batch: &mut Batch) -> StoreResult<super::Badges> {
        let mut documents: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
        let mut bumped: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
        for (tree, key, value) in &batch.writes {
            match tree {
                Tree::UserroomidSubscription => documents.insert(key, value.as_deref()),
                Tree::UserroomidCounters => bumped.insert(key, value.as_deref()),
                _ => continue,
            };
        }
        let written: BTreeSet<&[u8]> = documents.keys().chain(bumped.keys()).copied().collect();
        let written: Vec<Vec<u8>> = written.into_iter().map(<[u8]>::to_vec).collect();
        // The stored documents are read only where the batch writes them, or drops their
        // pending bumps without: a bumped document's share is in its bumps.
        let needs_document =
            |k: &[u8]| documents.contains_key(k) || !matches!(bumped.get(k), Some(Some(_)));
        let wanted: Vec<Vec<u8>> = written
            .iter()
            .filter(|k| needs_document(k))
            .cloned()
            .collect();
        let mut stored: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for (k, v) in wanted.iter().zip(
            self.engine
                .get_many(Tree::UserroomidSubscription, &wanted)?,
        ) {
            if let Some(v) = v {
                stored.insert(k.clone(), v);
            }
        }
        // A subscription only bumped, as `bump_pending` read it: its share before is known.
        let known = |k: &[u8]| {
            (!documents.contains_key(k))
                .then(|| batch.bumped.get(k))
                .flatten()
        };
        let unknown: Vec<Vec<u8>> = written
            .iter()
            .filter(|k| known(k).is_none())
            .cloned()
            .collect();
        let mut stored_bumps: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for (k, v) in unknown
            .iter()
            .zip(self.engine.get_many(Tree::UserroomidCounters, &unknown)?)
        {
            if let Some(v) = v {
                stored_bumps.insert(k.clone(), v);
            }
        }
        let mut changes: Vec<(&str, i64)> = Vec::with_capacity(written.len());
        for key in &written {
            let user = std::str::from_utf8(keys::first(key))
                .map_err(|e| super::corrupt(Tree::UserroomidSubscription, e))?;
            if let (Some(read), Some(Some(bumps))) = (known(key), bumped.get(key.as_slice())) {
                changes.push((user, decode_pending(bumps)?.share() - read.share));
                continue;
            }
            let old_bumps = stored_bumps.get(key).map(Vec::as_slice);
            let new_bumps = match bumped.get(key.as_slice()) {
                Some(written) => written.map(decode_pending).transpose()?,
                None => old_bumps.map(decode_pending).transpose()?,
            };
            let old = match (old_bumps, stored.get(key)) {
                (Some(p), _) => decode_pending(p)?.share(),
                (None, Some(doc)) => Counters::of(doc)?.share(),
                // Only bumped, for the first time: the bumps know the document's share.
                (None, None) => new_bumps.as_ref().map_or(0, PendingBumps::base_share),
            };
            let document = match documents.get(key.as_slice()) {
                Some(written) => *written,
                None => stored.get(key).map(Vec::as_slice),
            };
            let new = match (&new_bumps, document) {
                (Some(p), _) => p.share(),
                (None, Some(doc)) => Counters::of(doc)?.share(),
                (None, None) => 0,
            };
            changes.push((user, new - old));
        }
        let distinct: BTreeSet<&str> = changes.iter().map(|(u, _)| *u).collect();
        let user_keys: Vec<Vec<u8>> = distinct.iter().map(|u| u.as_bytes().to_vec()).collect();
        let mut badges = super::Badges::new();
        for (user, badge) in distinct
            .iter()
            .zip(self.engine.get_many(Tree::UseridBadge, &user_keys)?)
        {
            badges.insert(user.to_string(), parse_badge(badge)?);
        }
        for (user, change) in changes {
            let badge = badges.entry(user.to_string()).or_default();
            *badge = badge.saturating_add(change);
        }
        for (user, total) in &badges {
            batch.put(Tree::UseridBadge, user.as_str(), total.to_string());
        }
        Ok(badges)
    }

    /// Adds `bump` (a plain message's, at `at`) to the subscription stored as `document`
    /// with `pending` bumps, as pending bumps: the document itself is neither decoded (but
    /// for its two counters, on its first bump) nor written.
    pub(super) fn bump_pending(
        batch: &mut Batch,
        key: Vec<u8>,
        document: &[u8],
        pending: Option<&[u8]>,
        bump: &Bump,
        at: &str,
    ) -> StoreResult<()> {
        let mut bumps = match pending {
            Some(p) => decode_pending(p)?,
            None => Counters::of(document)?.pending(),
        };
        let share = bumps.share();
        bumps.add(bump, at);
        batch.put(Tree::UserroomidCounters, key.clone(), encode(&bumps));
        let document = document.to_vec();
        batch
            .bumped
            .insert(key, super::engine::Bumped { document, share });
        Ok(())
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
        self.write_keyed(|store, batch| {
            store.engine.lock(&[super::Lock::Room(room_id)])?;
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

    /// Stores a changed subscription (its member index entry is there already). `sub` was
    /// read merged: its pending bumps go.
    pub(super) fn update_subscription(batch: &mut Batch, sub: &Subscription) {
        let key = keys::pair(sub.user_id(), sub.rid());
        batch.delete(Tree::UserroomidCounters, key.clone());
        batch.put(Tree::UserroomidSubscription, key, encode(sub));
    }

    /// Removes a subscription with its pending bumps (not its member index entry).
    pub(super) fn delete_subscription(batch: &mut Batch, user_id: &str, room_id: &str) {
        let key = keys::pair(user_id, room_id);
        batch.delete(Tree::UserroomidCounters, key.clone());
        batch.delete(Tree::UserroomidSubscription, key);
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

    /// One step of a member's life in a test room: what the store does with pending bumps
    /// and what a naive decode, change, encode of the document does must agree.
    #[derive(Debug, Clone)]
    enum Step {
        /// A message: a plain one's bump, or a thread reply that mentions the member.
        Post {
            u: u8,
            r: u8,
            bump: (i64, i64, i64),
            thread: bool,
        },
        Read {
            u: u8,
            r: u8,
            threads: bool,
        },
        /// Any other change of the document (here a rename).
        Edit {
            u: u8,
            r: u8,
        },
        Archive {
            u: u8,
            r: u8,
            on: bool,
        },
        /// The member leaves (the subscription is deleted) or joins again.
        Leave {
            u: u8,
            r: u8,
        },
        Join {
            u: u8,
            r: u8,
        },
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        let place = (0u8..2, 0u8..2);
        prop_oneof![
            6 => (place.clone(), (0i64..2, 0i64..2, 0i64..2), prop::bool::weighted(0.2))
                .prop_map(|((u, r), bump, thread)| Step::Post { u, r, bump, thread }),
            2 => (place.clone(), any::<bool>()).prop_map(|((u, r), threads)| Step::Read { u, r, threads }),
            1 => place.clone().prop_map(|(u, r)| Step::Edit { u, r }),
            1 => (place.clone(), any::<bool>()).prop_map(|((u, r), on)| Step::Archive { u, r, on }),
            1 => place.clone().prop_map(|(u, r)| Step::Leave { u, r }),
            1 => place.prop_map(|(u, r)| Step::Join { u, r }),
        ]
    }

    fn fresh(u: &str, r: &str) -> Subscription {
        Subscription(crate::model::object(serde_json::json!(
            {"_id": format!("{u}{r}"), "rid": r, "u": {"_id": u}, "unread": 1, "alert": false}
        )))
    }

    /// The store's step, through the functions the writes use.
    fn store_step(store: &Store, step: &Step, at: &str) {
        use crate::rules::counters::{self, ThreadUnread};
        let id = |u: u8, r: u8| (format!("u{u}"), format!("r{r}"));
        match step {
            Step::Post { u, r, bump, thread } => {
                let (uid, rid) = id(*u, *r);
                let bump = Bump {
                    unread: bump.0,
                    user_mentions: bump.1,
                    group_mentions: bump.2,
                };
                store
                    .write(|store, batch| {
                        let key = keys::pair(&uid, &rid);
                        let Some(doc) = store.engine.get(Tree::UserroomidSubscription, &key)?
                        else {
                            return Ok(());
                        };
                        let pending = store.engine.get(Tree::UserroomidCounters, &key)?;
                        if *thread {
                            let mut sub = merged(&doc, pending.as_deref())?;
                            counters::bump_subscription(
                                &mut sub,
                                &bump,
                                ThreadUnread::Mentioned("t1"),
                                at,
                            );
                            Store::update_subscription(batch, &sub);
                            return Ok(());
                        }
                        Store::bump_pending(batch, key, &doc, pending.as_deref(), &bump, at)
                    })
                    .unwrap();
            }
            Step::Read { u, r, threads } => {
                let (uid, rid) = id(*u, *r);
                store.mark_read(&rid, &uid, at, *threads).unwrap();
            }
            Step::Edit { u, r } | Step::Archive { u, r, .. } => {
                let (uid, rid) = id(*u, *r);
                store
                    .write(|store, batch| {
                        if let Some(mut sub) = store.subscription(&rid, &uid)? {
                            match step {
                                Step::Archive { on, .. } => {
                                    sub.0.insert("archived".into(), (*on).into());
                                }
                                _ => sub.rename(at),
                            }
                            Store::update_subscription(batch, &sub);
                        }
                        Ok(())
                    })
                    .unwrap();
            }
            Step::Leave { u, r } => {
                let (uid, rid) = id(*u, *r);
                store
                    .write(|_, batch| {
                        Store::delete_subscription(batch, &uid, &rid);
                        batch.delete(Tree::Roomuserids, keys::pair(&rid, &uid));
                        Ok(())
                    })
                    .unwrap();
            }
            Step::Join { u, r } => {
                let (uid, rid) = id(*u, *r);
                store
                    .write(|store, batch| {
                        if store.subscription(&rid, &uid)?.is_none() {
                            Store::put_subscription(batch, &fresh(&uid, &rid));
                        }
                        Ok(())
                    })
                    .unwrap();
            }
        }
    }

    /// The naive step: decode, change, encode the whole document.
    fn model_step(model: &mut BTreeMap<(u8, u8), Vec<u8>>, step: &Step, at: &str) {
        use crate::rules::counters::{self, ThreadUnread};
        type Change<'a> = Box<dyn Fn(&mut Subscription) + 'a>;
        let (place, change): ((u8, u8), Change) = match step {
            Step::Post { u, r, bump, thread } => {
                let bump = Bump {
                    unread: bump.0,
                    user_mentions: bump.1,
                    group_mentions: bump.2,
                };
                let thread = match thread {
                    true => ThreadUnread::Mentioned("t1"),
                    false => ThreadUnread::None,
                };
                (
                    (*u, *r),
                    Box::new(move |s| counters::bump_subscription(s, &bump, thread, at)),
                )
            }
            Step::Read { u, r, threads } => {
                let threads = *threads;
                (
                    (*u, *r),
                    Box::new(move |s| counters::mark_read(s, at, threads)),
                )
            }
            Step::Edit { u, r } => ((*u, *r), Box::new(|s: &mut Subscription| s.rename(at))),
            Step::Archive { u, r, on } => {
                let on = *on;
                (
                    (*u, *r),
                    Box::new(move |s: &mut Subscription| {
                        s.0.insert("archived".into(), on.into());
                    }),
                )
            }
            Step::Leave { u, r } => {
                model.remove(&(*u, *r));
                return;
            }
            Step::Join { u, r } => {
                model
                    .entry((*u, *r))
                    .or_insert_with(|| encode(&fresh(&format!("u{u}"), &format!("r{r}"))));
                return;
            }
        };
        if let Some(bytes) = model.get_mut(&place) {
            let mut sub: Subscription = serde_json::from_slice(bytes).unwrap();
            change(&mut sub);
            *bytes = encode(&sub);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(24))]
        /// Whatever posts, reads, edits, archivings, leavings and joinings come, every read
        /// of a subscription (one, a user's, a room's, the export's), the change feed's
        /// events, the badges and `rcpush check` see what decoding, changing and encoding the
        /// whole document at each step would have left.
        #[test]
        fn pending_bumps_read_as_the_document_rewritten(
            steps in proptest::collection::vec(step(), 1..24)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&dir.path().join("db"), 4).unwrap();
            let mut model = BTreeMap::new();
            for (u, r) in [(0, 0), (0, 1), (1, 0)] {
                store_step(&store, &Step::Join { u, r }, "T0");
                model_step(&mut model, &Step::Join { u, r }, "T0");
            }
            let mut feed = store.feed().subscribe();
            for (i, step) in steps.iter().enumerate() {
                let at = format!("2030-01-01T00:00:{:02}.000Z", i);
                store_step(&store, step, &at);
                model_step(&mut model, step, &at);
                for u in 0..2u8 {
                    let uid = format!("u{u}");
                    let expected: Vec<&Vec<u8>> = model.range((u, 0)..(u + 1, 0)).map(|(_, v)| v).collect();
                    let found: Vec<Vec<u8>> = store.subscriptions_of_user(&uid).unwrap().iter().map(encode).collect();
                    proptest::prop_assert_eq!(found.iter().collect::<Vec<_>>(), expected);
                    let badge: i64 = model.range((u, 0)..(u + 1, 0))
                        .map(|(_, v)| Counters::of(v).unwrap().share()).sum();
                    proptest::prop_assert_eq!(store.badge(&uid).unwrap(), badge);
                    for r in 0..2u8 {
                        let one = store.subscription(&format!("r{r}"), &uid).unwrap().map(|s| encode(&s));
                        proptest::prop_assert_eq!(one.as_ref(), model.get(&(u, r)));
                    }
                }
                let room: Vec<Vec<u8>> = store.room_subscriptions("r0", &["u0", "u1"]).unwrap().iter().map(encode).collect();
                let expected: Vec<Vec<u8>> = [(0, 0), (1, 0)].iter().filter_map(|p| model.get(p).cloned()).collect();
                proptest::prop_assert_eq!(room, expected);
            }
            let exported: Vec<Vec<u8>> = store.snapshot().unwrap().subscriptions.iter().map(encode).collect();
            proptest::prop_assert_eq!(exported, model.values().cloned().collect::<Vec<_>>());
            proptest::prop_assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
            // Each subscription's last change event carries the document as it is now.
            let mut last = BTreeMap::new();
            while let Ok(change) = feed.try_recv() {
                match &change.event {
                    crate::model::change::Event::SubscriptionChanged { subscription } => {
                        last.insert((subscription.user_id().to_string(), subscription.rid().to_string()), Some(encode(subscription)));
                    }
                    crate::model::change::Event::SubscriptionRemoved { room_id, user_id, .. } => {
                        last.insert((user_id.clone(), room_id.clone()), None);
                    }
                    _ => {}
                }
            }
            for ((u, r), event) in last {
                let place = (u[1..].parse::<u8>().unwrap(), r[1..].parse::<u8>().unwrap());
                proptest::prop_assert_eq!(event.as_ref(), model.get(&place));
            }
        }
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
