//! Backups: `rcpush export` while the server runs and writes, `rcpush seed` into an empty
//! database, and nothing lost: every entry of every tree equal.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::support::client::Client;
use crate::support::{rcpush, Server, ALICE, BOB};
use rcpush::store::trees::Tree;
use rcpush::store::Store;
use serde_json::json;

const DM: &str = "A7dm3kQzR9xYpW2bnB8fn4mRaS2yZqX3cp";

fn run(db: &Path, args: &[&str]) -> String {
    run_command(rcpush(db), args)
}

fn run_command(mut command: std::process::Command, args: &[&str]) -> String {
    let out = command.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Posts `body` as `auth`'s user; panics unless it succeeds.
pub(crate) fn post(server: &Server, path: &str, auth: (&str, &str), body: serde_json::Value) {
    let r = server.client().post(path, Some(auth), &body);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
}

/// A tree's raw entries.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Every tree's entries, for comparing two databases.
fn contents(db: &Path) -> Vec<(Tree, Entries)> {
    contents_of(&Store::open(db, 8).unwrap())
}

/// (Without `settings_version`, which counts a database's own setting changes for the
/// processes that share it: no part of the workspace. Subscriptions and badges as read, their
/// rooms' unfolded counter records merged: a restore writes them folded into the documents.)
fn contents_of(store: &Store) -> Vec<(Tree, Entries)> {
    Tree::ALL
        .iter()
        .map(|t| {
            let mut entries = store.entries(*t).unwrap();
            entries.retain(|(k, _)| !(*t == Tree::Meta && k == b"settings_version"));
            match t {
                Tree::UserroomidSubscription => {
                    for (key, value) in &mut entries {
                        let at = key.iter().position(|b| *b == 0xff).unwrap();
                        let user = std::str::from_utf8(&key[..at]).unwrap();
                        let room = std::str::from_utf8(&key[at + 1..]).unwrap();
                        let read = store.subscription(room, user).unwrap().unwrap();
                        *value = serde_json::to_vec(&read).unwrap();
                    }
                }
                Tree::UserroomidCounters | Tree::RoomseqBumps => entries.clear(),
                Tree::UseridBadge => {
                    let mut users: std::collections::BTreeSet<Vec<u8>> =
                        entries.iter().map(|(k, _)| k.clone()).collect();
                    for (key, _) in store.entries(Tree::UserroomidSubscription).unwrap() {
                        let at = key.iter().position(|b| *b == 0xff).unwrap();
                        users.insert(key[..at].to_vec());
                    }
                    entries = users
                        .into_iter()
                        .filter_map(|user| {
                            let badge = store.badge(std::str::from_utf8(&user).unwrap()).unwrap();
                            (badge != 0).then(|| (user, badge.to_string().into_bytes()))
                        })
                        .collect();
                }
                _ => {}
            }
            (*t, entries)
        })
        .collect()
}

/// The restored database is consistent and its DM counters agree with its messages.
fn assert_consistent(db: &Path) {
    let store = Store::open(db, 8).unwrap();
    assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
    let ids = store.room_message_ids(DM).unwrap();
    assert_eq!(store.room(DM).unwrap().unwrap().0["msgs"], json!(ids.len()));
    let unread = store.subscription(DM, BOB.0).unwrap().unwrap().unread();
    assert_eq!(unread as usize, ids.len(), "every DM message is alice's");
}

#[test]
fn export_while_serving_then_seed_restores_every_document() {
    let dir = tempfile::tempdir().unwrap();
    let (live, restored, offline) = (
        dir.path().join("live"),
        dir.path().join("restored"),
        dir.path().join("offline"),
    );
    let server = Server::start(&mut rcpush(&live));
    post(
        &server,
        "/api/v1/im.create",
        ALICE,
        json!({"username": "bob"}),
    );
    post(
        &server,
        "/api/v1/channels.create",
        ALICE,
        json!({"name": "backup-room", "members": ["bob"]}),
    );
    // A writer keeps posting while the export runs: the bundle must still be one state.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (client, stop) = (Client::pooled(server.url("")), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                client.post_message(ALICE, DM, &format!("backup {n} :tada:"));
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let online = dir.path().join("online.json");
    let said = run(&live, &["export", online.to_str().unwrap()]);
    assert!(said.contains("exported"), "{said}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&online).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the bundle holds hashes: owner-only");
    stop.store(true, Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
    assert!(server.terminate().success());

    run(&offline, &["seed", online.to_str().unwrap()]);
    assert_consistent(&offline);

    // Offline, the export reads the database directly; the restore equals it entry by entry.
    let bundle = dir.path().join("offline.json");
    run(&live, &["export", bundle.to_str().unwrap()]);
    run(&restored, &["seed", bundle.to_str().unwrap()]);
    assert_consistent(&restored);
    for ((tree, a), (_, b)) in contents(&live).into_iter().zip(contents(&restored)) {
        assert_eq!(a, b, "{tree:?} differs after export and seed");
    }
    run(&restored, &["check"]);
}

#[test]
fn a_workspace_moves_from_sled_to_postgresql_and_back_unchanged() {
    let Some(url) = crate::support::postgres::database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (live, back) = (dir.path().join("live"), dir.path().join("back"));
    let server = Server::start(&mut rcpush(&live));
    post(
        &server,
        "/api/v1/im.create",
        ALICE,
        json!({"username": "bob"}),
    );
    for n in 0..20 {
        post(
            &server,
            "/api/v1/chat.postMessage",
            ALICE,
            json!({"roomId": DM, "text": format!("moving {n} :tada:")}),
        );
    }
    post(
        &server,
        "/api/v1/push.token",
        BOB,
        json!({"type": "gcm", "value": "bob-device", "appName": "chat.rocket.android"}),
    );
    assert!(server.terminate().success());

    let postgres = || crate::support::rcpush_on_postgres(dir.path(), &url);
    let (from_sled, from_postgres) = (dir.path().join("a.json"), dir.path().join("b.json"));
    run(&live, &["export", from_sled.to_str().unwrap()]);
    run_command(postgres(), &["seed", from_sled.to_str().unwrap()]);
    run_command(postgres(), &["check"]);
    let on_postgres = contents_of(&Store::open_postgres(&url, 2).unwrap());
    for ((tree, a), (_, b)) in contents(&live).into_iter().zip(on_postgres) {
        assert_eq!(a, b, "{tree:?} differs on PostgreSQL");
    }

    run_command(postgres(), &["export", from_postgres.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(&from_sled).unwrap(),
        std::fs::read(&from_postgres).unwrap(),
        "the two exports differ"
    );
    run(&back, &["seed", from_postgres.to_str().unwrap()]);
    for ((tree, a), (_, b)) in contents(&live).into_iter().zip(contents(&back)) {
        assert_eq!(a, b, "{tree:?} differs after the round trip");
    }
}

/// The push credentials stay out of a backup unless asked for; with `--include-secrets` a
/// restore has them again.
#[test]
fn export_leaves_the_secret_settings_out_unless_asked() {
    const SECRET: &str = "apn-key-secret-7f3a";
    let dir = tempfile::tempdir().unwrap();
    let (live, plain, full) = (
        dir.path().join("live"),
        dir.path().join("plain"),
        dir.path().join("full"),
    );
    let mut command = rcpush(&live);
    command.env("RCPUSH_SETTINGS_Push_apn_key", SECRET);
    let server = Server::start(&mut command);
    let online = dir.path().join("online.json");
    let said = run(&live, &["export", online.to_str().unwrap()]);
    assert!(said.contains("--include-secrets"), "{said}");
    assert!(!std::fs::read_to_string(&online).unwrap().contains(SECRET));
    assert!(server.terminate().success());

    let without = dir.path().join("without.json");
    run(&live, &["export", without.to_str().unwrap()]);
    assert!(!std::fs::read_to_string(&without).unwrap().contains(SECRET));
    run(&plain, &["seed", without.to_str().unwrap()]);
    let with = dir.path().join("with.json");
    let said = run(
        &live,
        &["export", "--include-secrets", with.to_str().unwrap()],
    );
    assert!(!said.contains("left out"), "{said}");
    assert!(std::fs::read_to_string(&with).unwrap().contains(SECRET));
    run(&full, &["seed", with.to_str().unwrap()]);

    let apn_key = |db: &Path| {
        let store = Store::open(db, 8).unwrap();
        let (_, doc) = store
            .entries(Tree::SettingidSetting)
            .unwrap()
            .into_iter()
            .find(|(k, _)| k == b"Push_apn_key")
            .expect("a restore has every setting");
        let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        doc["value"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(apn_key(&full), SECRET);
    // The plain restore has the setting, blank, once a server has started on it.
    assert!(Server::start(&mut rcpush(&plain)).terminate().success());
    assert_eq!(apn_key(&plain), "");
}

/// A backup job run from the wrong folder must fail, not write an empty backup; and a
/// backup never replaces a file unless told to.
#[test]
fn export_needs_a_database_and_replaces_a_file_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let (db, bundle) = (dir.path().join("db"), dir.path().join("backup.json"));
    let out = rcpush(&db)
        .args(["export", bundle.to_str().unwrap()])
        .output()
        .unwrap();
    let err = crate::support::one_line_failure(&out);
    assert!(
        err.contains(&format!("there is no database at {}", db.display())),
        "{err}"
    );
    assert!(!db.exists(), "export creates no database");
    assert!(!bundle.exists(), "no empty backup is written");
    // Nor in a folder that holds no database.
    std::fs::create_dir(&db).unwrap();
    let out = rcpush(&db).arg("export").arg(&bundle).output().unwrap();
    assert!(crate::support::one_line_failure(&out).contains("there is no database at"));
    assert_eq!(
        std::fs::read_dir(&db).unwrap().count(),
        0,
        "the folder stays empty"
    );
    std::fs::remove_dir(&db).unwrap();

    crate::cli::seed_demo(&db);
    std::fs::write(&bundle, "an older backup").unwrap();
    let out = rcpush(&db).arg("export").arg(&bundle).output().unwrap();
    let err = crate::support::one_line_failure(&out);
    assert!(err.contains("exists") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&bundle).unwrap(), "an older backup");
    let said = run(&db, &["export", "--force", bundle.to_str().unwrap()]);
    assert!(said.contains("exported"), "{said}");
    assert!(
        rcpush::seed::read_file(&bundle).is_ok(),
        "the new backup replaced it"
    );
}

/// On PostgreSQL too, a command that needs a database finds one or says so: it creates no
/// tables in an empty database.
#[test]
fn read_only_commands_create_no_tables_in_an_empty_postgresql_database() {
    let Some(url) = crate::support::postgres::database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("backup.json");
    let cases: [&[&str]; 3] = [
        &["check"],
        &["export", bundle.to_str().unwrap()],
        &["admin", "reset-password", "alice"],
    ];
    for args in cases {
        let out = crate::support::rcpush_on_postgres(dir.path(), &url)
            .args(args)
            .output()
            .unwrap();
        let err = crate::support::one_line_failure(&out);
        assert!(
            err.contains("there is no database at PostgreSQL"),
            "{args:?}: {err}"
        );
    }
    assert!(!bundle.exists());
    assert!(
        Store::open_existing_postgres(&url, 2).is_err(),
        "still no rcpush tables"
    );
    // Once a server has started there, they find it.
    let mut command = crate::support::rcpush_on_postgres(dir.path(), &url);
    Server::start(&mut command).kill_hard();
    run_command(
        crate::support::rcpush_on_postgres(dir.path(), &url),
        &["check"],
    );
}
