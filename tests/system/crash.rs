//! Crash safety: concurrent writers (messages, users, room membership, settings, logins)
//! against the real binary, `kill -9` at a random moment, then every acknowledged write must
//! be on disk, the indexes must agree with the documents and the counters with the messages.
//!
//! `RCPUSH_CRASH_TRIALS` sets the number of trials (default 20 on sled, a quarter of that on
//! PostgreSQL, whose server does not crash with rcpush). The long run:
//! `RCPUSH_CRASH_TRIALS=100 cargo test --release --test system crash -- --nocapture`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::client::Client;
use crate::support::{heavy, rcpush, Server, ADMIN_PASSWORD, ALICE, BOB, GINA, RODRIQ};
use rand::Rng;
use rcpush::rules::credentials::token_hash;
use rcpush::store::trees::Tree;
use rcpush::store::Store;
use serde_json::{json, Value};

/// One acknowledged write and what must be found after a crash.
#[derive(Debug, Clone)]
enum Ack {
    /// `to_bob`: bob has a device, so the message must have queued a push for him.
    Message {
        id: String,
        rid: String,
        to_bob: bool,
    },
    PushToken {
        value: String,
    },
    User {
        username: String,
    },
    Token {
        token: String,
    },
}

/// A value written again and again (a setting, a membership): after a crash it must be the
/// last acknowledged value, or the one that was in flight when the server died.
#[derive(Debug, Default, Clone)]
struct Register<T> {
    acked: Option<T>,
    in_flight: Option<T>,
}

impl<T: PartialEq + std::fmt::Debug> Register<T> {
    fn holds(&self, found: &T) -> bool {
        self.acked.as_ref().is_none_or(|a| a == found) || self.in_flight.as_ref() == Some(found)
    }
}

/// What the writers have been told succeeded, across all trials.
#[derive(Default)]
struct Ledger {
    acks: Vec<Ack>,
    setting: Register<String>,
    /// Channel name → whether alice is a member.
    memberships: HashMap<String, Register<bool>>,
    /// Answers that were neither a success nor a dropped connection.
    failures: Vec<String>,
}

/// The rooms the message writers use, created once.
struct Rooms {
    dm: String,
    channel: String,
}

enum Outcome {
    Acked(Value),
    /// The connection failed: the server is gone (or going).
    Lost,
    /// An error answer: a bug of the server or of this test.
    Refused(String),
}

fn call(client: &Client, path: &str, auth: (&str, &str), body: Option<Value>) -> Outcome {
    let method = if body.is_some() { "POST" } else { "GET" };
    match client.call(method, path, Some(auth), body.as_ref()) {
        Ok(r) if r.status < 400 => {
            serde_json::from_str(&r.body).map_or(Outcome::Lost, Outcome::Acked)
        }
        Ok(r) => Outcome::Refused(format!("{path}: {} {}", r.status, r.body)),
        Err(_) => Outcome::Lost,
    }
}

/// Records what `outcome` means; false when the writer should stop.
fn settle(ledger: &Mutex<Ledger>, outcome: Outcome, on_ack: impl FnOnce(&mut Ledger)) -> bool {
    let mut l = ledger.lock().unwrap();
    match outcome {
        Outcome::Acked(_) => {
            on_ack(&mut l);
            true
        }
        Outcome::Lost => false,
        Outcome::Refused(e) => {
            l.failures.push(e);
            false
        }
    }
}

fn as_pair(a: &(String, String)) -> (&str, &str) {
    (&a.0, &a.1)
}

fn setup_rooms(server: &Server) -> Rooms {
    let client = server.client();
    let Outcome::Acked(dm) = call(
        &client,
        "/api/v1/im.create",
        ALICE,
        Some(json!({"username": "bob"})),
    ) else {
        panic!("im.create")
    };
    let Outcome::Acked(ch) = call(
        &client,
        "/api/v1/channels.create",
        RODRIQ,
        Some(json!({"name": "crash-room", "members": ["bob"]})),
    ) else {
        panic!("channels.create")
    };
    // Bob's device: every message he receives queues a push in the same write.
    let Outcome::Acked(_) = call(
        &client,
        "/api/v1/push.token",
        BOB,
        Some(json!({"type": "gcm", "value": "crash-bob-device", "appName": "chat.rocket.android"})),
    ) else {
        panic!("push.token")
    };
    Rooms {
        dm: dm["room"]["_id"].as_str().unwrap().into(),
        channel: ch["channel"]["_id"].as_str().unwrap().into(),
    }
}

