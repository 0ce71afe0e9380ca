//! What a write does to the counters of rooms and subscriptions, and the membership
//! preconditions, as pure changes to the documents. The store applies them inside its
//! write, on the documents as stored then, so that no concurrent increment is lost (the
//! transaction contract in `store/mod.rs`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::subscription::{Counter, ThreadList};
use crate::model::{Room, Subscription, TeamMember};
use crate::rules::message_changes::ThreadReply;
use crate::rules::unread::Bump;

/// A new message from a member (`afterSaveMessage`): `msgs` + 1, `_updatedAt`, and the
/// message as `lastMessage` / `lm`.
pub fn count_message(room: &mut Room, message: &Value, at: &str) {
    room.set_msgs(room.msgs() + 1);
    room.set_updated_at(at);
    room.set_last_message(message.clone());
    room.set_lm(at);
}

/// A system message written with the change it reports: it counts in `msgs` and becomes
/// `lastMessage` / `lm`, leaving `_updatedAt` to the change.
pub fn count_system_message(room: &mut Room, message: &Value, at: &str) {
    room.set_msgs(room.msgs() + 1);
    room.set_last_message(message.clone());
    room.set_lm(at);
}

/// A message edited: `lastMessage` follows when it is this message. True if the room
/// changed.
pub fn follow_edit(room: &mut Room, message_id: &str, edited: &Value) -> bool {
    if room.last_message_id() != Some(message_id) {
        return false;
    }
    room.set_last_message(edited.clone());
    true
}

/// A message deleted: `msgs` - 1 (never below zero), and `lastMessage` dropped when it was
/// this message (rcpush keeps no per-room message order to find the one before).
pub fn uncount_message(room: &mut Room, message_id: &str, at: &str) {
    if room.last_message_id() == Some(message_id) {
        room.drop_last_message();
    }
    room.set_msgs((room.msgs() - 1).max(0));
    room.set_updated_at(at);
}

/// Members joined (`delta` > 0) or left: `usersCount` moves by them, never below zero.
pub fn move_users_count(room: &mut Room, delta: i64) {
    room.set_users_count((room.users_count() + delta).max(0));
}

/// How a thread reply concerns one member who is not its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadUnread<'a> {
    /// Not a reply, or the member does not follow the thread.
    None,
    /// The reply mentions the member: the thread joins `tunread` and `tunreadUser`.
    Mentioned(&'a str),
    /// The member follows the thread: it joins `tunread`, and `tunreadGroup` when the reply
    /// says @all or @here.
    Following { tmid: &'a str, group: bool },
}

impl<'a> ThreadUnread<'a> {
    /// How `reply` (if the message is one) concerns a member it mentions or not, who follows
    /// its thread or not.
    pub fn of(reply: Option<&'a ThreadReply>, mentioned: bool, following: bool) -> Self {
        match reply {
            Some(r) if mentioned => ThreadUnread::Mentioned(&r.tmid),
            Some(r) if following => ThreadUnread::Following {
                tmid: &r.tmid,
                group: r.group_mention,
            },
            _ => ThreadUnread::None,
        }
    }
}

/// A new message's effect on one other member's subscription (`notifyUsersOnMessage`):
/// the counters grow by `bump`, `alert` and `open` become true, the thread is marked
/// unread as `thread` says, `_updatedAt` becomes `at`.
pub fn bump_subscription(sub: &mut Subscription, bump: &Bump, thread: ThreadUnread, at: &str) {
    sub.add_to(Counter::Unread, bump.unread);
    sub.add_to(Counter::UserMentions, bump.user_mentions);
    sub.add_to(Counter::GroupMentions, bump.group_mentions);
    sub.set_alert_and_open();
    match thread {
        ThreadUnread::None => {}
        ThreadUnread::Mentioned(tmid) => {
            sub.add_unread_thread(ThreadList::Tunread, tmid);
            sub.add_unread_thread(ThreadList::TunreadUser, tmid);
        }
        ThreadUnread::Following { tmid, group } => {
            sub.add_unread_thread(ThreadList::Tunread, tmid);
            if group {
                sub.add_unread_thread(ThreadList::TunreadGroup, tmid);
            }
        }
    }
    sub.set_updated_at(at);
}

/// The bumps of plain messages (no thread to mark) not yet in a subscription document: its
/// room's unfolded records added up on a read, or (as rcpush stored them before room
/// records) kept beside the document per member; `apply` gives the document they make,
/// `share` what it adds to the badge. Bumps add up:
/// `bump_subscription` twice equals it once with the sums and the later time (the counters
/// add, `alert` and `open` stay true, the fields it creates come in the same order).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingBumps {
    #[serde(rename = "u")]
    unread: i64,
    #[serde(rename = "m")]
    user_mentions: i64,
    #[serde(rename = "g")]
    group_mentions: i64,
    /// The last bump's time.
    #[serde(rename = "t")]
    at: String,
    /// The document's `unread` as a bump reads it (an integer, else 0).
    #[serde(rename = "b")]
    base_unread: i64,
    /// What the document adds to its user's badge.
    #[serde(rename = "s")]
    base_share: i64,
    /// The document is archived (it adds nothing to the badge).
    #[serde(rename = "a")]
    archived: bool,
}

