//! The text of a push notification, built exactly as Rocket.Chat 7.x builds it for `push.get`
//! (rocketchat-push.md §2.1 steps 2–4, §2.4 and §2.5).
//!
//! Everything here is pure. JavaScript semantics are reproduced by hand where they matter: strings
//! are UTF-16 for hashing, `String.prototype.replace` expands `$` patterns, and the markdown filter
//! follows the backtracking results of the original regular expressions with linear scanners.

use std::borrow::Cow;

use serde_json::Value;

use emoji::shortname_to_unicode;
use message_parser::is_js_space;

/// English `You_have_a_new_message` (packages/i18n/src/locales/en.i18n.json).
pub const YOU_HAVE_A_NEW_MESSAGE: &str = "You have a new message";
/// English `User_uploaded_image`.
const USER_UPLOADED_IMAGE: &str = "Uploaded an image";
/// English `User_uploaded_file`.
const USER_UPLOADED_FILE: &str = "Uploaded a file";
/// English `Encrypted_message`.
const ENCRYPTED_MESSAGE: &str = "Encrypted message";

/// The `hash` of PushNotification.ts: `h = (h << 5) - h + unit` over the UTF-16 code units from
/// the last to the first, wrapping to a signed 32-bit integer at every step.
pub fn js_hash(s: &str) -> i32 {
    hash_units(utf16_backwards(s))
}

/// `notId`: the hash of `${uniqueID}|${rid}` (PushNotification.ts `getNotificationId`), computed
/// without building the joined string.
pub fn not_id(unique_id: &str, rid: &str) -> i32 {
    let joined_backwards = utf16_backwards(rid)
        .chain(std::iter::once(u16::from(b'|')))
        .chain(utf16_backwards(unique_id));
    hash_units(joined_backwards)
}

/// The UTF-16 code units of `s`, last first (`encode_utf16` cannot run backwards).
fn utf16_backwards(s: &str) -> impl Iterator<Item = u16> + '_ {
    s.chars().rev().flat_map(|c| {
        let mut units = [0u16; 2];
        let len = c.encode_utf16(&mut units).len();
        units.into_iter().take(len).rev()
    })
}

fn hash_units(units: impl Iterator<Item = u16>) -> i32 {
    units.fold(0i32, |h, unit| {
        h.wrapping_shl(5)
            .wrapping_sub(h)
            .wrapping_add(i32::from(unit))
    })
}

/// One entry of a message's `mentions` array, as `replaceMentionedUsernamesWithFullNames` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mention<'a> {
    /// `None` when the stored mention has no `username` (team mentions): JavaScript then searches
    /// for the literal text `@undefined`.
    pub username: Option<&'a str>,
    /// Only a non-empty name replaces anything (`all` and `here` carry none).
    pub name: Option<&'a str>,
}

