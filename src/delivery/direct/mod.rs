//! What the FCM and APNs attempts share: a provider's answer, and how it becomes the push's
//! fate in the outbox (retried with backoff, pruned, or dropped loudly).

pub mod rules;

use std::time::Duration;

use super::Attempt;
use crate::model::time::now_millis;
use crate::store::{Finish, PendingPush};
use rules::{retry_in_ms, Outcome};

/// The outcome of one push to a provider, with its reason when it did not deliver.
pub struct Sent {
    pub outcome: Outcome,
    pub status: Option<u16>,
    pub reason: Option<String>,
}

impl Sent {
    pub fn failed(outcome: Outcome, status: Option<u16>, reason: impl Into<String>) -> Sent {
        Sent {
            outcome,
            status,
            reason: Some(reason.into()),
        }
    }
}

/// A direct transport, as the delivery log and the logs name it.
#[derive(Clone, Copy)]
pub struct Provider {
    /// `fcm` or `apns`.
    pub transport: &'static str,
    /// What an admin should check after a configuration error.
    pub check: &'static str,
}

/// The attempt `sent` makes of `push`: a 429 waits its `Retry-After`, a 5xx or no answer
/// the next of `delays`, at most `delays.len()` retries in all; only a dead token is
/// pruned; a configuration error is logged as an error and prunes nothing.
pub fn attempt(provider: Provider, push: PendingPush, sent: Sent, delays: &[u64]) -> Attempt {
    let name = provider.transport;
    let reason = sent.reason.as_deref().unwrap_or_default();
    let finish = match (
        &sent.outcome,
        retry_in_ms(&sent.outcome, push.attempts, delays),
    ) {
        (Outcome::DeadToken, _) => Finish::PruneToken,
        (_, Some(wait)) => Finish::RetryAt(now_millis().saturating_add(wait as i64)),
        (Outcome::ConfigError, _) => {
            tracing::error!(push = %push.id, transport = name, status = ?sent.status, reason, "the provider refused rcpush's configuration: check {}", provider.check);
            Finish::Done
        }
        (Outcome::Retry | Outcome::RetryAfter(_), None) => {
            tracing::warn!(push = %push.id, transport = name, status = ?sent.status, reason, "max retries reached");
            Finish::Done
        }
        (Outcome::Rejected, _) => {
            tracing::warn!(push = %push.id, transport = name, status = ?sent.status, reason, "the provider rejected the push");
            Finish::Done
        }
        (Outcome::Delivered, _) => Finish::Done,
    };
    Attempt {
        push,
        transport: name,
        delivered: sent.outcome == Outcome::Delivered,
        finish,
        status: sent.status,
        took: Duration::ZERO,
        reason: sent.reason,
    }
}
