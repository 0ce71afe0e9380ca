//! Secrets stay secret (CVE-2022-32217): the whole API surface runs with logging at `trace`,
//! then no raw token, password (or its SHA-256 digest) or password hash may appear in the
//! logs or in any error body, and no raw token or password in any file of the data directory.

use std::path::Path;

use crate::support::client::Client;
use crate::support::{rcpush, Server, ADMIN_PASSWORD, ALICE, BOB, RODRIQ};
use rcpush::rules::credentials::password_digest;
use rcpush::store::trees::Tree;
use rcpush::store::Store;
use serde_json::{json, Value};

const NEW_PASSWORD: &str = "brand-new-user-password-Qx81";
const WRONG_PASSWORD: &str = "a-wrong-password-Zp42";
const WRONG_TOKEN: &str = "a-wrong-token-Vb93kLmN";
/// A secret push setting's value (a service account's private key, say).
const PUSH_SECRET: &str = "push-secret-setting-Tm57cWq";

/// A client that keeps every failure body it sees.
struct Recorder {
    client: Client,
    errors: Vec<String>,
}

impl Recorder {
    fn call(
        &mut self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> Value {
        let r = self
            .client
            .call(method, path, auth, body.as_ref())
            .unwrap_or_else(|e| panic!("{e}"));
        if r.status >= 400 {
            self.errors.push(r.body.clone());
        }
        r.json()
    }
}

/// Every regular file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if path.is_file() {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn no_token_password_or_hash_reaches_logs_error_bodies_or_data_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let server = Server::start(rcpush(&db).env("RUST_LOG", "trace"));
    let mut c = Recorder {
        client: server.client(),
        errors: Vec::new(),
    };
    let mut tokens: Vec<String> = [RODRIQ.1, ALICE.1, BOB.1].map(String::from).to_vec();
    let mut passwords: Vec<String> = [
        "alice-demo",
        "bob-demo",
        "rodriq-demo",
        ADMIN_PASSWORD,
        NEW_PASSWORD,
        WRONG_PASSWORD,
    ]
    .map(String::from)
    .to_vec();

    let login = |c: &mut Recorder, body: Value| {
        let v = c.call("POST", "/api/v1/login", None, Some(body));
        let d = &v["data"];
        (
            d["userId"].as_str().unwrap_or_default().to_string(),
            d["authToken"].as_str().unwrap_or_default().to_string(),
        )
    };
    let admin = login(&mut c, json!({"user": "admin", "password": ADMIN_PASSWORD}));
    let alice = login(
        &mut c,
        json!({"username": "alice", "password": {"digest": password_digest("alice-demo"), "algorithm": "sha-256"}}),
    );
    login(&mut c, json!({"user": "bob", "password": WRONG_PASSWORD}));
    login(
        &mut c,
        json!({"email": "nobody@example.com", "password": WRONG_PASSWORD}),
    );
    let a = (admin.0.as_str(), admin.1.as_str());
    c.call("POST", "/api/v1/users.create", Some(a), Some(json!({"username": "carol", "email": "carol@example.com", "name": "Carol", "password": NEW_PASSWORD})));
    c.call("POST", "/api/v1/users.create", Some(RODRIQ), Some(json!({"username": "dave", "email": "dave@example.com", "name": "Dave", "password": NEW_PASSWORD})));
    let carol = login(&mut c, json!({"user": "carol", "password": NEW_PASSWORD}));
    tokens.extend([
        admin.1.clone(),
        alice.1.clone(),
        carol.1.clone(),
        WRONG_TOKEN.to_string(),
    ]);
    let carol_auth = (carol.0.as_str(), carol.1.as_str());

