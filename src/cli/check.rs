//! `rcpush check`: every index of the database against its documents.

use rcpush::config::Config;

/// Cross-checks the indexes. sled needs the database to itself, so the server must be
/// stopped; on PostgreSQL the check reads one consistent state while servers run.
pub fn run(config: &Config) -> anyhow::Result<()> {
    let store = super::existing_database(config)?;
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
