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

/// The flags of serving are listed (and accepted) with `serve` only, not with the commands
/// that would refuse them.
#[test]
fn each_command_lists_only_the_flags_it_takes() {
    let help = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for serving in [help(&["--help"]), help(&["serve", "--help"])] {
        assert!(serving.contains("--ephemeral") && serving.contains("--deterministic"));
    }
    for command in ["import", "export", "seed", "check"] {
        let text = help(&[command, "--help"]);
        assert!(text.contains("--config"), "{command}: {text}");
        for flag in ["--ephemeral", "--deterministic"] {
            assert!(!text.contains(flag), "{command} lists {flag}:\n{text}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(rcpush(&dir.path().join("unused")).args(["serve", "--ephemeral"]));
    assert_eq!(server.push_get("WkbwSntxt8D3jLp8G").0, 200);
    assert!(server.terminate().success());
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
    let mistyped = dir.path().join("typed.toml");
    std::fs::write(&mistyped, "[settings]\nPush_show_message = \"yes\"\n").unwrap();
    // (arguments, environment variable, expected text)
    type Case<'a> = (&'a [&'a str], Option<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 11] = [
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
        // A setting of the wrong type, in the file or from the environment.
        (
            &["--config", mistyped.to_str().unwrap()],
            None,
            "[settings] Push_show_message must be of type boolean",
        ),
        (
            &[],
            Some(("RCPUSH_SETTINGS_Message_MaxAllowedSize", "lots")),
            "[settings] Message_MaxAllowedSize must be of type number",
        ),
        // A mistyped log level would silence every line, this one included.
        (
            &[],
            Some(("RCPUSH_LOG_LEVEL", "warning")),
            "log.level: \"warning\" is not a level",
        ),
        (
            &[],
            Some(("RUST_LOG", "verbose")),
            "invalid RUST_LOG: \"verbose\" is not a level",
        ),
        (
            &[],
            Some(("RCPUSH_PERMISSIONS_view-c-rooms", "[\"user\"]")),
            "unknown permission [permissions] view-c-rooms",
        ),
        (
            &[],
            Some(("RCPUSH_PERMISSIONS_view-c-room", "[\"users\"]")),
            "unknown role \"users\" in [permissions] view-c-room",
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
    assert!(seed_demo(&db).contains("loaded 21 documents"));
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
            let r = server.client().post(
                "/api/v1/chat.sendMessage",
                Some(RODRIQ),
                &json!({"message": {"_id": id, "rid": "iu7jtPAhvEeAS5tNq", "msg": "keep me"}}),
            );
            assert_eq!(r.status, 200, "{}", r.body);
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
    let r = server
        .client()
        .push_get(&format!("p{:0digits$}", 0), ("U0000000", "bench-token-0"));
    assert_eq!(r.status, 200, "push.get of a generated message: {}", r.body);
    server.kill_hard();
}

#[test]
fn ephemeral_is_refused_with_the_commands_that_use_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let backup = dir.path().join("backup.json");
    let cases: [&[&str]; 4] = [
        &["export", backup.to_str().unwrap()],
        &["seed", "data/seed.json"],
        &["check"],
        &["generate", "--messages", "10"],
    ];
    for args in cases {
        let out = rcpush(&db).arg("--ephemeral").args(args).output().unwrap();
        let err = one_line_failure(&out);
        assert!(err.contains("--ephemeral only goes with serve"), "{err}");
        assert!(err.contains(args[0]), "{err}");
        // After the command, the flag is not one of its own: clap's usage error.
        let out = rcpush(&db).args(args).arg("--ephemeral").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("unexpected argument '--ephemeral'"), "{err}");
    }
    assert!(!db.exists(), "no database is created");
    assert!(!backup.exists(), "no empty backup is written");
}

/// `rcpush check` on `db`: its stdout, asserting success.
pub(crate) fn check_ok(db: &std::path::Path) -> String {
    succeeds(rcpush(db).arg("check"))
}

/// `rcpush seed data/seed.json` into `db`: its stdout, asserting success.
pub(crate) fn seed_demo(db: &std::path::Path) -> String {
    succeeds(rcpush(db).args(["seed", "data/seed.json"]))
}

/// Runs `cmd`, asserting success; its stdout.
pub(crate) fn succeeds(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn seed_refuses_a_database_that_holds_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    seed_demo(&db);
    let before = check_ok(&db);
    let err = one_line_failure(
        &rcpush(&db)
            .args(["seed", "data/seed.json"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("already holds 21 documents"), "{err}");
    assert!(err.contains("empty database"), "{err}");
    assert_eq!(check_ok(&db), before, "the database is untouched");

    // A database the server has started on (settings, admin) is not empty either.
    let served = dir.path().join("served");
    Server::start(rcpush(&served).env("RCPUSH_SEED_FILE", "")).kill_hard();
    let err = one_line_failure(
        &rcpush(&served)
            .args(["seed", "data/seed.json"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("empty database"), "{err}");
}

#[test]
fn a_failed_seed_leaves_no_database_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"users":[{"username":"no id"}]}"#).unwrap();
    let missing = dir.path().join("missing.json");
    for (file, expected) in [(&missing, "cannot read seed file"), (&bad, "no string _id")] {
        let err = one_line_failure(&rcpush(&db).arg("seed").arg(file).output().unwrap());
        assert!(err.contains(expected), "{err}");
        assert!(!db.exists(), "{} left behind after: {err}", db.display());
    }
    // A database that holds data keeps it.
    seed_demo(&db);
    let before = check_ok(&db);
    one_line_failure(&rcpush(&db).arg("seed").arg(&bad).output().unwrap());
    assert_eq!(check_ok(&db), before);
}

#[test]
fn check_says_what_it_checked_and_that_the_server_must_be_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let err = one_line_failure(&rcpush(&db).arg("check").output().unwrap());
    assert!(err.contains("no database at"), "{err}");
    assert!(!db.exists(), "check creates no database");
    seed_demo(&db);
    let summary = check_ok(&db);
    assert_eq!(summary.lines().count(), 1, "{summary}");
    assert!(
        summary.starts_with("rcpush: check: 4 users, 4 rooms, 9 subscriptions, 4 messages,"),
        "{summary}"
    );
    assert!(summary.trim_end().ends_with("consistent"), "{summary}");

    let server = Server::start(rcpush(&db).env("RCPUSH_SEED_FILE", ""));
    let err = one_line_failure(&rcpush(&db).arg("check").output().unwrap());
    assert!(err.contains("stop the server first"), "{err}");
    assert!(server.terminate().success());
}

#[test]
fn start_up_logs_which_configuration_file_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut rcpush(&dir.path().join("with")));
    assert!(
        server
            .startup_log
            .iter()
            .any(|l| l.contains("configuration file loaded file=config.toml")),
        "{:?}",
        server.startup_log
    );
    server.kill_hard();

    // No --config, no $RCPUSH_CONFIG, no ./config.toml.
    let empty = tempfile::tempdir().unwrap();
    let server = Server::start(
        rcpush(&dir.path().join("without"))
            .current_dir(empty.path())
            .env_remove("RCPUSH_SEED_FILE"),
    );
    let line = server
        .startup_log
        .iter()
        .find(|l| l.contains("no configuration file"))
        .unwrap_or_else(|| panic!("{:?}", server.startup_log));
    assert!(
        line.contains("built-in defaults in use, hence no seed"),
        "{line}"
    );
    assert!(line.contains(" INFO "), "{line}");
    server.kill_hard();
}

#[test]
fn testing_mode_flags_are_refused_where_they_do_not_apply() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let bundle = crate::support::root().join("data/seed.json");
    // (arguments, environment variable, expected text)
    type Case<'a> = (Vec<&'a str>, Option<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 4] = [
        (vec!["--deterministic", "7"], None, "needs testing mode"),
        (
            vec![],
            Some(("RCPUSH_TESTING_SEED", "7")),
            "needs testing mode",
        ),
        (
            vec!["--ephemeral"],
            Some(("RCPUSH_STORAGE_BACKEND", "postgres")),
            "testing mode works on sled only",
        ),
        (
            vec!["--deterministic", "7", "seed", bundle.to_str().unwrap()],
            None,
            "--deterministic only goes with serve",
        ),
    ];
    for (args, env, expected) in cases {
        let mut cmd = rcpush(&db);
        cmd.args(&args)
            .env("RCPUSH_STORAGE_URL", "postgres://nobody@127.0.0.1:9/x");
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let err = one_line_failure(&cmd.output().unwrap());
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert!(
        !db.exists(),
        "nothing is created when testing mode is refused"
    );
}

#[test]
fn ephemeral_deterministic_runs_answer_the_same_login() {
    let login = || {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(rcpush(&dir.path().join("unused")).args([
            "--ephemeral",
            "--deterministic",
            "7",
        ]));
        let client = server.client();
        let body = json!({"user": "admin", "password": crate::support::ADMIN_PASSWORD});
        let answer = client.post("/api/v1/login", None, &body).body;
        let pushes = client.get("/api/rcpush/testing/pushes", None).body;
        assert_eq!(pushes, r#"{"pushes":[],"success":true}"#);
        assert!(server.terminate().success());
        answer
    };
    let first = login();
    assert!(first.contains(r#""authToken":"#), "{first}");
    assert_eq!(first, login());
}

/// A lost password: `admin reset-password` prints a new one once and ends every session of
/// the user; a server started with `RCPUSH_ADMIN_PASSWORD` on a database that has an admin
/// says that the variable was ignored.
#[test]
fn admin_reset_password_prints_a_new_one_and_ends_the_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let err = one_line_failure(
        &rcpush(&db)
            .args(["admin", "reset-password", "alice"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("there is no database at"), "{err}");
    assert!(!db.exists(), "no database is created");

    seed_demo(&db);
    Server::start(&mut rcpush(&db)).kill_hard();
    let server = Server::start(&mut rcpush(&db));
    assert!(
        server
            .startup_log
            .iter()
            .any(|l| l.contains("admin.password (RCPUSH_ADMIN_PASSWORD) ignored")),
        "{:?}",
        server.startup_log
    );
    assert!(server.terminate().success());

    let out = succeeds(rcpush(&db).args(["admin", "reset-password", "alice"]));
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("rcpush: new password of 'alice' (A7dm3kQzR9xYpW2bn): "))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    assert!(password.len() >= 32, "{password}");
    assert!(out.contains("sessions ended: 1;"), "{out}");
    let err = one_line_failure(
        &rcpush(&db)
            .args(["admin", "reset-password", "nobody"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("no user \"nobody\""), "{err}");

    let server = Server::start(rcpush(&db).env("RCPUSH_SEED_FILE", ""));
    let status = |r: Result<ureq::Response, ureq::Error>| match r {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    };
    let login = |password: &str| {
        status(
            ureq::post(&server.url("/api/v1/login"))
                .send_json(json!({"user": "alice", "password": password})),
        )
    };
    let me = ureq::get(&server.url("/api/v1/me"))
        .set("X-User-Id", crate::support::ALICE.0)
        .set("X-Auth-Token", crate::support::ALICE.1)
        .call();
    assert_eq!(status(me), 401, "the old session ended");
    assert_eq!(login("alice-demo"), 401, "the old password is gone");
    assert_eq!(login(&password), 200);
    assert!(server.terminate().success());
}
