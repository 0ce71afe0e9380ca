//! The `rcpush` binary: start-up errors, `--ephemeral`, `seed`, and acknowledged writes that
//! survive `kill -9`.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{one_line_failure, rcpush, Server, BIN, RODRIQ};
use serde_json::json;

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
fn a_setting_of_the_wrong_type_is_one_clear_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let file = dir.path().join("typed.toml");
    std::fs::write(&file, "[settings]\nPush_show_message = \"yes\"\n").unwrap();
    let out = rcpush(&db).arg("--config").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = one_line_failure(&out);
    assert!(
        err.contains("Push_show_message") && err.contains("boolean"),
        "{err}"
    );
    let out = rcpush(&db)
        .env("RCPUSH_SETTINGS_Message_MaxAllowedSize", "lots")
        .output()
        .unwrap();
    let err = one_line_failure(&out);
    assert!(
        err.contains("Message_MaxAllowedSize") && err.contains("number"),
        "{err}"
    );
    assert!(
        !db.exists(),
        "nothing is created when a setting is mistyped"
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

/// `cargo test` builds with `bench-data` (the package's dev-dependency on itself turns it on);
/// `cargo build` leaves the generator out.
#[cfg(feature = "bench-data")]
#[test]
fn generate_fills_an_empty_database_the_server_then_serves() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = rcpush(&db)
        .args(["generate", "--messages", "1000", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["messages"], 1000);
    let check = rcpush(&db).arg("check").output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let again = one_line_failure(&rcpush(&db).arg("generate").output().unwrap());
    assert!(again.contains("not empty"), "{again}");

    let server = Server::start(rcpush(&db).env("RCPUSH_SEED_FILE", ""));
    let digits = summary["public_id_digits"].as_u64().unwrap() as usize;
    let r = ureq::get(&server.url(&format!("/api/v1/push.get?id=p{:0digits$}", 0)))
        .set("X-User-Id", "U0000000")
        .set("X-Auth-Token", "bench-token-0")
        .call()
        .expect("push.get of a generated message");
    assert_eq!(r.status(), 200);
    server.kill_hard();
}
