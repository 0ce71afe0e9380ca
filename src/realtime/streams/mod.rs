//! The streams (realtime.md §4): `sub`s to the `stream-*` publications, checked as
//! push.get checks access, and the change feed's events routed to them as `changed` frames.
//!
//! Fan-out is by topic: a table (stream, event name) → subscriptions, so an event costs one
//! lookup of its topic, not a pass over the connections, and each frame is encoded once and
//! shared (`Arc<str>`) by every socket that gets the same bytes.
//!
//! Who may read a room is decided on each event against the current state, so that a user
//! who is kicked, leaves or loses a permission stops receiving at once, and one who
//! re-joins resumes (Rocket.Chat checks `canAccessRoom` on each emit too). The decisions are
//! cached per (room, user) and dropped when an event touches what they were made of: that
//! subscription, that user, the room's type or parent, the permission table, any team, or a
//! `Resync`.

mod routing;
mod typing;

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use serde_json::{json, Value};

use super::error::MeteorError;
use super::frames;
use super::{CallContext, ConnId, Outbound};
use crate::error::ApiResult;
use crate::rules::presence::ShownStatus;
use crate::rules::streams::{
    parse_sub, read_check, room_messages_readable, ReadCheck, Reader, Stream, SubRefusal,
};
use crate::service::streams::StreamReads;
use crate::service::Services;

/// The streams of one server: the routing table, fed by the change feed on a thread of
/// its own (its store reads block). Cheap to clone.
#[derive(Clone)]
pub struct Streams {
    hub: Arc<Hub>,
}

/// A `sub` passed its read check (and its `added` frame, if any, is queued): the session
/// answers `ready`.
#[derive(Debug)]
pub struct SubReady;

struct Hub {
    reads: StreamReads,
    routes: Mutex<Routes>,
    decisions: Mutex<Decisions>,
    /// User id → the status `user-status` last told of them, to emit only on its change.
    statuses: Mutex<HashMap<String, ShownStatus>>,
}

/// A stream and one of its event names: what a subscription listens to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Topic {
    stream: Stream,
    event: Arc<str>,
}

impl Topic {
    fn new(stream: Stream, event: &str) -> Topic {
        Topic {
            stream,
            event: event.into(),
        }
    }
}

/// One subscription, as its topic's list holds it.
#[derive(Clone)]
struct Route {
    conn: ConnId,
    sub_id: Arc<str>,
    /// The connection's user when it subscribed (a login or logout checks it again).
    user: Option<Arc<str>>,
    outbound: Outbound,
}

/// A connection's subscriptions, to end them with it.
struct Conn {
    subs: HashMap<Arc<str>, Topic>,
}

#[derive(Default)]
struct Routes {
    topics: HashMap<Topic, Vec<Route>>,
    conns: HashMap<ConnId, Conn>,
    /// How many `<uid>/rooms-changed` and `<uid>/notification` subscriptions there are:
    /// while there are none, a message (and its room's change) does not read the room's
    /// members for them.
    per_member: [usize; 2],
}

/// The notify-user events sent to a room's members, counted in `Routes::per_member`.
#[derive(Debug, Clone, Copy)]
pub(super) enum MemberEvent {
    RoomsChanged,
    Notification,
}

impl MemberEvent {
    const ALL: [MemberEvent; 2] = [MemberEvent::RoomsChanged, MemberEvent::Notification];

    pub(super) fn name(self) -> &'static str {
        match self {
            MemberEvent::RoomsChanged => "rooms-changed",
            MemberEvent::Notification => "notification",
        }
    }

    fn of(topic: &Topic) -> Option<MemberEvent> {
        let (_, event) = topic.event.split_once('/')?;
        (topic.stream == Stream::NotifyUser)
            .then(|| Self::ALL.into_iter().find(|m| m.name() == event))
            .flatten()
    }
}

impl Routes {
    pub(super) fn has_any(&self, event: MemberEvent) -> bool {
        self.per_member[event as usize] > 0
    }

    fn add(&mut self, topic: Topic, route: Route) {
        if let Some(m) = MemberEvent::of(&topic) {
            self.per_member[m as usize] += 1;
        }
        let conn = self.conns.entry(route.conn).or_insert_with(|| Conn {
            subs: HashMap::new(),
        });
        conn.subs.insert(route.sub_id.clone(), topic.clone());
        self.topics.entry(topic).or_default().push(route);
    }

