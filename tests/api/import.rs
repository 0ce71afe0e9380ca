//! `rcpush import` of a Rocket.Chat workspace (issue 12), checked over HTTP: old passwords
//! and digests log in (and are upgraded), old phone tokens and PATs work, devices get the
//! next push and go with their session, push.get returns the spec's bytes.

use rcpush::config::{Config, StorageConfig};
use rcpush::import::fixture::{self, Form};
use rcpush::import::{Options, Placeholders};
use rcpush::store::Store;
use serde_json::json;

use crate::fake_gateway::FakeGateway;
use crate::helpers::*;

/// The three examples of import spec §4, as push.get must return them in `data.message`.
const EXAMPLE_1: &str = r#"{"_id":"Xk9rM3pQ2aB7cD4eF","rid":"GENERAL","msg":"@bob café at 5? https://rocket.chat","ts":"2025-04-26T12:43:32.345Z","u":{"_id":"aB3dE5fG7hJ9kL2mN","username":"alice","name":"Alice Liddell"},"urls":[{"url":"https://rocket.chat"}],"mentions":[{"_id":"bB4cD6eF8gH2jK3mP","username":"bob","name":"Bob","type":"user"}],"channels":[],"md":[{"type":"PARAGRAPH","value":[{"type":"MENTION_USER","value":{"type":"PLAIN_TEXT","value":"bob"}},{"type":"PLAIN_TEXT","value":" café at 5? "},{"type":"LINK","value":{"src":{"type":"PLAIN_TEXT","value":"https://rocket.chat"},"label":[{"type":"PLAIN_TEXT","value":"https://rocket.chat"}]}}]}],"_updatedAt":"2025-04-26T12:43:32.391Z"}"#;
const EXAMPLE_2: &str = r#"{"_id":"6630a1f2c4b0e81d2f9a7b31","rid":"aB3dE5fG7hJ9kL2mNbB4cD6eF8gH2jK3mP","ts":"2025-04-26T12:45:00.000Z","tmid":"Xk9rM3pQ2aB7cD4eF","msg":"","groupable":false,"file":{"_id":"Fz8yX7wV6uT5sR4qP","name":"IMG_0042.jpg","type":"image/jpeg","size":284113,"format":"jpeg","typeGroup":"image"},"files":[{"_id":"Fz8yX7wV6uT5sR4qP","name":"IMG_0042.jpg","type":"image/jpeg","size":284113,"format":"jpeg","typeGroup":"image"},{"_id":"Tq2wE3rT4yU5iO6pA","name":"thumb-IMG_0042.jpg","type":"image/jpeg","size":20417,"format":"jpeg","typeGroup":"image"}],"attachments":[{"title":"IMG_0042.jpg","type":"file","title_link":"/file-upload/Fz8yX7wV6uT5sR4qP/IMG_0042.jpg","title_link_download":true,"image_url":"/file-upload/Tq2wE3rT4yU5iO6pA/IMG_0042.jpg","image_type":"image/jpeg","image_size":284113,"fileId":"Fz8yX7wV6uT5sR4qP","image_dimensions":{"width":360,"height":480},"image_preview":"/9j/2wBDAAYEBQY…"}],"u":{"_id":"aB3dE5fG7hJ9kL2mN","username":"alice","name":"Alice Liddell"},"urls":[],"mentions":[],"channels":[],"_updatedAt":"2025-04-26T12:45:00.102Z"}"#;
const EXAMPLE_3: &str = r##"{"_id":"Pq7rS8tU9vW2xY3zA","alias":"CI","emoji":":rocket:","msg":"Build *#4821* passed","attachments":[{"color":"#2de0a5","title":"pipeline main","ts":"2025-04-26T12:43:08.123Z","fields":[{"short":true,"title":"Duration","value":93},{"short":true,"title":"Artifacts","value":4294967296},{"short":false,"title":"Ratio","value":0.1}]}],"bot":{"i":"iNtEgRaTiOn12345"},"customFields":{"2":"two","10":"ten","ticket":"OPS-7","01":"x"},"groupable":false,"ts":"2025-04-26T12:46:30.007Z","u":{"_id":"rocket.cat","username":"rocket.cat"},"rid":"GENERAL","_updatedAt":"2025-04-26T12:46:30.007Z"}"##;

