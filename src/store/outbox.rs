use serde::{Deserialize, Serialize};

use super::keys;
use super::trees::Tree;
use super::{decode, encode, Batch, DeliveryRecord, Store, StoreResult};
use crate::model::push_token::Service;
use crate::rules::push::BodyAwaitingBadge;

/// One gateway request waiting to be made: written in the same atomic write as the message
/// that caused it, deleted only once the gateway has given a final answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingPush {
    /// Stable for the life of the push, so that a duplicate after a crash can be recognised.
    pub id: String,
    /// `apn` or `gcm`: the gateway path.
    pub service: String,
    /// The device token (for 406 pruning).
    pub token: String,
    /// The JSON body to post, `{"token":…,"options":{…}}`, fixed at queue time.
    pub body: String,
    pub user_id: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (ms since the epoch).
    pub due: i64,
    /// The room of the message that caused it (none for push.test, and in outboxes written
    /// before rooms could be deleted): deleting the room drops the push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
}

impl PendingPush {
    /// A first attempt, due at `due`, with an id of its own.
    pub fn new(
        id: String,
        service: Service,
        token: &str,
        user_id: &str,
        body: String,
        due: i64,
    ) -> Self {
        PendingPush {
            id,
            service: service.code().into(),
            token: token.into(),
            body,
            user_id: user_id.into(),
            attempts: 0,
            due,
            rid: None,
        }
    }
}

/// A message push prepared before the message's write; that write fills in the badge.
#[derive(Debug, Clone)]
pub struct PushDraft {
    /// The push's id, drawn before the write.
    pub id: String,
    pub service: Service,
    pub token: String,
    pub user_id: String,
    pub body: BodyAwaitingBadge,
    pub due: i64,
    /// The message's room.
    pub rid: String,
}

impl PushDraft {
    pub(super) fn complete(&self, badge: i64) -> PendingPush {
        PendingPush {
            rid: Some(self.rid.clone()),
            ..PendingPush::new(
                self.id.clone(),
                self.service,
                &self.token,
                &self.user_id,
                self.body.with_badge(badge),
                self.due,
            )
        }
    }
}

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Delivered, or given up: remove it.
    Done,
    /// Try again at this time.
    RetryAt(i64),
    /// The gateway does not know the token (406): remove it and every registration of it.
    PruneToken,
}

impl Store {
    pub(super) fn put_push(batch: &mut Batch, push: &PendingPush) {
        batch.put(Tree::Outbox, keys::due_id(push.due, &push.id), encode(push));
    }

    /// Queues pushes on their own (push.test); message pushes go with the message.
    pub fn enqueue_pushes(&self, pushes: &[PendingPush]) -> StoreResult<()> {
        self.write(|_, batch| {
            for p in pushes {
                Self::put_push(batch, p);
            }
            Ok(())
        })
    }

    /// Up to `limit` pushes due at `now`, earliest first.
    pub fn due_pushes(&self, now: i64, limit: usize) -> StoreResult<Vec<PendingPush>> {
        self.engine
            .scan_until(Tree::Outbox, &keys::due_upper_bound(now), limit)?
            .into_iter()
            .map(|(_, v)| decode(Tree::Outbox, &v))
            .collect()
    }

    /// Claims `pushes` for this process before it attempts them, when other processes share
    /// the outbox: each still waiting at its place moves to `until`, so no other process takes
    /// it meanwhile; one claimed by a process that dies falls due again at `until`. Returns
    /// the pushes claimed, as now stored. On a database of its own a process claims nothing
    /// (its scheduler knows what it has in flight) and gets `pushes` back.
    pub fn claim_pushes(
        &self,
        pushes: Vec<PendingPush>,
        until: i64,
    ) -> StoreResult<Vec<PendingPush>> {
        if !self.engine.is_shared() || pushes.is_empty() {
            return Ok(pushes);
        }
        // Not durable: a claim lost in a crash only lets the push be sent once more.
        self.write_then(
            |store, batch| {
                let keys: Vec<Vec<u8>> =
                    pushes.iter().map(|p| keys::due_id(p.due, &p.id)).collect();
                let stored = store.engine.get_many(Tree::Outbox, &keys)?;
                let mut claimed = Vec::with_capacity(pushes.len());
                for ((mut push, key), stored) in pushes.into_iter().zip(keys).zip(stored) {
                    if stored.is_none() {
                        continue;
                    }
                    batch.delete(Tree::Outbox, key);
                    push.due = until;
                    Self::put_push(batch, &push);
                    claimed.push(push);
                }
                Ok(claimed)
            },
            |_, _, claimed| claimed,
            false,
        )
    }

    pub fn outbox_len(&self) -> StoreResult<usize> {
        self.engine.count(Tree::Outbox)
    }

    /// Records the outcomes of attempts, and their delivery log `records`, durably, in one
    /// write. Returns, for each outcome, how many device registrations it pruned (a token
    /// pruned twice in one batch counts once).
    pub fn finish_pushes(
        &self,
        outcomes: &[(&PendingPush, Finish)],
        records: &[DeliveryRecord],
    ) -> StoreResult<Vec<usize>> {
        self.write(|store, batch| {
            for r in records {
                Self::put_delivery(batch, r);
            }
            let mut pruned_tokens = std::collections::HashSet::new();
            let mut pruned = Vec::with_capacity(outcomes.len());
            let keys: Vec<Vec<u8>> = outcomes
                .iter()
                .map(|(p, _)| keys::due_id(p.due, &p.id))
                .collect();
            let stored = store.engine.get_many(Tree::Outbox, &keys)?;
            for (((push, finish), key), stored) in outcomes.iter().zip(keys).zip(stored) {
                // A push no longer where it was (its room deleted while it was in flight, or
                // claimed again by another process after this one's claim lapsed) is not
                // brought back; a dead token is pruned all the same.
                let still_queued = stored.is_some();
                batch.delete(Tree::Outbox, key);
                pruned.push(match finish {
                    Finish::Done => 0,
                    Finish::RetryAt(_) if !still_queued => 0,
                    Finish::RetryAt(due) => {
                        let next = PendingPush {
                            attempts: push.attempts + 1,
                            due: *due,
                            ..(*push).clone()
                        };
                        Self::put_push(batch, &next);
                        0
                    }
                    Finish::PruneToken if pruned_tokens.insert(push.token.as_str()) => {
                        store.prune_push_token_value(batch, &push.token)?
                    }
                    Finish::PruneToken => 0,
                });
            }
            Ok(pruned)
        })
    }
}
