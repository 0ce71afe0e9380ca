//! `rcpush import PATH`: a Rocket.Chat workspace from a MongoDB dump (issue 12, import spec).
//!
//! Three passes, so that bad input never leaves half an import behind:
//! 1. **stage**: read the dump once (any format), check every document, render messages
//!    to their final JSON, and spool the documents to temporary files next to the database;
//! 2. **plan**: over the small collections in dependency order, learn what later documents
//!    need (user and room ids, duplicate tokens and devices) and count every skip;
//! 3. **write**: only if nothing failed (and, with `--strict`, nothing was skipped), write
//!    the batches. A marker in the database records the import as running, then done: a
//!    crash in this pass is finished by running the same command again (every write is a
//!    put of the same key and value), and a finished import is not applied twice.

pub mod archive;
mod document;
#[cfg(feature = "bench-data")]
pub mod fixture;
pub mod prepare;
pub mod source;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use bson::raw::RawBsonRef;
use bson::{RawDocument, RawDocumentBuf};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::model::{time, Message};
use crate::store::{Import, ImportedMessage, Store};
use document::{At, Found, Sink};
use prepare::{Context, Prepared, Tally, MESSAGES};
use source::Kind;

/// What `rcpush import` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub path: PathBuf,
    pub db: Option<String>,
    /// Skipped documents and values without a JSON form are errors.
    pub strict: bool,
    /// Import into a database that holds other data, if nothing collides.
    pub merge: bool,
    /// Keep the push and cloud credentials among the settings.
    pub import_secrets: bool,
    /// Leave out messages older than this (ms): push.get is asked about recent messages, and
    /// a small device may not hold the whole history.
    pub messages_since: Option<time::Millis>,
    /// The staging folder: emptied first (what an interrupted run left), removed at the end.
    /// The caller holds the database, so no other import of it uses the folder.
    pub staging: PathBuf,
    pub now: time::Millis,
}

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
}

/// Documents per write (and flush). sled's memory grows with the size of its batches: for
/// 200k messages, 5,000 per batch peaked at 190 MB, 500 at 88 MB (debug build).
const BATCH_DOCUMENTS: usize = 500;
const BATCH_BYTES: usize = 1 << 20;

