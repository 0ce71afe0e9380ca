//! Testing mode's reset: every tree as it was right after start-up, held in memory and
//! written back over whatever the tests changed.

use std::collections::BTreeMap;

use super::engine::{Batch, Entries, Mode};
use super::trees::Tree;
use super::{Store, StoreResult};

/// Every entry of every tree at one moment.
pub struct Snapshot {
    trees: Vec<(Tree, Entries)>,
}

impl Store {
    /// The whole database as it is now (start-up only: it holds everything in memory).
    pub fn capture_state(&self) -> StoreResult<Snapshot> {
        self.read_consistent(|store| {
            let trees = Tree::ALL
                .iter()
                .map(|&t| Ok((t, store.engine.scan_prefix(t, b"")?)))
                .collect::<StoreResult<_>>()?;
            Ok(Snapshot { trees })
        })
    }

    /// Puts the database back to `snapshot`, in one durable write. Only the entries that
    /// differ are written, so that the cost follows what the tests changed, not the size of
    /// the database. Not through `write`: the snapshot's badges are already right.
    /// The change feed starts again: its first event is this write's `Resync`.
    pub fn restore(&self, snapshot: &Snapshot) -> StoreResult<()> {
        let tx = self.engine.clone().begin(Mode::Write)?;
        let view = tx.view();
        let mut batch = Batch {
            wholesale: true,
            restarts_feed: true,
            ..Batch::default()
        };
        for (tree, entries) in &snapshot.trees {
            let mut wanted: BTreeMap<&[u8], &[u8]> = entries
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_slice()))
                .collect();
            for (key, value) in view.scan_prefix(*tree, b"")? {
                match wanted.remove(key.as_slice()) {
                    Some(v) if v == value.as_slice() => {}
                    Some(v) => batch.put(*tree, key, v),
                    None => batch.delete(*tree, key),
                }
            }
            for (key, value) in wanted {
                batch.put(*tree, key, value);
            }
        }
        let done = self.commit(tx, &self.through(view), batch, true);
        self.caches.clear();
        done
    }
}

impl Store {
    /// Removes every document of the workspace (users and their tokens, rooms, subscriptions,
    /// messages, devices, pushes, the delivery log) in one durable write, keeping the
    /// settings, the permission changes and the database's own records (`Tree::Meta`): what
    /// `rcpush import` does before it writes a dump over a first start's placeholders.
    pub fn clear_workspace(&self) -> StoreResult<()> {
        let kept = [
            Tree::Meta,
            Tree::SettingidSetting,
            Tree::PermissionidPermission,
        ];
        let tx = self.engine.clone().begin(Mode::Write)?;
        let view = tx.view();
        let mut batch = Batch {
            wholesale: true,
            ..Batch::default()
        };
        for tree in Tree::ALL.into_iter().filter(|t| !kept.contains(t)) {
            for (key, _) in view.scan_prefix(tree, b"")? {
                batch.delete(tree, key);
            }
        }
        let done = self.commit(tx, &self.through(view), batch, true);
        self.caches.clear();
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_brings_back_every_tree_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 4).unwrap();
        let import = crate::seed::parse(
            r#"{"users":[{"_id":"u1","username":"ann"}],
                "rooms":[{"_id":"r1","t":"c","name":"a"}],
                "subscriptions":[{"_id":"s1","rid":"r1","u":{"_id":"u1"},"unread":2}]}"#,
        )
        .unwrap();
        store.import(&import).unwrap();
        let before = store.capture_state().unwrap();
        assert_eq!(store.badge("u1").unwrap(), 2);

        let more = crate::seed::parse(
            r#"{"users":[{"_id":"u2","username":"bo"}],
                "subscriptions":[{"_id":"s2","rid":"r1","u":{"_id":"u2"},"unread":1}]}"#,
        )
        .unwrap();
        store.import(&more).unwrap();
        store.restore(&before).unwrap();

        let after = store.capture_state().unwrap();
        assert_eq!(before.trees, after.trees);
        assert!(store.user_identity("u2").unwrap().is_none());
        assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
    }
}
