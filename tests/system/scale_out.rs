//! Several rcpush processes on one PostgreSQL database: one seeds it, every write is atomic
//! across them, what one writes the others serve at once, and a process killed with
//! `kill -9` loses no acknowledged write and no push; a socket on one sees what another writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::fake_gateway::FakeGateway;
use crate::support::client::Client;
use crate::support::ddp::Ddp;
use crate::support::postgres::{database_or_skip, private_cluster_or_skip};
use crate::support::{rcpush_on_postgres, Server, ADMIN_PASSWORD, ALICE, BOB, GINA, RODRIQ};

const VB: &str = "iu7jtPAhvEeAS5tNq";
const VB_MESSAGE: &str = "WkbwSntxt8D3jLp8G";

/// Starts `n` servers at the same moment.
fn start_at_once(n: usize, command: impl Fn() -> Command + Sync) -> Vec<Server> {
    let barrier = Barrier::new(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                scope.spawn(|| {
                    let mut c = command();
                    barrier.wait();
                    Server::start(&mut c)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// `(status, body)` of a call, or `None` when the server could not be reached.
fn call(
    base: &str,
    path: &str,
    who: Option<(&str, &str)>,
    body: Option<Value>,
) -> Option<(u16, Value)> {
    let method = if body.is_some() { "POST" } else { "GET" };
    let r = Client::new(base)
        .call(method, path, who, body.as_ref())
        .ok()?;
    Some((
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    ))
}

fn must(server: &Server, path: &str, who: Option<(&str, &str)>, body: Option<Value>) -> Value {
    let (status, v) = call(&server.url(""), path, who, body).expect("server reachable");
    assert_eq!(status, 200, "{path}: {v}");
    v
}

fn pair(a: &(String, String)) -> (&str, &str) {
    (&a.0, &a.1)
}

fn startup_lines(servers: &[Server], what: &str) -> usize {
    servers
        .iter()
        .map(|s| s.startup_log.iter().filter(|l| l.contains(what)).count())
        .sum()
}

#[test]
fn instances_started_at_once_share_one_workspace() {
    let Some(url) = database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let servers = start_at_once(3, || rcpush_on_postgres(dir.path(), &url));
    // Exactly one of them seeded the database and created the admin.
    assert_eq!(startup_lines(&servers, "loaded seed bundle"), 1);
    assert_eq!(startup_lines(&servers, "created admin user"), 1);

    // The documented example, byte for byte, from each.
    let bodies: BTreeSet<String> = servers.iter().map(|s| s.push_get(VB_MESSAGE).1).collect();
    assert_eq!(bodies.len(), 1);
    assert!(bodies
        .iter()
        .next()
        .unwrap()
        .contains(r#""notId":654494840"#));

    // What one writes, the others serve on their next request.
    let posted = must(
        &servers[2],
        "/api/v1/chat.postMessage",
        Some(RODRIQ),
        Some(json!({"roomId": VB, "text": "from the third"})),
    );
    let id = posted["message"]["_id"].as_str().unwrap();
    let (status, body) = servers[0].push_get(id);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("from the third"), "{body}");

    // A setting changed on one is in force on the others' next request.
    let admin = servers[1].client().login("admin", ADMIN_PASSWORD);
    let hide = json!({"value": false});
    must(
        &servers[1],
        "/api/v1/settings/Push_show_message",
        Some(pair(&admin)),
        Some(hide),
    );
    for s in &servers {
        let n = serde_json::from_str::<Value>(&s.push_get(VB_MESSAGE).1).unwrap();
        assert_eq!(
            n["data"]["notification"]["text"],
            "rodriq: You have a new message"
        );
    }

    // A logout on one makes the token fail on every other, at once.
    let alice = servers[0].client().login("alice", "alice-demo");
    let path = format!("/api/v1/push.get?id={VB_MESSAGE}");
    assert_eq!(
        call(&servers[1].url(""), &path, Some(pair(&alice)), None)
            .unwrap()
            .0,
        200
    );
    must(
        &servers[1],
        "/api/v1/logout",
        Some(pair(&alice)),
        Some(json!({})),
    );
    for s in &servers {
        let (status, body) = call(&s.url(""), &path, Some(pair(&alice)), None).unwrap();
        assert_eq!(status, 401, "{body}");
    }

    // The same username created on two instances at the same moment: one wins, the other
    // gets Rocket.Chat's error.
    let admins: Vec<(String, String)> = servers
        .iter()
        .take(2)
        .map(|s| s.client().login("admin", ADMIN_PASSWORD))
        .collect();
    for round in 0..10 {
        let barrier = Barrier::new(2);
        let results: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let (base, admin, barrier) = (servers[i].url(""), &admins[i], &barrier);
                    scope.spawn(move || {
                        let body = json!({"username": format!("twin{round}"),
                            "email": format!("twin{round}-{i}@example.com"),
                            "name": "Twin", "password": "twin-password-1"});
                        barrier.wait();
                        call(&base, "/api/v1/users.create", Some(pair(admin)), Some(body)).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let statuses: BTreeSet<u16> = results.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, BTreeSet::from([200, 400]), "{results:?}");
        let loser = results.iter().find(|(s, _)| *s == 400).unwrap();
        assert_eq!(
            loser.1["error"],
            format!("twin{round} is already in use :( [error-field-unavailable]")
        );
    }
}

/// What the writers of the kill test had acknowledged.
#[derive(Default)]
struct Acked {
    messages: Vec<String>,
    users: Vec<String>,
    logins: Vec<(String, String)>,
    /// Channels created with alice as a member.
    channels: Vec<String>,
    /// gina's device tokens.
    devices: Vec<String>,
}

#[test]
fn a_permission_changed_on_one_instance_applies_on_every_other_at_once() {
    let Some(url) = database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let servers = start_at_once(2, || rcpush_on_postgres(dir.path(), &url));
    let path = format!("/api/v1/push.get?id={VB_MESSAGE}");
    assert_eq!(
        call(&servers[0].url(""), &path, Some(BOB), None).unwrap().0,
        200
    );
    let admin = servers[1].client().login("admin", ADMIN_PASSWORD);
    let only_admins = json!({"permissions": [{"_id": "view-c-room", "roles": ["admin"]}]});
    must(
        &servers[1],
        "/api/v1/permissions.update",
        Some(pair(&admin)),
        Some(only_admins),
    );
    let (status, body) = call(&servers[0].url(""), &path, Some(BOB), None).unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("error-not-allowed"))
    );
}

#[test]
fn an_instance_killed_mid_write_loses_no_acknowledged_write_and_no_push() {
    let Some(url) = database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gateway = FakeGateway::start();
    let command = || {
        let mut c = rcpush_on_postgres(dir.path(), &url);
        c.env("RCPUSH_SETTINGS_Push_gateway", &gateway.url)
            // A short attempt time, so that the pushes the killed one had claimed fall due
            // again within seconds, and retries within the test's patience.
            .env("RCPUSH_PUSH_TIMEOUT_MS", "1000")
            .env("RCPUSH_PUSH_RETRY_DELAYS_MS", "[500, 500, 500]");
        c
    };
    let mut servers = start_at_once(2, command);
    for (who, token) in [(ALICE, "gcm-alice"), (BOB, "gcm-bob")] {
        must(
            &servers[1],
            "/api/v1/push.token",
            Some(who),
            Some(json!({"type": "gcm", "value": token, "appName": "chat.rocket.android"})),
        );
    }
    let admin = servers[0].client().login("admin", ADMIN_PASSWORD);

    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let urls: Vec<String> = servers.iter().map(|s| s.url("")).collect();
    let mut writers = Vec::new();
    for w in 0..6 {
        let (acked, stop, urls, admin) = (acked.clone(), stop.clone(), urls.clone(), admin.clone());
        writers.push(std::thread::spawn(move || {
            let clients: Vec<Client> = urls.iter().map(Client::pooled).collect();
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let client = &clients[(n as usize + w) % clients.len()];
                let (path, who, body) = match w {
                    0 | 1 => (
                        "/api/v1/chat.postMessage",
                        (RODRIQ.0.to_string(), RODRIQ.1.to_string()),
                        json!({"roomId": VB, "text": format!("w{w} #{n}")}),
                    ),
                    2 => (
                        "/api/v1/users.create",
                        admin.clone(),
                        json!({"username": format!("u{n}"), "email": format!("u{n}@example.com"),
                               "name": "U", "password": "user-password-1"}),
                    ),
                    3 => (
                        "/api/v1/login",
                        (String::new(), String::new()),
                        json!({"user": "bob", "password": "bob-demo"}),
                    ),
                    4 => (
                        "/api/v1/channels.create",
                        (RODRIQ.0.to_string(), RODRIQ.1.to_string()),
                        json!({"name": format!("kill-{n}"), "members": ["alice"]}),
                    ),
                    _ => (
                        "/api/v1/push.token",
                        (GINA.0.to_string(), GINA.1.to_string()),
                        json!({"type": "gcm", "value": format!("gina-{n}"),
                               "appName": "chat.rocket.android"}),
                    ),
                };
                let auth = (!who.0.is_empty()).then_some((who.0.as_str(), who.1.as_str()));
                let v: Value = match client.call("POST", path, auth, Some(&body)) {
                    Ok(r) if r.status < 400 => serde_json::from_str(&r.body).unwrap_or_default(),
                    // Refused or cut off by the kill: not acknowledged, so nothing to check.
                    _ => continue,
                };
                let mut a = acked.lock().unwrap();
                match w {
                    0 | 1 => a
                        .messages
                        .push(v["message"]["_id"].as_str().unwrap().into()),
                    2 => a.users.push(format!("u{n}")),
                    3 => a.logins.push((
                        v["data"]["userId"].as_str().unwrap().into(),
                        v["data"]["authToken"].as_str().unwrap().into(),
                    )),
                    4 => a.channels.push(format!("kill-{n}")),
                    _ => a.devices.push(format!("gina-{n}")),
                }
            }
        }));
    }
    // Killed once every kind of write has been acknowledged, however long a loaded machine
    // takes to get there.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        {
            let a = acked.lock().unwrap();
            if a.messages.len() > 10
                && !a.users.is_empty()
                && !a.logins.is_empty()
                && !a.channels.is_empty()
                && !a.devices.is_empty()
            {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the writers got nothing acknowledged"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    servers.remove(0).kill_hard();
    std::thread::sleep(Duration::from_millis(700));
    servers.insert(0, Server::start(&mut command()));
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap();
    assert!(acked.messages.len() > 10 && !acked.users.is_empty() && !acked.logins.is_empty());
    assert!(!acked.channels.is_empty() && !acked.devices.is_empty());

    // Every acknowledged write is there, on both instances.
    for s in &servers {
        for id in &acked.messages {
            assert_eq!(s.push_get(id).0, 200, "message {id}");
        }
        for u in &acked.users {
            let (status, v) = call(
                &s.url(""),
                &format!("/api/v1/users.info?username={u}"),
                Some(pair(&admin)),
                None,
            )
            .unwrap();
            assert_eq!(status, 200, "user {u}: {v}");
        }
        for token in &acked.logins {
            let (status, v) = call(&s.url(""), "/api/v1/me", Some(pair(token)), None).unwrap();
            assert_eq!(status, 200, "login token: {v}");
        }
    }

    // Memberships and device registrations, read from the database itself.
    let store = rcpush::store::Store::open_postgres(&url, 2).unwrap();
    for name in &acked.channels {
        let room = store.room_by_name(name).unwrap().expect(name);
        assert!(
            store.subscription(room.id(), ALICE.0).unwrap().is_some(),
            "{name}"
        );
    }
    let devices: BTreeSet<String> = store
        .push_tokens_of_user(GINA.0)
        .unwrap()
        .iter()
        .filter_map(|t| t.device().map(|(_, v)| v.to_string()))
        .collect();
    for d in &acked.devices {
        assert!(devices.contains(d), "device {d}");
    }

    // Every push of every acknowledged message reaches the gateway; only those the killed
    // instance had claimed may arrive twice (at most a scheduler's batch: 2 × concurrency).
    let expected: BTreeSet<(String, String)> = acked
        .messages
        .iter()
        .flat_map(|m| {
            [
                (m.clone(), "gcm-alice".to_string()),
                (m.clone(), "gcm-bob".to_string()),
            ]
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let counts = loop {
        let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
        for r in gateway.received() {
            let v = r.json();
            let key = (
                v["options"]["payload"]["messageId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                v["token"].as_str().unwrap_or_default().to_string(),
            );
            *counts.entry(key).or_default() += 1;
        }
        let missing = expected.iter().filter(|k| !counts.contains_key(*k)).count();
        if missing == 0 {
            break counts;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} pushes never delivered"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let repeats: usize = counts.values().map(|n| n - 1).sum();
    assert!(repeats <= 8, "{repeats} pushes sent more than once");

    // And the database is consistent.
    drop(servers);
    let out = rcpush_on_postgres(dir.path(), &url)
        .arg("check")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("consistent"), "{stdout}");
}

#[test]
fn a_push_claimed_by_a_process_that_died_falls_due_when_its_lease_ends() {
    use rcpush::store::{Device, Finish, OutboxRecord, QueuedBody, Receiver, Store};
    use std::collections::HashSet;

    let Some(url) = database_or_skip() else {
        return;
    };
    let (a, b) = (
        Store::open_postgres(&url, 2).unwrap(),
        Store::open_postgres(&url, 2).unwrap(),
    );
    let record = OutboxRecord {
        id: "p1".into(),
        rid: None,
        shared: None,
        bodies: vec![QueuedBody::Whole("{}".into())],
        receivers: vec![Receiver {
            user_id: "u1".into(),
            badge: 0,
            body: 0,
            devices: vec![Device {
                id: "p1".into(),
                service: "gcm".into(),
                token: "tok".into(),
                topic: None,
                attempts: 0,
                due: 0,
                slot: None,
            }],
        }],
    };
    a.enqueue_pushes(&record).unwrap();
    let push = record.pushes().remove(0);
    let none = HashSet::new();
    let now = 1_000;
    let claimed = a.claim_pushes(vec![push.clone()], now + 5_000).unwrap();
    assert_eq!(claimed.len(), 1);
    // Meanwhile it is nobody else's: not due, and a copy read before the claim claims nothing.
    assert!(b.due_pushes(now, 10, &none).unwrap().0.is_empty());
    assert!(b.claim_pushes(vec![push], now + 5_000).unwrap().is_empty());

    // `a` dies without an outcome; once the lease ends, `b` takes the push over.
    drop(a);
    let (due, _) = b.due_pushes(now + 5_000, 10, &none).unwrap();
    let taken = b.claim_pushes(due, now + 10_000).unwrap();
    assert_eq!(taken.len(), 1);
    // A late outcome of the first attempt changes nothing; `b`'s own removes it.
    let late = Store::open_postgres(&url, 2).unwrap();
    late.finish_pushes(&[(&claimed[0], Finish::RetryAt(now + 60_000))], &[])
        .unwrap();
    assert_eq!(b.outbox_len().unwrap(), 1);
    b.finish_pushes(&[(&taken[0], Finish::Done)], &[]).unwrap();
    assert_eq!(b.outbox_len().unwrap(), 0);
}

#[test]
fn a_database_outage_gives_rocket_chat_errors_and_the_server_reconnects() {
    let Some(cluster) = private_cluster_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut rcpush_on_postgres(dir.path(), &cluster.database()));
    assert_eq!(server.push_get(VB_MESSAGE).0, 200);

    cluster.stop();
    let started = Instant::now();
    let (status, body) = server.push_get(VB_MESSAGE);
    assert_eq!(
        (status, body.as_str()),
        (500, r#"{"success":false,"error":"Internal server error"}"#)
    );
    let post = call(
        &server.url(""),
        "/api/v1/chat.postMessage",
        Some(RODRIQ),
        Some(json!({"roomId": VB, "text": "while the database is away"})),
    );
    assert_eq!(post.map(|(s, _)| s), Some(500));
    assert!(started.elapsed() < Duration::from_secs(15), "no hang");
    // The log arrives through a pipe read by another thread: wait for the line.
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log
        .iter()
        .any(|l: &String| l.contains("request failed") && l.contains("PostgreSQL"))
    {
        assert!(Instant::now() < deadline, "{log:#?}");
        log.extend(server.drain_log());
        std::thread::sleep(Duration::from_millis(20));
    }

    cluster.run();
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.push_get(VB_MESSAGE).0 != 200 {
        assert!(Instant::now() < deadline, "no reconnection");
        std::thread::sleep(Duration::from_millis(200));
    }
    let posted = must(
        &server,
        "/api/v1/chat.postMessage",
        Some(RODRIQ),
        Some(json!({"roomId": VB, "text": "back"})),
    );
    assert_eq!(posted["message"]["msg"], "back");
}

#[test]
fn a_database_of_a_newer_schema_is_refused_with_one_line() {
    let Some(url) = database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // (`check` no longer creates the tables of an empty database: `seed` does.)
    let created = rcpush_on_postgres(dir.path(), &url)
        .args(["seed", "data/seed.json"])
        .output()
        .unwrap();
    assert!(created.status.success());
    let cluster = crate::support::postgres::cluster().unwrap();
    cluster.psql(
        &url,
        "UPDATE meta SET v = convert_to('99', 'UTF8') WHERE k = convert_to('schema_version', 'UTF8')",
    );
    for command in [&["check"][..], &[]] {
        let out = rcpush_on_postgres(dir.path(), &url)
            .args(command)
            .output()
            .unwrap();
        let line = crate::support::one_line_failure(&out);
        assert!(
            line.contains("schema version 99 is not supported"),
            "{line}"
        );
    }
}

/// The delivery log's backward walk pages alike on both backends, across PostgreSQL's
/// growing pages (64, 128, … rows), filtered or not.
#[test]
fn the_delivery_log_pages_alike_on_sled_and_postgresql() {
    use rcpush::store::{DeliveryFilter, DeliveryRecord, DeliveryStatus, Store};
    let Some(url) = database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stores = [
        Store::open(&dir.path().join("db"), 8).unwrap(),
        Store::open_postgres(&url, 2).unwrap(),
    ];
    let records: Vec<DeliveryRecord> = (0..300)
        .map(|i| DeliveryRecord {
            push_id: format!("p{i}"),
            attempt: 1,
            ts: 1_000 + i / 3,
            message_id: Some(format!("m{}", i % 7)),
            user_id: format!("u{}", i % 2),
            service: "gcm".into(),
            token_tail: "ABCDEF".into(),
            transport: "gateway".into(),
            status: match i % 3 {
                0 => DeliveryStatus::Sent,
                _ => DeliveryStatus::Retrying,
            },
            next_attempt: None,
            provider_status: None,
            reason: None,
        })
        .collect();
    for store in &stores {
        store.finish_pushes(&[], &records).unwrap();
    }
    let filters = [
        DeliveryFilter::default(),
        DeliveryFilter {
            message_id: Some("m3".into()),
            status: Some(DeliveryStatus::Retrying),
            ..DeliveryFilter::default()
        },
    ];
    for filter in &filters {
        for (offset, count) in [(0, 50), (60, 10), (190, 100), (299, 5), (400, 5)] {
            let [sled, postgres] = stores
                .each_ref()
                .map(|s| s.deliveries(filter, offset, count).unwrap());
            assert_eq!(
                sled.records, postgres.records,
                "{filter:?} {offset} {count}"
            );
            assert_eq!(sled.total, postgres.total);
        }
    }
    let page = stores[1].deliveries(&filters[0], 60, 10).unwrap();
    assert_eq!(
        (page.total, page.records[0].push_id.as_str()),
        (300, "p239")
    );
}

/// The id of the next message the room stream sends `ddp` (other frames are skipped).
fn next_streamed_message(ddp: &mut Ddp) -> String {
    loop {
        let frame = ddp.next_json();
        if frame["msg"] == "changed" && frame["collection"] == "stream-room-messages" {
            return frame["fields"]["args"][0]["_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
    }
}

/// Posts `text` into vb as alice on `server`: the new message's id.
fn post_in_vb(server: &Server, text: &str) -> String {
    let posted = must(
        server,
        "/api/v1/chat.postMessage",
        Some(ALICE),
        Some(json!({"roomId": VB, "text": text})),
    );
    posted["message"]["_id"].as_str().unwrap().to_string()
}

#[test]
fn a_socket_on_one_instance_receives_what_another_instance_writes_even_across_a_cut_listener() {
    let Some(url) = database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let servers = start_at_once(2, || rcpush_on_postgres(dir.path(), &url));
    let (mut bob, _) = Ddp::connect(&servers[0].url(""));
    let login = bob.call("login", json!([{"resume": BOB.1}]));
    assert!(login.contains(r#""result""#), "{login}");
    let ready = bob.sub(
        "stream-room-messages",
        json!([VB, {"useCollection": false, "args": []}]),
    );
    assert!(ready.last().unwrap().contains(r#""ready""#), "{ready:?}");

    let first = post_in_vb(&servers[1], "posted on the other instance");
    assert_eq!(next_streamed_message(&mut bob), first);

    // Both instances' listening connections are cut; what is written meanwhile still
    // arrives, from the journal, once the listener is back.
    let database = url.rsplit('/').next().unwrap();
    crate::support::postgres::cluster()
        .expect("the test cluster")
        .psql(
            &url,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'rcpush-listener' AND datname = '{database}'"
            ),
        );
    let second = post_in_vb(&servers[1], "posted while the listener was cut");
    let third = post_in_vb(&servers[1], "and another");
    assert_eq!(next_streamed_message(&mut bob), second);
    assert_eq!(next_streamed_message(&mut bob), third);
}

const GROUP: &str = "PrvGrp8sKq3mZ7wTx";
const GROUP_MESSAGE: &str = "PrvMsg3kT7wZq2RbX";

/// push.get of `id` as `who` on `server`: its status and, on error, its `error`, else its
/// notification's text.
fn read_as(server: &Server, id: &str, who: (&str, &str)) -> (u16, String) {
    let path = format!("/api/v1/push.get?id={id}");
    let (status, body) = call(&server.url(""), &path, Some(who), None).expect("reachable");
    let said = match status {
        200 => &body["data"]["notification"]["text"],
        _ => &body["error"],
    };
    (status, said.as_str().unwrap_or_default().to_string())
}

/// Reads `id` as `who` on `server` twice (the second from whatever the first cached), and
/// checks both answers.
fn warm(server: &Server, id: &str, who: (&str, &str), expected: (u16, &str)) {
    for _ in 0..2 {
        let (status, said) = read_as(server, id, who);
        assert_eq!((status, said.as_str()), expected, "{id}");
    }
}

/// Each kind of write acknowledged by A, checked by B's very next request after B's caches
/// were filled with what it changes: an edit, an invitation, a kick, a leave, a logout, a
/// session ended by another process (`admin reset-password`), a setting.
fn writes_on_a_are_seen_by_the_next_request_on_b(a: &Server, b: &Server, url: &str, dir: &Path) {
    let not_allowed = (400, "error-not-allowed");
    // An edit.
    let id = post_in_vb(a, "before the edit");
    warm(b, &id, BOB, (200, "alice: before the edit"));
    let edit = json!({"roomId": VB, "msgId": id, "text": "after the edit"});
    must(a, "/api/v1/chat.update", Some(ALICE), Some(edit));
    assert_eq!(read_as(b, &id, BOB), (200, "alice: after the edit".into()));

    // Invited, kicked, invited again, left: a private group's message.
    let bob = json!({"roomId": GROUP, "username": "bob"});
    warm(b, GROUP_MESSAGE, BOB, not_allowed);
    must(a, "/api/v1/groups.invite", Some(ALICE), Some(bob.clone()));
    let allowed = (200, "alice: Launch is on Friday 🚀 @rodriq");
    warm(b, GROUP_MESSAGE, BOB, allowed);
    must(a, "/api/v1/groups.kick", Some(ALICE), Some(bob.clone()));
    warm(b, GROUP_MESSAGE, BOB, not_allowed);
    must(a, "/api/v1/groups.invite", Some(ALICE), Some(bob));
    warm(b, GROUP_MESSAGE, BOB, allowed);
    let leave = json!({"roomId": GROUP});
    must(a, "/api/v1/groups.leave", Some(BOB), Some(leave));
    warm(b, GROUP_MESSAGE, BOB, not_allowed);

    // A logout.
    let alice = a.client().login("alice", "alice-demo");
    warm(b, VB_MESSAGE, pair(&alice), (200, "rodriq: fsfs"));
    must(a, "/api/v1/logout", Some(pair(&alice)), Some(json!({})));
    assert_eq!(read_as(b, VB_MESSAGE, pair(&alice)).0, 401);

    // Every session of rodriq ended by a command run on the database.
    let rodriq = b
        .client()
        .login("rodriq", &reset_password(url, dir, "rodriq"));
    warm(b, VB_MESSAGE, pair(&rodriq), (200, "rodriq: fsfs"));
    reset_password(url, dir, "rodriq");
    assert_eq!(read_as(b, VB_MESSAGE, pair(&rodriq)).0, 401);

    // A setting, and back.
    let admin = a.client().login("admin", ADMIN_PASSWORD);
    for (show, text) in [
        (false, "rodriq: You have a new message"),
        (true, "rodriq: fsfs"),
    ] {
        let setting = json!({"value": show});
        must(
            a,
            "/api/v1/settings/Push_show_message",
            Some(pair(&admin)),
            Some(setting),
        );
        assert_eq!(read_as(b, VB_MESSAGE, BOB), (200, text.to_string()));
        warm(b, VB_MESSAGE, BOB, (200, text));
    }
}

/// `rcpush admin reset-password user` on the database at `url`: the new password.
fn reset_password(url: &str, dir: &Path, user: &str) -> String {
    let out = rcpush_on_postgres(dir, url)
        .args(["admin", "reset-password", user])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let said = format!("new password of '{user}' (");
    text.lines()
        .find_map(|l| Some(l.split_once(&said)?.1.split_once("): ")?.1.to_string()))
        .unwrap_or_else(|| panic!("{text}"))
}

#[test]
fn what_one_instance_acknowledges_the_next_request_on_another_sees_through_its_caches() {
    let Some(url) = database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let servers = start_at_once(2, || rcpush_on_postgres(dir.path(), &url));
    writes_on_a_are_seen_by_the_next_request_on_b(&servers[0], &servers[1], &url, dir.path());
    // And the other way round, on caches warm from the first pass.
    let id = post_in_vb(&servers[1], "from b");
    warm(&servers[0], &id, BOB, (200, "alice: from b"));
    let edit = json!({"roomId": VB, "msgId": id, "text": "edited on b"});
    must(&servers[1], "/api/v1/chat.update", Some(ALICE), Some(edit));
    assert_eq!(
        read_as(&servers[0], &id, BOB),
        (200, "alice: edited on b".into())
    );
}

#[test]
fn an_instance_whose_listener_keeps_being_cut_still_serves_every_acknowledged_write() {
    let Some(url) = database_or_skip() else {
        return;
    };
    let cluster = crate::support::postgres::cluster().expect("the test cluster");
    let dir = tempfile::tempdir().unwrap();
    let servers = start_at_once(2, || {
        let mut c = rcpush_on_postgres(dir.path(), &url);
        c.env("RCPUSH_METRICS_ENABLED", "true");
        c
    });
    let database = url.rsplit('/').next().unwrap().to_string();
    let cut = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'rcpush-listener' AND datname = '{database}'"
    );
    // Whatever state the listeners are in meanwhile (cut, reconnecting, catching up), the
    // answers are exact: a request that cannot trust its caches reads the database.
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                cluster.psql(&url, &cut);
                // Not a busy loop: the other tests of the binary run beside this one.
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        for _ in 0..2 {
            writes_on_a_are_seen_by_the_next_request_on_b(
                &servers[0],
                &servers[1],
                &url,
                dir.path(),
            );
        }
        stop.store(true, Ordering::SeqCst);
    });
    let reconnects = servers[1]
        .client()
        .metric("rcpush_changes_listener_reconnects_total");
    assert!(reconnects > 0, "the listener was cut");
    // Once the listener is back, the caches serve again, still exact.
    writes_on_a_are_seen_by_the_next_request_on_b(&servers[0], &servers[1], &url, dir.path());
}

/// The members of the rooms of the many-rooms test, each posting into all of them.
const POSTERS: [(&str, &str); 4] = [RODRIQ, ALICE, BOB, GINA];

/// The counters of a room as stored: `msgs`, its messages, and each poster's `unread`.
fn room_counters(store: &rcpush::store::Store, room: &str) -> (i64, usize, Vec<i64>) {
    let stored = store.room(room).unwrap().expect(room);
    let unread = POSTERS
        .iter()
        .map(|who| {
            store
                .subscription(room, who.0)
                .unwrap()
                .expect(who.0)
                .unread()
        })
        .collect();
    (
        stored.msgs(),
        store.room_messages(room).unwrap().len(),
        unread,
    )
}

#[test]
fn posts_into_many_rooms_from_three_instances_keep_every_counter_exact() {
    let Some(url) = database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let servers = start_at_once(3, || rcpush_on_postgres(dir.path(), &url));
    let admin = servers[0].client().login("admin", ADMIN_PASSWORD);
    // Every plain message counts in `unread`, so that the counters have something to lose.
    must(
        &servers[0],
        "/api/v1/settings/Unread_Count",
        Some(pair(&admin)),
        Some(json!({"value": "all_messages"})),
    );
    // Rooms whose members overlap: their posts lock different rooms and the same badges.
    let rooms: Vec<String> = (0..6)
        .map(|i| {
            let created = must(
                &servers[i % 3],
                "/api/v1/channels.create",
                Some(RODRIQ),
                Some(json!({"name": format!("many-{i}"), "members": ["alice", "bob", "gina"]})),
            );
            created["channel"]["_id"].as_str().unwrap().to_string()
        })
        .collect();
    let store = rcpush::store::Store::open_postgres(&url, 2).unwrap();
    let before: Vec<_> = rooms.iter().map(|r| room_counters(&store, r)).collect();
    let badges_before: Vec<i64> = POSTERS.iter().map(|w| store.badge(w.0).unwrap()).collect();

    // Eight posters, each into every room in turn, through every instance in turn.
    let urls: Vec<String> = servers.iter().map(|s| s.url("")).collect();
    let barrier = Barrier::new(8);
    let posted: Vec<(usize, usize, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|p| {
                let (urls, barrier, rooms) = (&urls, &barrier, &rooms);
                scope.spawn(move || {
                    let clients: Vec<Client> = urls.iter().map(Client::pooled).collect();
                    let who = p % POSTERS.len();
                    barrier.wait();
                    (0..18)
                        .map(|n| {
                            let room = (p + n) % rooms.len();
                            let body = json!({"roomId": rooms[room], "text": format!("p{p} #{n}")});
                            let r = clients[(p + n) % clients.len()]
                                .call(
                                    "POST",
                                    "/api/v1/chat.postMessage",
                                    Some(POSTERS[who]),
                                    Some(&body),
                                )
                                .unwrap();
                            assert_eq!(r.status, 200, "{}", r.body);
                            let v: Value = serde_json::from_str(&r.body).unwrap();
                            (room, who, v["message"]["_id"].as_str().unwrap().to_string())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });

    // The recount, by a store of its own (nothing cached from before): each room's `msgs`
    // and messages grew by its posts, and each member's `unread` by the posts of the
    // others; each badge by the member's new unread messages.
    drop(store);
    let store = rcpush::store::Store::open_postgres(&url, 2).unwrap();
    let mut badges = badges_before.clone();
    for (i, room) in rooms.iter().enumerate() {
        let into: Vec<&(usize, usize, String)> = posted.iter().filter(|p| p.0 == i).collect();
        let (msgs, messages, unread) = room_counters(&store, room);
        let n = into.len();
        assert_eq!(msgs, before[i].0 + n as i64, "msgs of room {i}");
        assert_eq!(messages, before[i].1 + n, "messages of room {i}");
        for (w, unread) in unread.iter().enumerate() {
            let by_others = into.iter().filter(|p| p.1 != w).count() as i64;
            assert_eq!(
                *unread,
                before[i].2[w] + by_others,
                "unread of {w} in room {i}"
            );
            badges[w] += by_others;
        }
    }
    let badges_after: Vec<i64> = POSTERS.iter().map(|w| store.badge(w.0).unwrap()).collect();
    assert_eq!(badges_after, badges);
    for (_, _, id) in &posted {
        assert_eq!(servers[1].push_get(id).0, 200, "message {id}");
    }

    // Reactions to one message from every member through every instance at once (each a
    // change of the message as stored), beside posts and reads of the same rooms.
    let target = posted[0].2.clone();
    let emojis = [":+1:", ":smile:", ":tada:"];
    let barrier = Barrier::new(POSTERS.len() * 2);
    std::thread::scope(|scope| {
        for (w, who) in POSTERS.iter().enumerate() {
            let (urls, barrier, rooms, target) = (&urls, &barrier, &rooms, &target);
            scope.spawn(move || {
                barrier.wait();
                for (n, emoji) in emojis.iter().enumerate() {
                    let body = json!({"messageId": target, "emoji": emoji});
                    let r = call(
                        &urls[(w + n) % 3],
                        "/api/v1/chat.react",
                        Some(*who),
                        Some(body),
                    );
                    assert_eq!(r.unwrap().0, 200);
                    let body = json!({"roomId": rooms[(w + n) % rooms.len()], "text": "again"});
                    let r = call(
                        &urls[(w + n + 1) % 3],
                        "/api/v1/chat.postMessage",
                        Some(*who),
                        Some(body),
                    );
                    assert_eq!(r.unwrap().0, 200);
                }
            });
            scope.spawn(move || {
                barrier.wait();
                for (n, room) in rooms.iter().enumerate() {
                    let body = json!({"rid": room});
                    let r = call(
                        &urls[(w + n) % 3],
                        "/api/v1/subscriptions.read",
                        Some(*who),
                        Some(body),
                    );
                    assert_eq!(r.unwrap().0, 200);
                }
            });
        }
    });
    let (_, message) = call(
        &urls[2],
        &format!("/api/v1/chat.getMessage?msgId={target}"),
        Some(RODRIQ),
        None,
    )
    .unwrap();
    for emoji in emojis {
        let reacted = message["message"]["reactions"][emoji]["usernames"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(reacted, POSTERS.len(), "{emoji}: {message}");
    }
    // Once everyone has read every room, nothing is unread there and each badge is what
    // the user's other rooms add up to.
    for who in POSTERS {
        for room in &rooms {
            let body = json!({"rid": room});
            assert_eq!(
                call(
                    &urls[0],
                    "/api/v1/subscriptions.read",
                    Some(who),
                    Some(body)
                )
                .unwrap()
                .0,
                200
            );
        }
    }
    drop(store);
    let store = rcpush::store::Store::open_postgres(&url, 2).unwrap();
    for (i, room) in rooms.iter().enumerate() {
        assert_eq!(
            room_counters(&store, room).2,
            vec![0; POSTERS.len()],
            "room {i}"
        );
    }
    let rest: Vec<i64> = (0..POSTERS.len())
        .map(|w| badges_before[w] - before.iter().map(|b| b.2[w]).sum::<i64>())
        .collect();
    let badges_read: Vec<i64> = POSTERS.iter().map(|w| store.badge(w.0).unwrap()).collect();
    assert_eq!(badges_read, rest);

    // The same room name from two instances at the same moment: one wins.
    for round in 0..5 {
        let barrier = Barrier::new(2);
        let results: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let (base, barrier) = (servers[i].url(""), &barrier);
                    scope.spawn(move || {
                        let body = json!({"name": format!("same-{round}")});
                        barrier.wait();
                        call(&base, "/api/v1/channels.create", Some(RODRIQ), Some(body)).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let statuses: BTreeSet<u16> = results.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, BTreeSet::from([200, 400]), "{results:?}");
        let loser = results.iter().find(|(s, _)| *s == 400).unwrap();
        assert_eq!(loser.1["errorType"], "error-duplicate-channel-name");
    }

    assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
}
