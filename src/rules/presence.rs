//! A user's chosen status (Rocket.Chat's `Presence.setStatus` and `setStatusText`): the
//! status shown is decided from the chosen one and the connections' (`statusConnection`).

use serde_json::{json, Value};

use crate::model::User;

/// The statuses a user may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Online,
    Away,
    Busy,
    Offline,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "online" => Some(Status::Online),
            "away" => Some(Status::Away),
            "busy" => Some(Status::Busy),
            "offline" => Some(Status::Offline),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Away => "away",
            Status::Busy => "busy",
            Status::Offline => "offline",
        }
    }
}

/// `processStatus`: offline while no connection is; the connections' status when the user
/// chose `online`; else what they chose.
pub fn shown(connection: Status, chosen: Status) -> Status {
    match (connection, chosen) {
        (Status::Offline, _) => Status::Offline,
        (c, Status::Online) => c,
        (_, chosen) => chosen,
    }
}

/// What a status call changes, applied to the user as stored inside the write.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub chosen: Option<Status>,
    /// The status of the user's connections, when it moved (`statusConnection`).
    pub connection: Option<Status>,
    /// Trimmed and cut to 120 characters (`setStatusText`).
    pub text: Option<String>,
    /// ISO time of the change.
    pub at: String,
}

impl StatusChange {
    /// Applies the change; true if a status field changed (`_updatedAt` then moves too).
    pub fn apply(&self, user: &mut User) -> bool {
        let before = user.clone();
        if let Some(connection) = self.connection {
            user.set_status_connection(connection.code());
        }
        let connection = user
            .status_connection()
            .and_then(Status::parse)
            .unwrap_or(Status::Offline);
        if let Some(chosen) = self.chosen {
            user.set_status(chosen.code(), shown(connection, chosen).code());
        } else if self.connection.is_some() {
            // No choice stored is Rocket.Chat's default, `online`.
            let chosen = user
                .status_default()
                .and_then(Status::parse)
                .unwrap_or(Status::Online);
            user.set_shown_status(shown(connection, chosen).code());
        }
        if let Some(text) = &self.text {
            user.set_status_text(text);
        }
        let changed = *user != before;
        if changed {
            user.set_updated_at(&self.at);
        }
        changed
    }
}

/// The fields whose change is a `user-status` event (§4.4): the shown status and its
/// text. Other writes on a user (names, roles, tokens) emit none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownStatus {
    pub status: Option<String>,
    pub text: Option<String>,
}

impl ShownStatus {
    pub fn of(user: &User) -> ShownStatus {
        ShownStatus {
            status: user.status().map(str::to_string),
            text: user.status_text().map(str::to_string),
        }
    }

    /// What the streams assume of a user they have not seen change since they started:
    /// offline with no text (every user is, with no connection), so that a first write
    /// that leaves a user offline emits nothing.
    pub fn unseen() -> ShownStatus {
        ShownStatus {
            status: Some(Status::Offline.code().to_string()),
            text: None,
        }
    }
}

/// The status of a user's connections (`statusConnection`) from each one's: online if
/// one is, else away if one is, else offline (none, or all gone).
pub fn connections_status(each: impl IntoIterator<Item = Status>) -> Status {
    each.into_iter()
        .fold(Status::Offline, |all, one| match (all, one) {
            (Status::Online, _) | (_, Status::Online) => Status::Online,
            (Status::Away, _) | (_, Status::Away) => Status::Away,
            _ => Status::Offline,
        })
}

/// Whether a user write from `before` to `after` is a `user-status` event.
pub fn status_changed(before: &ShownStatus, after: &ShownStatus) -> bool {
    before != after
}

/// `user-status`'s number for a status: 0 offline, 1 online, 2 away, 3 busy; `null` for
/// none or any other string (Rocket.Chat's `STATUS_MAP` gives `undefined`).
pub fn status_number(status: Option<&str>) -> Value {
    match status.and_then(Status::parse) {
        Some(Status::Offline) => json!(0),
        Some(Status::Online) => json!(1),
        Some(Status::Away) => json!(2),
        Some(Status::Busy) => json!(3),
        None => Value::Null,
    }
}

/// `user-status`'s args: `[[uid, username, status, statusText, name, roles]]`, missing
/// values `null`.
pub fn user_status_args(user_id: &str, user: &User) -> Value {
    let text = |s: Option<&str>| s.map_or(Value::Null, Value::from);
    json!([[
        user_id,
        text(user.username()),
        status_number(user.status()),
        text(user.status_text()),
        text(user.name()),
        user.stored_roles(),
    ]])
}

