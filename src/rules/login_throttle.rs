//! Failed-login blocking with Rocket.Chat's defaults: after N failures for a username (10) or
//! a client IP (50) within the window (5 minutes), further attempts are refused until the
//! window passes. Checked before any password hashing, so blocked attempts cost nothing.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    pub per_user: u32,
    pub per_ip: u32,
    pub window_ms: i64,
}

/// Why an attempt is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    User,
    Ip,
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    users: HashMap<String, Failures>,
    ips: HashMap<String, Failures>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// When the window of this run of failures began.
    since: i64,
}

impl LoginThrottle {
    /// Whether an attempt for `user` from `ip` may proceed at `now` (ms).
    pub fn check(&self, user: &str, ip: &str, now: i64, l: ThrottleLimits) -> Result<(), Blocked> {
        let hit = |m: &HashMap<String, Failures>, k: &str, max: u32| {
            m.get(k)
                .is_some_and(|f| f.count >= max && now - f.since < l.window_ms)
        };
        if hit(&self.users, &user.to_lowercase(), l.per_user) {
            return Err(Blocked::User);
        }
        if hit(&self.ips, ip, l.per_ip) {
            return Err(Blocked::Ip);
        }
        Ok(())
    }

    pub fn record_failure(&mut self, user: &str, ip: &str, now: i64, l: ThrottleLimits) {
        for (map, key) in [
            (&mut self.users, user.to_lowercase()),
            (&mut self.ips, ip.to_string()),
        ] {
            let f = map.entry(key).or_insert(Failures {
                count: 0,
                since: now,
            });
            if now - f.since >= l.window_ms {
                *f = Failures {
                    count: 0,
                    since: now,
                };
            }
            f.count += 1;
        }
        // Keep memory bounded under a flood of distinct names: drop expired entries.
        if self.users.len() + self.ips.len() > 100_000 {
            self.users.retain(|_, f| now - f.since < l.window_ms);
            self.ips.retain(|_, f| now - f.since < l.window_ms);
        }
    }

    /// A successful login clears the user's failures (as Rocket.Chat does).
    pub fn record_success(&mut self, user: &str) {
        self.users.remove(&user.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const L: ThrottleLimits = ThrottleLimits {
        per_user: 10,
        per_ip: 50,
        window_ms: 300_000,
    };

    #[test]
    fn blocks_after_ten_failures_for_five_minutes() {
        let mut t = LoginThrottle::default();
        for i in 0..10 {
            assert_eq!(t.check("Bob", "1.2.3.4", i, L), Ok(()));
            t.record_failure("Bob", "1.2.3.4", i, L);
        }
        assert_eq!(t.check("bob", "9.9.9.9", 20, L), Err(Blocked::User));
        assert_eq!(t.check("alice", "1.2.3.4", 20, L), Ok(()));
        assert_eq!(t.check("bob", "1.2.3.4", 300_000, L), Ok(()));
    }

    #[test]
    fn blocks_an_ip_after_fifty_failures() {
        let mut t = LoginThrottle::default();
        for i in 0..50 {
            t.record_failure(&format!("user{i}"), "5.5.5.5", 0, L);
        }
        assert_eq!(t.check("newuser", "5.5.5.5", 1, L), Err(Blocked::Ip));
        assert_eq!(t.check("newuser", "6.6.6.6", 1, L), Ok(()));
    }

    proptest! {
        #[test]
        fn fewer_failures_than_the_limit_never_block(n in 0u32..10, user in "[a-z]{1,8}") {
            let mut t = LoginThrottle::default();
            for i in 0..n {
                t.record_failure(&user, "ip", i as i64, L);
            }
            prop_assert_eq!(t.check(&user, "ip", n as i64, L), Ok(()));
        }
    }
}
