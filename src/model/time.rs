//! Timestamps as Rocket.Chat's REST layer prints them (`Date.prototype.toJSON`, spec §6.3).

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use parking_lot::Mutex;

/// Milliseconds since the epoch, the resolution of a JS `Date`.
pub type Millis = i64;

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

/// The server's clock, which every service reads. The wall clock, except in testing mode,
/// where tests set it or move it forward (`POST /api/rcpush/testing/clock`): it then runs on
/// from there at the wall clock's pace, or, in a deterministic run, moves only when told and
/// by `DETERMINISTIC_STEP_MS` as each request arrives (`tick`). It never goes backwards
/// unless set. Cheap to clone; clones share the time.
#[derive(Clone, Default)]
pub struct Clock {
    /// `None`: the wall clock as it is.
    adjusted: Option<Arc<Mutex<Adjusted>>>,
}

/// Where a deterministic run's clock starts: `2024-01-01T00:00:00.000Z`.
pub const DETERMINISTIC_START: Millis = 1_704_067_200_000;

/// How far each request moves a deterministic run's clock, so that a run's messages keep
/// their order by time. Per request, not per reading: how often a request reads the clock
/// may vary (caches), how many requests a run sends does not.
pub const DETERMINISTIC_STEP_MS: Millis = 1;

#[derive(Clone, Default)]
struct Adjusted {
    /// Follows the wall clock (plus `offset`); else moves only by readings and changes.
    follows_wall: bool,
    /// Added to the wall clock.
    offset: Millis,
    /// The latest time read: a wall clock stepping back is not seen.
    last: Millis,
    /// The state `mark_start` kept, which `restart` goes back to.
    start: Option<Box<Adjusted>>,
}

impl Clock {
    /// A clock that tests may set and advance, running at the wall clock's pace.
    pub fn adjustable() -> Clock {
        Clock::with(Adjusted {
            follows_wall: true,
            ..Adjusted::default()
        })
    }

    /// A deterministic run's clock: it starts at `DETERMINISTIC_START`.
    pub fn deterministic() -> Clock {
        Clock::with(Adjusted {
            last: DETERMINISTIC_START,
            ..Adjusted::default()
        })
    }

    fn with(adjusted: Adjusted) -> Clock {
        let start = Some(Box::new(adjusted.clone()));
        Clock {
            adjusted: Some(Arc::new(Mutex::new(Adjusted { start, ..adjusted }))),
        }
    }

    pub fn now(&self) -> Millis {
        let Some(adjusted) = &self.adjusted else {
            return now_millis();
        };
        let mut a = adjusted.lock();
        if a.follows_wall {
            a.last = a.last.max(now_millis().saturating_add(a.offset));
        }
        a.last
    }

    /// A request arrives: a deterministic run's clock moves `DETERMINISTIC_STEP_MS`.
    pub fn tick(&self) {
        if let Some(adjusted) = &self.adjusted {
            let mut a = adjusted.lock();
            if !a.follows_wall {
                a.last = a.last.saturating_add(DETERMINISTIC_STEP_MS);
            }
        }
    }

    /// Sets the time to `at`, earlier or later. False on the wall clock.
    pub fn set(&self, at: Millis) -> bool {
        self.change(|a| {
            a.offset = at.saturating_sub(now_millis());
            a.last = at;
        })
    }

    /// Moves the time `by` forward. False on the wall clock.
    pub fn advance(&self, by: Millis) -> bool {
        self.change(|a| {
            a.offset = a.offset.saturating_add(by);
            a.last = a.last.saturating_add(by);
        })
    }

    /// Remembers the time now (once start-up is done) for `restart`.
    pub fn mark_start(&self) -> bool {
        self.change(|a| {
            let now = Adjusted {
                start: None,
                ..a.clone()
            };
            a.start = Some(Box::new(now));
        })
    }

    /// Back to the state `mark_start` kept: a deterministic run's clock to the time start-up
    /// left it at, any other to the wall clock's time (a testing reset).
    pub fn restart(&self) -> bool {
        self.change(|a| {
            let start = a.start.take().unwrap_or_default();
            *a = Adjusted {
                start: Some(start.clone()),
                ..*start
            };
        })
    }

    fn change(&self, f: impl FnOnce(&mut Adjusted)) -> bool {
        self.adjusted.as_ref().map(|a| f(&mut a.lock())).is_some()
    }
}

/// `2021-10-22T14:29:23.581Z`: UTC, exactly three fractional digits.
pub fn iso(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses the stored ISO form back to milliseconds; `None` for anything else.
pub fn parse_iso(s: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc).timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_matches_js_to_json() {
        assert_eq!(iso(1_634_912_963_581), "2021-10-22T14:29:23.581Z");
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            parse_iso("2021-10-22T14:29:23.581Z"),
            Some(1_634_912_963_581)
        );
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn an_adjustable_clock_moves_only_forward_unless_set() {
        let clock = Clock::adjustable();
        let year_2030 = 1_893_456_000_000;
        assert!(clock.set(year_2030));
        let t = clock.now();
        assert!((year_2030..year_2030 + 1000).contains(&t), "{t}");
        assert!(clock.advance(60_000));
        assert!(clock.now() >= t + 60_000);
        assert!(clock.set(1000));
        assert!(clock.now() < year_2030);
        assert!(clock.restart());
        assert!(clock.now() - now_millis() < 1000);
        assert!(!Clock::default().set(0) && !Clock::default().advance(1));
    }

    #[test]
    fn a_deterministic_clock_moves_only_by_requests_and_changes() {
        let clock = Clock::deterministic();
        assert_eq!(clock.now(), DETERMINISTIC_START);
        clock.tick();
        assert!(clock.mark_start());
        assert_eq!(clock.now(), DETERMINISTIC_START + 1);
        assert_eq!(clock.now(), DETERMINISTIC_START + 1);
        assert!(clock.advance(1000));
        clock.tick();
        assert_eq!(clock.now(), DETERMINISTIC_START + 1002);
        assert!(clock.restart());
        assert_eq!(clock.now(), DETERMINISTIC_START + 1);
    }
}
