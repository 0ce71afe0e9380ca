//! An access oracle: spec §1.4/§0.3 written out again, as plainly as possible, and compared
//! with push.get for every user × message of random worlds (users with roles, rooms of every
//! type, discussions, teams public and private (and missing) with their members and rooms,
//! messages of deleted rooms, then joins, team members added and removed, kicks, leaves and room deletions
//! over HTTP, and attempts to change `view-c-room` with permissions.update; every message is
//! read by everyone before the ops too, so nothing prepared then may outlive them). Who may
//! delete a room or change a permission is predicted too, a deleted room's messages must be
//! unreadable to everyone, and a changed permission applies at once.
//!
//! The same worlds check the streams (realtime.md §4): every user's socket subscribes to
//! `__my_messages__` before the ops and, before and after them, gets a message posted into
//! each room exactly when the oracle says they may read it (with `roomParticipant` telling
//! their membership), so that access on the socket follows kicks, leaves, deletions and
//! permission changes as push.get's does.
//!
//! `RCPUSH_ORACLE_CASES` sets the number of worlds (default 24).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use rcpush::rules::credentials::token_hash;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::realtime_streams::socket::{is_event, room_params, Socket};

/// The world's poster: an admin member of every room (the streams need a message in each
/// room; the users of the world are not all allowed to post), outside the oracle's users.
const POSTER: &str = "oracleAdmin";
const POSTER_TOKEN: &str = "oracle-admin-token-of-a-random-world";
/// Public channels of the poster's, into which each user is invited after a round of posts:
/// the invitation's `subscriptions-changed` frame follows every earlier frame of the round.
const SENTINELS: [&str; 2] = ["oracleSentinelBefore", "oracleSentinelAfter"];

const ROLES: &[&[&str]] = &[
    &["user"],
    &["guest"],
    &["admin"],
    &["bot"],
    &["anonymous"],
    &["livechat-manager"],
    &[],
];
const TYPES: &[&str] = &["c", "p", "d", "l", "v"];

/// The roles op 4 gives `view-c-room`.
const VIEW_C_ROOM_CHANGED: &[&str] = &["admin", "guest"];

/// Spec §1.4's default permission table (plus `view-livechat-rooms` for validator 5), with
/// `view-c-room` as op 4 leaves it once `changed`.
fn holds(roles: &[&str], permission: &str, changed: bool) -> bool {
    let holders: &[&str] = match permission {
        "view-c-room" if changed => VIEW_C_ROOM_CHANGED,
        "view-c-room" => &["admin", "user", "bot", "app", "anonymous"],
        "view-d-room" => &["admin", "user", "bot", "app", "guest"],
        "view-p-room" => &["admin", "user", "anonymous", "guest"],
        "view-joined-room" => &["guest", "bot", "app", "anonymous"],
        "view-livechat-rooms" => &["livechat-manager", "livechat-monitor", "admin"],
        _ => &[],
    };
    roles.iter().any(|r| holders.contains(r))
}

#[derive(Debug, Clone)]
struct Room {
    t: &'static str,
    /// Index of the parent room; `rooms.len()` or more means a parent that does not exist.
    parent: Option<usize>,
    /// Index of the room's team; `teams.len()` or more means a team that does not exist.
    team: Option<usize>,
}

#[derive(Debug, Clone)]
struct World {
    roles: Vec<&'static [&'static str]>,
    /// Whether each team is public (`type` 0).
    teams: Vec<bool>,
    /// `(user, team)` memberships.
    team_members: BTreeSet<(usize, usize)>,
    rooms: Vec<Room>,
    /// `(user, room)` pairs with a subscription, and whether the user owns the room.
    members: Vec<(usize, usize, bool)>,
    /// Rooms that were deleted: their documents are absent, their messages remain.
    deleted: BTreeSet<usize>,
    /// `(op, actor, target, room)`: 0 invite, 1 kick, 2 leave, 3 delete the room, 4 give
    /// `view-c-room` to admins and guests only, 5 and 6 add `target` to / remove them from
    /// the room's team (by the poster, an admin).
    ops: Vec<(u8, usize, usize, usize)>,
}

