//! The realtime API: Rocket.Chat's DDP over a WebSocket at `/websocket` (spec
//! `realtime.md`). A port beside `api/`: it parses frames, calls the services, and shapes
//! frames; it holds no store and no business rule.
//!
//! * `socket.rs`: the WebSocket itself (handshake, frames, the bounded send queue, heartbeats).
//! * `session.rs`: one connection's DDP state machine (connect, in-order calls).
//! * `frames.rs`: the frames the server sends, and EJSON dates.
//! * `error.rs`: `MeteorError`, the error object of `result` and `nosub`.
//! * `methods/`: the method table; `login.rs`: `login` and `logout`.
//! * `rate_limit.rs`: the DDP rate limiter's state (its rules: `rules::ddp_rate`).

pub mod error;
pub mod frames;
pub mod login;
pub mod methods;
pub mod rate_limit;
pub mod session;
pub mod socket;
pub mod streams;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

use crate::config::RealtimeConfig;
use crate::metrics::SocketCounters;
use crate::rules::ddp_rate::CallKind;
use crate::rules::presence::{connections_status, Status};
use crate::service::Services;
use error::MeteorError;
use rate_limit::DdpLimiter;
use streams::Streams;

/// One WebSocket connection (or one REST `method.call`), unique in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Who a connection is logged in as: the user and the hash of the token used, which ends
/// the connection when that token is removed (spec §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub token_hash: String,
}

/// What a method or a subscription sees of the connection that made it.
pub struct CallContext<'a> {
    pub services: &'a Services,
    pub conn: ConnId,
    /// `None` before `login` (spec §3.6).
    pub caller: Option<&'a Caller>,
    pub ip: IpAddr,
    /// The connection's login, which `login` and `logout` change; `None` for REST
    /// `method.call`, which has no connection to log in.
    pub session: Option<&'a SessionLogin>,
    /// The hub, for what a method emits without a store write (typing, ephemeral messages).
    pub realtime: &'a Realtime,
}

impl CallContext<'_> {
    /// The caller's user id, if logged in.
    pub fn user_id(&self) -> Option<&str> {
        self.caller.map(|c| c.user_id.as_str())
    }
}

/// A connection's login. `set` keeps the hub's index of connections by token up to date,
/// so that removing a token closes the connections logged in with it.
pub struct SessionLogin {
    hub: Realtime,
    conn: ConnId,
    outbound: Outbound,
    caller: Mutex<Option<Caller>>,
}

impl SessionLogin {
    pub(crate) fn new(hub: Realtime, conn: ConnId, outbound: Outbound) -> SessionLogin {
        SessionLogin {
            hub,
            conn,
            outbound,
            caller: Mutex::new(None),
        }
    }

    pub fn caller(&self) -> Option<Caller> {
        self.caller.lock().clone()
    }

    /// Queues a frame to the connection (what a login publishes besides its result).
    pub fn send(&self, frame: Arc<str>) -> bool {
        self.outbound.send(frame)
    }

    /// Logs the connection in as `caller`, or out with `None`; the presence it moves is
    /// for the caller to write.
    pub fn set(&self, caller: Option<Caller>) -> PresenceMoves {
        let mut current = self.caller.lock();
        let moves =
            self.hub
                .set_login(self.conn, current.as_ref(), caller.as_ref(), &self.outbound);
        *current = caller;
        moves
    }
}

/// Users whose connections' status moved (spec §0 step 7, §3.3): to be written, one write
/// per move, before the call that moved them is answered.
#[must_use]
pub struct PresenceMoves {
    hub: Realtime,
    users: Vec<String>,
}

impl PresenceMoves {
    /// Writes the moves; true if a stored status changed. A failed write is logged: a
    /// presence never fails the login or the logout that moved it.
    ///
    /// Each write takes the user's status as the hub holds it at that moment, one write at a
    /// time: two sockets of a user opening and closing at once cannot leave the older status
    /// stored last.
    pub async fn write(self, services: &Services) -> bool {
        if self.users.is_empty() {
            return false;
        }
        let _one_at_a_time = self.hub.inner.presence_writes.lock().await;
        let mut changed = false;
        for user_id in self.users {
            let status = self.hub.presence_of(&user_id);
            match services
                .users()
                .set_connection_status(&user_id, status)
                .await
            {
                Ok(c) => changed |= c,
                Err(e) => tracing::warn!(error = %e, "realtime: a presence was not written"),
            }
        }
        changed
    }
}

