//! One connection's DDP session (spec §2): what each client frame means in the session's
//! phase (`classify`, pure), and the in-order processing of its calls (`Session::run`).
//!
//! Frames are classified as they arrive: `connect`, `ping`, `pong` and garbage are answered
//! at once (Meteor handles them before its queue, so a `ping` never waits behind a slow
//! method); `method`, `sub`, `unsub` and the errors Meteor raises from its queue go to
//! `Session::run` in arrival order, one at a time (§1.6).

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::error::MeteorError;
use super::streams::Streams;
use super::{frames, CallContext, ConnId, Outbound, Realtime, SessionLogin};
use crate::rules::ddp_rate::CallKind;
use crate::service::Services;

/// The DDP versions the server speaks, in its order of preference.
const SUPPORTED: [&str; 3] = ["1", "pre2", "pre1"];

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No `connect` yet.
    Connecting,
    /// Connected on this DDP version.
    Connected(&'static str),
}

impl Phase {
    /// Whether the server sends heartbeats and answers `ping` (every version but `pre1`).
    pub fn heartbeats(self) -> bool {
        matches!(self, Phase::Connected(v) if v != "pre1")
    }
}

/// A call for the in-order queue.
#[derive(Debug, PartialEq)]
pub enum Call {
    Method {
        id: String,
        method: String,
        params: Vec<Value>,
    },
    Sub {
        id: String,
        name: String,
        params: Vec<Value>,
    },
    /// `unsub`; the id is echoed as the client sent it.
    Unsub { id: Value },
    /// An error frame Meteor sends from its queue, in order with the calls' answers.
    Reply(Arc<str>),
}

/// What to do with one client frame.
#[derive(Debug, PartialEq)]
pub enum Inbound {
    /// Answer at once.
    Reply(Arc<str>),
    /// Connected on this version: send `connected` with a new session id.
    Connect(&'static str),
    /// Send `failed` for this version and close.
    Fail(&'static str),
    /// Queue it.
    Call(Call),
    /// Nothing to do (`pong`).
    Ignore,
}

/// What `text` means in `phase` (spec §2.2–2.4).
pub fn classify(phase: Phase, text: &str) -> Inbound {
    let msg = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o,
        _ => return Inbound::Reply(frames::error("Bad request", None)),
    };
    let kind = match msg.get("msg") {
        Some(Value::String(k)) if !k.is_empty() => k.clone(),
        _ => return bad_request(&msg),
    };
    match (phase, kind.as_str()) {
        (Phase::Connecting, "connect") => negotiate(&msg),
        (Phase::Connected(_), "connect") => Inbound::Reply(frames::error(
            "Already connected",
            Some(&Value::Object(msg)),
        )),
        (Phase::Connecting, _) => Inbound::Reply(frames::error(
            "Must connect first",
            Some(&Value::Object(msg)),
        )),
        (p, "ping") if p.heartbeats() => {
            let pong = match msg.get("id") {
                Some(id) => frames::encode(&serde_json::json!({"msg": "pong", "id": id})),
                None => frames::heartbeat("pong", None),
            };
            Inbound::Reply(pong)
        }
        (p, "pong") if p.heartbeats() => Inbound::Ignore,
        (_, "method") => method(msg),
        (_, "sub") => sub(msg),
        (_, "unsub") => Inbound::Call(Call::Unsub {
            id: msg.get("id").cloned().unwrap_or(Value::Null),
        }),
        _ => Inbound::Call(Call::Reply(frames::error(
            "Bad request",
            Some(&Value::Object(msg)),
        ))),
    }
}

fn bad_request(msg: &Map<String, Value>) -> Inbound {
    Inbound::Reply(frames::error(
        "Bad request",
        Some(&Value::Object(msg.clone())),
    ))
}

/// `connect`: the version both sides speak, or `failed` (§2.2).
fn negotiate(msg: &Map<String, Value>) -> Inbound {
    let version = msg.get("version").and_then(Value::as_str);
    let support: Option<Vec<&str>> = msg
        .get("support")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(Value::as_str).collect());
    let (Some(version), Some(support)) = (version, support) else {
        return Inbound::Fail(SUPPORTED[0]);
    };
    if !support.contains(&version) {
        return Inbound::Fail(SUPPORTED[0]);
    }
    let chosen = support
        .iter()
        .find_map(|v| SUPPORTED.iter().find(|s| *s == v))
        .copied()
        .unwrap_or(SUPPORTED[0]);
    match chosen == version {
        true => Inbound::Connect(chosen),
        false => Inbound::Fail(chosen),
    }
}

