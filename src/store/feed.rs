//! The change feed: every committed write's events (`model::change`), in commit order, to
//! whoever subscribes in this process (the realtime streams).
//!
//! # Where events come from
//!
//! The store derives them from each write's batch (`Store::changes_of`), not from the write
//! methods: a put or deletion in the message, subscription, room, user, password or login
//! token trees is an event, so no write path can forget one. What a batch cannot say by
//! itself it carries: that a put is a new document (`Batch::insert`: a message inserted, not
//! updated), that it rewrites the database wholesale (an import, a reset: one `Resync`). A
//! deletion's event is read from the document it removes, inside the write. Each document
//! touched gives one event, with its last value in the batch, in the order first touched.
//!
//! # How they travel
//!
//! * **sled** (one process): numbered under the write lock, right after the batch is
//!   applied; decoded once the lock is released (`Touched`); published once durable (after
//!   the flush that acknowledges it: a flush covers every batch applied before it, so a
//!   later writer's flush may publish an earlier one's events). Publishing is a
//!   non-blocking send: nothing waits on consumers.
//! * **PostgreSQL** (several processes): the events are rows of the `changes` table, written
//!   in the write's transaction and numbered by a counter (`changes_seq`) moved in the
//!   round trip of the `COMMIT`, whose row each writer holds until its commit ends, so
//!   numbers follow commit order without gaps. A
//!   `NOTIFY` wakes every process's listener (a dedicated connection), which reads the rows
//!   after the last it published, in order, and publishes them; the writing process learns
//!   of its own writes the same way. Rows are pruned after a retention bound (age and
//!   count, `[storage]` in config.toml). A listener whose connection is lost reconnects with
//!   backoff and catches up from its last number; if those rows were pruned meanwhile (a
//!   gap), it publishes `Resync` before the rows it still finds.
//!
//! On PostgreSQL the listener also applies each event to this process's caches before it
//! publishes it, and then tells the read fence how far it got (`fence.rs`): that is how the
//! caches stay exact while other processes write.
//!
//! Consumers read a `tokio::sync::broadcast` channel. One that falls behind by more than the
//! channel holds gets `RecvError::Lagged` and must treat it as a `Resync`. A testing reset
//! publishes `Resync` as number 1: the feed starts again, as after start-up.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use tokio::sync::broadcast;

use super::cache::Caches;
use super::engine::Batch;
use super::fence::{Fence, PositionReader};
use super::tokens::LoginToken;
use super::trees::Tree;
use super::{decode, keys, Store, StoreResult};
use crate::model::change::{Change, Event};
use crate::model::Message;

/// Events a slow consumer may fall behind by before it lags.
const CAPACITY: usize = 4096;

/// How long PostgreSQL's journal keeps events: a listener away longer than this (or while
/// more than `rows` newer events were written) resyncs instead of catching up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub age: std::time::Duration,
    pub rows: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            age: std::time::Duration::from_secs(3600),
            rows: 100_000,
        }
    }
}

/// The feed of one store. Cheap to clone.
#[derive(Clone)]
pub struct Feed {
    inner: Arc<Inner>,
}

struct Inner {
    sender: broadcast::Sender<Arc<Change>>,
    /// sled's events between their numbering and their flush.
    queue: Mutex<Queue>,
    metrics: Metrics,
    fence: Arc<Fence>,
    /// The caches the events invalidate before they are published (a shared backend's:
    /// sled's writes invalidate them themselves).
    caches: OnceLock<Arc<Caches>>,
}

struct Queue {
    next_seq: u64,
    next_ticket: u64,
    staged: VecDeque<Staged>,
}

/// One batch's numbers, waiting for its commit and its events.
struct Staged {
    ticket: u64,
    /// The number of its first event.
    first: u64,
    changes: Option<Vec<Change>>,
    durable: bool,
}

#[derive(Default)]
struct Metrics {
    published: Counter,
    resyncs: Counter,
    reconnects: Counter,
    round_trips: Counter,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            inner: Arc::new(Inner {
                sender: broadcast::channel(CAPACITY).0,
                queue: Mutex::new(Queue {
                    next_seq: 1,
                    next_ticket: 0,
                    staged: VecDeque::new(),
                }),
                metrics: Metrics::default(),
                fence: Arc::default(),
                caches: OnceLock::new(),
            }),
        }
    }
}

