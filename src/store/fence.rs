//! The read fence: what keeps the caches of a process exact while other processes write to
//! the same database (PostgreSQL).
//!
//! A cache is only as fresh as the change feed it has applied (`Caches::apply`, by the
//! listener). Before a request reads, it learns the feed's position in the database (`pass`),
//! which covers every write acknowledged before the request started, and waits until the
//! listener has applied the feed that far. The position is read by one tiny query shared by
//! every request waiting at that moment: a query already running when a request arrives
//! may predate a write the request must see, so it waits for one that starts later. Up to
//! `IN_FLIGHT` queries overlap: with one at a time, a request arriving while a query runs
//! waits for the rest of it and then a whole next one (1.5 round trips on average, 2 under
//! a steady load, where requests arrive while every query runs); with several, the next one
//! starts at once, the load is shared by rounds a fraction of a round trip apart, and one
//! connection's stall (its PostgreSQL process waiting for a core) holds no request up.
//!
//! Each request raises `required` to the position it learned; a cached value is used only
//! while `applied` is at least `required`. A request whose listener did not get there
//! (connection lost, instance lagging, the query failed) therefore reads the database, and
//! so does every other until the listener has caught up — with no decision per request
//! that a later one could undo.
//!
//! On sled nothing moves: both stay 0 and the caches, invalidated by the writes themselves,
//! are always current.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::Notify;

use super::StoreResult;

/// How long a request waits for the listener before it reads the database instead: about
/// what a few reads cost. A listener further behind (a flood of writes, each a page of
/// events to decode) would hold every request longer than reading past it does.
const MAX_WAIT: Duration = Duration::from_millis(5);

/// Position queries that may run at once (each one connection of the pool for a round trip).
const IN_FLIGHT: usize = 2;

/// Bits of a position given to the event number; the journal's epoch (a testing reset)
/// takes the rest, so that positions of a later epoch are greater.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
const SEQ_BITS: u32 = 40;

/// A place in the feed as one ordered number: `(epoch, seq)` of the journal.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(super) fn position(epoch: i64, seq: i64) -> u64 {
    ((epoch.max(0) as u64) << SEQ_BITS) | (seq.max(0) as u64 & ((1 << SEQ_BITS) - 1))
}

/// Answers one position query: called once, from any thread.
pub(super) type Answer = Box<dyn FnOnce(StoreResult<u64>) + Send>;

/// Starts a query of the feed's position in the database, answering `Answer` when done.
pub(super) type PositionReader = Box<dyn Fn(Answer) + Send + Sync>;

pub(super) struct Fence {
    /// How far the listener has applied the feed to the caches.
    applied: AtomicU64,
    /// The furthest position a request learned: the caches serve only up to date with it.
    required: AtomicU64,
    /// The last query round that failed, and the last that answered: after a failure, what
    /// the database holds is unknown until a later round answers.
    failed: AtomicU64,
    passed: AtomicU64,
    /// Whether the listener is connected and has caught up once: if not, nobody waits.
    listening: AtomicBool,
    /// Woken when `applied` or `listening` changes.
    moved: Notify,
    rounds: Mutex<Rounds>,
    round_done: Notify,
    /// Set by a backend shared with other processes.
    reader: OnceLock<PositionReader>,
    /// Position queries made (each one round trip).
    pub(super) queries: Counter,
}

/// The shared queries: numbered in the order they start.
struct Rounds {
    started: u64,
    /// How many run now.
    running: usize,
    /// The highest-numbered round that answered, and its answer (it serves every request
    /// waiting for that round or an earlier one: each started after those requests came).
    done: u64,
    last: Result<u64, String>,
}

impl Default for Fence {
    fn default() -> Self {
        Fence {
            applied: AtomicU64::new(0),
            required: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            passed: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            moved: Notify::new(),
            rounds: Mutex::new(Rounds {
                started: 0,
                running: 0,
                done: 0,
                last: Ok(0),
            }),
            round_done: Notify::new(),
            reader: OnceLock::new(),
            queries: Counter::default(),
        }
    }
}

