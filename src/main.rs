//! The `rcpush` command: serve (default), load or export a seed bundle, check the database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rcpush::config::{Backend, Config};
use rcpush::startup::{use_temporary_storage, Application};

#[derive(Parser)]
#[command(
    name = "rcpush",
    version,
    about = "A Rocket.Chat-compatible push notification server with an embedded database"
)]
struct Cli {
    /// Configuration file (default: $RCPUSH_CONFIG, else ./config.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve from a temporary database that is removed at exit, in testing mode (README).
    #[arg(long, global = true)]
    ephemeral: bool,
    /// Testing mode: draw ids and tokens from this seed and start the clock at a fixed
    /// instant, so that the same requests get the same answers (README).
    #[arg(long, global = true, value_name = "SEED")]
    deterministic: Option<u64>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Load a seed bundle (users, rooms, subscriptions, messages, settings) into the database.
    Seed {
        /// The bundle, a JSON file.
        file: PathBuf,
    },
    /// Fill an empty database with a generated world of the given size (for benchmarks).
    /// Only in builds with the `bench-data` feature; hidden from the help of others.
    #[command(hide = !cfg!(feature = "bench-data"))]
    Generate {
        /// Number of messages; users and rooms scale with it.
        #[arg(long, default_value_t = 100_000)]
        messages: usize,
        /// Random seed: the same seed gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Instead, write a Rocket.Chat `mongodump --archive` of a small workspace with
        /// this many messages to FILE (for `rcpush import` benchmarks).
        #[arg(long, value_name = "FILE")]
        rocketchat_dump: Option<PathBuf>,
    },
    /// Write the whole database as a seed bundle (asks the server if it is running). The
    /// push credentials (secret settings) are left out unless asked for.
    Export {
        /// Where to write the bundle (atomically); an existing file only with `--force`.
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        /// Keep the secret settings (APNs certificates and keys, the FCM service account)
        /// in the bundle, in plain text.
        #[arg(long)]
        include_secrets: bool,
    },
    /// Check that every index of the database agrees with its documents.
    Check,
    /// Import a Rocket.Chat workspace from a MongoDB dump: a mongodump folder, a
    /// `mongodump --archive` file (gzipped or not; `-` reads standard input) or mongoexport
    /// files. Passwords, login tokens and devices keep working.
    Import {
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
    },
}

fn main() -> ExitCode {
    return_large_allocations_to_the_system();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rcpush: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Each password hash allocates 19 MiB. glibc raises its mmap threshold after the first such
/// block is freed and then keeps later ones in per-thread arenas, so a stream of logins would
/// pin hundreds of MB. A fixed threshold makes every large block go back to the system.
fn return_large_allocations_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Folds a multi-line error (TOML's carets and source excerpts) into one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with('|')
                && !l
                    .split_once(" |")
                    .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn config_path(cli: &Cli) -> Option<PathBuf> {
    cli.config
        .clone()
        .or_else(|| std::env::var_os("RCPUSH_CONFIG").map(PathBuf::from))
        .or_else(|| {
            let default = PathBuf::from("config.toml");
            default.exists().then_some(default)
        })
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.ephemeral {
        if let Some(name) = cli
            .command
            .as_ref()
            .and_then(Command::name_without_ephemeral)
        {
            anyhow::bail!(
                "--ephemeral only goes with serve: `{name}` would work on a throwaway database"
            );
        }
    }
    if let Some(name) = cli
        .command
        .as_ref()
        .filter(|_| cli.deterministic.is_some())
        .and_then(Command::name_without_ephemeral)
    {
        anyhow::bail!("--deterministic only goes with serve (in testing mode), not with `{name}`");
    }
    let config_file = config_path(&cli);
    let mut config = Config::load(config_file.as_deref(), std::env::vars())?;
    if cli.deterministic.is_some() {
        config.testing.seed = cli.deterministic;
    }
    // A throwaway database is a test double's: testing mode comes with it.
    config.testing.enabled |= cli.ephemeral;
    // Before anything is logged: a refusal is the one line on stderr.
    config.check_testing()?;
    rcpush::telemetry::init(&config.log.level);
    let _temporary = if cli.ephemeral {
        let dir = use_temporary_storage(&mut config)?;
        tracing::info!(path = %dir.path().display(), "using a temporary database, removed at exit");
        Some(dir)
    } else {
        None
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&config, config_file.as_deref()),
        Command::Seed { file } => seed(&config, &file),
        Command::Generate {
            messages,
            rocketchat_dump: Some(file),
            ..
        } => generate_dump(&file, messages),
        Command::Generate {
            messages,
            seed,
            json,
            rocketchat_dump: None,
        } => generate(&config, messages, seed, json),
        Command::Export {
            file,
            force,
            include_secrets,
        } => export(&config, &file, force, include_secrets),
        Command::Check => check(&config),
        Command::Import {
            path,
            db,
            strict,
            merge,
            import_secrets,
            messages_since,
        } => import(
            &config,
            rcpush::import::Options {
                path,
                db,
                strict,
                merge,
                import_secrets,
                messages_since,
                staging: config.storage.path.with_extension("import-staging"),
                now: rcpush::model::time::now_millis(),
            },
        ),
    }
}

/// One line at start-up: which configuration file the server runs from, if any. Logged once
/// the server is built: the other commands, and a start-up that fails, keep stderr for their
/// one-line error.
fn log_config_file(file: Option<&Path>, config: &Config) {
    match file {
        Some(file) => tracing::info!(file = %file.display(), "configuration file loaded"),
        None if config.seed.file.is_empty() => tracing::info!(
            "no configuration file (no --config, $RCPUSH_CONFIG or ./config.toml): \
             built-in defaults in use, hence no seed"
        ),
        None => tracing::info!(
            seed = %config.seed.file,
            "no configuration file (no --config, $RCPUSH_CONFIG or ./config.toml): \
             built-in defaults in use"
        ),
    }
}

impl Command {
    /// The name of a command that works on the configured database, which `--ephemeral`
    /// would silently replace by an empty temporary one.
    fn name_without_ephemeral(&self) -> Option<&'static str> {
        match self {
            Command::Serve => None,
            Command::Seed { .. } => Some("seed"),
            Command::Generate { .. } => Some("generate"),
            Command::Export { .. } => Some("export"),
            Command::Check => Some("check"),
            Command::Import { .. } => Some("import"),
        }
    }
}

