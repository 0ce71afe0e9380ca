//! AST nodes and their JSON form. Keys are written in the order the JavaScript objects have them
//! and `undefined` members are left out, so `serde_json` output is byte-identical to
//! `JSON.stringify` of the official AST.

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

/// Column alignment of a table, from `:--`, `--:` or `:-:` in the separator row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
    Center,
}

/// One TABLE_CELL; `align` is absent when the separator has no colon.
#[derive(Debug, Clone, PartialEq)]
pub struct TableCell {
    pub align: Option<Align>,
    pub value: Vec<Node>,
}

/// A node of the message AST, named after its `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    PlainText(String),
    Paragraph(Vec<Node>),
    Bold(Vec<Node>),
    Italic(Vec<Node>),
    Strike(Vec<Node>),
    Spoiler(Vec<Node>),
    InlineCode(String),
    Heading {
        level: u8,
        value: Vec<Node>,
    },
    /// `lines` are the CODE_LINE texts.
    Code {
        language: String,
        lines: Vec<String>,
    },
    Quote(Vec<Node>),
    SpoilerBlock(Vec<Node>),
    Tasks(Vec<Node>),
    Task {
        status: bool,
        value: Vec<Node>,
    },
    OrderedList(Vec<Node>),
    UnorderedList(Vec<Node>),
    /// `number` is set for ordered-list items (`parseInt` of the digits).
    ListItem {
        value: Vec<Node>,
        number: Option<f64>,
    },
    Link {
        src: String,
        label: Vec<Node>,
    },
    Image {
        src: String,
        label: Box<Node>,
    },
    MentionUser(String),
    MentionChannel(String),
    /// A `:shortcode:` (`text` == `short_code`) or an emoticon (`text` is e.g. `:)`).
    Emoji {
        text: String,
        short_code: String,
    },
    UnicodeEmoji(String),
    BigEmoji(Vec<Node>),
    Color {
        r: u8,
        g: u8,
        b: u8,
        a: u8,
    },
    Katex(String),
    InlineKatex(String),
    /// `fallback` is the UTF-16 source range of the whole `<t:…>` markup.
    Timestamp {
        timestamp: String,
        format: char,
        fallback: (usize, usize),
    },
    LineBreak,
    /// `fallback` is the UTF-16 source range of the dashes.
    HorizontalRule {
        fallback: (usize, usize),
    },
    Table {
        header: Vec<TableCell>,
        rows: Vec<Vec<TableCell>>,
        fallback: (usize, usize),
    },
}

impl Node {
    /// The child nodes of container nodes (empty for leaves).
    pub fn children(&self) -> &[Node] {
        match self {
            Node::Paragraph(v)
            | Node::Bold(v)
            | Node::Italic(v)
            | Node::Strike(v)
            | Node::Spoiler(v)
            | Node::Quote(v)
            | Node::SpoilerBlock(v)
            | Node::Tasks(v)
            | Node::OrderedList(v)
            | Node::UnorderedList(v)
            | Node::BigEmoji(v)
            | Node::Heading { value: v, .. }
            | Node::Task { value: v, .. }
            | Node::ListItem { value: v, .. }
            | Node::Link { label: v, .. } => v,
            _ => &[],
        }
    }
}

/// `{"type":"PLAIN_TEXT","value":…}`, the wrapper of every string leaf.
struct Plain<'a>(&'a str);

impl Serialize for Plain<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("type", "PLAIN_TEXT")?;
        m.serialize_entry("value", self.0)?;
        m.end()
    }
}

struct Range((usize, usize));

impl Serialize for Range {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(2))?;
        seq.serialize_element(&self.0 .0)?;
        seq.serialize_element(&self.0 .1)?;
        seq.end()
    }
}

struct Cells<'a>(&'a [TableCell]);

impl Serialize for Cells<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for cell in self.0 {
            seq.serialize_element(cell)?;
        }
        seq.end()
    }
}

impl Serialize for TableCell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", "TABLE_CELL")?;
        if let Some(align) = self.align {
            let name = match align {
                Align::Left => "left",
                Align::Right => "right",
                Align::Center => "center",
            };
            m.serialize_entry("align", name)?;
        }
        m.serialize_entry("value", &self.value)?;
        m.end()
    }
}

struct Rows<'a>(&'a [Vec<TableCell>]);

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for row in self.0 {
            seq.serialize_element(&Row(row))?;
        }
        seq.end()
    }
}

struct Row<'a>(&'a [TableCell]);

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("type", "TABLE_ROW")?;
        m.serialize_entry("value", &Cells(self.0))?;
        m.end()
    }
}

/// A LINK/IMAGE `value` object.
struct Target<'a, L: Serialize>(&'a str, L);

impl<L: Serialize> Serialize for Target<'_, L> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("src", &Plain(self.0))?;
        m.serialize_entry("label", &self.1)?;
        m.end()
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        let (kind, children) = match self {
            Node::Paragraph(v) => ("PARAGRAPH", v),
            Node::Bold(v) => ("BOLD", v),
            Node::Italic(v) => ("ITALIC", v),
            Node::Strike(v) => ("STRIKE", v),
            Node::Spoiler(v) => ("SPOILER", v),
            Node::Quote(v) => ("QUOTE", v),
            Node::SpoilerBlock(v) => ("SPOILER_BLOCK", v),
            Node::Tasks(v) => ("TASKS", v),
            Node::OrderedList(v) => ("ORDERED_LIST", v),
            Node::UnorderedList(v) => ("UNORDERED_LIST", v),
            Node::BigEmoji(v) => ("BIG_EMOJI", v),
            _ => {
                self.serialize_leaf(&mut m)?;
                return m.end();
            }
        };
        m.serialize_entry("type", kind)?;
        m.serialize_entry("value", children)?;
        m.end()
    }
}

