use std::collections::{BTreeSet, HashMap};

use super::keys;
use super::tails::{reaching, Folded, Overlay, Tail, TailMemo, Tails};
use super::trees::Tree;
use super::{decode, encode, Batch, Store, StoreResult};
use crate::model::Subscription;
use crate::rules::counters::PendingBumps;

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

/// Fold markers (or old pending bumps) by subscription key.
type Markers = HashMap<Vec<u8>, Vec<u8>>;

/// A stored subscription's bumps not in its document: its own pending bumps (before room
/// records) and the records of its room's `tail` after its marker `counters` that reach
/// `user`; `None` when there are none (the document holds).
fn bumps(
    user: &str,
    document: &[u8],
    counters: Option<&[u8]>,
    tail: &Tail,
) -> StoreResult<Option<PendingBumps>> {
    let (pending, q) = Folded::of(counters)?;
    let mut records = reaching(tail, q, user).peekable();
    if pending.is_none() && records.peek().is_none() {
        return Ok(None);
    }
    let mut bumps = match pending {
        Some(p) => p,
        None => Counters::of(document)?.pending(),
    };
    for (bump, at) in records {
        bumps.add(&bump, at);
    }
    Ok(Some(bumps))
}

/// What a stored subscription adds to its user's badge: as the badge index counts it
/// (without its room's records), and what its room's records add to that.
fn shares(
    user: &str,
    document: &[u8],
    counters: Option<&[u8]>,
    tail: &Tail,
) -> StoreResult<(i64, i64)> {
    let share = |b: Option<PendingBumps>| match b {
        Some(b) => Ok(b.share()),
        None => Counters::of(document).map(|c| c.share()),
    };
    let with = bumps(user, document, counters, tail)?;
    if with.is_none() {
        return Ok((share(None)?, 0));
    }
    let base = share(bumps(user, document, counters, &Tail::new())?)?;
    Ok((base, share(with)? - base))
}

/// A stored subscription (`key` → `document`) as its bumps leave it.
pub(super) fn merged(
    key: &[u8],
    document: &[u8],
    counters: Option<&[u8]>,
    tails: &Tails,
) -> StoreResult<Subscription> {
    let mut sub: Subscription = decode(Tree::UserroomidSubscription, document)?;
    let (user, tail) = user_and_tail(key, tails)?;
    if let Some(b) = bumps(user, document, counters, tail)? {
        b.apply(&mut sub);
    }
    Ok(sub)
}

static NO_TAIL: Tail = Vec::new();

/// The user of a subscription key, and its room's tail among `tails`.
fn user_and_tail<'t>(key: &'t [u8], tails: &'t Tails) -> StoreResult<(&'t str, &'t Tail)> {
    let user = std::str::from_utf8(keys::first(key))
        .map_err(|e| super::corrupt(Tree::UserroomidSubscription, e))?;
    let tail = keys::second(key)
        .and_then(|room| tails.get(room))
        .map_or(&NO_TAIL, |t| t.as_ref());
    Ok((user, tail))
}

/// What a user's subscriptions (`user_entries`) add to their badge: without their rooms'
/// records (what the index holds), and what the records add.
fn shares_in(
    (documents, counters): &(super::engine::Entries, Markers),
    tails: &Tails,
) -> StoreResult<(i64, i64)> {
    documents
        .iter()
        .try_fold((0i64, 0i64), |(base, more), (k, v)| {
            let (user, tail) = user_and_tail(k, tails)?;
            let (b, m) = shares(user, v, counters.get(k).map(Vec::as_slice), tail)?;
            Ok((base.saturating_add(b), more.saturating_add(m)))
        })
}

impl Store {
    pub fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>> {
        let key = keys::pair(user_id, room_id);
        let cached = self.caches.subscriptions.get_or_load(&key, || {
            let Some(doc) = self.engine.get(Tree::UserroomidSubscription, &key)? else {
                return Ok(None);
            };
            let counters = self.engine.get(Tree::UserroomidCounters, &key)?;
            let tails = self.room_tails([room_id], &Overlay::none())?;
            merged(&key, &doc, counters.as_deref(), &tails).map(Some)
        })?;
        Ok(cached.map(std::sync::Arc::unwrap_or_clone))
    }