/// Restores a bundle into an empty database. The file is read and checked first, and a
/// database directory this run created is removed again if the load fails.
fn seed(config: &Config, file: &Path) -> anyhow::Result<()> {
    let import = rcpush::seed::read_file(file)?;
    let n = on_new_database(config, |store| {
        let held: usize = store.document_counts()?.iter().map(|(_, n)| n).sum();
        if held > 0 {
            let (what, instead) = match config.storage.backend {
                Backend::Sled => (
                    config.storage.path.display().to_string(),
                    "point storage.path at a new directory",
                ),
                Backend::Postgres => (
                    "in PostgreSQL".into(),
                    "point storage.url at an empty database",
                ),
            };
            anyhow::bail!(
                "the database {what} already holds {held} documents; seed loads only into an \
                 empty database ({instead})"
            );
        }
        store.import(&import)?;
        Ok(import.document_count())
    })?;
    println!("rcpush: loaded {n} documents from {}", file.display());
    Ok(())
}

/// Runs `work` on the configured database. A sled directory this run created is removed
/// again if `work` fails, so a failed `seed` or `import` leaves no database behind.
fn on_new_database<T>(
    config: &Config,
    work: impl FnOnce(&rcpush::store::Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let path = &config.storage.path;
    let created = config.storage.backend == Backend::Sled && !path.exists();
    let result = rcpush::startup::open_store(&config.storage)
        .map_err(anyhow::Error::from)
        .and_then(|store| work(&store));
    if result.is_err() && created {
        let _ = std::fs::remove_dir_all(path);
    }
    result
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

/// Imports a Rocket.Chat dump (see `rcpush::import`): nothing is written unless the whole
/// dump reads and checks.
fn import(config: &Config, options: rcpush::import::Options) -> anyhow::Result<()> {
    let report = on_new_database(config, |store| rcpush::import::run(store, &options))?;
    println!("{report}");
    Ok(())
}

/// Fails unless the configured sled directory holds a database: opening one creates it, and
/// a command that only reads (`check`, `export`) run from the wrong folder must say so rather
/// than report on a new, empty database.
fn require_database(config: &Config) -> anyhow::Result<()> {
    let path = &config.storage.path;
    // sled keeps its log in `db` inside the directory.
    if config.storage.backend == Backend::Sled && !path.join("db").is_file() {
        anyhow::bail!("there is no database at {}", path.display());
    }
    Ok(())
}

/// Cross-checks the indexes. sled needs the database to itself, so the server must be
/// stopped; on PostgreSQL the check reads one consistent state while servers run.
fn check(config: &Config) -> anyhow::Result<()> {
    let path = &config.storage.path;
    require_database(config)?;
    let store = rcpush::startup::open_store(&config.storage).map_err(|e| {
        let message = e.to_string();
        if message.contains("locked by another process") {
            anyhow::anyhow!(
                "cannot check {} while a server uses it: stop the server first ({message})",
                path.display()
            )
        } else {
            e.into()
        }
    })?;
    let problems = store.check_consistency()?;
    for p in &problems {
        println!("{p}");
    }
    if !problems.is_empty() {
        anyhow::bail!("{} inconsistencies found", problems.len());
    }
    let counts = store
        .document_counts()?
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!("rcpush: check: {counts} and their indexes: consistent");
    Ok(())
}

#[cfg(feature = "bench-data")]
fn generate(config: &Config, messages: usize, seed: u64, json: bool) -> anyhow::Result<()> {
    let store = rcpush::startup::open_store(&config.storage)?;
    let size = rcpush::generate::Size::for_messages(messages, seed);
    let summary = rcpush::generate::generate(&store, size)?;
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "rcpush: generated {} messages, {} users, {} rooms in {:.1} s ({:.0} messages/s)",
            summary.messages,
            summary.users,
            summary.rooms,
            summary.seconds,
            summary.messages_per_second
        );
    }
    Ok(())
}

