//! Push delivery: a scheduler thread takes due pushes from the durable outbox and hands
//! them to a fixed pool of worker threads that post them to the gateway. A push leaves the
//! outbox only after a final answer, so a crash or restart loses none (at-least-once).

mod metrics;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use secrecy::ExposeSecret;

pub use metrics::Metrics;

use crate::config::PushConfig;
use crate::model::time::now_millis;
use crate::rules::push::{gateway_outcome, GatewayOutcome};
use crate::settings::Settings;
use crate::store::{Finish, PendingPush, Store};

/// Longest sleep of the scheduler between looks at the outbox.
const IDLE_WAIT: Duration = Duration::from_millis(1000);

/// The running delivery machinery. Cheap to clone.
#[derive(Clone)]
pub struct Delivery {
    shared: Arc<Shared>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

struct Shared {
    store: Store,
    settings: Settings,
    config: PushConfig,
    metrics: Metrics,
    in_flight: Mutex<HashSet<String>>,
    /// Set when new pushes are queued or an attempt finishes.
    wake: (Mutex<bool>, Condvar),
    stop: AtomicBool,
    agent: ureq::Agent,
}

impl Delivery {
    /// Starts the scheduler and `config.concurrency` workers.
    pub fn start(store: Store, settings: Settings, config: PushConfig) -> anyhow::Result<Delivery> {
        let metrics = Metrics::new(store.outbox_len()? as i64);
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(config.timeout_ms))
            .build();
        let workers = config.concurrency;
        let shared = Arc::new(Shared {
            store,
            settings,
            config,
            metrics,
            in_flight: Mutex::new(HashSet::new()),
            wake: (Mutex::new(false), Condvar::new()),
            stop: AtomicBool::new(false),
            agent,
        });
        let (tx, rx) = sync_channel::<PendingPush>(workers);
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::new();
        for i in 0..workers {
            let (s, rx) = (shared.clone(), rx.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("push-worker-{i}"))
                    .spawn(move || worker(&s, &rx))?,
            );
        }
        let s = shared.clone();
        threads.push(
            std::thread::Builder::new()
                .name("push-scheduler".into())
                .spawn(move || scheduler(&s, &tx))?,
        );
        Ok(Delivery {
            shared,
            threads: Arc::new(Mutex::new(threads)),
        })
    }

    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Tells the scheduler that `n` pushes were just queued.
    pub fn queued(&self, n: usize) {
        if n > 0 {
            self.shared.metrics.queued(n);
            self.shared.wake();
        }
    }

    /// Stops the threads after their current attempt; pending pushes stay in the outbox.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake();
        let threads = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Shared {
    fn wake(&self) {
        *self.wake.0.lock() = true;
        self.wake.1.notify_all();
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Waits until woken or `timeout` passes.
    fn sleep(&self, timeout: Duration) {
        let mut woken = self.wake.0.lock();
        self.wake.1.wait_while_for(&mut woken, |w| !*w, timeout);
        *woken = false;
    }
}

/// Hands due pushes that are not already being attempted to the workers, at most as many
/// as the pool can take, so memory stays bounded however long the outbox grows.
fn scheduler(s: &Shared, tx: &SyncSender<PendingPush>) {
    while !s.stopping() {
        // Taken before the outbox is read: a push in flight now may finish, and leave the
        // outbox, while the batch is handed out; the batch's copy of it must not go again.
        let busy = s.in_flight.lock().clone();
        let capacity = 2 * s.config.concurrency;
        let mut next_due = None;
        if busy.len() < capacity {
            match s.store.due_pushes(i64::MAX, busy.len() + capacity) {
                Ok(pending) => {
                    let now = now_millis();
                    for p in pending {
                        if busy.contains(&p.id) || s.in_flight.lock().contains(&p.id) {
                            continue;
                        }
                        if p.due > now {
                            next_due = Some(p.due);
                            break;
                        }
                        if s.in_flight.lock().len() >= capacity {
                            break;
                        }
                        s.in_flight.lock().insert(p.id.clone());
                        if tx.send(p).is_err() {
                            return;
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read the push outbox"),
            }
        }
        let wait =
            next_due.map_or(IDLE_WAIT, |due| {
                Duration::from_millis(
                    (due - now_millis()).clamp(0, IDLE_WAIT.as_millis() as i64) as u64
                )
            });
        s.sleep(wait);
    }
}

fn worker(s: &Shared, rx: &Mutex<Receiver<PendingPush>>) {
    while !s.stopping() {
        let next = rx.lock().recv_timeout(IDLE_WAIT);
        let push = match next {
            Ok(p) => p,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        attempt(s, &push);
        s.in_flight.lock().remove(&push.id);
        s.wake();
    }
}

/// One gateway request and its durable outcome.
fn attempt(s: &Shared, push: &PendingPush) {
    let gateway = s.settings.snapshot().push_gateway.clone();
    let gateway = gateway
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .trim_end_matches('/');
    let url = format!("{gateway}/push/{}/send", push.service);
    let mut request = s.agent.post(&url).set("Content-Type", "application/json");
    let authorization = s.config.gateway_authorization.expose_secret();
    if !authorization.is_empty() {
        request = request.set("Authorization", authorization);
    }
    let status = match request.send_string(&push.body) {
        Ok(r) => Some(r.status()),
        Err(ureq::Error::Status(code, _)) => Some(code),
        Err(e) => {
            tracing::debug!(push = %push.id, error = %e, "gateway unreachable");
            None
        }
    };
    let m = &s.metrics;
    let finish = match gateway_outcome(status) {
        GatewayOutcome::Delivered => Finish::Done,
        GatewayOutcome::UnknownToken => Finish::PruneToken,
        GatewayOutcome::Rejected => Finish::Done,
        GatewayOutcome::Retry => match s.config.retry_delays_ms.get(push.attempts as usize) {
            Some(delay) => Finish::RetryAt(now_millis() + *delay as i64),
            None => Finish::Done,
        },
    };
    match s.store.finish_push(push, finish) {
        Ok(pruned) => {
            match (gateway_outcome(status), finish) {
                (GatewayOutcome::Delivered, _) => m.sent(),
                (GatewayOutcome::UnknownToken, _) => m.pruned(pruned),
                (_, Finish::RetryAt(_)) => m.retried(),
                _ => m.dropped(),
            }
            tracing::debug!(push = %push.id, status = ?status, outcome = ?finish, "push attempt");
        }
        // The push stays in the outbox and is attempted again.
        Err(e) => tracing::error!(push = %push.id, error = %e, "cannot record a push attempt"),
    }
}
