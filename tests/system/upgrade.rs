//! Upgrades: a database written by an older rcpush opens with this one, migrated on start,
//! with nothing lost. `tests/fixtures/schema2-db` is a sled database (schema 2, one outbox
//! entry per device) written by the rcpush of commit 01c1129: the demo data, three devices
//! (bob's two, gina's one) and two messages of alice in `#vb`, whose six pushes wait in the
//! outbox — three after a failed first attempt, three never attempted (the process was
//! killed while the gateway held them).

use std::io::Read;
use std::path::Path;

use rcpush::store::trees::Tree;
use rcpush::store::{PendingPush, Store};
use serde_json::{json, Value};

use crate::fake_gateway::FakeGateway;
use crate::support::{rcpush, root, Server};

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// The fixture unpacked at `db`.
fn unpack(db: &Path) {
    let fixture = root().join("tests/fixtures/schema2-db");
    std::fs::create_dir_all(db.join("blobs")).unwrap();
    std::fs::copy(fixture.join("conf"), db.join("conf")).unwrap();
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture.join("db.gz")).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    std::fs::write(db.join("db"), bytes).unwrap();
}

/// Every tree of the database at `db` by name, read with sled itself, as the old rcpush
/// left it.
fn raw_trees(db: &Path) -> Vec<(String, Entries)> {
    let sled = ::sled::open(db).unwrap();
    let trees = sled
        .tree_names()
        .into_iter()
        .map(|name| {
            let tree = sled.open_tree(&name).unwrap();
            let entries = tree
                .iter()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    (k.to_vec(), v.to_vec())
                })
                .collect();
            (String::from_utf8_lossy(&name).into_owned(), entries)
        })
        .collect();
    drop(sled);
    trees
}

/// A push as a bundle lists it (without the record it belongs to, which schema 2 had not).
fn listed(pushes: &[PendingPush]) -> Vec<Value> {
    let mut listed: Vec<Value> = pushes
        .iter()
        .map(|p| serde_json::to_value(p).unwrap())
        .collect();
    listed.sort_by_key(|p| p["id"].as_str().unwrap().to_string());
    listed
}

/// Waits until no sled handle of this process holds `db`: sled releases its directory lock
/// from a background thread, a moment after the last handle is dropped. A `rcpush check`
/// (which opens it, migrating it if need be, and exits) is retried until it could open it.
fn wait_unlocked(db: &Path) {
    for _ in 0..200 {
        let out = rcpush(db).arg("check").output().unwrap();
        if out.status.success() {
            return;
        }
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("lock"), "rcpush check: {said}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the database stayed locked")
}

fn open(db: &Path) -> Store {
    wait_unlocked(db);
    Store::open(db, 8).unwrap()
}