#[cfg(feature = "bench-data")]
fn generate_dump(file: &Path, messages: usize) -> anyhow::Result<()> {
    use rcpush::import::fixture;
    let out = std::io::BufWriter::new(
        std::fs::File::create(file).with_context(|| format!("cannot create {}", file.display()))?,
    );
    let now = rcpush::model::time::now_millis();
    fixture::stream_archive(out, "rocketchat", &fixture::workspace(now), messages as u64)?;
    println!(
        "rcpush: wrote a Rocket.Chat archive with {messages} messages to {}",
        file.display()
    );
    Ok(())
}

#[cfg(not(feature = "bench-data"))]
fn generate_dump(_: &Path, _: usize) -> anyhow::Result<()> {
    generate(&Config::default(), 0, 0, false)
}

#[cfg(not(feature = "bench-data"))]
fn generate(_: &Config, _: usize, _: u64, _: bool) -> anyhow::Result<()> {
    anyhow::bail!(
        "generate is not in this build: build with `cargo build --release --features bench-data`"
    )
}

/// Exports through the running server when there is one (it holds sled's lock), else from
/// the database directly. The bundle is checked, and without `include_secrets` written again
/// without the secret settings, before it replaces `file`.
fn export(config: &Config, file: &Path, force: bool, include_secrets: bool) -> anyhow::Result<()> {
    require_database(config)?;
    if file.exists() && !force {
        anyhow::bail!(
            "{} exists: choose another name, or pass --force to replace it",
            file.display()
        );
    }
    let online = match config.storage.backend {
        Backend::Sled => rcpush::online_export::request_export(&config.storage.path)?,
        Backend::Postgres => None,
    };
    let bundle = match online {
        Some(bytes) => bytes,
        None => {
            let store = rcpush::startup::open_store(&config.storage)?;
            rcpush::online_export::export(&store)?
        }
    };
    let text = std::str::from_utf8(&bundle).context("the export is not UTF-8")?;
    let mut import = rcpush::seed::parse(text).context("the export is incomplete")?;
    let dropped = match include_secrets {
        true => 0,
        false => rcpush::settings::drop_secrets(&mut import.settings),
    };
    let bundle = match dropped {
        0 => bundle,
        _ => rcpush::seed::write(&import)?,
    };
    let count = import.document_count();
    // The bundle holds password and token hashes: owner-only, like the database.
    let partial = file.with_extension("partial");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)?;
        out.write_all(&bundle)?;
        out.sync_all()?;
        std::fs::rename(&partial, file)
    };
    write().with_context(|| format!("cannot write {}", file.display()))?;
    println!("rcpush: exported {count} documents to {}", file.display());
    if dropped > 0 {
        println!(
            "rcpush: left out {dropped} secret settings (push credentials): enter them again \
             after a restore, or export with --include-secrets"
        );
    }
    Ok(())
}

fn serve(config: &Config, config_file: Option<&Path>) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async {
        // Listening before anything else makes SIGTERM/SIGINT graceful at any moment: one that
        // arrives during start-up stops the server as soon as it runs.
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let app = Application::build(config)?;
        log_config_file(config_file, config);
        tracing::info!(
            port = app.port(),
            bind = %config.server.bind,
            "rcpush listening"
        );
        let handle = app.handle();
        let mut server = std::pin::pin!(app.run_until_stopped());
        let signal = tokio::select! {
            result = &mut server => return Ok(result?),
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal, "stopping: finishing requests in flight");
        // The command is sent at once; the server handles it while we await the server.
        let stopped = handle.stop(true);
        server.await?;
        stopped.await;
        Ok(())
    })
}
