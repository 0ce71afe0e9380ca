//! The DDP rate limiter's rules (spec §2.8): Meteor's `DDPRateLimiter` with Rocket.Chat's
//! default rules. Each rule counts the calls of one key (a connection, a user, an address,
//! perhaps with the method or publication name) in a fixed window; the call that goes over
//! the limit is refused, and refused calls count too (Meteor increments, then checks).
//! Windows start at a key's first call (Meteor resets all of a rule's keys at once; per key
//! is the same limit without one client's window depending on another's).

use crate::model::time::Millis;

/// Methods and subscriptions are counted alike, each under its own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Method,
    Sub,
}

/// Whose calls a rule counts together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Connection,
    /// The logged-in user (anonymous calls are not counted).
    User,
    /// The client address (not the loopback).
    Ip,
}

/// `requests` calls per `interval_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub requests: u32,
    pub interval_ms: i64,
}

/// One rule: a name for its keys, whose calls it counts, whether per call name, its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub scope: Scope,
    pub per_name: bool,
    pub limit: Limit,
}

const fn rule(id: &'static str, scope: Scope, per_name: bool, requests: u32, secs: i64) -> Rule {
    Rule {
        id,
        scope,
        per_name,
        limit: Limit {
            requests,
            interval_ms: secs * 1000,
        },
    }
}

/// Meteor's default rule for the account methods: 5 per 10 s per connection.
const ACCOUNT_METHODS: [&str; 4] = ["login", "createUser", "resetPassword", "forgotPassword"];

/// The rules that count a call of `kind` named `name` (`DDP_Rate_Limit_*` defaults and
/// Rocket.Chat's per-method limits). The `send-many-messages` exemption of `sendMessage`
/// and `createDirectMessage` is not applied: its matcher is async, which Meteor reads as
/// always true (spec §8.7).
pub fn rules_for(kind: CallKind, name: &str) -> Vec<Rule> {
    let stream = name.starts_with("stream-");
    let mut rules = vec![
        match stream {
            true => rule("connection-name", Scope::Connection, true, 40, 40),
            false => rule("connection-name", Scope::Connection, true, 10, 10),
        },
        match stream {
            true => rule("user-name", Scope::User, true, 80, 40),
            false => rule("user-name", Scope::User, true, 20, 10),
        },
        rule("connection", Scope::Connection, false, 600, 60),
        rule("user", Scope::User, false, 1200, 60),
        rule("ip", Scope::Ip, false, 120_000, 60),
    ];
    if kind == CallKind::Method {
        match name {
            n if ACCOUNT_METHODS.contains(&n) => {
                rules.push(rule("accounts", Scope::Connection, true, 5, 10))
            }
            "sendMessage" => rules.push(rule("sendMessage", Scope::User, true, 5, 1)),
            "createDirectMessage" => {
                rules.push(rule("createDirectMessage", Scope::User, true, 10, 60))
            }
            "setUserStatus" => rules.push(rule("setUserStatus", Scope::User, true, 1, 1)),
            _ => {}
        }
    }
    rules
}

/// One key's count in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub started: Millis,
    pub count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused; the window ends in `time_to_reset_ms`.
    Refused {
        time_to_reset_ms: u64,
    },
}

/// Counts one call at `now` against `limit` in `window` (none before a key's first call):
/// the window after it, and whether the call is allowed. A window older than its interval
/// starts over (a clock set back counts as no time passed).
pub fn hit(window: Option<Window>, limit: Limit, now: Millis) -> (Window, Verdict) {
    let current = window.filter(|w| now.saturating_sub(w.started) <= limit.interval_ms);
    let mut w = current.unwrap_or(Window {
        started: now,
        count: 0,
    });
    w.count = w.count.saturating_add(1);
    if w.count <= limit.requests {
        return (w, Verdict::Allowed);
    }
    let elapsed = now.saturating_sub(w.started).max(0);
    let left = (limit.interval_ms - elapsed).max(0);
    (
        w,
        Verdict::Refused {
            time_to_reset_ms: left as u64,
        },
    )
}

