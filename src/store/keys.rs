//! Composite keys. Parts are joined with `0xFF`, a byte that never occurs in UTF-8, so a
//! prefix scan on `part ∙ 0xFF` lists exactly the entries of that part.

pub const SEP: u8 = 0xFF;

/// `a ∙ b`
pub fn pair(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(SEP);
    k.extend_from_slice(b.as_bytes());
    k
}

/// `a ∙` — the prefix of every `pair(a, _)`.
pub fn prefix(a: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(SEP);
    k
}

/// A time as 8 bytes that sort like the time: big-endian with the sign bit flipped.
fn time_bytes(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// `due ∙ id`: outbox entries in the order they fall due.
pub fn due_id(due: i64, id: &str) -> Vec<u8> {
    let mut k = time_bytes(due).to_vec();
    k.push(SEP);
    k.extend_from_slice(id.as_bytes());
    k
}

/// The key that sorts after every `due_id(t, _)` with `t <= due`.
pub fn due_upper_bound(due: i64) -> Vec<u8> {
    let mut k = time_bytes(due).to_vec();
    k.push(SEP);
    k.push(0xFF);
    k
}

/// The part before the first separator (the whole key if it has none).
pub fn first(key: &[u8]) -> &[u8] {
    key.split(|b| *b == SEP).next().unwrap_or(key)
}

/// The part after the first separator, as UTF-8 (`None` if the key is malformed).
pub fn second(key: &[u8]) -> Option<&str> {
    let at = key.iter().position(|b| *b == SEP)?;
    std::str::from_utf8(&key[at + 1..]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_their_parts() {
        assert!(!pair("rr", "a").starts_with(&prefix("r")));
        assert!(pair("r", "a").starts_with(&prefix("r")));
        assert_eq!(second(&pair("u", "room")), Some("room"));
        assert_eq!(first(&pair("u", "room")), b"u");
        assert!(due_id(5, "zzz") < due_upper_bound(5));
        assert!(due_upper_bound(5) < due_id(6, "a"));
        assert!(due_id(-1, "a") < due_id(0, "a"));
    }
}
