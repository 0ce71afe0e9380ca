//! The change feed (issue 25 item 5), observed at the library's level: `Store::feed()` of
//! stores opened on this binary's backend, with no socket in between. On PostgreSQL, two
//! stores on one database are two instances (each its own pool and listener connection):
//! a write on one reaches the other's feed in order, a listener whose connection is cut
//! catches up, and a gap it cannot fill is a `Resync`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rcpush::config::Backend;
use rcpush::model::change::{Change, Event};
use rcpush::model::{object, Room, Subscription};
use rcpush::store::{LoginToken, Store};
use serde_json::json;
use tokio::sync::broadcast::Receiver;

/// A store on this binary's backend (and its directory, for sled); `None` where PostgreSQL
/// is missing, as `spawn_app!`.
fn open() -> Option<(tempfile::TempDir, Store, Option<String>)> {
    let dir = tempfile::tempdir().unwrap();
    if crate::BACKEND == Backend::Postgres {
        let url = crate::support::postgres::database_or_skip()?;
        let store = Store::open_postgres(&url, 2).unwrap();
        return Some((dir, store, Some(url)));
    }
    let store = Store::open(&dir.path().join("db"), 4).unwrap();
    Some((dir, store, None))
}

/// A store as `open`, on PostgreSQL only (`None` on sled).
fn on_postgres() -> Option<(tempfile::TempDir, Store, String)> {
    if crate::BACKEND != Backend::Postgres {
        return None;
    }
    let (dir, store, url) = open()?;
    Some((dir, store, url?))
}

/// The next `n` events, waiting for a listener in another connection as long as needed
/// (the bound only keeps a broken build from hanging).
fn next(rx: &mut Receiver<Arc<Change>>, n: usize) -> Vec<Arc<Change>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while got.len() < n {
        match rx.try_recv() {
            Ok(change) => got.push(change),
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                assert!(Instant::now() < deadline, "only {got:?} of {n} events came");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
    got
}

fn kind(event: &Event) -> &'static str {
    match event {
        Event::MessageInserted { .. } => "MessageInserted",
        Event::MessageUpdated { .. } => "MessageUpdated",
        Event::MessageDeleted { .. } => "MessageDeleted",
        Event::SubscriptionChanged { .. } => "SubscriptionChanged",
        Event::SubscriptionRemoved { .. } => "SubscriptionRemoved",
        Event::RoomChanged { .. } => "RoomChanged",
        Event::RoomRemoved { .. } => "RoomRemoved",
        Event::UserChanged { .. } => "UserChanged",
        Event::LoginTokensRemoved { .. } => "LoginTokensRemoved",
        Event::TeamsChanged => "TeamsChanged",
        Event::SettingsChanged => "SettingsChanged",
        Event::Resync => "Resync",
    }
}

fn kinds(changes: &[Arc<Change>]) -> Vec<&'static str> {
    changes.iter().map(|c| kind(&c.event)).collect()
}

fn seqs(changes: &[Arc<Change>]) -> Vec<u64> {
    changes.iter().map(|c| c.seq).collect()
}

fn room(id: &str) -> Room {
    Room(object(json!({"_id": id, "t": "c", "name": id, "usersCount": 1})))
}

fn member(uid: &str, rid: &str) -> Subscription {
    Subscription(object(
        json!({"_id": format!("{uid}-{rid}"), "rid": rid, "u": {"_id": uid}, "unread": 0}),
    ))
}

/// A room with one member, a session, its end: five events.
fn three_writes(store: &Store, n: usize) {
    let rid = format!("r{n}");
    store.create_room(&room(&rid), &[member("u1", &rid)]).unwrap();
    let token = LoginToken {
        user_id: "u1".into(),
        when: "2024-01-01T00:00:00.000Z".into(),
    };
    store.add_login_token(&format!("h{n}"), &token, None).unwrap();
    assert!(store.remove_login_token(&format!("h{n}")).unwrap());
}

