//! The import's marker in the database (`Store::rocketchat_import`): which dump is being, or
//! was, imported. It makes a crash in the write pass resumable (the same dump again finishes
//! it) and keeps a finished import from being applied twice.

use std::path::Path;

use anyhow::bail;
use serde_json::{json, Value};

use crate::model::time;
use crate::store::Store;

/// The marker as read before the import.
pub(super) struct Marker(Option<Value>);

/// What the marker says about importing a dump.
pub(super) enum Verdict {
    /// No import of this dump is unfinished: start from the beginning.
    Fresh,
    /// This dump's import was interrupted: write it again, over what it wrote.
    Resume,
}

impl Marker {
    pub(super) fn read(store: &Store) -> anyhow::Result<Marker> {
        Ok(Marker(store.rocketchat_import()?))
    }

    /// Whether no import ever ran on the database.
    pub(super) fn is_none(&self) -> bool {
        self.0.is_none()
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.0.as_ref()?.get(name)?.as_str()
    }

    /// What to do with the dump at `path`, whose fingerprint is `fingerprint`; an error if
    /// another dump's import is unfinished, or this one is done.
    pub(super) fn verdict(&self, fingerprint: &str, path: &Path) -> anyhow::Result<Verdict> {
        let same = self.field("fingerprint") == Some(fingerprint);
        match (self.field("state"), same) {
            (Some("running"), true) => Ok(Verdict::Resume),
            (Some("running"), false) => bail!(
                "the database holds an unfinished import of another dump ({}); run that import \
                 again to finish it, or import into an empty database",
                self.field("source").unwrap_or("unknown")
            ),
            (Some(_), true) => bail!(
                "{} was already imported into this database ({}); nothing changed",
                path.display(),
                self.field("finished").unwrap_or("earlier")
            ),
            _ => Ok(Verdict::Fresh),
        }
    }
}

/// What the marker records of the import under way.
pub(super) struct Record<'a> {
    pub fingerprint: &'a str,
    /// The dump's path, as given.
    pub source: &'a str,
    pub started: time::Millis,
}

impl Record<'_> {
    fn with_state(&self, state: &str) -> Value {
        json!({
            "state": state,
            "fingerprint": self.fingerprint,
            "source": self.source,
            "started": time::iso(self.started),
        })
    }

    /// Marks the import as running: from here on, a crash is finished by the same dump.
    pub(super) fn running(&self, store: &Store) -> anyhow::Result<()> {
        Ok(store.set_rocketchat_import(&self.with_state("running"))?)
    }

    /// Marks the import as done, with the documents it wrote.
    pub(super) fn done(&self, store: &Store, documents: u64) -> anyhow::Result<()> {
        let mut record = self.with_state("done");
        record["finished"] = json!(time::iso(time::now_millis()));
        record["documents"] = json!(documents);
        Ok(store.set_rocketchat_import(&record)?)
    }
}