    pub fn subscriptions_of_user(&self, user_id: &str) -> StoreResult<Vec<Subscription>> {
        let mut tails = TailMemo::default();
        let (documents, counters) = self.user_entries(user_id, &Overlay::none(), &mut tails)?;
        let tails = tails.tails;
        documents
            .iter()
            .map(|(k, v)| merged(k, v, counters.get(k).map(Vec::as_slice), &tails))
            .collect()
    }

    /// A user's stored subscriptions and their markers as `overlay` leaves them, their
    /// rooms' tails loaded into `tails`.
    fn user_entries(
        &self,
        user_id: &str,
        overlay: &Overlay,
        tails: &mut TailMemo,
    ) -> StoreResult<(super::engine::Entries, Markers)> {
        Ok(self
            .users_entries(&[user_id], overlay, tails)?
            .pop()
            .unwrap_or_default())
    }

    /// `user_entries` of several users, in their order: one read of each tree for all of
    /// them (a write deriving 50 members' badges on PostgreSQL makes two round trips, not
    /// a hundred), their rooms' tails loaded once.
    fn users_entries(
        &self,
        user_ids: &[&str],
        overlay: &Overlay,
        tails: &mut TailMemo,
    ) -> StoreResult<Vec<(super::engine::Entries, Markers)>> {
        let prefixes: Vec<Vec<u8>> = user_ids.iter().map(|u| keys::prefix(u)).collect();
        let documents = overlay.scan_prefixes(self, Tree::UserroomidSubscription, &prefixes)?;
        let counters = overlay.scan_prefixes(self, Tree::UserroomidCounters, &prefixes)?;
        let rooms = documents
            .iter()
            .flatten()
            .filter_map(|(k, _)| keys::second(k));
        self.load_tails(rooms, overlay, tails)?;
        Ok(documents
            .into_iter()
            .zip(counters)
            .map(|(documents, counters)| (documents, counters.into_iter().collect()))
            .collect())
    }

