//! `rcpush import PATH`: a Rocket.Chat workspace from a MongoDB dump (`rcpush::import`).

use std::path::PathBuf;

use rcpush::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// The dump.
    path: PathBuf,
    /// The database to import, when the dump holds several Rocket.Chat databases.
    #[arg(long)]
    db: Option<String>,
    /// Fail instead of skipping documents (or writing values without a JSON form).
    #[arg(long)]
    strict: bool,
    /// Import into a database that already holds data, if nothing collides.
    #[arg(long)]
    merge: bool,
    /// Keep the push and cloud credentials among the settings.
    #[arg(long)]
    import_secrets: bool,
    /// Leave out messages older than this date (YYYY-MM-DD or RFC 3339): push.get is
    /// asked about recent messages, and a small device may not hold the whole history.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    messages_since: Option<i64>,
}

/// Imports the dump: nothing is written unless the whole dump reads and checks.
pub fn run(config: &Config, args: Args) -> anyhow::Result<()> {
    let options = rcpush::import::Options {
        path: args.path,
        db: args.db,
        strict: args.strict,
        merge: args.merge,
        placeholders: rcpush::import::Placeholders::new(
            &config.admin.username,
            seed(config).as_ref(),
        ),
        import_secrets: args.import_secrets,
        messages_since: args.messages_since,
        staging: config.storage.path.with_extension("import-staging"),
        now: rcpush::model::time::now_millis(),
    };
    let report = super::on_new_database(config, |store| rcpush::import::run(store, &options))?;
    println!("{report}");
    Ok(())
}

/// The seed bundle a first start loads (`seed.file`), whose documents an import replaces;
/// `None` if there is none, or it cannot be read (then there is nothing of it to replace).
fn seed(config: &Config) -> Option<rcpush::store::Import> {
    let file = &config.seed.file;
    (!file.is_empty())
        .then(|| rcpush::seed::read_file(file.as_ref()).ok())
        .flatten()
}

/// `2025-01-31` (midnight UTC) or an RFC 3339 time, as milliseconds.
fn parse_date(s: &str) -> Result<i64, String> {
    if let Some(ms) = rcpush::model::time::parse_iso(s) {
        return Ok(ms);
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD or RFC 3339)"))
}
