//! JavaScript's string semantics where Rocket.Chat's output depends on them and Rust's
//! differ.

/// Whether `String.prototype.trim` removes `c` (ECMA-262 WhiteSpace and LineTerminator):
/// TAB, VT, FF, SP, U+00A0, U+FEFF, the category Zs, and LF, CR, U+2028, U+2029. Unlike
/// Rust's `char::is_whitespace` it keeps U+0085 (NEL) and removes U+FEFF; U+180E has been
/// neither since Unicode 6.3.
pub fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// `String.prototype.trim`.
pub fn js_trim(s: &str) -> &str {
    s.trim_matches(is_js_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The characters where JavaScript and Rust disagree, or that are easy to get wrong.
    const PINNED: [(char, bool); 6] = [
        ('\u{85}', false),
        ('\u{180e}', false),
        ('\u{200b}', false),
        ('\u{feff}', true),
        ('\u{2028}', true),
        ('\u{2029}', true),
    ];

    #[test]
    fn the_pinned_characters_are_trimmed_as_javascript_does() {
        for (c, trimmed) in PINNED {
            let s = format!("{c}hi{c}");
            let expected = if trimmed { "hi".to_string() } else { s.clone() };
            assert_eq!(js_trim(&s), expected, "U+{:04X}", c as u32);
        }
        assert_eq!(js_trim("\u{85}hi"), "\u{85}hi");
        assert_eq!(js_trim(" \t\u{3000}hi there\r\n\u{a0}"), "hi there");
    }

    fn edge() -> impl Strategy<Value = String> {
        let pinned: Vec<char> = PINNED.iter().map(|(c, _)| *c).collect();
        prop::collection::vec(
            prop_oneof![prop::sample::select(pinned), any::<char>()],
            0..6,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    proptest! {
        /// JavaScript's set is Unicode's White_Space (Rust's `is_whitespace`) without U+0085,
        /// plus U+FEFF: no other character differs.
        #[test]
        fn the_set_is_unicode_white_space_less_nel_plus_bom(c in any::<char>()) {
            let expected = (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}';
            prop_assert_eq!(is_js_whitespace(c), expected);
        }

        /// Trimming removes exactly the JavaScript white space at both ends, nothing inside,
        /// and trimming again changes nothing.
        #[test]
        fn trim_removes_exactly_the_edges(head in edge(), middle in any::<String>(), tail in edge()) {
            let s = format!("{head}{middle}{tail}");
            let t = js_trim(&s);
            prop_assert!(!t.starts_with(is_js_whitespace) && !t.ends_with(is_js_whitespace));
            let start = s.len() - s.trim_start_matches(is_js_whitespace).len();
            prop_assert_eq!(t, &s[start..start + t.len()]);
            prop_assert!(s[..start].chars().all(is_js_whitespace));
            prop_assert!(s[start + t.len()..].chars().all(is_js_whitespace));
            prop_assert_eq!(js_trim(t), t);
            for (c, trimmed) in PINNED {
                prop_assert!(trimmed || !s.starts_with(c) || t.starts_with(c));
                prop_assert!(trimmed || !s.ends_with(c) || t.ends_with(c));
                prop_assert!(!trimmed || !(t.starts_with(c) || t.ends_with(c)));
            }
        }
    }
}