    fn remove(&mut self, conn: ConnId, sub_id: &str) -> Option<(Topic, Route)> {
        let topic = self.conns.get_mut(&conn)?.subs.remove(sub_id)?;
        let routes = self.topics.get_mut(&topic)?;
        let at = routes
            .iter()
            .position(|r| r.conn == conn && &*r.sub_id == sub_id)?;
        let route = routes.swap_remove(at);
        if routes.is_empty() {
            self.topics.remove(&topic);
        }
        if let Some(m) = MemberEvent::of(&topic) {
            self.per_member[m as usize] -= 1;
        }
        Some((topic, route))
    }

    fn targets(&self, stream: Stream, event: &str) -> Vec<Route> {
        let topic = Topic::new(stream, event);
        self.topics.get(&topic).cloned().unwrap_or_default()
    }
}

/// The cached answers of "what is this user to this room" (see the module's doc).
#[derive(Default)]
struct Decisions {
    /// Room id → user id → reader.
    readers: HashMap<String, HashMap<String, Reader>>,
    /// The room facts the decisions rest on (type and parent), to notice their change.
    facts: HashMap<String, (String, Option<String>)>,
    /// Room id → user id → member, as of the last event handled: the store may already
    /// hold later writes (a kick, then a re-invitation), and an event is judged by the
    /// memberships of its own moment.
    members: HashMap<String, HashMap<String, bool>>,
    /// The permission table's generation the decisions were made under.
    permissions: u64,
    /// Moves at every forgetting, so that a decision computed across one is not kept.
    epoch: u64,
}

/// Decisions kept at most; past it they are all dropped (they are recomputed on demand).
const MAX_DECISIONS: usize = 200_000;

impl Decisions {
    fn forget_all(&mut self) {
        self.readers.clear();
        self.facts.clear();
        self.members.clear();
        self.epoch += 1;
    }

    /// The user joined or left the room: decisions about the pair are dropped, and the
    /// membership is known as of this event.
    fn membership(&mut self, room_id: &str, user_id: &str, member: bool) {
        if let Some(users) = self.readers.get_mut(room_id) {
            users.remove(user_id);
        }
        if self.members.values().map(HashMap::len).sum::<usize>() >= MAX_DECISIONS {
            self.members.clear();
        }
        self.members
            .entry(room_id.to_string())
            .or_default()
            .insert(user_id.to_string(), member);
        self.epoch += 1;
    }

    fn forget_room(&mut self, room_id: &str) {
        self.readers.remove(room_id);
        self.facts.remove(room_id);
        self.members.remove(room_id);
        self.epoch += 1;
    }

    fn member(&self, room_id: &str, user_id: &str) -> Option<bool> {
        self.members.get(room_id)?.get(user_id).copied()
    }

    fn forget_user(&mut self, user_id: &str) {
        for users in self.readers.values_mut() {
            users.remove(user_id);
        }
        self.epoch += 1;
    }

    fn len(&self) -> usize {
        self.readers.values().map(HashMap::len).sum()
    }
}

impl Streams {
    /// The streams of `services`, fed by its change feed from now on.
    pub fn start(services: &Services) -> std::io::Result<Streams> {
        let hub = Arc::new(Hub {
            reads: services.streams().clone(),
            routes: Mutex::default(),
            decisions: Mutex::default(),
            statuses: Mutex::default(),
        });
        let changes = services.changes();
        let weak = Arc::downgrade(&hub);
        std::thread::Builder::new()
            .name("rcpush-streams".into())
            .spawn(move || feed_loop(changes, weak))?;
        Ok(Streams { hub })
    }

    /// Whether `name` is a stream publication (the session answers every other one).
    pub fn serves(name: &str) -> bool {
        Stream::parse(name).is_some()
    }

