//! The commands of the `rcpush` binary, one file each. This file parses the command line,
//! loads the configuration and dispatches; what several commands share (finding the
//! configuration file, requiring or creating a database) is here too.

mod admin;
mod check;
mod export;
mod generate;
mod import;
mod seed;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use rcpush::config::{Backend, Config};
use rcpush::startup::use_temporary_storage;
use rcpush::store::Store;
use secrecy::ExposeSecret;

#[derive(Parser)]
#[command(
    name = "rcpush",
    version,
    about = "A Rocket.Chat-compatible push notification server with an embedded database"
)]
pub struct Cli {
    /// Configuration file (default: $RCPUSH_CONFIG, else ./config.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serving without `serve`: its flags, accepted before a command only to refuse them.
    #[command(flatten)]
    serve: serve::Flags,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(serve::Flags),
    /// Load a seed bundle (users, rooms, subscriptions, messages, settings) into the database.
    Seed(seed::Args),
    /// Fill an empty database with a generated world of the given size (for benchmarks).
    /// Only in builds with the `bench-data` feature; hidden from the help of others.
    #[command(hide = !cfg!(feature = "bench-data"))]
    Generate(generate::Args),
    /// Write the whole database as a seed bundle (asks the server if it is running). The
    /// push credentials (secret settings) are left out unless asked for.
    Export(export::Args),
    /// Check that every index of the database agrees with its documents.
    Check,
    /// Import a Rocket.Chat workspace from a MongoDB dump: a mongodump folder, a
    /// `mongodump --archive` file (gzipped or not; `-` reads standard input) or mongoexport
    /// files. Passwords, login tokens and devices keep working.
    Import(import::Args),
    /// Account chores: `admin reset-password USER` for a lost admin password.
    Admin(admin::Args),
}

impl Command {
    /// The command's name, as typed.
    fn name(&self) -> &'static str {
        match self {
            Command::Serve(_) => "serve",
            Command::Seed(_) => "seed",
            Command::Generate(_) => "generate",
            Command::Export(_) => "export",
            Command::Check => "check",
            Command::Import(_) => "import",
            Command::Admin(_) => "admin",
        }
    }
}

/// Runs the command line: one of the commands, `serve` by default.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli
        .command
        .unwrap_or(Command::Serve(serve::Flags::default()));
    // Serve's flags before another command would silently replace its database
    // (`--ephemeral`): refused.
    let flags = match &command {
        Command::Serve(own) => cli.serve.or(own),
        other => {
            cli.serve.refuse_with(other.name())?;
            serve::Flags::default()
        }
    };
    let config_file = config_path(cli.config);
    let mut config = Config::load(config_file.as_deref(), std::env::vars())?;
    flags.apply(&mut config);
    // Before anything is logged: a refusal is the one line on stderr.
    config.check_testing()?;
    rcpush::telemetry::init(&config.log.level);
    let _temporary = match flags.ephemeral {
        true => {
            let dir = use_temporary_storage(&mut config)?;
            tracing::info!(path = %dir.path().display(), "using a temporary database, removed at exit");
            Some(dir)
        }
        false => None,
    };
    match command {
        Command::Serve(_) => serve::run(&config, config_file.as_deref()),
        Command::Seed(args) => seed::run(&config, &args),
        Command::Generate(args) => generate::run(&config, &args),
        Command::Export(args) => export::run(&config, &args),
        Command::Check => check::run(&config),
        Command::Import(args) => import::run(&config, args),
        Command::Admin(args) => admin::run(&config, &args),
    }
}

/// `--config`, else `$RCPUSH_CONFIG`, else `./config.toml` if it exists.
fn config_path(given: Option<PathBuf>) -> Option<PathBuf> {
    given
        .or_else(|| std::env::var_os("RCPUSH_CONFIG").map(PathBuf::from))
        .or_else(|| {
            let default = PathBuf::from("config.toml");
            default.exists().then_some(default)
        })
}

/// Folds a multi-line error (TOML's carets and source excerpts) into one line.
pub fn one_line(message: &str) -> String {
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

/// Fails unless the configured sled database exists: opening a sled directory creates a
/// database there, and a command that must find one (`check`, `export`) run from the wrong
/// folder must say so rather than work on a new, empty database. (PostgreSQL's is checked as
/// it is opened, by `existing_database`.)
fn require_database(config: &Config) -> anyhow::Result<()> {
    let path = &config.storage.path;
    // sled keeps its log in `db` inside the directory.
    if config.storage.backend == Backend::Sled && !path.join("db").is_file() {
        anyhow::bail!("there is no database at {}", path.display());
    }
    Ok(())
}

/// Opens the configured database, which must exist (`require_database`).
fn existing_database(config: &Config) -> anyhow::Result<Store> {
    require_database(config)?;
    let path = &config.storage.path;
    let storage = &config.storage;
    let opened = match storage.backend {
        Backend::Sled => rcpush::startup::open_store(storage),
        Backend::Postgres => {
            Store::open_existing_postgres(storage.url.expose_secret(), storage.pool_size)
        }
    };
    opened.map_err(|e| {
        let message = e.to_string();
        match message.contains("locked by another process") {
            true => anyhow::anyhow!(
                "{} is in use by a running server: stop the server first ({message})",
                path.display()
            ),
            false => e.into(),
        }
    })
}

/// Runs `work` on the configured database. A sled directory this run created is removed
/// again if `work` fails, so a failed `seed` or `import` leaves no database behind.
fn on_new_database<T>(
    config: &Config,
    work: impl FnOnce(&Store) -> anyhow::Result<T>,
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