impl Node {
    fn serialize_leaf<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        match self {
            Node::PlainText(v) => {
                m.serialize_entry("type", "PLAIN_TEXT")?;
                m.serialize_entry("value", v)
            }
            Node::InlineCode(v) => {
                m.serialize_entry("type", "INLINE_CODE")?;
                m.serialize_entry("value", &Plain(v))
            }
            Node::MentionUser(v) => {
                m.serialize_entry("type", "MENTION_USER")?;
                m.serialize_entry("value", &Plain(v))
            }
            Node::MentionChannel(v) => {
                m.serialize_entry("type", "MENTION_CHANNEL")?;
                m.serialize_entry("value", &Plain(v))
            }
            Node::Heading { level, value } => {
                m.serialize_entry("type", "HEADING")?;
                m.serialize_entry("level", level)?;
                m.serialize_entry("value", value)
            }
            Node::Code { language, lines } => {
                m.serialize_entry("type", "CODE")?;
                m.serialize_entry("language", language)?;
                m.serialize_entry("value", &CodeLines(lines))
            }
            Node::Task { status, value } => {
                m.serialize_entry("type", "TASK")?;
                m.serialize_entry("status", status)?;
                m.serialize_entry("value", value)
            }
            Node::ListItem { value, number } => {
                m.serialize_entry("type", "LIST_ITEM")?;
                m.serialize_entry("value", value)?;
                match number {
                    // Integral values print without a fraction, as JSON.stringify does.
                    Some(n) if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 => {
                        m.serialize_entry("number", &(*n as i64))
                    }
                    Some(n) => m.serialize_entry("number", n),
                    None => Ok(()),
                }
            }
            Node::Link { src, label } => {
                m.serialize_entry("type", "LINK")?;
                m.serialize_entry("value", &Target(src, label))
            }
            Node::Image { src, label } => {
                m.serialize_entry("type", "IMAGE")?;
                m.serialize_entry("value", &Target(src, label))
            }
            Node::Emoji { text, short_code } => {
                m.serialize_entry("type", "EMOJI")?;
                m.serialize_entry("value", &Plain(text))?;
                m.serialize_entry("shortCode", short_code)
            }
            Node::UnicodeEmoji(v) => {
                m.serialize_entry("type", "EMOJI")?;
                m.serialize_entry("unicode", v)
            }
            Node::Color { r, g, b, a } => {
                m.serialize_entry("type", "COLOR")?;
                m.serialize_entry("value", &Rgba(*r, *g, *b, *a))
            }
            Node::Katex(v) => {
                m.serialize_entry("type", "KATEX")?;
                m.serialize_entry("value", v)
            }
            Node::InlineKatex(v) => {
                m.serialize_entry("type", "INLINE_KATEX")?;
                m.serialize_entry("value", v)
            }
            Node::Timestamp {
                timestamp,
                format,
                fallback,
            } => {
                m.serialize_entry("type", "TIMESTAMP")?;
                m.serialize_entry("value", &Stamp(timestamp, *format))?;
                m.serialize_entry("fallback", &Range(*fallback))
            }
            Node::LineBreak => m.serialize_entry("type", "LINE_BREAK"),
            Node::HorizontalRule { fallback } => {
                m.serialize_entry("type", "HORIZONTAL_RULE")?;
                m.serialize_entry("fallback", &Range(*fallback))
            }
            Node::Table {
                header,
                rows,
                fallback,
            } => {
                m.serialize_entry("type", "TABLE")?;
                m.serialize_entry("value", &TableValue(header, rows))?;
                m.serialize_entry("fallback", &Range(*fallback))
            }
            _ => unreachable!("container nodes are serialized by Node::serialize"),
        }
    }
}

struct CodeLines<'a>(&'a [String]);

impl Serialize for CodeLines<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for line in self.0 {
            seq.serialize_element(&CodeLine(line))?;
        }
        seq.end()
    }
}

struct CodeLine<'a>(&'a str);

impl Serialize for CodeLine<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("type", "CODE_LINE")?;
        m.serialize_entry("value", &Plain(self.0))?;
        m.end()
    }
}

struct Rgba(u8, u8, u8, u8);

impl Serialize for Rgba {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("r", &self.0)?;
        m.serialize_entry("g", &self.1)?;
        m.serialize_entry("b", &self.2)?;
        m.serialize_entry("a", &self.3)?;
        m.end()
    }
}

struct Stamp<'a>(&'a str, char);

impl Serialize for Stamp<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("timestamp", self.0)?;
        m.serialize_entry("format", &self.1)?;
        m.end()
    }
}

struct TableValue<'a>(&'a [TableCell], &'a [Vec<TableCell>]);

impl Serialize for TableValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("header", &Cells(self.0))?;
        m.serialize_entry("rows", &Rows(self.1))?;
        m.end()
    }
}