impl PendingBumps {
    /// No bump yet on a document with these values.
    pub fn new(base_unread: i64, base_share: i64, archived: bool) -> PendingBumps {
        PendingBumps {
            unread: 0,
            user_mentions: 0,
            group_mentions: 0,
            at: String::new(),
            base_unread,
            base_share,
            archived,
        }
    }

    /// One more message's bump, at `at`.
    pub fn add(&mut self, bump: &Bump, at: &str) {
        self.unread += bump.unread;
        self.user_mentions += bump.user_mentions;
        self.group_mentions += bump.group_mentions;
        self.at = at.to_string();
    }

    /// The document as the bumps leave it.
    pub fn apply(&self, sub: &mut Subscription) {
        let bump = Bump {
            unread: self.unread,
            user_mentions: self.user_mentions,
            group_mentions: self.group_mentions,
        };
        bump_subscription(sub, &bump, ThreadUnread::None, &self.at);
    }

    /// No bump added yet: the document stays as it is.
    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// What the bumped document adds to its user's badge.
    pub fn share(&self) -> i64 {
        match (self.archived, self.is_empty()) {
            (true, _) => 0,
            (false, true) => self.base_share,
            (false, false) => self.base_unread + self.unread,
        }
    }

    /// What the document alone adds to its user's badge.
    pub fn base_share(&self) -> i64 {
        self.base_share
    }
}

/// One plain message's bumps for the whole room, stored once beside the room rather than
/// once per member, so that a post's writes do not grow with the members: the bump most
/// members get, and the members who get another (`None`: no bump at all — the sender, or a
/// member whose document the same write rewrites). It reaches every subscription of the
/// room older than it that it does not name with `None` (`store/tails.rs`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoomBump {
    #[serde(rename = "d")]
    default: Bump,
    #[serde(rename = "x", default, skip_serializing_if = "BTreeMap::is_empty")]
    exceptions: BTreeMap<String, Option<Bump>>,
    #[serde(rename = "t")]
    at: String,
}

impl RoomBump {
    /// The record of `bumps` (each member of the room with theirs, `None` for none), at
    /// `at`; `None` when it bumps nobody.
    pub fn new<'a>(
        bumps: impl IntoIterator<Item = (&'a str, Option<Bump>)>,
        at: &str,
    ) -> Option<RoomBump> {
        let bumps: Vec<(&str, Option<Bump>)> = bumps.into_iter().collect();
        let mut tally: Vec<(Bump, usize)> = Vec::new();
        for bump in bumps.iter().filter_map(|(_, b)| *b) {
            match tally.iter_mut().find(|(b, _)| *b == bump) {
                Some((_, n)) => *n += 1,
                None => tally.push((bump, 1)),
            }
        }
        let default = tally.iter().max_by_key(|(_, n)| *n)?.0;
        let exceptions = bumps
            .into_iter()
            .filter(|(_, b)| *b != Some(default))
            .map(|(u, b)| (u.to_string(), b))
            .collect();
        Some(RoomBump {
            default,
            exceptions,
            at: at.to_string(),
        })
    }

    /// The bump `user` gets from it (if they were a member when it was written).
    pub fn for_member(&self, user: &str) -> Option<Bump> {
        match self.exceptions.get(user) {
            Some(bump) => *bump,
            None => Some(self.default),
        }
    }

    pub fn at(&self) -> &str {
        &self.at
    }
}

