//! `rcpush generate`: a realistic database of a chosen size for benchmarks — users, public
//! and private channels and DMs, memberships with unread counts, and messages with mentions,
//! links and markup — written straight into the store in large atomic batches.
//!
//! It is deterministic for a given seed. Every user `i` can log in with the password
//! `bench-password` or the token `bench-token-<i>`; the messages of public channels have the
//! ids `p<zero-padded index>`, so a load generator can pick any of them at random.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::model::{object, time, Doc, Message, Room, Subscription, User};
use crate::rules::credentials::{hash_password, token_hash};
use crate::store::{Import, ImportedMessage, ImportedUser, LoginToken, Store};

pub const PASSWORD: &str = "bench-password";

/// How big the generated world is.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub messages: usize,
    pub users: usize,
    pub rooms: usize,
    pub seed: u64,
}

impl Size {
    /// A world shaped like a busy small server: about 100 messages per user and 1,000 per room.
    pub fn for_messages(messages: usize, seed: u64) -> Size {
        Size {
            messages,
            users: (messages / 100).clamp(10, 10_000),
            rooms: (messages / 1_000).clamp(5, 2_000),
            seed,
        }
    }
}

/// What a benchmark needs to know about the generated data.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub messages: usize,
    pub users: usize,
    pub rooms: usize,
    /// Public-channel messages are `p` + this many digits, from 0 up.
    pub public_id_digits: usize,
    pub public_messages: usize,
    pub seconds: f64,
    pub messages_per_second: f64,
}

pub fn user_id(i: usize) -> String {
    format!("U{i:07}")
}

pub fn user_token(i: usize) -> String {
    format!("bench-token-{i}")
}

const MESSAGES_PER_BATCH: usize = 20_000;

/// Fills an empty `store`. Shows a progress bar when stderr is a terminal.
pub fn generate(store: &Store, size: Size) -> anyhow::Result<Summary> {
    anyhow::ensure!(
        store.is_fresh()?,
        "the database is not empty; generate into a new one"
    );
    anyhow::ensure!(
        size.users >= 2 && size.rooms >= 1,
        "need at least 2 users and 1 room"
    );
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(size.seed);
    let base = time::parse_iso("2024-01-01T00:00:00.000Z").unwrap_or_default();
    let phc = hash_password(PASSWORD, &[42; 16])?;

    let users: Vec<User> = (0..size.users)
        .map(|i| {
            User(object(json!({
                "_id": user_id(i), "createdAt": time::iso(base), "username": format!("user{i}"),
                "emails": [{"address": format!("user{i}@bench.invalid"), "verified": true}],
                "type": "user", "status": "offline", "active": true, "_updatedAt": time::iso(base),
                "roles": ["user"], "name": format!("User {i}"), "settings": {},
            })))
        })
        .collect();

    // Rooms: 60% public channels, 25% private groups, 15% DMs.
    let mut rooms: Vec<Room> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for r in 0..size.rooms {
        let roll = rng.gen_range(0..100);
        let (t, picked) = if roll < 15 {
            let a = rng.gen_range(0..size.users);
            let b = (a + rng.gen_range(1..size.users)) % size.users;
            ("d", vec![a.min(b), a.max(b)])
        } else {
            let n = rng.gen_range(2..=size.users.min(50));
            let mut all: Vec<usize> = (0..size.users).collect();
            all.shuffle(&mut rng);
            all.truncate(n);
            (if roll < 40 { "p" } else { "c" }, all)
        };
        let id = format!("R{r:07}");
        let doc = if t == "d" {
            json!({"_id": id, "t": "d", "usernames": picked.iter().map(|u| format!("user{u}")).collect::<Vec<_>>(),
                "usersCount": 2, "msgs": 0, "ts": time::iso(base), "uids": picked.iter().map(|u| user_id(*u)).collect::<Vec<_>>(),
                "_updatedAt": time::iso(base)})
        } else {
            json!({"_id": id, "fname": format!("room-{r}"), "_updatedAt": time::iso(base), "name": format!("room-{r}"),
                "t": t, "msgs": 0, "usersCount": picked.len(), "u": users[picked[0]].short(), "ts": time::iso(base), "ro": false})
        };
        rooms.push(Room(object(doc)));
        members.push(picked);
    }
    let subscriptions: Vec<Subscription> = rooms
        .iter()
        .zip(&members)
        .flat_map(|(room, m)| m.iter().map(move |u| (room, *u)))
        .enumerate()
        .map(|(n, (room, u))| {
            let unread = rng.gen_range(0..4);
            Subscription(object(json!({
                "_id": format!("S{n:08}"), "open": true, "alert": unread > 0, "unread": unread,
                "userMentions": 0, "groupMentions": 0, "ts": time::iso(base), "rid": room.id(),
                "name": room.name().unwrap_or("dm"), "fname": room.fname().unwrap_or("dm"), "t": room.t(),
                "u": users[u].short(), "_updatedAt": time::iso(base),
            })))
        })
        .collect();
    let imported_users = users
        .iter()
        .enumerate()
        .map(|(i, u)| ImportedUser {
            user: u.clone(),
            password_hash: Some(phc.clone()),
            tokens: vec![(
                token_hash(&user_token(i)).to_string(),
                LoginToken {
                    user_id: u.id().to_string(),
                    when: time::iso(base),
                },
            )],
        })
        .collect();
    store.import(&Import {
        users: imported_users,
        rooms: rooms.clone(),
        subscriptions,
        ..Import::default()
    })?;

    // Decide every message's room first, so public messages can be numbered densely.
    let placement: Vec<usize> = (0..size.messages)
        .map(|_| rng.gen_range(0..rooms.len()))
        .collect();
    let public_messages = placement.iter().filter(|r| rooms[**r].t() == "c").count();
    let digits = public_messages.max(1).to_string().len();
    let progress = ProgressBar::new(size.messages as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} messages ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut public_n, mut other_n) = (0usize, 0usize);
    for (c, rooms_of_chunk) in placement.chunks(MESSAGES_PER_BATCH).enumerate() {
        let offset = c * MESSAGES_PER_BATCH;
        let mut batch = Vec::with_capacity(rooms_of_chunk.len());
        for (k, r) in rooms_of_chunk.iter().enumerate() {
            let room = &rooms[*r];
            let id = if room.t() == "c" {
                public_n += 1;
                format!("p{:0digits$}", public_n - 1)
            } else {
                other_n += 1;
                format!("m{:09}", other_n - 1)
            };
            let author = members[*r][rng.gen_range(0..members[*r].len())];
            let mentioned = members[*r][rng.gen_range(0..members[*r].len())];
            let ts = base + ((offset + k) as i64) * 1_000;
            let doc = message_doc(&mut rng, &id, room, &users[author], &users[mentioned], ts);
            batch.push(ImportedMessage {
                message: Message::from_json(serde_json::to_vec(&doc)?)?,
                id,
            });
        }
        let n = batch.len() as u64;
        store.import(&Import {
            messages: batch,
            ..Import::default()
        })?;
        progress.inc(n);
    }
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    Ok(Summary {
        messages: size.messages,
        users: size.users,
        rooms: size.rooms,
        public_id_digits: digits,
        public_messages,
        seconds,
        messages_per_second: size.messages as f64 / seconds.max(1e-9),
    })
}