/// Runs one writer until `stop` or until the server is gone. `step` returns false when the
/// server stopped answering.
fn writer(stop: Arc<AtomicBool>, mut step: impl FnMut(u32) -> bool + Send + 'static) {
    std::thread::spawn(move || {
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) && step(n) {
            n += 1;
        }
    });
}

/// Starts every writer against `server`; they stop on their own once it is killed.
fn start_writers(
    server: &Server,
    trial: usize,
    rooms: &Rooms,
    ledger: &Arc<Mutex<Ledger>>,
    stop: &Arc<AtomicBool>,
) {
    let admin = server.client().login("admin", ADMIN_PASSWORD);
    // The writers' connections, kept open between their requests.
    let client = Client::pooled(server.url(""));
    // Several posters into the channel at once: their writes share flushes (group commit),
    // and each acknowledged one must still be on disk.
    let channel_posters = (0..6).map(|_| (RODRIQ, rooms.channel.clone(), "@bob look", true));
    let message_writers = [
        (ALICE, rooms.dm.clone(), "dm from alice", true),
        (BOB, rooms.dm.clone(), "dm from bob", false),
    ]
    .into_iter()
    .chain(channel_posters);
    for (w, (who, rid, text, to_bob)) in message_writers.enumerate() {
        let (client, ledger) = (client.clone(), ledger.clone());
        writer(stop.clone(), move |n| {
            let id = format!("crash{trial}w{w}n{n}");
            let body = json!({"message": {"_id": id, "rid": rid, "msg": text}});
            let rid = rid.clone();
            settle(
                &ledger,
                call(&client, "/api/v1/chat.sendMessage", who, Some(body)),
                |l| l.acks.push(Ack::Message { id, rid, to_bob }),
            )
        });
    }
    let (client_u, ledger_u, admin_u) = (client.clone(), ledger.clone(), admin.clone());
    writer(stop.clone(), move |n| {
        let username = format!("crash{trial}u{n}");
        let body = json!({"username": username, "email": format!("{username}@example.com"),
            "name": username, "password": "crash-password"});
        let outcome = call(
            &client_u,
            "/api/v1/users.create",
            as_pair(&admin_u),
            Some(body),
        );
        settle(&ledger_u, outcome, |l| l.acks.push(Ack::User { username }))
    });
    let (client_s, ledger_s, admin_s) = (client.clone(), ledger.clone(), admin.clone());
    writer(stop.clone(), move |n| {
        // A closed loopback port: queued pushes must never leave the machine.
        let value = format!("http://127.0.0.1:9/gateway-{trial}-{n}");
        ledger_s.lock().unwrap().setting.in_flight = Some(value.clone());
        let outcome = call(
            &client_s,
            "/api/v1/settings/Push_gateway",
            as_pair(&admin_s),
            Some(json!({"value": value})),
        );
        settle(&ledger_s, outcome, |l| {
            l.setting.acked = l.setting.in_flight.take()
        })
    });
    let (client_m, ledger_m) = (client.clone(), ledger.clone());
    writer(stop.clone(), move |n| {
        // Each channel cycles: created with alice, alice kicked, invited, leaves.
        let name = format!("crash{trial}c{}", n / 4);
        let (endpoint, who, body, member) = match n % 4 {
            0 => (
                "channels.create",
                RODRIQ,
                json!({"name": name, "members": ["alice"]}),
                true,
            ),
            1 => (
                "channels.kick",
                RODRIQ,
                json!({"roomName": name, "username": "alice"}),
                false,
            ),
            2 => (
                "channels.invite",
                RODRIQ,
                json!({"roomName": name, "username": "alice"}),
                true,
            ),
            _ => ("channels.leave", ALICE, json!({"roomName": name}), false),
        };
        ledger_m
            .lock()
            .unwrap()
            .memberships
            .entry(name.clone())
            .or_default()
            .in_flight = Some(member);
        let outcome = call(&client_m, &format!("/api/v1/{endpoint}"), who, Some(body));
        settle(&ledger_m, outcome, |l| {
            let r = l.memberships.get_mut(&name).unwrap();
            r.acked = r.in_flight.take();
        })
    });
    let (client_p, ledger_p) = (client.clone(), ledger.clone());
    writer(stop.clone(), move |n| {
        let value = format!("crash{trial}p{n}");
        let body = json!({"type": "apn", "value": value, "appName": "chat.rocket.ios"});
        settle(
            &ledger_p,
            call(&client_p, "/api/v1/push.token", GINA, Some(body)),
            |l| l.acks.push(Ack::PushToken { value }),
        )
    });
    let (client_l, ledger_l) = (client, ledger.clone());
    writer(stop.clone(), move |_| {
        let body = json!({"user": "gina", "password": "gina-demo"});
        match client_l.call("POST", "/api/v1/login", None, Some(&body)) {
            Ok(r) if r.status < 400 => match serde_json::from_str::<Value>(&r.body) {
                Ok(v) => {
                    let token = v["data"]["authToken"].as_str().unwrap_or_default().into();
                    ledger_l.lock().unwrap().acks.push(Ack::Token { token });
                    true
                }
                Err(_) => false,
            },
            Ok(r) => {
                ledger_l
                    .lock()
                    .unwrap()
                    .failures
                    .push(format!("login: {} {}", r.status, r.body));
                false
            }
            Err(_) => false,
        }
    });
}