/// Imports the fixture workspace, written in `form`, into the new database `storage` names.
fn import_into(storage: &StorageConfig, form: Form) -> rcpush::import::Report {
    let dir = tempfile::tempdir().unwrap();
    let now = rcpush::model::time::now_millis();
    let path = fixture::write(dir.path(), "rocketchat", &fixture::workspace(now), form).unwrap();
    let store = rcpush::startup::open_store(storage).unwrap();
    rcpush::import::run(
        &store,
        &Options {
            path,
            staging: dir.path().join("staging"),
            now,
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("{form:?}: {e:#}"))
}

/// Waits until no handle holds the sled database `storage` names (sled lets go of its file
/// lock from a background thread, a moment after the last handle is dropped), so the server
/// can open it. PostgreSQL has no such lock.
fn wait_until_released(storage: &StorageConfig) {
    use std::os::fd::AsRawFd;
    if storage.backend != rcpush::config::Backend::Sled {
        return;
    }
    let file = std::fs::File::open(storage.path.join("db")).unwrap();
    let started = std::time::Instant::now();
    // SAFETY: flock on a file descriptor this function owns; released by the second call.
    while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        assert!(
            started.elapsed().as_secs() < 10,
            "the database stays locked"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
}

/// The server on an imported database, delivering pushes to `gw` (for `spawn_app_with!`).
fn imported(gw: &FakeGateway) -> impl FnOnce(&mut Config) {
    let url = gw.url.clone();
    move |c| {
        c.seed.file = String::new();
        c.settings.insert("Push_gateway".into(), json!(url));
        c.push.retry_delays_ms = vec![100];
        import_into(&c.storage, Form::ArchiveGzip);
        wait_until_released(&c.storage);
    }
}

/// `data.message` of a push.get body, as the bytes sent.
fn message_bytes(body: &str) -> &str {
    let start = body.find(r#"{"data":{"message":"#).expect("push.get shape") + 19;
    let end = body.find(r#","notification":"#).expect("notification");
    &body[start..end]
}

#[test]
fn every_dump_form_stores_the_same_messages_byte_for_byte() {
    for form in Form::ALL {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let storage = StorageConfig {
            path: db.clone(),
            ..StorageConfig::default()
        };
        let report = import_into(&storage, form);
        wait_until_released(&storage);
        let store = Store::open(&db, 4).unwrap();
        for (id, expected) in [
            ("Xk9rM3pQ2aB7cD4eF", EXAMPLE_1),
            ("6630a1f2c4b0e81d2f9a7b31", EXAMPLE_2),
            ("Pq7rS8tU9vW2xY3zA", EXAMPLE_3),
        ] {
            let stored = store.message(id).unwrap().expect(id);
            assert_eq!(stored.raw().get(), expected, "{form:?} {id}");
        }
        // A message without md gets the parser's, before _updatedAt.
        let plain = store.message("NoMdMessage000001").unwrap().unwrap();
        assert!(
            plain.raw().get().contains(r#""md":[{"type":"PARAGRAPH","value":[{"type":"PLAIN_TEXT","value":"hello "},{"type":"BOLD""#),
            "{form:?} {}",
            plain.raw().get()
        );
        assert!(plain
            .raw()
            .get()
            .ends_with(r#"]}]}],"_updatedAt":"2025-04-26T12:46:40.001Z"}"#));
        let text = report.to_string();
        assert!(text.contains("rocketchat_sessions"), "{text}");
        assert!(
            store.user("dAvE2faUser123456").unwrap().unwrap().0["services"]["totp"]
                .get("secret")
                .is_none()
        );
        let settings = store.all_settings().unwrap();
        assert!(!settings.iter().any(|s| s["_id"] == "Push_apn_passphrase"));
        let enterprise = settings
            .iter()
            .find(|s| s["_id"] == "Push_request_content_from_server")
            .unwrap();
        assert_eq!(enterprise["value"], false);
    }
}

#[test]
fn imported_users_log_in_with_their_old_password_and_are_upgraded() {
    let gw = FakeGateway::start();
    let mut app = spawn_app_with!(imported(&gw));
    let (uid, token) = app.login("alice", "correct horse");
    assert_eq!(uid, fixture::ALICE);
    let me = app.get(
        &format!("/api/v1/users.info?userId={}", fixture::ALICE),
        Some((&uid, &token)),
    );
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["user"]["utcOffset"], 2);
    assert!(
        !me.body.contains("__rooms") && !me.body.contains("email2fa"),
        "{}",
        me.body
    );
    // Again, now against the upgraded hash; and by e-mail.
    app.login("alice@example.com", "correct horse");
    // `$2a$` and the `{digest}` form.
    let digest = rcpush::rules::credentials::password_digest("correct horse");
    let r = app.post(
        "/api/v1/login",
        None,
        &json!({"user": "bob", "password": {"digest": digest, "algorithm": "sha-256"}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let upper = json!({"digest": digest.to_uppercase(), "algorithm": "sha-256"});
    let r = app.post(
        "/api/v1/login",
        None,
        &json!({"user": "bob", "password": upper}),
    );
    assert_eq!(
        r.status, 401,
        "Meteor takes the digest verbatim: {}",
        r.body
    );
    for (user, password) in [
        ("alice", "wrong horse"),
        ("carol", "correct horse"),
        ("dave", "correct horse"),
        ("rocket.cat", "correct horse"),
    ] {
        let r = app.post(
            "/api/v1/login",
            None,
            &json!({"user": user, "password": password}),
        );
        assert_eq!(r.status, 401, "{user}: {}", r.body);
    }
    app.stop();
    let store = app.open_store();
    let alice = store.password_hash(fixture::ALICE).unwrap().unwrap();
    assert!(
        alice.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{alice}"
    );
    let dave = store.password_hash("dAvE2faUser123456").unwrap().unwrap();
    assert!(
        dave.starts_with("$2b$"),
        "not logged in, not upgraded: {dave}"
    );
}

#[test]
fn failed_logins_block_imported_users_as_native_ones() {
    let gw = FakeGateway::start();
    let app = spawn_app_with!(imported(&gw));
    let login = |password: &str| {
        app.post(
            "/api/v1/login",
            None,
            &json!({"user": "bob", "password": password}),
        )
    };
    for _ in 0..10 {
        assert_eq!(login("nope").status, 401);
    }
    let r = login("correct horse");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "error-login-blocked-for-user");
    app.login("alice", "correct horse");
}

#[test]
fn old_phone_tokens_and_personal_access_tokens_keep_working() {
    let gw = FakeGateway::start();
    let app = spawn_app_with!(imported(&gw));
    let get = |token: &str, id: &str| {
        app.get(
            &format!("/api/v1/push.get?id={id}"),
            Some((fixture::ALICE, token)),
        )
    };
    let r = get(fixture::ALICE_TOKEN, "Xk9rM3pQ2aB7cD4eF");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(message_bytes(&r.body), EXAMPLE_1);
    let n = &r.json()["data"]["notification"];
    assert_eq!(n["title"], "#general");
    assert_eq!(n["text"], "alice: @bob café at 5? https://rocket.chat");
    assert_eq!(n["payload"]["host"], "https://chat.example.com/");
    assert_eq!(
        n["notId"],
        rcpush::rules::not_id::not_id("wkspc-unique-1", "GENERAL")
    );
    assert_eq!(get(fixture::ALICE_PAT, "Xk9rM3pQ2aB7cD4eF").status, 200);
    assert_eq!(
        get(fixture::ALICE_EXPIRED_TOKEN, "Xk9rM3pQ2aB7cD4eF").status,
        401
    );

    let r = get(fixture::ALICE_TOKEN, "Pq7rS8tU9vW2xY3zA");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(message_bytes(&r.body), EXAMPLE_3);
    assert_eq!(
        r.json()["data"]["notification"]["text"],
        "rocket.cat: Build #4821 passed"
    );

    // Bob's badge: 3 unread in #general and 2 in the DM.
    let r = app.get(
        "/api/v1/push.get?id=6630a1f2c4b0e81d2f9a7b31",
        Some((fixture::BOB, fixture::BOB_TOKEN)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(message_bytes(&r.body), EXAMPLE_2);
    let n = &r.json()["data"]["notification"];
    assert_eq!(n["badge"], 5);
    assert_eq!(n["text"], "Uploaded an image");
    assert_eq!(n["title"], "alice", "UI_Use_Real_Name is off");
    assert_eq!(n["payload"]["tmid"], "Xk9rM3pQ2aB7cD4eF");
}

/// Import spec §6.7: teams come with the dump, so the public channel of a private team
/// stays closed to outsiders (bob) and open to its members (alice); a public team's channel
/// is open to anyone holding `view-c-room`.
#[test]
fn a_private_team_s_public_channel_is_unreadable_to_an_outsider_after_import() {
    let gw = FakeGateway::start();
    let app = spawn_app_with!(imported(&gw));
    let get = |user: (&str, &str), id: &str| {
        app.get(&format!("/api/v1/push.get?id={id}"), Some(user))
    };
    let alice = (fixture::ALICE, fixture::ALICE_TOKEN);
    let bob = (fixture::BOB, fixture::BOB_TOKEN);
    let r = get(bob, fixture::PRIVATE_TEAM_MESSAGE);
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, r#"{"success":false,"error":"error-not-allowed"}"#)
    );
    let r = get(alice, fixture::PRIVATE_TEAM_MESSAGE);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["notification"]["title"], "#crew-plans");
    for user in [alice, bob] {
        let r = get(user, fixture::PUBLIC_TEAM_MESSAGE);
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

#[test]
fn imported_devices_get_the_next_push_until_their_session_logs_out() {
    let gw = FakeGateway::start();
    let app = spawn_app_with!(imported(&gw));
    let alice = (fixture::ALICE, fixture::ALICE_TOKEN);
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(alice),
        &json!({"roomId": fixture::DM, "text": "still there?"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let got = gw.wait_for(1);
    let body = got[0].json();
    assert_eq!(body["token"], fixture::BOB_DEVICE);
    assert_eq!(body["options"]["topic"], "chat.rocket.reactnative");
    assert_eq!(body["options"]["badge"], 6);

    let r = app.post(
        "/api/v1/logout",
        Some((fixture::BOB, fixture::BOB_TOKEN)),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post(
        "/api/v1/chat.postMessage",
        Some(alice),
        &json!({"roomId": fixture::DM, "text": "hello?"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(gw.received().len(), 1, "the device left with its session");
}

mod rendering {
    //! Random documents → BSON → import → push.get: `data.message` is what the rendering
    //! rules of import spec §4 say, key order included.

    use super::*;
    use bson::{doc, Bson, Document};
    use proptest::prelude::*;
    use rcpush::import::bson_json;
    use serde_json::Value;

    fn index_key(k: &str) -> Option<u32> {
        (!k.is_empty()
            && (k == "0" || !k.starts_with('0'))
            && k.bytes().all(|b| b.is_ascii_digit()))
        .then(|| k.parse::<u32>().ok())
        .flatten()
        .filter(|n| *n != u32::MAX)
    }

    /// The rules, written independently of the renderer: `None` for `undefined`.
    fn expected(v: &Bson) -> Option<Value> {
        Some(match v {
            Bson::Undefined => return None,
            Bson::Double(d) if !d.is_finite() => Value::Null,
            Bson::Double(d) => serde_json::from_str(&bson_json::number(*d)).unwrap(),
            Bson::String(s) => Value::String(s.clone()),
            Bson::Boolean(b) => Value::Bool(*b),
            Bson::Null => Value::Null,
            Bson::Int32(n) => (*n).into(),
            Bson::Int64(n) => (*n).into(),
            Bson::DateTime(d) => {
                serde_json::from_str(&bson_json::date(d.timestamp_millis())).unwrap()
            }
            Bson::ObjectId(o) => Value::String(o.to_hex()),
            Bson::Array(a) => Value::Array(
                a.iter()
                    .map(|v| expected(v).unwrap_or(Value::Null))
                    .collect(),
            ),
            Bson::Document(d) => {
                let mut m: Vec<(String, Value)> = d
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), expected(v)?)))
                    .collect();
                m.sort_by_key(|(k, _)| index_key(k).map_or(u64::MAX, u64::from));
                Value::Object(m.into_iter().collect())
            }
            other => panic!("not generated: {other:?}"),
        })
    }

    /// Equal, with objects' keys in the same order (`Map`'s own equality ignores order).
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                x.keys().eq(y.keys()) && x.values().zip(y.values()).all(|(p, q)| same(p, q))
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
            }
            _ => a == b,
        }
    }

    fn value() -> impl Strategy<Value = Bson> {
        let leaf = prop_oneof![
            any::<f64>().prop_map(Bson::Double),
            (-1e6..1e6f64).prop_map(|d| Bson::Double((d * 8.0).round() / 8.0)),
            "\\PC{0,6}".prop_map(Bson::String),
            any::<bool>().prop_map(Bson::Boolean),
            Just(Bson::Null),
            Just(Bson::Undefined),
            any::<i32>().prop_map(Bson::Int32),
            any::<i64>().prop_map(|n| Bson::Int64(n >> 11)),
            (-8_640_000_000_000_000..=8_640_000_000_000_000_i64)
                .prop_map(|ms| Bson::DateTime(bson::DateTime::from_millis(ms))),
            any::<[u8; 12]>().prop_map(|b| Bson::ObjectId(bson::oid::ObjectId::from_bytes(b))),
        ];
        leaf.prop_recursive(3, 20, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
                prop::collection::vec(("[0-9]{1,2}|[a-z_]{1,3}", inner), 0..4)
                    .prop_map(|kv| Bson::Document(kv.into_iter().collect())),
            ]
        })
    }

    fn message() -> impl Strategy<Value = Document> {
        prop::collection::vec(("x[a-z]{0,2}|[0-9]{1,2}", value()), 0..6).prop_map(|extra| {
            let mut d = doc! {"_id": "", "rid": "GENERAL", "msg": "hi",
            "u": {"_id": fixture::ALICE, "username": "alice"}, "md": []};
            for (k, v) in extra {
                d.insert(k, v);
            }
            d
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]
        #[test]
        fn push_get_returns_what_the_rules_say(messages in prop::collection::vec(message(), 1..24)) {
            let now = rcpush::model::time::now_millis();
            let mut workspace = fixture::workspace(now);
            let messages: Vec<Document> = messages
                .into_iter()
                .enumerate()
                .map(|(i, mut d)| {
                    d.insert("_id", format!("prop{i:013}"));
                    d
                })
                .collect();
            workspace.retain(|(c, _)| *c != "rocketchat_message");
            workspace.push(("rocketchat_message", messages.clone()));
            let dir = tempfile::tempdir().unwrap();
            let path = fixture::write(dir.path(), "rocketchat", &workspace, Form::Archive).unwrap();
            let Some(app) = try_spawn_app_with(|c| {
                c.seed.file = String::new();
                let store = rcpush::startup::open_store(&c.storage).unwrap();
                rcpush::import::run(&store, &Options { path, staging: dir.path().join("staging"), now,
                    ..Options::default() }).unwrap();
                drop(store);
                wait_until_released(&c.storage);
            }) else {
                return Ok(());
            };
            for m in &messages {
                let r = app.get(
                    &format!("/api/v1/push.get?id={}", m.get_str("_id").unwrap()),
                    Some((fixture::ALICE, fixture::ALICE_TOKEN)),
                );
                prop_assert_eq!(r.status, 200, "{}", r.body);
                let got: Value = serde_json::from_str(message_bytes(&r.body)).unwrap();
                let want = expected(&Bson::Document(m.clone())).unwrap();
                prop_assert!(same(&got, &want), "got  {}\nwant {}", got, want);
            }
        }
    }
}

/// A database a first start wrote (the demo seed, the admin, rocket.cat, #general) takes a
/// dump without `--merge`: those make way for the dump's, on every backend.
#[test]
fn a_first_start_s_documents_make_way_for_the_dump() {
    let mut replaced = 0;
    let app = spawn_app_with!(|c| {
        rcpush::startup::spawn(c.clone()).unwrap().stop();
        wait_until_released(&c.storage);
        let seed = rcpush::seed::read_file(c.seed.file.as_ref()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let now = rcpush::model::time::now_millis();
        let workspace = fixture::workspace(now);
        let path = fixture::write(dir.path(), "rocketchat", &workspace, Form::Archive).unwrap();
        let store = rcpush::startup::open_store(&c.storage).unwrap();
        let report = rcpush::import::run(
            &store,
            &Options {
                path,
                staging: dir.path().join("staging"),
                now,
                placeholders: Placeholders::new(&c.admin.username, Some(&seed)),
                ..Options::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        replaced = report.replaced;
        let counts = store.document_counts().unwrap();
        assert_eq!(
            &counts[..3],
            [("users", 5), ("rooms", 5), ("subscriptions", 5)]
        );
        assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
        drop(store);
        wait_until_released(&c.storage);
    });
    // The demo's 4 users, 4 rooms and 4 messages, the admin, rocket.cat and #general.
    assert_eq!(replaced, 4 + 4 + 4 + 3);
    app.login("alice", "correct horse");
    let body = json!({"user": "admin", "password": ADMIN_PASSWORD});
    assert_eq!(app.post("/api/v1/login", None, &body).status, 401);
}
