//! What a client may put in a message: `processWebhookMessage`'s mapping of a
//! `chat.postMessage` body, and `validateMessage`'s checks (`sendMessage.ts`), with the exact
//! texts Meteor's `check()` produces for them.
//!
//! Rocket.Chat nests `check()` calls: each field is checked by an inner `check`, whose error
//! the outer `check` wraps again, so a wrongly typed field reads
//! `Match error: Match error: Expected string, got number in field title`, and one checked
//! by a URL validator (a `Match.Where` that itself calls `check`) carries a third prefix.
//!
//! The bodies are read by raw key on purpose: they are client JSON, judged and mapped as
//! Rocket.Chat does before any typed document exists, and unknown keys pass through as sent.

use serde_json::Value;

use super::js::js_trim;
use super::text::js_truthy;
use crate::model::Doc;

/// Why `validateMessage` refused a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// A `check()` failure: the whole `Match error: …` text.
    Match(String),
    /// A URL field that is neither absolute (`http(s)://`, `data:`) nor an upload path, or
    /// (for `avatar`) relative.
    Href,
    /// An attachment field whose `title` or `value` is falsy.
    FieldIncomplete,
    /// JavaScript reading a property of `null` (an attachment, field or action that is null).
    NullRead(&'static str),
    /// `alias` or `avatar` set by a sender without `message-impersonate`.
    Impersonation,
    /// `customFields` while `Message_CustomFields_Enabled` is off (its default; rcpush keeps
    /// it off).
    CustomFields,
}

impl Rejection {
    /// The `error` text Rocket.Chat answers with.
    pub fn text(&self) -> String {
        match self {
            Rejection::Match(text) => text.clone(),
            Rejection::Href => "Invalid href value provided".into(),
            Rejection::FieldIncomplete => {
                "Invalid attachment field, title and value is required".into()
            }
            Rejection::NullRead(key) => format!("Cannot read properties of null (reading '{key}')"),
            Rejection::Impersonation => "Not enough permission".into(),
            Rejection::CustomFields => "Custom fields not enabled".into(),
        }
    }
}

/// A field's expected form in `validateMessage`'s patterns.
#[derive(Clone, Copy)]
enum Pattern {
    String,
    Number,
    Boolean,
    /// `Match.OneOf(String, Number)`.
    StringOrNumber,
    /// `Match.OneOf(String, Number, Boolean)`.
    Scalar,
    /// `Object`: a plain object.
    Object,
    /// `[Match.Any]`: an array.
    Array,
    /// `validFullURLParam`.
    FullUrl,
    /// `validPartialURLParam`.
    PartialUrl,
}

use Pattern as P;

/// The message's own fields (`validateMessage`), in the pattern's key order.
const MESSAGE: &[(&str, Pattern)] = &[
    ("_id", P::String),
    ("msg", P::String),
    ("text", P::String),
    ("alias", P::String),
    ("emoji", P::String),
    ("tmid", P::String),
    ("tshow", P::Boolean),
    ("avatar", P::PartialUrl),
    ("attachments", P::Array),
    ("blocks", P::Array),
];

/// `validateAttachment`'s pattern.
const ATTACHMENT: &[(&str, Pattern)] = &[
    ("color", P::String),
    ("text", P::String),
    ("ts", P::StringOrNumber),
    ("thumb_url", P::FullUrl),
    ("button_alignment", P::String),
    ("actions", P::Array),
    ("message_link", P::FullUrl),
    ("collapsed", P::Boolean),
    ("author_name", P::String),
    ("author_link", P::FullUrl),
    ("author_icon", P::FullUrl),
    ("title", P::String),
    ("title_link", P::FullUrl),
    ("title_link_download", P::Boolean),
    ("image_dimensions", P::Object),
    ("image_url", P::FullUrl),
    ("image_preview", P::String),
    ("image_type", P::String),
    ("image_size", P::Number),
    ("audio_url", P::FullUrl),
    ("audio_type", P::String),
    ("audio_size", P::Number),
    ("video_url", P::FullUrl),
    ("video_type", P::String),
    ("video_size", P::Number),
    ("fields", P::Array),
];

/// `validateAttachmentsFields`' pattern.
const FIELD: &[(&str, Pattern)] = &[
    ("short", P::Boolean),
    ("title", P::String),
    ("value", P::Scalar),
];

