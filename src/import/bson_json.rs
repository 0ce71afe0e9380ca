//! BSON as Rocket.Chat's REST layer prints it (import spec §4): the Node driver reads the
//! document (js-bson, promoted values) and `JSON.stringify` writes it. So the JSON is a
//! function of the stored bytes alone, and is rendered once, at import.

use base64::Engine as _;
use bson::raw::{RawBsonRef, RawDocument, RawElement};
use bson::spec::ElementType;
use indexmap::IndexMap;

/// Values that have no faithful JSON form, met while rendering (reported, or an error under
/// `--strict`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Oddities {
    /// Strings with invalid UTF-8, rendered with U+FFFD.
    pub invalid_utf8: u32,
    /// Binary values, rendered as base64.
    pub binary: u32,
    /// Timestamps, decimal128, min/max keys, code, DB pointers and symbols, rendered `null`.
    pub unexpected: u32,
}

impl Oddities {
    pub fn any(&self) -> bool {
        *self != Oddities::default()
    }
}

/// The top-level keys of a document, each with its rendered value, in JavaScript's property
/// order. `None` is a BSON `undefined`: the key keeps its place but `JSON.stringify` drops it.
pub type Entries = IndexMap<String, Option<String>>;

/// `JSON.stringify` of the document as the Node driver reads it.
pub fn render(doc: &RawDocument, odd: &mut Oddities) -> Result<String, bson::error::Error> {
    Ok(join(&entries(doc, odd)?))
}

/// The document's entries, for callers that add a key before joining them (`join`).
pub fn entries(doc: &RawDocument, odd: &mut Oddities) -> Result<Entries, bson::error::Error> {
    let mut entries = Entries::new();
    for element in doc.iter_elements() {
        let element = element?;
        let value = element_json(&element, odd)?;
        // A repeated key keeps its first place and takes the last value, as in a JS object.
        entries.insert(element.key().as_str().to_string(), value);
    }
    // JavaScript lists integer-like keys ("array indices") first, in numeric order.
    entries.sort_by_cached_key(|k, _| array_index(k).map_or(u64::MAX, u64::from));
    Ok(entries)
}

/// The JSON object of rendered entries, without the undefined ones.
pub fn join(entries: &Entries) -> String {
    let mut out = String::with_capacity(64 * entries.len());
    out.push('{');
    for (key, value) in entries {
        if let Some(value) = value {
            if out.len() > 1 {
                out.push(',');
            }
            string(key, &mut out);
            out.push(':');
            out.push_str(value);
        }
    }
    out.push('}');
    out
}

/// A canonical array index: `"0"`…`"4294967294"`, no sign, no leading zero.
fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>().ok().filter(|n| *n != u32::MAX)
}

/// One element's JSON, `None` for `undefined`.
fn element_json(
    element: &RawElement<'_>,
    odd: &mut Oddities,
) -> Result<Option<String>, bson::error::Error> {
    let value = match element.value() {
        Ok(v) => v,
        Err(_) if element.element_type() == ElementType::String => {
            odd.invalid_utf8 += 1;
            let lossy = element.value_utf8_lossy()?;
            let mut out = String::new();
            string(lossy.as_str().unwrap_or_default(), &mut out);
            return Ok(Some(out));
        }
        Err(e) => return Err(e),
    };
    Ok(match value {
        RawBsonRef::Undefined => None,
        RawBsonRef::Document(d) => Some(render(d, odd)?),
        RawBsonRef::Array(a) => {
            let mut out = String::from("[");
            for (i, element) in a.iter_elements().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(element_json(&element?, odd)?.as_deref().unwrap_or("null"));
            }
            out.push(']');
            Some(out)
        }
        scalar => Some(scalar_json(scalar, odd)),
    })
}

fn scalar_json(value: RawBsonRef<'_>, odd: &mut Oddities) -> String {
    match value {
        RawBsonRef::Double(d) => number(d),
        RawBsonRef::String(s) => {
            let mut out = String::with_capacity(s.len() + 2);
            string(s, &mut out);
            out
        }
        RawBsonRef::Boolean(b) => b.to_string(),
        RawBsonRef::Null => "null".into(),
        RawBsonRef::Int32(n) => n.to_string(),
        RawBsonRef::Int64(n) => n.to_string(),
        RawBsonRef::ObjectId(oid) => format!("\"{}\"", oid.to_hex()),
        RawBsonRef::DateTime(d) => date(d.timestamp_millis()),
        RawBsonRef::RegularExpression(_) => "{}".into(),
        RawBsonRef::Binary(b) => {
            odd.binary += 1;
            format!(
                "\"{}\"",
                base64::engine::general_purpose::STANDARD.encode(b.bytes)
            )
        }
        _ => {
            odd.unexpected += 1;
            "null".into()
        }
    }
}

