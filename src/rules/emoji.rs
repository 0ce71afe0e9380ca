//! Emoji shortname → Unicode conversion of push notification text.
//!
//! Rocket.Chat 7.x builds the notification text with
//! `callbacks.run('beforeSendMessageNotifications', message.msg)`, whose only
//! callback is `shortnameToUnicode` of the npm package `emojione` 4.5.0
//! (`apps/meteor/app/emoji-emojione/server/callbacks.ts`). The server start-up
//! (`app/emoji-emojione/server/lib.ts` and `lib/getEmojiConfig.ts`) changes the
//! library object first: it adds 15 shortnames (`:tm:`, `:copyright:`,
//! `:digit_zero:` …) and, because reading the `convertAsciiEmoji` preference
//! through `Meteor.userId()` throws outside a method call, it turns the
//! library's ASCII emoticon conversion on. This module reproduces the result
//! of that configured function, quirks included:
//!
//! * Matching is ASCII case-insensitive, but only an exact-case list key is
//!   converted: `:SMILE:` is matched, left as is, and its closing colon cannot
//!   open another shortname (`:SMILE:smile:` is unchanged).
//! * Alternate shortnames (`:+1:`, `:thumbup:` …) are matched the same way and
//!   also left unchanged; only primary names convert (`:thumbsup:` → 👍).
//! * `<object …>…</object>` and `<span …>…</span>` (closing tag on the same
//!   line) and the opening tags `<object`, `<embed`, `<svg`, `<img`, `<div`,
//!   `<span`, `<p…`, `<a…` up to the next `>` are skipped untouched.
//! * A second pass converts ASCII emoticons (`:)` → 🙂) that start the text or
//!   follow a whitespace character and are followed by whitespace, the end, or
//!   one of `!,.?`; the same tags are skipped, the first matching emoticon in the
//!   library's order wins, and only an exact-case match converts.
//!
//! The tables in `emoji_table.rs` are generated from the real library by
//! `tools/emoji-table`, which also writes the fixture this module is tested
//! against. Both passes run in linear time: each "next occurrence" search is
//! cached and only ever moves forward.

use std::borrow::Cow;

use super::emoji_table::{ALTERNATES, ASCII, MAX_SHORTNAME_LEN, SHORTNAMES};

/// Converts emoji shortnames (and ASCII emoticons) the way Rocket.Chat 7.x
/// does for push notification text. Returns the input borrowed when nothing
/// changes.
pub fn shortname_to_unicode(text: &str) -> Cow<'_, str> {
    match replace_shortnames(text) {
        None => replace_ascii(text).map_or(Cow::Borrowed(text), Cow::Owned),
        Some(converted) => Cow::Owned(replace_ascii(&converted).unwrap_or(converted)),
    }
}

/// The shortname pass alone: the library as configured by Rocket.Chat but with
/// ASCII emoticon conversion off (the library's own default).
pub fn shortname_to_unicode_without_ascii(text: &str) -> Cow<'_, str> {
    replace_shortnames(text).map_or(Cow::Borrowed(text), Cow::Owned)
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
    /// A list key: replaced by this text.
    Convert(&'static str),
    /// Matched case-insensitively (an alternate, or a key in another case):
    /// consumed and left unchanged.
    Keep,
}

fn lookup_shortname(candidate: &[u8]) -> Option<Shortname> {
    // Table names are lower-case ASCII `:[a-z0-9_+-]+:`.
    if candidate.len() < 3 || candidate.len() > MAX_SHORTNAME_LEN {
        return None;
    }
    let find = |name: &[u8]| SHORTNAMES.binary_search_by(|(key, _)| key.as_bytes().cmp(name));
    if let Ok(i) = find(candidate) {
        return Some(Shortname::Convert(SHORTNAMES[i].1));
    }
    let mut buf = [0u8; MAX_SHORTNAME_LEN];
    let lower = &mut buf[..candidate.len()];
    lower.copy_from_slice(candidate);
    lower.make_ascii_lowercase();
    let lower = &*lower;
    let known = (lower != candidate && find(lower).is_ok())
        || ALTERNATES
            .binary_search_by(|name| name.as_bytes().cmp(lower))
            .is_ok();
    known.then_some(Shortname::Keep)
}

