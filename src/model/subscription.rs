//! Subscriptions (`rocketchat_subscription`): one per member of a room.

use serde_json::Value;

use super::{document, DocExt};

document!(
    /// A subscription document in Rocket.Chat's shape.
    Subscription
);

impl Subscription {
    pub fn rid(&self) -> &str {
        self.0.str_at("rid").unwrap_or_default()
    }

    pub fn user_id(&self) -> &str {
        self.0.str_in("u", "_id").unwrap_or_default()
    }

    /// `unread` as the badge aggregation reads it: anything not numeric counts 0.
    pub fn unread(&self) -> i64 {
        match self.0.get("unread") {
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .unwrap_or(0),
            _ => 0,
        }
    }

    pub fn name(&self) -> Option<&str> {
        self.0.str_at("name")
    }

    pub fn fname(&self) -> Option<&str> {
        self.0.str_at("fname")
    }

    /// Room-scoped roles such as `owner` and `moderator`.
    pub fn roles(&self) -> Vec<&str> {
        self.0.strs_at("roles")
    }

    /// Gives the member `roles` in the room (a team's members keep their team roles there).
    pub fn set_roles(&mut self, roles: &[&str]) {
        self.0.insert("roles".into(), roles.into());
    }

    /// The member turned all notifications of the room off.
    pub fn disable_notifications(&self) -> bool {
        self.0.bool_at("disableNotifications")
    }

    /// The member muted `@all` and `@here` in the room.
    pub fn mute_group_mentions(&self) -> bool {
        self.0.bool_at("muteGroupMentions")
    }

    /// Whether the member ignores `user_id` in this room (the `ignored` list).
    pub fn ignores(&self, user_id: &str) -> bool {
        self.0.strs_at("ignored").contains(&user_id)
    }

    /// The member's mobile preference as stored (`all`, `mentions`, `nothing`, `default`);
    /// text, because parsing it is a rule (`rules::push::PushPreference::parse`).
    pub fn mobile_push_notifications(&self) -> Option<&str> {
        self.0.str_at("mobilePushNotifications")
    }

    pub fn alert(&self) -> bool {
        self.0.get("alert") == Some(&Value::Bool(true))
    }

    /// `tunread` lists a thread.
    pub fn has_unread_threads(&self) -> bool {
        self.0
            .get("tunread")
            .and_then(Value::as_array)
            .is_some_and(|t| !t.is_empty())
    }

    /// Drops the three lists of unread threads.
    pub fn drop_unread_threads(&mut self) {
        for list in [
            ThreadList::Tunread,
            ThreadList::TunreadUser,
            ThreadList::TunreadGroup,
        ] {
            self.0.shift_remove(list.key());
        }
    }

    /// The room read at `at`: `open`, `alert` as given, the counters at zero, `ls` and
    /// `_updatedAt` (in `readMessages`' order).
    pub fn set_read(&mut self, alert: bool, at: &str) {
        for (k, v) in [
            ("open", Value::from(true)),
            ("alert", alert.into()),
            ("unread", 0.into()),
            ("userMentions", 0.into()),
            ("groupMentions", 0.into()),
            ("ls", at.into()),
            ("_updatedAt", at.into()),
        ] {
            self.0.insert(k.into(), v);
        }
    }

    /// `_updatedAt` as a time (ms), if it holds one.
    pub fn updated_at(&self) -> Option<super::time::Millis> {
        self.0.str_at("_updatedAt").and_then(super::time::parse_iso)
    }

    pub fn is_owner(&self) -> bool {
        self.roles().contains(&"owner")
    }

    /// Adds to a counter (`$inc`), which starts at 0 when absent.
    pub fn add_to(&mut self, counter: Counter, by: i64) {
        let key = counter.key();
        let n = self.0.int_at(key);
        self.0.insert(key.into(), (n + by).into());
    }

    /// Sets `alert` and `open`: the room stands out and is shown in the member's list.
    pub fn set_alert_and_open(&mut self) {
        self.0.insert("alert".into(), true.into());
        self.0.insert("open".into(), true.into());
    }

