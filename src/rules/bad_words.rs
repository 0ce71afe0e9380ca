//! The bad-words filter (`Message_AllowBadWordsFilter`), applied to a message's `msg` when it
//! is saved or edited, so that storage, streams, push.get and pushes all carry the censored
//! text. Rocket.Chat runs two passes (`BeforeSaveBadWords`), and so does this:
//!
//! 1. the npm `bad-words` 3.0.4 filter: its two bundled English lists (`data/bad-words/`) and
//!    `Message_BadWordsFilterList`, less `Message_BadWordsWhitelist`. It cuts the text into
//!    runs of ASCII word characters (JavaScript's `\w`) and replaces a run that equals a
//!    listed word, ignoring ASCII case, by one `*` per letter or digit (underscores go);
//! 2. the configured words alone, the whitelist not applying: each found where a line, a
//!    punctuation mark or a separator (`\p{P}`, `\p{Z}`) stands on both sides becomes as many
//!    `*` as it has UTF-16 units. This pass catches words the first cannot, such as
//!    non-ASCII ones.
//!
//! Rocket.Chat joins the configured words into its second pass's regular expression
//! unescaped, so there `a.b` also censors `axb`; rcpush takes every word literally.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::js::js_trim;

/// The lists `bad-words` 3.0.4 bundles: its own `lang.json` and `badwords-list` 1.0.0.
const BUNDLED: [&str; 2] = [
    include_str!("../../data/bad-words/bad-words-3.0.4.txt"),
    include_str!("../../data/bad-words/badwords-list-1.0.0.txt"),
];

/// A filter built from the two settings: built once per settings change, used per message.
#[derive(Debug, Clone)]
pub struct BadWords {
    /// The first pass's words, lowercased; only words of ASCII word characters can ever
    /// equal a run, so no other is kept.
    words: HashSet<String>,
    /// The second pass: each configured word, in order, matched case-insensitively (Unicode
    /// simple case folding, as JavaScript's `iu` flags) at the start of the rest of the text.
    configured: Vec<Regex>,
    /// All of them as one alternation: the first that matches where it stands, or none, in
    /// one step (a word whose end is not a boundary sends the search on to the others).
    any_configured: Option<Regex>,
}

impl BadWords {
    /// The filter for `Message_BadWordsFilterList` and `Message_BadWordsWhitelist`, both
    /// comma-separated as stored.
    pub fn new(list: &str, whitelist: &str) -> BadWords {
        let configured: Vec<&str> = list
            .split(',')
            .map(js_trim)
            .filter(|w| !w.is_empty())
            .collect();
        let allowed: HashSet<String> = whitelist
            .split(',')
            .map(|w| js_trim(w).to_lowercase())
            .collect();
        let words = BUNDLED
            .iter()
            .flat_map(|l| l.lines())
            .chain(configured.iter().copied())
            .filter(|w| !w.is_empty() && w.bytes().all(is_word_byte))
            .map(str::to_ascii_lowercase)
            .filter(|w| !allowed.contains(w))
            .collect();
        let anchored = |words: &[&str]| {
            let alternatives: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
            Regex::new(&format!(r"(?i)\A(?:{})", alternatives.join("|")))
        };
        // Rocket.Chat drops the whole second pass when its expression does not compile.
        let any_configured = (!configured.is_empty())
            .then(|| anchored(&configured).ok())
            .flatten();
        let configured = match any_configured {
            Some(_) => configured
                .iter()
                .map(|w| anchored(&[w]))
                .collect::<Result<Vec<_>, _>>()
                .unwrap_or_default(),
            None => Vec::new(),
        };
        BadWords {
            words,
            any_configured: any_configured.filter(|_| !configured.is_empty()),
            configured,
        }
    }

