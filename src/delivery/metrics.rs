//! Delivery counters and the outbox gauge, registered in the registry `GET /metrics` encodes.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Cheap to clone; clones share their values.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    queued: Counter,
    sent: Counter,
    retried: Counter,
    dropped: Counter,
    pruned: Counter,
    outbox: Gauge,
}

impl Metrics {
    /// Counters start at zero; the outbox gauge at what is already stored.
    pub fn new(outbox: i64) -> Metrics {
        let m = Metrics::default();
        m.outbox.set(outbox);
        m
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
        let text = crate::metrics::encode(&registry).unwrap();
        for line in [
            "# TYPE rcpush_pushes_queued_total counter",
            "rcpush_pushes_queued_total 4",
            "rcpush_pushes_sent_total 1",
            "rcpush_pushes_retried_total 1",
            "rcpush_pushes_dropped_total 1",
            "rcpush_push_tokens_pruned_total 2",
            "# TYPE rcpush_push_outbox_length gauge",
            "rcpush_push_outbox_length 4",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert_eq!(m.outbox_len(), 4);
    }
}
