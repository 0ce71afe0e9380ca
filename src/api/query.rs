//! Query strings parsed the way Rocket.Chat's `qs` does (spec §1.2): `a=1&a=2` and `a[]=1`
//! give arrays, `a[x]=1` gives an object, values that are not valid percent-encoding are
//! kept as written (the Python client sends them raw).

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QsValue {
    Str(String),
    Array(Vec<String>),
    Object(Vec<(String, String)>),
}

impl QsValue {
    /// The JS type name `check()` reports for this value.
    pub fn js_type(&self) -> &'static str {
        match self {
            QsValue::Str(_) => "string",
            QsValue::Array(_) | QsValue::Object(_) => "object",
        }
    }
}

#[derive(Debug, Default)]
pub struct Qs(HashMap<String, QsValue>);

/// More array items than this is refused, as `qs` with `arrayLimit: 500` does.
pub const ARRAY_LIMIT: usize = 500;

#[derive(Debug, PartialEq, Eq)]
pub struct TooManyItems;

impl Qs {
    pub fn parse(query: &str) -> Result<Qs, TooManyItems> {
        let mut map: HashMap<String, QsValue> = HashMap::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let key = decode(k);
            let value = decode(v);
            let (base, sub) = match key.find('[') {
                Some(i) if i > 0 && key.ends_with(']') => (
                    key[..i].to_string(),
                    Some(key[i + 1..key.len() - 1].to_string()),
                ),
                _ => (key, None),
            };
            let entry = map.remove(&base);
            let merged = match (entry, sub) {
                (None, None) => QsValue::Str(value),
                (None, Some(s)) if s.is_empty() || s.bytes().all(|b| b.is_ascii_digit()) => {
                    QsValue::Array(vec![value])
                }
                (None, Some(s)) => QsValue::Object(vec![(s, value)]),
                (Some(QsValue::Str(prev)), _) => QsValue::Array(vec![prev, value]),
                (Some(QsValue::Array(mut a)), _) => {
                    a.push(value);
                    QsValue::Array(a)
                }
                (Some(QsValue::Object(mut o)), s) => {
                    o.push((s.unwrap_or_default(), value));
                    QsValue::Object(o)
                }
            };
            if let QsValue::Array(a) = &merged {
                if a.len() > ARRAY_LIMIT {
                    return Err(TooManyItems);
                }
            }
            map.insert(base, merged);
        }
        Ok(Qs(map))
    }

    pub fn get(&self, key: &str) -> Option<&QsValue> {
        self.0.get(key)
    }
}

/// `+` is a space; `%XX` is decoded when the whole string decodes to UTF-8, else kept raw
/// (what `qs`'s `decodeURIComponent` fallback does).
fn decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    if !spaced.contains('%') {
        return spaced;
    }
    let bytes = spaced.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or(spaced)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn get(q: &str, k: &str) -> Option<QsValue> {
        Qs::parse(q).unwrap().get(k).cloned()
    }

    #[test]
    fn shapes_like_qs() {
        assert_eq!(get("id=abc", "id"), Some(QsValue::Str("abc".into())));
        assert_eq!(get("id=", "id"), Some(QsValue::Str("".into())));
        assert_eq!(get("id", "id"), Some(QsValue::Str("".into())));
        assert_eq!(get("x=1", "id"), None);
        assert_eq!(get("id=a&id=b", "id").unwrap().js_type(), "object");
        assert_eq!(get("id[]=a", "id").unwrap().js_type(), "object");
        assert_eq!(get("id[x]=a", "id").unwrap().js_type(), "object");
        assert_eq!(get("id=a%20b+c", "id"), Some(QsValue::Str("a b c".into())));
        assert_eq!(get("id=100%", "id"), Some(QsValue::Str("100%".into())));
        assert_eq!(get("id=%E2%82", "id"), Some(QsValue::Str("%E2%82".into())));
        let many = (0..=ARRAY_LIMIT)
            .map(|i| format!("a[]={i}"))
            .collect::<Vec<_>>()
            .join("&");
        assert_eq!(Qs::parse(&many).unwrap_err(), TooManyItems);
    }

    proptest! {
        #[test]
        fn never_panics(q in ".{0,200}") {
            let _ = Qs::parse(&q);
        }

        #[test]
        fn plain_values_round_trip(v in "[A-Za-z0-9_-]{0,30}") {
            prop_assert_eq!(get(&format!("id={v}"), "id"), Some(QsValue::Str(v)));
        }
    }
}