    /// `text` with the bad words censored (borrowed when nothing is).
    pub fn clean<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let first = self.listed_runs(text);
        match self.configured_words(&first) {
            Cow::Owned(second) => Cow::Owned(second),
            Cow::Borrowed(_) => first,
        }
    }

    /// The first pass: runs of ASCII word characters that are listed words.
    fn listed_runs<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        let mut out = String::new();
        let (mut copied, mut i) = (0, 0);
        while i < bytes.len() {
            if !is_word_byte(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && is_word_byte(bytes[i]) {
                i += 1;
            }
            let run = &text[start..i];
            if self.words.contains(&run.to_ascii_lowercase()) {
                out.push_str(&text[copied..start]);
                out.extend(run.bytes().filter(u8::is_ascii_alphanumeric).map(|_| '*'));
                copied = i;
            }
        }
        match copied {
            0 => Cow::Borrowed(text),
            _ => {
                out.push_str(&text[copied..]);
                Cow::Owned(out)
            }
        }
    }

    /// The second pass: configured words standing alone, the first that fits at a position
    /// winning, as a regular expression's alternation does. Positions are judged on the text
    /// as this pass received it, not as it rewrites it.
    fn configured_words<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(any) = &self.any_configured else {
            return Cow::Borrowed(text);
        };
        let mut out = String::new();
        let (mut copied, mut at) = (0, 0);
        while at < text.len() {
            let before = text[..at].chars().next_back();
            let stands_alone = |end: &usize| text[*end..].chars().next().is_none_or(is_boundary);
            let found = match before.is_none_or(is_boundary) {
                false => None,
                true => match any.find(&text[at..]).map(|m| at + m.end()) {
                    None => None,
                    Some(end) if stands_alone(&end) => Some(end),
                    Some(_) => self.configured.iter().find_map(|word| {
                        Some(at + word.find(&text[at..])?.end()).filter(stands_alone)
                    }),
                },
            };
            match found {
                Some(end) => {
                    out.push_str(&text[copied..at]);
                    out.extend(std::iter::repeat_n(
                        '*',
                        text[at..end].encode_utf16().count(),
                    ));
                    (copied, at) = (end, end);
                }
                None => at += text[at..].chars().next().map_or(1, char::len_utf8),
            }
        }
        match copied {
            0 => Cow::Borrowed(text),
            _ => {
                out.push_str(&text[copied..]);
                Cow::Owned(out)
            }
        }
    }
}