fn world() -> impl Strategy<Value = World> {
    (2usize..6, 1usize..7, 0usize..3).prop_flat_map(|(users, rooms, teams)| {
        (
            prop::collection::vec(prop::sample::select(ROLES), users),
            prop::collection::vec(
                (
                    prop::sample::select(TYPES),
                    prop::option::weighted(0.35, 0..rooms + 1),
                    prop::option::weighted(0.4, 0..teams + 1),
                ),
                rooms,
            ),
            prop::collection::vec((0..users, 0..rooms, any::<bool>()), 0..users * rooms),
            prop::collection::btree_set(0..rooms, 0..2),
            prop::collection::vec((0u8..7, 0..users, 0..users, 0..rooms), 0..10),
            prop::collection::vec(any::<bool>(), teams),
            prop::collection::btree_set((0..users, 0..teams.max(1)), 0..users * teams + 1),
        )
            .prop_map(
                move |(roles, rooms, members, deleted, ops, team_types, team_members)| World {
                    roles,
                    teams: team_types,
                    team_members: team_members
                        .into_iter()
                        .filter(|(_, t)| *t < teams)
                        .collect(),
                    rooms: rooms
                        .into_iter()
                        .map(|(t, parent, team)| Room { t, parent, team })
                        .collect(),
                    members,
                    deleted,
                    ops,
                },
            )
    })
}

fn team_id(t: usize) -> String {
    format!("oracleTeam{t}")
}

fn main_room_id(t: usize) -> String {
    format!("oracleTeamMain{t}")
}

fn user_id(u: usize) -> String {
    format!("oracleUser{u}")
}

fn room_id(r: usize) -> String {
    format!("oracleRoom{r}")
}

fn token(u: usize) -> String {
    format!("oracle-token-{u}-of-a-random-world")
}

