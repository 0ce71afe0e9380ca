//! Emoji shortname → Unicode conversion of push notification text.
//!
//! Rocket.Chat builds the notification text with
//! `callbacks.run('beforeSendMessageNotifications', message.msg)`, whose
//! callback converts emoji shortnames to Unicode. This crate reproduces
//! `shortnameToUnicode` of npm `emoji-toolkit` 10.0.0 (the JoyPixels 10.0
//! shortname list) with the library's defaults: ASCII emoticons (`:)`, `<3`)
//! are not converted, and unknown names such as custom emoji stay as they are.
//!
//! ```
//! assert_eq!(emoji::shortname_to_unicode("ship it :rocket: :+1:"), "ship it 🚀 👍");
//! ```
//!
//! The library's quirks are kept:
//!
//! * Names are matched ASCII case-insensitively (plus `Ñ`/`ñ`), but only an
//!   exact, lower-case name is converted: `:SMILE:` is matched and left as
//!   is, and its closing colon cannot open another name (`:SMILE:smile:` is
//!   unchanged).
//! * Alternate names convert like their primary name (`:thumbup:`, `:+1:` and
//!   `:thumbsup:` all give 👍).
//! * `<object …>…</object>` and `<span …>…</span>` (closing tag on the same
//!   line) and the opening tags `<object`, `<embed`, `<svg`, `<img`, `<div`,
//!   `<span`, `<p…`, `<a…` up to the next `>` are skipped untouched.
//!
//! The table in `table.rs` is generated from the real library by
//! `tools/emoji-table` (at the root of the rcpush repository), which also
//! writes the fixture this crate is tested against
//! (`tests/fixtures/shortname_to_unicode.json`). The conversion runs in
//! linear time: each "next occurrence" search only ever moves forward.

#![forbid(unsafe_code)]

use std::borrow::Cow;

mod table;

use table::{MAX_SHORTNAME_LEN, SHORTNAMES};

/// Converts emoji shortnames to Unicode the way Rocket.Chat does for push
/// notification text. Returns the input borrowed when nothing changes.
///
/// ```
/// use std::borrow::Cow;
/// use emoji::shortname_to_unicode;
///
/// assert_eq!(shortname_to_unicode("hello :smile: world"), "hello 😄 world");
/// // Alternate names, as the library has them.
/// assert_eq!(shortname_to_unicode(":thumbup: :+1:"), "👍 👍");
/// // Upper case, emoticons, unknown (custom) names and tags stay as they are.
/// assert_eq!(shortname_to_unicode(":SMILE: :) :party_parrot:"), ":SMILE: :) :party_parrot:");
/// assert_eq!(shortname_to_unicode("<img alt=':smile:'>"), "<img alt=':smile:'>");
/// // Nothing to convert: no allocation.
/// assert!(matches!(shortname_to_unicode("10:30"), Cow::Borrowed("10:30")));
/// ```
pub fn shortname_to_unicode(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    if !bytes.contains(&b':') {
        return Cow::Borrowed(text);
    }
    let mut tags = TagSkipper::new(bytes);
    let mut output = Output::new(text);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => {
                if let Some(end) = tags.skip(i) {
                    i = end;
                    continue;
                }
            }
            b':' => {
                // Names contain no ':', so the only candidate ends at the next one.
                let Some(close) = find_byte(bytes, i + 1, b':') else {
                    break;
                };
                match lookup_shortname(&bytes[i..=close]) {
                    Some(Shortname::Convert(with)) => {
                        output.replace(i, close + 1, with);
                        i = close + 1;
                        continue;
                    }
                    Some(Shortname::Keep) => {
                        i = close + 1;
                        continue;
                    }
                    None => {}
                }
            }
            _ => {}
        }
        // Every match starts at an ASCII byte, so stepping bytes is safe.
        i += 1;
    }
    output.finish().map_or(Cow::Borrowed(text), Cow::Owned)
}

/// Collects the output lazily: nothing is allocated until a replacement.
struct Output<'a> {
    text: &'a str,
    out: Option<String>,
    copied: usize,
}

impl<'a> Output<'a> {
    fn new(text: &'a str) -> Self {
        Output {
            text,
            out: None,
            copied: 0,
        }
    }

    /// Replaces `text[start..end]` with `with`.
    fn replace(&mut self, start: usize, end: usize, with: &str) {
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(self.text.len() + 16));
        out.push_str(&self.text[self.copied..start]);
        out.push_str(with);
        self.copied = end;
    }

    fn finish(self) -> Option<String> {
        self.out.map(|mut out| {
            out.push_str(&self.text[self.copied..]);
            out
        })
    }
}

