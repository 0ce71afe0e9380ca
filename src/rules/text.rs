//! The text of a push notification, built exactly as Rocket.Chat 7.x builds it for `push.get`
//! (rocketchat-push.md §2.1 steps 2–4): mention replacement or emoji conversion, the
//! upload and end-to-end placeholders, then the markdown filter ([`super::markdown_filter`]).
//!
//! Everything here is pure. JavaScript semantics are reproduced by hand where they matter:
//! `String.prototype.replace` expands `$` patterns, and attachment facts use JavaScript
//! truthiness.

use std::borrow::Cow;

use serde_json::Value;

use emoji::shortname_to_unicode;

use super::markdown_filter::filter_markdown;

/// English `You_have_a_new_message` (packages/i18n/src/locales/en.i18n.json).
pub const YOU_HAVE_A_NEW_MESSAGE: &str = "You have a new message";
/// English `User_uploaded_image`.
const USER_UPLOADED_IMAGE: &str = "Uploaded an image";
/// English `User_uploaded_file`.
const USER_UPLOADED_FILE: &str = "Uploaded a file";
/// English `Encrypted_message`.
const ENCRYPTED_MESSAGE: &str = "Encrypted message";

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
        // Raw keys: a stored attachment is opaque client JSON of any shape; these are its facts.
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
}