/// `validateAttachmentsActions`' pattern.
const ACTION: &[(&str, Pattern)] = &[
    ("type", P::String),
    ("text", P::String),
    ("url", P::FullUrl),
    ("image_url", P::FullUrl),
    ("is_webview", P::Boolean),
    ("webview_height_ratio", P::String),
    ("msg", P::String),
    ("msg_in_chat_window", P::Boolean),
];

/// JavaScript's `typeof` of a JSON value.
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null | Value::Array(_) | Value::Object(_) => "object",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
    }
}

/// `check()`'s base message when `value` does not match a plain pattern.
fn mismatch(value: &Value, pattern: Pattern) -> Option<String> {
    let expected = |what: &str| format!("Expected {what}, got {}", type_of(value));
    match (pattern, value) {
        (P::String, Value::String(_))
        | (P::Number, Value::Number(_))
        | (P::Boolean, Value::Bool(_))
        | (P::StringOrNumber, Value::String(_) | Value::Number(_))
        | (P::Scalar, Value::String(_) | Value::Number(_) | Value::Bool(_))
        | (P::Object, Value::Object(_))
        | (P::Array, Value::Array(_)) => None,
        (P::String, _) => Some(expected("string")),
        (P::Number, _) => Some(expected("number")),
        (P::Boolean, _) => Some(expected("boolean")),
        (P::StringOrNumber | P::Scalar, _) => {
            Some("Failed Match.OneOf, Match.Maybe or Match.Optional validation".into())
        }
        (P::Object, Value::Array(_)) => Some("Expected plain object".into()),
        (P::Object, _) => Some(expected("object")),
        (P::Array, _) => Some(format!("Expected array, got {value}")),
        (P::FullUrl | P::PartialUrl, _) => None,
    }
}

/// `isURL`: absolute http(s) or a data URL; or a path under `/file-upload/`.
fn is_full_url(s: &str) -> bool {
    s.starts_with("http://")
        || s.starts_with("https://")
        || s.starts_with("data:")
        || s.starts_with("/file-upload/")
}

/// `isRelativeURL`: no scheme, not protocol-relative, and a first character `.` matches.
fn is_relative_url(s: &str) -> bool {
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| !matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}'));
    let scheme_len = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
        .count();
    let has_scheme = scheme_len > 0 && s.as_bytes().get(scheme_len) == Some(&b':');
    first_ok && !has_scheme && !s.starts_with("//")
}

/// One field of an `objectMaybeIncluding` pattern, as the nested `check()`s word it.
fn check_field(key: &str, value: &Value, pattern: Pattern) -> Result<(), Rejection> {
    let url_ok = match (pattern, value) {
        (P::FullUrl, Value::String(s)) => Some(is_full_url(s)),
        (P::PartialUrl, Value::String(s)) => Some(is_full_url(s) || is_relative_url(s)),
        (P::FullUrl | P::PartialUrl, other) => {
            let inner = format!("Expected string, got {}", type_of(other));
            return Err(Rejection::Match(format!(
                "Match error: Match error: Match error: {inner} in field {key}"
            )));
        }
        _ => None,
    };
    match url_ok {
        Some(true) => Ok(()),
        Some(false) => Err(Rejection::Href),
        None => match mismatch(value, pattern) {
            None => Ok(()),
            Some(inner) => Err(Rejection::Match(format!(
                "Match error: Match error: {inner} in field {key}"
            ))),
        },
    }
}

