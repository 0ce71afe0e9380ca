//! The DDP rate limiter's state: one window per rule and key, shared by every connection of
//! this process (the rules themselves are `rules::ddp_rate`). Socket calls and REST
//! `method.call` go through it alike.

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::Mutex;

use super::error::MeteorError;
use super::ConnId;
use crate::model::time::Millis;
use crate::rules::ddp_rate::{self, CallKind, Limit, Scope, Verdict, Window};

/// Windows kept before the expired ones are swept out.
const SWEEP_AT: usize = 4096;

/// One call, as the rules match it.
pub struct Call<'a> {
    pub kind: CallKind,
    pub name: &'a str,
    pub conn: ConnId,
    pub user_id: Option<&'a str>,
    pub ip: IpAddr,
}

#[derive(Default)]
pub struct DdpLimiter {
    windows: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    by_key: HashMap<String, (Window, Limit)>,
    /// Size after the last sweep: the next one comes when the map has doubled past it.
    swept_at: usize,
}

impl DdpLimiter {
    /// Counts `call` at `now` under every rule that matches it; the refusal (with the
    /// longest wait of the rules it went over) if any did.
    pub fn check(&self, call: &Call<'_>, now: Millis) -> Result<(), MeteorError> {
        let mut refused: Option<u64> = None;
        let mut windows = self.windows.lock();
        for rule in ddp_rate::rules_for(call.kind, call.name) {
            let scope_key = match rule.scope {
                Scope::Connection => format!("c{}", call.conn.0),
                Scope::User => match call.user_id {
                    Some(u) => format!("u{u}"),
                    None => continue,
                },
                Scope::Ip if call.ip.is_loopback() => continue,
                Scope::Ip => format!("i{}", call.ip),
            };
            let name = if rule.per_name { call.name } else { "" };
            let key = format!("{}\0{scope_key}\0{name}", rule.id);
            let window = windows.by_key.get(&key).map(|(w, _)| *w);
            let (window, verdict) = ddp_rate::hit(window, rule.limit, now);
            windows.by_key.insert(key, (window, rule.limit));
            if let Verdict::Refused { time_to_reset_ms } = verdict {
                refused = Some(refused.unwrap_or(0).max(time_to_reset_ms));
            }
        }
        if windows.by_key.len() >= SWEEP_AT.max(2 * windows.swept_at) {
            windows
                .by_key
                .retain(|_, (w, limit)| !ddp_rate::expired(w, *limit, now));
            windows.swept_at = windows.by_key.len();
        }
        match refused {
            Some(ms) => Err(MeteorError::too_many_requests(ms)),
            None => Ok(()),
        }
    }

    /// Forgets every window (a testing reset).
    pub fn clear(&self) {
        *self.windows.lock() = Windows::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, conn: u64) -> Call<'_> {
        Call {
            kind: CallKind::Method,
            name,
            conn: ConnId(conn),
            user_id: None,
            ip: IpAddr::from([127, 0, 0, 1]),
        }
    }

    #[test]
    fn the_sixth_login_on_a_connection_is_refused_and_others_are_not() {
        let limiter = DdpLimiter::default();
        for _ in 0..5 {
            assert!(limiter.check(&call("login", 1), 1_000).is_ok());
        }
        let refused = limiter.check(&call("login", 1), 1_500).unwrap_err();
        assert_eq!(refused, MeteorError::too_many_requests(9_500));
        assert!(limiter.check(&call("login", 2), 1_500).is_ok());
        assert!(limiter.check(&call("login", 1), 11_001).is_ok());
    }
}