/// What a `:name:` candidate is to the library.
enum Shortname {
    /// A name in the table: replaced by this text.
    Convert(&'static str),
    /// A table name in another case: matched, so consumed, but left unchanged.
    Keep,
}

fn lookup_shortname(candidate: &[u8]) -> Option<Shortname> {
    if candidate.len() < 3 || candidate.len() > MAX_SHORTNAME_LEN {
        return None;
    }
    let mut buf = [0u8; MAX_SHORTNAME_LEN];
    let folded = &mut buf[..candidate.len()];
    folded.copy_from_slice(candidate);
    fold_case(folded);
    let folded = &*folded;
    let i = SHORTNAMES
        .binary_search_by(|(name, _)| name.as_bytes().cmp(folded))
        .ok()?;
    Some(if folded == candidate {
        Shortname::Convert(SHORTNAMES[i].1)
    } else {
        Shortname::Keep
    })
}

/// Lower-cases `bytes` (UTF-8) as far as the library's case-insensitive
/// matching (the `i` flag without `u`) can tell the table's names apart:
/// ASCII letters, and `Ñ` (C3 91) to `ñ` (C3 B1). The generator checks that no
/// other character of a name has another case. Byte lengths are unchanged.
fn fold_case(bytes: &mut [u8]) {
    bytes.make_ascii_lowercase();
    let mut prev = 0;
    for b in bytes.iter_mut() {
        // 0xC3 is always a lead byte, so the byte after it is its continuation.
        if prev == 0xC3 && *b == 0x91 {
            *b = 0xB1;
        }
        prev = *b;
    }
}

fn find_byte(bytes: &[u8], from: usize, byte: u8) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .position(|&b| b == byte)
        .map(|i| i + from)
}

/// Tags the library skips: `<object[^>]*>.*?</object>`,
/// `<span[^>]*>.*?</span>` and `<(object|embed|svg|img|div|span|p|a)[^>]*>`,
/// case-insensitive, where `.` excludes line terminators.
struct TagSkipper<'a> {
    bytes: &'a [u8],
    gt: Cached,
    line_end: Cached,
    close_object: Cached,
    close_span: Cached,
}

const TAG_NAMES: [&[u8]; 8] = [
    b"object", b"embed", b"svg", b"img", b"div", b"span", b"p", b"a",
];

impl<'a> TagSkipper<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        TagSkipper {
            bytes,
            gt: Cached::default(),
            line_end: Cached::default(),
            close_object: Cached::default(),
            close_span: Cached::default(),
        }
    }

    /// `bytes[i]` is `<`: the end of the skipped tag, if one starts here.
    /// Positions asked for only grow from call to call, which keeps the cached
    /// searches linear overall.
    fn skip(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let name = &bytes[i + 1..];
        if !TAG_NAMES.iter().any(|t| starts_with_ignore_case(name, t)) {
            return None;
        }
        // Every alternative needs a '>' after the tag name, and tag names
        // contain none, so the first '>' after '<' is the one.
        let gt = self
            .gt
            .next(bytes, i + 1, |h| h.iter().position(|&b| b == b'>'))?;
        let paired = if starts_with_ignore_case(name, b"object") {
            Some((&mut self.close_object, b"</object>".as_slice()))
        } else if starts_with_ignore_case(name, b"span") {
            Some((&mut self.close_span, b"</span>".as_slice()))
        } else {
            None
        };
        if let Some((cache, close)) = paired {
            let content = gt + 1;
            if let Some(end) = cache.next(bytes, content, |h| find_ignore_case(h, close)) {
                let line_end = self.line_end.next(bytes, content, find_line_terminator);
                if line_end.is_none_or(|l| l >= end) {
                    return Some(end + close.len());
                }
            }
        }
        Some(gt + 1)
    }
}

/// A forward-only "next occurrence at or after" cache.
#[derive(Default)]
struct Cached {
    /// `(from, found)` of the last search.
    last: Option<(usize, Option<usize>)>,
}