/// The world as a seed bundle; deleted rooms are simply not in it.
fn bundle(w: &World) -> Value {
    let users: Vec<Value> = w
        .roles
        .iter()
        .enumerate()
        .map(|(u, roles)| {
            json!({
                "_id": user_id(u), "username": format!("oracle{u}"), "name": format!("Oracle {u}"),
                "type": "user", "active": true, "roles": roles,
                "services": {"resume": {"loginTokens": [
                    {"when": "2024-01-01T00:00:00.000Z", "hashedToken": token_hash(&token(u))}
                ]}},
            })
        })
        .collect();
    let users: Vec<Value> = users
        .into_iter()
        .chain([json!({
            "_id": POSTER, "username": "oracle-admin", "type": "user", "active": true,
            "roles": ["admin"],
            "services": {"resume": {"loginTokens": [
                {"when": "2024-01-01T00:00:00.000Z", "hashedToken": token_hash(POSTER_TOKEN)}
            ]}},
        })])
        .collect();
    let mut rooms: Vec<Value> = w
        .rooms
        .iter()
        .enumerate()
        .filter(|(r, _)| !w.deleted.contains(r))
        .map(|(r, room)| {
            let mut doc = json!({"_id": room_id(r), "t": room.t, "name": format!("oracle-room-{r}"),
                "fname": format!("oracle-room-{r}"), "msgs": 1, "u": {"_id": user_id(0)}});
            if let Some(p) = room.parent {
                doc["prid"] = json!(room_id(p));
            }
            if let Some(t) = room.team {
                doc["teamId"] = json!(team_id(t));
            }
            doc
        })
        .collect();
    let teams: Vec<Value> = w
        .teams
        .iter()
        .enumerate()
        .map(|(t, public)| {
            json!({"_id": team_id(t), "name": format!("oracle-team-{t}"),
                "type": if *public { 0 } else { 1 }, "roomId": main_room_id(t)})
        })
        .collect();
    // Each team's main room, the poster its owner (teams.addMembers joins users to it).
    rooms.extend((0..w.teams.len()).map(|t| {
        json!({"_id": main_room_id(t), "t": "p", "name": format!("oracle-team-{t}"),
            "msgs": 0, "u": {"_id": POSTER}, "teamMain": true, "teamId": team_id(t)})
    }));
    let main_room_subscriptions = (0..w.teams.len()).map(|t| {
        json!({"_id": format!("oracleSub-poster-main{t}"), "rid": main_room_id(t), "t": "p",
            "u": {"_id": POSTER, "username": "oracle-admin"}, "unread": 0, "roles": ["owner"]})
    });
    let team_members: Vec<Value> = w
        .team_members
        .iter()
        .map(|(u, t)| {
            json!({"_id": format!("oracleTeamMember{u}x{t}"), "teamId": team_id(*t),
                "userId": user_id(*u)})
        })
        .collect();
    rooms.extend(SENTINELS.iter().map(|s| {
        json!({"_id": s, "t": "c", "name": s, "fname": s, "msgs": 0, "u": {"_id": POSTER}})
    }));
    let poster_rooms: Vec<Value> = (0..w.rooms.len())
        .filter(|r| !w.deleted.contains(r))
        .map(|r| (room_id(r), w.rooms[r].t))
        .chain(SENTINELS.iter().map(|s| (s.to_string(), "c")))
        .map(|(rid, t)| {
            json!({
                "_id": format!("oracleSub-poster-{rid}"), "rid": rid, "t": t,
                "u": {"_id": POSTER, "username": "oracle-admin"}, "unread": 0, "roles": ["owner"],
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    let subscriptions: Vec<Value> = w
        .members
        .iter()
        .filter(|(u, r, _)| seen.insert((*u, *r)))
        .map(|(u, r, owner)| {
            json!({
                "_id": format!("oracleSub{u}x{r}"), "rid": room_id(*r), "t": w.rooms[*r].t,
                "u": {"_id": user_id(*u), "username": format!("oracle{u}")},
                "unread": 0, "roles": if *owner { json!(["owner"]) } else { json!([]) },
            })
        })
        .chain(poster_rooms)
        .chain(main_room_subscriptions)
        .collect();
    let messages: Vec<Value> = (0..w.rooms.len()).map(|r| json!({
        "_id": format!("oracleMsg{r}"), "rid": room_id(r), "msg": "hi",
        "ts": "2024-01-02T00:00:00.000Z",
        "u": {"_id": user_id(r % w.roles.len()), "username": format!("oracle{}", r % w.roles.len())},
    })).collect();
    json!({"users": users, "rooms": rooms, "subscriptions": subscriptions, "messages": messages,
        "teams": teams, "teamMembers": team_members})
}

/// Who is subscribed where, who owns which room, which rooms were deleted over HTTP.
#[derive(Debug, Default)]
struct State {
    subscribed: BTreeSet<(usize, usize)>,
    /// `(user, team)` memberships.
    team_members: BTreeSet<(usize, usize)>,
    owners: BTreeSet<(usize, usize)>,
    erased: BTreeSet<usize>,
    /// Whether an admin's permissions.update changed `view-c-room`.
    view_c_room_changed: bool,
}

/// The oracle: may `user` read room `r`, given who is subscribed where?
fn may_read(w: &World, state: &State, user: usize, r: usize, depth: usize) -> bool {
    let subscribed = &state.subscribed;
    if r >= w.rooms.len() || w.deleted.contains(&r) || state.erased.contains(&r) || depth > 16 {
        return false;
    }
    let (room, roles) = (&w.rooms[r], w.roles[user]);
    let holds = |p: &str| holds(roles, p, state.view_c_room_changed);
    // Validators 1 and 2: a public room of a public team (or of none) needs view-c-room; of
    // a private or missing team, membership of the team.
    let public = room.t == "c"
        && match room.team {
            Some(t) if !w.teams.get(t).copied().unwrap_or(false) => {
                state.team_members.contains(&(user, t))
            }
            _ => holds("view-c-room"),
        };
    let joined = subscribed.contains(&(user, r))
        && (holds("view-joined-room") || holds(&format!("view-{}-room", room.t)));
    let discussion = room
        .parent
        .is_some_and(|p| may_read(w, state, user, p, depth + 1));
    let livechat = matches!(room.t, "l" | "v") && holds("view-livechat-rooms");
    public || joined || discussion || livechat
}

/// `eraseRoom`'s rule: a group is found only by its members; the actor must be able to read
/// the room and hold `delete-c` / `delete-p` (admins, and the room's owners).
fn may_delete(w: &World, state: &State, actor: usize, r: usize) -> bool {
    let found = !w.deleted.contains(&r)
        && !state.erased.contains(&r)
        && (w.rooms[r].t == "c" || state.subscribed.contains(&(actor, r)));
    found
        && may_read(w, state, actor, r, 0)
        && (w.roles[actor].contains(&"admin") || state.owners.contains(&(actor, r)))
}

/// The memberships the world starts with.
fn initial_state(w: &World) -> State {
    let mut seen = BTreeSet::new();
    let mut state = State {
        team_members: w.team_members.clone(),
        ..State::default()
    };
    for &(u, r, owner) in &w.members {
        if seen.insert((u, r)) {
            state.subscribed.insert((u, r));
            if owner {
                state.owners.insert((u, r));
            }
        }
    }
    state
}

/// One round of the streams' check: the poster posts into every room that still exists,
/// then invites each user into `sentinel`; up to that invitation's frame, each user's
/// socket must have got exactly the messages of the rooms the oracle lets them read.
fn stream_round(
    app: &TestApp,
    w: &World,
    state: &State,
    sockets: &mut [Socket],
    sentinel: &str,
) -> Result<(), TestCaseError> {
    let poster = Some((POSTER, POSTER_TOKEN));
    let mut posted = Vec::new();
    for r in 0..w.rooms.len() {
        if w.deleted.contains(&r) || state.erased.contains(&r) {
            continue;
        }
        let body = json!({"roomId": room_id(r), "text": format!("{sentinel} {r}")});
        let resp = app.post("/api/v1/chat.postMessage", poster, &body);
        assert!(resp.status < 500, "posting: {}", resp.body);
        if resp.status == 200 {
            let id = resp.json()["message"]["_id"].as_str().unwrap().to_string();
            posted.push((r, id));
        }
    }
    for (u, socket) in sockets.iter_mut().enumerate() {
        let body = json!({"roomId": sentinel, "userId": user_id(u)});
        let resp = app.post("/api/v1/channels.invite", poster, &body);
        assert_eq!(resp.status, 200, "{}", resp.body);
        let event = format!("{}/subscriptions-changed", user_id(u));
        let frames = socket.until(|f| {
            is_event(f, "stream-notify-user", &event) && f["fields"]["args"][1]["rid"] == sentinel
        });
        let got: BTreeMap<&str, &Value> = frames
            .iter()
            .filter(|f| is_event(f, "stream-room-messages", "__my_messages__"))
            .filter_map(|f| {
                let args = &f["fields"]["args"];
                Some((args[0]["_id"].as_str()?, &args[1]["roomParticipant"]))
            })
            .collect();
        for (r, id) in &posted {
            let expected = may_read(w, state, u, *r, 0);
            let participant = json!(state.subscribed.contains(&(u, *r)));
            prop_assert_eq!(
                got.get(id.as_str()).copied(),
                expected.then_some(&participant),
                "{}: user {} ({:?}) × room {} ({:?}) on the socket; {:?}",
                sentinel,
                u,
                w.roles[u],
                r,
                w.rooms[*r],
                state
            );
        }
    }
    Ok(())
}

/// Runs the membership operations and deletions over HTTP; membership follows the
/// operations the server acknowledged, deletions must be acknowledged exactly when the
/// oracle allows them.
fn apply_ops(app: &TestApp, w: &World) -> Result<State, TestCaseError> {
    let mut state = initial_state(w);
    for &(op, actor, target, r) in &w.ops {
        if op == 4 {
            let tok = token(actor);
            let body =
                json!({"permissions": [{"_id": "view-c-room", "roles": VIEW_C_ROOM_CHANGED}]});
            let resp = app.post(
                "/api/v1/permissions.update",
                Some((&user_id(actor), &tok)),
                &body,
            );
            let admin = w.roles[actor].contains(&"admin");
            prop_assert_eq!(
                resp.status,
                if admin { 200 } else { 403 },
                "user {} ({:?}) changing view-c-room: {}",
                actor,
                w.roles[actor],
                resp.body
            );
            state.view_c_room_changed |= admin;
            continue;
        }
        if op >= 5 {
            let Some(t) = w.rooms[r].team.filter(|t| *t < w.teams.len()) else {
                continue;
            };
            let poster = Some((POSTER, POSTER_TOKEN));
            let resp = match op {
                5 => app.post(
                    "/api/v1/teams.addMembers",
                    poster,
                    &json!({"teamId": team_id(t), "members": [{"userId": user_id(target)}]}),
                ),
                _ => app.post(
                    "/api/v1/teams.removeMember",
                    poster,
                    &json!({"teamId": team_id(t), "userId": user_id(target)}),
                ),
            };
            let member = state.team_members.contains(&(target, t));
            // Removing a non-member: `member-does-not-exist` (not in the main room either).
            let expected = if op == 6 && !member { 400 } else { 200 };
            prop_assert_eq!(resp.status, expected, "team op {}: {}", op, resp.body);
            match op {
                5 => state.team_members.insert((target, t)),
                _ => state.team_members.remove(&(target, t)),
            };
            continue;
        }
        let namespace = match w.rooms[r].t {
            "c" => "channels",
            "p" => "groups",
            _ => continue,
        };
        let (verb, body) = match op {
            0 => (
                "invite",
                json!({"roomId": room_id(r), "userId": user_id(target)}),
            ),
            1 => (
                "kick",
                json!({"roomId": room_id(r), "userId": user_id(target)}),
            ),
            2 => ("leave", json!({"roomId": room_id(r)})),
            _ => ("delete", json!({"roomId": room_id(r)})),
        };
        let allowed = op == 3 && may_delete(w, &state, actor, r);
        let tok = token(actor);
        let resp = app.post(
            &format!("/api/v1/{namespace}.{verb}"),
            Some((&user_id(actor), &tok)),
            &body,
        );
        assert!(resp.status < 500, "{verb}: {}", resp.body);
        if op == 3 {
            prop_assert_eq!(
                resp.status == 200,
                allowed,
                "user {} ({:?}) deleting room {} ({:?}): {}; {:?}",
                actor,
                w.roles[actor],
                r,
                w.rooms[r],
                resp.body,
                state
            );
        }
        if resp.status == 200 {
            match op {
                0 => {
                    state.subscribed.insert((target, r));
                }
                1 => {
                    state.subscribed.remove(&(target, r));
                    state.owners.remove(&(target, r));
                }
                2 => {
                    state.subscribed.remove(&(actor, r));
                    state.owners.remove(&(actor, r));
                }
                _ => {
                    state.erased.insert(r);
                    state.subscribed.retain(|(_, room)| *room != r);
                    state.owners.retain(|(_, room)| *room != r);
                }
            };
        } else {
            assert_eq!(resp.json()["success"], json!(false), "{}", resp.body);
        }
    }
    Ok(state)
}

fn check_world(w: &World) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("world.json");
    std::fs::write(&seed, bundle(w).to_string()).unwrap();
    let Some(app) = try_spawn_app_with(|c| c.seed.file = seed.display().to_string()) else {
        return Ok(());
    };
    let read = |user: usize, r: usize| {
        app.get(
            &format!("/api/v1/push.get?id=oracleMsg{r}"),
            Some((&user_id(user), &token(user))),
        )
    };
    // Everyone reads first, so the answers prepared then must not outlive the ops.
    for user in 0..w.roles.len() {
        for r in 0..w.rooms.len() {
            read(user, r);
        }
    }
    let mut sockets: Vec<Socket> = (0..w.roles.len())
        .map(|u| {
            let mut s = Socket::logged_in(&app.url, &token(u));
            s.subscribe("stream-room-messages", room_params("__my_messages__"));
            let event = format!("{}/subscriptions-changed", user_id(u));
            s.subscribe("stream-notify-user", json!([event, false]));
            s
        })
        .collect();
    stream_round(&app, w, &initial_state(w), &mut sockets, SENTINELS[0])?;
    let state = apply_ops(&app, w)?;
    stream_round(&app, w, &state, &mut sockets, SENTINELS[1])?;
    for user in 0..w.roles.len() {
        for r in 0..w.rooms.len() {
            let r_ = read(user, r);
            let expected = if w.deleted.contains(&r) {
                (400, Some("error-room-not-found"))
            } else if state.erased.contains(&r) {
                (400, Some("error-message-not-found"))
            } else if may_read(w, &state, user, r, 0) {
                (200, None)
            } else {
                (400, Some("error-not-allowed"))
            };
            let got = r_.json();
            let got = (r_.status, got["error"].as_str().map(str::to_string));
            prop_assert_eq!(
                (got.0, got.1.as_deref()),
                expected,
                "user {} ({:?}) × room {} ({:?}); subscribed {:?}",
                user,
                w.roles[user],
                r,
                w.rooms[r],
                state
            );
        }
    }
    Ok(())
}

#[test]
fn push_get_and_the_streams_grant_exactly_what_the_oracle_grants() {
    let cases = std::env::var("RCPUSH_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    });
    runner
        .run(&world(), |w| check_world(&w))
        .unwrap_or_else(|e| panic!("{e}"));
}
