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
pub mod bson_json;
mod document;
#[cfg(feature = "bench-data")]
pub mod fixture;
mod markers;
mod placeholders;
pub mod prepare;
mod progress;
mod report;
pub mod source;
mod spool;
mod staging;
mod writer;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;

use crate::model::time;
use crate::store::Store;
use document::describe;
use markers::{Marker, Verdict};
use placeholders::Holds;
pub use placeholders::Placeholders;
use prepare::{Context, Prepared, Tally, MESSAGES};
pub use report::Report;
use staging::{Stage, Staging};
use writer::Writer;

/// What `rcpush import` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub path: PathBuf,
    pub db: Option<String>,
    /// Skipped documents and values without a JSON form are errors.
    pub strict: bool,
    /// Import into a database that holds other data, if nothing collides.
    pub merge: bool,
    /// What a first start (and its seed bundle) wrote: replaced, not merged with.
    pub placeholders: Placeholders,
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

pub fn run(store: &Store, options: &Options) -> anyhow::Result<Report> {
    let started = Instant::now();
    let marker = Marker::read(store)?;
    if marker.is_none() && !options.merge {
        replaceable(store, &options.placeholders)?;
    }

    let staged = Staging::create(&options.staging)?;

    // Pass 1: stage.
    let mut stage = Stage::new(
        staged.path(),
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

    let (resumed, replaced) = match marker.verdict(&fingerprint, &options.path)? {
        Verdict::Resume => (true, 0),
        Verdict::Fresh if options.merge => (false, 0),
        Verdict::Fresh => (false, replaceable(store, &options.placeholders)?),
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
        spool::each_staged(staged.path(), collection, |raw| {
            prepare::observe(collection, raw, &mut ctx).map_err(anyhow::Error::msg)
        })?;
        let tally = tallies.entry(collection).or_default();
        spool::each_staged(staged.path(), collection, |raw| {
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
    let record = markers::Record {
        fingerprint: &fingerprint,
        source: &source_text,
        started: options.now,
    };
    // Cleared first: a crash before the marker leaves a database an import goes into.
    if replaced > 0 {
        store.clear_workspace()?;
    }
    record.running(store)?;
    let messages = tallies.get(MESSAGES).map_or(0, |t| t.imported);
    let mut writer = Writer::new(store, messages);
    for collection in prepare::ORDER {
        let total = tallies.get(collection).map_or(0, |t| t.read);
        let bar = progress::writing(collection, total);
        if collection == MESSAGES {
            spool::each_prepared_message(staged.path(), |m| {
                bar.inc(1);
                writer.add(Prepared::Message(m))
            })?;
        } else {
            let mut scratch = Tally::default();
            spool::each_staged(staged.path(), collection, |raw| {
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
    record.done(store, documents)?;

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
        replaced,
    })
}

/// An import goes into an empty database unless `--merge` says otherwise. Settings count as
/// empty (the dump's replace them), and so do a first start's placeholders and its seed
/// bundle (`placeholders.rs`): returns how many of those the import removes.
fn replaceable(store: &Store, placeholders: &Placeholders) -> anyhow::Result<usize> {
    match placeholders.holds(store)? {
        Holds::Nothing => Ok(0),
        Holds::Placeholders(n) => Ok(n),
        Holds::Data(held) => bail!(
            "the database already holds {held}, not only what a first start and its seed \
             bundle wrote (which an import replaces); import into an empty database, or pass \
             --merge to add the dump if none of its ids, usernames, e-mails or room names \
             collide"
        ),
    }
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
        Prepared::Team(t) => {
            if store.team(t.id())?.is_some() {
                out.push(format!("team {}", t.id()));
            }
        }
        Prepared::TeamMember(m) => {
            if store.team_member(m.team_id(), m.user_id())?.is_some() {
                out.push(format!("team member {} of {}", m.user_id(), m.team_id()));
            }
        }
        Prepared::Setting(_) | Prepared::Subscription(_) | Prepared::Message(_) => {}
    }
    Ok(())
}