    /// Adds a thread (its `tmid`) to one of the unread-thread lists (`$addToSet`).
    pub fn add_unread_thread(&mut self, list: ThreadList, tmid: &str) {
        self.0.add_to_set(list.key(), tmid);
    }

    /// `name` and `fname` both become the room's new `name`.
    pub fn rename(&mut self, name: &str) {
        self.0.insert("name".into(), name.into());
        self.0.insert("fname".into(), name.into());
    }

    pub fn set_updated_at(&mut self, at: &str) {
        self.0.insert("_updatedAt".into(), at.into());
    }

    /// Where a notification field's value came from (`user`, `subscription`), as its
    /// origin field (`mobilePrefOrigin`, …) records it.
    pub fn preference_origin(&self, origin: &str) -> Option<&str> {
        self.0.str_at(origin)
    }

    /// A user preference copied in: `field` set to `value`, `origin` to `user`
    /// (`updateNotificationUserPreferences`).
    pub fn set_preference_from_user(&mut self, field: &str, origin: &str, value: &str) {
        self.0.insert(field.into(), value.into());
        self.0.insert(origin.into(), "user".into());
    }

    /// A copied user preference removed with its origin (`clearNotificationUserPreferences`).
    pub fn clear_preference_from_user(&mut self, field: &str, origin: &str) {
        self.0.shift_remove(origin);
        self.0.shift_remove(field);
    }

    /// `userHighlights`: the words of the user's `highlights` preference.
    pub fn set_user_highlights(&mut self, highlights: &[String]) {
        self.0
            .insert("userHighlights".into(), serde_json::json!(highlights));
    }

    /// `u.username`: the member's username changed.
    pub fn set_member_username(&mut self, username: &str) {
        if let Some(u) = self.0.get_mut("u").and_then(Value::as_object_mut) {
            u.insert("username".into(), username.into());
        }
    }

    /// A DM's `name` and `fname` (the other members' usernames and names).
    pub fn set_direct_names(&mut self, names: &DirectNames) {
        self.0.insert("name".into(), names.name.clone().into());
        self.0.insert("fname".into(), names.fname.clone().into());
    }
}

/// How a DM subscription names the room: the other members' usernames, and their names
/// (each falling back to the username), joined with `, `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectNames {
    pub name: String,
    pub fname: String,
}

impl DirectNames {
    pub fn of(others: &[&super::User]) -> DirectNames {
        let join = |f: &dyn Fn(&super::User) -> Option<String>| {
            others
                .iter()
                .filter_map(|u| f(u))
                .collect::<Vec<_>>()
                .join(", ")
        };
        DirectNames {
            name: join(&|u| u.username().map(str::to_string)),
            fname: join(&|u| u.name().or(u.username()).map(str::to_string)),
        }
    }
}

/// The numeric counters of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Unread,
    UserMentions,
    GroupMentions,
}

impl Counter {
    fn key(self) -> &'static str {
        match self {
            Counter::Unread => "unread",
            Counter::UserMentions => "userMentions",
            Counter::GroupMentions => "groupMentions",
        }
    }
}

/// A subscription's lists of threads with unread replies: all of them, those that mention
/// the member, those that mention @all or @here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadList {
    Tunread,
    TunreadUser,
    TunreadGroup,
}

impl ThreadList {
    fn key(self) -> &'static str {
        match self {
            ThreadList::Tunread => "tunread",
            ThreadList::TunreadUser => "tunreadUser",
            ThreadList::TunreadGroup => "tunreadGroup",
        }
    }
}