fn replace_shortnames(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    if !bytes.contains(&b':') {
        return None;
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
    output.finish()
}

fn replace_ascii(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut tags = TagSkipper::new(bytes);
    let mut output = Output::new(text);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'<' {
            if let Some(end) = tags.skip(i) {
                i = end;
                continue;
            }
        }
        let Some(ch) = text[i..].chars().next() else {
            break;
        };
        // `(\s|^)`: emoticons never start with whitespace, so after a
        // whitespace character only the position behind it can match.
        let at = if is_js_whitespace(ch) {
            Some(i + ch.len_utf8())
        } else if i == 0 {
            Some(0)
        } else {
            None
        };
        let matched = at.and_then(|at| match_emoticon(text, at).map(|end| (at, end)));
        if let Some((start, end)) = matched {
            if let Some(with) = ascii_replacement(&text[start..end]) {
                output.replace(start, end, with);
            }
            i = end;
            continue;
        }
        i += ch.len_utf8();
    }
    output.finish()
}

/// The end of the first emoticon (in the library's order) that matches at
/// `at` case-insensitively and is followed by whitespace, the end of the text
/// or one of `!,.?`.
fn match_emoticon(text: &str, at: usize) -> Option<usize> {
    let rest = &text[at..];
    let head = rest.as_bytes().get(..2)?;
    if !head[0].is_ascii() || !EMOTICON_FIRST_BYTES[head[0].to_ascii_uppercase() as usize] {
        return None;
    }
    ASCII.iter().find_map(|(emoticon, _)| {
        // Cheap byte check first (emoticons are at least two bytes; the
        // non-ASCII 'Þ' and 'þ' share their UTF-8 lead byte).
        if !emoticon.as_bytes()[..2].eq_ignore_ascii_case(head) {
            return None;
        }
        let len = prefix_len_ignore_case(rest, emoticon)?;
        let followed_ok = rest[len..]
            .chars()
            .next()
            .is_none_or(|c| is_js_whitespace(c) || matches!(c, '!' | ',' | '.' | '?'));
        followed_ok.then_some(at + len)
    })
}

/// Upper-cased first bytes of the emoticons, to reject most positions early.
const EMOTICON_FIRST_BYTES: [bool; 128] = {
    let mut table = [false; 128];
    let mut i = 0;
    while i < ASCII.len() {
        let first = ASCII[i].0.as_bytes()[0];
        assert!(first.is_ascii(), "emoticons start with an ASCII character");
        table[first.to_ascii_uppercase() as usize] = true;
        i += 1;
    }
    table
};

/// Only an exact-case emoticon is converted.
fn ascii_replacement(matched: &str) -> Option<&'static str> {
    ASCII
        .iter()
        .find(|(emoticon, _)| *emoticon == matched)
        .map(|(_, with)| *with)
}

/// Byte length of the prefix of `text` equal to `pattern` under JavaScript's
/// non-Unicode `i` flag (upper-case folding that never maps a non-ASCII
/// character to an ASCII one).
fn prefix_len_ignore_case(text: &str, pattern: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    for p in pattern.chars() {
        let (_, t) = chars.next()?;
        if fold(t) != fold(p) {
            return None;
        }
    }
    Some(chars.next().map_or(text.len(), |(i, _)| i))
}

/// Case folding for the characters the emoticon table uses: ASCII letters and
/// `Þ`. No other non-ASCII character folds to one of those.
fn fold(c: char) -> char {
    match c {
        'þ' => 'Þ',
        _ => c.to_ascii_uppercase(),
    }
}

