//! The nesting limit of JSON bodies (`limits.max_json_depth`), checked on the raw bytes
//! before any parsing, so that a deeply nested body costs one linear scan and no recursion.

/// The configured limit, shared with the extractors as app data.
#[derive(Debug, Clone, Copy)]
pub struct MaxJsonDepth(pub usize);

/// Whether arrays and objects in `bytes` nest deeper than `max`. Brackets inside strings
/// do not count; malformed JSON is left to the parser.
pub fn too_deep(bytes: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn counts_only_structure() {
        assert!(!too_deep(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(too_deep(br#"{"a":[1,{"b":2}]}"#, 2));
        assert!(!too_deep(br#"{"a":"[[[[\"[[[["}"#, 1));
        assert!(too_deep(&[b'['; 65], 64));
    }

    proptest! {
        /// Agrees with the nesting serde_json finds in any value it can print.
        #[test]
        fn matches_the_parsed_depth(depth in 0usize..40, text in "[\\[\\]{}\"\\\\a]{0,12}") {
            let mut v = serde_json::Value::String(text);
            for i in 0..depth {
                v = if i % 2 == 0 { serde_json::json!([v]) } else { serde_json::json!({"k": v}) };
            }
            let bytes = serde_json::to_vec(&v).unwrap();
            prop_assert!(!too_deep(&bytes, depth));
            prop_assert_eq!(too_deep(&bytes, depth.saturating_sub(1)), depth > 0);
        }
    }
}
