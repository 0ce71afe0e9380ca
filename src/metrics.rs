//! Server-side request latency per route, as Prometheus histograms: what the benchmarks read
//! to report p50/p99 as the server saw them, and what an operator can scrape.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Bucket upper bounds in microseconds: four per doubling from 8 µs to about 17 s, so a
/// quantile read from them is within about 10%.
fn bounds() -> &'static [u64] {
    static B: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    B.get_or_init(|| {
        (12..=96)
            .map(|i| (2f64.powf(f64::from(i) / 4.0)).round() as u64)
            .collect()
    })
}

#[derive(Default)]
struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: bounds().iter().map(|_| AtomicU64::new(0)).collect(),
            ..Histogram::default()
        }
    }

    fn observe(&self, us: u64) {
        let i = bounds().partition_point(|b| *b < us);
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }
}

/// Latency histograms keyed by route pattern (`/api/v1/push.get`).
#[derive(Default)]
pub struct Latency {
    routes: RwLock<HashMap<String, Arc<Histogram>>>,
}

impl Latency {
    pub fn observe(&self, route: &str, elapsed: Duration) {
        let us = elapsed.as_micros().min(u128::from(u64::MAX)) as u64;
        let found = self
            .routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(route)
            .cloned();
        let h = match found {
            Some(h) => h,
            None => self
                .routes
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .entry(route.to_string())
                .or_insert_with(|| Arc::new(Histogram::new()))
                .clone(),
        };
        h.observe(us);
    }

    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP rcpush_http_request_duration_seconds Time from request to response, server side.\n\
             # TYPE rcpush_http_request_duration_seconds histogram\n",
        );
        let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<&String> = routes.keys().collect();
        names.sort();
        for route in names {
            let h = &routes[route];
            let mut cumulative = 0;
            for (bound, count) in bounds().iter().zip(&h.buckets) {
                cumulative += count.load(Relaxed);
                let _ = writeln!(
                    out,
                    "rcpush_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{}\"}} {cumulative}",
                    *bound as f64 / 1e6
                );
            }
            let total = h.count.load(Relaxed);
            let _ = writeln!(
                out,
                "rcpush_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {total}\n\
                 rcpush_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 rcpush_http_request_duration_seconds_count{{route=\"{route}\"}} {total}",
                h.sum_us.load(Relaxed) as f64 / 1e6
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_cumulative_buckets() {
        let l = Latency::default();
        l.observe("/a", Duration::from_micros(100));
        l.observe("/a", Duration::from_millis(3));
        l.observe("/a", Duration::from_secs(100));
        let text = l.render();
        assert!(text.contains("rcpush_http_request_duration_seconds_count{route=\"/a\"} 3"));
        let le = |bound: &str| {
            text.lines()
                .find(|x| x.contains(&format!("le=\"{bound}\"")))
                .and_then(|x| x.rsplit(' ').next())
                .map(str::to_string)
        };
        assert_eq!(le("0.000108").as_deref(), Some("1"));
        assert_eq!(le("+Inf").as_deref(), Some("3"));
        assert!(bounds().windows(2).all(|w| w[0] < w[1]));
    }
}