fn assert_consecutive(changes: &[Arc<Change>]) {
    let seqs = seqs(changes);
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "numbers skip: {seqs:?}"
    );
}

#[test]
fn every_committed_write_is_announced_once_in_commit_order() {
    let Some((_dir, store, _)) = open() else {
        return;
    };
    let mut rx = store.feed().subscribe();
    three_writes(&store, 1);
    three_writes(&store, 2);
    let changes = next(&mut rx, 6);
    assert_eq!(
        kinds(&changes),
        [
            "RoomChanged",
            "SubscriptionChanged",
            "LoginTokensRemoved",
            "RoomChanged",
            "SubscriptionChanged",
            "LoginTokensRemoved"
        ]
    );
    assert_consecutive(&changes);
    let Event::RoomChanged { room } = &changes[3].event else {
        unreachable!()
    };
    assert_eq!(room.id(), "r2");
    let Event::LoginTokensRemoved {
        user_id,
        token_hashes,
    } = &changes[5].event
    else {
        unreachable!()
    };
    assert_eq!((user_id.as_str(), token_hashes.as_slice()), ("u1", &["h2".to_string()][..]));
    // Nothing more: a login is no event.
    std::thread::sleep(Duration::from_millis(200));
    assert!(rx.try_recv().is_err());
}

#[test]
fn a_reset_is_a_resync_numbered_one_on_every_instance() {
    let Some((_dir, store, url)) = open() else {
        return;
    };
    let other = url.map(|url| Store::open_postgres(&url, 2).unwrap());
    let start = store.capture_state().unwrap();
    let mut rx = store.feed().subscribe();
    let mut rx_other = other.as_ref().map(|o| o.feed().subscribe());
    three_writes(&store, 1);
    store.restore(&start).unwrap();
    three_writes(&store, 2);
    for rx in std::iter::once(&mut rx).chain(rx_other.as_mut()) {
        // Events before the reset that a listener had not read yet are covered by its
        // Resync (PostgreSQL forgets them with the journal).
        let mut before = 0;
        let resync = loop {
            let change = next(rx, 1).remove(0);
            if kind(&change.event) == "Resync" {
                break change;
            }
            before += 1;
        };
        assert_eq!(resync.seq, 1);
        assert!(before <= 3);
        let after = next(rx, 3);
        assert_eq!(seqs(&after), [2, 3, 4]);
    }
}

/// Runs `sql` in the database at `url`.
fn psql(url: &str, sql: &str) {
    crate::support::postgres::cluster()
        .expect("the test cluster")
        .psql(url, sql);
}

/// Ends every listener connection of the database at `url`.
fn cut_listeners(url: &str) {
    let database = url.rsplit('/').next().unwrap();
    psql(
        url,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'rcpush-listener' AND datname = '{database}'"
        ),
    );
}