/// A member's subscription to a channel or group, in `createRoom`'s order; the owner also
/// gets `ls` and the `owner` role.
pub fn new_group_subscription(
    room: &super::Room,
    user: &super::User,
    owner: bool,
    now: super::time::Millis,
    ids: &super::id::Ids,
) -> Subscription {
    let now = super::time::iso(now);
    let mut doc = super::object(serde_json::json!({
        "_id": ids.id(),
        "open": true,
        "alert": false,
        "unread": 0,
        "userMentions": 0,
        "groupMentions": 0,
        "ts": room.0.get("ts").cloned().unwrap_or_else(|| now.clone().into()),
        "rid": room.id(),
        "name": room.name(),
    }));
    // Rocket.Chat leaves out what the room does not have.
    if let Some(fname) = room.fname() {
        doc.insert("fname".into(), fname.into());
    }
    doc.insert("t".into(), room.t().into());
    doc.insert("u".into(), user.short());
    if let Some(prid) = room.prid() {
        doc.insert("prid".into(), prid.into());
    }
    for (key, value) in user.subscription_preferences() {
        doc.insert(key.into(), value);
    }
    if owner {
        doc.insert("ls".into(), now.clone().into());
        doc.insert("roles".into(), serde_json::json!(["owner"]));
    }
    doc.insert("_updatedAt".into(), now.into());
    Subscription(doc)
}

/// The subscription of a user added to an existing room (`createWithRoomAndUser` as
/// `addUserToRoom` and `addUserToDefaultChannels` call it): open, and unread with a mention,
/// so that the room stands out.
pub fn new_joined_subscription(
    room: &super::Room,
    user: &super::User,
    now: super::time::Millis,
    ids: &super::id::Ids,
) -> Subscription {
    let mut sub = new_group_subscription(room, user, false, now, ids);
    for (key, value) in [
        ("alert", serde_json::json!(true)),
        ("unread", 1.into()),
        ("userMentions", 1.into()),
        ("ts", super::time::iso(now).into()),
    ] {
        sub.0.insert(key.into(), value);
    }
    sub
}

/// A member's subscription to a DM. Created by an upsert in Rocket.Chat, so the filter keys
/// come first and the rest follow in lexicographic order.
pub fn new_direct_subscription(
    room: &super::Room,
    user: &super::User,
    others: &[&super::User],
    open: bool,
    now: super::time::Millis,
    ids: &super::id::Ids,
) -> Subscription {
    let now = super::time::iso(now);
    let DirectNames { name, fname } = DirectNames::of(others);
    let mut u = super::Doc::new();
    u.insert("_id".into(), user.id().into());
    if let Some(n) = user.username() {
        u.insert("username".into(), n.into());
    }
    let mut doc = super::object(serde_json::json!({
        "_id": ids.id(),
        "rid": room.id(),
        "u": u,
    }));
    let mut rest = super::object(serde_json::json!({
        "_updatedAt": now,
        "alert": false,
        "fname": fname,
        "groupMentions": 0,
        "name": name,
        "open": open,
        "t": "d",
        "ts": room.0.get("ts").cloned().unwrap_or_else(|| now.clone().into()),
        "unread": 0,
        "userMentions": 0,
    }));
    for (key, value) in user.subscription_preferences() {
        rest.insert(key.into(), value);
    }
    let mut rest: Vec<_> = rest.into_iter().collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    doc.extend(rest);
    Subscription(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sub(v: Value) -> Subscription {
        Subscription(super::super::object(v))
    }

    #[test]
    fn notification_preferences_default_to_off_when_absent_or_mistyped() {
        let bare = sub(json!({"_id": "s1"}));
        assert!(!bare.disable_notifications() && !bare.mute_group_mentions());
        assert!(!bare.ignores("u2"));
        assert_eq!(bare.mobile_push_notifications(), None);
        let odd = sub(json!({"disableNotifications": "true", "mobilePushNotifications": 1}));
        assert!(!odd.disable_notifications());
        assert_eq!(odd.mobile_push_notifications(), None);
    }

    #[test]
    fn notification_preferences_read_as_stored() {
        let s = sub(json!({
            "disableNotifications": true,
            "muteGroupMentions": true,
            "ignored": ["u2", 7],
            "mobilePushNotifications": "nothing",
        }));
        assert!(s.disable_notifications() && s.mute_group_mentions());
        assert!(s.ignores("u2") && !s.ignores("u3"));
        assert_eq!(s.mobile_push_notifications(), Some("nothing"));
    }
}
