//! The `rcpush` binary: start-up errors, `--ephemeral`, `seed`, and acknowledged writes that
//! survive `kill -9`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_rcpush");
const RODRIQ: (&str, &str) = (
    "d26x6zSkaPSe5gCyy",
    "Zu-Z6eKzIIz7MCCRGeHi29bYkXZCJ4SxFC0JAasqm92",
);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `rcpush` with the committed config, a free port, a database in `db` and a known admin password.
fn rcpush(db: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(root())
        .env("RCPUSH_SERVER_BIND", "127.0.0.1:0")
        .env("RCPUSH_STORAGE_PATH", db)
        .env("RCPUSH_ADMIN_PASSWORD", "cli-test-admin")
        .env("RCPUSH_LOG_LEVEL", "info")
        .env_remove("RUST_LOG")
        .env_remove("RCPUSH_CONFIG");
    c
}

/// A running server and the port it reported.
struct Server {
    child: Child,
    port: u16,
    /// What the server logged before it was ready.
    startup_log: Vec<String>,
}

impl Drop for Server {
    /// A failed assertion must not leave a server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(cmd: &mut Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rcpush");
        let stderr = child.stderr.take();
        let mut server = Server {
            child,
            port: 0,
            startup_log: Vec::new(),
        };
        let (tx, lines) = mpsc::channel();
        let stderr = stderr.unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .expect("rcpush reports its port");
            if line.contains("rcpush listening") {
                if let Some(rest) = line.split("port=").nth(1) {
                    server.port = rest.split_whitespace().next().unwrap().parse().unwrap();
                    return server;
                }
            }
            server.startup_log.push(line);
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn push_get(&self, id: &str) -> (u16, String) {
        let r = ureq::get(&self.url(&format!("/api/v1/push.get?id={id}")))
            .set("X-User-Id", RODRIQ.0)
            .set("X-Auth-Token", RODRIQ.1)
            .call();
        match r {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap()),
            Err(e) => panic!("{e}"),
        }
    }

    fn kill_hard(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

fn one_line_failure(out: &Output) -> String {
    assert!(!out.status.success(), "should fail");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    assert!(lines[0].starts_with("rcpush: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn help_lists_the_commands() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["seed", "serve", "--config", "--ephemeral"] {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
}

#[test]
fn bad_configuration_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let unparsable = dir.path().join("unparsable.toml");
    std::fs::write(&unparsable, "[server\nbind = 1").unwrap();
    let unknown_key = dir.path().join("unknown.toml");
    std::fs::write(&unknown_key, "[server]\nport = 3000\n").unwrap();
    let missing = dir.path().join("missing.toml");
    // (arguments, environment variable, expected text)
    type Case<'a> = (&'a [&'a str], Option<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 5] = [
        (
            &["--config", unparsable.to_str().unwrap()],
            None,
            "invalid config file",
        ),
        (&["--config", unknown_key.to_str().unwrap()], None, "port"),
        (
            &["--config", missing.to_str().unwrap()],
            None,
            "cannot read config file",
        ),
        (&[], Some(("RCPUSH_STORAGE_CACHE_MB", "lots")), "cache_mb"),
        (
            &[],
            Some(("RCPUSH_SETTINGS_No_Such_Setting", "1")),
            "No_Such_Setting",
        ),
    ];
    for (args, env, expected) in cases {
        let mut cmd = rcpush(&db);
        cmd.args(args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let err = one_line_failure(&cmd.output().unwrap());
        assert!(err.contains(expected), "{err}");
    }
    assert!(
        !db.exists(),
        "nothing is created when the configuration is bad"
    );
}

#[test]
fn a_port_in_use_or_a_locked_database_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let first = Server::start(&mut rcpush(&db));
    let err = one_line_failure(
        &rcpush(&dir.path().join("other"))
            .env("RCPUSH_SERVER_BIND", format!("127.0.0.1:{}", first.port))
            .output()
            .unwrap(),
    );
    assert!(err.contains("cannot listen on"), "{err}");
    let err = one_line_failure(&rcpush(&db).output().unwrap());
    assert!(err.contains("locked"), "{err}");
    assert!(first.terminate().success(), "SIGTERM exits 0");
}

#[test]
fn ephemeral_serves_the_demo_and_removes_its_database_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(rcpush(&dir.path().join("unused")).arg("--ephemeral"));
    let (status, body) = server.push_get("WkbwSntxt8D3jLp8G");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""notId":654494840"#));
    let path = server
        .startup_log
        .iter()
        .find_map(|l| l.split("path=").nth(1))
        .map(|p| PathBuf::from(p.split_whitespace().next().unwrap()))
        .expect("the temporary database is logged");
    assert!(path.exists());
    assert!(server.terminate().success());
    assert!(!dir.path().join("unused").exists());
    assert!(!path.exists(), "{} removed", path.display());
}

#[test]
fn seed_command_loads_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = rcpush(&db)
        .args(["seed", "data/seed.json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("loaded 21 documents"));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"messages":[{"_id":"x","rid":"r"}]}"#).unwrap();
    let err = one_line_failure(&rcpush(&db).arg("seed").arg(&bad).output().unwrap());
    assert!(err.contains("no ISO ts"), "{err}");
    // The server starts from the loaded data (no seed file needed).
    let server = Server::start(rcpush(&db).env("RCPUSH_SEED_FILE", ""));
    assert_eq!(server.push_get("WkbwSntxt8D3jLp8G").0, 200);
    server.kill_hard();
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..5 {
        let server = Server::start(&mut rcpush(&db));
        for id in &acknowledged {
            assert_eq!(server.push_get(id).0, 200, "{id} lost after kill -9");
        }
        for i in 0..10 {
            let id = format!("durable{round}x{i}");
            let r = ureq::post(&server.url("/api/v1/chat.sendMessage"))
                .set("X-User-Id", RODRIQ.0)
                .set("X-Auth-Token", RODRIQ.1)
                .send_json(
                    json!({"message": {"_id": id, "rid": "iu7jtPAhvEeAS5tNq", "msg": "keep me"}}),
                )
                .expect("acknowledged");
            assert_eq!(r.status(), 200);
            acknowledged.push(id);
        }
        server.kill_hard();
    }
    let server = Server::start(&mut rcpush(&db));
    for id in &acknowledged {
        assert_eq!(server.push_get(id).0, 200, "{id} lost after kill -9");
    }
    server.kill_hard();
}
