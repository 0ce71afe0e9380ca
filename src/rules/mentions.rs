//! What a new message's text refers to: `@user`, `@all`/`@here`, `#channel` (Rocket.Chat's
//! `MentionsParser`, default `UTF8_User_Names_Validation` pattern) and URLs
//! (`getMessageUrlRegex`), found outside code spans and blocks.

use std::sync::OnceLock;

use regex::Regex;

use message_parser as md;

/// `(^|\s|>)@(P(@P)?(:P)?)` with P = `[0-9a-zA-Z-_.]+`, multiline.
fn user_regex() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?m)(?:^|\s|>)@([0-9a-zA-Z_.\-]+(?:@[0-9a-zA-Z_.\-]+)?(?::[0-9a-zA-Z_.\-]+)?)")
            .unwrap_or_else(|e| panic!("static regex: {e}"))
    })
}

/// `(^|\s|>)#(P(@P)?)`, multiline.
fn channel_regex() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?m)(?:^|\s|>)#([0-9a-zA-Z_.\-]+(?:@[0-9a-zA-Z_.\-]+)?)")
            .unwrap_or_else(|e| panic!("static regex: {e}"))
    })
}

/// Rocket.Chat's URL pattern, with JS's ASCII `\w`.
fn url_regex() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(
            r"([A-Za-z]{3,9})://([\-;:&=+$,0-9A-Za-z_]+@)?([\-A-Za-z0-9.]+)+:?(\d+)?((/[\-+=!:~%/.@,0-9A-Za-z_]*)?\??([\-+=&!:;%@/.,0-9A-Za-z_]+)?(?:#([^\s)]+))?)?",
        )
        .unwrap_or_else(|e| panic!("static regex: {e}"))
    })
}

/// What a new message's text yields: its `md` AST and the names and links it refers to.
#[derive(Debug)]
pub struct TextFields {
    /// Absent when the text is empty or the official parser would throw.
    pub md: Option<Vec<md::Node>>,
    pub users: Vec<String>,
    pub channels: Vec<String>,
    pub urls: Vec<String>,
}

/// Parses `text` as Rocket.Chat does on save. Mentions, channels and URLs come from the AST,
/// so they always agree with it; without an AST they are read from the text.
pub fn text_fields(text: &str, options: &md::Options) -> TextFields {
    let ast = if text.is_empty() {
        None
    } else {
        md::parse(text, options)
    };
    match ast {
        Some(ast) => {
            let refs = md::references(&ast);
            TextFields {
                md: Some(ast),
                users: refs.users,
                channels: refs.channels,
                urls: refs.urls,
            }
        }
        None => TextFields {
            md: None,
            users: mentioned_usernames(text),
            channels: mentioned_channels(text),
            urls: urls(text),
        },
    }
}

/// Names in order of first appearance, without repeats.
fn unique(found: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in found {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// A message's `@` mentions, as written (`all` and `here` included).
pub fn mentioned_usernames(msg: &str) -> Vec<String> {
    let text = without_code(msg);
    unique(user_regex().captures_iter(&text).map(|c| c[1].to_string()))
}

/// A message's `#` mentions.
pub fn mentioned_channels(msg: &str) -> Vec<String> {
    let text = without_code(msg);
    unique(
        channel_regex()
            .captures_iter(&text)
            .map(|c| c[1].to_string()),
    )
}

/// The URLs Rocket.Chat lists in `urls`, in order, without repeats.
pub fn urls(msg: &str) -> Vec<String> {
    let text = without_code(msg);
    unique(url_regex().find_iter(&text).map(|m| m.as_str().to_string()))
}

/// The text with ```` ``` ```` blocks and `` `inline` `` spans blanked out, so that nothing
/// inside code counts as a mention or link.
fn without_code(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let fence = if after.starts_with("```") { "```" } else { "`" };
        let body = &after[fence.len()..];
        match body.find(fence) {
            Some(end) if fence == "```" || !body[..end].contains('\n') => {
                out.push(' ');
                rest = &body[end + fence.len()..];
            }
            _ => {
                out.push_str(fence);
                rest = body;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_mentions_like_rocket_chat() {
        assert_eq!(
            mentioned_usernames("hi @rocket.cat and @all"),
            ["rocket.cat", "all"]
        );
        assert_eq!(mentioned_usernames("mail a@b.com"), Vec::<String>::new());
        assert_eq!(mentioned_usernames(">@bob @bob\n@eve"), ["bob", "eve"]);
        assert_eq!(mentioned_usernames("`@code` @real"), ["real"]);
        assert_eq!(
            mentioned_channels("see #general please, #random#x"),
            ["general", "random"]
        );
        assert_eq!(mentioned_channels("a#b"), Vec::<String>::new());
    }

    #[test]
    fn finds_urls_outside_code() {
        assert_eq!(
            urls("visit https://rocket.chat/docs?a=1 now, ```http://hidden.x```"),
            ["https://rocket.chat/docs?a=1"]
        );
        assert!(urls("fsfs").is_empty());
    }

    proptest! {
        #[test]
        fn never_panics_and_finds_only_what_is_written(s in "\\PC{0,80}") {
            for u in mentioned_usernames(&s) {
                let needle = format!("@{u}");
                prop_assert!(s.contains(&needle));
            }
            for c in mentioned_channels(&s) {
                let needle = format!("#{c}");
                prop_assert!(s.contains(&needle));
            }
            for u in urls(&s) {
                prop_assert!(s.contains(&u));
            }
        }
    }
}