fn reconnects(store: &Store) -> u64 {
    let mut registry = rcpush::metrics::Registry::default();
    store.feed().register(&mut registry);
    let text = rcpush::metrics::encode(&registry).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("rcpush_changes_listener_reconnects_total "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_write_on_one_instance_reaches_another_in_order_and_a_cut_listener_misses_nothing() {
    let Some((_dir, a, url)) = on_postgres() else {
        return;
    };
    let b = Store::open_postgres(&url, 2).unwrap();
    let mut on_a = a.feed().subscribe();
    let mut on_b = b.feed().subscribe();
    three_writes(&a, 1);
    let seen_a = next(&mut on_a, 3);
    let seen_b = next(&mut on_b, 3);
    assert_eq!(seqs(&seen_a), seqs(&seen_b));
    assert_eq!(kinds(&seen_b), ["RoomChanged", "SubscriptionChanged", "LoginTokensRemoved"]);

    // Cut both listeners, write on both instances meanwhile: after the reconnect each feed
    // goes on from where it was, every event once, no resync.
    cut_listeners(&url);
    three_writes(&a, 2);
    three_writes(&b, 3);
    three_writes(&a, 4);
    for (rx, before) in [(&mut on_a, &seen_a), (&mut on_b, &seen_b)] {
        let after = next(rx, 9);
        assert!(!kinds(&after).contains(&"Resync"), "{:?}", kinds(&after));
        assert_eq!(after[0].seq, before[2].seq + 1);
        assert_consecutive(&after);
        let rooms: Vec<&str> = after
            .iter()
            .filter_map(|c| match &c.event {
                Event::RoomChanged { room } => Some(room.id()),
                _ => None,
            })
            .collect();
        assert_eq!(rooms, ["r2", "r3", "r4"], "in commit order");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while reconnects(&a) == 0 || reconnects(&b) == 0 {
        assert!(Instant::now() < deadline, "no reconnect counted");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_gap_a_listener_cannot_fill_is_a_resync() {
    let Some((_dir, a, url)) = on_postgres() else {
        return;
    };
    let b = Store::open_postgres(&url, 2).unwrap();
    let mut on_b = b.feed().subscribe();
    three_writes(&a, 1);
    let before = next(&mut on_b, 3);
    // While the listeners are away, five events are written and pruned (as if another
    // instance had written them and the retention had run out).
    cut_listeners(&url);
    psql(
        &url,
        "UPDATE changes_seq SET last = last + 5; DELETE FROM changes",
    );
    three_writes(&a, 2);
    let after = next(&mut on_b, 4);
    assert_eq!(kinds(&after)[0], "Resync");
    assert_eq!(after[0].seq, before[2].seq + 5, "it stands for the events missed");
    assert_eq!(seqs(&after[1..]), (0..3).map(|i| before[2].seq + 6 + i).collect::<Vec<_>>());
    assert_eq!(
        kinds(&after[1..]),
        ["RoomChanged", "SubscriptionChanged", "LoginTokensRemoved"]
    );
}

/// The journal's tables are created like the trees' where missing: a database written by an
/// rcpush from before the feed needs no schema bump, only a restart of its instances.
#[test]
fn a_database_from_before_the_feed_gets_its_journal_when_opened() {
    let Some((_dir, store, url)) = on_postgres() else {
        return;
    };
    three_writes(&store, 1);
    drop(store);
    psql(&url, "DROP TABLE changes; DROP TABLE changes_seq");
    let store = Store::open_postgres(&url, 2).unwrap();
    let mut rx = store.feed().subscribe();
    three_writes(&store, 2);
    let changes = next(&mut rx, 3);
    assert_eq!(seqs(&changes), [1, 2, 3]);
    assert!(store.room("r1").unwrap().is_some(), "the data is untouched");
}

/// The rows of the journal of the database at `url`.
fn journal_rows(url: &str) -> i64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let row = client
            .query_one("SELECT count(*) FROM changes", &[])
            .await
            .unwrap();
        row.get(0)
    })
}

/// Waits until the journal holds `rows` rows (a listener prunes when it starts).
fn wait_for_journal(url: &str, rows: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while journal_rows(url) != rows {
        assert!(Instant::now() < deadline, "the journal kept {} rows", journal_rows(url));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_journal_keeps_the_newest_rows_and_none_older_than_its_age() {
    let Some((_dir, a, url)) = on_postgres() else {
        return;
    };
    three_writes(&a, 1);
    three_writes(&a, 2);
    assert_eq!(journal_rows(&url), 6);
    let hour = Duration::from_secs(3600);
    let by_count = rcpush::store::Retention { age: hour, rows: 2 };
    let _pruner = Store::open_postgres_retaining(&url, 2, by_count).unwrap();
    wait_for_journal(&url, 2);
    let by_age = rcpush::store::Retention {
        age: Duration::ZERO,
        rows: 1000,
    };
    let _pruner = Store::open_postgres_retaining(&url, 2, by_age).unwrap();
    wait_for_journal(&url, 0);
    // The numbers go on where they were.
    let mut rx = a.feed().subscribe();
    three_writes(&a, 3);
    assert_eq!(seqs(&next(&mut rx, 3)), [7, 8, 9]);
}