impl Feed {
    /// Every event published from now on, in commit order.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.inner.sender.subscribe()
    }

    /// True while someone subscribes.
    pub(super) fn is_watched(&self) -> bool {
        self.inner.sender.receiver_count() > 0
    }

    /// Adds the feed's counters to `/metrics`.
    pub fn register(&self, registry: &mut Registry) {
        let m = &self.inner.metrics;
        for (name, help, counter) in [
            (
                "rcpush_changes_published",
                "Change events published to this process's realtime streams",
                &m.published,
            ),
            (
                "rcpush_changes_resyncs",
                "Resync events published (a reset, a bulk write, or events missed)",
                &m.resyncs,
            ),
            (
                "rcpush_changes_listener_reconnects",
                "Times the PostgreSQL change listener connected again after losing its connection",
                &m.reconnects,
            ),
            (
                "rcpush_store_round_trips",
                "Calls to PostgreSQL this process waited for (read fences included)",
                &m.round_trips,
            ),
            (
                "rcpush_read_fences",
                "Queries of the change feed's position, each shared by the requests waiting then",
                &self.inner.fence.queries,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
    }

    /// Waits until this process's caches hold every write acknowledged before the call,
    /// by any process, or stand aside (`fence.rs`). Immediate on sled.
    pub async fn fence(&self) {
        self.inner.fence.pass().await
    }

    pub(super) fn fence_state(&self) -> Arc<Fence> {
        self.inner.fence.clone()
    }

    /// The caches a shared backend's events keep exact, and how to learn the feed's
    /// position in the database.
    pub(super) fn keep_exact(&self, caches: Arc<Caches>) {
        let _ = self.inner.caches.set(caches);
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) fn set_position_reader(&self, reader: PositionReader) {
        self.inner.fence.set_reader(reader);
    }

    /// Counts one call to a remote backend.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) fn round_trip(&self) {
        self.inner.metrics.round_trips.inc();
    }

    /// The listener has applied and published every event up to `position` (`fence.rs`).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) fn reached(&self, position: u64) {
        self.inner.fence.reached(position);
    }

    /// The listener is connected and caught up, or lost its connection.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) fn listening(&self, listening: bool) {
        self.inner.fence.listening(listening);
    }

    /// Hands `change` to every subscriber (none listening is fine), after the caches that
    /// follow the feed have forgotten what it changed.
    pub(super) fn publish(&self, change: Change) {
        if let Some(caches) = self.inner.caches.get() {
            caches.apply(&change.event);
        }
        let m = &self.inner.metrics;
        m.published.inc();
        if matches!(change.event, Event::Resync) {
            m.resyncs.inc();
        }
        let _ = self.inner.sender.send(Arc::new(change));
    }

    /// Only PostgreSQL's listener reconnects (a build without it never calls this).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) fn reconnected(&self) {
        self.inner.metrics.reconnects.inc();
    }

    /// Numbers a batch's `count` events (under the write lock, once the batch is applied);
    /// returns the ticket `committed` takes, `None` if there is nothing to publish.
    pub(super) fn stage(&self, count: usize, restart: bool) -> Option<u64> {
        if count == 0 {
            return None;
        }
        let mut queue = self.inner.queue.lock();
        if restart {
            queue.next_seq = 1;
        }
        let first = queue.next_seq;
        queue.next_seq += count as u64;
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.staged.push_back(Staged {
            ticket,
            first,
            changes: None,
            durable: false,
        });
        Some(ticket)
    }

    /// The staged batch `ticket` is committed with `events`: publishes it and every batch
    /// before it that is committed too, in order. A flush (`flushed`) made every batch
    /// applied before it durable as well, but each is published only with its events.
    pub(super) fn committed(&self, ticket: u64, events: Vec<Event>, flushed: bool) {
        let mut queue = self.inner.queue.lock();
        let Some(at) = queue.staged.iter().position(|s| s.ticket == ticket) else {
            return;
        };
        for earlier in queue.staged.iter_mut().take(at) {
            earlier.durable |= flushed;
        }
        let staged = &mut queue.staged[at];
        staged.durable = true;
        let numbered = (staged.first..).zip(events);
        staged.changes = Some(numbered.map(|(seq, event)| Change { seq, event }).collect());
        while queue
            .staged
            .front()
            .is_some_and(|s| s.durable && s.changes.is_some())
        {
            let staged = queue.staged.pop_front();
            for change in staged.and_then(|s| s.changes).unwrap_or_default() {
                self.publish(change);
            }
        }
    }
}

