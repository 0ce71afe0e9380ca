//! The push gateway's transport (spec §5.3): one `POST <Push_gateway>/push/<service>/send`
//! per push, the queued body as it is.

pub mod rules;

use std::time::Duration;

use secrecy::ExposeSecret;

use super::reachability::{ureq_failure, Reachability};
use super::Attempt;
use crate::config::PushConfig;
use crate::model::time::now_millis;
use crate::store::{Finish, PendingPush};
use rules::{gateway_outcome, GatewayOutcome};

/// One gateway request to the first URL of `push_gateway` (Rocket.Chat allows several, one
/// a line, and uses the first for a workspace without a cloud registration).
pub(super) fn attempt(
    agent: &ureq::Agent,
    reachability: &Reachability,
    config: &PushConfig,
    push_gateway: &str,
    push: PendingPush,
) -> Attempt {
    let gateway = push_gateway
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .trim_end_matches('/');
    let url = format!("{gateway}/push/{}/send", push.service);
    let mut request = agent.post(&url).set("Content-Type", "application/json");
    let authorization = config.gateway_authorization.expose_secret();
    if !authorization.is_empty() {
        request = request.set("Authorization", authorization);
    }
    let (status, reason) = match request.send_string(&push.body) {
        Ok(r) => (Some(r.status()), None),
        Err(ureq::Error::Status(code, _)) => (Some(code), None),
        Err(ureq::Error::Transport(e)) => (None, Some(ureq_failure(reachability, &url, &e))),
    };
    if status.is_some() {
        reachability.answered(&url);
    }
    let outcome = gateway_outcome(status);
    let finish = match outcome {
        GatewayOutcome::Delivered => Finish::Done,
        GatewayOutcome::UnknownToken => Finish::PruneToken,
        GatewayOutcome::Rejected => Finish::Done,
        GatewayOutcome::Retry => match config.retry_delays_ms.get(push.attempts as usize) {
            Some(delay) => Finish::RetryAt(now_millis() + *delay as i64),
            None => Finish::Done,
        },
    };
    Attempt {
        push,
        transport: "gateway",
        delivered: outcome == GatewayOutcome::Delivered,
        finish,
        status,
        took: Duration::ZERO,
        reason,
    }
}
