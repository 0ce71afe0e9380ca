//! Everything `GET /metrics` shows, in one `prometheus-client` registry built at start-up: the
//! per-route request latency histograms (what the benchmarks read to report p50/p99 as the
//! server saw them) and the push delivery counters (`delivery::Metrics`), encoded in
//! Prometheus' text format 0.0.4.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
pub use prometheus_client::registry::Registry;

/// `text/plain; version=0.0.4; charset=utf-8`
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The registry in Prometheus' text format (counters end in `_total`, no `# EOF`).
pub fn encode(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, registry)?;
    Ok(out)
}

/// Bucket upper bounds in seconds, whole microseconds: four per doubling from 8 µs to about
/// 17 s, so a quantile read from them is within about 10%.
fn bounds() -> impl Iterator<Item = f64> {
    (12..=96).map(|i| micros_to_seconds(2f64.powf(f64::from(i) / 4.0).round() as u64))
}

/// Observations and bounds both go through this, so an observation of exactly a bound's
/// microseconds lands in that bound's bucket.
fn micros_to_seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
}

/// A latency histogram with the buckets every rcpush histogram has.
pub(crate) fn new_histogram() -> Histogram {
    Histogram::new(bounds())
}

/// `rcpush_http_request_duration_seconds{route}`: latency histograms keyed by route pattern
/// (`/api/v1/push.get`). Cheap to clone; clones share their histograms.
#[derive(Clone)]
pub struct Latency(Family<Route, Histogram, fn() -> Histogram>);

impl Default for Latency {
    fn default() -> Self {
        Latency(Family::new_with_constructor(new_histogram))
    }
}

impl Latency {
    pub fn observe(&self, route: &str, elapsed: Duration) {
        let us = elapsed.as_micros().min(u128::from(u64::MAX)) as u64;
        self.0
            .get_or_create(&Route {
                route: route.to_string(),
            })
            .observe(micros_to_seconds(us));
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "rcpush_http_request_duration_seconds",
            "Time from request to response, server side",
            self.0.clone(),
        );
    }
}

/// The realtime API's counters: `rcpush_realtime_connections` (WebSockets open now),
/// `rcpush_realtime_slow_consumers_dropped_total` (connections dropped because their client
/// stopped reading and the send queue filled up) and `rcpush_realtime_rate_limited_total`
/// (calls refused by the DDP rate limiter). Cheap to clone; clones share the counts.
#[derive(Clone, Default)]
pub struct SocketCounters {
    pub open: prometheus_client::metrics::gauge::Gauge,
    pub slow_consumers: prometheus_client::metrics::counter::Counter,
    pub rate_limited: prometheus_client::metrics::counter::Counter,
}

impl SocketCounters {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "rcpush_realtime_connections",
            "Realtime WebSocket connections open",
            self.open.clone(),
        );
        registry.register(
            "rcpush_realtime_slow_consumers_dropped",
            "Realtime connections dropped because the client stopped reading",
            self.slow_consumers.clone(),
        );
        registry.register(
            "rcpush_realtime_rate_limited",
            "Realtime calls refused by the DDP rate limiter",
            self.rate_limited.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cumulative count of `route`'s bucket `le`, as the text format shows it.
    fn bucket(text: &str, route: &str, le: &str) -> Option<u64> {
        let prefix = format!(
            "rcpush_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} "
        );
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|n| n.parse().unwrap())
    }

    #[test]
    fn observations_land_in_cumulative_buckets_of_the_registry() {
        let l = Latency::default();
        let mut registry = Registry::default();
        l.register(&mut registry);
        l.observe("/a", Duration::from_micros(100));
        l.observe("/a", Duration::from_micros(108)); // exactly a bound: in its bucket
        l.observe("/a", Duration::from_micros(109));
        l.observe("/a", Duration::from_millis(3));
        l.observe("/a", Duration::from_secs(100));
        l.observe("/b", Duration::from_micros(1));
        let text = encode(&registry).unwrap();

        assert!(text.contains("# TYPE rcpush_http_request_duration_seconds histogram\n"));
        assert!(text.contains("rcpush_http_request_duration_seconds_count{route=\"/a\"} 5\n"));
        // Bounds 2^(i/4) µs rounded: ... 76, 91, 108, 128, ... 2896, 3444, ...
        assert_eq!(bucket(&text, "/a", "9.1e-05"), Some(0));
        assert_eq!(bucket(&text, "/a", "0.000108"), Some(2));
        assert_eq!(bucket(&text, "/a", "0.000128"), Some(3));
        // 3 ms lies between 2.896 ms and 3.444 ms.
        assert_eq!(bucket(&text, "/a", "0.002896"), Some(3));
        assert_eq!(bucket(&text, "/a", "0.003444"), Some(4));
        // The last bound, 2^24 µs ≈ 16.8 s; 100 s only in +Inf.
        assert_eq!(bucket(&text, "/a", "16.777216"), Some(4));
        assert_eq!(bucket(&text, "/a", "+Inf"), Some(5));
        assert_eq!(bucket(&text, "/b", "8e-06"), Some(1));

        let les: Vec<f64> = text
            .lines()
            .filter(|l| l.contains("route=\"/a\",le=\""))
            .map(|l| l.split("le=\"").nth(1).unwrap().split('"').next().unwrap())
            .map(|le| {
                if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                }
            })
            .collect();
        assert_eq!(les.len(), 85 + 1);
        assert_eq!((les[0], les[84]), (8e-6, 16.777216));
        assert!(les.windows(2).all(|w| w[0] < w[1]));
    }
}
