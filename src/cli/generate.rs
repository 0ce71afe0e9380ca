//! `rcpush generate`: benchmark data, in builds with the `bench-data` feature only.

use std::path::PathBuf;

use rcpush::config::Config;

#[derive(clap::Args)]
pub struct Args {
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
}

#[cfg(feature = "bench-data")]
pub fn run(config: &Config, args: &Args) -> anyhow::Result<()> {
    match &args.rocketchat_dump {
        Some(file) => dump(file, args.messages),
        None => world(config, args),
    }
}

#[cfg(not(feature = "bench-data"))]
pub fn run(_: &Config, _: &Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "generate is not in this build: build with `cargo build --release --features bench-data`"
    )
}

/// Fills the (empty) database.
#[cfg(feature = "bench-data")]
fn world(config: &Config, args: &Args) -> anyhow::Result<()> {
    let store = rcpush::startup::open_store(&config.storage)?;
    let size = rcpush::generate::Size::for_messages(args.messages, args.seed);
    let summary = rcpush::generate::generate(&store, size)?;
    if args.json {
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

/// Writes a Rocket.Chat archive: the fixture workspace with `messages` more messages.
#[cfg(feature = "bench-data")]
fn dump(file: &std::path::Path, messages: usize) -> anyhow::Result<()> {
    use anyhow::Context;
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