/// `params`, which may be absent (`[]`) but not anything but an array.
fn params_of(msg: &Map<String, Value>) -> Option<Vec<Value>> {
    match msg.get("params") {
        None => Some(Vec::new()),
        Some(Value::Array(a)) => Some(a.clone()),
        Some(_) => None,
    }
}

fn method(msg: Map<String, Value>) -> Inbound {
    let seed_ok = msg.get("randomSeed").is_none_or(Value::is_string);
    match (
        msg.get("id").and_then(Value::as_str),
        msg.get("method").and_then(Value::as_str),
        params_of(&msg),
    ) {
        (Some(id), Some(method), Some(params)) if seed_ok => Inbound::Call(Call::Method {
            id: id.to_string(),
            method: method.to_string(),
            params,
        }),
        _ => Inbound::Call(Call::Reply(frames::error(
            "Malformed method invocation",
            Some(&Value::Object(msg)),
        ))),
    }
}

fn sub(msg: Map<String, Value>) -> Inbound {
    match (
        msg.get("id").and_then(Value::as_str),
        msg.get("name").and_then(Value::as_str),
        params_of(&msg),
    ) {
        (Some(id), Some(name), Some(params)) => Inbound::Call(Call::Sub {
            id: id.to_string(),
            name: name.to_string(),
            params,
        }),
        _ => Inbound::Call(Call::Reply(frames::error(
            "Malformed subscription",
            Some(&Value::Object(msg)),
        ))),
    }
}

/// The publication Meteor's accounts package serves to every client; its documents are
/// the login services, of which rcpush has none, so it is only `ready` (spec §0 step 7).
const LOGIN_SERVICE_CONFIGURATION: &str = "meteor.loginServiceConfiguration";

/// The in-order part of one connection: its login, its subscriptions, its calls.
pub struct Session {
    /// Shared, not cloned: a `Services` is kilobytes, and each idle socket would hold one.
    pub(crate) services: Arc<Services>,
    pub(crate) hub: Realtime,
    pub(crate) conn: ConnId,
    pub(crate) ip: IpAddr,
    pub(crate) outbound: Outbound,
    pub(crate) login: SessionLogin,
    /// Active subscription ids, in the order they were made.
    pub(crate) subs: Vec<String>,
}

impl Session {
    /// Processes `calls` one at a time until the connection ends, then forgets the
    /// connection's login. Calls come boxed: the channel allocates its slots up front,
    /// 32 at a time, and a boxed call takes a tenth of the room.
    pub async fn run(mut self, mut calls: mpsc::Receiver<Box<Call>>) {
        loop {
            let call = tokio::select! {
                call = calls.recv() => call,
                _ = self.outbound.closed() => None,
            };
            let Some(call) = call else { break };
            if !self.still_logged_in() {
                self.outbound.close();
                break;
            }
            // Boxed: a call's future (a method's whole service call) is ~10 KB, and an idle
            // session's task would otherwise hold that much for as long as the socket is open.
            Box::pin(self.handle(*call)).await;
        }
        self.hub.streams().connection_closed(self.conn);
        self.login.set(None).write(&self.services).await;
    }