/// Whether a window has nothing left to count (it may be forgotten).
pub fn expired(window: &Window, limit: Limit, now: Millis) -> bool {
    now.saturating_sub(window.started) > limit.interval_ms
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TEN_PER_TEN: Limit = Limit {
        requests: 10,
        interval_ms: 10_000,
    };

    fn run(limit: Limit, times: &[Millis]) -> Vec<Verdict> {
        let mut w = None;
        times
            .iter()
            .map(|&t| {
                let (next, v) = hit(w, limit, t);
                w = Some(next);
                v
            })
            .collect()
    }

    #[test]
    fn the_eleventh_call_in_ten_seconds_is_refused_until_the_window_ends() {
        let times: Vec<Millis> = (0..11).map(|i| 1_000 + i * 300).collect();
        let verdicts = run(TEN_PER_TEN, &times);
        assert!(verdicts[..10].iter().all(|v| *v == Verdict::Allowed));
        // 11th at 4 000: the window opened at 1 000 ends at 11 000.
        assert_eq!(
            verdicts[10],
            Verdict::Refused {
                time_to_reset_ms: 7_000
            }
        );
    }

    #[test]
    fn rules_follow_the_defaults_of_the_spec() {
        let login = rules_for(CallKind::Method, "login");
        assert!(login.iter().any(|r| r.id == "accounts"
            && r.scope == Scope::Connection
            && r.limit.requests == 5
            && r.limit.interval_ms == 10_000));
        let stream = rules_for(CallKind::Sub, "stream-notify-room");
        assert!(stream
            .iter()
            .any(|r| r.id == "connection-name" && r.limit.requests == 40));
        // A subscription named like a method is not the method.
        assert!(!rules_for(CallKind::Sub, "login")
            .iter()
            .any(|r| r.id == "accounts"));
        assert!(rules_for(CallKind::Method, "sendMessage")
            .iter()
            .any(|r| r.scope == Scope::User && r.limit.interval_ms == 1_000));
    }

    proptest! {
        /// In one window exactly `requests` calls pass, whatever their spacing.
        #[test]
        fn a_window_allows_exactly_its_limit(
            requests in 1u32..30,
            interval_ms in 1i64..100_000,
            gaps in proptest::collection::vec(0i64..50, 0..60),
        ) {
            let limit = Limit { requests, interval_ms };
            let mut t = 0;
            let times: Vec<Millis> = gaps.iter().map(|g| { t += g; t }).filter(|&t| t <= interval_ms).collect();
            let allowed = run(limit, &times).iter().filter(|v| **v == Verdict::Allowed).count();
            prop_assert_eq!(allowed, times.len().min(requests as usize));
        }

        /// A refusal never asks to wait longer than the interval, and once that time has
        /// passed the next call is allowed.
        #[test]
        fn waiting_the_time_to_reset_is_enough(
            requests in 1u32..10,
            interval_ms in 1i64..100_000,
            extra in 1usize..5,
            start in 0i64..1_000_000,
        ) {
            let limit = Limit { requests, interval_ms };
            let times = vec![start; requests as usize + extra];
            let verdicts = run(limit, &times);
            let mut w = None;
            for &t in &times { w = Some(hit(w, limit, t).0); }
            for v in &verdicts[requests as usize..] {
                match v {
                    Verdict::Refused { time_to_reset_ms } => {
                        prop_assert!(*time_to_reset_ms as i64 <= interval_ms);
                        let later = start + *time_to_reset_ms as i64 + 1;
                        prop_assert_eq!(hit(w, limit, later).1, Verdict::Allowed);
                    }
                    Verdict::Allowed => prop_assert!(false, "over the limit but allowed"),
                }
            }
        }

        /// A clock set back never refuses more than the limit allows nor panics.
        #[test]
        fn a_clock_set_back_is_no_time_passed(
            back in 0i64..1_000_000,
        ) {
            let (w, v) = hit(None, TEN_PER_TEN, 1_000_000);
            prop_assert_eq!(v, Verdict::Allowed);
            let (w2, v2) = hit(Some(w), TEN_PER_TEN, 1_000_000 - back);
            prop_assert_eq!(v2, Verdict::Allowed);
            prop_assert_eq!(w2.count, 2);
            prop_assert!(!expired(&w2, TEN_PER_TEN, 1_000_000 - back));
        }
    }
}
