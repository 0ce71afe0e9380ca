//! The grammar of `@rocket.chat/message-parser` 0.32.0 as a recursive-descent PEG over UTF-16
//! units (the unit JavaScript strings index by, so ranges and character classes agree).
//!
//! Rules are tried in the grammar's order and restore the position when they fail. Emphasis and
//! link rules are guarded by the same re-entrancy flags as the original (a bold inside a bold is
//! never tried). Lookaheads that would rescan a run of characters read precomputed tables.

use std::collections::HashMap;

use super::ast::{Align, Node, TableCell};
use super::classes::{ALNUM_CHARS, LOCAL_PART_CHARS, NAME_CHARS};
use super::emoji;
use super::reduce::{reduce, reduce_nodes, Item};
use super::time::{self, DateTime};
use super::url;
use super::Options;
use crate::is_js_space;

const END: u32 = u32::MAX;

/// The parser's work in units read, counted by tests to check that it grows linearly with the
/// input: a count is the same on a busy machine, a timing is not.
#[cfg(test)]
pub(crate) mod work {
    use std::cell::Cell;

    thread_local!(static UNITS: Cell<u64> = const { Cell::new(0) });

    pub(crate) fn add(n: usize) {
        UNITS.with(|u| u.set(u.get() + n as u64));
    }

    /// The work counted on this thread since the last call.
    pub(crate) fn take() -> u64 {
        UNITS.with(|u| u.replace(0))
    }
}

#[cfg(not(test))]
mod work {
    #[inline(always)]
    pub(crate) fn add(_: usize) {}
}

/// A safety net against stack exhaustion: the flags bound emphasis nesting and emoticon chains
/// are decided iteratively, so real input never gets near it.
const MAX_DEPTH: u32 = 400;

fn in_class(table: &[(u16, u16)], c: u32) -> bool {
    let Ok(c) = u16::try_from(c) else {
        return false;
    };
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

fn is_space(c: u32) -> bool {
    c == 0x20 || c == 0x09
}

fn is_eol(c: u32) -> bool {
    c == 0x0A || c == 0x0D
}

/// `EmoticonNeighbor` without the item alternative: end, line end, blank or `*`.
fn is_neighbour(c: u32) -> bool {
    c == END || is_eol(c) || is_space(c) || c == 0x2A
}

fn is_digit(c: u32) -> bool {
    (0x30..=0x39).contains(&c)
}

fn is_ascii_alnum(c: u32) -> bool {
    is_digit(c) || (0x41..=0x5A).contains(&c) || (0x61..=0x7A).contains(&c)
}

fn is_ascii_alpha(c: u32) -> bool {
    (0x41..=0x5A).contains(&c) || (0x61..=0x7A).contains(&c)
}

fn is_hex(c: u32) -> bool {
    is_digit(c) || (0x41..=0x46).contains(&c) || (0x61..=0x66).contains(&c)
}

fn hex_val(c: u32) -> u8 {
    char::from_u32(c).and_then(|c| c.to_digit(16)).unwrap_or(0) as u8
}

/// `AnyText`: printable ASCII except `()*[\]^_`{|}~`, and everything from U+0080.
fn is_any_text(c: u32) -> bool {
    c != END
        && ((0x20..=0x27).contains(&c)
            || (0x2B..=0x5A).contains(&c)
            || (0x61..=0x7A).contains(&c)
            || c >= 0x80)
}

/// `Extra`: punctuation that may not end an autolink.
fn is_extra(c: u32) -> bool {
    matches!(
        c,
        0x2E | 0x2C | 0x21 | 0x25 | 0x7E | 0x2A | 0x22 | 0x27 | 0x3A | 0x3B | 0x28 | 0x29 | 0x3D
    )
}

/// `MarkdownLinkExtra`: the same for `[label](url)` targets (parentheses and `~` excluded).
fn is_md_extra(c: u32) -> bool {
    matches!(
        c,
        0x2E | 0x2C | 0x21 | 0x25 | 0x2A | 0x22 | 0x27 | 0x3A | 0x3B | 0x3D
    )
}

/// `Safe`: `$@&+_#?-`.
fn is_safe(c: u32) -> bool {
    matches!(c, 0x24 | 0x40 | 0x26 | 0x2B | 0x5F | 0x23 | 0x3F | 0x2D)
}

/// Target characters of `[label](url)` bodies: printable ASCII but `()\|`, and U+0080 up.
fn is_md_url_char(c: u32) -> bool {
    c != END
        && ((0x20..=0x27).contains(&c)
            || (0x2A..=0x5B).contains(&c)
            || (0x5D..=0x7B).contains(&c)
            || (0x7D..=0x7E).contains(&c)
            || c >= 0x80)
}

/// Like `is_md_url_char` but also `(`.
fn is_url_char(c: u32) -> bool {
    c == 0x28 || is_md_url_char(c)
}

/// One re-entrancy flag per guarded rule, as in the grammar's `skip*` variables.
#[derive(Clone, Copy)]
enum Flag {
    Bold = 1,
    Italic = 2,
    Strike = 4,
    References = 8,
}

pub(super) struct Parser<'a> {
    /// The input as given, and as UTF-16 units (what the grammar indexes).
    src: &'a str,
    s: &'a [u16],
    /// For non-ASCII input, the byte offset in `src` of each unit index (`u32::MAX` inside a
    /// surrogate pair); empty when units and bytes coincide.
    byte_at: Vec<u32>,
    p: usize,
    opts: &'a Options,
    flags: u8,
    depth: u32,
    too_deep: bool,
    /// Run tables, indexed by `Table`, and the last forward scan made before one is built.
    tables: [Vec<u32>; TABLES],
    last_scan: [(usize, usize); TABLES],
    /// Memoised success of the item lookahead behind emoticons, by position, flags and context.
    item_ok: HashMap<(usize, u8, u8), bool>,
    /// The last run found by `same_run_end`.
    run_cache: (usize, usize),
    /// Lazily built: end of the domain-character run starting at each index.
    domain_run: Vec<u32>,
    /// Lazily built: where an `<url|label>` body starting at each index stops.
    angle_stop: Vec<u32>,
}

/// Precomputed "first index at or after `i`" tables, so lookaheads over runs cost O(1).
#[derive(Clone, Copy)]
enum Table {
    /// First index whose unit is not `Extra`.
    ExtEnd,
    /// First index whose unit is not `MarkdownLinkExtra`.
    MdExtEnd,
    /// First blank, line end or `@` (the e-mail lookahead).
    WsAt,
    /// First blank, line end, `:`, `.`, `/` or `@` (the URL lookahead).
    UrlStop,
    /// First `](`: a `[` without one cannot open a link.
    LinkMid,
    /// First `\]`, `$$`, `\)`, `$`: where KaTeX started at an index ends.
    BracketClose,
    DoubleDollar,
    ParenClose,
    Dollar,
}

const TABLES: usize = 9;