/// `objectMaybeIncluding(pattern)`: every non-null field the pattern names matches it.
/// Values that are not objects have no such fields and pass, as in JavaScript.
fn check_object(value: &Value, pattern: &[(&'static str, Pattern)]) -> Result<(), Rejection> {
    match value {
        Value::Object(fields) => check_object_fields(fields, pattern),
        Value::Null => Err(Rejection::NullRead(pattern[0].0)),
        _ => Ok(()),
    }
}

fn check_object_fields(fields: &Doc, pattern: &[(&'static str, Pattern)]) -> Result<(), Rejection> {
    for (key, p) in pattern {
        match fields.get(*key) {
            None | Some(Value::Null) => {}
            Some(v) => check_field(key, v, *p)?,
        }
    }
    Ok(())
}

/// `validateMessage`'s verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Rejected(Rejection),
    /// The message shows another name or picture: ask again knowing whether the sender
    /// holds `message-impersonate`.
    NeedsImpersonation,
}

/// `validateMessage`: the message's own fields, then whether the sender may impersonate
/// (`may_impersonate` may be unknown at first, since finding it out costs a lookup: the
/// rule answers `NeedsImpersonation` only when the answer depends on it), then its
/// attachments, then `customFields`.
pub fn validate_message(message: &Doc, may_impersonate: Option<bool>) -> Verdict {
    if let Err(why) = check_object_fields(message, MESSAGE) {
        return Verdict::Rejected(why);
    }
    if impersonates(message) {
        match may_impersonate {
            None => return Verdict::NeedsImpersonation,
            Some(false) => return Verdict::Rejected(Rejection::Impersonation),
            Some(true) => {}
        }
    }
    match validate_content(message) {
        Ok(()) => Verdict::Valid,
        Err(why) => Verdict::Rejected(why),
    }
}

/// The part of `validateMessage` after the permission check.
fn validate_content(message: &Doc) -> Result<(), Rejection> {
    // Raw keys: the client-sent JSON is judged before it becomes a typed message.
    if let Some(Value::Array(attachments)) = message.get("attachments") {
        check_attachments(attachments)?;
    }
    if message.get("customFields").is_some_and(js_truthy) {
        return Err(Rejection::CustomFields);
    }
    Ok(())
}

/// Whether the message shows another name or picture (`alias` or `avatar` truthy), which
/// needs `message-impersonate`.
fn impersonates(message: &Doc) -> bool {
    ["alias", "avatar"]
        .iter()
        .any(|k| message.get(*k).is_some_and(js_truthy))
}

/// `validateBodyAttachments`: each attachment, its fields, then its actions.
fn check_attachments(attachments: &[Value]) -> Result<(), Rejection> {
    for attachment in attachments {
        check_object(attachment, ATTACHMENT)?;
        for (list, pattern) in [("fields", FIELD), ("actions", ACTION)] {
            let items = attachment
                .get(list)
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for item in items {
                check_object(item, pattern)?;
                let has = |k: &str| item.get(k).is_some_and(js_truthy);
                if list == "fields" && !(has("value") && has("title")) {
                    return Err(Rejection::FieldIncomplete);
                }
            }
        }
    }
    Ok(())
}

/// The fields of a `chat.postMessage` body that `processWebhookMessage` reads, each as
/// sent (of any JSON type: Rocket.Chat copies what it is given; `null` reads as absent).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct WebhookBody {
    pub text: Option<Value>,
    pub msg: Option<Value>,
    pub username: Option<Value>,
    pub alias: Option<Value>,
    pub attachments: Option<Value>,
    #[serde(rename = "parseUrls")]
    pub parse_urls: Option<Value>,
    pub bot: Option<Value>,
    pub groupable: Option<Value>,
    pub tmid: Option<Value>,
    #[serde(rename = "customFields")]
    pub custom_fields: Option<Value>,
    pub icon_url: Option<Value>,
    pub avatar: Option<Value>,
    pub icon_emoji: Option<Value>,
    pub emoji: Option<Value>,
}

impl WebhookBody {
    fn attachments(&self) -> Option<&Vec<Value>> {
        self.attachments.as_ref().and_then(Value::as_array)
    }
}

/// Whether `chat.postMessage`'s `text`, or any attachment's `text`, is longer than
/// `max` UTF-16 units (checked on the body as sent, before anything else).
pub fn webhook_too_long(payload: &WebhookBody, max: u64) -> bool {
    let long = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .is_some_and(|s| s.encode_utf16().count() as u64 > max)
    };
    // Attachments stay opaque JSON: only their `text` is read.
    long(payload.text.as_ref())
        || payload
            .attachments()
            .is_some_and(|a| a.iter().any(|att| long(att.get("text"))))
}

/// The message `processWebhookMessage` builds from a `chat.postMessage` body, in its key
/// order, `null`/absent values left out: `username` wins over `alias`, `text` over `msg`,
/// `icon_url`/`avatar` over `icon_emoji`/`emoji`; URLs are parsed only when there are no
/// attachments; an attachment's `msg` becomes its trimmed `text`.
pub fn webhook_message(payload: &WebhookBody) -> Doc {
    let first = |values: &[&Option<Value>]| {
        values
            .iter()
            .find_map(|v| v.as_ref().filter(|v| js_truthy(v)))
            .cloned()
    };
    let given = |v: &Option<Value>| v.clone();
    let attachments = payload.attachments();
    let text = first(&[&payload.text, &payload.msg]);
    let avatar = first(&[&payload.icon_url, &payload.avatar]);
    let emoji = match avatar {
        Some(_) => None,
        None => first(&[&payload.icon_emoji, &payload.emoji]),
    };
    let fields = [
        (
            "alias",
            Some(first(&[&payload.username, &payload.alias]).unwrap_or_else(|| "".into())),
        ),
        (
            "msg",
            Some(js_trim(text.as_ref().and_then(Value::as_str).unwrap_or_default()).into()),
        ),
        (
            "attachments",
            Some(
                attachments
                    .map(|a| a.iter().map(attachment_text_from_msg).collect::<Vec<_>>())
                    .unwrap_or_default()
                    .into(),
            ),
        ),
        (
            "parseUrls",
            Some(given(&payload.parse_urls).unwrap_or_else(|| attachments.is_none().into())),
        ),
        ("bot", given(&payload.bot)),
        (
            "groupable",
            Some(given(&payload.groupable).unwrap_or(false.into())),
        ),
        ("tmid", given(&payload.tmid)),
        ("customFields", given(&payload.custom_fields)),
        ("avatar", avatar),
        ("emoji", emoji),
    ];
    fields
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_null()).map(|v| (k.to_string(), v)))
        .collect()
}

