//! Building and running the server: open the store, bring it up to date (seed, settings,
//! admin), bind the listener (port 0 allowed), and serve.

use std::net::TcpListener;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{middleware, web, App, HttpServer};
use anyhow::Context;
use secrecy::ExposeSecret;
use tracing_actix_web::TracingLogger;

use crate::api::extract::BodyTimeout;
use crate::api::json_depth::MaxJsonDepth;
use crate::config::{Backend, Config, StorageConfig};
use crate::delivery::Delivery;
use crate::model::id::Ids;
use crate::model::time::Clock;
use crate::realtime::Realtime;
use crate::rules::credentials::Cost;
use crate::service::users::{ensure_admin, AdminAccount};
use crate::service::Services;
use crate::settings::Settings;
use crate::store::{Store, StoreResult};
use crate::telemetry::RequestSpan;

/// Added to a request head's deadline. actix reckons that deadline from a clock each worker
/// refreshes every 500 ms (later on a busy worker), so the bare timeout can fall due at once
/// on a new connection and answer a head sent in time with a 408.
const HEAD_DEADLINE_SLACK: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Application {
    server: Server,
    port: u16,
    delivery: Delivery,
    realtime: Realtime,
}

impl Application {
    /// Opens everything and binds; the server starts when `run_until_stopped` is awaited.
    /// Signals are left to the caller (`main` listens from its first instant; actix would
    /// only listen once its workers run, and a SIGTERM before that killed the process).
    pub fn build(config: &Config) -> anyhow::Result<Application> {
        // Bind first: a port in use must not leave a half-initialised database behind.
        config.check_testing()?;
        let listener = TcpListener::bind(&config.server.bind)
            .with_context(|| format!("cannot listen on {}", config.server.bind))?;
        let port = listener.local_addr()?.port();
        let opening = std::time::Instant::now();
        let store = open_store(&config.storage)?;
        let opened = opening.elapsed();
        let (clock, ids) = match (config.testing.enabled, config.testing.seed) {
            (true, Some(seed)) => (Clock::deterministic(), Ids::seeded(seed)),
            (true, None) => (Clock::adjustable(), Ids::default()),
            (false, _) => (Clock::default(), Ids::default()),
        };
        let deterministic = config.testing.enabled && config.testing.seed.is_some();
        let settings = prepare(&store, config, &clock, &ids)?;
        clock.mark_start();
        ids.mark_start();
        tracing::info!(
            open_ms = opened.as_secs_f64() * 1e3,
            prepare_ms = (opening.elapsed() - opened).as_secs_f64() * 1e3,
            "database ready"
        );
        if config.storage.backend == Backend::Sled {
            crate::online_export::serve_exports(store.clone(), &config.storage.path);
        }
        let (delivery, start_state) = match config.testing.enabled {
            true => (Delivery::capture(), Some(store.capture_state()?)),
            false => (
                Delivery::start(store.clone(), settings.clone(), config.push.clone())?,
                None,
            ),
        };
        let services = Services::new(
            store,
            settings,
            delivery.clone(),
            config,
            (clock, ids),
            start_state,
        );

        let streams = crate::realtime::streams::Streams::start(&services)?;
        let realtime = Realtime::new(&config.realtime, services.socket_counters(), streams);
        realtime.watch_tokens(&services);
        let hub = realtime.clone();

        let max_body = config.limits.max_body_bytes;
        let max_depth = config.limits.max_json_depth;
        let body_timeout = std::time::Duration::from_millis(config.limits.body_timeout_ms);
        let mut server = HttpServer::new(move || {
            let latency = services.latency();
            let clock = services.clock().clone();
            let fenced = services.clone();
            App::new()
                .app_data(web::Data::new(services.clone()))
                .app_data(web::Data::new(hub.clone()))
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(MaxJsonDepth(max_depth))
                .app_data(BodyTimeout(body_timeout))
                // Innermost, so that the latency recorded includes it.
                .wrap(middleware::from_fn(move |req, next| {
                    fence_first(fenced.clone(), req, next)
                }))
                .wrap(
                    middleware::DefaultHeaders::new()
                        .add(("Cache-Control", "no-store"))
                        .add(("Pragma", "no-cache")),
                )
                .wrap(middleware::from_fn(move |req, next| {
                    crate::api::timed(latency.clone(), req, next)
                }))
                // Only a deterministic run's clock moves by requests.
                .wrap(middleware::Condition::new(
                    deterministic,
                    middleware::from_fn(move |req, next| {
                        crate::api::tick(clock.clone(), req, next)
                    }),
                ))
                .wrap(TracingLogger::<RequestSpan>::new())
                .configure(crate::api::configure)
        })
        // A stalled head: the connection is closed after the same time (actix's default is 5 s).
        .client_request_timeout(body_timeout + HEAD_DEADLINE_SLACK)
        // Node's default, as Rocket.Chat keeps it: an idle keep-alive connection is closed
        // after 5 s, without an answer.
        .keep_alive(std::time::Duration::from_secs(5))
        .listen(listener)
        .with_context(|| format!("cannot listen on {}", config.server.bind))?;
        match (config.server.workers, config.storage.backend) {
            (0, Backend::Sled) => {}
            // A read waits for PostgreSQL on the worker's thread: more threads keep the cores
            // busy meanwhile.
            (0, Backend::Postgres) => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                server = server.workers(4 * cores);
            }
            (n, _) => server = server.workers(n),
        }
        Ok(Application {
            server: server.disable_signals().shutdown_timeout(10).run(),
            port,
            delivery,
            realtime,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The realtime hub, whose `stop` closes the WebSockets when the server stops.
    pub fn realtime(&self) -> Realtime {
        self.realtime.clone()
    }

    /// Serves until stopped, then stops push delivery (pending pushes stay queued).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        let delivery = self.delivery;
        let _ = actix_web::web::block(move || delivery.stop()).await;
        result
    }
}

/// First-start work: load the seed bundle into an empty database, make sure every setting
/// exists, and create the admin account if there is none. Of several processes starting at
/// once on one database, one does it while the others wait, then find it done.
/// Testing mode's `clock` and `ids` date and name what it creates, and its admin gets a cheap
/// password hash (`Cost::Testing`: a test suite starts hundreds of servers).
fn prepare(store: &Store, config: &Config, clock: &Clock, ids: &Ids) -> anyhow::Result<Settings> {
    let _setup = store.setup_lock()?;
    if store.is_fresh()? && !config.seed.file.is_empty() {
        let n = crate::seed::load_file(store, config.seed.file.as_ref())?;
        tracing::info!(documents = n, file = %config.seed.file, "loaded seed bundle");
    }
    let settings = Settings::load(
        store,
        &config.server.site_url,
        &ids.uuid(),
        &config.settings,
    )?;
    let username = &config.admin.username;
    let cost = match config.testing.enabled {
        true => Cost::Testing,
        false => Cost::Full,
    };
    match ensure_admin(store, &config.admin, clock.now(), ids, cost)? {
        // Said, so that nobody believes a changed password took effect.
        AdminAccount::Existing if !config.admin.password.expose_secret().is_empty() => {
            tracing::info!(
                "admin.password (RCPUSH_ADMIN_PASSWORD) ignored: the database has an admin \
                 already, whose password stays; `rcpush admin reset-password USER` sets a new one"
            )
        }
        AdminAccount::Existing => {}
        AdminAccount::Created => tracing::info!(%username, "created admin user"),
        // Printed once, on purpose, and never logged.
        AdminAccount::CreatedWithPassword(password) => {
            println!("rcpush: created admin user '{username}' with password: {password}")
        }
    }
    Ok(settings)
}

/// A server running on its own thread, as the tests and embedders use it.
pub struct RunningServer {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub port: u16,
    handle: ServerHandle,
    realtime: Realtime,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    /// Stops the server gracefully and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.realtime.stop();
            let handle = self.handle.clone();
            actix_web::rt::System::new().block_on(handle.stop(true));
            let _ = thread.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Builds the server for `config` and runs it on a background thread.
pub fn spawn(config: Config) -> anyhow::Result<RunningServer> {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match Application::build(&config) {
                Ok(app) => {
                    let _ = tx.send(Ok((app.port(), app.handle(), app.realtime())));
                    if let Err(e) = app.run_until_stopped().await {
                        tracing::error!(error = %e, "server stopped with an error");
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        })
    });
    // The thread sends its build's outcome; a thread that ended without one failed too.
    let (port, handle, realtime) = rx
        .recv()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("server thread ended before starting")))?;
    Ok(RunningServer {
        url: format!("http://127.0.0.1:{port}"),
        port,
        handle,
        realtime,
        thread: Some(thread),
    })
}

/// Opens the database `storage` names: sled's directory, or PostgreSQL's database.
pub fn open_store(storage: &StorageConfig) -> StoreResult<Store> {
    match storage.backend {
        Backend::Sled if storage.temporary => {
            Store::open_temporary(&storage.path, storage.sled_cache_mb())
        }
        Backend::Sled => Store::open(&storage.path, storage.sled_cache_mb()),
        Backend::Postgres => Store::open_postgres_retaining(
            storage.url.expose_secret(),
            storage.pool_size,
            storage.change_retention(),
        ),
    }
}

/// Points `config` at a new temporary directory, removed when the guard is dropped, and
/// opened without syncing the disk (`Store::open_temporary`).
pub fn use_temporary_storage(config: &mut Config) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("rcpush-")
        .tempdir()
        .context("cannot create a temporary database directory")?;
    config.storage.path = dir.path().join("db");
    config.storage.temporary = true;
    Ok(dir)
}

/// Every request passes the read fence before it reads (`Services::fence`).
async fn fence_first(
    services: Services,
    req: actix_web::dev::ServiceRequest,
    next: middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    services.fence().await;
    next.call(req).await
}
