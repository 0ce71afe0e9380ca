//! The `timestamp` string of `<t:…>` dates: `new Date(iso).getTime() / 1e3 | 0` in JavaScript,
//! including its validation (`NaN | 0` is `0`) and the 32-bit wrap of `| 0`. Dates without an
//! offset are read as UTC, the time zone the server runs in.

/// Days from 1970-01-01 to the given proleptic Gregorian date (month 1–12; day may overflow).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + day - 1
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Parsed fields of an ISO date-time the way V8 accepts them.
pub(super) struct DateTime<'a> {
    pub year: &'a str,
    pub month: &'a str,
    pub day: &'a str,
    pub hours: &'a str,
    pub minutes: &'a str,
    pub seconds: &'a str,
    pub millis: Option<&'a str>,
    /// `+hh:mm` / `-hh:mm`.
    pub offset: Option<&'a str>,
}

fn num(s: &str) -> i64 {
    s.parse().unwrap_or(0)
}

/// Milliseconds since the epoch, or `None` where V8's `Date` gives `NaN`.
fn epoch_millis(d: &DateTime) -> Option<i64> {
    let (year, month, day) = (num(d.year), num(d.month), num(d.day));
    let (h, m, s) = (num(d.hours), num(d.minutes), num(d.seconds));
    let ms = d.millis.map_or(0, num);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || m > 59 || s > 59 {
        return None;
    }
    if h > 24 || (h == 24 && (m, s, ms) != (0, 0, 0)) {
        return None;
    }
    let mut offset_minutes = 0;
    if let Some(tz) = d.offset {
        let (oh, om) = (num(&tz[1..3]), num(&tz[4..6]));
        if oh > 23 || om > 59 {
            return None;
        }
        offset_minutes = (oh * 60 + om) * if tz.starts_with('-') { -1 } else { 1 };
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + h) * 60 + m - offset_minutes) * 60_000 + s * 1000 + ms)
}

/// `(millis / 1e3) | 0` as a decimal string.
fn to_seconds_string(millis: Option<i64>) -> String {
    let Some(ms) = millis else {
        return "0".to_string();
    };
    // Truncation toward zero, then ToInt32's modulo 2^32.
    let secs = ms / 1000;
    (secs as i32).to_string()
}

pub(super) fn from_iso(d: &DateTime) -> String {
    to_seconds_string(epoch_millis(d))
}

/// `<t:hh:mm[:ss][±hh:mm]>`: that time on the UTC date of `now_ms`.
pub(super) fn from_hours(
    now_ms: i64,
    hours: &str,
    minutes: &str,
    seconds: &str,
    offset: Option<&str>,
) -> String {
    let (y, mo, d) = civil_from_days(now_ms.div_euclid(86_400_000));
    let (year, month, day) = (format!("{y:04}"), format!("{mo:02}"), format!("{d:02}"));
    from_iso(&DateTime {
        year: &year,
        month: &month,
        day: &day,
        hours,
        minutes,
        seconds,
        millis: None,
        offset,
    })
}