/// `setStatusText`'s cut: trimmed, at most 120 characters.
pub fn status_text(text: &str) -> String {
    text.trim().chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::object;
    use proptest::prelude::*;
    use serde_json::json;

    fn user(connection: &str) -> User {
        User(object(
            json!({"_id": "u", "status": "offline", "statusConnection": connection,
            "_updatedAt": "T0"}),
        ))
    }

    fn choose(chosen: Status) -> StatusChange {
        StatusChange {
            chosen: Some(chosen),
            connection: None,
            text: None,
            at: "T1".into(),
        }
    }

    #[test]
    fn the_shown_status_follows_the_connections() {
        let mut u = user("online");
        assert!(choose(Status::Busy).apply(&mut u));
        assert_eq!(u.0["status"], "busy");
        assert_eq!(u.0["statusDefault"], "busy");
        assert_eq!(u.0["_updatedAt"], "T1");
        assert!(!choose(Status::Busy).apply(&mut u));
        let mut away = user("away");
        choose(Status::Online).apply(&mut away);
        assert_eq!(away.0["status"], "away");
        let mut gone = user("offline");
        assert!(choose(Status::Away).apply(&mut gone));
        assert_eq!(gone.0["status"], "offline");
        assert_eq!(gone.0["statusDefault"], "away");
    }

    #[test]
    fn user_status_args_have_the_spec_shape() {
        let alice = User(object(
            json!({"_id": "a", "username": "alice", "status": "online",
            "name": "Alice Liddell", "roles": ["user"]}),
        ));
        assert_eq!(
            user_status_args("a", &alice),
            json!([["a", "alice", 1, null, "Alice Liddell", ["user"]]])
        );
        let bare = User(object(json!({"_id": "b"})));
        assert_eq!(
            user_status_args("b", &bare),
            json!([["b", null, null, null, null, null]])
        );
    }

    #[test]
    fn a_connection_shows_the_chosen_status() {
        let connect = |default: Option<&str>, connection: Status| {
            let mut u = user("offline");
            if let Some(d) = default {
                u.0.insert("statusDefault".into(), d.into());
            }
            let change = StatusChange {
                chosen: None,
                connection: Some(connection),
                text: None,
                at: "T1".into(),
            };
            change.apply(&mut u);
            (u.0["status"].clone(), u.0["statusConnection"].clone())
        };
        assert_eq!(
            connect(None, Status::Online),
            (json!("online"), json!("online"))
        );
        assert_eq!(connect(Some("busy"), Status::Online).0, "busy");
        assert_eq!(connect(Some("offline"), Status::Online).0, "offline");
        assert_eq!(connect(None, Status::Away).0, "away");
        assert_eq!(connect(Some("away"), Status::Offline).0, "offline");
    }

    #[test]
    fn status_texts_are_trimmed_and_cut() {
        assert_eq!(status_text("  lunch  "), "lunch");
        assert_eq!(status_text(&"é".repeat(130)).chars().count(), 120);
    }

    proptest! {
        /// Choosing offline always shows offline; a user with no connection is offline
        /// whatever they chose.
        #[test]
        fn offline_wins(c in 0..4usize, s in 0..4usize) {
            let all = [Status::Online, Status::Away, Status::Busy, Status::Offline];
            prop_assert_eq!(shown(all[c], Status::Offline), Status::Offline);
            prop_assert_eq!(shown(Status::Offline, all[s]), Status::Offline);
        }

        /// A `user-status` event is emitted exactly when the status or its text moved,
        /// whatever else of the user changed.
        #[test]
        fn only_status_fields_emit(
            a in proptest::option::of("online|away|busy|offline"),
            b in proptest::option::of("online|away|busy|offline"),
            ta in proptest::option::of("[a-z]{0,3}"),
            tb in proptest::option::of("[a-z]{0,3}"),
            name in "[a-z]{1,5}",
        ) {
            let doc = |s: &Option<String>, t: &Option<String>, n: &str| {
                let mut u = User(object(json!({"_id": "u", "name": n})));
                if let Some(s) = s { u.0.insert("status".into(), s.as_str().into()); }
                if let Some(t) = t { u.0.insert("statusText".into(), t.as_str().into()); }
                u
            };
            let before = ShownStatus::of(&doc(&a, &ta, "x"));
            let after = ShownStatus::of(&doc(&b, &tb, &name));
            prop_assert_eq!(status_changed(&before, &after), a != b || ta != tb);
            prop_assert!(!status_changed(&after, &after));
        }

        /// One online connection makes the user online; none makes them offline; else
        /// away if one is.
        #[test]
        fn connections_fold(each in proptest::collection::vec(0..4usize, 0..6)) {
            let all = [Status::Online, Status::Away, Status::Busy, Status::Offline];
            let each: Vec<Status> = each.into_iter().map(|i| all[i]).collect();
            let expected = if each.contains(&Status::Online) {
                Status::Online
            } else if each.contains(&Status::Away) {
                Status::Away
            } else {
                Status::Offline
            };
            prop_assert_eq!(connections_status(each), expected);
        }

        /// The four statuses get distinct numbers; anything else is `null`.
        #[test]
        fn status_numbers(s in "[a-z]{0,8}") {
            let n = status_number(Some(&s));
            prop_assert_eq!(n.is_null(), Status::parse(&s).is_none());
        }

        /// Applying the same change twice changes nothing the second time.
        #[test]
        fn a_change_is_idempotent(s in 0..4usize, text in proptest::option::of("[a-z ]{0,8}")) {
            let all = [Status::Online, Status::Away, Status::Busy, Status::Offline];
            let change = StatusChange { chosen: Some(all[s]), connection: None, text, at: "T1".into() };
            let mut u = user("online");
            change.apply(&mut u);
            prop_assert!(!change.apply(&mut u));
        }
    }
}