impl Fence {
    /// A fence that never lets a cache serve (reads inside a write transaction of a shared
    /// backend: they must see the database as the transaction does).
    pub(super) fn closed() -> Fence {
        let fence = Fence::default();
        fence.failed.store(u64::MAX, Ordering::SeqCst);
        fence
    }

    /// Whether a cached value may be used now.
    pub(super) fn caught_up(&self) -> bool {
        self.failed.load(Ordering::SeqCst) <= self.passed.load(Ordering::SeqCst)
            && self.applied.load(Ordering::SeqCst) >= self.required.load(Ordering::SeqCst)
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) fn set_reader(&self, reader: PositionReader) {
        let _ = self.reader.set(reader);
    }

    /// The listener applied the feed up to `position`.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) fn reached(&self, position: u64) {
        self.applied.fetch_max(position, Ordering::SeqCst);
        self.moved.notify_waiters();
    }

    /// What `pass` does once it learned `position`, for tests of what reads the fence.
    #[cfg(test)]
    pub(super) fn require(&self, position: u64) {
        self.required.fetch_max(position, Ordering::SeqCst);
    }

    /// The listener connected and caught up (`true`), or lost its connection.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) fn listening(&self, listening: bool) {
        self.listening.store(listening, Ordering::SeqCst);
        self.moved.notify_waiters();
    }

    /// Returns once the caches hold every write acknowledged before the call, or once they
    /// are known not to (then they stand aside until the listener catches up). Immediate
    /// where no other process writes.
    pub(super) async fn pass(self: &Arc<Self>) {
        let Some(reader) = self.reader.get() else {
            return;
        };
        let (round, found) = self.learn(reader).await;
        let target = match found {
            Ok(target) => target,
            Err(error) => {
                // The request will meet the failure where it reads; no cache answers meanwhile.
                tracing::warn!(%error, "cannot read the change feed's position");
                self.failed.fetch_max(round, Ordering::SeqCst);
                return;
            }
        };
        self.required.fetch_max(target, Ordering::SeqCst);
        self.passed.fetch_max(round, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            let moved = self.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            if self.applied.load(Ordering::SeqCst) >= target
                || !self.listening.load(Ordering::SeqCst)
            {
                return;
            }
            if tokio::time::timeout_at(deadline, moved).await.is_err() {
                return;
            }
        }
    }

    /// The round and position of a query that started after this call did.
    async fn learn(self: &Arc<Self>, reader: &PositionReader) -> (u64, Result<u64, String>) {
        let want = self.rounds.lock().started + 1;
        loop {
            let done = self.round_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            {
                let mut rounds = self.rounds.lock();
                if rounds.done >= want {
                    return (rounds.done, rounds.last.clone());
                }
                if rounds.started < want && rounds.running < IN_FLIGHT {
                    // None started since this call, and there is room for one: this one leads.
                    rounds.running += 1;
                    rounds.started += 1;
                    let round = rounds.started;
                    drop(rounds);
                    self.queries.inc();
                    let fence = self.clone();
                    // Answered on the backend's runtime: the round ends even if this request
                    // is dropped meanwhile.
                    reader(Box::new(move |found| fence.finish(round, found)));
                    continue;
                }
            }
            done.await;
        }
    }

    fn finish(&self, round: u64, found: StoreResult<u64>) {
        let mut rounds = self.rounds.lock();
        rounds.running -= 1;
        // A round overtaken by a later one has nobody left to serve.
        if round > rounds.done {
            rounds.done = round;
            rounds.last = found.map_err(|e| e.to_string());
        }
        drop(rounds);
        self.round_done.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_by_epoch_then_number() {
        assert!(position(0, 5) < position(0, 6));
        assert!(position(0, 1 << 39) < position(1, 1));
        assert_eq!(position(0, 0), 0);
    }

    /// A reader that answers each query with the database's position at the moment it runs,
    /// after letting the test see that it started.
    fn counting_reader(db: Arc<AtomicU64>, started: Arc<AtomicU64>) -> PositionReader {
        Box::new(move |answer: Answer| {
            let (db, started) = (db.clone(), started.clone());
            started.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                answer(Ok(db.load(Ordering::SeqCst)));
            });
        })
    }

    #[tokio::test]
    async fn requests_waiting_together_share_one_query_and_wait_for_the_listener() {
        let fence = Arc::new(Fence::default());
        let db = Arc::new(AtomicU64::new(7));
        let started = Arc::new(AtomicU64::new(0));
        fence.set_reader(counting_reader(db.clone(), started.clone()));
        fence.listening(true);
        let waiting: Vec<_> = (0..20)
            .map(|_| {
                let fence = fence.clone();
                tokio::spawn(async move { fence.pass().await })
            })
            .collect();
        while fence.required.load(Ordering::SeqCst) < 7 {
            tokio::task::yield_now().await;
        }
        assert!(!fence.caught_up(), "the caches have not applied 7 yet");
        fence.reached(7);
        for w in waiting {
            w.await.unwrap();
        }
        assert!(fence.caught_up());
        let queries = started.load(Ordering::SeqCst);
        assert!(
            (1..=IN_FLIGHT as u64 + 1).contains(&queries),
            "{queries} queries for 20 requests"
        );
    }

    /// A reader whose queries the test answers, in any order.
    fn held_reader(held: Arc<Mutex<Vec<Answer>>>) -> PositionReader {
        Box::new(move |answer: Answer| held.lock().push(answer))
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn overlapping_rounds_serve_whoever_came_before_they_started_in_any_order() {
        let fence = Arc::new(Fence::default());
        let held = Arc::new(Mutex::new(Vec::new()));
        fence.set_reader(held_reader(held.clone()));
        fence.listening(true);
        fence.reached(9);
        let spawn = || {
            let fence = fence.clone();
            tokio::spawn(async move { fence.pass().await })
        };
        // One request after another: each starts a round, until IN_FLIGHT run.
        let mut early = Vec::new();
        for _ in 0..IN_FLIGHT {
            early.push(spawn());
            settle().await;
        }
        // A request now waits for a round that starts after it came.
        let late = spawn();
        settle().await;
        assert_eq!(held.lock().len(), IN_FLIGHT);
        // The last round answers first: it serves every early request, each of which came
        // before it started; the late one still waits.
        let mut answers: Vec<Answer> = held.lock().drain(..).collect();
        let newest = answers.pop().unwrap();
        newest(Ok(8));
        for request in early {
            request.await.unwrap();
        }
        assert_eq!(fence.required.load(Ordering::SeqCst), 8);
        assert!(!late.is_finished());
        // The overtaken rounds' answers (older, and smaller) change nothing; a round
        // started for the late request does.
        for older in answers {
            older(Ok(5));
        }
        settle().await;
        assert!(!late.is_finished());
        let round = held.lock().pop().expect("a round for the late request");
        round(Ok(9));
        late.await.unwrap();
        assert_eq!(fence.required.load(Ordering::SeqCst), 9);
        assert!(fence.caught_up());
    }

    #[tokio::test]
    async fn a_lost_listener_or_a_failed_query_leaves_the_caches_aside() {
        let fence = Arc::new(Fence::default());
        let db = Arc::new(AtomicU64::new(3));
        fence.set_reader(counting_reader(db.clone(), Arc::default()));
        fence.listening(true);
        fence.reached(3);
        fence.pass().await;
        assert!(fence.caught_up());
        // Another process wrote; this listener is gone: nobody waits, nothing is served.
        db.store(4, Ordering::SeqCst);
        fence.listening(false);
        fence.pass().await;
        assert!(!fence.caught_up());
        fence.reached(4);
        assert!(
            fence.caught_up(),
            "caught up again once the listener is back"
        );

        let failing = Arc::new(Fence::default());
        failing.set_reader(Box::new(|answer: Answer| {
            answer(Err(crate::store::StoreError::Backend("down".into())))
        }));
        failing.pass().await;
        assert!(!failing.caught_up());
        assert!(!Fence::closed().caught_up());
    }
}