    /// False when the connection's token was removed since its login (a missed feed event
    /// must not leave the connection acting for a session that ended).
    fn still_logged_in(&self) -> bool {
        let Some(caller) = self.login.caller() else {
            return true;
        };
        match self
            .services
            .auth()
            .session_start(&caller.user_id, &caller.token_hash)
        {
            Ok(found) => found.is_some(),
            // A store failure is not a logout: the call itself will report it.
            Err(_) => true,
        }
    }

    async fn handle(&mut self, call: Call) {
        match call {
            Call::Reply(frame) => {
                self.outbound.send(frame);
            }
            Call::Method { id, method, params } => self.method(&id, &method, params).await,
            Call::Sub { id, name, params } => self.sub(&id, &name, params).await,
            Call::Unsub { id } => {
                if let Some(id) = id.as_str() {
                    self.subs.retain(|s| s != id);
                    self.hub.streams().unsub(self.conn, id);
                }
                let nosub = serde_json::json!({"msg": "nosub", "id": id});
                self.outbound.send(frames::encode(&nosub));
            }
        }
    }

    /// `method` → `updated` then `result` (`result` first for an unknown method), §2.6.
    async fn method(&mut self, id: &str, method: &str, params: Vec<Value>) {
        // As an HTTP request: it sees every write acknowledged before it, by any instance.
        self.services.fence().await;
        let before = self.login.caller();
        let ctx = CallContext {
            services: &self.services,
            conn: self.conn,
            caller: before.as_ref(),
            ip: self.ip,
            session: Some(&self.login),
            realtime: &self.hub,
        };
        let outcome = self.hub.invoke(&ctx, method, params).await;
        // Meteor re-runs the session's subscriptions when its user changes, before the
        // method's answer (§3.4): the streams check theirs again, and end those that fail.
        let after = self.login.caller();
        if after != before {
            let user = after.as_ref().map(|c| c.user_id.as_str());
            for ended in self.hub.streams().user_changed(self.conn, user) {
                self.subs.retain(|s| *s != ended);
            }
        }
        if after != before && !self.subs.is_empty() {
            let subs: Vec<&str> = self.subs.iter().map(String::as_str).collect();
            self.outbound.send(frames::ready(&subs));
        }
        let result = frames::result(id, &outcome);
        let updated = frames::updated(&[id]);
        match outcome {
            Err(e) if e == MeteorError::method_not_found(method) => {
                self.outbound.send(result);
                self.outbound.send(updated);
            }
            _ => {
                self.outbound.send(updated);
                self.outbound.send(result);
            }
        }
    }

