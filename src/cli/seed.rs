//! `rcpush seed FILE`: a bundle (a backup, or the demo data) into an empty database.

use std::path::PathBuf;

use rcpush::config::{Backend, Config};

#[derive(clap::Args)]
pub struct Args {
    /// The bundle, a JSON file.
    file: PathBuf,
}

/// Restores a bundle into an empty database. The file is read and checked first, and a
/// database directory this run created is removed again if the load fails.
pub fn run(config: &Config, args: &Args) -> anyhow::Result<()> {
    let import = rcpush::seed::read_file(&args.file)?;
    let n = super::on_new_database(config, |store| {
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
    println!("rcpush: loaded {n} documents from {}", args.file.display());
    Ok(())
}
