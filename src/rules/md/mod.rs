//! The `md` field of a message: the AST that `@rocket.chat/message-parser` 0.32.0 builds from
//! `msg`, reproduced in Rust so the server never runs JavaScript.
//!
//! The grammar is a PEG with ordered choice; `parser` follows the same rule order so that the
//! same alternative wins on every input. Where the PEG would rescan text (lookaheads over runs of
//! punctuation, searches for a closing marker), the scanner uses precomputed tables instead, which
//! keeps the work linear in the input.

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

#[cfg(test)]
mod tests;
