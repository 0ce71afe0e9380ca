//! Stopping and starting the binary: SIGTERM and SIGINT let in-flight requests finish and
//! exit 0 with their writes on disk; a corrupt, unreadable or unwritable (full) database ends
//! start-up with one clear line and a non-zero exit, never a panic. (Bad configuration and a
//! locked database are covered in `cli.rs`.)

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::support::{one_line_failure, rcpush, rcpush_via, Server, BIN, RODRIQ};
use serde_json::json;

/// A database holding the demo bundle.
fn seeded(db: &Path) {
    let out = rcpush(db)
        .args(["seed", "data/seed.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn sigterm_and_sigint_finish_in_flight_requests_then_exit_0() {
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let server = Server::start(&mut rcpush(&db));
        // Logins hash a password (tens of ms, two at a time): ten are still running when
        // the signal arrives.
        let start = Arc::new(Barrier::new(11));
        let logins: Vec<_> = (0..10)
            .map(|_| {
                let (client, start) = (server.client(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let body = json!({"user": "alice", "password": "alice-demo"});
                    let r = client.call("POST", "/api/v1/login", None, Some(&body))?;
                    if r.status != 200 {
                        return Err(format!("{}: {}", r.status, r.body));
                    }
                    let token = r.json()["data"]["authToken"].as_str().unwrap().to_string();
                    Ok::<_, String>((token, Instant::now()))
                })
            })
            .collect();
        start.wait();
        std::thread::sleep(Duration::from_millis(60));
        let signalled = Instant::now();
        server.signal(signal);
        let (tokens, answered): (Vec<String>, Vec<Instant>) = logins
            .into_iter()
            .map(|t| t.join().unwrap().expect("in-flight login answered"))
            .unzip();
        assert!(
            answered.iter().any(|t| *t > signalled),
            "some logins were still in flight at SIG{signal}"
        );
        let mut server = server;
        let status = server.child.wait().unwrap();
        assert!(status.success(), "SIG{signal}: {status:?}");
        drop(server);
        let server = Server::start(&mut rcpush(&db));
        for token in tokens {
            let r = server
                .client()
                .get("/api/v1/me", Some(("A7dm3kQzR9xYpW2bn", &token)));
            assert_eq!(
                r.status, 200,
                "a login acknowledged before SIG{signal} was kept"
            );
        }
        assert!(server.terminate().success());
    }
}

#[test]
fn a_corrupt_database_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    // Damage all through the log, then only to the snapshot files.
    for (name, damage) in [("log", "db"), ("snapshot", "snap.")] {
        let db = dir.path().join(name);
        seeded(&db);
        let s = Server::start(&mut rcpush(&db));
        let st = s.terminate();
        assert!(st.success(), "{st:?}");
        for entry in std::fs::read_dir(&db).unwrap() {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_string_lossy().to_string();
            if file == damage || (damage.ends_with('.') && file.starts_with(damage)) {
                let mut bytes = std::fs::read(&path).unwrap();
                for b in bytes.iter_mut().step_by(97) {
                    *b ^= 0x5A;
                }
                std::fs::write(&path, bytes).unwrap();
            }
        }
        let err = one_line_failure(&rcpush(&db).output().unwrap());
        assert!(err.contains("corrupt"), "{name}: {err}");
    }
}

#[test]
fn an_unreadable_database_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_directory = dir.path().join("file");
    std::fs::write(&not_a_directory, "not a database").unwrap();
    let err = one_line_failure(&rcpush(&not_a_directory).output().unwrap());
    assert!(err.contains("cannot open database"), "{err}");

    // Permissions only bind when the tests do not run as root.
    let db = dir.path().join("db");
    seeded(&db);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read_dir(&db).is_err() {
        let err = one_line_failure(&rcpush(&db).output().unwrap());
        assert!(err.contains("cannot open database"), "{err}");
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A full disk, produced with a file size limit: the log cannot grow (EFBIG, as ENOSPC would).
#[test]
fn a_full_disk_is_one_clear_line_at_start_and_a_500_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    seeded(&db);
    let limited = |blocks: u32| {
        let mut sh = Command::new("bash");
        sh.arg("-c")
            .arg(format!("trap '' XFSZ; ulimit -f {blocks}; exec \"$0\""))
            .arg(BIN);
        rcpush_via(sh, &db)
    };
    let err = one_line_failure(&limited(16).output().unwrap());
    assert!(err.contains("the disk is full"), "{err}");

    let server = Server::start(&mut limited(1200));
    let text = "x".repeat(4000);
    let mut statuses = Vec::new();
    for i in 0..400 {
        let r = server.client().post(
            "/api/v1/chat.sendMessage",
            Some(RODRIQ),
            &json!({"message": {"_id": format!("full{i}"), "rid": "iu7jtPAhvEeAS5tNq", "msg": text}}),
        );
        statuses.push(r.status);
        match r.status {
            500 => {
                assert_eq!(
                    r.body,
                    r#"{"success":false,"error":"Internal server error"}"#
                );
                break;
            }
            _ => assert!(r.status < 400, "{}: {}", r.status, r.body),
        }
    }
    assert_eq!(statuses.last(), Some(&500), "the limit was reached");
    assert_eq!(server.push_get("WkbwSntxt8D3jLp8G").0, 200, "reads go on");
    let log = server.drain_log().join("\n");
    assert!(!log.contains("panicked"), "{log}");
}