/// JavaScript's `\w` without the `u` flag.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// What may stand beside a configured word: a line end (the `m` flag's `^` and `$`), or a
/// punctuation mark or separator.
fn is_boundary(c: char) -> bool {
    static PUNCTUATION_OR_SEPARATOR: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\A[\p{P}\p{Z}]\z").expect("a valid class"));
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
        || PUNCTUATION_OR_SEPARATOR.is_match(c.encode_utf8(&mut [0; 4]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn clean(list: &str, whitelist: &str, text: &str) -> String {
        BadWords::new(list, whitelist).clean(text).into_owned()
    }

    #[test]
    fn configured_words_are_censored_letter_for_letter() {
        assert_eq!(
            clean("badword,badword2", "", "This message has badword badword2"),
            "This message has ******* ********"
        );
        assert_eq!(clean(" badword , ", "", "BadWord!"), "*******!");
    }

    #[test]
    fn the_bundled_lists_apply_without_configuration() {
        assert_eq!(clean("", "", "you ass"), "you ***");
        assert_eq!(clean("", "", "ASSFACE, said he"), "*******, said he");
        // Underscores are dropped from a censored run, as `bad-words` does.
        assert_eq!(clean("", "", "a_s_s"), "***");
        // Not an ASCII word: the first pass cannot match it.
        assert_eq!(clean("", "", "Ass Monkey"), "*** Monkey");
    }

    #[test]
    fn only_whole_words_are_censored() {
        assert_eq!(clean("", "", "class assess"), "class assess");
        assert_eq!(
            clean("badword", "", "badwords xbadword"),
            "badwords xbadword"
        );
    }

    #[test]
    fn the_whitelist_wins_over_the_bundled_lists_only() {
        assert_eq!(clean("", "Ass", "you ass"), "you ass");
        // Rocket.Chat's second pass ignores the whitelist.
        assert_eq!(clean("badword", "badword", "a badword"), "a *******");
    }

    #[test]
    fn non_ascii_words_are_found_by_the_second_pass() {
        assert_eq!(clean("плохо", "", "Это ПЛОХО."), "Это *****.");
        assert_eq!(clean("плохо", "", "неплохо"), "неплохо");
        // Counted in UTF-16 units, as `match.length` is.
        assert_eq!(clean("💩", "", "a 💩 b"), "a ** b");
        // A line start is a boundary; a letter is not.
        assert_eq!(clean("é", "", "x\né\né1"), "x\n*\né1");
    }

    #[test]
    fn the_first_alternative_that_stands_alone_wins() {
        assert_eq!(clean("éa,éab", "", "éab!"), "***!");
        assert_eq!(clean("a.b", "", "axb a.b"), "axb ***");
    }

    #[test]
    fn nothing_to_censor_borrows() {
        let filter = BadWords::new("", "");
        assert!(matches!(filter.clean("hello world"), Cow::Borrowed(_)));
        assert!(matches!(filter.clean(""), Cow::Borrowed(_)));
    }

    /// Words of letters and digits, the kind admins configure.
    fn word() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9]{1,8}"
    }

    /// Text made of a few configured words, harmless words and separators.
    fn text(words: Vec<String>) -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            prop::sample::select(words),
            Just("hello".to_string()),
            Just("x1".to_string()),
            "[ ,.!?\n]{1,2}",
            "[a-z_]{1,4}",
            "[éЖ日]{1,2}",
        ];
        prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
    }

    /// The second pass without the one-step alternation: each word in turn at each
    /// position, as the regular expression's backtracking tries them.
    fn configured_words_one_by_one(filter: &BadWords, text: &str) -> String {
        let mut out = String::new();
        let mut at = 0;
        while at < text.len() {
            let before = text[..at].chars().next_back();
            let end = before.is_none_or(is_boundary).then(|| {
                filter.configured.iter().find_map(|word| {
                    let end = at + word.find(&text[at..])?.end();
                    text[end..]
                        .chars()
                        .next()
                        .is_none_or(is_boundary)
                        .then_some(end)
                })
            });
            match end.flatten() {
                Some(end) => {
                    out.extend(std::iter::repeat_n(
                        '*',
                        text[at..end].encode_utf16().count(),
                    ));
                    at = end;
                }
                None => {
                    let c = text[at..].chars().next().unwrap_or_default();
                    out.push(c);
                    at += c.len_utf8();
                }
            }
        }
        out
    }

    proptest! {
        /// The one-step alternation finds what trying each word in turn finds, prefixes of
        /// one another included.
        #[test]
        fn one_step_equals_word_by_word(
            words in prop::collection::vec("[abé]{1,3}", 1..5),
            text in "[abé .!\n]{0,24}",
        ) {
            let filter = BadWords::new(&words.join(","), "");
            prop_assert_eq!(
                filter.configured_words(&text).into_owned(),
                configured_words_one_by_one(&filter, &text)
            );
        }

        /// Censoring twice changes nothing more.
        #[test]
        fn cleaning_is_idempotent(
            (words, text) in prop::collection::vec(word(), 1..4)
                .prop_flat_map(|w| (Just(w.clone()), text(w)))
        ) {
            let filter = BadWords::new(&words.join(","), "");
            let once = filter.clean(&text).into_owned();
            prop_assert_eq!(filter.clean(&once).into_owned(), once);
        }

        /// A configured word alone between punctuation is censored in any case mix.
        #[test]
        fn configured_words_are_censored_in_any_case(w in word(), flips in prop::collection::vec(any::<bool>(), 8)) {
            let mixed: String = w
                .chars()
                .zip(flips.iter().cycle())
                .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect();
            let out = clean(&w, "", &format!("({mixed}) "));
            prop_assert_eq!(out, format!("({}) ", "*".repeat(w.len())));
        }

        /// A configured word inside a longer run of letters or digits is left alone unless
        /// that run is itself a listed word.
        #[test]
        fn words_inside_words_are_left_alone(w in word(), head in "[a-z0-9]{1,3}", tail in "[a-z0-9]{0,3}") {
            let run = format!("{head}{w}{tail}");
            prop_assume!(BadWords::new("", "").clean(&run) == run);
            prop_assert_eq!(clean(&w, "", &format!("{run}!")), format!("{run}!"));
        }

        /// Whitelisting a bundled word keeps it; a bundled word not whitelisted goes.
        #[test]
        fn a_whitelisted_bundled_word_stays(i in 0usize..400) {
            let bundled: Vec<&str> = BUNDLED[1]
                .lines()
                .filter(|w| w.bytes().all(|b| b.is_ascii_alphanumeric()))
                .collect();
            let w = bundled[i % bundled.len()];
            let text = format!("see {w} here");
            prop_assert_eq!(clean("", w, &text), text.clone());
            prop_assert_ne!(clean("", "", &text), text);
        }

        /// Only listed words change: every other character keeps its place, and the
        /// second pass keeps the text's UTF-16 length.
        #[test]
        fn only_words_change(
            (words, text) in prop::collection::vec("[a-zé]{1,4}", 1..4)
                .prop_flat_map(|w| (Just(w.clone()), text(w)))
        ) {
            let filter = BadWords { words: HashSet::new(), ..BadWords::new(&words.join(","), "") };
            let out = filter.clean(&text);
            prop_assert_eq!(out.encode_utf16().count(), text.encode_utf16().count());
            for (a, b) in text.chars().zip(out.chars()) {
                prop_assert!(a == b || b == '*');
            }
        }
    }
}
