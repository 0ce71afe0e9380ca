//! `reducePlainTexts`: the official parser's post-processing of every inline list. Adjacent
//! PLAIN_TEXT nodes are merged, nested lists (from `__a__b`-style italics) are flattened, and a
//! `:shortcode:` or emoticon that touches text or another emoji is turned back into text.

use super::ast::Node;
use crate::is_js_space;

/// A parsed inline item: one node, or the node list some italic fallbacks produce.
pub(super) enum Item {
    One(Node),
    Many(Vec<Node>),
}

/// JavaScript `String.prototype.trim() !== ""`.
fn has_non_space(s: &str) -> bool {
    s.chars().any(|c| !is_js_space(c))
}

fn push_merged(out: &mut Vec<Node>, node: Node) {
    if let (Node::PlainText(add), Some(Node::PlainText(last))) = (&node, out.last_mut()) {
        last.push_str(add);
        return;
    }
    out.push(node);
}

fn is_emoji(node: Option<&Node>) -> bool {
    matches!(node, Some(Node::Emoji { .. } | Node::UnicodeEmoji(_)))
}

fn is_text(node: Option<&Node>) -> bool {
    matches!(node, Some(Node::PlainText(s)) if has_non_space(s))
}

/// The emoji rule: a text-valued EMOJI next to another EMOJI or to non-blank text goes back to
/// its source text.
fn demoted(node: &Node, prev: Option<&Node>, next: Option<&Node>) -> bool {
    matches!(node, Node::Emoji { .. })
        && (prev.is_some() || next.is_some())
        && (is_emoji(prev) || is_emoji(next) || is_text(prev) || is_text(next))
}

fn as_text(node: Node) -> Node {
    match node {
        Node::Emoji { text, short_code } if short_code != text => Node::PlainText(text),
        Node::Emoji { text, .. } => Node::PlainText(format!(":{text}:")),
        other => other,
    }
}

pub(super) fn reduce(items: Vec<Item>) -> Vec<Node> {
    let complex = items.iter().any(|i| {
        matches!(
            i,
            Item::Many(_) | Item::One(Node::Emoji { .. } | Node::UnicodeEmoji(_))
        )
    });
    let mut out = Vec::with_capacity(items.len());
    if !complex {
        for item in items {
            if let Item::One(node) = item {
                push_merged(&mut out, node);
            }
        }
        return out;
    }
    let flat: Vec<Node> = items
        .into_iter()
        .flat_map(|i| match i {
            Item::One(n) => vec![n],
            Item::Many(v) => v,
        })
        .collect();
    // The neighbours the rule looks at are the original nodes, before any of them is demoted.
    let decisions: Vec<bool> = (0..flat.len())
        .map(|i| {
            let prev = i.checked_sub(1).and_then(|j| flat.get(j));
            demoted(&flat[i], prev, flat.get(i + 1))
        })
        .collect();
    for (node, demote) in flat.into_iter().zip(decisions) {
        push_merged(&mut out, if demote { as_text(node) } else { node });
    }
    out
}

/// `reducePlainTexts` over a node list (the rebuilt `_a_b` italic fallbacks).
pub(super) fn reduce_nodes(nodes: Vec<Node>) -> Vec<Node> {
    reduce(nodes.into_iter().map(Item::One).collect())
}