#[test]
fn a_schema_2_database_is_migrated_and_its_queued_pushes_are_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    unpack(&db);
    let before = raw_trees(&db);
    let old_outbox: Vec<PendingPush> = before
        .iter()
        .find(|(name, _)| name == "outbox")
        .map(|(_, entries)| {
            entries
                .iter()
                .map(|(_, v)| serde_json::from_slice(v).unwrap())
                .collect()
        })
        .unwrap();
    assert_eq!(old_outbox.len(), 6, "the fixture's pending pushes");

    // Opening (`rcpush check`'s, then this process's) migrates: the same pushes wait, as
    // records, and nothing else changed.
    let store = open(&db);
    assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
    assert_eq!(store.outbox_len().unwrap(), 6);
    let pending = store.pending_pushes(100).unwrap();
    assert_eq!(listed(&pending), listed(&old_outbox));
    let meta = store.entries(Tree::Meta).unwrap();
    assert!(meta.contains(&(b"schema_version".to_vec(), b"3".to_vec())));
    for tree in Tree::ALL {
        let old = before
            .iter()
            .find(|(name, _)| name == tree.name())
            .map(|(_, e)| e.clone())
            .unwrap_or_default();
        match tree {
            Tree::Outbox | Tree::OutboxidDue => {}
            Tree::Meta => {
                let keep = |e: &Entries| -> Entries {
                    e.iter()
                        .filter(|(k, _)| k != b"schema_version")
                        .cloned()
                        .collect()
                };
                assert_eq!(keep(&store.entries(tree).unwrap()), keep(&old));
            }
            _ => assert_eq!(store.entries(tree).unwrap(), old, "{tree:?} changed"),
        }
    }

    // Delivered to the gateway the database now names, each body exactly as queued.
    let gateway = FakeGateway::start();
    let mut settings = store.all_settings().unwrap();
    settings.retain(|s| s["_id"] == "Push_gateway");
    settings[0].insert("value".into(), json!(gateway.url));
    store.put_settings(&settings).unwrap();
    drop(store);
    wait_unlocked(&db);
    let server = Server::start(&mut rcpush(&db));
    let received = gateway.wait_for(6);
    let mut sent: Vec<(String, String)> = received
        .iter()
        .map(|r| (r.path.clone(), r.body.clone()))
        .collect();
    let mut queued: Vec<(String, String)> = old_outbox
        .iter()
        .map(|p| (format!("/push/{}/send", p.service), p.body.clone()))
        .collect();
    sent.sort();
    queued.sort();
    assert_eq!(sent, queued);
    assert!(server.terminate().success());

    // Each delivery is recorded; the outbox is empty; the messages are there.
    let store = open(&db);
    let log = store.deliveries(&Default::default(), 0, 100).unwrap();
    let mut sent_ids: Vec<&str> = log
        .records
        .iter()
        .filter(|r| r.status.as_str() == "sent")
        .map(|r| r.push_id.as_str())
        .collect();
    sent_ids.sort();
    let mut queued_ids: Vec<&str> = old_outbox.iter().map(|p| p.id.as_str()).collect();
    queued_ids.sort();
    assert_eq!(sent_ids, queued_ids);
    assert_eq!(store.outbox_len().unwrap(), 0);
    let texts: Vec<String> = store
        .room_messages("iu7jtPAhvEeAS5tNq")
        .unwrap()
        .iter()
        .filter_map(|m| {
            let doc: Value = serde_json::from_str(m.raw().get()).ok()?;
            Some(doc["msg"].as_str()?.to_string())
        })
        .collect();
    assert!(texts.iter().any(|t| t == "first, before the gateway hangs"));
    assert!(texts
        .iter()
        .any(|t| t == "second, queued while the gateway hangs"));
    assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
}

/// On PostgreSQL the same migration runs over the engine: the fixture's schema 2 outbox
/// entries, put in a PostgreSQL database marked schema 2, become records on open.
#[test]
fn a_schema_2_outbox_on_postgresql_is_migrated_on_open() {
    let Some(url) = crate::support::postgres::database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    unpack(&db);
    let old: Entries = raw_trees(&db)
        .into_iter()
        .find(|(name, _)| name == "outbox")
        .map(|(_, entries)| entries)
        .unwrap();
    let old_outbox: Vec<PendingPush> = old
        .iter()
        .map(|(_, v)| serde_json::from_slice(v).unwrap())
        .collect();
    drop(Store::open_postgres(&url, 2).unwrap());
    let rows: Vec<String> = old
        .iter()
        .map(|(k, v)| {
            format!(
                "('\\x{}'::bytea, '\\x{}'::bytea)",
                hex::encode(k),
                hex::encode(v)
            )
        })
        .collect();
    crate::support::postgres::cluster().unwrap().psql(
        &url,
        &format!(
            "INSERT INTO outbox (k, v) VALUES {}; UPDATE meta SET v = convert_to('2', 'UTF8') \
             WHERE k = convert_to('schema_version', 'UTF8')",
            rows.join(", ")
        ),
    );

    let store = Store::open_postgres(&url, 2).unwrap();
    let meta = store.entries(Tree::Meta).unwrap();
    assert!(meta.contains(&(b"schema_version".to_vec(), b"3".to_vec())));
    assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
    assert_eq!(
        listed(&store.pending_pushes(100).unwrap()),
        listed(&old_outbox)
    );
}
