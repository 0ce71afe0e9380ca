//! The `md` field of Rocket.Chat messages: the AST that `@rocket.chat/message-parser` 0.32.0
//! builds from a message's text, reproduced in Rust so that a server never runs JavaScript.
//!
//! [`parse`] gives the AST ([`Node`]s, serialising with `serde` to exactly the JSON of the
//! official parser) and [`references`] reads the mentions and links out of it.
//!
//! ```
//! use message_parser::{parse, references, Options};
//!
//! let ast = parse("hi @ana, see #dev and https://rocket.chat", &Options::default()).unwrap();
//! let refs = references(&ast);
//! assert_eq!(refs.users, ["ana"]);
//! assert_eq!(refs.channels, ["dev"]);
//! assert_eq!(refs.urls, ["https://rocket.chat"]);
//! ```
//!
//! The grammar is a PEG with ordered choice; `parser` follows the same rule order so that the
//! same alternative wins on every input. Where the PEG would rescan text (lookaheads over runs of
//! punctuation, searches for a closing marker), the scanner uses precomputed tables instead, which
//! keeps the work linear in the input.

#![forbid(unsafe_code)]

mod ast;
mod classes;
mod emoji;
mod parser;
mod psl;
mod reduce;
mod time;
mod url;

pub use ast::{Align, Node, TableCell};

/// Parser options; `Default` is what the Rocket.Chat server passes with its default settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `HexColorPreview_Enabled`: `color:#rrggbb` becomes a COLOR node.
    pub colors: bool,
    /// Always on in the server: `:)` and friends become EMOJI nodes.
    pub emoticons: bool,
    /// `Message_CustomDomain_AutoLink` split on commas: extra host suffixes that autolink.
    pub custom_domains: Vec<String>,
    /// `Some` when `Katex_Enabled`.
    pub katex: Option<Katex>,
    /// The time (ms since the epoch) that dates `<t:hh:mm>` timestamps: the official parser
    /// reads the clock for them; here the caller passes it, so parsing stays pure.
    pub now_ms: i64,
}

/// Which KaTeX delimiters are recognised (`Katex_Dollar_Syntax`, `Katex_Parenthesis_Syntax`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Katex {
    pub dollar_syntax: bool,
    pub parenthesis_syntax: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            colors: true,
            emoticons: true,
            custom_domains: Vec::new(),
            katex: Some(Katex {
                dollar_syntax: false,
                parenthesis_syntax: true,
            }),
            now_ms: 0,
        }
    }
}

/// The AST of `input`, or `None` where the official parser throws (the empty string, and text
/// nested so deeply that its recursive descent would exhaust the JavaScript stack).
///
/// ```
/// use message_parser::{parse, Node, Options};
///
/// let ast = parse("hello **@ana** :)", &Options::default()).unwrap();
/// assert_eq!(
///     ast,
///     [Node::Paragraph(vec![
///         Node::PlainText("hello ".into()),
///         Node::Bold(vec![Node::MentionUser("ana".into())]),
///         Node::PlainText(" ".into()),
///         Node::Emoji { text: ":)".into(), short_code: "slight_smile".into() },
///     ])]
/// );
/// // Serialised, it is what the JavaScript parser returns, key order included.
/// assert_eq!(
///     serde_json::to_string(&ast).unwrap(),
///     r#"[{"type":"PARAGRAPH","value":[{"type":"PLAIN_TEXT","value":"hello "},{"type":"BOLD","value":[{"type":"MENTION_USER","value":{"type":"PLAIN_TEXT","value":"ana"}}]},{"type":"PLAIN_TEXT","value":" "},{"type":"EMOJI","value":{"type":"PLAIN_TEXT","value":":)"},"shortCode":"slight_smile"}]}]"#
/// );
/// // Where the official parser throws, there is no AST.
/// assert_eq!(parse("", &Options::default()), None);
/// ```
pub fn parse(input: &str, options: &Options) -> Option<Vec<Node>> {
    let units: Vec<u16> = input.encode_utf16().collect();
    parser::Parser::new(input, &units, options).parse()
}

/// What a message mentions and links to, read from its AST.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// MENTION_USER names (including `all` and `here`), first occurrence order, no duplicates.
    pub users: Vec<String>,
    /// MENTION_CHANNEL names, same order rules.
    pub channels: Vec<String>,
    /// LINK `src` values as Rocket.Chat's `extractUrlsFromMessageAST` lists them for `urls`:
    /// `mailto:`, `tel:` and `//host` targets included, links inside link labels, tables and
    /// images not (its walk follows `value` members only), duplicates removed.
    pub urls: Vec<String>,
}

/// Collects the user mentions, channel mentions and link URLs of an AST.
///
/// ```
/// use message_parser::{parse, references, Options};
///
/// let ast = parse("@ana @all @ana [docs](https://x.com) a@b.com", &Options::default()).unwrap();
/// let refs = references(&ast);
/// assert_eq!(refs.users, ["ana", "all"]);
/// assert_eq!(refs.urls, ["https://x.com", "mailto:a@b.com"]);
/// ```
pub fn references(ast: &[Node]) -> References {
    let mut refs = References::default();
    for node in ast {
        mentions(node, &mut refs);
        urls(node, &mut refs.urls);
    }
    refs
}

fn push_unique(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|v| v == value) {
        list.push(value.to_string());
    }
}

fn mentions(node: &Node, refs: &mut References) {
    match node {
        Node::MentionUser(name) => push_unique(&mut refs.users, name),
        Node::MentionChannel(name) => push_unique(&mut refs.channels, name),
        Node::Image { label, .. } => mentions(label, refs),
        Node::Table { header, rows, .. } => {
            for cell in header.iter().chain(rows.iter().flatten()) {
                cell.value.iter().for_each(|n| mentions(n, refs));
            }
        }
        other => other.children().iter().for_each(|n| mentions(n, refs)),
    }
}

fn urls(node: &Node, out: &mut Vec<String>) {
    match node {
        Node::Link { src, .. } => push_unique(out, src),
        other => other.children().iter().for_each(|n| urls(n, out)),
    }
}

/// JavaScript's `\s` (WhiteSpace and LineTerminator), which is also what `String.prototype.trim`
/// removes. Unlike [`char::is_whitespace`] it includes U+FEFF and excludes U+0085.
///
/// ```
/// use message_parser::is_js_space;
///
/// assert!(is_js_space('\u{feff}') && is_js_space('\u{3000}') && is_js_space('\n'));
/// assert!(!is_js_space('\u{85}') && !is_js_space('\u{200b}'));
/// assert_eq!("\u{feff} a\u{a0}".trim_matches(is_js_space), "a");
/// ```
pub fn is_js_space(c: char) -> bool {
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

/// The examples of README.md run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests;