/// The trees whose writes are events.
const FED: [Tree; 11] = [
    Tree::MessageidMessage,
    Tree::UserroomidSubscription,
    Tree::RoomidRoom,
    Tree::UseridUser,
    Tree::UseridPassword,
    Tree::TokenhashToken,
    Tree::TeamidTeam,
    Tree::TeamuseridMember,
    Tree::Teamroomids,
    Tree::SettingidSetting,
    Tree::PermissionidPermission,
];

/// A document of the batch: its tree and key.
type Place<'k> = (Tree, &'k [u8]);

/// The fields of a removed document its deletion event needs.
#[derive(Deserialize)]
struct Removed {
    #[serde(rename = "_id", default)]
    id: String,
    #[serde(default)]
    rid: String,
}

/// A batch's events before their documents are decoded: what the write lock must see (the
/// documents a deletion removes), without the decoding, which can wait until it is released.
pub(super) struct Touched(Vec<Undecoded>);

enum Undecoded {
    /// The stored bytes of a message (`new`: inserted), subscription or room.
    Message {
        json: Vec<u8>,
        new: bool,
    },
    Subscription(Vec<u8>),
    /// A stored subscription (key, document, fold marker) that a room record of the batch
    /// bumps, with its room's tail as the batch leaves it.
    Bumped {
        key: Vec<u8>,
        document: Vec<u8>,
        counters: Option<Vec<u8>>,
        tails: Arc<super::tails::Tails>,
    },
    Room(Vec<u8>),
    Decoded(Event),
}

impl Touched {
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// The events, in order. A document that does not decode (never one the store wrote)
    /// is a `Resync` in its place.
    pub(super) fn events(self) -> Vec<Event> {
        self.0
            .into_iter()
            .map(|u| {
                let event = match u {
                    Undecoded::Decoded(event) => return event,
                    Undecoded::Message { json, new } => {
                        Message::from_json(json).map(|message| match new {
                            true => Event::MessageInserted { message },
                            false => Event::MessageUpdated { message },
                        })
                    }
                    Undecoded::Subscription(json) => serde_json::from_slice(&json)
                        .map(|subscription| Event::SubscriptionChanged { subscription }),
                    Undecoded::Bumped {
                        key,
                        document,
                        counters,
                        tails,
                    } => {
                        match super::subscriptions::merged(
                            &key,
                            &document,
                            counters.as_deref(),
                            &tails,
                        ) {
                            Ok(subscription) => Ok(Event::SubscriptionChanged { subscription }),
                            Err(e) => {
                                tracing::error!(error = %e, "a changed subscription does not decode: consumers resync");
                                return Event::Resync;
                            }
                        }
                    }
                    Undecoded::Room(json) => serde_json::from_slice(&json).map(|room| {
                        Event::RoomChanged {
                            room: Arc::new(room),
                        }
                    }),
                };
                event.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "a changed document does not decode: consumers resync");
                    Event::Resync
                })
            })
            .collect()
    }
}