pub fn run(store: &Store, options: &Options) -> anyhow::Result<Report> {
    let started = Instant::now();
    let marker = store.rocketchat_import()?;
    if marker.is_none() && !options.merge {
        refuse_if_not_empty(store)?;
    }

    let spool = Staging::create(&options.staging)?;

    // Pass 1: stage.
    let mut stage = Stage::new(
        spool.path(),
        options.merge.then_some(store),
        options.messages_since,
    )?;
    let (kind, found) = source::read(&options.path, options.db.as_deref(), &mut stage)?;
    let fingerprint = stage.finish()?;
    if !stage.seen.contains(prepare::DEVICES) {
        if let Some(other) = stage.ignored.iter().find(|c| {
            let c = c.to_lowercase();
            c.contains("push") && c.contains("token")
        }) {
            bail!(
                "the dump has no _raix_push_app_tokens but has {other}: this Rocket.Chat stores \
                 devices differently; refusing to import zero devices"
            );
        }
    }

    let resumed = match marker
        .as_ref()
        .and_then(|m| m.get("state"))
        .and_then(|s| s.as_str())
    {
        Some("running") if marker_fingerprint(&marker) == Some(&fingerprint) => true,
        Some("running") => bail!(
            "the database holds an unfinished import of another dump ({}); run that import \
             again to finish it, or import into an empty database",
            marker_source(&marker)
        ),
        Some(_) if marker_fingerprint(&marker) == Some(&fingerprint) => bail!(
            "{} was already imported into this database ({}); nothing changed",
            options.path.display(),
            marker
                .as_ref()
                .and_then(|m| m.get("finished"))
                .and_then(|f| f.as_str())
                .unwrap_or("earlier")
        ),
        _ => {
            if !options.merge {
                refuse_if_not_empty(store)?;
            }
            false
        }
    };

    // Pass 2: plan.
    let mut ctx = Context::new(options.now, options.import_secrets);
    let mut tallies: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let mut collisions = stage.collisions.clone();
    for collection in prepare::ORDER {
        if collection == MESSAGES {
            tallies.insert(MESSAGES, stage.messages_tally.clone());
            continue;
        }
        each_staged(spool.path(), collection, |raw| {
            prepare::observe(collection, raw, &mut ctx).map_err(anyhow::Error::msg)
        })?;
        let tally = tallies.entry(collection).or_default();
        each_staged(spool.path(), collection, |raw| {
            let prepared = prepare::prepare(collection, raw, &ctx, tally)
                .map_err(|e| anyhow::anyhow!("{collection}: {}: {e}", describe(raw)))?;
            if let (Some(p), true, false) = (&prepared, options.merge, resumed) {
                collides(store, p, &mut collisions)?;
            }
            Ok(())
        })?;
    }
    if !collisions.is_empty() {
        let shown: Vec<&str> = collisions.iter().take(5).map(String::as_str).collect();
        bail!(
            "--merge: {} documents of the dump collide with the database ({}{}); nothing was written",
            collisions.len(),
            shown.join(", "),
            if collisions.len() > 5 { ", …" } else { "" }
        );
    }
    if options.strict {
        let skipped: u64 = tallies.values().flat_map(|t| t.skipped.values()).sum();
        let odd: u64 = tallies.values().map(|t| t.unexpected_values).sum();
        if skipped + odd > 0 {
            let first = tallies
                .iter()
                .find_map(|(c, t)| {
                    t.skipped
                        .iter()
                        .next()
                        .map(|(r, n)| format!("{c}: {n} {r}"))
                })
                .unwrap_or_else(|| format!("{odd} values without a JSON form"));
            bail!("--strict: {} documents or values would be skipped or changed ({first}); nothing was written", skipped + odd);
        }
    }

    // Pass 3: write.
    let source_text = options.path.display().to_string();
    store.set_rocketchat_import(&json!({
        "state": "running",
        "fingerprint": fingerprint,
        "source": source_text,
        "started": time::iso(options.now),
    }))?;
    let messages = tallies.get(MESSAGES).map_or(0, |t| t.imported);
    let mut writer = Writer::new(store, (messages / SELF_CHECK_MESSAGES).max(1));
    for collection in prepare::ORDER {
        let total = tallies.get(collection).map_or(0, |t| t.read);
        let bar = progress_bar(collection, total);
        if collection == MESSAGES {
            each_prepared_message(spool.path(), |m| {
                bar.inc(1);
                writer.add(Prepared::Message(m))
            })?;
        } else {
            let mut scratch = Tally::default();
            each_staged(spool.path(), collection, |raw| {
                bar.inc(1);
                if let Some(p) = prepare::prepare(collection, raw, &ctx, &mut scratch)
                    .map_err(anyhow::Error::msg)?
                {
                    writer.add(p)?;
                }
                Ok(())
            })?;
        }
        writer.flush()?;
        bar.finish_and_clear();
    }
    let self_check = writer.self_check()?;
    let documents: u64 = tallies.values().map(|t| t.imported).sum();
    store.set_rocketchat_import(&json!({
        "state": "done",
        "fingerprint": fingerprint,
        "source": source_text,
        "started": time::iso(options.now),
        "finished": time::iso(time::now_millis()),
        "documents": documents,
    }))?;

    Ok(Report {
        kind,
        found,
        collections: prepare::ORDER
            .iter()
            .map(|c| (*c, tallies.remove(c).unwrap_or_default()))
            .collect(),
        ignored: stage.ignored,
        site_url: ctx.site_url,
        unique_id: ctx.unique_id,
        schema_version: stage.schema_version,
        self_check,
        seconds: started.elapsed().as_secs_f64(),
        resumed,
    })
}

/// The staging folder, removed when dropped (whether the import succeeded or not).
struct Staging(PathBuf);

