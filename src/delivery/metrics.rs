//! Delivery counters, exposed at `GET /metrics` in Prometheus' text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Metrics {
    queued: AtomicU64,
    sent: AtomicU64,
    retried: AtomicU64,
    dropped: AtomicU64,
    pruned: AtomicU64,
    outbox: AtomicI64,
}

impl Metrics {
    /// Counters start at zero; the outbox gauge at what is already stored.
    pub fn new(outbox: i64) -> Metrics {
        let m = Metrics::default();
        m.outbox.store(outbox, Relaxed);
        m
    }

    pub fn queued(&self, n: usize) {
        self.queued.fetch_add(n as u64, Relaxed);
        self.outbox.fetch_add(n as i64, Relaxed);
    }

    pub fn sent(&self) {
        self.sent.fetch_add(1, Relaxed);
        self.outbox.fetch_sub(1, Relaxed);
    }

    pub fn retried(&self) {
        self.retried.fetch_add(1, Relaxed);
    }

    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Relaxed);
        self.outbox.fetch_sub(1, Relaxed);
    }

    /// A 406: the push is gone and `registrations` device registrations with it.
    pub fn pruned(&self, registrations: usize) {
        self.pruned.fetch_add(registrations as u64, Relaxed);
        self.outbox.fetch_sub(1, Relaxed);
    }

    pub fn outbox_len(&self) -> i64 {
        self.outbox.load(Relaxed)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, value) in [
            (
                "rcpush_pushes_queued_total",
                "Pushes queued for delivery.",
                self.queued.load(Relaxed),
            ),
            (
                "rcpush_pushes_sent_total",
                "Pushes the gateway accepted.",
                self.sent.load(Relaxed),
            ),
            (
                "rcpush_pushes_retried_total",
                "Failed attempts scheduled for a retry.",
                self.retried.load(Relaxed),
            ),
            (
                "rcpush_pushes_dropped_total",
                "Pushes given up (rejected, or out of retries).",
                self.dropped.load(Relaxed),
            ),
            (
                "rcpush_push_tokens_pruned_total",
                "Device registrations removed after a 406.",
                self.pruned.load(Relaxed),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP rcpush_push_outbox_length Pushes waiting in the outbox.\n# TYPE rcpush_push_outbox_length gauge\nrcpush_push_outbox_length {}",
            self.outbox_len()
        );
        out
    }
}
