//! `rcpush export FILE`: the whole database as a seed bundle (a backup).

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcpush::config::{Backend, Config};

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the bundle (atomically); an existing file only with `--force`.
    file: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
    /// Keep the secret settings (APNs certificates and keys, the FCM service account)
    /// in the bundle, in plain text.
    #[arg(long)]
    include_secrets: bool,
}

/// Exports through the running server when there is one (it holds sled's lock), else from
/// the database directly. The bundle is checked, and without `include_secrets` written again
/// without the secret settings, before it replaces `file`.
pub fn run(config: &Config, args: &Args) -> anyhow::Result<()> {
    let file = &args.file;
    super::require_database(config)?;
    if file.exists() && !args.force {
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
        None => rcpush::online_export::export(&super::existing_database(config)?)?,
    };
    let text = std::str::from_utf8(&bundle).context("the export is not UTF-8")?;
    let mut import = rcpush::seed::parse(text).context("the export is incomplete")?;
    let dropped = match args.include_secrets {
        true => 0,
        false => rcpush::settings::drop_secrets(&mut import.settings),
    };
    let bundle = match dropped {
        0 => bundle,
        _ => rcpush::seed::write(&import)?,
    };
    write_owner_only(file, &bundle).with_context(|| format!("cannot write {}", file.display()))?;
    println!(
        "rcpush: exported {} documents to {}",
        import.document_count(),
        file.display()
    );
    if dropped > 0 {
        println!(
            "rcpush: left out {dropped} secret settings (push credentials): enter them again \
             after a restore, or export with --include-secrets"
        );
    }
    Ok(())
}

/// Writes `bytes` to `file` through a `.partial` file renamed over it once on disk. The
/// bundle holds password and token hashes: owner-only, like the database.
fn write_owner_only(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let partial = file.with_extension("partial");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    out.write_all(bytes)?;
    out.sync_all()?;
    std::fs::rename(&partial, file)
}
