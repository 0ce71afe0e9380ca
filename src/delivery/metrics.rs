//! Delivery counters and the outbox gauge, registered in the registry `GET /metrics` encodes.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    transport: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Transport {
    transport: &'static str,
}

type Latencies = Family<Transport, Histogram, fn() -> Histogram>;

fn latencies() -> Latencies {
    Family::new_with_constructor(crate::metrics::new_histogram)
}

/// Cheap to clone; clones share their values.
#[derive(Debug, Clone)]
pub struct Metrics {
    queued: Counter,
    sent: Counter,
    retried: Counter,
    dropped: Counter,
    pruned: Counter,
    outbox: Gauge,
    /// `rcpush_push_attempts_total{transport,status}`: the delivery log's statuses.
    attempts: Family<Outcome, Counter>,
    /// `rcpush_push_attempt_duration_seconds{transport}`.
    durations: Latencies,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            queued: Counter::default(),
            sent: Counter::default(),
            retried: Counter::default(),
            dropped: Counter::default(),
            pruned: Counter::default(),
            outbox: Gauge::default(),
            attempts: Family::default(),
            durations: latencies(),
        }
    }
}

impl Metrics {
    /// Counters start at zero; the outbox gauge at what is already stored.
    pub fn new(outbox: i64) -> Metrics {
        let m = Metrics::default();
        m.outbox.set(outbox);
        m
    }

    /// One attempt through `transport` that took `took` and ended as `status` (`sent`,
    /// `retrying`, `pruned`, `failed`).
    pub fn attempt(&self, transport: &'static str, status: &'static str, took: Duration) {
        self.attempts
            .get_or_create(&Outcome { transport, status })
            .inc();
        self.durations
            .get_or_create(&Transport { transport })
            .observe(took.as_secs_f64());
    }

    /// Adds them to `registry`. The counters get their `_total` suffix from the encoder.
    pub fn register(&self, registry: &mut Registry) {
        for (name, help, counter) in [
            (
                "rcpush_pushes_queued",
                "Pushes queued for delivery",
                &self.queued,
            ),
            (
                "rcpush_pushes_sent",
                "Pushes the gateway accepted",
                &self.sent,
            ),
            (
                "rcpush_pushes_retried",
                "Failed attempts scheduled for a retry",
                &self.retried,
            ),
            (
                "rcpush_pushes_dropped",
                "Pushes given up (rejected, or out of retries)",
                &self.dropped,
            ),
            (
                "rcpush_push_tokens_pruned",
                "Device registrations removed after a 406",
                &self.pruned,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "rcpush_push_outbox_length",
            "Pushes waiting in the outbox",
            self.outbox.clone(),
        );
        registry.register(
            "rcpush_push_attempts",
            "Delivery attempts by transport (gateway, fcm, apns) and outcome",
            self.attempts.clone(),
        );
        registry.register(
            "rcpush_push_attempt_duration_seconds",
            "Time of one delivery attempt (an FCM OAuth grant included), by transport",
            self.durations.clone(),
        );
    }

    pub fn queued(&self, n: usize) {
        self.queued.inc_by(n as u64);
        self.outbox.inc_by(n as i64);
    }

    pub fn sent(&self) {
        self.sent.inc();
        self.outbox.dec();
    }

    pub fn retried(&self) {
        self.retried.inc();
    }

    pub fn dropped(&self) {
        self.dropped.inc();
        self.outbox.dec();
    }

    /// Pushes taken out of the outbox undelivered because their room was deleted.
    pub fn withdrawn(&self, n: usize) {
        self.outbox.dec_by(n as i64);
    }

    /// A 406: the push is gone and `registrations` device registrations with it.
    pub fn pruned(&self, registrations: usize) {
        self.pruned.inc_by(registrations as u64);
        self.outbox.dec();
    }

    pub fn outbox_len(&self) -> i64 {
        self.outbox.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_the_outbox_gauge_keep_their_names_and_values() {
        let m = Metrics::new(3);
        let mut registry = Registry::default();
        m.register(&mut registry);
        m.queued(4);
        m.sent();
        m.retried();
        m.dropped();
        m.pruned(2);
        m.attempt("fcm", "sent", Duration::from_millis(3));
        let text = crate::metrics::encode(&registry).unwrap();
        for line in [
            "# TYPE rcpush_pushes_queued_total counter",
            "rcpush_pushes_queued_total 4",
            "rcpush_pushes_sent_total 1",
            "rcpush_pushes_retried_total 1",
            "rcpush_pushes_dropped_total 1",
            "rcpush_push_tokens_pruned_total 2",
            "rcpush_push_attempts_total{transport=\"fcm\",status=\"sent\"} 1",
            "rcpush_push_attempt_duration_seconds_count{transport=\"fcm\"} 1",
            "# TYPE rcpush_push_outbox_length gauge",
            "rcpush_push_outbox_length 4",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert_eq!(m.outbox_len(), 4);
    }
}