/// JavaScript's `\s`: WhiteSpace and LineTerminator.
fn is_js_whitespace(c: char) -> bool {
    matches!(c, '\t'..='\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}')
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(s: &str) -> String {
        shortname_to_unicode(s).into_owned()
    }

    #[test]
    fn tables_are_sorted_unique_and_consistent() {
        assert!(SHORTNAMES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(ALTERNATES.windows(2).all(|w| w[0] < w[1]));
        for (name, with) in SHORTNAMES {
            assert!(name.starts_with(':') && name.ends_with(':') && name.len() > 2);
            assert!(name.len() <= MAX_SHORTNAME_LEN);
            assert!(!name[1..name.len() - 1].contains(':'));
            assert!(!name.bytes().any(|b| b.is_ascii_uppercase()));
            assert!(!with.is_empty());
        }
        for name in ALTERNATES {
            assert!(name.len() <= MAX_SHORTNAME_LEN);
            assert!(SHORTNAMES.binary_search_by(|(n, _)| n.cmp(name)).is_err());
        }
        for (emoticon, _) in ASCII {
            assert!(emoticon.len() >= 2);
            assert!(!emoticon.starts_with(is_js_whitespace));
            assert!(emoticon.chars().all(|c| c.is_ascii() || c == 'Þ'));
        }
    }

    #[test]
    fn converts_primary_shortnames() {
        assert_eq!(conv(":smile:"), "😄");
        assert_eq!(conv("hello :smile: world"), "hello 😄 world");
        assert_eq!(conv(":smile::wink:"), "😄😉");
        assert_eq!(conv(":thumbsup:"), "👍");
        assert_eq!(conv("10:30 :rocket:"), "10:30 🚀");
    }

    #[test]
    fn rocket_chat_additions() {
        assert_eq!(conv(":tm:"), "\u{2122}\u{fe0f}");
        assert_eq!(conv(":digit_one:"), "1\u{fe0f}");
        // Rocket.Chat's entry carries 00a9-f0ef.
        assert_eq!(conv(":copyright:"), "\u{a9}\u{f0ef}");
    }

    #[test]
    fn case_and_alternate_quirks() {
        assert_eq!(conv(":SMILE:"), ":SMILE:");
        assert_eq!(conv(":SMILE:smile:"), ":SMILE:smile:");
        assert_eq!(conv(":+1:"), ":+1:");
        assert_eq!(conv(":+1:smile:"), ":+1:smile:");
        assert_eq!(conv(":nope:smile:"), ":nope😄");
        assert_eq!(conv(":smile:smile:"), "😄smile:");
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
        assert_eq!(conv("<b :smile:>"), "<b 😄>");
        assert_eq!(conv("<span :smile:"), "<span 😄");
        assert_eq!(conv("<object>:smile:</object>"), "<object>:smile:</object>");
    }

    #[test]
    fn ascii_emoticons() {
        assert_eq!(conv(":)"), "🙂");
        assert_eq!(conv("hi :) there!"), "hi 🙂 there!");
        assert_eq!(conv(":):)"), ":):)");
        assert_eq!(conv("x:)"), "x:)");
        assert_eq!(conv(":) :)"), "🙂 🙂");
        assert_eq!(conv(":d"), ":d");
        assert_eq!(conv("<3"), "❤");
        assert_eq!(conv(":Þ"), "😛");
        assert_eq!(conv(":þ"), ":þ");
        assert_eq!(conv("<p :) > :)"), "<p :) > 🙂");
        assert_eq!(shortname_to_unicode_without_ascii(":) :smile:"), ":) 😄");
    }

    #[test]
    fn borrows_when_unchanged() {
        assert!(matches!(shortname_to_unicode(""), Cow::Borrowed("")));
        assert!(matches!(
            shortname_to_unicode("a:bx:c 10:30"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(shortname_to_unicode(":SMILE:"), Cow::Borrowed(_)));
    }

    #[test]
    fn long_adversarial_inputs_finish() {
        let n = 200_000;
        for unit in [
            "<span", "<object>", "<p", ":a", ": ", "<span>a", " :-", "::",
        ] {
            let s = unit.repeat(n / unit.len());
            let _ = shortname_to_unicode(&s);
        }
    }

    #[test]
    fn fixture_from_the_real_library() {
        let raw = include_str!("../../tests/fixtures/emoji_shortname_to_unicode.json");
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

    fn contains_emoticon(text: &str) -> bool {
        (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .any(|i| {
                ASCII
                    .iter()
                    .any(|(e, _)| prefix_len_ignore_case(&text[i..], e).is_some())
            })
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = shortname_to_unicode(&s);
        }

        #[test]
        fn never_panics_on_emoji_syntax(s in "([:<>/ \n\u{2028}\u{a0}()DPpþÞ3-]|smile|span|object|SMILE|\\+1|😀|é){0,40}") {
            let _ = shortname_to_unicode(&s);
            let _ = shortname_to_unicode_without_ascii(&s);
        }

        #[test]
        fn identity_without_colon(s in "[^:]*") {
            proptest::prop_assert_eq!(shortname_to_unicode_without_ascii(&s), s.as_str());
            if !contains_emoticon(&s) {
                proptest::prop_assert_eq!(shortname_to_unicode(&s), s.as_str());
            }
        }
    }
}
