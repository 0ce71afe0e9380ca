//! What an import may replace: the documents a first start writes (the configured admin
//! account, `rocket.cat` and `#general`, as Rocket.Chat's `initialData` does) and those of
//! the seed bundle a first start loads (the demo data). A database holding nothing else
//! counts as empty, and the dump's own `rocket.cat`, `GENERAL` and admins take their place.

use std::collections::BTreeSet;

use crate::model::room::GENERAL;
use crate::model::user::ROCKET_CAT;
use crate::store::trees::Tree;
use crate::store::{Import, Store};

/// The ids (and the admin's username) that a first start or its seed bundle wrote.
#[derive(Debug, Clone, Default)]
pub struct Placeholders {
    /// `admin.username`: the account a first start creates, with the `admin` role.
    pub admin_username: String,
    users: BTreeSet<String>,
    rooms: BTreeSet<String>,
    messages: BTreeSet<String>,
}

/// What the database holds, as far as an import is concerned.
#[derive(Debug, PartialEq, Eq)]
pub enum Holds {
    /// Settings at most.
    Nothing,
    /// Placeholders only: this many users, rooms and messages, which the import removes.
    Placeholders(usize),
    /// Data of its own besides: what it holds (`4 users, 2 messages`).
    Data(String),
}

impl Placeholders {
    /// A first start's placeholders with the configured admin, plus the documents of `seed`.
    pub fn new(admin_username: &str, seed: Option<&Import>) -> Placeholders {
        let mut p = Placeholders {
            admin_username: admin_username.to_string(),
            users: BTreeSet::from([ROCKET_CAT.to_string()]),
            rooms: BTreeSet::from([GENERAL.to_string()]),
            messages: BTreeSet::new(),
        };
        if let Some(seed) = seed {
            p.users
                .extend(seed.users.iter().map(|u| u.user.id().to_string()));
            p.rooms
                .extend(seed.rooms.iter().map(|r| r.id().to_string()));
            p.messages
                .extend(seed.messages.iter().map(|m| m.id.clone()));
        }
        p
    }

    /// Sorts what `store` holds. Cheap on a large database: ids are listed only when the
    /// counts leave room for placeholders alone.
    pub fn holds(&self, store: &Store) -> anyhow::Result<Holds> {
        let counts = store.document_counts()?;
        let count = |kind: &str| counts.iter().find(|(k, _)| *k == kind).map_or(0, |c| c.1);
        let (users, rooms, messages) = (count("users"), count("rooms"), count("messages"));
        let data = || {
            let held: Vec<String> = [("users", users), ("rooms", rooms), ("messages", messages)]
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(kind, n)| format!("{n} {kind}"))
                .collect();
            Ok(Holds::Data(held.join(", ")))
        };
        // Subscriptions, devices and pushes belong to users and rooms: with them they go.
        if users + rooms + messages == 0 {
            return Ok(Holds::Nothing);
        }
        // The one admin account beyond the bundle's users.
        if users > self.users.len() + 1
            || rooms > self.rooms.len()
            || messages > self.messages.len()
        {
            return data();
        }
        let ids = |tree: Tree| -> anyhow::Result<Vec<String>> {
            Ok(store
                .entries(tree)?
                .into_iter()
                .map(|(key, _)| String::from_utf8_lossy(&key).into_owned())
                .collect())
        };
        let mut own_users = 0;
        for id in ids(Tree::UseridUser)? {
            if !self.users.contains(&id) && !self.is_first_admin(store, &id)? {
                own_users += 1;
            }
        }
        let own_rooms = ids(Tree::RoomidRoom)?
            .iter()
            .filter(|id| !self.rooms.contains(*id))
            .count();
        let own_messages = ids(Tree::MessageidMessage)?
            .iter()
            .filter(|id| !self.messages.contains(*id))
            .count();
        if own_users + own_rooms + own_messages > 0 {
            return data();
        }
        Ok(Holds::Placeholders(users + rooms + messages))
    }

    /// Whether user `id` is the admin account a first start created.
    fn is_first_admin(&self, store: &Store, id: &str) -> anyhow::Result<bool> {
        Ok(store.user(id)?.is_some_and(|u| {
            u.username() == Some(self.admin_username.as_str()) && u.roles().contains(&"admin")
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(text: &str) -> Import {
        crate::seed::parse(text).unwrap()
    }

    const SEED: &str = r#"{"users":[{"_id":"u1","username":"ann"}],
        "rooms":[{"_id":"r1","t":"c","name":"a"}],
        "messages":[{"_id":"m1","rid":"r1","msg":"hi","ts":"2024-01-01T00:00:00.000Z",
                     "u":{"_id":"u1","username":"ann"}}]}"#;

    /// Holds what `store` holds after each of `loads`, with the seed `SEED` and admin `root`.
    fn holds_after(loads: &[&str]) -> Holds {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 4).unwrap();
        for load in loads {
            store.import(&bundle(load)).unwrap();
        }
        let seed = bundle(SEED);
        Placeholders::new("root", Some(&seed))
            .holds(&store)
            .unwrap()
    }

    const FIRST_START: &str = r#"{"users":[
        {"_id":"a1","username":"root","roles":["admin"]},
        {"_id":"rocket.cat","username":"rocket.cat","roles":["bot"]}],
        "rooms":[{"_id":"GENERAL","t":"c","name":"general"}],
        "settings":[{"_id":"Site_Url","value":"http://x"}]}"#;

    #[test]
    fn a_first_start_and_its_seed_are_placeholders_and_nothing_else_is() {
        assert_eq!(holds_after(&[]), Holds::Nothing);
        assert_eq!(
            holds_after(&[r#"{"settings":[{"_id":"Site_Url","value":"http://x"}]}"#]),
            Holds::Nothing
        );
        assert_eq!(holds_after(&[FIRST_START]), Holds::Placeholders(3));
        assert_eq!(holds_after(&[SEED, FIRST_START]), Holds::Placeholders(6));
        // A message, a user or a room of the database's own.
        let own_message = r#"{"messages":[{"_id":"m2","rid":"r1","msg":"mine",
            "ts":"2024-01-01T00:00:00.000Z","u":{"_id":"u1","username":"ann"}}]}"#;
        assert_eq!(
            holds_after(&[SEED, own_message]),
            Holds::Data("1 users, 1 rooms, 2 messages".into())
        );
        // Not the configured admin: another name, or the name without the admin role.
        for user in [
            r#"{"users":[{"_id":"a2","username":"boss","roles":["admin"]}]}"#,
            r#"{"users":[{"_id":"a2","username":"root","roles":["user"]}]}"#,
        ] {
            assert_eq!(
                holds_after(&[user]),
                Holds::Data("1 users".into()),
                "{user}"
            );
        }
        assert_eq!(
            holds_after(&[
                FIRST_START,
                r#"{"rooms":[{"_id":"r9","t":"c","name":"b"}]}"#
            ]),
            Holds::Data("2 users, 2 rooms".into())
        );
    }
}