/// The member read the room (`readMessages`): counters to zero, `alert` off, `open` on,
/// `ls` and `_updatedAt` to `at`. Unread threads go too with `read_threads`; otherwise, if
/// there are some, `alert` stays as it was.
pub fn mark_read(sub: &mut Subscription, at: &str, read_threads: bool) {
    let alert = sub.alert() && !read_threads && sub.has_unread_threads();
    if read_threads {
        sub.drop_unread_threads();
    }
    sub.set_read(alert, at);
}

/// Whether `leaving` may leave or be removed: not when they are the room's last owner
/// (`members` are all the room's subscriptions, theirs included).
pub fn may_leave<'a>(
    leaving: &Subscription,
    members: impl IntoIterator<Item = &'a Subscription>,
) -> bool {
    !leaving.is_owner() || members.into_iter().filter(|s| s.is_owner()).count() > 1
}

/// Whether `leaving` may leave a team or be removed from it (`Team.removeMembers`): not
/// when they are its last owner (`members` are all the team's memberships).
pub fn may_leave_team<'a>(
    leaving: &TeamMember,
    members: impl IntoIterator<Item = &'a TeamMember>,
) -> bool {
    let owner = |m: &TeamMember| m.roles().contains(&"owner");
    !owner(leaving) || members.into_iter().filter(|m| owner(m)).count() > 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::object;
    use proptest::prelude::*;
    use serde_json::json;

    fn room() -> Room {
        Room(object(
            json!({"_id": "r1", "t": "c", "msgs": 3, "usersCount": 2, "_updatedAt": "T0"}),
        ))
    }

    fn keys(d: &crate::model::Doc) -> Vec<&str> {
        d.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_message_is_counted_and_becomes_the_last() {
        let mut r = room();
        count_message(&mut r, &json!({"_id": "m1"}), "T1");
        assert_eq!(r.msgs(), 4);
        assert_eq!(
            keys(&r.0),
            [
                "_id",
                "t",
                "msgs",
                "usersCount",
                "_updatedAt",
                "lastMessage",
                "lm"
            ]
        );
        assert!(follow_edit(&mut r, "m1", &json!({"_id": "m1", "msg": "x"})));
        assert!(!follow_edit(&mut r, "m2", &json!({"_id": "m2"})));
        assert_eq!(r.0["lastMessage"]["msg"], "x");
        uncount_message(&mut r, "m1", "T2");
        assert_eq!((r.msgs(), r.last_message_id()), (3, None));
        assert_eq!(r.0["_updatedAt"], "T2");
    }

    #[test]
    fn a_system_message_leaves_updated_at_alone() {
        let mut r = room();
        count_system_message(&mut r, &json!({"_id": "s1"}), "T1");
        assert_eq!(r.0["_updatedAt"], "T0");
        assert_eq!(r.last_message_id(), Some("s1"));
    }

    #[test]
    fn a_bump_adds_and_marks_threads_once() {
        let mut s = Subscription(object(json!({"_id": "s", "unread": 1, "alert": false})));
        let bump = Bump {
            unread: 1,
            user_mentions: 1,
            group_mentions: 0,
        };
        bump_subscription(&mut s, &bump, ThreadUnread::Mentioned("t1"), "T1");
        bump_subscription(
            &mut s,
            &bump,
            ThreadUnread::Following {
                tmid: "t1",
                group: true,
            },
            "T2",
        );
        assert_eq!(
            Value::Object(s.0),
            json!({"_id": "s", "unread": 3, "alert": true, "userMentions": 2, "groupMentions": 0,
                "open": true, "tunread": ["t1"], "tunreadUser": ["t1"], "_updatedAt": "T2",
                "tunreadGroup": ["t1"]})
        );
    }

    fn member(owner: bool) -> Subscription {
        let roles = if owner { json!(["owner"]) } else { json!([]) };
        Subscription(object(json!({"_id": "s", "roles": roles})))
    }

    proptest! {
        #[test]
        fn counters_never_go_below_zero(msgs in -2i64..5, users in -2i64..5, delta in -3i64..3) {
            let mut r = Room(object(json!({"msgs": msgs, "usersCount": users})));
            uncount_message(&mut r, "m", "T");
            move_users_count(&mut r, delta);
            prop_assert!(r.msgs() >= 0);
            prop_assert!(r.users_count() >= 0);
        }

        /// Bumps kept aside and applied at once leave the document a bump at a time would.
        #[test]
        fn pending_bumps_equal_bumps_one_by_one(
            unread in prop::option::of(prop_oneof![
                (-3i64..5).prop_map(Value::from),
                Just(json!(2.5)),
                Just(json!("7")),
            ]),
            archived: bool,
            bumps in prop::collection::vec((0i64..2, 0i64..2, 0i64..2), 1..5),
        ) {
            let mut doc = json!({"_id": "s", "rid": "r", "u": {"_id": "u"}});
            if let Some(unread) = unread {
                doc["unread"] = unread;
            }
            if archived {
                doc["archived"] = true.into();
            }
            let base = Subscription(object(doc));
            let mut one_by_one = base.clone();
            let (int, share) = (base.0.get("unread").and_then(Value::as_i64).unwrap_or(0), base.unread());
            let mut pending = PendingBumps::new(int, if archived { 0 } else { share }, archived);
            for (i, (u, m, g)) in bumps.iter().enumerate() {
                let bump = Bump { unread: *u, user_mentions: *m, group_mentions: *g };
                let at = format!("T{i}");
                bump_subscription(&mut one_by_one, &bump, ThreadUnread::None, &at);
                pending.add(&bump, &at);
            }
            let mut merged = base.clone();
            pending.apply(&mut merged);
            prop_assert_eq!(serde_json::to_string(&merged).unwrap(), serde_json::to_string(&one_by_one).unwrap());
            prop_assert_eq!(pending.share(), if archived { 0 } else { one_by_one.unread() });
        }

        /// A room's record gives every member the bump it was written with, and nothing
        /// to those written with none.
        #[test]
        fn a_room_record_gives_each_member_their_bump(
            bumps in prop::collection::vec(prop::option::of((0i64..2, 0i64..2, 0i64..2)), 0..8),
        ) {
            let members: Vec<(String, Option<Bump>)> = bumps
                .iter()
                .enumerate()
                .map(|(i, b)| (format!("u{i}"), b.map(|(u, m, g)| Bump { unread: u, user_mentions: m, group_mentions: g })))
                .collect();
            let record = RoomBump::new(members.iter().map(|(u, b)| (u.as_str(), *b)), "T");
            match record {
                None => prop_assert!(members.iter().all(|(_, b)| b.is_none())),
                Some(record) => {
                    let stored: RoomBump = serde_json::from_slice(&serde_json::to_vec(&record).unwrap()).unwrap();
                    prop_assert_eq!(&stored, &record);
                    for (u, b) in &members {
                        prop_assert_eq!(stored.for_member(u), *b);
                    }
                }
            }
        }

        /// Reading zeroes the counters; `alert` survives only while threads stay unread.
        #[test]
        fn reading_clears_all_but_unread_threads(
            unread in 0i64..4, alert: bool, threads: bool, read_threads: bool,
        ) {
            let mut s = Subscription(object(json!({"_id": "s", "unread": unread, "alert": alert})));
            if threads {
                s.add_unread_thread(ThreadList::Tunread, "t1");
            }
            mark_read(&mut s, "T", read_threads);
            prop_assert_eq!(s.unread(), 0);
            prop_assert_eq!(s.alert(), alert && threads && !read_threads);
            prop_assert_eq!(s.has_unread_threads(), threads && !read_threads);
        }

        /// Whoever may leave, a room (or a team) that had an owner still has one; only an
        /// owner is ever refused. Rooms and teams decide alike.
        #[test]
        fn a_room_that_had_an_owner_keeps_one(owners in prop::collection::vec(any::<bool>(), 1..6)) {
            let members: Vec<Subscription> = owners.iter().map(|o| member(*o)).collect();
            let team: Vec<TeamMember> = owners
                .iter()
                .map(|o| {
                    let roles: &[&str] = if *o { &["owner"] } else { &[] };
                    crate::model::team::new_team_member("m", "T", "u", roles, json!({}), 0)
                })
                .collect();
            let had_owner = owners.contains(&true);
            for (i, leaving) in members.iter().enumerate() {
                let may = may_leave(leaving, &members);
                prop_assert_eq!(may, may_leave_team(&team[i], &team));
                if may {
                    let left = owners.iter().enumerate().filter(|(j, o)| *j != i && **o).count();
                    prop_assert!(!had_owner || left >= 1);
                } else {
                    prop_assert!(leaving.is_owner());
                }
            }
        }
    }
}