/// An attachment with a truthy `msg` gets it, trimmed, as `text`, and loses `msg`.
fn attachment_text_from_msg(attachment: &Value) -> Value {
    let mut attachment = attachment.clone();
    if let Some(fields) = attachment.as_object_mut() {
        // Raw keys: attachments stay opaque client JSON; only `msg`/`text` are rewritten.
        if let Some(msg) = fields.get("msg").filter(|m| js_truthy(m)).cloned() {
            let text = msg.as_str().map_or(msg.clone(), |s| js_trim(s).into());
            fields.insert("text".into(), text);
            fields.shift_remove("msg");
        }
    }
    attachment
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::object;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn wrongly_typed_fields_read_as_nested_match_errors() {
        let bad_title = json!([{"fields": [{"short": true, "title": 12, "value": false}]}]);
        assert_eq!(
            check_attachments(bad_title.as_array().unwrap())
                .unwrap_err()
                .text(),
            "Match error: Match error: Expected string, got number in field title"
        );
        let bad_link = json!([{"message_link": 12, "fields": ""}]);
        assert_eq!(
            check_attachments(bad_link.as_array().unwrap()).unwrap_err().text(),
            "Match error: Match error: Match error: Expected string, got number in field message_link"
        );
        let bad_fields = json!([{"fields": ""}]);
        assert_eq!(
            check_attachments(bad_fields.as_array().unwrap())
                .unwrap_err()
                .text(),
            "Match error: Match error: Expected array, got \"\" in field fields"
        );
        let bad_ts = json!([{"ts": true}]);
        assert_eq!(
            check_attachments(bad_ts.as_array().unwrap()).unwrap_err().text(),
            "Match error: Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation in field ts"
        );
    }

    #[test]
    fn script_urls_and_incomplete_fields_are_refused() {
        for key in [
            "message_link",
            "author_link",
            "title_link",
            "thumb_url",
            "image_url",
        ] {
            let a = json!([{ key: "javascript:alert(\"xss\")" }]);
            assert_eq!(
                check_attachments(a.as_array().unwrap()),
                Err(Rejection::Href)
            );
        }
        let action = json!([{"actions": [{"url": "javascript:alert(1)"}]}]);
        assert_eq!(
            check_attachments(action.as_array().unwrap()),
            Err(Rejection::Href)
        );
        let field = json!([{"fields": [{"title": "t", "value": ""}]}]);
        assert_eq!(
            check_attachments(field.as_array().unwrap()),
            Err(Rejection::FieldIncomplete)
        );
        let null = json!([null]);
        assert_eq!(
            check_attachments(null.as_array().unwrap())
                .unwrap_err()
                .text(),
            "Cannot read properties of null (reading 'color')"
        );
        let fine = json!([{"title": "x", "title_link": "https://rocket.chat", "image_url": "/file-upload/a/b.png",
            "fields": [{"short": true, "title": "a", "value": 3}]}, "strings pass"]);
        assert_eq!(check_attachments(fine.as_array().unwrap()), Ok(()));
    }

    fn body(v: Value) -> WebhookBody {
        serde_json::from_value(v).unwrap()
    }

    const YES: Option<bool> = Some(true);
    const NO: Option<bool> = Some(false);

    fn ok_or(v: Verdict) -> Result<(), Rejection> {
        match v {
            Verdict::Valid => Ok(()),
            Verdict::Rejected(why) => Err(why),
            Verdict::NeedsImpersonation => panic!("the permission was given"),
        }
    }

    #[test]
    fn avatars_may_be_relative_but_not_scripts() {
        let ok = object(json!({"avatar": "/avatar/bot.png", "alias": "Bot"}));
        assert_eq!(ok_or(validate_message(&ok, YES)), Ok(()));
        assert_eq!(
            ok_or(validate_message(&ok, NO)),
            Err(Rejection::Impersonation)
        );
        for bad in ["javascript:alert(1)", "//evil.example/x.png", ""] {
            let m = object(json!({ "avatar": bad }));
            assert_eq!(
                ok_or(validate_message(&m, YES)),
                Err(Rejection::Href),
                "{bad}"
            );
        }
        let m = object(json!({"alias": 3}));
        assert_eq!(
            ok_or(validate_message(&m, YES)).unwrap_err().text(),
            "Match error: Match error: Expected string, got number in field alias"
        );
        // An emoji alone, or an empty alias, needs no permission.
        let m = object(json!({"alias": "", "emoji": ":x:"}));
        assert_eq!(ok_or(validate_message(&m, NO)), Ok(()));
        let m = object(json!({"customFields": {"a": 1}}));
        assert_eq!(
            ok_or(validate_message(&m, YES)).unwrap_err().text(),
            "Custom fields not enabled"
        );
    }

    #[test]
    fn webhook_bodies_become_messages_in_rocket_chat_order() {
        let m = webhook_message(&body(json!({
            "channel": "#general", "text": "  hi  ", "alias": "a", "username": "u",
            "emoji": ":smirk:", "attachments": [{"msg": " note "}], "tmid": "T"
        })));
        assert_eq!(
            Value::Object(m),
            json!({"alias": "u", "msg": "hi", "attachments": [{"text": "note"}],
                "parseUrls": false, "groupable": false, "tmid": "T", "emoji": ":smirk:"})
        );
        let m = webhook_message(&body(
            json!({"text": "x", "avatar": "https://a/b.png", "emoji": ":x:", "parseUrls": false}),
        ));
        assert_eq!(
            Value::Object(m),
            json!({"alias": "", "msg": "x", "attachments": [], "parseUrls": false,
                "groupable": false, "avatar": "https://a/b.png"})
        );
        let m = webhook_message(&body(json!({"text": "x", "attachments": "not a list"})));
        assert_eq!(m["parseUrls"], json!(true));
        assert_eq!(m["attachments"], json!([]));
    }

    /// `processWebhookMessage` trims as JavaScript does: U+0085 is not white space there.
    #[test]
    fn webhook_texts_keep_what_javascript_does_not_trim() {
        let m = webhook_message(&body(json!({
            "text": "\u{85}hi\u{feff}", "attachments": [{"msg": "\u{2028}note\u{180e}"}]
        })));
        assert_eq!(m["msg"], json!("\u{85}hi"));
        assert_eq!(m["attachments"], json!([{"text": "note\u{180e}"}]));
    }

    proptest! {
        /// The check never panics, and whatever it accepts has only the allowed types.
        #[test]
        fn attachment_checks_never_panic(v in any_json(3)) {
            let list = vec![v];
            let _ = check_attachments(&list);
            if let Some(o) = list[0].as_object() {
                let _ = validate_message(o, NO);
                let _ = webhook_message(&body(Value::Object(o.clone())));
            }
        }

        /// Knowing the permission never changes a verdict given without it.
        #[test]
        fn the_permission_is_asked_for_only_when_it_matters(v in any_json(3), may: bool) {
            if let Some(o) = v.as_object() {
                let first = validate_message(o, None);
                let known = validate_message(o, Some(may));
                prop_assert_ne!(&known, &Verdict::NeedsImpersonation);
                if first != Verdict::NeedsImpersonation {
                    prop_assert_eq!(first, known);
                }
            }
        }
    }

    fn any_json(depth: u32) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            prop_oneof![
                Just("https://x".to_string()),
                Just("javascript:x".to_string()),
                ".{0,8}"
            ]
            .prop_map(Value::String),
        ];
        let keys = prop_oneof![
            Just("fields".to_string()),
            Just("actions".to_string()),
            Just("title".to_string()),
            Just("value".to_string()),
            Just("url".to_string()),
            Just("msg".to_string()),
            Just("text".to_string()),
            Just("ts".to_string()),
        ];
        leaf.prop_recursive(depth, 32, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((keys.clone(), inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }
}