impl Store {
    /// The events of `batch`, read on the state before it is applied (this store is the
    /// write's view): one per document touched, with its last value, in the order first
    /// touched.
    pub(super) fn touched(&self, batch: &Batch) -> StoreResult<Touched> {
        if batch.wholesale {
            return Ok(Touched(vec![Undecoded::Decoded(Event::Resync)]));
        }
        let mut last: HashMap<Place, Option<&[u8]>> = HashMap::new();
        let mut order = Vec::new();
        // Subscriptions a room record of the batch bumps: they change as the document would.
        let bumped: Vec<&[u8]> = batch.bumped_members.iter().map(Vec::as_slice).collect();
        let mut announced: HashSet<&[u8]> = HashSet::new();
        for (tree, key, value) in &batch.writes {
            if *tree == Tree::RoomseqBumps {
                for member in bumped.iter().filter(|m| announced.insert(**m)) {
                    let place = (Tree::UserroomidSubscription, *member);
                    if !last.contains_key(&place) {
                        order.push(place);
                    }
                }
                continue;
            }
            let first = last.insert((*tree, key), value.as_deref()).is_none();
            let counted = *tree == Tree::UserroomidSubscription && announced.contains(&key[..]);
            if FED.contains(tree) && first && !counted {
                order.push((*tree, key.as_slice()));
            }
        }
        let documents = self.bumped_documents(batch, &bumped, &last)?;
        let removed = self.removed(&order, &last)?;
        let mut touched = Vec::new();
        let mut users = HashSet::new();
        let mut teams_told = false;
        let mut settings = false;
        // user id → index in `touched` of their `LoginTokensRemoved`
        let mut sessions: HashMap<String, usize> = HashMap::new();
        for (tree, key) in order {
            let text = || String::from_utf8_lossy(key).into_owned();
            let old = removed.get(&(tree, key));
            if tree == Tree::UserroomidSubscription && !last.contains_key(&(tree, key)) {
                if let Some((document, counters)) = documents.0.get(key) {
                    touched.push(Undecoded::Bumped {
                        key: key.to_vec(),
                        document: document.clone(),
                        counters: counters.clone(),
                        tails: documents.1.clone(),
                    });
                }
                continue;
            }
            let Some(&value) = last.get(&(tree, key)) else {
                continue;
            };
            let event = match (tree, value) {
                (Tree::MessageidMessage, Some(value)) => {
                    touched.push(Undecoded::Message {
                        json: value.to_vec(),
                        new: batch.inserted.contains(&(tree, key.to_vec())),
                    });
                    continue;
                }
                (Tree::UserroomidSubscription, Some(value)) => {
                    touched.push(Undecoded::Subscription(value.to_vec()));
                    continue;
                }
                (Tree::RoomidRoom, Some(value)) => {
                    touched.push(Undecoded::Room(value.to_vec()));
                    continue;
                }
                (Tree::MessageidMessage, None) => match old {
                    Some(old) => Event::MessageDeleted {
                        room_id: decode::<Removed>(tree, old)?.rid,
                        message_id: text(),
                    },
                    None => continue,
                },
                (Tree::UserroomidSubscription, None) => match old {
                    Some(old) => Event::SubscriptionRemoved {
                        room_id: keys::second(key).unwrap_or_default().to_string(),
                        user_id: String::from_utf8_lossy(keys::first(key)).into_owned(),
                        subscription_id: decode::<Removed>(tree, old)?.id,
                    },
                    None => continue,
                },
                (Tree::RoomidRoom, None) => Event::RoomRemoved { room_id: text() },
                (Tree::TeamidTeam | Tree::TeamuseridMember | Tree::Teamroomids, _) => {
                    if std::mem::replace(&mut teams_told, true) {
                        continue;
                    }
                    Event::TeamsChanged
                }
                (Tree::SettingidSetting | Tree::PermissionidPermission, _) => {
                    // One for the batch: readers load them all again.
                    if std::mem::replace(&mut settings, true) {
                        continue;
                    }
                    Event::SettingsChanged
                }
                (Tree::UseridUser | Tree::UseridPassword, _) => {
                    if !users.insert(key) {
                        continue;
                    }
                    Event::UserChanged { user_id: text() }
                }
                (Tree::TokenhashToken, None) => {
                    let Some(old) = old else { continue };
                    let user_id = decode::<LoginToken>(tree, old)?.user_id;
                    if let Some(&at) = sessions.get(&user_id) {
                        if let Undecoded::Decoded(Event::LoginTokensRemoved {
                            token_hashes, ..
                        }) = &mut touched[at]
                        {
                            token_hashes.push(text());
                        }
                        continue;
                    }
                    sessions.insert(user_id.clone(), touched.len());
                    Event::LoginTokensRemoved {
                        user_id,
                        token_hashes: vec![text()],
                    }
                }
                _ => continue,
            };
            touched.push(Undecoded::Decoded(event));
        }
        Ok(Touched(touched))
    }