    /// A `sub` to a stream (§4.0): parses its params, runs the read check, queues the
    /// legacy `added` frame, and routes the stream's events to `outbound` from now on.
    pub fn sub(
        &self,
        ctx: &CallContext<'_>,
        sub_id: &str,
        name: &str,
        params: &[Value],
        outbound: &Outbound,
    ) -> Result<SubReady, MeteorError> {
        let stream =
            Stream::parse(name).ok_or_else(|| MeteorError::subscription_not_found(name))?;
        let sub = parse_sub(stream, params).map_err(refusal)?;
        let user = ctx.caller.map(|c| c.user_id.as_str());
        self.hub.sync_permissions();
        if !self.hub.may_read(&read_check(&sub), user)? {
            return Err(refusal(SubRefusal::NotAllowed));
        }
        if sub.legacy {
            outbound.send(added_frame(stream, &sub.event));
        }
        let route = Route {
            conn: ctx.conn,
            sub_id: sub_id.into(),
            user: user.map(Arc::from),
            outbound: outbound.clone(),
        };
        let mut routes = self.hub.routes.lock();
        // A sub id used again replaces the old subscription (the session ignores a sub
        // whose id is active; this keeps the table right whatever it does).
        routes.remove(ctx.conn, sub_id);
        routes.add(Topic::new(stream, &sub.event), route);
        Ok(SubReady)
    }

    /// `unsub`: the subscription ends (unknown ids are fine; the session answers `nosub`).
    pub fn unsub(&self, conn: ConnId, sub_id: &str) {
        self.hub.routes.lock().remove(conn, sub_id);
    }

    /// The connection closed: all its subscriptions end, silently.
    pub fn connection_closed(&self, conn: ConnId) {
        let mut routes = self.hub.routes.lock();
        let subs: Vec<Arc<str>> = match routes.conns.get(&conn) {
            Some(c) => c.subs.keys().cloned().collect(),
            None => return,
        };
        for sub_id in subs {
            routes.remove(conn, &sub_id);
        }
        routes.conns.remove(&conn);
    }

    /// An ephemeral message only `user_id` sees (`<uid>/message`, §4.2): what a method
    /// refused, with no store write. `message` is built by the caller, EJSON already.
    pub fn ephemeral(&self, user_id: &str, message: Value) {
        self.hub.to_user(user_id, "message", json!([message]));
    }

    /// An event of `stream-notify-logged` (§4.4, e.g. presence's `user-status`) to every
    /// subscriber of it; `args` are EJSON already.
    pub fn to_logged_in(&self, event: &str, args: Value) {
        self.hub.to_logged_in(event, args);
    }

    /// The connection logged in as `user` (or out, `None`): its subscriptions are checked
    /// again with the new user (§3.4); those that fail end with `nosub` `not-allowed`, and
    /// their ids are returned.
    pub fn user_changed(&self, conn: ConnId, user: Option<&str>) -> Vec<String> {
        let subs: Vec<(Arc<str>, Topic)> = match self.hub.routes.lock().conns.get(&conn) {
            Some(c) => c.subs.iter().map(|(s, t)| (s.clone(), t.clone())).collect(),
            None => return Vec::new(),
        };
        let mut ended = Vec::new();
        self.hub.sync_permissions();
        for (sub_id, topic) in subs {
            let sub = crate::rules::streams::StreamSub {
                stream: topic.stream,
                event: topic.event.to_string(),
                legacy: false,
            };
            let allowed = self
                .hub
                .may_read(&read_check(&sub), user)
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "streams: a read check failed");
                    false
                });
            let mut routes = self.hub.routes.lock();
            let Some((topic, mut route)) = routes.remove(conn, &sub_id) else {
                continue;
            };
            match allowed {
                true => {
                    route.user = user.map(Arc::from);
                    routes.add(topic, route);
                }
                false => {
                    drop(routes);
                    let error = refusal(SubRefusal::NotAllowed);
                    route.outbound.send(frames::nosub(&sub_id, Some(&error)));
                    ended.push(sub_id.to_string());
                }
            }
        }
        ended
    }
}

impl Hub {
    fn to_logged_in(&self, event: &str, args: Value) {
        let routes = self.routes.lock().targets(Stream::NotifyLogged, event);
        if routes.is_empty() {
            return;
        }
        let frame = changed_frame(Stream::NotifyLogged, event, args);
        for route in routes {
            route.outbound.send(frame.clone());
        }
    }

    /// Drops every decision if the permission table changed since they were made.
    fn sync_permissions(&self) {
        let generation = self.reads.permissions_generation();
        let mut d = self.decisions.lock();
        if d.permissions != generation {
            d.forget_all();
            d.permissions = generation;
        }
    }