impl Staging {
    fn create(path: &Path) -> anyhow::Result<Staging> {
        if path.exists() {
            std::fs::remove_dir_all(path)
                .with_context(|| format!("cannot empty the staging folder {}", path.display()))?;
        }
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create the staging folder {}", path.display()))?;
        Ok(Staging(path.to_path_buf()))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn marker_fingerprint(marker: &Option<serde_json::Value>) -> Option<&str> {
    marker.as_ref()?.get("fingerprint")?.as_str()
}

fn marker_source(marker: &Option<serde_json::Value>) -> &str {
    marker
        .as_ref()
        .and_then(|m| m.get("source"))
        .and_then(|s| s.as_str())
        .unwrap_or("unknown")
}

/// An import goes into an empty database unless `--merge` says otherwise (settings that
/// `serve` wrote on its first start do not count: the dump's replace them).
fn refuse_if_not_empty(store: &Store) -> anyhow::Result<()> {
    let held: Vec<String> = store
        .document_counts()?
        .into_iter()
        .filter(|(kind, n)| *n > 0 && *kind != "settings")
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    if !held.is_empty() {
        bail!(
            "the database already holds {}; import into an empty database, or pass --merge \
             to add the dump if none of its ids, usernames, e-mails or room names collide",
            held.join(", ")
        );
    }
    Ok(())
}

/// Records what a prepared document would overwrite or make ambiguous in the database.
fn collides(store: &Store, p: &Prepared, out: &mut Vec<String>) -> anyhow::Result<()> {
    match p {
        Prepared::User(u) => {
            if store.user(u.user.id())?.is_some() {
                out.push(format!("user {}", u.user.id()));
            }
            if let Some(name) = u.user.username() {
                if store.user_id_by_username(name)?.is_some() {
                    out.push(format!("username {name}"));
                }
            }
            for email in u.user.emails() {
                if store.user_id_by_email(email)?.is_some() {
                    out.push(format!("e-mail {email}"));
                }
            }
        }
        Prepared::Room(r) => {
            if store.room(r.id())?.is_some() {
                out.push(format!("room {}", r.id()));
            }
            if let Some(name) = r.name() {
                if store.room_id_by_name(name)?.is_some() {
                    out.push(format!("room name {name}"));
                }
            }
        }
        Prepared::Device(d) => {
            if store.push_token(d.id())?.is_some() {
                out.push(format!("device {}", d.id()));
            }
        }
        Prepared::Setting(_) | Prepared::Subscription(_) | Prepared::Message(_) => {}
    }
    Ok(())
}

/// `_id X` of a document, for error lines.
fn describe(raw: &RawDocument) -> String {
    match raw.get("_id") {
        Ok(Some(RawBsonRef::String(s))) => format!("_id {s}"),
        Ok(Some(RawBsonRef::ObjectId(o))) => format!("_id ObjectId({})", o.to_hex()),
        _ => "a document without _id".into(),
    }
}

fn progress_bar(collection: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix:>24} {bar:30} {pos}/{len} ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(collection.to_string());
    bar
}

/// Rocket.Chat's migration state: read for the report only.
const MIGRATIONS: &str = "migrations";

/// Pass 1's sink: checks each document, spools the small collections as BSON and the
/// messages as their final JSON, and hashes everything (the dump's fingerprint).
struct Stage<'a> {
    dir: &'a Path,
    spools: HashMap<String, BufWriter<File>>,
    messages: BufWriter<File>,
    messages_tally: Tally,
    hashes: BTreeMap<String, Sha256>,
    /// Imported collections present in the dump (even if empty).
    seen: BTreeSet<String>,
    ignored: BTreeSet<String>,
    /// With `--merge`: the store, to find message ids that exist already.
    merge_into: Option<&'a Store>,
    collisions: Vec<String>,
    messages_since: Option<time::Millis>,
    schema_version: Option<i64>,
    bar: ProgressBar,
}

impl<'a> Stage<'a> {
    fn new(
        dir: &'a Path,
        merge_into: Option<&'a Store>,
        messages_since: Option<time::Millis>,
    ) -> anyhow::Result<Self> {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} reading the dump: {bytes} ({bytes_per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
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
            bar,
        })
    }

    /// Flushes the spools; the fingerprint of everything read.
    fn finish(&mut self) -> anyhow::Result<String> {
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
            write_record(&mut self.messages, m.id.as_bytes())?;
            write_record(&mut self.messages, m.message.raw().get().as_bytes())?;
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

fn write_record(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(&(bytes.len() as u32).to_le_bytes())?;
    out.write_all(bytes)
}

fn read_record(input: &mut impl Read) -> anyhow::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let mut bytes = vec![0; u32::from_le_bytes(len) as usize];
    input.read_exact(&mut bytes)?;
    Ok(Some(bytes))
}

