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
/// where tests set it or move it forward (`POST /api/rcpush/testing/clock`); it then runs
/// on from there at the wall clock's pace and never goes backwards unless set. Cheap to clone.
#[derive(Clone, Default)]
pub struct Clock {
    /// `None`: the wall clock as it is.
    adjusted: Option<Arc<Mutex<Adjusted>>>,
}

#[derive(Default)]
struct Adjusted {
    /// Added to the wall clock.
    offset: Millis,
    /// The latest time read: a wall clock stepping back is not seen.
    last: Millis,
}

impl Clock {
    /// A clock that tests may set and advance.
    pub fn adjustable() -> Clock {
        Clock {
            adjusted: Some(Arc::default()),
        }
    }

    pub fn now(&self) -> Millis {
        let Some(adjusted) = &self.adjusted else {
            return now_millis();
        };
        let mut a = adjusted.lock();
        a.last = a.last.max(now_millis().saturating_add(a.offset));
        a.last
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

    /// Back to the wall clock's time (what a reset does).
    pub fn restart(&self) -> bool {
        self.change(|a| *a = Adjusted::default())
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
}
