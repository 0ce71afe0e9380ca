//! The final report of an import: what was read, imported and skipped, per collection.

use std::collections::BTreeSet;

use super::document::Found;
use super::prepare::{Tally, MESSAGES};
use super::source::Kind;

/// What an import did, for the final report.
#[derive(Debug)]
pub struct Report {
    pub kind: Kind,
    pub found: Found,
    pub collections: Vec<(&'static str, Tally)>,
    /// Collections of the dump rcpush does not import.
    pub ignored: BTreeSet<String>,
    pub site_url: Option<String>,
    pub unique_id: Option<String>,
    /// Rocket.Chat's schema version (`migrations` `control` document).
    pub schema_version: Option<i64>,
    /// Messages and users' tokens read back after writing, all found as written.
    pub self_check: (usize, usize),
    pub seconds: f64,
    pub resumed: bool,
    /// Users, rooms and messages of a first start or its seed bundle, removed first.
    pub replaced: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "rcpush: import: {} (database {}{})",
            self.kind,
            self.found.db.as_deref().unwrap_or("?"),
            self.found
                .server_version
                .as_deref()
                .map(|v| format!(", MongoDB {v}"))
                .unwrap_or_default()
        )?;
        if self.kind == Kind::Export {
            writeln!(
                f,
                "  note: mongoexport turns invalid UTF-8 into U+FFFD; a mongodump keeps it"
            )?;
        }
        if let Some(v) = self.schema_version {
            writeln!(f, "  Rocket.Chat schema version {v}")?;
        }
        if let Some(id) = &self.unique_id {
            writeln!(f, "  uniqueID {id} (notification ids stay the same)")?;
        }
        if let Some(url) = &self.site_url {
            writeln!(f, "  Site_Url {url}")?;
        }
        for (collection, t) in &self.collections {
            writeln!(
                f,
                "  {collection:<24} {:>9} read {:>9} imported {:>12} bytes",
                t.read, t.imported, t.bytes
            )?;
            for (reason, n) in &t.skipped {
                writeln!(f, "      skipped {n}: {reason}")?;
            }
            for (fact, n) in &t.facts {
                writeln!(f, "      {n} {fact}")?;
            }
        }
        if !self.ignored.is_empty() {
            let names: Vec<&str> = self.ignored.iter().map(String::as_str).collect();
            writeln!(f, "  not imported: {}", names.join(", "))?;
        }
        let messages = self
            .collections
            .iter()
            .find(|(c, _)| *c == MESSAGES)
            .map_or(0, |(_, t)| t.imported);
        if self.replaced > 0 {
            writeln!(
                f,
                "  replaced what a first start and its seed bundle wrote ({} users, rooms and \
                 messages: the configured admin, rocket.cat, #general, the demo data)",
                self.replaced
            )?;
        }
        writeln!(
            f,
            "  self-check: {} messages and {} users' login tokens read back as written",
            self.self_check.0, self.self_check.1
        )?;
        write!(
            f,
            "rcpush: imported {} documents in {:.1} s ({:.0} messages/s){}",
            self.collections
                .iter()
                .map(|(_, t)| t.imported)
                .sum::<u64>(),
            self.seconds,
            messages as f64 / self.seconds.max(1e-9),
            if self.resumed {
                ", finishing an interrupted import"
            } else {
                ""
            }
        )
    }
}