/// `replaceMentionedUsernamesWithFullNames` (apps/meteor/app/lib/server/functions/notifications/
/// index.ts): in mention order, every `@username` (literal, global, no word boundary) becomes the
/// mention's name. The name is a JavaScript replacement string, so `$&`, `` $` ``, `$'` and `$$`
/// in it are expanded; `$1` and `$<` stay literal because the pattern has no groups.
///
/// `` $` `` and `$'` can make the text grow multiplicatively with hostile names; Rocket.Chat
/// would exhaust its memory, rcpush stops replacing once the text would pass
/// `MAX_REPLACED_LEN` and keeps the text as it was before that mention.
pub fn replace_mentioned_usernames(msg: &str, mentions: &[Mention<'_>]) -> String {
    let mut text = msg.to_owned();
    for mention in mentions {
        let Some(name) = mention.name.filter(|name| !name.is_empty()) else {
            continue;
        };
        let needle = format!("@{}", mention.username.unwrap_or("undefined"));
        if !text.contains(&needle) {
            continue;
        }
        let mut replaced = String::with_capacity(text.len());
        let mut copied = 0;
        for (start, found) in text.match_indices(&needle) {
            replaced.push_str(&text[copied..start]);
            expand_js_replacement(&mut replaced, name, &text, start, start + found.len());
            copied = start + found.len();
            if replaced.len() > MAX_REPLACED_LEN {
                return text;
            }
        }
        replaced.push_str(&text[copied..]);
        text = replaced;
    }
    text
}

/// The longest text mention replacement may produce (1 MiB).
const MAX_REPLACED_LEN: usize = 1 << 20;

/// ECMAScript `GetSubstitution` for a pattern without capture groups.
fn expand_js_replacement(
    out: &mut String,
    template: &str,
    subject: &str,
    start: usize,
    end: usize,
) {
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        if out.len() > MAX_REPLACED_LEN {
            return;
        }
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let expansion = match after.as_bytes().first() {
            Some(b'$') => Some("$"),
            Some(b'&') => Some(&subject[start..end]),
            Some(b'`') => Some(&subject[..start]),
            Some(b'\'') => Some(&subject[end..]),
            _ => None,
        };
        match expansion {
            Some(expansion) => {
                out.push_str(expansion);
                rest = &after[1..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

/// What `parseMessageTextPerUser` learns from `message.attachments[0]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FirstAttachment {
    /// `type === 'file'` (core-typings `isFileAttachment`).
    pub is_file: bool,
    /// The `image_url` key exists, whatever its value (`isFileImageAttachment` uses `in`).
    pub has_image_url: bool,
    /// `image_type` is truthy in JavaScript's sense.
    pub has_image_type: bool,
}

impl FirstAttachment {
    /// Reads the facts from the stored first attachment. `None` for JavaScript-falsy values and
    /// for non-objects, which Rocket.Chat never stores there.
    pub fn from_json(attachment: &Value) -> Option<Self> {
        let fields = attachment.as_object()?;
        Some(Self {
            is_file: fields.get("type").and_then(Value::as_str) == Some("file"),
            has_image_url: fields.contains_key("image_url"),
            has_image_type: fields.get("image_type").is_some_and(js_truthy),
        })
    }
}

/// JavaScript truthiness of a JSON value.
pub fn js_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Steps 2–4 of `getNotificationForMessageId` (PushNotification.ts): emoji shortnames to Unicode,
/// or, when real names are on and the message has mentions, the mention replacement applied to
/// the raw `msg` (which drops the emoji conversion, as Rocket.Chat does); then
/// [`parse_message_text_per_user`].
pub fn notification_message(
    msg: &str,
    t: Option<&str>,
    first_attachment: Option<FirstAttachment>,
    mentions: &[Mention<'_>],
    ui_use_real_name: bool,
) -> String {
    let text = if ui_use_real_name && !mentions.is_empty() {
        Cow::Owned(replace_mentioned_usernames(msg, mentions))
    } else {
        shortname_to_unicode(msg)
    };
    parse_message_text_per_user(&text, msg, t, first_attachment)
}

/// `parseMessageTextPerUser` (notifications/index.ts, TypeScript version) with English strings:
/// an image-file upload without text, then an end-to-end message with ciphertext, else the
/// markdown filter applied to `text` (the output of the earlier steps; `msg` is the raw message).
pub fn parse_message_text_per_user(
    text: &str,
    msg: &str,
    t: Option<&str>,
    first_attachment: Option<FirstAttachment>,
) -> String {
    if let Some(attachment) =
        first_attachment.filter(|a| msg.is_empty() && a.is_file && a.has_image_url)
    {
        let upload = if attachment.has_image_type {
            USER_UPLOADED_IMAGE
        } else {
            USER_UPLOADED_FILE
        };
        return upload.to_owned();
    }
    if !msg.is_empty() && t == Some("e2e") {
        return ENCRYPTED_MESSAGE.to_owned();
    }
    filter_markdown(text)
}

/// The `renderNotification` callback: `filtered` from
/// apps/meteor/app/markdown/lib/parser/filtered/filtered.ts with the schemes `http|https`, its ten
/// replacements applied in order. Every rule only deletes characters, so the output is always a
/// subsequence of the input.
pub fn filter_markdown(s: &str) -> String {
    const PASSES: [fn(&str) -> Option<String>; 10] = [
        strip_code_fences,
        strip_inline_code,
        strip_links,
        strip_slack_links,
        strip_headings,
        |s| strip_emphasis(s, b'*', b" >_~`", b"<_~`"),
        |s| strip_emphasis(s, b'_', b" >*~`", b"<*~`"),
        |s| strip_emphasis(s, b'~', b" >_*`", b"<_*`"),
        strip_block_quotes,
        strip_line_quotes,
    ];
    let mut text = Cow::Borrowed(s);
    for pass in PASSES {
        if let Some(changed) = pass(&text) {
            text = Cow::Owned(changed);
        }
    }
    text.into_owned()
}

/// Builds the output of one global `replace` pass; `None` from [`Splice::finish`] means the pass
/// matched nothing.
struct Splice<'a> {
    src: &'a str,
    out: String,
    copied: usize,
    changed: bool,
}

impl<'a> Splice<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            src,
            out: String::new(),
            copied: 0,
            changed: false,
        }
    }

    /// Replaces `src[start..end]` (at or after everything handled so far) with `with`.
    fn replace(&mut self, start: usize, end: usize, with: &str) {
        self.out.push_str(&self.src[self.copied..start]);
        self.out.push_str(with);
        self.copied = end;
        self.changed = true;
    }

    fn finish(mut self) -> Option<String> {
        self.changed.then(|| {
            self.out.push_str(&self.src[self.copied..]);
            self.out
        })
    }
}

/// First occurrence of a needle at or after a position, remembered between calls so that a pass
/// asking from ever later positions searches each byte once.
struct Finder {
    needle: &'static str,
    searched_from: Option<usize>,
    hit: Option<usize>,
}

impl Finder {
    fn new(needle: &'static str) -> Self {
        Self {
            needle,
            searched_from: None,
            hit: None,
        }
    }

    fn find(&mut self, hay: &str, from: usize) -> Option<usize> {
        let reusable = self
            .searched_from
            .is_some_and(|searched| searched <= from && self.hit.is_none_or(|hit| hit >= from));
        if !reusable {
            self.searched_from = Some(from);
            self.hit = hay
                .get(from..)
                .and_then(|tail| tail.find(self.needle))
                .map(|i| i + from);
        }
        self.hit
    }
}

/// JavaScript's LineTerminator: what `.` refuses and what multiline `^`/`$` stop at.
fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// Multiline `^` at byte `i` (a char boundary): the start, or just after a line terminator.
fn at_line_start(s: &str, i: usize) -> bool {
    s[..i].chars().next_back().is_none_or(is_line_terminator)
}

/// Rule 1, /```/g: plain left-to-right removal.
fn strip_code_fences(s: &str) -> Option<String> {
    s.contains("```").then(|| s.replace("```", ""))
}

/// Rule 2, /`([^`\r\n]+)`/gm: a backtick, a non-empty run without backticks or CR/LF, a backtick.
fn strip_inline_code(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut splice = Splice::new(s);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'`' {
            let inner = i + 1;
            let close = run_end(b, inner, |c| matches!(c, b'`' | b'\r' | b'\n'));
            if close > inner && b.get(close) == Some(&b'`') {
                splice.replace(i, close + 1, &s[inner..close]);
                i = close + 1;
                continue;
            }
        }
        i += 1;
    }
    splice.finish()
}

