//! What FCM and APNs share in direct mode (direct-push spec §3.4, §4.5, §8.1): the queued
//! gateway body both read their content from, what a provider's answer means for the push,
//! and when a push is tried again.

use serde::Deserialize;
use serde_json::value::RawValue;

/// The parts of the queued gateway body (`{"token","options":{…}}`, `delivery::gateway::rules`) that
/// direct delivery sends: the same title, text, badge and payload as the gateway gets.
#[derive(Debug, Deserialize)]
pub struct GatewayBody<'a> {
    #[serde(borrow)]
    pub options: GatewayOptions<'a>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayOptions<'a> {
    /// The app's bundle id (`appName`), present for APNs devices only.
    #[serde(default)]
    pub topic: Option<String>,
    pub title: String,
    pub text: String,
    #[serde(default)]
    pub from: Option<String>,
    /// Kept as written: its compact JSON text is `EJSON.stringify(payload)`.
    #[serde(borrow, default)]
    pub payload: Option<&'a RawValue>,
    #[serde(default)]
    pub badge: Option<i64>,
    #[serde(default)]
    pub sound: Option<String>,
    #[serde(default)]
    pub not_id: Option<i64>,
    #[serde(default)]
    pub apn: Option<ApnOptions>,
    #[serde(default)]
    pub gcm: Option<GcmOptions>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ApnOptions {
    #[serde(default)]
    pub category: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GcmOptions {
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub style: Option<String>,
}

impl GatewayBody<'_> {
    /// `None` if the body is not one rcpush wrote.
    pub fn parse(body: &str) -> Option<GatewayBody<'_>> {
        serde_json::from_str(body).ok()
    }
}

/// What a provider's answer (or the lack of one) means for the push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// The device token is dead (FCM `UNREGISTERED`, APNs 410 `Unregistered`…): prune it.
    DeadToken,
    /// 429 with a `Retry-After`: try again after this many seconds.
    RetryAfter(u64),
    /// 5xx, 429 without a usable `Retry-After` (APNs), or no answer: try again after the
    /// next backoff delay.
    Retry,
    /// rcpush's credentials, project, key or topic are wrong: every push would fail alike,
    /// so it is an error for the admin, and no token is touched.
    ConfigError,
    /// Any other refusal: this push is dropped, the token kept.
    Rejected,
}

/// A `Retry-After` in seconds; a date or garbage counts as absent.
pub fn retry_after_seconds(header: Option<&str>) -> Option<u64> {
    header.and_then(|s| s.trim().parse().ok())
}

/// How long to wait before the next attempt of a push that has had `attempts` attempts,
/// or `None` when it is not tried again: either the outcome is final, or the retries are
/// spent (at most `delays.len()`, whatever the reason for each).
pub fn retry_in_ms(outcome: &Outcome, attempts: u32, delays: &[u64]) -> Option<u64> {
    let attempts = attempts as usize;
    if attempts >= delays.len() {
        return None;
    }
    match outcome {
        Outcome::RetryAfter(seconds) => Some(seconds.saturating_mul(1000)),
        Outcome::Retry => Some(delays[attempts]),
        _ => None,
    }
}

/// Test support: a queued gateway body with other content, as the property tests of both
/// transports vary it.
#[cfg(test)]
pub fn with_content(body: &str, title: &str, text: &str, badge: i64, not_id: i32) -> String {
    let mut v: serde_json::Value = serde_json::from_str(body).expect("a gateway body");
    v["options"]["title"] = title.into();
    v["options"]["text"] = text.into();
    v["options"]["badge"] = badge.into();
    v["options"]["notId"] = not_id.into();
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn retry_after_is_a_number_of_seconds_or_absent() {
        assert_eq!(retry_after_seconds(Some(" 2 ")), Some(2));
        assert_eq!(
            retry_after_seconds(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(retry_after_seconds(None), None);
    }

    #[test]
    fn retries_follow_the_delays_then_stop() {
        let delays = [10_000, 20_000];
        assert_eq!(retry_in_ms(&Outcome::Retry, 0, &delays), Some(10_000));
        assert_eq!(retry_in_ms(&Outcome::Retry, 1, &delays), Some(20_000));
        assert_eq!(retry_in_ms(&Outcome::Retry, 2, &delays), None);
        assert_eq!(retry_in_ms(&Outcome::RetryAfter(3), 1, &delays), Some(3000));
        assert_eq!(retry_in_ms(&Outcome::RetryAfter(3), 2, &delays), None);
        assert!(GatewayBody::parse("{}").is_none());
    }

    fn any_outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            Just(Outcome::Delivered),
            Just(Outcome::DeadToken),
            any::<u64>().prop_map(Outcome::RetryAfter),
            Just(Outcome::Retry),
            Just(Outcome::ConfigError),
            Just(Outcome::Rejected),
        ]
    }

    proptest! {
        /// Only a retryable outcome is retried, never more often than there are delays, and
        /// a backoff waits exactly the delay of its attempt.
        #[test]
        fn only_retryable_outcomes_are_retried_and_at_most_once_per_delay(
            outcome in any_outcome(),
            attempts in 0u32..20,
            delays in proptest::collection::vec(0u64..1_000_000, 0..8),
        ) {
            let wait = retry_in_ms(&outcome, attempts, &delays);
            let retryable = matches!(outcome, Outcome::Retry | Outcome::RetryAfter(_));
            prop_assert_eq!(wait.is_some(), retryable && (attempts as usize) < delays.len());
            if let (Outcome::Retry, Some(wait)) = (&outcome, wait) {
                prop_assert_eq!(wait, delays[attempts as usize]);
            }
        }
    }
}
