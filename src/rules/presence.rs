//! A user's chosen status (Rocket.Chat's `Presence.setStatus` and `setStatusText`): the
//! status shown is decided from the chosen one and the connections' (`statusConnection`).

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
    /// Trimmed and cut to 120 characters (`setStatusText`).
    pub text: Option<String>,
    /// ISO time of the change.
    pub at: String,
}

impl StatusChange {
    /// Applies the change; true if a status field changed (`_updatedAt` then moves too).
    pub fn apply(&self, user: &mut User) -> bool {
        let before = user.clone();
        if let Some(chosen) = self.chosen {
            let connection = user
                .status_connection()
                .and_then(Status::parse)
                .unwrap_or(Status::Offline);
            user.set_status(chosen.code(), shown(connection, chosen).code());
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

        /// Applying the same change twice changes nothing the second time.
        #[test]
        fn a_change_is_idempotent(s in 0..4usize, text in proptest::option::of("[a-z ]{0,8}")) {
            let all = [Status::Online, Status::Away, Status::Busy, Status::Offline];
            let change = StatusChange { chosen: Some(all[s]), text, at: "T1".into() };
            let mut u = user("online");
            change.apply(&mut u);
            prop_assert!(!change.apply(&mut u));
        }
    }
}
