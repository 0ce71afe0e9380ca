//! What a terminal shows while an import runs: a spinner while the dump is read, then a bar
//! per collection while it is written (on stderr; stdout keeps the report).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Pass 1: the bytes of the dump read so far.
pub(super) fn reading() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} reading the dump: {bytes} ({bytes_per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

/// Pass 3: the documents of `collection` written so far, of `total`.
pub(super) fn writing(collection: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix:>24} {bar:30} {pos}/{len} ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(collection.to_string());
    bar
}
