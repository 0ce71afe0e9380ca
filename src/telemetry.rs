//! Logging, set up once per process. `RUST_LOG` wins over the configured level.

use tracing_subscriber::EnvFilter;

pub fn init(level: &str) {
    // sled warns about what it recovers from (a torn snapshot, a damaged config file); the
    // store reports what matters in one line, so sled speaks only of errors unless asked.
    let configured = match level.contains("sled") {
        true => level.to_string(),
        false => format!("{level},sled=error"),
    };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(configured))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests start many servers in one process) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