/// One item of a connection's send queue.
#[derive(Debug)]
pub(crate) enum Out {
    /// A DDP frame (a text frame).
    Frame(Arc<str>),
    /// The answer to a WebSocket ping.
    Pong(bytes::Bytes),
    /// A close frame; nothing follows it.
    Close(u16, &'static str),
}

/// The queue of frames to one connection. Bounded: `send` never waits, and a connection
/// whose queue is full (a consumer that stopped reading) is dropped at once, its queued
/// frames with it, and counted, instead of being buffered without bound. Frames leave in
/// the order they were queued. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    queue: mpsc::Sender<Out>,
    state: Arc<ConnState>,
}

/// What the parts of one connection share: whether it is ending, and how.
pub(crate) struct ConnState {
    /// Set once the connection ends, by whichever part ends it; everything else stops.
    closed: watch::Sender<bool>,
    /// Set when the consumer fell behind: the connection is dropped without a close frame.
    aborted: AtomicBool,
    metrics: SocketCounters,
}

impl Outbound {
    /// A queue of `bound` frames and the receiving end the socket writes from.
    pub(crate) fn new(bound: usize, metrics: SocketCounters) -> (Outbound, mpsc::Receiver<Out>) {
        let (queue, rx) = mpsc::channel(bound.max(1));
        let state = Arc::new(ConnState {
            closed: watch::channel(false).0,
            aborted: AtomicBool::new(false),
            metrics,
        });
        (Outbound { queue, state }, rx)
    }

    /// Queues a frame; false if the connection is gone or has just been dropped for not
    /// reading (the frame is not sent).
    pub fn send(&self, frame: Arc<str>) -> bool {
        self.push(Out::Frame(frame))
    }

    pub(crate) fn push(&self, out: Out) -> bool {
        if self.is_closed() {
            return false;
        }
        match self.queue.try_send(out) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.abort();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.state.closed.send_replace(true);
                false
            }
        }
    }

    /// Ends the connection with `1000 Normal closure` after the frames already queued
    /// (spec §1.5: every server-side close but 1009).
    pub fn close(&self) {
        self.close_with(1000, "Normal closure");
    }

    pub(crate) fn close_with(&self, code: u16, reason: &'static str) {
        if !self.is_closed() {
            self.push(Out::Close(code, reason));
            self.state.closed.send_replace(true);
        }
    }

    /// Drops a consumer that stopped reading: no more frames, no close frame.
    fn abort(&self) {
        if !self.state.aborted.swap(true, Ordering::SeqCst) {
            self.state.metrics.slow_consumers.inc();
            tracing::info!("realtime: dropped a connection whose client stopped reading");
        }
        self.state.closed.send_replace(true);
    }

    /// Whether the connection has ended (closed, dropped, or its socket gone).
    pub fn is_closed(&self) -> bool {
        *self.state.closed.borrow() || self.queue.is_closed()
    }

    /// Resolves once the connection has ended.
    pub(crate) async fn closed(&self) {
        let mut rx = self.state.closed.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }
}

/// The realtime hub, built once at start-up: the settings of every connection, the
/// connections logged in by token (to close them when the token is removed), the rate
/// limiter and the counters. Cheap to clone.
#[derive(Clone)]
pub struct Realtime {
    inner: Arc<Hub>,
}

struct Hub {
    config: RealtimeConfig,
    next_conn: AtomicU64,
    /// Set when the server stops: every socket closes (a WebSocket would otherwise hold
    /// the graceful shutdown for its whole timeout).
    stopping: watch::Sender<bool>,
    /// Token hash → the connections logged in with it.
    by_token: Mutex<HashMap<String, HashMap<ConnId, Outbound>>>,
    /// User id → the status of each connection logged in as them: a user is online while
    /// one is (spec §0 step 7).
    presence: Mutex<HashMap<String, HashMap<ConnId, Status>>>,
    /// Held while presence is written (see `PresenceMoves::write`).
    presence_writes: tokio::sync::Mutex<()>,
    limiter: DdpLimiter,
    metrics: SocketCounters,
    streams: Streams,
}

impl Realtime {
    /// The hub, counting in `metrics` (`Services::socket_counters`).
    pub fn new(config: &RealtimeConfig, metrics: SocketCounters, streams: Streams) -> Realtime {
        Realtime {
            inner: Arc::new(Hub {
                config: config.clone(),
                next_conn: AtomicU64::new(1),
                stopping: watch::channel(false).0,
                by_token: Mutex::default(),
                presence: Mutex::default(),
                presence_writes: tokio::sync::Mutex::new(()),
                limiter: DdpLimiter::default(),
                metrics,
                streams,
            }),
        }
    }

