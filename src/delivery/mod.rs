//! Push delivery: a scheduler thread takes due pushes from the durable outbox (one record
//! per message, fanned out into one push per device: `store/outbox.rs`) and hands them to a
//! fixed pool of worker threads that post them to the gateway (`gateway/`), or in
//! direct mode to FCM (`fcm/`) and APNs (`apns/`); a recorder thread writes the outcomes, as
//! many as arrive together in one write that rewrites each record once. That write waits for
//! no flush of its own: it becomes durable with the next flush of any write (a poster's, or
//! sled's periodic one), so posters never queue behind delivery's bookkeeping. A push leaves
//! the outbox only by that write, so a crash or restart loses none; one whose outcome had not
//! reached the disk is sent again (at-least-once: duplicates are possible after a crash).
//!
//! Each transport's folder holds its client (`mod.rs`) and, beside it, its pure rules
//! (`rules.rs`: the body it sends, what an answer means), property-tested without I/O. Every
//! push is queued as the gateway's body (`gateway/rules.rs`), whichever transport sends it:
//! FCM and APNs read their content from it. `direct/` is what the two direct transports
//! share; `credentials.rs` checks their settings for the admin page.

// Direct mode (FCM, APNs) is the `direct-push` feature's, the admin page's credential
// checks the `admin` feature's; `direct_push` is the one handle the rest of delivery holds.
#[cfg(feature = "direct-push")]
mod apns;
#[cfg(feature = "admin")]
pub mod credentials;
#[cfg(feature = "direct-push")]
mod direct;
#[cfg_attr(not(feature = "direct-push"), path = "direct_push_absent.rs")]
mod direct_push;
#[cfg(feature = "direct-push")]
mod fcm;
pub mod gateway;
mod metrics;
mod reachability;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

pub use metrics::Metrics;

use crate::config::PushConfig;
use crate::model::time::now_millis;
use crate::settings::Settings;
use crate::store::{DeliveryRecord, DeliveryStatus, Finish, OutboxRecord, PendingPush, Store};
use direct_push::DirectPush;
use gateway::rules::{body_message_id, token_tail, transport, Transport};

/// What a claim adds to twice the longest attempt: time for the outcome to be written.
const CLAIM_MARGIN_MS: i64 = 5_000;

/// Longest sleep of the scheduler between looks at the outbox.
const IDLE_WAIT: Duration = Duration::from_millis(1000);

/// The running delivery machinery, or in testing mode the list of pushes it would have
/// sent. Cheap to clone.
#[derive(Clone)]
pub struct Delivery {
    /// `None` in testing mode: no thread runs, nothing is sent.
    shared: Option<Arc<Shared>>,
    metrics: Metrics,
    /// Testing mode: every push queued since start or the last `take_captured`, in order.
    captured: Arc<Mutex<Vec<PendingPush>>>,
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
    /// Whether the gateway answers (FCM and APNs keep their own).
    gateway: reachability::Reachability,
    /// FCM and APNs, for direct mode.
    direct: DirectPush,
    /// How long a claimed push is this process's alone: twice the longest attempt and a
    /// margin (35 s by default), after which another process may send it.
    lease_ms: i64,
}