    /// The read check of a `sub` (§4.1–4.5) for `user` (none: not logged in).
    fn may_read(&self, check: &ReadCheck, user: Option<&str>) -> ApiResult<bool> {
        let me = match (check, user) {
            (ReadCheck::Anyone, _) => return Ok(true),
            (_, None) => return Ok(false),
            (_, Some(me)) => me,
        };
        Ok(match check {
            ReadCheck::Anyone | ReadCheck::LoggedIn => true,
            ReadCheck::User(uid) => uid == me,
            ReadCheck::Room(rid) => self.reader(me, rid).can_read(),
            ReadCheck::RoomPreview(rid) => {
                let (Some(user), Some(room)) = (self.reads.identity(me)?, self.reads.room(rid)?)
                else {
                    return Ok(false);
                };
                let reader = self
                    .reads
                    .reader(&user, &room, &|rid| self.member(rid, me))?;
                let preview = self.reads.holds(&user, "preview-c-room");
                room_messages_readable(room.room_type(), reader, preview)
            }
        })
    }

    /// What `user_id` is to `room_id` now (cached; see the module's doc). A failed read
    /// denies: a stream never leaks for want of an answer.
    fn reader(&self, user_id: &str, room_id: &str) -> Reader {
        let epoch = {
            let d = self.decisions.lock();
            if let Some(r) = d.readers.get(room_id).and_then(|u| u.get(user_id)) {
                return *r;
            }
            d.epoch
        };
        let reader = match self.decide(user_id, room_id) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "streams: an access check failed");
                return Reader::Denied;
            }
        };
        let mut d = self.decisions.lock();
        if d.epoch == epoch {
            if d.len() >= MAX_DECISIONS {
                d.readers.clear();
            }
            d.readers
                .entry(room_id.to_string())
                .or_default()
                .insert(user_id.to_string(), reader);
        }
        reader
    }

    fn decide(&self, user_id: &str, room_id: &str) -> ApiResult<Reader> {
        match (self.reads.identity(user_id)?, self.reads.room(room_id)?) {
            (Some(user), Some(room)) => {
                let known = |rid: &str| self.member(rid, user_id);
                self.reads.reader(&user, &room, &known)
            }
            _ => Ok(Reader::Denied),
        }
    }

    /// What the events said last of the user's membership of the room.
    fn member(&self, room_id: &str, user_id: &str) -> Option<bool> {
        self.decisions.lock().member(room_id, user_id)
    }
}

/// Reads the feed until it closes (the store is gone) or the streams are dropped.
fn feed_loop(
    mut changes: tokio::sync::broadcast::Receiver<Arc<crate::model::change::Change>>,
    hub: Weak<Hub>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let event = match changes.blocking_recv() {
            Ok(change) => Some(change),
            // Events were missed: what the decisions rest on may have changed.
            Err(RecvError::Lagged(_)) => None,
            Err(RecvError::Closed) => return,
        };
        let Some(hub) = hub.upgrade() else {
            return;
        };
        match event {
            Some(change) => hub.handle(&change.event),
            None => hub.handle(&crate::model::change::Event::Resync),
        }
    }
}

/// The error a refused `sub` ends with (§4.0).
fn refusal(refusal: SubRefusal) -> MeteorError {
    match refusal {
        SubRefusal::NotAllowed => MeteorError::bare("not-allowed"),
        SubRefusal::InvalidEventName => MeteorError::bare("invalid-event-name"),
        // Rocket.Chat reads `.length` of `undefined`: a TypeError, which goes out as a 500.
        SubRefusal::MissingEventName => MeteorError::internal(),
    }
}

/// `{"msg":"changed","collection":"stream-<name>","id":"id","fields":{"eventName":…,"args":…}}`
/// (§4.0): `args` are EJSON already.
fn changed_frame(stream: Stream, event: &str, args: Value) -> Arc<str> {
    frames::data(
        "changed",
        stream.name(),
        "id",
        json!({"eventName": event, "args": args}),
    )
}

/// The one document a legacy subscriber needs before `changed` frames can update it.
fn added_frame(stream: Stream, event: &str) -> Arc<str> {
    frames::data("added", stream.name(), "id", json!({ "eventName": event }))
}