/// A message in `chat.sendMessage`'s stored shape, with one of a few realistic texts.
fn message_doc(
    rng: &mut StdRng,
    id: &str,
    room: &Room,
    author: &User,
    mentioned: &User,
    ts: i64,
) -> Doc {
    let n: u32 = rng.gen_range(0..1000);
    let who = mentioned.username().unwrap_or_default();
    let (msg, mentions, urls): (String, Vec<Value>, Vec<Value>) = match rng.gen_range(0..6) {
        0 => (
            format!("Hey @{who}, did you see **the report** :smile:?"),
            vec![
                json!({"_id": mentioned.id(), "username": who, "name": mentioned.name(), "type": "user"}),
            ],
            vec![],
        ),
        1 => {
            let url = format!("https://example.com/issues/{n}");
            (
                format!("Tracking this in {url} — _please_ have a look"),
                vec![],
                vec![json!({"url": url, "meta": {}})],
            )
        }
        2 => (
            "> the build is red again\nfixed in `main`, sorry :sweat_smile:".into(),
            vec![],
            vec![],
        ),
        3 => (
            format!("@all standup in {} minutes", n % 30 + 1),
            vec![json!({"_id": "all", "username": "all"})],
            vec![],
        ),
        4 => (
            format!("~~old plan~~ new plan: ship #{n} on Friday :rocket:"),
            vec![],
            vec![],
        ),
        _ => (
            format!("Lunch at {}? I'm thinking pizza :pizza:", n % 3 + 12),
            vec![],
            vec![],
        ),
    };
    let mut doc = object(json!({
        "_id": id, "rid": room.id(), "msg": msg, "ts": time::iso(ts), "u": author.short(),
        "urls": urls, "mentions": mentions, "channels": [], "_updatedAt": time::iso(ts),
    }));
    crate::seed::add_missing_md(&mut doc, ts);
    doc
}