impl Delivery {
    /// Starts the scheduler and `config.concurrency` workers.
    pub fn start(store: Store, settings: Settings, config: PushConfig) -> anyhow::Result<Delivery> {
        let metrics = Metrics::new(store.outbox_len()? as i64);
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(config.timeout_ms))
            .build();
        let workers = config.concurrency;
        let lease_ms = i64::try_from(config.timeout_ms)
            .unwrap_or(i64::MAX / 4)
            .saturating_mul(2)
            .saturating_add(CLAIM_MARGIN_MS);
        let direct = DirectPush::new(&agent, &config)?;
        let shared = Arc::new(Shared {
            store,
            settings,
            config,
            metrics,
            in_flight: Mutex::new(HashSet::new()),
            wake: (Mutex::new(false), Condvar::new()),
            stop: AtomicBool::new(false),
            lease_ms,
            direct,
            agent,
            gateway: reachability::Reachability::new("gateway"),
        });
        let (tx, rx) = sync_channel::<PendingPush>(workers);
        let rx = Arc::new(Mutex::new(rx));
        let (done_tx, done_rx) = channel::<Attempt>();
        let mut threads = Vec::new();
        for i in 0..workers {
            let (s, rx, done) = (shared.clone(), rx.clone(), done_tx.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("push-worker-{i}"))
                    .spawn(move || worker(&s, &rx, &done))?,
            );
        }
        drop(done_tx);
        let s = shared.clone();
        threads.push(
            std::thread::Builder::new()
                .name("push-recorder".into())
                .spawn(move || recorder(&s, &done_rx))?,
        );
        let s = shared.clone();
        threads.push(
            std::thread::Builder::new()
                .name("push-scheduler".into())
                .spawn(move || scheduler(&s, &tx))?,
        );
        Ok(Delivery {
            metrics: shared.metrics.clone(),
            shared: Some(shared),
            captured: Arc::default(),
            threads: Arc::new(Mutex::new(threads)),
        })
    }

    /// Testing mode: pushes are kept in memory for the tests to read, never sent.
    pub fn capture() -> Delivery {
        Delivery {
            shared: None,
            metrics: Metrics::default(),
            captured: Arc::default(),
            threads: Arc::default(),
        }
    }

    /// True in testing mode, where `queued` captures the pushes instead.
    pub fn captures(&self) -> bool {
        self.shared.is_none()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The age of this process's cached FCM access token (`None`: none, or testing mode).
    pub fn fcm_token_age(&self) -> Option<Duration> {
        self.shared.as_ref()?.direct.fcm_token_age()
    }

    /// Tells the scheduler that `record` was just queued (in testing mode, captures its
    /// pushes).
    pub fn queued(&self, record: &OutboxRecord) {
        if record.is_empty() {
            return;
        }
        match &self.shared {
            Some(shared) => {
                self.metrics.queued(record.len());
                shared.wake();
            }
            None => self.captured.lock().extend(record.pushes()),
        }
    }

    /// The pushes captured so far, in the order they were queued; `clear` empties the list.
    pub fn captured(&self, clear: bool) -> Vec<PendingPush> {
        let mut captured = self.captured.lock();
        match clear {
            true => std::mem::take(&mut *captured),
            false => captured.clone(),
        }
    }

    /// Stops the threads after their current attempt; pending pushes stay in the outbox.
    pub fn stop(&self) {
        let Some(shared) = &self.shared else {
            return;
        };
        shared.stop.store(true, Ordering::SeqCst);
        shared.wake();
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
/// as the pool can take, so memory stays bounded however long the outbox grows. Where other
/// processes share the outbox, the pushes are claimed first (`Store::claim_pushes`).
fn scheduler(s: &Shared, tx: &SyncSender<PendingPush>) {
    while !s.stopping() {
        let (ready, next_due) = match next_batch(s) {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the push outbox");
                (Vec::new(), None)
            }
        };
        for p in ready {
            if tx.send(p).is_err() {
                return;
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

/// The due pushes to attempt now, marked in flight, and when the next one falls due.
fn next_batch(s: &Shared) -> crate::store::StoreResult<(Vec<PendingPush>, Option<i64>)> {
    // Taken before the outbox is read: a push in flight now may finish, and leave the
    // outbox, while the batch is handed out; the batch's copy of it must not go again.
    let busy = s.in_flight.lock().clone();
    let capacity = 2 * s.config.concurrency;
    if busy.len() >= capacity {
        return Ok((Vec::new(), None));
    }
    let now = now_millis();
    let (mut ready, next_due) = s.store.due_pushes(now, capacity - busy.len(), &busy)?;
    {
        let in_flight = s.in_flight.lock();
        ready.retain(|p| !in_flight.contains(&p.id));
    }
    let ready = s.store.claim_pushes(ready, now + s.lease_ms)?;
    let mut in_flight = s.in_flight.lock();
    in_flight.extend(ready.iter().map(|p| p.id.clone()));
    Ok((ready, next_due))
}

fn worker(s: &Shared, rx: &Mutex<Receiver<PendingPush>>, done: &Sender<Attempt>) {
    while !s.stopping() {
        let next = rx.lock().recv_timeout(IDLE_WAIT);
        let push = match next {
            Ok(p) => p,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let start = std::time::Instant::now();
        let mut attempt = attempt(s, push);
        attempt.took = start.elapsed();
        if done.send(attempt).is_err() {
            return;
        }
    }
}

/// One attempt's answer, waiting to be recorded.
struct Attempt {
    push: PendingPush,
    /// `gateway`, `fcm` or `apns`, as the delivery log names it.
    transport: &'static str,
    delivered: bool,
    finish: Finish,
    /// The provider's status and reason when it did not deliver.
    status: Option<u16>,
    /// How long the attempt took.
    took: Duration,
    reason: Option<String>,
}

impl Attempt {
    /// Given up without a provider's answer that delivered it.
    fn dropped(push: PendingPush, transport: &'static str, reason: impl Into<String>) -> Attempt {
        Attempt {
            push,
            transport,
            delivered: false,
            finish: Finish::Done,
            status: None,
            took: Duration::ZERO,
            reason: Some(reason.into()),
        }
    }

    fn status(&self) -> DeliveryStatus {
        match (self.delivered, self.finish) {
            (true, _) => DeliveryStatus::Sent,
            (_, Finish::PruneToken) => DeliveryStatus::Pruned,
            (_, Finish::RetryAt(_)) => DeliveryStatus::Retrying,
            (_, Finish::Done) => DeliveryStatus::Failed,
        }
    }

    /// The delivery log's record of this attempt, ended at `ts`.
    fn record(&self, ts: i64) -> DeliveryRecord {
        let p = &self.push;
        DeliveryRecord {
            push_id: p.id.clone(),
            attempt: p.attempts + 1,
            ts,
            message_id: body_message_id(&p.body),
            user_id: p.user_id.clone(),
            service: p.service.clone(),
            token_tail: token_tail(&p.token).to_string(),
            transport: self.transport.to_string(),
            status: self.status(),
            next_attempt: match self.finish {
                Finish::RetryAt(at) => Some(at),
                _ => None,
            },
            provider_status: self.status,
            reason: self.reason.clone(),
        }
    }
}

/// One attempt, by the transport the settings choose now.
fn attempt(s: &Shared, push: PendingPush) -> Attempt {
    let settings = s.settings.snapshot();
    let chosen = transport(
        settings.push_enable_gateway,
        settings.register_server,
        settings.cloud_service_agree_privacy_terms,
    );
    match chosen {
        Transport::Gateway => gateway::attempt(
            &s.agent,
            &s.gateway,
            &s.config,
            &settings.push_gateway,
            push,
        ),
        Transport::Direct => s
            .direct
            .attempt(&settings, push, &s.config.direct_retry_delays_ms),
    }
}

/// How often the recorder trims the delivery log to its bounds.
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// Drops the log's records past `[push] log_max_age_ms` and `log_max_records`.
fn trim_log(s: &Shared) {
    let before = now_millis().saturating_sub(s.config.log_max_age_ms as i64);
    match s.store.trim_deliveries(before, s.config.log_max_records) {
        Ok(0) => {}
        Ok(n) => tracing::debug!(records = n, "delivery log trimmed"),
        Err(e) => tracing::warn!(error = %e, "cannot trim the delivery log"),
    }
}

/// Most outcomes written at once.
const RECORD_BATCH: usize = 256;

/// How long the recorder waits for more outcomes after one arrives: the workers' attempts
/// of one round end close together, and one write for all of them rewrites each record once
/// rather than once per device.
const GATHER: Duration = Duration::from_millis(2);

/// Writes the outcomes of attempts, those that arrive together in one write, until every
/// worker has stopped. Only then does a push leave `in_flight`: until its outcome is
/// written it is still in the outbox, and the scheduler must not hand it out again.
fn recorder(s: &Shared, done: &Receiver<Attempt>) {
    let mut trimmed = std::time::Instant::now();
    loop {
        if trimmed.elapsed() >= TRIM_EVERY {
            trim_log(s);
            trimmed = std::time::Instant::now();
        }
        let first = match done.recv_timeout(IDLE_WAIT) {
            Ok(a) => a,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match done.recv_timeout(GATHER) {
                Ok(a) => batch.push(a),
                Err(_) => break,
            }
        }
        let outcomes: Vec<(&PendingPush, Finish)> =
            batch.iter().map(|a| (&a.push, a.finish)).collect();
        let now = now_millis();
        let records: Vec<DeliveryRecord> = batch.iter().map(|a| a.record(now)).collect();
        match s.store.finish_pushes(&outcomes, &records) {
            Ok(pruned) => {
                let m = &s.metrics;
                for (a, pruned) in batch.iter().zip(pruned) {
                    m.attempt(a.transport, a.status().as_str(), a.took);
                    match a.status() {
                        DeliveryStatus::Sent => m.sent(),
                        DeliveryStatus::Pruned => m.pruned(pruned),
                        DeliveryStatus::Retrying => m.retried(),
                        DeliveryStatus::Failed => m.dropped(),
                    }
                    tracing::debug!(push = %a.push.id, status = ?a.status, reason = ?a.reason, outcome = ?a.finish, "push attempt");
                }
            }
            // The pushes stay in the outbox and are attempted again.
            Err(e) => {
                tracing::error!(error = %e, pushes = batch.len(), "cannot record push attempts")
            }
        }
        let mut in_flight = s.in_flight.lock();
        for a in &batch {
            in_flight.remove(&a.push.id);
        }
        drop(in_flight);
        s.wake();
    }
}