    /// `sub` → `ready`, or `nosub` with the error (§2.5). A `sub` whose id is active is
    /// ignored.
    async fn sub(&mut self, id: &str, name: &str, params: Vec<Value>) {
        if self.subs.iter().any(|s| s == id) {
            return;
        }
        let caller = self.login.caller();
        let ctx = CallContext {
            services: &self.services,
            conn: self.conn,
            caller: caller.as_ref(),
            ip: self.ip,
            session: Some(&self.login),
            realtime: &self.hub,
        };
        let outcome = self
            .hub
            .admit(&ctx, CallKind::Sub, name)
            .and_then(|()| match name {
                LOGIN_SERVICE_CONFIGURATION => Ok(()),
                _ if Streams::serves(name) => self
                    .hub
                    .streams()
                    .sub(&ctx, id, name, &params, &self.outbound)
                    .map(|_ready| ()),
                _ => Err(MeteorError::subscription_not_found(name)),
            });
        match outcome {
            Ok(()) => {
                self.subs.push(id.to_string());
                self.outbound.send(frames::ready(&[id]));
            }
            Err(e) => {
                self.outbound.send(frames::nosub(id, Some(&e)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(i: Inbound) -> String {
        match i {
            Inbound::Reply(f) => f.to_string(),
            Inbound::Call(Call::Reply(f)) => format!("queued {f}"),
            other => format!("{other:?}"),
        }
    }

    const ONE: Phase = Phase::Connected("1");

    #[test]
    fn connect_negotiates_the_version_as_meteor_does() {
        let c = |t: &str| classify(Phase::Connecting, t);
        assert_eq!(
            c(r#"{"msg":"connect","version":"1","support":["1","pre2","pre1"]}"#),
            Inbound::Connect("1")
        );
        assert_eq!(
            c(r#"{"msg":"connect","version":"pre2","support":["pre2"]}"#),
            Inbound::Connect("pre2")
        );
        assert_eq!(
            c(r#"{"msg": "connect", "version": "1", "support": ["1"]}"#),
            Inbound::Connect("1")
        );
        assert_eq!(
            c(r#"{"msg":"connect","version":"1","support":["pre2"]}"#),
            Inbound::Fail("1")
        );
        assert_eq!(
            c(r#"{"msg":"connect","version":"2","support":["2"]}"#),
            Inbound::Fail("1")
        );
        assert_eq!(
            c(r#"{"msg":"connect","version":"pre1","support":["pre2","pre1"]}"#),
            Inbound::Fail("pre2")
        );
        assert_eq!(
            c(r#"{"msg":"connect","version":1,"support":["1"]}"#),
            Inbound::Fail("1")
        );
        assert_eq!(
            c(r#"{"msg":"connect","version":"1","support":["1",2]}"#),
            Inbound::Fail("1")
        );
        assert_eq!(c(r#"{"msg":"connect","version":"1"}"#), Inbound::Fail("1"));
    }

    #[test]
    fn malformed_input_gets_the_spec_errors() {
        let c = |p, t: &str| reply(classify(p, t));
        assert_eq!(
            c(ONE, "not json"),
            r#"{"msg":"error","reason":"Bad request"}"#
        );
        for t in ["123", "null", "[]", "\"x\""] {
            assert_eq!(
                c(Phase::Connecting, t),
                r#"{"msg":"error","reason":"Bad request"}"#
            );
        }
        assert_eq!(
            c(ONE, r#"{"foo":1}"#),
            r#"{"msg":"error","reason":"Bad request","offendingMessage":{"foo":1}}"#
        );
        assert_eq!(
            c(
                Phase::Connecting,
                r#"{"msg":"method","id":"1","method":"x"}"#
            ),
            r#"{"msg":"error","reason":"Must connect first","offendingMessage":{"msg":"method","id":"1","method":"x"}}"#
        );
        assert_eq!(
            c(Phase::Connecting, r#"{"msg":"ping"}"#),
            r#"{"msg":"error","reason":"Must connect first","offendingMessage":{"msg":"ping"}}"#
        );
        assert_eq!(
            c(ONE, r#"{"msg":"foo"}"#),
            r#"queued {"msg":"error","reason":"Bad request","offendingMessage":{"msg":"foo"}}"#
        );
        assert_eq!(
            c(ONE, r#"{"msg":"connect","version":"1","support":["1"]}"#),
            r#"{"msg":"error","reason":"Already connected","offendingMessage":{"msg":"connect","version":"1","support":["1"]}}"#
        );
        for t in [
            r#"{"msg":"method","method":"x"}"#,
            r#"{"msg":"method","id":1,"method":"x"}"#,
            r#"{"msg":"method","id":"1","method":"x","params":{}}"#,
            r#"{"msg":"method","id":"1","method":"x","randomSeed":5}"#,
        ] {
            assert!(c(ONE, t).starts_with(r#"queued {"msg":"error","reason":"Malformed method invocation","offendingMessage":"#), "{t}");
        }
        for t in [
            r#"{"msg":"sub","name":"x"}"#,
            r#"{"msg":"sub","id":"1","name":"x","params":5}"#,
        ] {
            assert!(
                c(ONE, t).starts_with(r#"queued {"msg":"error","reason":"Malformed subscription""#),
                "{t}"
            );
        }
    }

    #[test]
    fn pings_are_answered_at_once_except_on_pre1() {
        assert_eq!(
            reply(classify(ONE, r#"{"msg":"ping","id":"7"}"#)),
            r#"{"msg":"pong","id":"7"}"#
        );
        assert_eq!(
            reply(classify(ONE, r#"{"msg":"ping"}"#)),
            r#"{"msg":"pong"}"#
        );
        assert_eq!(classify(ONE, r#"{"msg":"pong"}"#), Inbound::Ignore);
        assert_eq!(
            reply(classify(Phase::Connected("pre1"), r#"{"msg":"ping"}"#)),
            r#"queued {"msg":"error","reason":"Bad request","offendingMessage":{"msg":"ping"}}"#
        );
    }

    proptest::proptest! {
        /// Whatever arrives, before or after `connect`, is classified without a panic, and
        /// anything that is not a JSON object is a plain `Bad request`.
        #[test]
        fn any_text_is_classified(text in ".{0,200}", connected in proptest::bool::ANY) {
            let phase = if connected { ONE } else { Phase::Connecting };
            let verdict = classify(phase, &text);
            if !matches!(serde_json::from_str::<Value>(&text), Ok(Value::Object(_))) {
                proptest::prop_assert_eq!(verdict, Inbound::Reply(frames::error("Bad request", None)));
            }
        }

        /// An unknown `msg` after connect is a queued `Bad request` echoing the frame.
        #[test]
        fn unknown_messages_are_echoed(kind in "[a-z]{1,12}", extra in proptest::collection::btree_map("[a-z]{1,5}", 0i64..100, 0..4)) {
            proptest::prop_assume!(!["connect", "ping", "pong", "method", "sub", "unsub"].contains(&kind.as_str()));
            let mut frame = serde_json::json!({"msg": kind});
            for (k, v) in &extra {
                if k != "msg" {
                    frame[k] = (*v).into();
                }
            }
            proptest::prop_assert_eq!(
                classify(ONE, &frame.to_string()),
                Inbound::Call(Call::Reply(frames::error("Bad request", Some(&frame))))
            );
        }

        /// A ping's id comes back as it was sent, whatever its JSON type.
        #[test]
        fn pongs_echo_the_ping_id(id in proptest::option::of("[ -~]{0,20}")) {
            let ping = match &id {
                Some(id) => serde_json::json!({"msg": "ping", "id": id}),
                None => serde_json::json!({"msg": "ping"}),
            };
            let Inbound::Reply(pong) = classify(ONE, &ping.to_string()) else {
                return Err(proptest::test_runner::TestCaseError::fail("no pong"));
            };
            let pong: Value = serde_json::from_str(&pong).unwrap();
            proptest::prop_assert_eq!(pong.get("id").and_then(Value::as_str), id.as_deref());
        }
    }

    #[test]
    fn calls_are_queued_with_their_params() {
        assert_eq!(
            classify(
                ONE,
                r#"{"msg": "method", "method": "login", "id": "1", "params": [{"resume": "t"}], "randomSeed": "s"}"#
            ),
            Inbound::Call(Call::Method {
                id: "1".into(),
                method: "login".into(),
                params: vec![serde_json::json!({"resume": "t"})]
            })
        );
        assert_eq!(
            classify(
                ONE,
                r#"{"msg":"sub","id":"0","name":"meteor.loginServiceConfiguration"}"#
            ),
            Inbound::Call(Call::Sub {
                id: "0".into(),
                name: "meteor.loginServiceConfiguration".into(),
                params: vec![]
            })
        );
        assert_eq!(
            classify(ONE, r#"{"msg":"unsub","id":"7"}"#),
            Inbound::Call(Call::Unsub { id: "7".into() })
        );
    }

    /// An idle socket's session task is allocated at the size of its future: a call's
    /// future must not be part of it (it was ~10 KB, held by every idle socket).
    #[test]
    fn an_idle_session_task_stays_small() {
        fn future_size<A, B, F>(_: impl Fn(A, B) -> F) -> usize {
            std::mem::size_of::<F>()
        }
        assert!(future_size(Session::run) < 1024);
    }
}
