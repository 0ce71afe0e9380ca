//! `rcpush import` as a command: the report, one-line failures that write nothing,
//! `--strict`, refusing a second import or a database with data, and `kill -9` mid-import
//! finished by running the same command again.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rcpush::import::fixture::{self, Form};

use crate::cli::{check_ok, seed_demo, succeeds};
use crate::support::{one_line_failure, rcpush, Server};

fn workspace_dump(dir: &Path, form: Form) -> PathBuf {
    let now = rcpush::model::time::now_millis();
    fixture::write(dir, "rocketchat", &fixture::workspace(now), form).unwrap()
}

fn import(db: &Path, path: &Path) -> Command {
    let mut c = rcpush(db);
    c.arg("import").arg(path);
    c
}

#[test]
fn import_reports_what_it_did_and_refuses_to_run_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let dump = workspace_dump(dir.path(), Form::ArchiveGzip);
    let out = succeeds(&mut import(&db, &dump));
    for line in [
        "rcpush: import: mongodump archive (gzip) (database rocketchat, MongoDB 7.0.14)",
        "Rocket.Chat schema version 320",
        "uniqueID wkspc-unique-1",
        "skipped 1: devices of no imported user",
        "skipped 1: devices registered again later (older duplicate)",
        "1 session tokens expired (dropped)",
        "4 passwords: bcrypt",
        "not imported: rocketchat_sessions",
        "self-check: 6 messages and 2 users' login tokens read back as written",
        "1 teams: private (their public rooms readable by members only)",
        "skipped 1: team members without teamId or userId",
        "rcpush: imported ",
    ] {
        assert!(out.contains(line), "{line} missing from:\n{out}");
    }
    assert!(!out.contains("hunter2"), "a secret was printed");
    assert!(check_ok(&db).contains("5 users"));
    // From standard input (`docker exec … mongodump --archive | rcpush import -`).
    let again = import(&db, Path::new("-"))
        .stdin(std::fs::File::open(&dump).unwrap())
        .output()
        .unwrap();
    assert!(one_line_failure(&again).contains("was already imported into this database"));
}

#[test]
fn a_database_with_data_needs_merge_and_merge_names_collisions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // The demo data and one message of the database's own: not replaceable.
    let mut bundle: serde_json::Value = serde_json::from_slice(
        &std::fs::read(crate::support::root().join("data/seed.json")).unwrap(),
    )
    .unwrap();
    let mut own = bundle["messages"][0].clone();
    own["_id"] = "OwnMessage0000001".into();
    bundle["messages"].as_array_mut().unwrap().push(own);
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, bundle.to_string()).unwrap();
    succeeds(rcpush(&db).arg("seed").arg(&file));
    let dump = workspace_dump(dir.path(), Form::Directory);
    let out = import(&db, &dump).output().unwrap();
    let line = one_line_failure(&out);
    assert!(
        line.contains("already holds 4 users, 4 rooms, 5 messages, not only what a first start")
            && line.contains("--merge"),
        "{line}"
    );
    let out = import(&db, &dump).arg("--merge").output().unwrap();
    let line = one_line_failure(&out);
    assert!(
        line.contains("collide with the database (username alice, e-mail alice@example.com"),
        "{line}"
    );
}

/// Every bad input: exit 1, one line naming the file and where, and nothing written.
#[test]
fn bad_input_fails_on_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let good = workspace_dump(dir.path(), Form::Archive);
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dir.path().join("truncated.archive");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let line = one_line_failure(&import(&db, &truncated).output().unwrap());
    assert!(
        line.contains("truncated.archive: offset ") && line.contains("truncated"),
        "{line}"
    );

    let not_a_dump = dir.path().join("notes.txt");
    std::fs::write(&not_a_dump, "hello").unwrap();
    let line = one_line_failure(&import(&db, &not_a_dump).output().unwrap());
    assert!(line.contains("notes.txt: offset 0"), "{line}");

    // A message without _id, in a dump folder.
    let folder = workspace_dump(&dir.path().join("f"), Form::Directory);
    let messages = folder.join("rocketchat/rocketchat_message.bson");
    let mut data = std::fs::read(&messages).unwrap();
    let offset = data.len();
    data.extend(
        bson::doc! {"rid": "GENERAL", "msg": "no id"}
            .to_vec()
            .unwrap(),
    );
    std::fs::write(&messages, data).unwrap();
    let line = one_line_failure(&import(&db, &folder).output().unwrap());
    assert!(
        line.contains(&format!(
            "rocketchat_message.bson: offset {offset}: a document without _id"
        )),
        "{line}"
    );

    let line = one_line_failure(&import(&db, &good).arg("--strict").output().unwrap());
    assert!(
        line.contains("--strict: ") && line.contains("nothing was written"),
        "{line}"
    );

    assert!(
        !db.exists(),
        "the database this command created is removed again"
    );
    assert!(!db.with_extension("import-staging").exists());
    // A database that existed stays, unchanged.
    drop(rcpush::store::Store::open(&db, 4).unwrap());
    one_line_failure(&import(&db, &truncated).output().unwrap());
    assert!(check_ok(&db).contains("0 users, 0 rooms, 0 subscriptions, 0 messages"));
}