    for (method, path, body) in [
        ("GET", "/api/v1/me", None),
        ("GET", "/api/info", None),
        ("GET", "/api/v1/push.get?id=WkbwSntxt8D3jLp8G", None),
        ("GET", "/api/v1/push.get?id=PrvMsg3kT7wZq2RbX", None),
        ("GET", "/api/v1/users.info?username=alice", None),
        (
            "GET",
            "/api/v1/chat.getMessage?msgId=DmMsg5hR8tYw3QzKa",
            None,
        ),
        ("GET", "/api/v1/subscriptions.get", None),
        (
            "GET",
            "/api/v1/subscriptions.getOne?roomId=iu7jtPAhvEeAS5tNq",
            None,
        ),
        (
            "POST",
            "/api/v1/chat.postMessage",
            Some(json!({"roomId": "iu7jtPAhvEeAS5tNq", "text": "hello @alice"})),
        ),
        (
            "POST",
            "/api/v1/chat.sendMessage",
            Some(json!({"message": {"rid": "iu7jtPAhvEeAS5tNq", "msg": "again"}})),
        ),
        (
            "POST",
            "/api/v1/channels.create",
            Some(json!({"name": "secrets-room", "members": ["alice"]})),
        ),
        (
            "POST",
            "/api/v1/groups.create",
            Some(json!({"name": "secrets-group"})),
        ),
        (
            "POST",
            "/api/v1/im.create",
            Some(json!({"username": "alice"})),
        ),
        (
            "POST",
            "/api/v1/dm.create",
            Some(json!({"usernames": "alice,bob"})),
        ),
        (
            "POST",
            "/api/v1/groups.invite",
            Some(json!({"roomName": "secrets-group", "username": "bob"})),
        ),
        (
            "POST",
            "/api/v1/groups.kick",
            Some(json!({"roomName": "secrets-group", "username": "bob"})),
        ),
        (
            "POST",
            "/api/v1/groups.leave",
            Some(json!({"roomName": "secrets-group"})),
        ),
        (
            "POST",
            "/api/v1/channels.invite",
            Some(json!({"roomName": "secrets-room", "username": "bob"})),
        ),
        (
            "POST",
            "/api/v1/channels.kick",
            Some(json!({"roomName": "secrets-room", "username": "bob"})),
        ),
        (
            "POST",
            "/api/v1/channels.leave",
            Some(json!({"roomName": "secrets-room"})),
        ),
        (
            "POST",
            "/api/v1/subscriptions.read",
            Some(json!({"rid": "iu7jtPAhvEeAS5tNq"})),
        ),
        ("GET", "/api/v1/settings/Push_gateway", None),
        (
            "POST",
            "/api/v1/settings/Push_gateway",
            Some(json!({"value": "https://gw.example"})),
        ),
        (
            "POST",
            "/api/v1/settings/Push_google_api_credentials",
            Some(json!({ "value": PUSH_SECRET })),
        ),
        ("GET", "/api/v1/settings/Push_google_api_credentials", None),
    ] {
        for auth in [
            Some(carol_auth),
            Some(a),
            Some((carol.0.as_str(), WRONG_TOKEN)),
            None,
        ] {
            c.call(method, path, auth, body.clone());
        }
    }
    let shown = c.call(
        "GET",
        "/api/v1/settings/Push_google_api_credentials",
        Some(a),
        None,
    );
    assert_eq!(shown["value"], "********", "a set secret setting is masked");
    c.call(
        "GET",
        "/api/v1/logout",
        Some((alice.0.as_str(), WRONG_TOKEN)),
        None,
    );
    c.call("POST", "/api/v1/logout", Some(carol_auth), None);
    c.call("GET", "/api/v1/me", Some(carol_auth), None);
    c.call(
        "POST",
        "/api/v1/login",
        None,
        Some(json!({"resume": alice.1})),
    );
    let errors = std::mem::take(&mut c.errors);
    assert!(errors.len() > 20, "the failure paths ran");
    let (status, log) = server.terminate_with_log();
    assert!(status.success());
    let log = log.join("\n");
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "logging was verbose"
    );

    let store = Store::open(&db, 8).unwrap();
    let hashes: Vec<String> = store
        .entries(Tree::UseridPassword)
        .unwrap()
        .into_iter()
        .map(|(_, v)| String::from_utf8(v).unwrap())
        .collect();
    drop(store);
    assert!(hashes.len() >= 5);
    let digests: Vec<String> = passwords.iter().map(|p| password_digest(p)).collect();
    passwords.extend(digests);

    assert!(!log.contains(PUSH_SECRET), "a secret setting logged");
    assert!(errors.iter().all(|e| !e.contains(PUSH_SECRET)));
    for secret in tokens.iter().chain(&passwords).chain(&hashes) {
        assert!(!log.contains(secret.as_str()), "{secret} logged");
        for e in &errors {
            assert!(!e.contains(secret.as_str()), "{secret} in error body {e}");
        }
    }
    for file in files(&db) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in tokens.iter().chain(&passwords) {
            assert!(
                !contains(&bytes, secret),
                "{secret} stored in {}",
                file.display()
            );
        }
    }
}

/// The PostgreSQL URL may hold a password: it reaches neither the trace log nor the one line
/// a failed start prints (the test cluster trusts local connections, so any password works).
#[test]
fn the_postgresql_password_never_reaches_the_logs() {
    const PG_PASSWORD: &str = "pg-secret-Xq7Lm2";
    let Some(cluster) = crate::support::postgres::database_or_skip() else {
        return;
    };
    let with_password = cluster.replace("postgres@", &format!("postgres:{PG_PASSWORD}@"));
    let dir = tempfile::tempdir().unwrap();
    let on = |url: &str| crate::support::rcpush_on_postgres(dir.path(), url);
    let server = Server::start(on(&with_password).env("RUST_LOG", "trace"));
    let (status, _) = server.push_get("WkbwSntxt8D3jLp8G");
    assert_eq!(status, 200);
    let startup = server.startup_log.join("\n");
    let (_, log) = server.terminate_with_log();
    assert!(startup.contains("rcpush") && !log.is_empty());
    assert!(!startup.contains(PG_PASSWORD) && !log.join("\n").contains(PG_PASSWORD));

    let missing = with_password.rsplit_once('/').unwrap().0.to_string() + "/no_such_database";
    let out = on(&missing).output().unwrap();
    let line = crate::support::one_line_failure(&out);
    assert!(
        line.contains("no_such_database") && !line.contains(PG_PASSWORD),
        "{line}"
    );
}