impl Cached {
    fn next(
        &mut self,
        bytes: &[u8],
        from: usize,
        search: impl Fn(&[u8]) -> Option<usize>,
    ) -> Option<usize> {
        if let Some((start, found)) = self.last {
            if start <= from && found.is_none_or(|f| f >= from) {
                return found;
            }
        }
        let found = bytes.get(from..).and_then(search).map(|i| i + from);
        self.last = Some((from, found));
        found
    }
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// `\n`, `\r`, U+2028 or U+2029.
fn find_line_terminator(hay: &[u8]) -> Option<usize> {
    hay.iter().enumerate().find_map(|(i, &b)| match b {
        b'\n' | b'\r' => Some(i),
        0xE2 if matches!(hay.get(i + 1..i + 3), Some([0x80, 0xA8 | 0xA9])) => Some(i),
        _ => None,
    })
}

/// The examples of README.md run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(s: &str) -> String {
        shortname_to_unicode(s).into_owned()
    }

    #[test]
    fn table_is_sorted_unique_and_folded() {
        assert!(SHORTNAMES.windows(2).all(|w| w[0].0 < w[1].0));
        for (name, with) in SHORTNAMES {
            assert!(name.len() > 2 && name.len() <= MAX_SHORTNAME_LEN, "{name}");
            assert!(name.starts_with(':') && name.ends_with(':'), "{name}");
            assert!(!name[1..name.len() - 1].contains([':', '<']), "{name}");
            let mut folded = name.as_bytes().to_vec();
            fold_case(&mut folded);
            assert_eq!(folded, name.as_bytes(), "{name} is not in folded case");
            assert!(!with.is_empty() && !with.contains(':'), "{name}");
        }
    }

    #[test]
    fn converts_shortnames_and_alternates() {
        assert_eq!(conv(":smile:"), "😄");
        assert_eq!(conv("hello :smile: world"), "hello 😄 world");
        assert_eq!(conv(":smile::wink:"), "😄😉");
        assert_eq!(conv(":thumbsup: :+1: :thumbup:"), "👍 👍 👍");
        assert_eq!(conv(":tm:"), "\u{2122}\u{fe0f}");
        assert_eq!(conv(":piñata:"), "🪅");
        assert_eq!(conv("10:30 :rocket:"), "10:30 🚀");
    }

    #[test]
    fn case_quirks() {
        assert_eq!(conv(":SMILE:"), ":SMILE:");
        assert_eq!(conv(":SMILE:smile:"), ":SMILE:smile:");
        assert_eq!(conv(":PIÑATA:piñata:"), ":PIÑATA:piñata:");
        assert_eq!(conv(":nope:smile:"), ":nope😄");
        assert_eq!(conv(":smile:smile:"), "😄smile:");
        // Non-ASCII characters never match ASCII letters.
        assert_eq!(conv(":ſmile:smile:"), ":ſmile😄");
        assert_eq!(conv(":\u{212a}iss:kiss:"), ":\u{212a}iss💋");
    }

    #[test]
    fn leaves_emoticons_custom_emoji_times_and_urls() {
        for text in [
            ":)",
            "hi :) there <3",
            ":D :P ;)",
            "</3",
            ":my_custom_emoji:",
            "10:30:45",
            "http://example.com:8080/a:b",
        ] {
            assert_eq!(conv(text), text);
        }
    }

    #[test]
    fn skips_tags() {
        assert_eq!(
            conv("<span>:smile:</span> :smile:"),
            "<span>:smile:</span> 😄"
        );
        assert_eq!(conv("<SPAN>:smile:</sPaN>"), "<SPAN>:smile:</sPaN>");
        assert_eq!(conv("<span>\n:smile:</span>"), "<span>\n😄</span>");
        assert_eq!(conv("<p :smile:>"), "<p :smile:>");
        assert_eq!(conv("<pre :smile:>"), "<pre :smile:>");
        assert_eq!(conv("<b :smile:>"), "<b 😄>");
        assert_eq!(conv("<span :smile:"), "<span 😄");
        assert_eq!(conv("<object>:smile:</object>"), "<object>:smile:</object>");
    }

    #[test]
    fn borrows_when_unchanged() {
        assert!(matches!(shortname_to_unicode(""), Cow::Borrowed("")));
        assert!(matches!(
            shortname_to_unicode("a:bx:c 10:30"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(shortname_to_unicode(":SMILE:"), Cow::Borrowed(_)));
        assert!(matches!(shortname_to_unicode(":)"), Cow::Borrowed(_)));
    }

    #[test]
    fn long_adversarial_inputs_finish() {
        let n = 200_000;
        for unit in [
            "<span",
            "<object>",
            "<p",
            ":a",
            ": ",
            "<span>a",
            "::",
            ":SMILE",
            "<span>:x:\n",
        ] {
            let s = unit.repeat(n / unit.len());
            let _ = shortname_to_unicode(&s);
        }
    }

    #[test]
    fn fixture_from_the_real_library() {
        let raw = include_str!("../tests/fixtures/shortname_to_unicode.json");
        let fixture: serde_json::Value = serde_json::from_str(raw).expect("fixture is JSON");
        let cases = fixture["cases"].as_array().expect("cases array");
        assert!(cases.len() >= 2000);
        let mut failures = Vec::new();
        for case in cases {
            let input = case[0].as_str().expect("input");
            let expected = case[1].as_str().expect("expected");
            let got = shortname_to_unicode(input);
            if got != expected {
                failures.push(format!("{input:?}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases differ:\n{}",
            failures.len(),
            cases.len(),
            failures[..failures.len().min(30)].join("\n")
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = shortname_to_unicode(&s);
        }

        #[test]
        fn never_panics_on_emoji_syntax(
            s in "([:<>/ \n\r\u{2028}a-zA-Z_+Ññſ-]|smile|span|object|SMILE|piñata|😀|é){0,40}"
        ) {
            let _ = shortname_to_unicode(&s);
        }

        #[test]
        fn identity_without_colon(s in "[^:]*") {
            let out = shortname_to_unicode(&s);
            proptest::prop_assert!(matches!(out, Cow::Borrowed(_)));
            proptest::prop_assert_eq!(out, s.as_str());
        }

        #[test]
        fn converts_every_name_outside_tags(
            before in "[^:<]{0,8}",
            (name, with) in proptest::sample::select(SHORTNAMES),
            after in "[^:<]{0,8}",
        ) {
            let text = format!("{before}{name}{after}");
            proptest::prop_assert_eq!(
                shortname_to_unicode(&text),
                format!("{before}{with}{after}")
            );
        }
    }
}
