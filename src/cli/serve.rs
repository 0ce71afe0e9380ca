//! `rcpush [serve]`: the server, until SIGTERM or SIGINT.

use std::path::Path;

use rcpush::config::Config;
use rcpush::startup::Application;

/// The flags that only go with serving (and so are not listed for the other commands).
#[derive(clap::Args, Clone, Copy, Default)]
pub struct Flags {
    /// Serve from a temporary database that is removed at exit, in testing mode (README).
    #[arg(long)]
    pub ephemeral: bool,
    /// Testing mode: draw ids and tokens from this seed and start the clock at a fixed
    /// instant, so that the same requests get the same answers (README).
    #[arg(long, value_name = "SEED")]
    deterministic: Option<u64>,
}

impl Flags {
    /// The flags given before `serve` or after it.
    pub fn or(self, other: &Flags) -> Flags {
        Flags {
            ephemeral: self.ephemeral || other.ephemeral,
            deterministic: self.deterministic.or(other.deterministic),
        }
    }

    /// Fails if any was given before a command other than `serve` (`name`).
    pub fn refuse_with(&self, name: &str) -> anyhow::Result<()> {
        if self.ephemeral {
            anyhow::bail!(
                "--ephemeral only goes with serve: `{name}` would work on a throwaway database"
            );
        }
        if self.deterministic.is_some() {
            anyhow::bail!(
                "--deterministic only goes with serve (in testing mode), not with `{name}`"
            );
        }
        Ok(())
    }

    /// Testing mode's switches in `config`.
    pub fn apply(&self, config: &mut Config) {
        if self.deterministic.is_some() {
            config.testing.seed = self.deterministic;
        }
        // A throwaway database is a test double's: testing mode comes with it.
        config.testing.enabled |= self.ephemeral;
    }
}

pub fn run(config: &Config, config_file: Option<&Path>) -> anyhow::Result<()> {
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
        let realtime = app.realtime();
        let mut server = std::pin::pin!(app.run_until_stopped());
        let signal = tokio::select! {
            result = &mut server => return Ok(result?),
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal, "stopping: finishing requests in flight");
        // The command is sent at once; the server handles it while we await the server.
        realtime.stop();
        let stopped = handle.stop(true);
        server.await?;
        stopped.await;
        Ok(())
    })
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
