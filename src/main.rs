//! The `rcpush` command: serve (default), or load a seed bundle.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rcpush::config::Config;
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
    /// Serve from a temporary database that is removed at exit.
    #[arg(long, global = true)]
    ephemeral: bool,
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
    let mut config = Config::load(config_path(&cli).as_deref(), std::env::vars())?;
    rcpush::telemetry::init(&config.log.level);
    let _temporary = if cli.ephemeral {
        let dir = use_temporary_storage(&mut config)?;
        tracing::info!(path = %dir.path().display(), "using a temporary database, removed at exit");
        Some(dir)
    } else {
        None
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&config),
        Command::Seed { file } => {
            let store = rcpush::store::Store::open(&config.storage.path, config.storage.cache_mb)?;
            let n = rcpush::seed::load_file(&store, &file)?;
            println!("rcpush: loaded {n} documents from {}", file.display());
            Ok(())
        }
        Command::Generate {
            messages,
            seed,
            json,
        } => {
            let store = rcpush::store::Store::open(&config.storage.path, config.storage.cache_mb)?;
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
    }
}

fn serve(config: &Config) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async {
        let app = Application::build(config, true)?;
        tracing::info!(
            port = app.port(),
            bind = %config.server.bind,
            "rcpush listening"
        );
        app.run_until_stopped().await?;
        Ok(())
    })
}