    /// The streams: subscriptions and what the change feed sends them.
    pub fn streams(&self) -> &Streams {
        &self.inner.streams
    }

    /// Starts closing the connections whose login token is removed (spec §3.3), from the
    /// change feed of `services`.
    pub fn watch_tokens(&self, services: &Services) {
        let mut changes = services.changes();
        let hub = self.clone();
        actix_web::rt::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match changes.recv().await {
                    Ok(change) => hub.on_change(&change.event),
                    // Missed events may have removed tokens: the next call checks again
                    // (`session` re-authenticates each call), so nothing is lost but speed.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                }
            }
        });
    }

    fn on_change(&self, event: &crate::model::change::Event) {
        use crate::model::change::Event;
        // A testing reset (or an import) says `Resync`: the calls counted before it are
        // forgotten, as the push.test limiter's are.
        if let Event::Resync = event {
            self.inner.limiter.clear();
        }
        if let Event::LoginTokensRemoved { token_hashes, .. } = event {
            let closing: Vec<Outbound> = {
                let mut by_token = self.inner.by_token.lock();
                token_hashes
                    .iter()
                    .filter_map(|h| by_token.remove(h))
                    .flat_map(HashMap::into_values)
                    .collect()
            };
            for outbound in closing {
                outbound.close();
            }
        }
    }

    /// Closes every socket (1000 `Normal closure`), now and as they come: the server is
    /// stopping.
    pub fn stop(&self) {
        self.inner.stopping.send_replace(true);
    }

    /// Resolves once the server is stopping.
    pub(crate) async fn stopping(&self) {
        let mut rx = self.inner.stopping.subscribe();
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    pub(crate) fn config(&self) -> &RealtimeConfig {
        &self.inner.config
    }

    pub(crate) fn metrics(&self) -> &SocketCounters {
        &self.inner.metrics
    }

    /// Counts a call of `kind` named `name` by `ctx`'s connection and user (spec §2.8): its
    /// refusal, if it goes over a limit, counted in `/metrics`.
    pub(crate) fn admit(
        &self,
        ctx: &CallContext<'_>,
        kind: CallKind,
        name: &str,
    ) -> Result<(), MeteorError> {
        if !self.inner.config.rate_limit {
            return Ok(());
        }
        let counted = rate_limit::Call {
            kind,
            name,
            conn: ctx.conn,
            user_id: ctx.caller.map(|c| c.user_id.as_str()),
            ip: ctx.ip,
        };
        let verdict = self
            .inner
            .limiter
            .check(&counted, ctx.services.clock().now());
        if verdict.is_err() {
            self.inner.metrics.rate_limited.inc();
        }
        verdict
    }

    /// A method call as a transport (socket or REST `method.call`) received it: admitted by
    /// the rate limiter, then run (`methods::call`).
    pub async fn invoke(
        &self,
        ctx: &CallContext<'_>,
        method: &str,
        params: Vec<serde_json::Value>,
    ) -> Result<Option<serde_json::Value>, MeteorError> {
        self.admit(ctx, CallKind::Method, method)?;
        methods::call(ctx, method, params).await
    }

    /// A new connection id.
    pub fn next_conn(&self) -> ConnId {
        ConnId(self.inner.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// Notes that `conn` is logged in with `caller`'s token (or no longer, with `None`):
    /// the users whose connections' status it moves.
    pub(crate) fn set_login(
        &self,
        conn: ConnId,
        old: Option<&Caller>,
        new: Option<&Caller>,
        outbound: &Outbound,
    ) -> PresenceMoves {
        let mut users = Vec::new();
        let (was, is) = (old.map(|c| &c.user_id), new.map(|c| &c.user_id));
        if was != is {
            if let Some(user) = was {
                users.extend(self.move_presence(user, |c| {
                    c.remove(&conn);
                }));
            }
            if let Some(user) = is {
                users.extend(self.move_presence(user, |c| {
                    c.insert(conn, Status::Online);
                }));
            }
        }
        self.index_token(conn, old, new, outbound);
        PresenceMoves {
            hub: self.clone(),
            users,
        }
    }

    /// `UserPresence:online` / `UserPresence:away` (§5.12): the connection's own status;
    /// nothing for a connection not logged in as `user_id`.
    pub(crate) fn set_connection_status(
        &self,
        conn: ConnId,
        user_id: &str,
        status: Status,
    ) -> PresenceMoves {
        let moved = self.move_presence(user_id, |conns| {
            if let Some(s) = conns.get_mut(&conn) {
                *s = status;
            }
        });
        PresenceMoves {
            hub: self.clone(),
            users: moved.into_iter().collect(),
        }
    }

    /// The status of `user`'s connections now.
    fn presence_of(&self, user: &str) -> Status {
        let presence = self.inner.presence.lock();
        let conns = presence.get(user).into_iter().flat_map(HashMap::values);
        connections_status(conns.copied())
    }

    /// Applies `change` to `user`'s connections; the user, if the status of them all moved.
    fn move_presence(
        &self,
        user: &str,
        change: impl FnOnce(&mut HashMap<ConnId, Status>),
    ) -> Option<String> {
        let mut presence = self.inner.presence.lock();
        let conns = presence.entry(user.to_string()).or_default();
        let before = connections_status(conns.values().copied());
        change(conns);
        let after = connections_status(conns.values().copied());
        if conns.is_empty() {
            presence.remove(user);
        }
        (before != after).then(|| user.to_string())
    }

    fn index_token(
        &self,
        conn: ConnId,
        old: Option<&Caller>,
        new: Option<&Caller>,
        outbound: &Outbound,
    ) {
        let mut by_token = self.inner.by_token.lock();
        if let Some(old) = old {
            if let Some(conns) = by_token.get_mut(&old.token_hash) {
                conns.remove(&conn);
                if conns.is_empty() {
                    by_token.remove(&old.token_hash);
                }
            }
        }
        if let Some(new) = new {
            by_token
                .entry(new.token_hash.clone())
                .or_default()
                .insert(conn, outbound.clone());
        }
    }

    /// The heartbeat interval of sessions on DDP `1` and `pre2` (spec §2.4).
    pub(crate) fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.inner.config.heartbeat_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::rate_limit::Call;
    use super::*;
    use crate::model::change::Event;
    use crate::rules::ddp_rate::CallKind;

    /// A hub over the services of a fresh database (kept alive by the returned directory).
    fn hub() -> (tempfile::TempDir, Realtime) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("db"), 4).unwrap();
        let config = crate::config::Config::default();
        let settings = crate::settings::Settings::load(
            &store,
            &config.server.site_url,
            "test",
            &config.settings,
        )
        .unwrap();
        let services = Services::new(
            store,
            settings,
            crate::delivery::Delivery::capture(),
            &config,
            Default::default(),
            None,
        );
        let streams = Streams::start(&services).unwrap();
        let hub = Realtime::new(
            &RealtimeConfig::default(),
            SocketCounters::default(),
            streams,
        );
        (dir, hub)
    }

    #[test]
    fn a_resync_forgets_the_counted_calls() {
        let (_dir, hub) = hub();
        let login = Call {
            kind: CallKind::Method,
            name: "login",
            conn: ConnId(1),
            user_id: None,
            ip: IpAddr::from([127, 0, 0, 1]),
        };
        for _ in 0..5 {
            assert!(hub.inner.limiter.check(&login, 0).is_ok());
        }
        assert!(hub.inner.limiter.check(&login, 0).is_err());
        hub.on_change(&Event::Resync);
        assert!(hub.inner.limiter.check(&login, 0).is_ok());
    }

    #[test]
    fn removing_a_token_closes_the_connections_logged_in_with_it() {
        let (_dir, hub) = hub();
        let (a, _qa) = Outbound::new(4, SocketCounters::default());
        let (b, _qb) = Outbound::new(4, SocketCounters::default());
        let login = |conn, outbound: &Outbound, hash: &str| {
            let s = SessionLogin::new(hub.clone(), ConnId(conn), outbound.clone());
            let _presence = s.set(Some(Caller {
                user_id: "u1".into(),
                token_hash: hash.into(),
            }));
            s
        };
        let (_sa, _sb) = (login(1, &a, "h1"), login(2, &b, "h2"));
        hub.on_change(&Event::LoginTokensRemoved {
            user_id: "u1".into(),
            token_hashes: vec!["h1".into()],
        });
        assert!(a.is_closed());
        assert!(!b.is_closed());
    }

    #[test]
    fn a_full_queue_drops_the_connection_and_counts_it() {
        let counters = SocketCounters::default();
        let (out, _rx) = Outbound::new(2, counters.clone());
        assert!(out.send(Arc::from("1")));
        assert!(out.send(Arc::from("2")));
        assert!(!out.send(Arc::from("3")));
        assert!(out.is_closed());
        assert!(!out.send(Arc::from("4")));
        assert_eq!(counters.slow_consumers.get(), 1);
    }
}
