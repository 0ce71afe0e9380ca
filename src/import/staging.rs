//! Pass 1 of an import: the staging folder next to the database, and the sink that reads
//! the dump into it (`spool.rs` has the files' format).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bson::raw::RawBsonRef;
use bson::RawDocumentBuf;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

use super::document::{describe, At, Sink};
use super::prepare::{self, Context, Prepared, Tally, MESSAGES};
use super::{progress, spool};
use crate::model::time;
use crate::store::Store;

/// The staging folder, removed when dropped (whether the import succeeded or not).
pub(super) struct Staging(PathBuf);

impl Staging {
    pub(super) fn create(path: &Path) -> anyhow::Result<Staging> {
        if path.exists() {
            std::fs::remove_dir_all(path)
                .with_context(|| format!("cannot empty the staging folder {}", path.display()))?;
        }
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create the staging folder {}", path.display()))?;
        Ok(Staging(path.to_path_buf()))
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Rocket.Chat's migration state: read for the report only.
const MIGRATIONS: &str = "migrations";

/// Pass 1's sink: checks each document, spools the small collections as BSON and the
/// messages as their final JSON, and hashes everything (the dump's fingerprint).
pub(super) struct Stage<'a> {
    dir: &'a Path,
    spools: HashMap<String, BufWriter<File>>,
    messages: BufWriter<File>,
    pub(super) messages_tally: Tally,
    hashes: BTreeMap<String, Sha256>,
    /// Imported collections present in the dump (even if empty).
    pub(super) seen: BTreeSet<String>,
    pub(super) ignored: BTreeSet<String>,
    /// With `--merge`: the store, to find message ids that exist already.
    merge_into: Option<&'a Store>,
    pub(super) collisions: Vec<String>,
    messages_since: Option<time::Millis>,
    pub(super) schema_version: Option<i64>,
    bar: ProgressBar,
}

impl<'a> Stage<'a> {
    pub(super) fn new(
        dir: &'a Path,
        merge_into: Option<&'a Store>,
        messages_since: Option<time::Millis>,
    ) -> anyhow::Result<Self> {
        Ok(Stage {
            dir,
            spools: HashMap::new(),
            messages: BufWriter::new(File::create(dir.join(MESSAGES))?),
            messages_tally: Tally::default(),
            hashes: BTreeMap::new(),
            seen: BTreeSet::new(),
            ignored: BTreeSet::new(),
            merge_into,
            collisions: Vec::new(),
            messages_since,
            schema_version: None,
            bar: progress::reading(),
        })
    }

    /// Flushes the spools; the fingerprint of everything read.
    pub(super) fn finish(&mut self) -> anyhow::Result<String> {
        self.bar.finish_and_clear();
        self.messages.flush()?;
        for spool in self.spools.values_mut() {
            spool.flush()?;
        }
        let mut all = Sha256::new();
        // The same dump with another cut-off is another import.
        if let Some(since) = self.messages_since {
            all.update(format!("messages since {since}"));
        }
        for (name, hash) in std::mem::take(&mut self.hashes) {
            all.update(name.as_bytes());
            all.update(hash.finalize());
        }
        Ok(hex::encode(all.finalize()))
    }
}

impl Sink for Stage<'_> {
    fn wants(&mut self, collection: &str) -> bool {
        if collection == MIGRATIONS {
            return true;
        }
        if prepare::ORDER.contains(&collection) {
            self.seen.insert(collection.to_string());
            true
        } else {
            self.ignored.insert(collection.to_string());
            false
        }
    }

    fn read(&mut self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn document(&mut self, collection: &str, bytes: Vec<u8>, at: &At) -> anyhow::Result<()> {
        if collection == MIGRATIONS {
            let doc = RawDocumentBuf::from_bytes(bytes)?;
            if doc.get_str("_id").ok() == Some("control") {
                self.schema_version = match doc.get("version") {
                    Ok(Some(RawBsonRef::Int32(n))) => Some(n.into()),
                    Ok(Some(RawBsonRef::Int64(n))) => Some(n),
                    Ok(Some(RawBsonRef::Double(d))) => Some(d as i64),
                    _ => None,
                };
            }
            return Ok(());
        }
        self.hashes
            .entry(collection.to_string())
            .or_default()
            .update(&bytes);
        let raw = RawDocumentBuf::from_bytes(bytes)
            .map_err(|e| anyhow::anyhow!("{at}: corrupt BSON document: {e}"))?;
        if collection == MESSAGES {
            if let (Some(since), Ok(Some(RawBsonRef::DateTime(ts)))) =
                (self.messages_since, raw.get("ts"))
            {
                if ts.timestamp_millis() < since {
                    let tally = &mut self.messages_tally;
                    tally.read += 1;
                    *tally
                        .facts
                        .entry("messages older than --messages-since (left out)")
                        .or_default() += 1;
                    return Ok(());
                }
            }
            let Some(Prepared::Message(m)) = prepare::prepare(
                MESSAGES,
                &raw,
                &Context::default(),
                &mut self.messages_tally,
            )
            .map_err(|e| anyhow::anyhow!("{at}: {}: {e}", describe(&raw)))?
            else {
                return Ok(());
            };
            if let Some(store) = self.merge_into {
                if store.message(&m.id)?.is_some() {
                    self.collisions.push(format!("message {}", m.id));
                }
            }
            spool::write_message(&mut self.messages, &m.id, m.message.raw().get())?;
        } else {
            prepare::check(&raw).map_err(|e| anyhow::anyhow!("{at}: {}: {e}", describe(&raw)))?;
            let spool = match self.spools.get_mut(collection) {
                Some(s) => s,
                None => {
                    let file = File::create(self.dir.join(collection))?;
                    self.spools
                        .entry(collection.to_string())
                        .or_insert(BufWriter::new(file))
                }
            };
            spool.write_all(raw.as_bytes())?;
        }
        Ok(())
    }
}