    /// Every subscription, in key order (backups).
    pub(super) fn all_subscriptions(&self) -> StoreResult<Vec<Subscription>> {
        let counters: HashMap<Vec<u8>, Vec<u8>> = self
            .engine
            .scan_prefix(Tree::UserroomidCounters, b"")?
            .into_iter()
            .collect();
        let tails = self.all_tails()?;
        self.engine
            .scan_prefix(Tree::UserroomidSubscription, b"")?
            .iter()
            .map(|(k, v)| merged(k, v, counters.get(k).map(Vec::as_slice), &tails))
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
        let counters = self.engine.get_many(Tree::UserroomidCounters, &keys)?;
        let tails = self.room_tails([room_id], &Overlay::none())?;
        keys.iter()
            .zip(documents)
            .zip(counters)
            .filter_map(|((key, doc), counters)| {
                Some(merged(key, &doc?, counters.as_deref(), &tails))
            })
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

    /// `Subscriptions.getBadgeCount`: the badge index `derive_badges` keeps, plus what the
    /// user's rooms' unfolded records add (a scan of the user's subscriptions, at most
    /// `tails::FOLD_AT` records a room). push.get asks for it on every call: cached.
    pub fn badge(&self, user_id: &str) -> StoreResult<i64> {
        let badge = self.caches.badges.get_or_load(user_id.as_bytes(), || {
            let indexed = parse_badge(self.engine.get(Tree::UseridBadge, user_id.as_bytes())?)?;
            let (_, tails) = self.shares_of(user_id, &Overlay::none(), &mut TailMemo::default())?;
            Ok(Some(indexed.saturating_add(tails)))
        })?;
        Ok(badge.map_or(0, |b| *b))
    }

    /// `shares_in` of a user's subscriptions as `overlay` leaves them.
    fn shares_of(
        &self,
        user_id: &str,
        overlay: &Overlay,
        tails: &mut TailMemo,
    ) -> StoreResult<(i64, i64)> {
        let entries = self.user_entries(user_id, overlay, tails)?;
        shares_in(&entries, &tails.tails)
    }

    /// The badge computed from the subscriptions themselves.
    pub(super) fn badge_from_subscriptions(&self, user_id: &str) -> StoreResult<i64> {
        let (base, tails) = self.shares_of(user_id, &Overlay::none(), &mut TailMemo::default())?;
        Ok(base.saturating_add(tails))
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

    /// Brings the badge index up to date with the subscriptions `batch` writes (each
    /// writing user's index is recounted from their subscriptions as the batch leaves
    /// them, and written where it moves), and returns the badge of every user the batch
    /// changes, room records included, as of the batch. `rcpush check` compares the index
    /// with a full recount.
    pub(super) fn derive_badges(&self, batch: &mut Batch) -> StoreResult<super::Badges> {
        let overlay = Overlay::of(batch);
        let mut writing: BTreeSet<&str> = BTreeSet::new();
        for (tree, key, _) in &batch.writes {
            if matches!(
                tree,
                Tree::UserroomidSubscription | Tree::UserroomidCounters
            ) {
                writing.insert(
                    std::str::from_utf8(keys::first(key))
                        .map_err(|e| super::corrupt(Tree::UserroomidSubscription, e))?,
                );
            }
        }
        let mut users = writing.clone();
        for key in &batch.bumped_members {
            users.insert(
                std::str::from_utf8(keys::first(key))
                    .map_err(|e| super::corrupt(Tree::UserroomidSubscription, e))?,
            );
        }
        let user_keys: Vec<Vec<u8>> = users.iter().map(|u| u.as_bytes().to_vec()).collect();
        let indexed = self.engine.get_many(Tree::UseridBadge, &user_keys)?;
        let mut badges = super::Badges::new();
        let mut moved = Vec::new();
        // Members of one room share its tail: it is read and decoded once.
        let mut memo = TailMemo::default();
        let listed: Vec<&str> = users.iter().copied().collect();
        let entries = self.users_entries(&listed, &overlay, &mut memo)?;
        for ((user, indexed), entries) in users.iter().zip(indexed).zip(&entries) {
            let (base, tails) = shares_in(entries, &memo.tails)?;
            let indexed = parse_badge(indexed)?;
            let index = match writing.contains(user) {
                true => base,
                false => indexed,
            };
            if index != indexed {
                moved.push((user.to_string(), index));
            }
            badges.insert(user.to_string(), index.saturating_add(tails));
        }
        for (user, index) in moved {
            batch.put(Tree::UseridBadge, user, index.to_string());
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
    /// read merged: its fold marker moves to its room's last record (`derive_markers`).
    pub(super) fn update_subscription(batch: &mut Batch, sub: &Subscription) {
        let key = keys::pair(sub.user_id(), sub.rid());
        batch.put(Tree::UserroomidSubscription, key, encode(sub));
    }

    /// Removes a subscription (its fold marker goes in `derive_markers`; not its member
    /// index entry).
    pub(super) fn delete_subscription(batch: &mut Batch, user_id: &str, room_id: &str) {
        batch.delete(Tree::UserroomidSubscription, keys::pair(user_id, room_id));
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
    use crate::rules::unread::Bump;
    use std::collections::BTreeMap;

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

    /// One step of the members' lives in the test rooms `r0`, `r1` (users `u0`…`u2`): what
    /// the store does (room records, fold markers, folds) and what a naive decode, change,
    /// encode of every document does must agree.
    #[derive(Debug, Clone)]
    enum Step {
        /// `sender` posts into `r`, mentioning the users of the bit set `mentions` (and all
        /// with `group`); a thread reply marks the mentioned members' thread unread.
        Post {
            r: u8,
            sender: u8,
            mentions: u8,
            group: bool,
            thread: bool,
            all_messages: bool,
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
        let place = (0u8..3, 0u8..2);
        prop_oneof![
            8 => (0u8..2, 0u8..3, 0u8..8, prop::bool::weighted(0.2), prop::bool::weighted(0.2), any::<bool>())
                .prop_map(|(r, sender, mentions, group, thread, all_messages)| Step::Post { r, sender, mentions, group, thread, all_messages }),
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

    type Model = BTreeMap<(u8, u8), Vec<u8>>;

    /// What a post does to each other user (`None`: not bumped), as the message service
    /// decides it: for every user, member or not (the store bumps members only).
    fn post_bumps(step: &Step) -> Vec<(u8, Bump, bool)> {
        let Step::Post {
            sender,
            mentions,
            group,
            thread,
            all_messages,
            ..
        } = step
        else {
            return Vec::new();
        };
        let setting = match all_messages {
            true => crate::rules::unread::UnreadCount::AllMessages,
            false => crate::rules::unread::UnreadCount::UserAndGroupMentionsOnly,
        };
        (0..3u8)
            .filter(|u| u != sender)
            .map(|u| {
                let mentioned = mentions & (1 << u) != 0;
                let bump = crate::rules::unread::bump(&crate::rules::unread::Facts {
                    room_type: crate::model::RoomType::of("c"),
                    unread_setting: setting,
                    mentions_member: mentioned,
                    mentions_all_or_here: *group,
                });
                (u, bump, *thread && mentioned)
            })
            .collect()
    }

    /// The store's step, through its write methods; a post returns each receiver's badge
    /// in its outbox record.
    fn store_step(store: &Store, step: &Step, at: &str) -> BTreeMap<String, i64> {
        let id = |u: u8, r: u8| (format!("u{u}"), format!("r{r}"));
        match step {
            Step::Post {
                r, sender, thread, ..
            } => {
                let bumps = post_bumps(step);
                let doc = serde_json::json!({"_id": at, "rid": format!("r{r}"), "msg": "m", "ts": at, "u": {"_id": format!("u{sender}")}});
                let receivers = bumps
                    .iter()
                    .map(|(u, _, _)| super::super::Receiver {
                        user_id: format!("u{u}"),
                        badge: -1,
                        body: 0,
                        devices: vec![super::super::Device {
                            id: format!("{at}{u}"),
                            service: "gcm".into(),
                            token: format!("t{u}"),
                            topic: None,
                            attempts: 0,
                            due: 0,
                            slot: None,
                        }],
                    })
                    .collect();
                let new = super::super::NewMessage {
                    message: crate::model::Message::from_json(serde_json::to_vec(&doc).unwrap())
                        .unwrap(),
                    id: at.to_string(),
                    room_id: format!("r{r}"),
                    last_message: doc,
                    at: at.to_string(),
                    bumps: bumps
                        .iter()
                        .map(|(u, bump, in_thread)| super::super::MemberBump {
                            user_id: format!("u{u}"),
                            bump: *bump,
                            mentioned_in_thread: *in_thread,
                        })
                        .collect(),
                    pushes: (!thread).then(|| super::super::OutboxRecord {
                        id: format!("{at}p"),
                        rid: Some(format!("r{r}")),
                        bodies: vec![super::super::QueuedBody::Whole("{}".into())],
                        receivers,
                        shared: None,
                    }),
                    thread: thread.then(|| crate::rules::message_changes::ThreadReply {
                        tmid: "t1".into(),
                        sender_id: format!("u{sender}"),
                        mentioned_ids: Vec::new(),
                        group_mention: false,
                        at: at.to_string(),
                    }),
                    join: None,
                };
                let record = store.insert_message(&new).unwrap();
                return record
                    .map(|r| {
                        r.receivers
                            .iter()
                            .map(|x| (x.user_id.clone(), x.badge))
                            .collect()
                    })
                    .unwrap_or_default();
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
        BTreeMap::new()
    }

    /// The naive step: decode, change, encode each document it changes.
    fn model_step(model: &mut Model, step: &Step, at: &str) {
        use crate::rules::counters::{self, ThreadUnread};
        let change = |model: &mut Model, place: (u8, u8), change: &dyn Fn(&mut Subscription)| {
            if let Some(bytes) = model.get_mut(&place) {
                let mut sub: Subscription = serde_json::from_slice(bytes).unwrap();
                change(&mut sub);
                *bytes = encode(&sub);
            }
        };
        match step {
            Step::Post { r, .. } => {
                for (u, bump, in_thread) in post_bumps(step) {
                    let thread = match in_thread {
                        true => ThreadUnread::Mentioned("t1"),
                        false => ThreadUnread::None,
                    };
                    change(model, (u, *r), &|s| {
                        counters::bump_subscription(s, &bump, thread, at)
                    });
                }
            }
            Step::Read { u, r, threads } => {
                change(model, (*u, *r), &|s| counters::mark_read(s, at, *threads))
            }
            Step::Edit { u, r } => change(model, (*u, *r), &|s| s.rename(at)),
            Step::Archive { u, r, on } => change(model, (*u, *r), &|s| {
                s.0.insert("archived".into(), (*on).into());
            }),
            Step::Leave { u, r } => {
                model.remove(&(*u, *r));
            }
            Step::Join { u, r } => {
                model
                    .entry((*u, *r))
                    .or_insert_with(|| encode(&fresh(&format!("u{u}"), &format!("r{r}"))));
            }
        }
    }

    fn model_badge(model: &Model, u: u8) -> i64 {
        model
            .range((u, 0)..(u + 1, 0))
            .map(|(_, v)| Counters::of(v).unwrap().share())
            .sum()
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(24))]
        /// Whatever posts (mentions, group mentions, thread replies), reads, edits,
        /// archivings, leavings and joinings come, through room records and their folds,
        /// every read of a subscription (one, a user's, a room's, the export's), the change
        /// feed's events, the badges, each push's badge as of its write and `rcpush check`
        /// see what decoding, changing and encoding the whole document at each step would
        /// have left. A database with pending bumps of the per-member kind reads the same.
        #[test]
        fn room_records_read_as_the_documents_rewritten(
            steps in proptest::collection::vec(step(), 1..40),
            legacy: bool,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&dir.path().join("db"), 4).unwrap();
            let rooms = r#"{"rooms":[{"_id":"r0","t":"c","name":"r0"},{"_id":"r1","t":"c","name":"r1"}]}"#;
            store.import(&crate::seed::parse(rooms).unwrap()).unwrap();
            let mut model = Model::new();
            for (u, r) in [(0, 0), (0, 1), (1, 0), (2, 0)] {
                store_step(&store, &Step::Join { u, r }, "T0");
                model_step(&mut model, &Step::Join { u, r }, "T0");
            }
            if legacy {
                // As rcpush wrote a plain post's bump before room records.
                let bump = Bump { unread: 1, user_mentions: 1, group_mentions: 0 };
                let key = keys::pair("u1", "r0");
                let mut pending = Counters::of(&model[&(1, 0)]).unwrap().pending();
                pending.add(&bump, "T1");
                store.write(|_, batch| {
                    batch.put(Tree::UserroomidCounters, key.clone(), encode(&pending));
                    batch.put(Tree::UseridBadge, "u1", pending.share().to_string());
                    Ok(())
                }).unwrap();
                let bytes = model.get_mut(&(1, 0)).unwrap();
                let mut sub: Subscription = serde_json::from_slice(bytes).unwrap();
                crate::rules::counters::bump_subscription(&mut sub, &bump, crate::rules::counters::ThreadUnread::None, "T1");
                *bytes = encode(&sub);
            }
            let mut feed = store.feed().subscribe();
            for (i, step) in steps.iter().enumerate() {
                let at = format!("2030-01-01T00:00:{:02}.000Z", i);
                let pushed = store_step(&store, step, &at);
                model_step(&mut model, step, &at);
                for (user, badge) in pushed {
                    let u = user[1..].parse::<u8>().unwrap();
                    proptest::prop_assert_eq!(badge, model_badge(&model, u), "push badge of {}", user);
                }
                for u in 0..3u8 {
                    let uid = format!("u{u}");
                    let expected: Vec<&Vec<u8>> = model.range((u, 0)..(u + 1, 0)).map(|(_, v)| v).collect();
                    let found: Vec<Vec<u8>> = store.subscriptions_of_user(&uid).unwrap().iter().map(encode).collect();
                    proptest::prop_assert_eq!(found.iter().collect::<Vec<_>>(), expected);
                    proptest::prop_assert_eq!(store.badge(&uid).unwrap(), model_badge(&model, u));
                    for r in 0..2u8 {
                        let one = store.subscription(&format!("r{r}"), &uid).unwrap().map(|s| encode(&s));
                        proptest::prop_assert_eq!(one.as_ref(), model.get(&(u, r)));
                    }
                }
                let room: Vec<Vec<u8>> = store.room_subscriptions("r0", &["u0", "u1", "u2"]).unwrap().iter().map(encode).collect();
                let expected: Vec<Vec<u8>> = (0..3u8).filter_map(|u| model.get(&(u, 0)).cloned()).collect();
                proptest::prop_assert_eq!(room, expected);
                proptest::prop_assert!(store.engine.scan_prefix(Tree::RoomseqBumps, b"").unwrap().len() <= 2 * super::super::tails::FOLD_AT);
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