/// Calls `each` for every staged document of `collection` (none if the dump had none).
fn each_staged(
    dir: &Path,
    collection: &str,
    mut each: impl FnMut(&RawDocument) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let path = dir.join(collection);
    if !path.exists() {
        return Ok(());
    }
    let mut input = BufReader::new(File::open(&path)?);
    let at = At {
        file: path.display().to_string(),
        offset: 0,
    };
    while let Some(word) = document::read_word(&mut input, &at)? {
        let bytes = document::read_document(&mut input, word, &at)?;
        let raw = RawDocumentBuf::from_bytes(bytes)?;
        each(&raw)?;
    }
    Ok(())
}

fn each_prepared_message(
    dir: &Path,
    mut each: impl FnMut(ImportedMessage) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut input = BufReader::new(File::open(dir.join(MESSAGES))?);
    while let Some(id) = read_record(&mut input)? {
        let json = read_record(&mut input)?.context("staged messages end early")?;
        let id = String::from_utf8(id)?;
        let message = Message::from_json(json)?;
        each(ImportedMessage { message, id })?;
    }
    Ok(())
}

/// About how many messages, and how many users' tokens, are read back after the import.
const SELF_CHECK_MESSAGES: u64 = 1_000;
const SELF_CHECK_USERS: usize = 100;

/// Collects prepared documents into store batches of bounded size, and keeps a sample of
/// what it wrote to read back at the end (import spec §7).
struct Writer<'a> {
    store: &'a Store,
    batch: Import,
    documents: usize,
    bytes: usize,
    /// Every `sample_every`-th message is sampled (a later duplicate `_id` replaces it).
    sample_every: u64,
    messages: u64,
    sampled_messages: HashMap<String, String>,
    sampled_tokens: Vec<(String, String)>,
}

impl<'a> Writer<'a> {
    fn new(store: &'a Store, sample_every: u64) -> Self {
        Writer {
            store,
            batch: Import::default(),
            documents: 0,
            bytes: 0,
            sample_every,
            messages: 0,
            sampled_messages: HashMap::new(),
            sampled_tokens: Vec::new(),
        }
    }

    fn add(&mut self, p: Prepared) -> anyhow::Result<()> {
        self.documents += 1;
        self.sample(&p);
        match p {
            Prepared::Setting(s) => self.batch.settings.push(s),
            Prepared::User(u) => self.batch.users.push(u),
            Prepared::Room(r) => self.batch.rooms.push(r),
            Prepared::Subscription(s) => self.batch.subscriptions.push(s),
            Prepared::Message(m) => {
                self.bytes += m.message.raw().get().len();
                self.batch.messages.push(m);
            }
            Prepared::Device(d) => self.batch.push_tokens.push(d),
        }
        if self.documents >= BATCH_DOCUMENTS || self.bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn sample(&mut self, p: &Prepared) {
        match p {
            Prepared::Message(m) => {
                let json = m.message.raw().get();
                if self.messages.is_multiple_of(self.sample_every)
                    || self.sampled_messages.contains_key(&m.id)
                {
                    self.sampled_messages.insert(m.id.clone(), json.to_string());
                }
                self.messages += 1;
            }
            Prepared::User(u) if self.sampled_tokens.len() < SELF_CHECK_USERS => {
                if let Some((hash, token)) = u.tokens.first() {
                    self.sampled_tokens
                        .push((hash.clone(), token.user_id.clone()));
                }
            }
            _ => {}
        }
    }

    /// Reads the sample back: each message as written, each token resolving to its user.
    fn self_check(&self) -> anyhow::Result<(usize, usize)> {
        for (id, json) in &self.sampled_messages {
            let stored = self.store.message(id)?;
            if stored.as_ref().map(|m| m.raw().get()) != Some(json.as_str()) {
                bail!("self-check: message {id} does not read back as written; run the same command again");
            }
        }
        for (hash, user) in &self.sampled_tokens {
            if self
                .store
                .login_token(hash)?
                .map(|t| t.user_id.clone())
                .as_ref()
                != Some(user)
            {
                bail!("self-check: a login token of user {user} does not resolve to them; run the same command again");
            }
        }
        Ok((self.sampled_messages.len(), self.sampled_tokens.len()))
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.documents > 0 {
            self.store.import(&std::mem::take(&mut self.batch))?;
            self.documents = 0;
            self.bytes = 0;
        }
        Ok(())
    }
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
