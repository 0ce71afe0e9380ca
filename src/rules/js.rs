//! JavaScript's string semantics where Rocket.Chat's output depends on them and Rust's
//! differ.

use message_parser::is_js_space;

/// `String.prototype.trim`: it removes ECMA-262's WhiteSpace and LineTerminator (the
/// parser's `is_js_space`: TAB, VT, FF, SP, U+00A0, U+FEFF, the category Zs, LF, CR, U+2028,
/// U+2029). Unlike Rust's `str::trim` it keeps U+0085 (NEL) and removes U+FEFF; U+180E has
/// been neither since Unicode 6.3.
pub fn js_trim(s: &str) -> &str {
    s.trim_matches(is_js_space)
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
            prop_assert_eq!(is_js_space(c), expected);
        }

        /// Trimming removes exactly the JavaScript white space at both ends, nothing inside,
        /// and trimming again changes nothing.
        #[test]
        fn trim_removes_exactly_the_edges(head in edge(), middle in any::<String>(), tail in edge()) {
            let s = format!("{head}{middle}{tail}");
            let t = js_trim(&s);
            prop_assert!(!t.starts_with(is_js_space) && !t.ends_with(is_js_space));
            let start = s.len() - s.trim_start_matches(is_js_space).len();
            prop_assert_eq!(t, &s[start..start + t.len()]);
            prop_assert!(s[..start].chars().all(is_js_space));
            prop_assert!(s[start + t.len()..].chars().all(is_js_space));
            prop_assert_eq!(js_trim(t), t);
            for (c, trimmed) in PINNED {
                prop_assert!(trimmed || !s.starts_with(c) || t.starts_with(c));
                prop_assert!(trimmed || !s.ends_with(c) || t.ends_with(c));
                prop_assert!(!trimmed || !(t.starts_with(c) || t.ends_with(c)));
            }
        }
    }
}
