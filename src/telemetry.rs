//! Logging, set up once per process. `RUST_LOG` wins over the configured level. Each HTTP
//! request runs in a span with its own id (`RequestSpan`), carried into the blocking pool by
//! `block_in_span`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::field::{Empty, Field, Visit};
use tracing::{Event, Level, Span, Subscriber};
use tracing_actix_web::{RequestId, RootSpanBuilder};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
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
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second call (tests start many servers in one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(ClientFaults)
        .with(output)
        .try_init();
}

/// actix-http's connection errors that are the client's doing (malformed or oversized heads,
/// bad headers, a too long URI, a stalled or vanished client), by the start of the message
/// it logs them with at ERROR.
const CLIENT_FAULTS: [&str; 5] = [
    "stream error: request parse error",
    "stream error: I/O error",
    "stream error: request did not complete within the specified timeout",
    "stream error: connection shutdown timeout",
    "stream error: handler dropped payload before reading EOF",
];

/// Turns actix-http's ERROR lines about client faults into DEBUG lines of `rcpush::http`:
/// anyone can send garbage, and the operator's error log must not fill with it. Other
/// actix-http errors stay errors.
struct ClientFaults;

impl<S: Subscriber> Layer<S> for ClientFaults {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let meta = event.metadata();
        if *meta.level() != Level::ERROR || !meta.target().starts_with("actix_http::h1") {
            return true;
        }
        let mut message = Message::default();
        event.record(&mut message);
        if !CLIENT_FAULTS.iter().any(|p| message.0.starts_with(p)) {
            return true;
        }
        tracing::debug!(target: "rcpush::http", error = %message.0, "connection ended on a client error");
        false
    }
}

/// The `message` field of an event.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

/// Builds the span of each HTTP request for `tracing_actix_web::TracingLogger`: a request id,
/// the method and the route pattern, then the status once answered, so that every log line of
/// a request says which request it belongs to. Nothing else the client sent (no header, no
/// query string, no body) goes into it, so no token or password can reach the logs through
/// it. Errors are logged where they are turned into responses (`ApiError`): client mistakes at
/// debug, internal faults at error with their cause.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let id = request.extensions().get::<RequestId>().copied();
        // The field values are only computed when the span is enabled.
        tracing::info_span!(
            "request",
            request_id = id.map(tracing::field::display),
            method = %request.method(),
            route = %request.match_pattern().as_deref().unwrap_or("unmatched"),
            status = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
        tracing::debug!("answered");
    }
}

/// `actix_web::web::block`, with `work` run inside the caller's span (a request's, with its
/// id): the blocking pool's threads have no span of their own.
pub async fn block_in_span<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, actix_web::error::BlockingError> {
    let span = Span::current();
    actix_web::web::block(move || span.in_scope(work)).await
}

/// Log capture for the library's unit tests, which check what a line says (and never holds).
#[cfg(test)]
pub(crate) mod capture {
    use std::io::Write;
    use std::sync::Arc;

    use parking_lot::Mutex;

    /// What a test's subscriber writes, shared with the test.
    #[derive(Clone, Default)]
    pub struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().clone()).unwrap()
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The log lines written on this thread while `f` runs.
    pub fn logged(f: impl FnOnce()) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        captured.text()
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{test, web, App, HttpResponse};

    use super::capture::Captured;
    use super::*;

    async fn handler() -> HttpResponse {
        let thread = block_in_span(|| {
            let name = std::thread::current().name().unwrap_or("?").to_string();
            tracing::info!(pool_thread = %name, "inside the blocking pool");
            name
        })
        .await
        .unwrap();
        HttpResponse::Ok().body(thread)
    }

    /// The blocking pool's threads only see the request's span through the global subscriber,
    /// so this is the one test of the library that installs one.
    #[test]
    fn a_request_logs_its_id_in_the_blocking_pool_and_no_secret() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            // Only this module's spans and events: the other tests' logs stay out.
            .with_env_filter(EnvFilter::new("rcpush::telemetry=trace"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();

        let worker = actix_web::rt::System::new().block_on(async {
            let app = test::init_service(
                App::new()
                    .wrap(tracing_actix_web::TracingLogger::<RequestSpan>::new())
                    .route("/x/{id}", web::post().to(handler)),
            )
            .await;
            let req = test::TestRequest::post()
                .uri("/x/1?token=query-secret-1")
                .insert_header(("X-Auth-Token", "header-secret-2"))
                .set_payload(r#"{"password":"body-secret-3"}"#)
                .to_request();
            let body = test::call_and_read_body(&app, req).await;
            String::from_utf8(body.to_vec()).unwrap()
        });

        let text = captured.text();
        let inside = text
            .lines()
            .find(|l| l.contains("inside the blocking pool"))
            .unwrap_or_else(|| panic!("no pool line in:\n{text}"));
        assert!(
            inside.contains(&format!("pool_thread={worker}")),
            "{inside}"
        );
        assert_ne!(worker, std::thread::current().name().unwrap_or("?"));
        assert!(inside.contains("request{request_id="), "{inside}");
        assert!(inside.contains("method=POST route=/x/{id}"), "{inside}");
        let id = inside
            .split("request_id=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next();
        let answered = text
            .lines()
            .find(|l| l.contains("answered"))
            .unwrap_or_else(|| panic!("no answered line in:\n{text}"));
        assert!(answered.contains("status=200"), "{answered}");
        assert_eq!(
            answered
                .split("request_id=")
                .nth(1)
                .unwrap()
                .split(' ')
                .next(),
            id
        );
        for secret in ["query-secret-1", "header-secret-2", "body-secret-3"] {
            assert!(!text.contains(secret), "{secret} logged:\n{text}");
        }
    }
}
