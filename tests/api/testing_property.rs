//! The example of issue 15: a property-based test that drives rcpush, through
//! `rcpush::testing::TestServer`, with random sequences of posts, reads and membership
//! changes, and checks after each post that every push's badge is the sum of its receiver's
//! unread counts. One server for the whole test, reset between cases; the run is seeded
//! (`testing.seed`), so a failing case replays with the same ids and times. Testing mode is
//! sled-only: on the PostgreSQL run the test returns at once.

use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use rcpush::config::{Backend, Config};
use rcpush::testing::TestServer;
use serde_json::{json, Value};

use crate::helpers::{Client, ALICE, BOB, GINA, RODRIQ};

const USERS: [(&str, &str); 4] = [RODRIQ, ALICE, BOB, GINA];
const VB: &str = "iu7jtPAhvEeAS5tNq";
/// Owned by alice; rodriq is a member.
const CORE_TEAM: &str = "PrvGrp8sKq3mZ7wTx";
const DM: &str = "A7dm3kQzR9xYpW2bnd26x6zSkaPSe5gCyy";
const ROOMS: [&str; 3] = [VB, CORE_TEAM, DM];

#[derive(Debug, Clone)]
enum Op {
    Post {
        sender: usize,
        room: usize,
    },
    Read {
        user: usize,
        room: usize,
    },
    /// Leaves the channel vb (its owner, rodriq, cannot).
    Leave {
        user: usize,
    },
    /// rodriq, vb's owner, invites the user back.
    Invite {
        user: usize,
    },
    /// alice, core-team's owner, invites or removes the user.
    GroupInvite {
        user: usize,
    },
    GroupKick {
        user: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS.len();
    let room = 0..ROOMS.len();
    prop_oneof![
        4 => (user.clone(), room.clone()).prop_map(|(sender, room)| Op::Post { sender, room }),
        2 => (user.clone(), room).prop_map(|(user, room)| Op::Read { user, room }),
        1 => user.clone().prop_map(|user| Op::Leave { user }),
        1 => user.clone().prop_map(|user| Op::Invite { user }),
        1 => user.clone().prop_map(|user| Op::GroupInvite { user }),
        1 => user.prop_map(|user| Op::GroupKick { user }),
    ]
}

fn call(server: &TestServer, who: (&str, &str), method: &str, path: &str, body: Value) -> Value {
    let body = (method != "GET").then_some(&body);
    Client::new(server.url())
        .call(method, &format!("/api/v1/{path}"), Some(who), body)
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
}

/// The sum of `unread` over the user's subscriptions (none is archived here).
fn unread_sum(server: &TestServer, who: (&str, &str)) -> i64 {
    let subs = call(server, who, "GET", "subscriptions.get", Value::Null);
    subs["update"]
        .as_array()
        .expect("subscriptions")
        .iter()
        .map(|s| s["unread"].as_i64().unwrap_or(0))
        .sum()
}

/// Runs `ops` from the start-up state; returns how many pushes it checked.
fn run_case(server: &TestServer, ops: &[Op]) -> Result<usize, TestCaseError> {
    server.reset().expect("reset");
    for (i, who) in USERS.iter().enumerate() {
        let device = json!({"type": "gcm", "value": format!("device-{i}"), "appName": "app"});
        call(server, *who, "POST", "push.token", device);
    }
    let username = |u: usize| ["rodriq", "alice", "bob", "gina"][u];
    let mut checked = 0;
    for op in ops {
        match *op {
            Op::Post { sender, room } => {
                let body = json!({"roomId": ROOMS[room], "text": "hi"});
                call(server, USERS[sender], "POST", "chat.postMessage", body);
            }
            Op::Read { user, room } => {
                let body = json!({"rid": ROOMS[room]});
                call(server, USERS[user], "POST", "subscriptions.read", body);
            }
            Op::Leave { user } => {
                let body = json!({"roomId": VB});
                call(server, USERS[user], "POST", "channels.leave", body);
            }
            Op::Invite { user } => {
                let body = json!({"roomId": VB, "userId": USERS[user].0});
                call(server, RODRIQ, "POST", "channels.invite", body);
            }
            Op::GroupInvite { user } => {
                let body = json!({"roomId": CORE_TEAM, "userId": USERS[user].0});
                call(server, ALICE, "POST", "groups.invite", body);
            }
            Op::GroupKick { user } => {
                let body = json!({"roomId": CORE_TEAM, "username": username(user)});
                call(server, ALICE, "POST", "groups.kick", body);
            }
        }
        for push in server.take_pushes().expect("pushes") {
            let options = &push["body"]["options"];
            let receiver = options["userId"].as_str().expect("userId");
            let who = USERS
                .iter()
                .find(|u| u.0 == receiver)
                .expect("a push to a demo user");
            prop_assert_eq!(
                options["badge"].as_i64(),
                Some(unread_sum(server, *who)),
                "push to {} after {:?}",
                receiver,
                op
            );
            checked += 1;
        }
    }
    Ok(checked)
}

#[test]
fn every_push_badge_is_the_sum_of_its_receivers_unread_counts() {
    if crate::BACKEND == Backend::Postgres {
        return; // testing mode is sled-only
    }
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = Config::load(Some(&root.join("config.toml")), Vec::new()).expect("config");
    config.seed.file = root.join("data/seed.json").display().to_string();
    config.admin.password = crate::helpers::ADMIN_PASSWORD.into();
    config.testing.seed = Some(15);
    let server = TestServer::start(config).expect("the test server starts");
    let cases = std::env::var("RCPUSH_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    });
    let checked = std::cell::Cell::new(0);
    let start = Instant::now();
    runner
        .run(&proptest::collection::vec(op(), 1..16), |ops| {
            checked.set(checked.get() + run_case(&server, &ops)?);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{cases} cases, {} pushes checked, in {seconds:.2} s: {:.1} cases/s",
        checked.get(),
        f64::from(cases) / seconds
    );
    assert!(checked.get() > cases as usize, "too few pushes to check");
}
