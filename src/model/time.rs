//! Timestamps as Rocket.Chat's REST layer prints them (`Date.prototype.toJSON`, spec §6.3).

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the epoch, the resolution of a JS `Date`.
pub type Millis = i64;

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
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
}