/// Bytes under `dir`, recursively.
fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => size_of(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Killed while it writes (when the database has grown to a fifth, two fifths, … of its final
/// size), the same command finishes the import, and the database is then the same as after
/// an uninterrupted import.
#[test]
fn kill_9_during_an_import_is_finished_by_running_it_again() {
    let _heavy = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("big.archive");
    succeeds(
        rcpush(&dir.path().join("unused"))
            .args(["generate", "--messages", "60000", "--rocketchat-dump"])
            .arg(&dump),
    );
    let clean = dir.path().join("clean");
    succeeds(&mut import(&clean, &dump));
    let full = size_of(&clean);
    let export = |db: &Path| {
        let file = db.with_extension("json");
        succeeds(rcpush(db).arg("export").arg(&file));
        std::fs::read(file).unwrap()
    };
    let expected = export(&clean);
    for fifth in 1..=4u64 {
        let db = dir.path().join(format!("trial{fifth}"));
        let mut child = import(&db, &dump)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        while size_of(&db) < full * fifth / 5 && child.try_wait().unwrap().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let out = succeeds(&mut import(&db, &dump));
        assert!(out.contains("finishing an interrupted import"), "{out}");
        check_ok(&db);
        assert!(
            export(&db) == expected,
            "killed at {fifth}/5: differs from a clean import"
        );
    }
}

#[test]
fn messages_since_leaves_older_messages_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let dump = workspace_dump(dir.path(), Form::Archive);
    let out = succeeds(import(&db, &dump).args(["--messages-since", "2025-04-26T12:45:00Z"]));
    assert!(
        out.contains("1 messages older than --messages-since (left out)"),
        "{out}"
    );
    assert!(check_ok(&db).contains("5 messages"));
    let bad = import(&db, &dump)
        .args(["--messages-since", "last week"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a date"));
}

/// A database that holds only what a first start wrote (the admin, rocket.cat, #general,
/// settings), with or without the demo seed, takes a dump: the dump's users and rooms
/// replace those. The sample dump under data/ is such a dump.
#[test]
fn a_first_start_and_the_demo_seed_are_replaced_by_the_dump() {
    let dir = tempfile::tempdir().unwrap();
    let (served, demo) = (dir.path().join("served"), dir.path().join("demo"));
    Server::start(rcpush(&served).env("RCPUSH_SEED_FILE", "")).kill_hard();
    assert!(check_ok(&served).starts_with("rcpush: check: 2 users, 1 rooms, 1 subscriptions"));
    seed_demo(&demo);
    Server::start(&mut rcpush(&demo)).kill_hard();
    let sample = crate::support::root().join("data/rocketchat-sample.archive.gz");
    for db in [&served, &demo] {
        let out = succeeds(&mut import(db, &sample));
        assert!(
            out.contains("replaced what a first start and its seed bundle wrote"),
            "{out}"
        );
        // The dump's five users and two rooms, nothing of the placeholders.
        let check = check_ok(db);
        assert!(
            check.starts_with("rcpush: check: 5 users, 2 rooms,"),
            "{check}"
        );
        // The dump's admin signs in; rcpush's first admin is gone.
        let server = Server::start(rcpush(db).env("RCPUSH_SEED_FILE", ""));
        let login = |user: &str, password: &str| {
            ureq::post(&server.url("/api/v1/login"))
                .send_json(serde_json::json!({"user": user, "password": password}))
                .map_or_else(
                    |e| e.into_response().map_or(0, |r| r.status()),
                    |r| r.status(),
                )
        };
        assert_eq!(login("alice", "correct horse"), 200);
        assert_eq!(login("admin", crate::support::ADMIN_PASSWORD), 401);
        server.kill_hard();
    }
}