/// ECMAScript `Number.prototype.toString`; `JSON.stringify` writes non-finite numbers as
/// `null` and `-0` as `0`.
pub fn number(d: f64) -> String {
    if !d.is_finite() {
        return "null".into();
    }
    if d == 0.0 {
        return "0".into();
    }
    ryu_js::Buffer::new().format_finite(d).to_string()
}

/// A JSON string as `JSON.stringify` writes it: only `"`, `\` and control characters are
/// escaped (`/`, non-ASCII and U+2028/9 stay raw).
pub fn string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The largest time a JS `Date` holds (±100,000,000 days).
const MAX_DATE_MS: i64 = 8_640_000_000_000_000;

/// `Date.prototype.toJSON`: `YYYY-MM-DDTHH:mm:ss.sssZ` in UTC, years outside 0–9999 as
/// `±YYYYYY`, and `null` for times a `Date` cannot hold.
pub fn date(ms: i64) -> String {
    if !(-MAX_DATE_MS..=MAX_DATE_MS).contains(&ms) {
        return "null".into();
    }
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let year = match year {
        0..=9999 => format!("{year:04}"),
        y if y < 0 => format!("-{:06}", -y),
        y => format!("+{y:06}"),
    };
    format!(
        "\"{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z\"",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, Bson, Document};
    use proptest::prelude::*;

    fn bytes(d: &Document) -> Vec<u8> {
        let mut out = Vec::new();
        d.to_writer(&mut out).unwrap();
        out
    }

    fn show(d: &Document) -> String {
        let raw = bytes(d);
        render(
            RawDocument::from_bytes(&raw).unwrap(),
            &mut Oddities::default(),
        )
        .unwrap()
    }

    #[test]
    fn numbers_follow_ecmascript() {
        for (d, s) in [
            (2.0, "2"),
            (0.5, "0.5"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-7"),
            (1745671412.5, "1745671412.5"),
            (-0.0, "0"),
            (f64::NAN, "null"),
            (f64::NEG_INFINITY, "null"),
            (93.0, "93"),
            (0.1, "0.1"),
        ] {
            assert_eq!(number(d), s, "{d}");
        }
    }

    #[test]
    fn dates_follow_to_json() {
        assert_eq!(date(1745671412345), "\"2025-04-26T12:43:32.345Z\"");
        assert_eq!(date(0), "\"1970-01-01T00:00:00.000Z\"");
        assert_eq!(date(-1), "\"1969-12-31T23:59:59.999Z\"");
        assert_eq!(date(253402300800000), "\"+010000-01-01T00:00:00.000Z\"");
        assert_eq!(date(-62198755200000), "\"-000001-01-01T00:00:00.000Z\"");
        assert_eq!(date(MAX_DATE_MS), "\"+275760-09-13T00:00:00.000Z\"");
        assert_eq!(date(MAX_DATE_MS + 1), "null");
        assert_eq!(date(-MAX_DATE_MS - 1), "null");
    }

    #[test]
    fn strings_escape_like_json_stringify() {
        let mut out = String::new();
        string("a\"b\\c/é\u{2028}\n\u{1}\u{1f}\u{8}\u{c}\r\t", &mut out);
        assert_eq!(
            out,
            "\"a\\\"b\\\\c/é\u{2028}\\n\\u0001\\u001f\\b\\f\\r\\t\""
        );
    }

    #[test]
    fn index_keys_move_to_the_front_and_undefined_is_dropped() {
        let d = doc! {"ticket": "OPS-7", "2": "two", "10": "ten", "01": "x", "u": Bson::Undefined,
        "4294967295": 1, "4294967294": 2, "a": [1, Bson::Undefined, {"x": Bson::RegularExpression(bson::Regex{pattern: bson::raw::cstr!("a").into(), options: bson::raw::cstr!("i").into()})}]};
        assert_eq!(
            show(&d),
            r#"{"2":"two","10":"ten","4294967294":2,"ticket":"OPS-7","01":"x","4294967295":1,"a":[1,null,{"x":{}}]}"#
        );
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_last_value() {
        // `doc!` would merge the keys: write the bytes by hand.
        let mut raw = bson::RawDocumentBuf::new();
        raw.append(bson::raw::cstr!("a"), 1);
        raw.append(bson::raw::cstr!("b"), 2);
        raw.append(bson::raw::cstr!("a"), 3);
        let mut odd = Oddities::default();
        assert_eq!(render(&raw, &mut odd).unwrap(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn odd_values_are_counted() {
        let d = doc! {"b": Bson::Binary(bson::Binary{subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1,2,3]}),
        "t": Bson::Timestamp(bson::Timestamp{time: 1, increment: 2}), "o": bson::oid::ObjectId::from_bytes([0xab; 12]),
        "i": 4294967296_i64, "n": Bson::Null, "f": false};
        let raw = bytes(&d);
        let mut odd = Oddities::default();
        let json = render(RawDocument::from_bytes(&raw).unwrap(), &mut odd).unwrap();
        assert_eq!(
            json,
            r#"{"b":"AQID","t":null,"o":"abababababababababababab","i":4294967296,"n":null,"f":false}"#
        );
        assert_eq!((odd.binary, odd.unexpected), (1, 1));
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let mut raw = bytes(&doc! {"s": "abc"});
        let at = raw.len() - 3;
        raw[at] = 0xff;
        let mut odd = Oddities::default();
        let json = render(RawDocument::from_bytes(&raw).unwrap(), &mut odd).unwrap();
        assert_eq!(json, "{\"s\":\"ab\u{fffd}\"}");
        assert_eq!(odd.invalid_utf8, 1);
    }

    /// What `JSON.stringify` gives for a value built from the same tree (the oracle).
    fn expected(v: &Bson) -> Option<serde_json::Value> {
        use serde_json::Value;
        Some(match v {
            Bson::Undefined => return None,
            Bson::Double(d) if !d.is_finite() => Value::Null,
            Bson::Double(d) => serde_json::from_str(&number(*d)).unwrap(),
            Bson::String(s) => Value::String(s.clone()),
            Bson::Boolean(b) => Value::Bool(*b),
            Bson::Null => Value::Null,
            Bson::Int32(n) => (*n).into(),
            Bson::Int64(n) => (*n).into(),
            Bson::DateTime(d) => serde_json::from_str(&date(d.timestamp_millis())).unwrap(),
            Bson::Array(a) => Value::Array(
                a.iter()
                    .map(|v| expected(v).unwrap_or(Value::Null))
                    .collect(),
            ),
            Bson::Document(d) => {
                let mut m: Vec<(String, Value)> = d
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), expected(v)?)))
                    .collect();
                m.sort_by_key(|(k, _)| array_index(k).map_or(u64::MAX, u64::from));
                Value::Object(m.into_iter().collect())
            }
            _ => unreachable!(),
        })
    }

    pub(crate) fn arb_bson() -> impl Strategy<Value = Bson> {
        let leaf = prop_oneof![
            any::<f64>().prop_map(Bson::Double),
            ".{0,8}".prop_map(Bson::String),
            any::<bool>().prop_map(Bson::Boolean),
            Just(Bson::Null),
            Just(Bson::Undefined),
            any::<i32>().prop_map(Bson::Int32),
            (-(1_i64 << 53)..(1_i64 << 53)).prop_map(Bson::Int64),
            (-MAX_DATE_MS..=MAX_DATE_MS)
                .prop_map(|ms| Bson::DateTime(bson::DateTime::from_millis(ms))),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
                prop::collection::vec(("[0-9]{1,3}|[a-z_]{1,4}", inner), 0..4)
                    .prop_map(|kv| Bson::Document(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The rendered text is JSON and equals the value the rules describe, key order
        /// included (serde_json keeps insertion order here).
        #[test]
        fn rendering_follows_the_rules(fields in prop::collection::vec(("[0-9]{1,2}|[a-z]{1,3}", arb_bson()), 0..6)) {
            let d: Document = fields.into_iter().collect();
            let json = show(&d);
            let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(Some(parsed), expected(&Bson::Document(d)));
        }
    }
}