/// The database of a crash run.
enum Database {
    Sled(PathBuf),
    Postgres(String),
}

impl Database {
    /// The server command on this database.
    fn rcpush(&self, dir: &Path) -> Command {
        match self {
            Database::Sled(path) => rcpush(path),
            Database::Postgres(url) => crate::support::rcpush_on_postgres(dir, url),
        }
    }

    fn open(&self) -> Store {
        let opened = match self {
            Database::Sled(path) => Store::open(path, 16),
            Database::Postgres(url) => Store::open_postgres(url, 2),
        };
        opened.expect("the database opens after kill -9")
    }
}

/// Checks the database after a crash; returns the acknowledged writes that are missing.
fn verify(db: &Database, rooms: &Rooms, ledger: &mut Ledger) -> Vec<String> {
    let store = db.open();
    let problems = store.check_consistency().unwrap();
    assert!(
        problems.is_empty(),
        "inconsistent after kill -9: {problems:#?}"
    );
    let queued: Vec<String> = store
        .entries(Tree::Outbox)
        .unwrap()
        .into_iter()
        .map(|(_, v)| String::from_utf8(v).unwrap())
        .collect();
    let gina_devices: Vec<String> = store
        .push_tokens_of_user(GINA.0)
        .unwrap()
        .iter()
        .filter_map(|t| t.device().map(|(_, v)| v.to_string()))
        .collect();
    let mut lost = Vec::new();
    for ack in &ledger.acks {
        let found = match ack {
            Ack::Message { id, rid, to_bob } => {
                let stored = store
                    .message(id)
                    .unwrap()
                    .is_some_and(|m| m.view().unwrap().rid == rid.as_str());
                let needle = format!(r#"\"messageId\":\"{id}\""#);
                stored && (!to_bob || queued.iter().any(|p| p.contains(&needle)))
            }
            Ack::PushToken { value } => gina_devices.contains(value),
            Ack::User { username } => store
                .user_by_username(username)
                .unwrap()
                .is_some_and(|u| store.password_hash(u.id()).unwrap().is_some()),
            Ack::Token { token } => store.login_token(&token_hash(token)).unwrap().is_some(),
        };
        if !found {
            lost.push(format!("{ack:?}"));
        }
    }
    let setting = store
        .all_settings()
        .unwrap()
        .into_iter()
        .find(|s| s["_id"] == "Push_gateway")
        .and_then(|s| s["value"].as_str().map(str::to_string))
        .unwrap();
    if ledger.setting.acked.is_some() && !ledger.setting.holds(&setting) {
        lost.push(format!("setting {setting} vs {:?}", ledger.setting));
    }
    // The setting is written in every trial: a value that was in flight at this crash and
    // landed is what the next trials must find, even if their own first write is lost too.
    if ledger.setting.in_flight.as_ref() == Some(&setting) {
        ledger.setting = Register {
            acked: Some(setting),
            in_flight: None,
        };
    }
    for (name, register) in &ledger.memberships {
        let member = store
            .room_by_name(name)
            .unwrap()
            .map(|r| store.subscription(r.id(), ALICE.0).unwrap().is_some());
        let ok = match member {
            Some(m) => register.holds(&m),
            // Never acknowledged: the creation itself was in flight.
            None => register.acked.is_none(),
        };
        if !ok {
            lost.push(format!("membership of {name}: {member:?} vs {register:?}"));
        }
    }
    check_counters(&store, rooms);
    lost
}

/// Room `msgs` counts every stored message; unread counts what each member has not sent
/// (all DM messages; in the channel every message mentions bob, under the default
/// `Unread_Count`).
fn check_counters(store: &Store, rooms: &Rooms) {
    for (rid, members) in [
        (&rooms.dm, &[ALICE.0, BOB.0][..]),
        (&rooms.channel, &[BOB.0][..]),
    ] {
        let ids = store.room_message_ids(rid).unwrap();
        let room = store.room(rid).unwrap().unwrap();
        assert_eq!(room.0["msgs"], json!(ids.len()), "msgs of {rid}");
        for member in members {
            let from_others = ids
                .iter()
                .filter(|id| {
                    let m = store.message(id).unwrap().unwrap();
                    m.view().unwrap().sender_id().as_deref() != Some(*member)
                })
                .count();
            let sub = store.subscription(rid, member).unwrap().unwrap();
            assert_eq!(
                sub.unread(),
                from_others as i64,
                "unread of {member} in {rid}"
            );
        }
    }
}

fn trials(default: usize) -> usize {
    std::env::var("RCPUSH_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn acknowledged_writes_survive_kill_9_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::Sled(dir.path().join("db"));
    kill_9_trials(&db, dir.path(), trials(20), "sled");
}

#[test]
fn acknowledged_writes_survive_kill_9_at_random_moments_on_postgresql() {
    let Some(url) = crate::support::postgres::database_or_skip() else {
        return;
    };
    let db = Database::Postgres(url);
    let dir = tempfile::tempdir().unwrap();
    kill_9_trials(&db, dir.path(), trials(20).div_ceil(4), "PostgreSQL");
}

fn kill_9_trials(db: &Database, dir: &Path, trials: usize, backend: &str) {
    let _alone = heavy();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng = rand::thread_rng();
    let server = Server::start(&mut db.rcpush(dir));
    let rooms = setup_rooms(&server);
    assert!(server.terminate().success());
    let started = std::time::Instant::now();
    let mut lost = std::collections::BTreeSet::new();
    for trial in 0..trials {
        let server = Server::start(&mut db.rcpush(dir));
        let stop = Arc::new(AtomicBool::new(false));
        start_writers(&server, trial, &rooms, &ledger, &stop);
        std::thread::sleep(Duration::from_millis(rng.gen_range(50..400)));
        server.kill_hard();
        stop.store(true, Ordering::Relaxed);
        // Let writers notice the dead server and record their last state.
        std::thread::sleep(Duration::from_millis(50));
        let mut l = ledger.lock().unwrap();
        assert!(l.failures.is_empty(), "{:?}", l.failures);
        lost.extend(verify(db, &rooms, &mut l));
    }
    let l = ledger.lock().unwrap();
    let writes = l.acks.len()
        + l.memberships.values().filter(|r| r.acked.is_some()).count()
        + usize::from(l.setting.acked.is_some());
    eprintln!(
        "crash ({backend}): {trials} kill -9 trials in {:.1?}, {writes} acknowledged writes, {} lost",
        started.elapsed(),
        lost.len()
    );
    assert!(lost.is_empty(), "lost after kill -9: {lost:#?}");
}