impl Table {
    /// Whether index `k` is where the table's search stops.
    fn stops(self, s: &[u16], k: usize) -> bool {
        let c = u32::from(s[k]);
        match self {
            Table::ExtEnd => !is_extra(c),
            Table::MdExtEnd => !is_md_extra(c),
            Table::WsAt => matches!(c, 0x20 | 0x09 | 0x0D | 0x0A | 0x40),
            Table::UrlStop => matches!(c, 0x20 | 0x09 | 0x0D | 0x0A | 0x3A | 0x2E | 0x2F | 0x40),
            Table::LinkMid => c == 0x5D && s.get(k + 1) == Some(&0x28),
            Table::BracketClose => c == 0x5C && s.get(k + 1) == Some(&0x5D),
            Table::DoubleDollar => c == 0x24 && s.get(k + 1) == Some(&0x24),
            Table::ParenClose => c == 0x5C && s.get(k + 1) == Some(&0x29),
            Table::Dollar => c == 0x24,
        }
    }
}

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a str, s: &'a [u16], opts: &'a Options) -> Self {
        let mut byte_at = Vec::new();
        if src.len() != s.len() {
            byte_at = vec![u32::MAX; s.len() + 1];
            let mut unit = 0;
            for (byte, c) in src.char_indices() {
                byte_at[unit] = byte as u32;
                unit += c.len_utf16();
            }
            byte_at[s.len()] = src.len() as u32;
        }
        Parser {
            src,
            s,
            byte_at,
            p: 0,
            opts,
            flags: 0,
            depth: 0,
            too_deep: false,
            tables: [const { Vec::new() }; TABLES],
            last_scan: [(0, usize::MAX); TABLES],
            item_ok: HashMap::new(),
            run_cache: (0, 0),
            domain_run: Vec::new(),
            angle_stop: Vec::new(),
        }
    }

    /// Entry `i` of a run table, building the table on first use (most messages need few).
    fn lookup(&mut self, t: Table, i: usize) -> usize {
        // Queries mostly move forward: answer from the last scanned run while it covers `i`,
        // and build the whole table only once a query goes back before it.
        let (from, stop) = self.last_scan[t as usize];
        if self.tables[t as usize].is_empty() {
            if from <= i && i <= stop && stop != usize::MAX {
                return stop;
            }
            if i > stop || stop == usize::MAX {
                let stop = (i..self.s.len())
                    .find(|&k| t.stops(self.s, k))
                    .unwrap_or(self.s.len());
                work::add(stop - i);
                self.last_scan[t as usize] = (i, stop);
                return stop;
            }
            work::add(self.s.len());
            let mut table = vec![self.s.len() as u32; self.s.len() + 1];
            for k in (0..self.s.len()).rev() {
                table[k] = if t.stops(self.s, k) {
                    k as u32
                } else {
                    table[k + 1]
                };
            }
            self.tables[t as usize] = table;
        }
        self.tables[t as usize][i] as usize
    }

    // ---- primitives -------------------------------------------------------------------------

    fn at(&self, i: usize) -> u32 {
        work::add(1);
        self.s.get(i).map_or(END, |&u| u32::from(u))
    }

    fn c(&self) -> u32 {
        self.at(self.p)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.c() == u32::from(c) {
            self.p += 1;
            true
        } else {
            false
        }
    }

    fn eat_if(&mut self, pred: impl Fn(u32) -> bool) -> Option<u32> {
        let c = self.c();
        if c != END && pred(c) {
            self.p += 1;
            Some(c)
        } else {
            None
        }
    }

    /// Consumes `pred`-units; returns how many.
    fn eat_while(&mut self, pred: impl Fn(u32) -> bool) -> usize {
        let start = self.p;
        while self.c() != END && pred(self.c()) {
            self.p += 1;
        }
        self.p - start
    }

    fn starts(&self, lit: &str) -> bool {
        self.starts_at(self.p, lit)
    }

    fn lit(&mut self, lit: &str) -> bool {
        if self.starts(lit) {
            self.p += lit.len();
            true
        } else {
            false
        }
    }

    /// The source text of a unit range: a slice of the original string when the range falls on
    /// character boundaries (always, for ASCII input), else decoded from the units.
    fn text(&self, from: usize, to: usize) -> String {
        work::add(to - from);
        if self.byte_at.is_empty() {
            return self.src[from..to].to_string();
        }
        let (a, b) = (self.byte_at[from], self.byte_at[to]);
        if a != u32::MAX && b != u32::MAX {
            return self.src[a as usize..b as usize].to_string();
        }
        String::from_utf16_lossy(&self.s[from..to])
    }

    /// `EndOfLine`: CRLF, LF or CR.
    fn eol(&mut self) -> bool {
        self.lit("\r\n") || self.eat(b'\n') || self.eat(b'\r')
    }

    fn at_eol(&self) -> bool {
        is_eol(self.c())
    }

    fn at_end(&self) -> bool {
        self.p >= self.s.len()
    }

    fn katex_paren(&self) -> bool {
        self.opts.katex.is_some_and(|k| k.parenthesis_syntax)
    }

    fn katex_dollar(&self) -> bool {
        self.opts.katex.is_some_and(|k| k.dollar_syntax)
    }

    /// Runs `f`, restoring the position when it fails.
    fn attempt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let save = self.p;
        let r = f(self);
        if r.is_none() {
            self.p = save;
        }
        r
    }

    /// Runs a flag-guarded rule: fails at once when the flag is already set.
    fn guarded<T>(&mut self, flag: Flag, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let bit = flag as u8;
        if self.flags & bit != 0 {
            return None;
        }
        self.flags |= bit;
        let r = self.attempt(f);
        self.flags &= !bit;
        r
    }

    // ---- document -----------------------------------------------------------------------------

    pub(super) fn parse(mut self) -> Option<Vec<Node>> {
        if let Some(big) = self.attempt(|p| {
            let list = p.big_emoji()?;
            p.at_end().then_some(list)
        }) {
            return Some(vec![Node::BigEmoji(big)]);
        }
        let mut out = Vec::new();
        while !self.at_end() {
            if let Some(block) = self.block() {
                out.push(block);
            } else if let Some(par) = self.paragraph() {
                out.push(par);
            } else if self.eol() {
                out.push(Node::Paragraph(vec![Node::PlainText(String::new())]));
            } else {
                break;
            }
            if self.too_deep {
                return None;
            }
        }
        (!out.is_empty() && self.at_end() && !self.too_deep).then_some(out)
    }

    fn skip_blank(&mut self) {
        while self.eol() || self.eat_if(is_space).is_some() {}
    }

    /// `BigEmoji`: one to three emoji or emoticons with only blanks around them.
    fn big_emoji(&mut self) -> Option<Vec<Node>> {
        self.skip_blank();
        let mut list = Vec::new();
        while list.len() < 3 {
            let Some(e) = self.emoji().or_else(|| self.emoticon()) else {
                break;
            };
            list.push(e);
            self.skip_blank();
        }
        (!list.is_empty()).then_some(list)
    }

    fn block(&mut self) -> Option<Node> {
        self.blockquote()
            .or_else(|| self.spoiler_block())
            .or_else(|| self.code_block())
            .or_else(|| self.horizontal_rule())
            .or_else(|| self.table())
            .or_else(|| self.heading())
            .or_else(|| self.tasks())
            .or_else(|| self.ordered_list())
            .or_else(|| self.unordered_list())
            .or_else(|| self.katex_block())
            .or_else(|| self.line_break())
    }

    fn one_or_more(&mut self, f: impl Fn(&mut Self) -> Option<Node>) -> Option<Vec<Node>> {
        let mut items = Vec::new();
        while let Some(n) = f(self) {
            items.push(n);
        }
        (!items.is_empty()).then_some(items)
    }

    fn blockquote(&mut self) -> Option<Node> {
        self.one_or_more(|p| {
            p.attempt(|p| {
                if !p.eat(b'>') {
                    return None;
                }
                p.eat_while(is_space);
                if p.eol() {
                    return Some(Node::Paragraph(vec![Node::PlainText(String::new())]));
                }
                p.paragraph()
            })
        })
        .map(Node::Quote)
    }

    fn spoiler_block(&mut self) -> Option<Node> {
        self.attempt(|p| {
            if !(p.lit("||") && p.eol()) || p.starts("||") {
                return None;
            }
            let mut paras = vec![p.paragraph()?];
            while !p.starts("||") {
                match p.paragraph() {
                    Some(par) => paras.push(par),
                    None => break,
                }
            }
            p.eol();
            p.lit("||").then_some(Node::SpoilerBlock(paras))
        })
    }

    fn code_block(&mut self) -> Option<Node> {
        self.attempt(|p| {
            if !p.lit("```") {
                return None;
            }
            let lang_start = p.p;
            p.eat_while(|c| is_ascii_alnum(c) || matches!(c, 0x20 | 0x5F | 0x2D | 0x2E));
            let language = if p.p > lang_start {
                p.text(lang_start, p.p)
            } else {
                "none".to_string()
            };
            if !p.eol() {
                return None;
            }
            let mut lines = Vec::new();
            while let Some(line) = p.code_line() {
                lines.push(line);
            }
            if lines.is_empty() || !p.eol() || !p.lit("```") {
                return None;
            }
            Some(Node::Code { language, lines })
        })
    }

    fn code_line(&mut self) -> Option<String> {
        if let Some(chunk) = self.code_chunk() {
            return Some(chunk);
        }
        self.attempt(|p| {
            if !p.eat(b'\n') {
                return None;
            }
            if let Some(chunk) = p.code_chunk() {
                return Some(chunk);
            }
            (!p.starts("```")).then(String::new)
        })
    }

    /// A code line's text: anything but a line end, and backticks only short of a fence.
    fn code_chunk(&mut self) -> Option<String> {
        let start = self.p;
        loop {
            let c = self.c();
            if c == END || is_eol(c) {
                break;
            }
            if c != 0x60 {
                self.p += 1;
                continue;
            }
            let c1 = self.at(self.p + 1);
            let plain = |c: u32| c != END && c != 0x60 && !is_eol(c);
            if plain(c1) {
                self.p += 2;
            } else if c1 == 0x60 && plain(self.at(self.p + 2)) {
                self.p += 3;
            } else if c1 == 0x60 && (is_eol(self.at(self.p + 2)) || self.at(self.p + 2) == END) {
                self.p += 2;
            } else if is_eol(c1) || c1 == END {
                self.p += 1;
            } else {
                break;
            }
        }
        (self.p > start).then(|| self.text(start, self.p))
    }

    fn horizontal_rule(&mut self) -> Option<Node> {
        self.attempt(|p| {
            p.eat_while(is_space);
            let start = p.p;
            if p.eat_while(|c| c == 0x2D) < 3 {
                return None;
            }
            let end = p.p;
            p.eat_while(is_space);
            (p.eol() || p.at_end()).then_some(Node::HorizontalRule {
                fallback: (start, end),
            })
        })
    }

    fn table(&mut self) -> Option<Node> {
        let start = self.p;
        self.attempt(|p| {
            let header = p.table_row()?;
            let aligns = p.table_separator()?;
            let mut rows = Vec::new();
            while let Some(row) = p.table_row() {
                rows.push(row);
            }
            let cell = |cells: &[Vec<Node>], i: usize| TableCell {
                align: aligns.get(i).copied().flatten(),
                value: trim_cell(cells.get(i).cloned().unwrap_or_default()),
            };
            Some(Node::Table {
                header: (0..header.len()).map(|i| cell(&header, i)).collect(),
                rows: rows
                    .iter()
                    .map(|row| (0..header.len()).map(|i| cell(row, i)).collect())
                    .collect(),
                fallback: (start, p.p),
            })
        })
    }

    /// `| cell | cell |` with an optional line end.
    fn table_row(&mut self) -> Option<Vec<Vec<Node>>> {
        self.attempt(|p| {
            if !p.eat(b'|') {
                return None;
            }
            let mut cells = Vec::new();
            loop {
                let save = p.p;
                let cell = p.table_cell();
                if p.eat(b'|') {
                    cells.push(cell);
                } else {
                    p.p = save;
                    break;
                }
            }
            if cells.is_empty() {
                return None;
            }
            p.eol();
            Some(cells)
        })
    }

    fn table_cell(&mut self) -> Vec<Node> {
        let mut items = Vec::new();
        loop {
            if self.lit("\\|") {
                items.push(Item::One(Node::PlainText("|".into())));
                continue;
            }
            if self.c() == 0x7C || self.at_eol() || self.at_end() {
                break;
            }
            match self.inline_item().or_else(|| self.any_char()) {
                Some(item) => items.push(item),
                None => break,
            }
        }
        reduce(items)
    }

    fn table_separator(&mut self) -> Option<Vec<Option<Align>>> {
        self.attempt(|p| {
            if !p.eat(b'|') {
                return None;
            }
            let mut aligns = Vec::new();
            while let Some(align) = p.attempt(|p| {
                p.eat_while(is_space);
                let left = p.eat(b':');
                if p.eat_while(|c| c == 0x2D) == 0 {
                    return None;
                }
                let right = p.eat(b':');
                p.eat_while(is_space);
                if !p.eat(b'|') {
                    return None;
                }
                Some(match (left, right) {
                    (true, true) => Some(Align::Center),
                    (_, true) => Some(Align::Right),
                    (true, _) => Some(Align::Left),
                    _ => None,
                })
            }) {
                aligns.push(align);
            }
            if aligns.is_empty() {
                return None;
            }
            p.eol();
            Some(aligns)
        })
    }

    fn heading(&mut self) -> Option<Node> {
        self.attempt(|p| {
            let mut level = 0u8;
            while level < 4 && p.eat(b'#') {
                level += 1;
            }
            if level == 0 || p.eat_while(is_space) == 0 {
                return None;
            }
            let mut items = Vec::new();
            while let Some(item) = p.inline_item().or_else(|| p.any_char()) {
                items.push(item);
            }
            if items.is_empty() {
                return None;
            }
            p.eol();
            Some(Node::Heading {
                level,
                value: reduce(items),
            })
        })
    }

    fn tasks(&mut self) -> Option<Node> {
        self.one_or_more(|p| {
            p.attempt(|p| {
                if !p.lit("- [") {
                    return None;
                }
                let status = if p.eat(b'x') {
                    true
                } else if p.eat(b' ') {
                    false
                } else {
                    return None;
                };
                if !p.eat(b']') || p.eat_while(is_space) == 0 {
                    return None;
                }
                let value = p.inline()?;
                Some(Node::Task { status, value })
            })
        })
        .map(Node::Tasks)
    }

    fn ordered_list(&mut self) -> Option<Node> {
        self.one_or_more(|p| {
            p.attempt(|p| {
                let start = p.p;
                if p.eat_while(is_digit) == 0 {
                    return None;
                }
                let number = p.text(start, p.p).parse::<f64>().ok();
                if !p.eat(b'.') || p.eat_while(is_space) == 0 {
                    return None;
                }
                let value = p.inline()?;
                Some(Node::ListItem { value, number })
            })
        })
        .map(Node::OrderedList)
    }

    fn unordered_list(&mut self) -> Option<Node> {
        let hyphen = self.one_or_more(|p| {
            p.attempt(|p| {
                if !p.eat(b'-') || p.eat_while(is_space) == 0 {
                    return None;
                }
                let value = p.inline()?;
                Some(Node::ListItem {
                    value,
                    number: None,
                })
            })
        });
        hyphen
            .or_else(|| {
                self.one_or_more(|p| {
                    p.attempt(|p| {
                        if !p.eat(b'*') || p.eat_while(is_space) == 0 {
                            return None;
                        }
                        let mut items = Vec::new();
                        loop {
                            if let Some(item) = p.inline_item() {
                                items.push(item);
                            } else if p.c() != 0x2A && !p.at_eol() && !p.at_end() {
                                items.push(p.any_char()?);
                            } else {
                                break;
                            }
                        }
                        if items.is_empty() || p.c() == 0x2A {
                            return None;
                        }
                        p.eol();
                        Some(Node::ListItem {
                            value: reduce(items),
                            number: None,
                        })
                    })
                })
            })
            .map(Node::UnorderedList)
    }

    /// Whether a KaTeX closing delimiter starts at `i` (either syntax that is enabled).
    fn katex_end_at(&mut self, from: usize, block: bool) -> Option<usize> {
        let (paren, dollar) = if block {
            (Table::BracketClose, Table::DoubleDollar)
        } else {
            (Table::ParenClose, Table::Dollar)
        };
        let a = if self.katex_paren() {
            self.lookup(paren, from)
        } else {
            usize::MAX
        };
        let b = if self.katex_dollar() {
            self.lookup(dollar, from)
        } else {
            usize::MAX
        };
        Some(a.min(b)).filter(|&e| e < self.s.len())
    }

    fn katex_block(&mut self) -> Option<Node> {
        self.attempt(|p| {
            let opened = (p.katex_paren() && p.lit("\\[")) || (p.katex_dollar() && p.lit("$$"));
            if !opened {
                return None;
            }
            let start = p.p;
            let end = p.katex_end_at(start, true)?;
            p.p = end + 2;
            Some(Node::Katex(p.text(start, end)))
        })
    }

    fn line_break(&mut self) -> Option<Node> {
        self.attempt(|p| {
            p.eat_while(is_space);
            p.eol().then_some(Node::LineBreak)
        })
    }

    fn paragraph(&mut self) -> Option<Node> {
        self.inline().map(Node::Paragraph)
    }

    /// `Inline`: inline items (or single characters) up to the end of the line, which it eats.
    fn inline(&mut self) -> Option<Vec<Node>> {
        let mut items = Vec::new();
        while let Some(item) = self.inline_item().or_else(|| self.any_char()) {
            items.push(item);
        }
        if items.is_empty() {
            return None;
        }
        self.eol();
        Some(reduce(items))
    }

    /// One unit that is not a line end, as text.
    fn any_char(&mut self) -> Option<Item> {
        let start = self.p;
        self.eat_if(|c| !is_eol(c))?;
        Some(Item::One(Node::PlainText(self.text(start, self.p))))
    }

    // ---- inline items -------------------------------------------------------------------------

    /// `InlineItemPattern`: alternatives chosen by the first character, then the generic chain.
    fn inline_item(&mut self) -> Option<Item> {
        if self.depth >= MAX_DEPTH {
            self.too_deep = true;
            return None;
        }
        self.depth += 1;
        let r = self.inline_item_inner();
        self.depth -= 1;
        r
    }

    fn inline_item_inner(&mut self) -> Option<Item> {
        let one = |n: Option<Node>| n.map(Item::One);
        let dispatched = match self.c() {
            0x20 | 0x09 => one(self.whitespace()),
            0x5C => one(self
                .escaped_timestamp()
                .or_else(|| self.katex_inline())
                .or_else(|| self.escaped())),
            0x5B => one(self.references()),
            0x3C => one(self
                .timestamp()
                .or_else(|| self.references())
                .or_else(|| self.inline_emoticon(Ctx::Inline))),
            0x21 => one(self.image()),
            0x7C => one(self.spoiler()),
            0x40 => one(self.user_mention()),
            0x60 => one(self.inline_code()),
            0x2B => one(self.phone()),
            0x24 => one(self.katex_inline()),
            0x3A => one(self.emoji().or_else(|| self.inline_emoticon(Ctx::Inline))),
            0x2A => self
                .emphasis_whitespace()
                .map(Item::One)
                .or_else(|| self.emphasis())
                .or_else(|| one(self.inline_emoticon(Ctx::Inline))),
            0x7E => self
                .emphasis_whitespace()
                .map(Item::One)
                .or_else(|| self.emphasis()),
            0x2D => one(self
                .plain_before_emoticon()
                .or_else(|| self.inline_emoticon(Ctx::Inline))),
            _ => None,
        };
        if dispatched.is_some() {
            return dispatched;
        }
        one(self.autolinked_email())
            .or_else(|| one(self.underscore_domain()))
            .or_else(|| one(self.autolinked_url()))
            .or_else(|| one(self.emphasis_whitespace()))
            .or_else(|| self.emphasis())
            .or_else(|| one(self.channel_mention()))
            .or_else(|| one(self.emoji()))
            .or_else(|| one(self.plain_before_emoticon()))
            .or_else(|| one(self.inline_emoticon(Ctx::Inline)))
            .or_else(|| one(self.color()))
            .or_else(|| one(self.plain_run()))
    }

    fn whitespace(&mut self) -> Option<Node> {
        let start = self.p;
        (self.eat_while(is_space) > 0).then(|| Node::PlainText(self.text(start, self.p)))
    }

    fn escaped(&mut self) -> Option<Node> {
        self.attempt(|p| {
            if !p.eat(b'\\') {
                return None;
            }
            let start = p.p;
            p.eat_if(|c| matches!(c, 0x2A | 0x5F | 0x7E | 0x60 | 0x23 | 0x2E))?;
            Some(Node::PlainText(p.text(start, p.p)))
        })
    }

    fn plain_run(&mut self) -> Option<Node> {
        let start = self.p;
        let n = self.eat_while(|c| {
            !matches!(
                c,
                0x2A | 0x5F
                    | 0x7E
                    | 0x60
                    | 0x3A
                    | 0x0A
                    | 0x3C
                    | 0x5B
                    | 0x5D
                    | 0x21
                    | 0x20
                    | 0x09
                    | 0x28
                    | 0x29
                    | 0x5C
                    | 0x7C
            )
        });
        (n > 0).then(|| Node::PlainText(self.text(start, self.p)))
    }

    /// `-` before `_-x`, so that `-_-italic` is not read as the `-_-` emoticon.
    fn plain_before_emoticon(&mut self) -> Option<Node> {
        (self.c() == 0x2D
            && self.at(self.p + 1) == 0x5F
            && self.at(self.p + 2) == 0x2D
            && self.at(self.p + 3) != END)
            .then(|| {
                self.p += 1;
                Node::PlainText("-".into())
            })
    }

    // ---- timestamps ---------------------------------------------------------------------------

    fn digits_exact(&mut self, n: usize) -> Option<(usize, usize)> {
        let start = self.p;
        let mut k = 0;
        while k < n && self.eat_if(is_digit).is_some() {
            k += 1;
        }
        (k == n).then_some((start, self.p))
    }

    /// `±hh:mm`.
    fn timezone(&mut self) -> Option<(usize, usize)> {
        self.attempt(|p| {
            let start = p.p;
            p.eat_if(|c| c == 0x2B || c == 0x2D)?;
            p.digits_exact(2)?;
            if !p.eat(b':') {
                return None;
            }
            p.digits_exact(2)?;
            Some((start, p.p))
        })
    }

    /// The date part of `<t:…>`: its source text and its `timestamp` value.
    fn timestamp_date(&mut self) -> Option<(usize, String)> {
        let start = self.p;
        if let Some(v) = self.attempt(|p| p.digits_exact(10)) {
            return Some((start, self.text(v.0, v.1)));
        }
        if let Some(v) = self
            .attempt(|p| p.iso_date(true))
            .or_else(|| self.attempt(|p| p.iso_date(false)))
        {
            return Some((start, v));
        }
        self.attempt(|p| {
            let h = p.digits_exact(2)?;
            if !p.eat(b':') {
                return None;
            }
            let m = p.digits_exact(2)?;
            let with_seconds = p.attempt(|p| {
                if !p.eat(b':') {
                    return None;
                }
                p.digits_exact(2)
            });
            let tz = p.timezone();
            let text = |r: (usize, usize)| p.text(r.0, r.1);
            let secs = with_seconds.map_or_else(|| "00".to_string(), text);
            let tz = tz.map(text);
            Some((
                start,
                time::from_hours(self.opts.now_ms, &text(h), &text(m), &secs, tz.as_deref()),
            ))
        })
    }

    fn iso_date(&mut self, millis: bool) -> Option<String> {
        let year = self.digits_exact(4)?;
        let part = |p: &mut Self, sep: u8| -> Option<(usize, usize)> {
            if !p.eat(sep) {
                return None;
            }
            p.digits_exact(2)
        };
        let month = part(self, b'-')?;
        let day = part(self, b'-')?;
        let hours = part(self, b'T')?;
        let minutes = part(self, b':')?;
        let seconds = part(self, b':')?;
        let ms = if millis {
            if !self.eat(b'.') {
                return None;
            }
            Some(self.digits_exact(3)?)
        } else {
            None
        };
        let tz = self.timezone();
        let t = |r: (usize, usize)| self.text(r.0, r.1);
        let (year, month, day, hours, minutes, seconds) =
            (t(year), t(month), t(day), t(hours), t(minutes), t(seconds));
        let ms = ms.map(t);
        let tz = tz.map(t);
        Some(time::from_iso(&DateTime {
            year: &year,
            month: &month,
            day: &day,
            hours: &hours,
            minutes: &minutes,
            seconds: &seconds,
            millis: ms.as_deref(),
            offset: tz.as_deref(),
        }))
    }

    /// After the date: `:F>` (a format letter) or `>`.
    fn timestamp_tail(&mut self) -> Option<Option<char>> {
        if let Some(f) = self.attempt(|p| {
            if !p.eat(b':') {
                return None;
            }
            let f = p.eat_if(|c| matches!(c, 0x44 | 0x46 | 0x52 | 0x54 | 0x64 | 0x66 | 0x74))?;
            p.eat(b'>').then(|| char::from_u32(f))
        }) {
            return Some(f);
        }
        self.eat(b'>').then_some(None)
    }

    fn timestamp(&mut self) -> Option<Node> {
        let start = self.p;
        self.attempt(|p| {
            if !p.lit("<t:") {
                return None;
            }
            let (_, value) = p.timestamp_date()?;
            let format = p.timestamp_tail()?;
            Some(Node::Timestamp {
                timestamp: value,
                format: format.unwrap_or('t'),
                fallback: (start, p.p),
            })
        })
    }

    /// `\<t:…>`: the markup as text, without the backslash.
    fn escaped_timestamp(&mut self) -> Option<Node> {
        self.attempt(|p| {
            if !p.lit("\\<t:") {
                return None;
            }
            let (date_start, _) = p.timestamp_date()?;
            let raw = p.text(date_start, p.p);
            let format = p.timestamp_tail()?;
            Some(Node::PlainText(match format {
                Some(f) => format!("<t:{raw}:{f}>"),
                None => format!("<t:{raw}>"),
            }))
        })
    }

    // ---- KaTeX, code, spoilers, colors ----------------------------------------------------------

    fn katex_inline(&mut self) -> Option<Node> {
        self.attempt(|p| {
            let opened = (p.katex_paren() && p.lit("\\(")) || (p.katex_dollar() && p.lit("$"));
            if !opened {
                return None;
            }
            let start = p.p;
            let end = p.katex_end_at(start, false)?;
            p.p = end
                + if p.katex_paren() && p.starts_at(end, "\\)") {
                    2
                } else {
                    1
                };
            Some(Node::InlineKatex(p.text(start, end)))
        })
    }

    fn starts_at(&self, i: usize, lit: &str) -> bool {
        lit.bytes()
            .enumerate()
            .all(|(k, b)| self.at(i + k) == u32::from(b))
    }

    fn inline_code(&mut self) -> Option<Node> {
        self.attempt(|p| {
            if !p.eat(b'`') {
                return None;
            }
            let start = p.p;
            if p.eat_while(|c| c != 0x60 && c != 0x0A) == 0 {
                return None;
            }
            let end = p.p;
            p.eat(b'`').then(|| Node::InlineCode(p.text(start, end)))
        })
    }

    fn spoiler(&mut self) -> Option<Node> {
        self.attempt(|p| {
            if !p.lit("||") {
                return None;
            }
            let mut items = Vec::new();
            while !p.starts("||") {
                match p.inline_item().or_else(|| p.any_char()) {
                    Some(item) => items.push(item),
                    None => break,
                }
            }
            if items.is_empty() || !p.lit("||") {
                return None;
            }
            Some(Node::Spoiler(reduce(items)))
        })
    }

    fn color(&mut self) -> Option<Node> {
        if !self.opts.colors {
            return None;
        }
        self.attempt(|p| {
            if !p.lit("color:#") {
                return None;
            }
            let start = p.p;
            let mut bytes = Vec::new();
            while bytes.len() < 4 && is_hex(p.c()) && is_hex(p.at(p.p + 1)) {
                bytes.push(hex_val(p.c()) * 16 + hex_val(p.at(p.p + 1)));
                p.p += 2;
            }
            if bytes.len() < 3 {
                p.p = start;
                bytes.clear();
                while bytes.len() < 4 && is_hex(p.c()) {
                    bytes.push(hex_val(p.c()) * 17);
                    p.p += 1;
                }
                if bytes.len() < 3 {
                    return None;
                }
            }
            if is_any_text(p.c()) {
                return None;
            }
            Some(Node::Color {
                r: bytes[0],
                g: bytes[1],
                b: bytes[2],
                a: bytes.get(3).copied().unwrap_or(255),
            })
        })
    }

    // ---- emphasis -----------------------------------------------------------------------------

    /// `** **`, `_ _`, `~~ ~~`: markers around blanks only stay text.
    fn emphasis_whitespace(&mut self) -> Option<Node> {
        let m = self.c();
        if !matches!(m, 0x2A | 0x5F | 0x7E) {
            return None;
        }
        self.attempt(|p| {
            let start = p.p;
            p.p = p.same_run_end(start);
            if p.eat_while(is_space) == 0 || p.eat_while(|c| c == m) == 0 {
                return None;
            }
            Some(Node::PlainText(p.text(start, p.p)))
        })
    }

    /// The end of the run of identical units at `i`, remembered so that trying a rule at every
    /// position of a long run does not rescan it.
    fn same_run_end(&mut self, i: usize) -> usize {
        let (start, end) = self.run_cache;
        if i >= start && i < end && self.s[i] == self.s[start] {
            return end;
        }
        let mut end = i;
        while end < self.s.len() && self.s[end] == self.s[i] {
            end += 1;
        }
        work::add(end - i);
        self.run_cache = (i, end);
        end
    }

    fn emphasis(&mut self) -> Option<Item> {
        self.bold()
            .map(Item::One)
            .or_else(|| self.italic())
            .or_else(|| self.strike().map(Item::One))
    }

    /// `**…**` or `*…*`.
    fn bold(&mut self) -> Option<Node> {
        self.guarded(Flag::Bold, |p| {
            p.delimited(b'*', |p| p.bold_content()).map(Node::Bold)
        })
    }

    fn strike(&mut self) -> Option<Node> {
        self.guarded(Flag::Strike, |p| {
            p.delimited(b'~', |p| p.strike_content()).map(Node::Strike)
        })
    }

    /// Double markers first, then single ones, around `content`.
    fn delimited(
        &mut self,
        m: u8,
        content: impl Fn(&mut Self) -> Option<Vec<Node>>,
    ) -> Option<Vec<Node>> {
        let double = [m, m];
        let double = std::str::from_utf8(&double).unwrap_or_default();
        self.attempt(|p| {
            if !p.lit(double) {
                return None;
            }
            let v = content(p)?;
            p.lit(double).then_some(v)
        })
        .or_else(|| {
            self.attempt(|p| {
                if !p.eat(m) {
                    return None;
                }
                let v = content(p)?;
                p.eat(m).then_some(v)
            })
        })
    }

    fn italic(&mut self) -> Option<Item> {
        self.guarded(Flag::Italic, |p| {
            // `word_` and `word__`: text, so snake_case never opens an italic.
            if let Some(n) = p.attempt(|p| {
                let start = p.p;
                if p.eat_while(is_ascii_alnum) == 0 || !p.eat(b'_') {
                    return None;
                }
                p.eat(b'_');
                Some(Node::PlainText(p.text(start, p.p)))
            }) {
                return Some(Item::One(n));
            }
            // `__a__b` and `_a_b`: the markers stay text when a word follows the closing one.
            for (marker, tail) in [
                ("__", is_ascii_alnum as fn(u32) -> bool),
                ("_", is_ascii_alpha),
            ] {
                if let Some(nodes) = p.attempt(|p| {
                    if !p.lit(marker) {
                        return None;
                    }
                    let inner = p.italic_content()?;
                    if !p.lit(marker) {
                        return None;
                    }
                    let start = p.p;
                    if p.eat_while(tail) == 0 {
                        return None;
                    }
                    let mut all = vec![Node::PlainText(marker.into())];
                    all.extend(inner);
                    all.push(Node::PlainText(marker.into()));
                    all.push(Node::PlainText(p.text(start, p.p)));
                    Some(reduce_nodes(all))
                }) {
                    return Some(Item::Many(nodes));
                }
            }
            p.delimited(b'_', |p| p.italic_content())
                .map(|v| Item::One(Node::Italic(v)))
        })
    }

    fn bold_content(&mut self) -> Option<Vec<Node>> {
        self.emphasis_content(Ctx::Bold)
    }

    fn italic_content(&mut self) -> Option<Vec<Node>> {
        self.emphasis_content(Ctx::Italic)
    }

    /// Bold and italic content share one grammar; only the delimiter that ends a word run
    /// and the emphasis that may nest inside differ.
    fn emphasis_content(&mut self, ctx: Ctx) -> Option<Vec<Node>> {
        let delimiter = if ctx == Ctx::Bold { 0x2A } else { 0x5F };
        let mut items = Vec::new();
        loop {
            let item = self.emphasis_preferred(ctx).or_else(|| {
                self.run(|c| !matches!(c, 0x0A | 0x2A | 0x20 | 0x5F | 0x7E))
                    .or_else(|| self.run1(|c| c != 0x0A && c != 0x20 && c != delimiter))
                    .or_else(|| self.line())
                    .map(Item::One)
            });
            match item {
                Some(i) => items.push(i),
                None => break,
            }
        }
        (!items.is_empty()).then(|| reduce(items))
    }

    /// The items bold or italic content tries before plain text.
    fn emphasis_preferred(&mut self, ctx: Ctx) -> Option<Item> {
        let one = |n: Option<Node>| n.map(Item::One);
        one(self.whitespace())
            .or_else(|| one(self.inline_code()))
            .or_else(|| one(self.timestamp()))
            .or_else(|| one(self.references()))
            .or_else(|| one(self.user_mention_after_text()))
            .or_else(|| one(self.channel_mention()))
            .or_else(|| match ctx {
                Ctx::Bold => self.italic(),
                _ => one(self.bold()),
            })
            .or_else(|| one(self.strike()))
            .or_else(|| one(self.emoji()))
            .or_else(|| one(self.inline_emoticon(ctx)))
    }

    fn strike_content(&mut self) -> Option<Vec<Node>> {
        let mut items = Vec::new();
        loop {
            let one = |n: Option<Node>| n.map(Item::One);
            let item = one(self.run(|c| {
                !(matches!(
                    c,
                    0x0A | 0x7E
                        | 0x20
                        | 0x2A
                        | 0x5F
                        | 0x3A
                        | 0x60
                        | 0x40
                        | 0x23
                        | 0x5B
                        | 0x5D
                        | 0x5C
                        | 0x3C
                        | 0x21
                        | 0x7C
                        | 0xD83C
                        | 0xD83D
                        | 0xD83E
                ) || (0x2300..=0x27BF).contains(&c))
            }))
            .or_else(|| one(self.escaped_timestamp()))
            .or_else(|| one(self.timestamp()))
            .or_else(|| one(self.whitespace()))
            .or_else(|| one(self.inline_code()))
            .or_else(|| one(self.references()))
            .or_else(|| one(self.user_mention_after_text()))
            .or_else(|| one(self.channel_mention()))
            .or_else(|| self.italic())
            .or_else(|| one(self.bold()))
            .or_else(|| one(self.emoji()))
            .or_else(|| one(self.emoticon()))
            .or_else(|| one(self.run1(|c| !matches!(c, 0x0A | 0x7E | 0x20))))
            .or_else(|| one(self.line()));
            match item {
                Some(i) => items.push(i),
                None => break,
            }
        }
        (!items.is_empty()).then(|| reduce(items))
    }

    /// A non-empty run of `pred` units, as text.
    fn run(&mut self, pred: impl Fn(u32) -> bool) -> Option<Node> {
        let start = self.p;
        (self.eat_while(pred) > 0).then(|| Node::PlainText(self.text(start, self.p)))
    }

    /// One `pred` unit, as text.
    fn run1(&mut self, pred: impl Fn(u32) -> bool) -> Option<Node> {
        let start = self.p;
        self.eat_if(pred)?;
        Some(Node::PlainText(self.text(start, self.p)))
    }

    /// `Line`: blanks, a run of `AnyText`, blanks.
    fn line(&mut self) -> Option<Node> {
        self.attempt(|p| {
            let start = p.p;
            p.eat_while(is_space);
            if p.eat_while(is_any_text) == 0 {
                return None;
            }
            p.eat_while(is_space);
            Some(Node::PlainText(p.text(start, p.p)))
        })
    }

    // ---- mentions and emoji -------------------------------------------------------------------

    /// `@name` (any number of `@`), with an optional `:part` or `@part`; names ending in `__`
    /// are not mentions.
    fn user_mention(&mut self) -> Option<Node> {
        self.attempt(|p| {
            if p.eat_while(|c| c == 0x40) == 0 {
                return None;
            }
            let start = p.p;
            if p.eat_while(|c| in_class(NAME_CHARS, c)) == 0 {
                return None;
            }
            p.attempt(|p| {
                p.eat_if(|c| c == 0x3A || c == 0x40)?;
                (p.eat_while(|c| in_class(NAME_CHARS, c)) > 0).then_some(())
            });
            let name = p.text(start, p.p);
            (!name.ends_with("__")).then_some(Node::MentionUser(name))
        })
    }

    /// In emphasis: `x@y` is text (a character glued before the `@`), else a mention.
    fn user_mention_after_text(&mut self) -> Option<Node> {
        self.glued(0x40).or_else(|| self.user_mention())
    }

    /// `<AnyText><marker>+<alphanumeric>` as text: the marker does not start a mention.
    fn glued(&mut self, marker: u32) -> Option<Node> {
        self.attempt(|p| {
            let start = p.p;
            p.eat_if(is_any_text)?;
            let t_end = p.p;
            let n = if marker == 0x40 {
                p.eat_while(|c| c == marker)
            } else {
                usize::from(p.eat_if(|c| c == marker).is_some())
            };
            if n == 0 {
                return None;
            }
            let c_start = p.p;
            p.eat_if(|c| in_class(ALNUM_CHARS, c))?;
            let m = char::from_u32(marker).unwrap_or('@');
            Some(Node::PlainText(format!(
                "{}{m}{}",
                p.text(start, t_end),
                p.text(c_start, p.p)
            )))
        })
    }

    fn channel_mention(&mut self) -> Option<Node> {
        self.glued(0x23).or_else(|| {
            self.attempt(|p| {
                if !p.eat(b'#') {
                    return None;
                }
                let start = p.p;
                (p.eat_while(|c| in_class(NAME_CHARS, c)) > 0)
                    .then(|| Node::MentionChannel(p.text(start, p.p)))
            })
        })
    }

    /// `:shortcode:` or a Unicode emoji.
    fn emoji(&mut self) -> Option<Node> {
        if let Some(n) = self.attempt(|p| {
            if !p.eat(b':') {
                return None;
            }
            let start = p.p;
            if p.eat_while(|c| is_ascii_alnum(c) || matches!(c, 0x2D | 0x5F | 0x2B | 0x2E)) == 0 {
                return None;
            }
            let name = p.text(start, p.p);
            p.eat(b':').then(|| Node::Emoji {
                text: name.clone(),
                short_code: name,
            })
        }) {
            return Some(n);
        }
        let end = emoji::unicode_emoji(self.s, self.p)?;
        let start = self.p;
        self.p = end;
        Some(Node::UnicodeEmoji(self.text(start, end)))
    }

    fn emoticon(&mut self) -> Option<Node> {
        if !self.opts.emoticons {
            return None;
        }
        let (end, text, code) = emoji::emoticon(self.s, self.p)?;
        self.p = end;
        Some(Node::Emoji {
            text: text.to_string(),
            short_code: code.to_string(),
        })
    }

    /// An emoticon followed by a blank, a line end, `*`, the end, or something the context
    /// would parse as an item of its own.
    fn inline_emoticon(&mut self, ctx: Ctx) -> Option<Node> {
        self.attempt(|p| {
            let node = p.emoticon()?;
            let c = p.c();
            let ok =
                is_neighbour(c) || (ctx == Ctx::Italic && c == 0x5F) || p.item_follows(ctx, p.p);
            ok.then_some(node)
        })
    }

    /// Whether the context's item rule matches at `q` (memoised by position and flags).
    ///
    /// `:):):)…` makes each emoticon's lookahead parse the next one; deciding the chain from its
    /// far end keeps the recursion shallow (the JavaScript parser instead overflows its stack
    /// after a few thousand).
    fn item_follows(&mut self, ctx: Ctx, q: usize) -> bool {
        let key = (q, self.flags, ctx as u8);
        if let Some(&ok) = self.item_ok.get(&key) {
            return ok;
        }
        let mut chain = Vec::new();
        let mut i = q;
        while let Some((end, _, _)) = emoji::emoticon(self.s, i).filter(|_| self.opts.emoticons) {
            if is_neighbour(self.at(end))
                || self.item_ok.contains_key(&(end, self.flags, ctx as u8))
            {
                break;
            }
            chain.push(end);
            i = end;
        }
        for &pos in chain.iter().rev() {
            self.decide_item(ctx, pos);
        }
        self.decide_item(ctx, q)
    }

    fn decide_item(&mut self, ctx: Ctx, q: usize) -> bool {
        let save = self.p;
        self.p = q;
        let ok = match ctx {
            Ctx::Inline => self.inline_item().is_some(),
            Ctx::Bold | Ctx::Italic => self.emphasis_preferred(ctx).is_some(),
        };
        self.p = save;
        self.item_ok.insert((q, self.flags, ctx as u8), ok);
        ok
    }

    // ---- phone, e-mail, URLs ------------------------------------------------------------------

    fn digits(&mut self) -> Option<String> {
        let start = self.p;
        (self.eat_while(is_digit) > 0).then(|| self.text(start, self.p))
    }

    /// `PhonePrefix`: digits, or `(digits)`: (text, number).
    fn phone_prefix(&mut self) -> Option<(String, String)> {
        if let Some(d) = self.digits() {
            return Some((d.clone(), d));
        }
        self.attempt(|p| {
            if !p.eat(b'(') {
                return None;
            }
            let d = p.digits()?;
            p.eat(b')').then(|| (format!("({d})"), d))
        })
    }

    /// `+` and digits with an optional `(area)` and one `-`: (text, number).
    fn phone_number(&mut self) -> Option<(String, String)> {
        self.attempt(|p| {
            if !p.eat(b'+') {
                return None;
            }
            let (text, number) = p
                .attempt(|p| {
                    let (t, n) = p.phone_prefix()?;
                    if !p.eat(b'-') {
                        return None;
                    }
                    let d = p.digits()?;
                    Some((format!("{t}-{d}"), format!("{n}{d}")))
                })
                .or_else(|| {
                    p.attempt(|p| {
                        let (t, n) = p.phone_prefix()?;
                        let d1 = p.digits()?;
                        if !p.eat(b'-') {
                            return None;
                        }
                        let d2 = p.digits()?;
                        Some((format!("{t}{d1}-{d2}"), format!("{n}{d1}{d2}")))
                    })
                })
                .or_else(|| {
                    p.attempt(|p| {
                        let (t, n) = p.phone_prefix()?;
                        let d = p.digits()?;
                        Some((format!("{t}{d}"), format!("{n}{d}")))
                    })
                })
                .or_else(|| p.digits().map(|d| (d.clone(), d)))?;
            Some((format!("+{text}"), number))
        })
    }

    fn phone(&mut self) -> Option<Node> {
        let (text, number) = self.phone_number()?;
        Some(if number.len() < 5 {
            Node::PlainText(text)
        } else {
            Node::Link {
                src: format!("tel:{number}"),
                label: vec![Node::PlainText(text)],
            }
        })
    }

    /// `DomainChar` at `i`, as a length: ASCII alphanumerics, or a unit that is not punctuation
    /// the grammar reserves. `_` and `-` take the following unit with them, so a domain never
    /// ends in either.
    fn domain_char_at(&self, i: usize) -> Option<usize> {
        let c = self.at(i);
        if is_ascii_alnum(c) {
            return Some(1);
        }
        if c == END || is_extra(c) {
            return None;
        }
        let (len, next) = if c == 0x5F || c == 0x2D {
            (2, self.at(i + 1))
        } else if is_safe(c) {
            return None;
        } else {
            (1, c)
        };
        let ok = next != END
            && !is_eol(next)
            && !is_space(next)
            && !matches!(
                next,
                0x5C | 0x2F | 0x7C | 0x3E | 0x3C | 0x25 | 0x60 | 0x5B | 0x5D
            );
        ok.then_some(len)
    }

    /// Consumes a run of domain characters. Run ends are memoised per start: `_a_a_a…` would
    /// otherwise be rescanned from every underscore.
    fn domain_chars(&mut self) -> usize {
        let start = self.p;
        if self.domain_run.is_empty() {
            self.domain_run = vec![u32::MAX; self.s.len() + 1];
        }
        let mut path = Vec::new();
        let mut i = start;
        let end = loop {
            if self.domain_run[i] != u32::MAX {
                break self.domain_run[i] as usize;
            }
            match self.domain_char_at(i) {
                Some(len) => {
                    path.push(i);
                    i += len;
                }
                None => break i,
            }
        };
        for k in path {
            self.domain_run[k] = end as u32;
        }
        self.domain_run[i.min(self.s.len())] = end as u32;
        self.p = end;
        end - start
    }

    /// `DomainName`: `localhost`, or labels with at least one dot, not starting with `_`.
    fn domain_name(&mut self) -> Option<(usize, usize)> {
        let start = self.p;
        if self.lit("localhost") {
            return Some((start, self.p));
        }
        self.attempt(|p| {
            if p.c() == 0x5F || p.domain_chars() == 0 {
                return None;
            }
            let mut dots = 0;
            while p.c() == 0x2E && p.domain_char_at(p.p + 1).is_some() {
                p.p += 1;
                p.domain_chars();
                dots += 1;
            }
            (dots > 0).then_some((start, p.p))
        })
    }

    /// `URLAuthorityHost`: a domain (or a dotted IPv4-like number) and an optional `:port`.
    fn url_host(&mut self) -> Option<()> {
        self.attempt(|p| {
            if p.domain_name().is_none() {
                let mut groups = 0;
                loop {
                    let save = p.p;
                    if groups > 0 && !p.eat(b'.') {
                        break;
                    }
                    if p.eat_while(is_digit) == 0 {
                        p.p = save;
                        break;
                    }
                    groups += 1;
                    if groups == 4 {
                        break;
                    }
                }
                if groups < 4 {
                    return None;
                }
            }
            p.attempt(|p| (p.eat(b':') && p.eat_while(is_digit) > 0).then_some(()));
            Some(())
        })
    }

    /// `URLScheme`: up to 32 of `[A-Za-z0-9+-]` and `:`.
    fn url_scheme(&mut self) -> Option<()> {
        self.attempt(|p| {
            let mut n = 0;
            while n < 32
                && p.eat_if(|c| is_ascii_alnum(c) || c == 0x2B || c == 0x2D)
                    .is_some()
            {
                n += 1;
            }
            (n > 0 && p.eat(b':')).then_some(())
        })
    }

    /// `//[user[:password]@]host`.
    fn url_authority(&mut self) -> Option<()> {
        self.attempt(|p| {
            if !p.lit("//") {
                return None;
            }
            p.attempt(|p| {
                let user = |c: u32| is_ascii_alnum(c) || (c != 0x40 && c != 0x2F && is_safe(c));
                if p.eat_while(user) == 0 {
                    return None;
                }
                p.attempt(|p| (p.eat(b':') && p.eat_while(user) > 0).then_some(()));
                p.eat(b'@').then_some(())
            });
            p.url_host()
        })
    }

    /// The head of a URL: `scheme://authority`, or else a bare host.
    fn url_head(&mut self) -> Option<()> {
        self.attempt(|p| {
            p.url_scheme()?;
            p.url_authority()
        })
        .or_else(|| self.url_host())
    }

    /// Whether `Extra* (blank | line end | end)` matches at `i` (punctuation that ends a URL).
    fn trailing_extra_at(&mut self, i: usize) -> bool {
        let q = self.lookup(Table::ExtEnd, i);
        let c = self.at(q);
        c == END || is_space(c) || is_eol(c)
    }

    fn autolinked_url(&mut self) -> Option<Node> {
        let stop = self.lookup(Table::UrlStop, self.p);
        if !(self.starts_at(stop, "://") || self.at(stop) == 0x2E) {
            return None;
        }
        self.attempt(|p| {
            let start = p.p;
            p.url_head()?;
            loop {
                let c = p.c();
                if c == END {
                    break;
                }
                let fast = !(is_space(c) || is_eol(c) || is_extra(c));
                if fast || !p.trailing_extra_at(p.p) {
                    p.p += 1;
                } else {
                    break;
                }
            }
            let raw = &p.s[start..p.p];
            let text = p.text(start, p.p);
            Some(if url::is_linkable(raw, &p.opts.custom_domains) {
                Node::Link {
                    src: url::link_src(&text),
                    label: vec![Node::PlainText(text)],
                }
            } else {
                Node::PlainText(text)
            })
        })
    }

    /// `_` + domain, not followed by `_`: text, so `_example.com_` stays an italic candidate.
    fn underscore_domain(&mut self) -> Option<Node> {
        self.attempt(|p| {
            let start = p.p;
            if !p.eat(b'_') {
                return None;
            }
            p.domain_name()?;
            (p.c() != 0x5F).then(|| Node::PlainText(p.text(start, p.p)))
        })
    }

    fn local_part(&mut self) -> Option<()> {
        let segment = |p: &mut Self| -> bool {
            if p.eat_if(|c| in_class(LOCAL_PART_CHARS, c)).is_none() {
                return false;
            }
            p.eat_while(|c| {
                in_class(LOCAL_PART_CHARS, c)
                    || b"!#$%&'*+/=?^_`{|}~-".contains(&(c as u8)) && c < 0x80
            });
            true
        };
        if !segment(self) {
            return None;
        }
        loop {
            let save = self.p;
            if !(self.eat(b'.') && segment(self)) {
                self.p = save;
                break;
            }
        }
        Some(())
    }

    fn autolinked_email(&mut self) -> Option<Node> {
        let stop = self.lookup(Table::WsAt, self.p);
        if self.at(stop) != 0x40 {
            return None;
        }
        self.attempt(|p| {
            p.lit("mailto:");
            let start = p.p;
            p.local_part()?;
            if !p.eat(b'@') {
                return None;
            }
            p.domain_name()?;
            let address = &p.s[start..p.p];
            let text = p.text(start, p.p);
            Some(if url::is_mailable(address) {
                Node::Link {
                    src: format!("mailto:{text}"),
                    label: vec![Node::PlainText(text)],
                }
            } else {
                Node::PlainText(text)
            })
        })
    }

    // ---- links and images ---------------------------------------------------------------------

    fn references(&mut self) -> Option<Node> {
        self.guarded(Flag::References, |p| {
            p.markdown_link().or_else(|| p.angle_link())
        })
    }

    /// `[label](target)`.
    fn markdown_link(&mut self) -> Option<Node> {
        self.attempt(|p| {
            if !p.eat(b'[') || p.lookup(Table::LinkMid, p.p) >= p.s.len() {
                return None;
            }
            let mut titles = Vec::new();
            while let Some(t) = p.link_title() {
                titles.push(t);
            }
            if !p.lit("](") {
                return None;
            }
            let href = p.markdown_target()?;
            if !p.eat(b')') {
                return None;
            }
            let href = p.href(href);
            let label = if titles.is_empty() {
                vec![Node::PlainText(href.clone())]
            } else {
                reduce(titles)
            };
            Some(Node::Link { src: href, label })
        })
    }

    fn link_title(&mut self) -> Option<Item> {
        if let Some(w) = self.whitespace() {
            return Some(Item::One(w));
        }
        if let Some(e) = self.emphasis() {
            return Some(e);
        }
        if let Some(r) = self.run(|c| {
            !matches!(
                c,
                0x5D | 0x28 | 0x29 | 0x2A | 0x5F | 0x7E | 0x20 | 0x09 | 0x0D | 0x0A
            )
        }) {
            return Some(Item::One(r));
        }
        if self.c() == END {
            return None;
        }
        // `](` followed by anything closes the label …
        if self.starts("](") && self.at(self.p + 2) != END {
            return None;
        }
        // … and so does `] [` when a `](` follows before the next `]`.
        if self.starts("] [") {
            let mut i = self.p + 3;
            while self.at(i) != END && self.at(i) != 0x5D {
                i += 1;
            }
            if self.starts_at(i, "](") {
                return None;
            }
        }
        let start = self.p;
        self.p += 1;
        Some(Item::One(Node::PlainText(self.text(start, self.p))))
    }

    /// Whether a URL body must stop at `i`: trailing punctuation before a blank or line end,
    /// or a blank (markdown targets).
    fn md_body_stops(&mut self, i: usize) -> bool {
        let c = self.at(i);
        if is_space(c) {
            return true;
        }
        let q = self.lookup(Table::MdExtEnd, i);
        q > i && (is_space(self.at(q)) || is_eol(self.at(q)))
    }

    /// `MarkdownLinkURLBody` steps: URL characters and balanced `( … )` groups.
    fn markdown_body(&mut self) -> usize {
        let start = self.p;
        loop {
            if self.md_body_stops(self.p) || self.c() == 0x29 {
                break;
            }
            if self.eat_if(is_md_url_char).is_some() {
                continue;
            }
            let save = self.p;
            if self.eat(b'(') {
                while !(is_space(self.c()) || is_eol(self.c()) || self.c() == 0x29)
                    && self.eat_if(is_url_char).is_some()
                {}
                if self.eat(b')') {
                    continue;
                }
            }
            self.p = save;
            break;
        }
        self.p - start
    }

    /// The target of `[label](…)` and `![alt](…)`; text is only built once the link matched.
    fn markdown_target(&mut self) -> Option<Href> {
        let start = self.p;
        if self.url_head().is_some() {
            self.markdown_body();
            return Some(Href::Span(start, self.p));
        }
        if let Some(t) = self.attempt(|p| {
            p.url_scheme()?;
            (p.markdown_body() > 0).then_some(Href::Span(start, p.p))
        }) {
            return Some(t);
        }
        self.phone_number().map(|(_, n)| Href::Tel(n))
    }

    fn href(&self, h: Href) -> String {
        match h {
            Href::Span(a, b) => self.text(a, b),
            Href::Tel(n) => format!("tel:{n}"),
        }
    }

    /// `URLBody` of `<url|label>`: stops before trailing punctuation and blanks. Where it stops
    /// does not depend on where it started, so the stops are computed once.
    fn angle_body(&mut self) -> usize {
        if self.angle_stop.is_empty() {
            let mut stops = vec![self.s.len() as u32; self.s.len() + 1];
            for i in (0..self.s.len()).rev() {
                let c = self.at(i);
                let stop =
                    is_space(c) || (is_extra(c) && self.trailing_extra_at(i)) || !is_url_char(c);
                stops[i] = if stop { i as u32 } else { stops[i + 1] };
            }
            self.angle_stop = stops;
        }
        let start = self.p;
        self.p = self.angle_stop[start] as usize;
        self.p - start
    }

    /// `<target|label>`.
    fn angle_link(&mut self) -> Option<Node> {
        self.attempt(|p| {
            if !p.eat(b'<') {
                return None;
            }
            let start = p.p;
            let href = if p.url_head().is_some() {
                p.angle_body();
                Href::Span(start, p.p)
            } else if let Some(t) = p.attempt(|p| {
                p.url_scheme()?;
                (p.angle_body() > 0).then_some(Href::Span(start, p.p))
            }) {
                t
            } else {
                Href::Tel(p.phone_number()?.1)
            };
            if !p.eat(b'|') {
                return None;
            }
            let t_start = p.p;
            let label_char = |c: u32| {
                (0x20..=0x3B).contains(&c)
                    || c == 0x3D
                    || (0x3F..=0x7B).contains(&c)
                    || (0x7D..=0xFFFF).contains(&c)
            };
            if p.eat_while(label_char) == 0 {
                return None;
            }
            let t_end = p.p;
            p.eat(b'>').then(|| Node::Link {
                src: p.href(href),
                label: vec![Node::PlainText(p.text(t_start, t_end))],
            })
        })
    }

    /// `![alt](target)`.
    fn image(&mut self) -> Option<Node> {
        self.attempt(|p| {
            if !p.lit("![") {
                return None;
            }
            let title = p.line();
            if !p.lit("](") {
                return None;
            }
            let href = p.markdown_target()?;
            if !p.eat(b')') {
                return None;
            }
            let href = p.href(href);
            let label = title.unwrap_or_else(|| Node::PlainText(href.clone()));
            Some(Node::Image {
                src: href,
                label: Box::new(label),
            })
        })
    }
}

/// A link target: a source range, or the digits of a `tel:` link.
enum Href {
    Span(usize, usize),
    Tel(String),
}

/// Which rule an emoticon is read in: each checks a different lookahead after it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Inline,
    Bold,
    Italic,
}

/// A table cell's text loses its leading and trailing blanks (JavaScript `\s`).
fn trim_cell(mut v: Vec<Node>) -> Vec<Node> {
    if let Some(Node::PlainText(s)) = v.first() {
        let t = s.trim_start_matches(is_js_space).to_string();
        if t.is_empty() {
            v.remove(0);
        } else {
            v[0] = Node::PlainText(t);
        }
    }
    if let Some(Node::PlainText(s)) = v.last() {
        let t = s.trim_end_matches(is_js_space).to_string();
        let last = v.len() - 1;
        if t.is_empty() {
            v.pop();
        } else {
            v[last] = Node::PlainText(t);
        }
    }
    v
}