    /// The stored documents and fold markers of the subscriptions a room record of the batch
    /// bumps (and does not rewrite), with their rooms' tails as the batch leaves them.
    #[allow(clippy::type_complexity)]
    fn bumped_documents<'k>(
        &self,
        batch: &Batch,
        bumped: &[&'k [u8]],
        last: &HashMap<Place<'k>, Option<&[u8]>>,
    ) -> StoreResult<(
        HashMap<&'k [u8], (Vec<u8>, Option<Vec<u8>>)>,
        Arc<super::tails::Tails>,
    )> {
        let wanted: Vec<&[u8]> = bumped
            .iter()
            .copied()
            .filter(|k| !last.contains_key(&(Tree::UserroomidSubscription, *k)))
            .collect();
        if wanted.is_empty() {
            return Ok((HashMap::new(), Arc::default()));
        }
        let keys: Vec<Vec<u8>> = wanted.iter().map(|k| k.to_vec()).collect();
        let documents = self.engine.get_many(Tree::UserroomidSubscription, &keys)?;
        let counters = self.engine.get_many(Tree::UserroomidCounters, &keys)?;
        let found = wanted
            .into_iter()
            .zip(documents.into_iter().zip(counters))
            .filter_map(|(k, (d, c))| Some((k, (d?, c))))
            .collect();
        let rooms = bumped.iter().filter_map(|k| super::keys::second(k));
        let tails = self.room_tails(rooms, &super::tails::Overlay::of(batch))?;
        Ok((found, Arc::new(tails)))
    }