/// The first index at or after `from` whose byte satisfies `stop`, or the length.
fn run_end(b: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> usize {
    b[from..]
        .iter()
        .position(|&c| stop(c))
        .map_or(b.len(), |n| from + n)
}

/// Length of `http://` or `https://` at the start of `s` (`(?:http|https):\/\/`, case-sensitive).
fn scheme_len(s: &str) -> Option<usize> {
    if s.starts_with("http://") {
        Some(7)
    } else if s.starts_with("https://") {
        Some(8)
    } else {
        None
    }
}

/// Tries `link_at` at every byte of `s`, left to right. Where it finds a match it gives
/// `(kept, kept_end, end)`: the match `i..end` becomes `s[kept..kept_end]` and the search
/// goes on after it.
fn replace_links(
    s: &str,
    mut link_at: impl FnMut(usize) -> Option<(usize, usize, usize)>,
) -> Option<String> {
    let mut splice = Splice::new(s);
    let mut i = 0;
    while i < s.len() {
        match link_at(i) {
            Some((kept, kept_end, end)) => {
                splice.replace(i, end, &s[kept..kept_end]);
                i = end;
            }
            None => i += 1,
        }
    }
    splice.finish()
}

/// Rule 3, `!?\[([^\]]+)\]\((?:http|https):\/\/[^\)]+\)`: the title runs to the first `]`, the
/// URL to the first `)`, both non-empty; the match becomes the title.
fn strip_links(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut close_bracket = Finder::new("]");
    let mut close_paren = Finder::new(")");
    replace_links(s, |i| {
        let open = match b[i] {
            b'[' => i,
            b'!' if b.get(i + 1) == Some(&b'[') => i + 1,
            _ => return None,
        };
        let title_end = close_bracket
            .find(s, open + 1)
            .filter(|&end| end > open + 1)?;
        let target = title_end + 2;
        if !s[title_end..].starts_with("](") {
            return None;
        }
        let url = target + scheme_len(&s[target..])?;
        let url_end = close_paren.find(s, url).filter(|&end| end > url)?;
        Some((open + 1, title_end, url_end + 1))
    })
}

/// Rule 4, `(?:<|&lt;)(?:http|https):\/\/[^\|]+\|(.+?)(?=>|&gt;)(?:>|&gt;)`: the URL runs to the
/// first `|`; the text is the shortest non-empty run on one line that is followed by `>` or
/// `&gt;`; the match becomes the text.
fn strip_slack_links(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut pipe = Finder::new("|");
    let mut closer = LazyCloser::default();
    replace_links(s, |i| {
        let opener = if b[i] == b'<' {
            1
        } else if b[i..].starts_with(b"&lt;") {
            4
        } else {
            return None;
        };
        let url = i + opener + scheme_len(&s[i + opener..])?;
        let text = pipe.find(s, url).filter(|&bar| bar > url)? + 1;
        let text_end = closer.find(s, text)?;
        let close_len = if b[text_end] == b'>' { 1 } else { 4 };
        Some((text, text_end, text_end + close_len))
    })
}

/// Finds where the lazy `(.+?)(?=>|&gt;)` of rule 4 stops, remembering the last scan so that
/// attempts sharing a text start (or starting inside a scanned stretch) do not rescan it.
#[derive(Default)]
struct LazyCloser {
    /// (scan start, scan end, whether the end is a closer rather than a dead end)
    last: Option<(usize, usize, bool)>,
}

impl LazyCloser {
    fn find(&mut self, s: &str, text: usize) -> Option<usize> {
        if let Some((start, end, found)) = self.last {
            // Every position in (start, end) was seen to be neither a closer nor a line break.
            if start <= text && text < end {
                return found.then_some(end);
            }
        }
        let (end, found) = Self::scan(s, text);
        self.last = Some((text, end, found));
        found.then_some(end)
    }

    fn scan(s: &str, text: usize) -> (usize, bool) {
        let mut chars = s[text..].char_indices();
        match chars.next() {
            Some((_, first)) if !is_line_terminator(first) => {}
            _ => return (text, false),
        }
        for (offset, c) in chars {
            let at = text + offset;
            if c == '>' || s[at..].starts_with("&gt;") {
                return (at, true);
            }
            if is_line_terminator(c) {
                return (at, false);
            }
        }
        (s.len(), false)
    }
}

/// Rule 5, `(^#{1,4}) ((X W?)+)` with X any non-space and W one of the spaces listed in
/// filtered.ts: the hashes and one space go, and the scan resumes after the heading text, which
/// may run past U+2028/U+2029.
fn strip_headings(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut splice = Splice::new(s);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'#' && at_line_start(s, i) {
            let hashes = run_end(b, i, |c| c != b'#') - i;
            if hashes <= 4 && b.get(i + hashes) == Some(&b' ') {
                let body = i + hashes + 1;
                if let Some(end) = heading_text_end(s, body) {
                    splice.replace(i, body, "");
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    splice.finish()
}

/// End of the greedy `([\S…][ \u00a0…\ufeff]?)+` starting at `from`, if it matches at all.
fn heading_text_end(s: &str, from: usize) -> Option<usize> {
    // `[ \u00a0…\ufeff]`: JavaScript's spaces except the line-breaking controls, plus U+180E.
    let is_joiner = |c: char| {
        c == '\u{180e}' || (is_js_space(c) && !matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r'))
    };
    let mut chars = s[from..].char_indices().peekable();
    let mut end = None;
    while let Some((offset, c)) = chars.next_if(|&(_, c)| !is_js_space(c)) {
        end = Some(from + offset + c.len_utf8());
        if let Some((offset, joiner)) = chars.next_if(|&(_, c)| is_joiner(c)) {
            end = Some(from + offset + joiner.len_utf8());
        }
    }
    end
}

/// Rules 6–8, `(^|>|[before])D{1,2}([^D\r\n]+)D{1,2}([after]|\B|\b|$)` for the delimiter D.
/// The trailing group always matches, so it only decides whether one `after` byte is consumed
/// (and so unavailable as the next match's leading byte). The delimiters are dropped.
fn strip_emphasis(s: &str, delim: u8, before: &[u8], after: &[u8]) -> Option<String> {
    let b = s.as_bytes();
    let mut splice = Splice::new(s);
    let mut i = 0;
    while i < b.len() {
        let open = if b[i] == delim && at_line_start(s, i) {
            Some(i)
        } else if before.contains(&b[i]) {
            Some(i + 1)
        } else {
            None
        };
        if let Some(m) = open.and_then(|open| emphasis_at(b, open, delim, after)) {
            splice.replace(m.open, m.content, "");
            splice.replace(m.content_end, m.close_end, "");
            i = m.end;
        } else {
            i += 1;
        }
    }
    splice.finish()
}

struct Emphasis {
    open: usize,
    content: usize,
    content_end: usize,
    close_end: usize,
    end: usize,
}

fn emphasis_at(b: &[u8], open: usize, delim: u8, after: &[u8]) -> Option<Emphasis> {
    let opening = run_end(b, open, |c| c != delim) - open;
    if !(1..=2).contains(&opening) {
        return None;
    }
    let content = open + opening;
    let content_end = run_end(b, content, |c| c == delim || c == b'\r' || c == b'\n');
    if content_end == content || b.get(content_end) != Some(&delim) {
        return None;
    }
    let closing = if b.get(content_end + 1) == Some(&delim) {
        2
    } else {
        1
    };
    let close_end = content_end + closing;
    let end = close_end + usize::from(b.get(close_end).is_some_and(|c| after.contains(c)));
    Some(Emphasis {
        open,
        content,
        content_end,
        close_end,
        end,
    })
}

/// Rule 9, /(?:>){3}\n+([\s\S]*?)\n+(?:<){3}/g. Backtracking first lets the leading `\n+` take
/// every newline and looks for the earliest newline run followed by `<<<`; failing that, giving
/// one newline back matches an empty body when `<<<` directly follows two or more newlines.
fn strip_block_quotes(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut splice = Splice::new(s);
    let mut closing = Finder::new("\n<<<");
    let mut i = 0;
    while let Some(found) = s.get(i..).and_then(|tail| tail.find(">>>")) {
        let start = i + found;
        let newlines = run_end(b, start + 3, |c| c != b'\n') - (start + 3);
        let body = start + 3 + newlines;
        let quote = if newlines == 0 {
            None
        } else if let Some(last_newline) = closing.find(s, body) {
            let body_end = last_newline
                - b[body..last_newline]
                    .iter()
                    .rev()
                    .take_while(|&&c| c == b'\n')
                    .count();
            Some((body, body_end, last_newline + 4))
        } else if newlines >= 2 && s[body..].starts_with("<<<") {
            Some((body, body, body + 3))
        } else {
            None
        };
        if let Some((body, body_end, end)) = quote {
            splice.replace(start, end, &s[body..body_end]);
            i = end;
        } else {
            i = start + 1;
        }
    }
    splice.finish()
}

/// Rule 10, /^>(.*)$/gm: one `>` at the start of each line goes; the rest of the line stays.
fn strip_line_quotes(s: &str) -> Option<String> {
    let mut splice = Splice::new(s);
    for (i, _) in s.match_indices('>') {
        if at_line_start(s, i) {
            splice.replace(i, i + 1, "");
        }
    }
    splice.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference notId hash: UTF-16 units in a vector, 64-bit arithmetic, explicit wrap.
    fn reference_hash(s: &str) -> i32 {
        let units: Vec<u16> = s.encode_utf16().collect();
        let mut h: i64 = 0;
        let mut i = units.len();
        while i > 0 {
            i -= 1;
            h = h * 31 + i64::from(units[i]);
            h = h.rem_euclid(1 << 32);
            if h >= 1 << 31 {
                h -= 1 << 32;
            }
        }
        i32::try_from(h).unwrap()
    }

    #[test]
    fn js_hash_matches_the_spec_vectors() {
        let vectors = [
            ("", 0),
            ("a", 97),
            ("abc", 98274),
            ("ba", 3105),
            (
                "4fec3c2d-0b4c-4d6d-9a3b-2f1e6f2c9a10|GENERAL",
                -1_605_295_764,
            ),
            ("X7yQ3bPz2kMhT8aLc|iu7jtPAhvEeAS5tNq", -469_732_132),
            ("\u{1F600}|x", 5_511_233),
            ("E8A88JP-rcpush-demo|iu7jtPAhvEeAS5tNq", 654_494_840),
        ];
        for (input, expected) in vectors {
            assert_eq!(js_hash(input), expected, "{input:?}");
        }
        assert_eq!(
            not_id("E8A88JP-rcpush-demo", "iu7jtPAhvEeAS5tNq"),
            654_494_840
        );
        assert_eq!(
            not_id("X7yQ3bPz2kMhT8aLc", "iu7jtPAhvEeAS5tNq"),
            -469_732_132
        );
    }

    #[test]
    fn markdown_filter_matches_the_spec_vectors() {
        let vectors = [
            ("hello *world*", "hello world"),
            (
                "hello **bold** and _it_ and ~strike~",
                "hello bold and it and strike",
            ),
            ("`code` and ```block```", "code and block"),
            ("# Heading here", "Heading here"),
            (
                "[Rocket](https://rocket.chat) and ![img](http://x/y.png)",
                "Rocket and img",
            ),
            ("<https://rocket.chat|Rocket.Chat>", "Rocket.Chat"),
            ("> quoted line", " quoted line"),
            ("a*b*c", "a*b*c"),
            ("snake_case_word", "snake_case_word"),
            ("*multi\nline*", "*multi\nline*"),
            ("[t](ftp://x)", "[t](ftp://x)"),
        ];
        assert_filters(&vectors);
    }

    fn assert_filters(vectors: &[(&str, &str)]) {
        for (input, expected) in vectors {
            assert_eq!(filter_markdown(input), *expected, "{input:?}");
        }
    }

    #[test]
    fn markdown_filter_matches_rocket_chat_on_every_fixture_case() {
        // Generated by tools/markdown-filter-oracle/oracle.mjs with Node running filtered.ts.
        let fixture = include_str!("../../tests/fixtures/markdown_filter.json");
        let cases: Vec<(String, String)> = serde_json::from_str(fixture).unwrap();
        assert!(cases.len() >= 1000, "only {} cases", cases.len());
        let failures: Vec<_> = cases
            .iter()
            .filter(|(input, expected)| filter_markdown(input) != *expected)
            .map(|(input, expected)| {
                format!(
                    "{input:?}: want {expected:?}, got {:?}",
                    filter_markdown(input)
                )
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} mismatches:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn hostile_names_cannot_blow_up_the_text() {
        let name = "$`".repeat(1000);
        let text = "x".repeat(4000) + &" @bob".repeat(200);
        let bob = [Mention {
            username: Some("bob"),
            name: Some(&name),
        }];
        let out = replace_mentioned_usernames(&text, &bob);
        assert!(out.len() <= 2 * MAX_REPLACED_LEN);
        assert_eq!(out, text, "left unreplaced once past the limit");
    }

    #[test]
    fn markdown_filter_follows_regex_backtracking_in_the_corners() {
        let vectors = [
            (">>>\n\n<<<", ""),
            (">>>\n\n<<<\n<<<", "<<<"),
            (">>>\n<<<", ">>\n<<<"),
            ("*a*`*b*", "a`*b*"),
            ("***a***", "***a***"),
            ("# a\u{2028}# b", "a\u{2028}# b"),
            ("# \u{feff}", "# \u{feff}"),
            ("# \u{180e}", "\u{180e}"),
            ("<http://x|>>", ""),
            ("[[a](http://x)", "[a"),
            (">a\u{2028}>b", "a\u{2028}b"),
        ];
        assert_filters(&vectors);
    }

    #[test]
    fn mentions_become_names_with_javascript_replacement_patterns() {
        let bob = |name| {
            [Mention {
                username: Some("bob"),
                name: Some(name),
            }]
        };
        assert_eq!(
            replace_mentioned_usernames("hi @bob and @bobby", &bob("Bob")),
            "hi Bob and Bobby"
        );
        assert_eq!(
            replace_mentioned_usernames("hi @bob and @bobby", &bob("$&|$`|$'|$$|$1|$<x>|$")),
            "hi @bob|hi | and @bobby|$|$1|$<x>|$ and @bob|hi @bob and |by|$|$1|$<x>|$by"
        );
        let literal = [Mention {
            username: Some("a.b"),
            name: Some("Al"),
        }];
        assert_eq!(
            replace_mentioned_usernames("@a.b @axb", &literal),
            "Al @axb"
        );
        let skipped = [
            Mention {
                username: Some("all"),
                name: None,
            },
            Mention {
                username: Some("here"),
                name: Some(""),
            },
        ];
        assert_eq!(
            replace_mentioned_usernames("@all @here", &skipped),
            "@all @here"
        );
        let team = [Mention {
            username: None,
            name: Some("Team"),
        }];
        assert_eq!(replace_mentioned_usernames("x @undefined", &team), "x Team");
        let chained = [
            Mention {
                username: Some("a"),
                name: Some("@b"),
            },
            Mention {
                username: Some("b"),
                name: Some("Bee"),
            },
        ];
        assert_eq!(replace_mentioned_usernames("@a @b", &chained), "Bee Bee");
    }

    #[test]
    fn notification_message_runs_steps_two_to_four() {
        let bob = [Mention {
            username: Some("bob"),
            name: Some("Bob"),
        }];
        assert_eq!(
            notification_message(":smile: *hi*", None, None, &[], false),
            "\u{1F604} hi"
        );
        assert_eq!(
            notification_message(":smile: @bob", None, None, &bob, false),
            "\u{1F604} @bob"
        );
        // Rocket.Chat restarts from the raw msg here, losing the emoji conversion.
        assert_eq!(
            notification_message(":smile: @bob", None, None, &bob, true),
            ":smile: Bob"
        );
        let no_names = [Mention {
            username: Some("all"),
            name: None,
        }];
        assert_eq!(
            notification_message(":smile: @all", None, None, &no_names, true),
            ":smile: @all"
        );
        assert_eq!(
            notification_message(":smile: @bob", None, None, &[], true),
            "\u{1F604} @bob"
        );
    }

    #[test]
    fn per_user_text_covers_uploads_and_encryption() {
        let image = FirstAttachment {
            is_file: true,
            has_image_url: true,
            has_image_type: true,
        };
        let untyped = FirstAttachment {
            has_image_type: false,
            ..image
        };
        let document = FirstAttachment {
            is_file: true,
            has_image_url: false,
            has_image_type: false,
        };
        let quote = FirstAttachment {
            is_file: false,
            ..image
        };
        assert_eq!(
            parse_message_text_per_user("", "", None, Some(image)),
            "Uploaded an image"
        );
        assert_eq!(
            parse_message_text_per_user("", "", None, Some(untyped)),
            "Uploaded a file"
        );
        assert_eq!(
            parse_message_text_per_user("", "", None, Some(document)),
            ""
        );
        assert_eq!(parse_message_text_per_user("", "", None, Some(quote)), "");
        assert_eq!(
            parse_message_text_per_user("*x*", "*x*", None, Some(image)),
            "x"
        );
        assert_eq!(
            parse_message_text_per_user("cipher", "cipher", Some("e2e"), None),
            "Encrypted message"
        );
        assert_eq!(parse_message_text_per_user("", "", Some("e2e"), None), "");
        assert_eq!(
            parse_message_text_per_user("*x*", "*x*", Some("uj"), None),
            "x"
        );
    }

    #[test]
    fn first_attachment_facts_use_javascript_truthiness() {
        let facts = |v: Value| FirstAttachment::from_json(&v);
        assert_eq!(
            facts(
                serde_json::json!({"type": "file", "image_url": null, "image_type": "image/png"})
            ),
            Some(FirstAttachment {
                is_file: true,
                has_image_url: true,
                has_image_type: true
            })
        );
        for falsy in [
            serde_json::json!(""),
            serde_json::json!(0),
            serde_json::json!(null),
            serde_json::json!(false),
        ] {
            let got =
                facts(serde_json::json!({"type": "file", "image_url": "u", "image_type": falsy}));
            assert_eq!(got.map(|a| a.has_image_type), Some(false));
        }
        assert_eq!(
            facts(serde_json::json!({"image_type": 1})).map(|a| (a.is_file, a.has_image_type)),
            Some((false, true))
        );
        assert_eq!(facts(serde_json::json!(null)), None);
    }

    proptest! {
        #[test]
        fn js_hash_equals_the_reference(s in any::<String>()) {
            prop_assert_eq!(js_hash(&s), reference_hash(&s));
        }

        #[test]
        fn not_id_hashes_the_joined_string(unique_id in any::<String>(), rid in any::<String>()) {
            prop_assert_eq!(not_id(&unique_id, &rid), reference_hash(&format!("{unique_id}|{rid}")));
        }

        #[test]
        fn markdown_filter_output_is_a_subsequence(s in markup()) {
            let out = filter_markdown(&s);
            let mut input = s.chars();
            prop_assert!(out.chars().all(|c| input.any(|d| d == c)), "{:?} -> {:?}", s, out);
        }

        #[test]
        fn markdown_filter_never_panics_on_any_string(s in any::<String>()) {
            let out = filter_markdown(&s);
            prop_assert!(out.len() <= s.len());
        }

        #[test]
        fn markdown_filter_is_identity_without_markup_characters(s in "[^`\\[<&#*_~>]*") {
            prop_assert_eq!(filter_markdown(&s), s);
        }

        /// Without code, links, block quotes or line breaks, only markup characters are deleted.
        #[test]
        fn markdown_filter_deletes_only_markup_in_plain_lines(s in "[a-z#*_~> \u{a0}\u{2028}é😀]{0,40}") {
            let keep = |t: &str| t.chars().filter(|c| !"#*_~> ".contains(*c)).collect::<String>();
            prop_assert_eq!(keep(&filter_markdown(&s)), keep(&s));
        }

        #[test]
        fn mention_replacement_without_names_is_identity(
            msg in "[@a-c ]{0,30}",
            users in proptest::collection::vec("[a-c]{0,3}", 0..4),
        ) {
            let mentions: Vec<_> = users.iter().map(|u| Mention { username: Some(u), name: None }).collect();
            prop_assert_eq!(replace_mentioned_usernames(&msg, &mentions), msg);
        }

        #[test]
        fn mention_replacement_leaves_no_mention_of_a_named_user(
            msg in "[@a-c $&'`]{0,30}",
            user in "[a-c]{1,3}",
            name in "[A-C $&'`]{1,4}",
        ) {
            let mention = [Mention { username: Some(&user), name: Some(&name) }];
            let needle = format!("@{user}");
            let out = replace_mentioned_usernames(&msg, &mention);
            prop_assert!(!out.contains(&needle) || name.contains('$'));
            if !name.contains('$') {
                prop_assert_eq!(out, msg.replace(&needle, &name));
            }
        }
    }

    /// Strings dense in the characters the filter reacts to, with astral and non-ASCII text.
    fn markup() -> impl Strategy<Value = String> {
        let token = prop::sample::select(vec![
            "*", "_", "~", "`", "```", "#", "# ", ">", ">>>", "<<<", "\n", "\r\n", "\u{2028}", " ",
            "[", "]", "(", ")", "!", "<", "&lt;", "&gt;", "|", "http://", "https://", "a", "é",
            "😀", "\u{a0}",
        ]);
        proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
    }
}