    /// The stored documents the batch deletes, where their deletion's event needs them.
    fn removed<'k>(
        &self,
        order: &[Place<'k>],
        last: &HashMap<Place<'k>, Option<&[u8]>>,
    ) -> StoreResult<HashMap<Place<'k>, Vec<u8>>> {
        let mut found = HashMap::new();
        for tree in [
            Tree::MessageidMessage,
            Tree::UserroomidSubscription,
            Tree::TokenhashToken,
        ] {
            let deleted: Vec<&[u8]> = order
                .iter()
                .filter(|(t, k)| *t == tree && last.get(&(*t, *k)) == Some(&None))
                .map(|(_, k)| *k)
                .collect();
            if deleted.is_empty() {
                continue;
            }
            let wanted: Vec<Vec<u8>> = deleted.iter().map(|k| k.to_vec()).collect();
            let values = self.engine.get_many(tree, &wanted)?;
            for (key, value) in deleted.into_iter().zip(values) {
                if let Some(value) = value {
                    found.insert((tree, key), value);
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::model::{object, Room, Subscription};
    use crate::rules::message_changes::Delete;
    use crate::store::NewMessage;

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 4).unwrap();
        (dir, store)
    }

    /// Everything published so far.
    fn drain(rx: &mut broadcast::Receiver<Arc<Change>>) -> Vec<Arc<Change>> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    fn message(id: &str, rid: &str, msg: &str) -> Message {
        Message::from_json(
            json!({"_id": id, "rid": rid, "msg": msg})
                .to_string()
                .into_bytes(),
        )
        .unwrap()
    }

    fn subscription(uid: &str, rid: &str, unread: i64) -> Subscription {
        Subscription(object(
            json!({"_id": format!("s{uid}{rid}"), "rid": rid, "u": {"_id": uid}, "unread": unread}),
        ))
    }

    fn kinds(changes: &[Arc<Change>]) -> Vec<String> {
        changes
            .iter()
            .map(|c| {
                let text = serde_json::to_string(&c.event).unwrap();
                text.trim_start_matches(['{', '"'])
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn a_new_message_announces_itself_then_its_room_and_the_bumped_subscriptions() {
        let (_dir, store) = open();
        let room = Room(object(
            json!({"_id": "r1", "t": "c", "name": "a", "msgs": 0}),
        ));
        store
            .create_room(
                &room,
                &[subscription("u1", "r1", 0), subscription("u2", "r1", 0)],
            )
            .unwrap();
        let mut rx = store.feed().subscribe();
        let new = NewMessage {
            message: message("m1", "r1", "hi"),
            id: "m1".into(),
            room_id: "r1".into(),
            last_message: json!({"_id": "m1"}),
            at: "2024-01-01T00:00:00.000Z".into(),
            bumps: vec![crate::store::MemberBump {
                user_id: "u2".into(),
                bump: crate::rules::unread::Bump {
                    unread: 1,
                    user_mentions: 0,
                    group_mentions: 0,
                },
                mentioned_in_thread: false,
            }],
            pushes: None,
            thread: None,
            join: None,
        };
        store.insert_message(&new).unwrap();
        let changes = drain(&mut rx);
        assert_eq!(
            kinds(&changes),
            ["MessageInserted", "RoomChanged", "SubscriptionChanged"]
        );
        let Event::MessageInserted { message } = &changes[0].event else {
            unreachable!()
        };
        assert_eq!(
            message.raw().get(),
            store.message_json("m1").unwrap().unwrap().as_ref()
        );
        let Event::RoomChanged { room } = &changes[1].event else {
            unreachable!()
        };
        assert_eq!(room.0["msgs"], 1, "the room as stored after the write");
        let Event::SubscriptionChanged { subscription } = &changes[2].event else {
            unreachable!()
        };
        assert_eq!((subscription.user_id(), subscription.unread()), ("u2", 1));
        let seqs: Vec<u64> = changes.iter().map(|c| c.seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));

        // The same id again is refused: nothing is written, nothing announced.
        assert!(store.insert_message(&new).is_err());
        assert!(drain(&mut rx).is_empty());

        let deleted = Delete {
            room_id: "r1".into(),
            at: "2024-01-01T00:00:01.000Z".into(),
        };
        store.modify_message("m1", &deleted).unwrap().unwrap();
        let changes = drain(&mut rx);
        assert_eq!(kinds(&changes), ["MessageDeleted", "RoomChanged"]);
        let Event::MessageDeleted {
            room_id,
            message_id,
        } = &changes[0].event
        else {
            unreachable!()
        };
        assert_eq!((room_id.as_str(), message_id.as_str()), ("r1", "m1"));
    }

    #[test]
    fn ended_sessions_are_announced_per_user_and_a_password_change_as_a_user_change() {
        let (_dir, store) = open();
        let token = |uid: &str| LoginToken {
            user_id: uid.into(),
            when: "2024-01-01T00:00:00.000Z".into(),
        };
        for (hash, uid) in [("h1", "u1"), ("h2", "u1"), ("h3", "u2")] {
            store.add_login_token(hash, &token(uid), None).unwrap();
        }
        let mut rx = store.feed().subscribe();
        assert!(store.remove_login_token("h3").unwrap());
        assert!(!store.remove_login_token("gone").unwrap());
        store.reset_password("u1", "hash").unwrap();
        let changes = drain(&mut rx);
        assert_eq!(
            kinds(&changes),
            ["LoginTokensRemoved", "UserChanged", "LoginTokensRemoved"]
        );
        let Event::LoginTokensRemoved {
            user_id,
            token_hashes,
        } = &changes[2].event
        else {
            unreachable!()
        };
        assert_eq!(user_id, "u1");
        assert_eq!(token_hashes, &["h1", "h2"]);
    }

    #[test]
    fn a_reset_starts_the_feed_again_with_a_resync_and_an_import_is_one_resync() {
        let (_dir, store) = open();
        let start = store.capture_state().unwrap();
        let mut rx = store.feed().subscribe();
        let import = crate::seed::parse(
            r#"{"users":[{"_id":"u1","username":"ann"}],
                "rooms":[{"_id":"r1","t":"c","name":"a"}]}"#,
        )
        .unwrap();
        store.import(&import).unwrap();
        store.mark_read("r1", "u1", "x", false).unwrap();
        store.restore(&start).unwrap();
        let changes = drain(&mut rx);
        let seen: Vec<(u64, String)> = changes.iter().map(|c| c.seq).zip(kinds(&changes)).collect();
        assert_eq!(seen, [(1, "Resync".to_string()), (1, "Resync".to_string())]);
        store.restore(&start).unwrap();
        assert_eq!(
            drain(&mut rx)[0].seq,
            1,
            "every reset starts at the same number"
        );
    }

    /// One write of a batch: a message put (new or not) or deleted, a subscription put or
    /// deleted.
    #[derive(Debug, Clone)]
    enum Write {
        Message { id: u8, text: u8, delete: bool },
        Subscription { user: u8, unread: u8, delete: bool },
    }

    fn write() -> impl Strategy<Value = Write> {
        prop_oneof![
            (0u8..4, 0u8..10, prop::bool::weighted(0.3))
                .prop_map(|(id, text, delete)| Write::Message { id, text, delete }),
            (0u8..3, 0u8..10, prop::bool::weighted(0.3)).prop_map(|(user, unread, delete)| {
                Write::Subscription {
                    user,
                    unread,
                    delete,
                }
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// However writes fall into batches (a key written twice in one included), the
        /// events replayed rebuild the stored messages and subscriptions, and their numbers
        /// go up by one.
        #[test]
        fn the_events_replayed_rebuild_the_stored_documents(
            batches in prop::collection::vec(prop::collection::vec(write(), 0..6), 1..8)
        ) {
            let (_dir, store) = open();
            let mut rx = store.feed().subscribe();
            for writes in &batches {
                store.write(|store, batch| {
                    for w in writes {
                        match *w {
                            Write::Message { id, text, delete } => {
                                let id = format!("m{id}");
                                let exists = store.message(&id)?.is_some()
                                    || batch.writes.iter().any(|(t, k, v)| {
                                        *t == Tree::MessageidMessage && *k == id.as_bytes() && v.is_some()
                                    });
                                if delete {
                                    batch.delete(Tree::MessageidMessage, id);
                                } else {
                                    let m = message(&id, "r1", &text.to_string());
                                    Store::put_message(batch, &m, &id, !exists);
                                }
                            }
                            Write::Subscription { user, unread, delete } => {
                                let uid = format!("u{user}");
                                if delete {
                                    batch.delete(Tree::UserroomidSubscription, keys::pair(&uid, "r1"));
                                } else {
                                    Store::update_subscription(batch, &subscription(&uid, "r1", unread.into()));
                                }
                            }
                        }
                    }
                    Ok(())
                }).unwrap();
            }
            let mut messages = BTreeMap::new();
            let mut subscriptions = BTreeMap::new();
            let mut last = 0;
            for change in drain(&mut rx) {
                prop_assert_eq!(change.seq, last + 1);
                last = change.seq;
                match &change.event {
                    Event::MessageInserted { message } => {
                        let id = message.view().unwrap().id.into_owned();
                        prop_assert!(messages.insert(id, message.raw().get().to_string()).is_none());
                    }
                    Event::MessageUpdated { message } => {
                        let id = message.view().unwrap().id.into_owned();
                        prop_assert!(messages.insert(id, message.raw().get().to_string()).is_some());
                    }
                    Event::MessageDeleted { room_id, message_id } => {
                        prop_assert_eq!(room_id, "r1");
                        prop_assert!(messages.remove(message_id).is_some());
                    }
                    Event::SubscriptionChanged { subscription } => {
                        subscriptions.insert(subscription.user_id().to_string(), subscription.clone());
                    }
                    Event::SubscriptionRemoved { user_id, room_id, subscription_id } => {
                        prop_assert_eq!(room_id, "r1");
                        let gone = subscriptions.remove(user_id);
                        prop_assert_eq!(gone.map(|s| s.id().to_string()), Some(subscription_id.clone()));
                    }
                    other => prop_assert!(false, "unexpected {other:?}"),
                }
            }
            let stored: BTreeMap<String, String> = store
                .engine
                .scan_prefix(Tree::MessageidMessage, b"")
                .unwrap()
                .into_iter()
                .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
                .collect();
            prop_assert_eq!(messages, stored);
            let stored: BTreeMap<String, Subscription> = (0..3)
                .filter_map(|u| store.subscription("r1", &format!("u{u}")).unwrap())
                .map(|s| (s.user_id().to_string(), s))
                .collect();
            prop_assert_eq!(subscriptions, stored);
        }
    }
}
