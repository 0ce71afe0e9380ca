//! Messages (`rocketchat_message`). A message is kept as the exact JSON bytes it was stored
//! with, so push.get can return it without re-encoding (spec §1.5).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{document, Doc, DocExt};

/// A system message (`uj`, `au`, `ru`, `ul`, `r`, …) as Rocket.Chat's
/// `createWithTypeRoomIdMessageUserAndUnread` stores it: `msg` names the user or the new
/// name, `u` who did it. Returns its id and document.
pub fn new_system_message(
    t: &str,
    rid: &str,
    msg: &str,
    u: serde_json::Value,
    now: super::time::Millis,
    ids: &super::id::Ids,
) -> (String, super::Doc) {
    let at = super::time::iso(now);
    let id = ids.id();
    let doc = super::object(serde_json::json!({
        "_id": id,
        "t": t,
        "rid": rid,
        "ts": at,
        "msg": msg,
        "u": u,
        "groupable": false,
        "_updatedAt": at,
    }));
    (id, doc)
}

/// A stored message: valid JSON object bytes.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(transparent)]
pub struct Message(Box<RawValue>);

impl Message {
    /// Wraps stored bytes; they must hold one JSON value.
    pub fn from_json(bytes: Vec<u8>) -> Result<Message, serde_json::Error> {
        let text = String::from_utf8(bytes).map_err(serde::de::Error::custom)?;
        RawValue::from_string(text).map(Message)
    }

    pub fn raw(&self) -> &RawValue {
        &self.0
    }

    /// The fields the server reads; everything else stays opaque.
    pub fn view(&self) -> Result<MessageView<'_>, serde_json::Error> {
        MessageView::parse(self.0.get())
    }
}

document!(
    /// A stored message decoded to be changed (an edit, a thread reply): its fields in their
    /// stored order, so that the changed message keeps it.
    MessageDoc
);

impl MessageDoc {
    pub fn parse(message: &Message) -> Result<MessageDoc, serde_json::Error> {
        serde_json::from_str(message.raw().get()).map(MessageDoc)
    }

    /// The message's stored form.
    pub fn to_message(&self) -> Message {
        // An object of JSON values always serialises, and to valid JSON.
        let text = serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into());
        Message(RawValue::from_string(text).unwrap_or_default())
    }

    pub fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }

    pub fn rid(&self) -> &str {
        self.0.str_at("rid").unwrap_or_default()
    }

    pub fn t(&self) -> Option<&str> {
        self.0.str_at("t")
    }

    /// `ts`: when it was posted (ISO).
    pub fn ts(&self) -> Option<&str> {
        self.0.str_at("ts")
    }

    pub fn tmid(&self) -> Option<&str> {
        self.0.str_at("tmid")
    }

    /// `tshow`: a thread reply shown in the room too.
    pub fn tshow(&self) -> bool {
        self.0.bool_at("tshow")
    }

    /// `_hidden`: kept but shown to no one.
    pub fn hidden(&self) -> bool {
        self.0.bool_at("_hidden")
    }

    /// `u._id`.
    pub fn sender_id(&self) -> Option<&str> {
        self.0.str_in("u", "_id")
    }

    /// `u.username`.
    pub fn sender_username(&self) -> Option<&str> {
        self.0.str_in("u", "username")
    }

    pub fn msg(&self) -> Option<&str> {
        self.0.str_at("msg")
    }

    /// `u` as stored: the sender as the message shows it.
    pub fn sender(&self) -> Value {
        self.0.get("u").cloned().unwrap_or(Value::Null)
    }

    /// `customFields`: the integrator's own fields on the message.
    pub fn custom_fields(&self) -> Option<&Value> {
        self.0.get("customFields")
    }

    /// `imported`: set by an import (the source's name or `true`); JS truthiness decides.
    pub fn imported(&self) -> Option<&Value> {
        self.0.get("imported")
    }

    /// An upload's text: its first attachment's `description`.
    pub fn description(&self) -> Option<&str> {
        self.0
            .get("attachments")
            .and_then(|a| a.get(0))
            .and_then(|a| a.get("description"))
            .and_then(Value::as_str)
    }

    /// The text a user sees and edits: an upload's description, else `msg`.
    pub fn text(&self) -> Option<&str> {
        self.description().or(self.msg())
    }

    /// Replaces the text a user sees (see `text`).
    pub fn set_text(&mut self, text: &str) {
        match self.description() {
            Some(_) => self.0["attachments"][0]["description"] = text.into(),
            None => {
                self.0.insert("msg".into(), text.into());
            }
        }
    }

    /// `editedAt` and `editedBy` (`{_id, username}`).
    pub fn mark_edited(&mut self, at: &str, editor_id: &str, editor_username: Option<&str>) {
        self.0.insert("editedAt".into(), at.into());
        let mut by = Doc::new();
        by.insert("_id".into(), editor_id.into());
        by.insert("username".into(), editor_username.into());
        self.0.insert("editedBy".into(), Value::Object(by));
    }

    pub fn set_content(&mut self, content: &ContentFields) {
        content.write_into(&mut self.0);
    }

    pub fn set_updated_at(&mut self, at: &str) {
        self.0.insert("_updatedAt".into(), at.into());
    }

    /// `replies`: the thread's followers, in the order they came.
    pub fn replies(&self) -> Vec<&str> {
        self.0.strs_at("replies")
    }

    /// `tcount`: the replies the thread has.
    pub fn tcount(&self) -> i64 {
        self.0.int_at("tcount")
    }

    /// A thread's parent after a reply at `at`. New fields arrive in MongoDB's order for an
    /// update: by name.
    pub fn set_thread(&mut self, replies: Vec<String>, tcount: i64, at: &str) {
        self.0.insert("replies".into(), replies.into());
        self.0.insert("tcount".into(), tcount.into());
        self.0.insert("tlm".into(), at.into());
        self.set_updated_at(at);
    }

    /// Whether `username` reacted with `shortname`: `None` when the message has no
    /// `reactions` at all, which `setReaction` tells apart from "not this user" (see
    /// `rules::reactions::decide`).
    pub fn has_reacted(&self, shortname: &str, username: &str) -> Option<bool> {
        let reactions = self.0.get("reactions").filter(|r| r.is_object())?;
        let users = reactions
            .get(shortname)
            .and_then(|r| r.get("usernames"))
            .and_then(Value::as_array);
        Some(users.is_some_and(|u| u.iter().any(|n| n.as_str() == Some(username))))
    }

    /// `username` joins the users of `shortname` (last), which is created (last) if need
    /// be, as is `reactions` (whose fields are kept: `names` of an imported reaction).
    pub fn add_reaction(&mut self, shortname: &str, username: &str) {
        let reactions = self
            .0
            .entry("reactions")
            .or_insert_with(|| Value::Object(Doc::new()));
        if !reactions.is_object() {
            *reactions = Value::Object(Doc::new());
        }
        let entry = &mut reactions[shortname];
        if !entry.is_object() {
            *entry = serde_json::json!({ "usernames": [] });
        }
        let users = &mut entry["usernames"];
        match users.as_array_mut() {
            Some(users) => users.push(username.into()),
            None => *users = vec![Value::from(username)].into(),
        }
    }

    /// `username` leaves the users of `shortname` (its first occurrence); an emptied
    /// reaction goes, and `reactions` goes when none is left.
    pub fn remove_reaction(&mut self, shortname: &str, username: &str) {
        let Some(Value::Object(reactions)) = self.0.get_mut("reactions") else {
            return;
        };
        if let Some(Value::Array(users)) = reactions
            .get_mut(shortname)
            .and_then(|r| r.get_mut("usernames"))
        {
            if let Some(at) = users.iter().position(|n| n.as_str() == Some(username)) {
                users.remove(at);
            }
            if users.is_empty() {
                reactions.shift_remove(shortname);
            }
        }
        if reactions.is_empty() {
            self.0.shift_remove("reactions");
        }
    }

    /// What `chat.delete` shows of a deleted message: `_id`, `rid` and `u`, in stored order.
    pub fn deleted_view(&self) -> Value {
        Value::Object(self.0.pick(&["_id", "rid", "u"]))
    }
}

/// A message being posted: the client's fields (or those `processWebhookMessage` built) and
/// what `sendMessage` adds to them, in insertion order.
#[derive(Debug, Clone)]
pub struct Draft(pub Doc);

impl Draft {
    /// `chat.sendMessage`'s fields: `msg` is `""` when not given (added last).
    pub fn from_client(mut fields: Doc) -> Draft {
        if !fields.contains_key("msg") {
            fields.insert("msg".into(), "".into());
        }
        Draft(fields)
    }

    pub fn msg(&self) -> &str {
        self.0.str_at("msg").unwrap_or_default()
    }

    /// The text as stored, once the server's filters changed it.
    pub fn set_msg(&mut self, msg: String) {
        self.0.insert("msg".into(), msg.into());
    }

    /// `t`: only an end-to-end encrypted message (`e2e`) has one.
    pub fn t(&self) -> Option<&str> {
        self.0.str_at("t")
    }

    /// The `_id` the client chose, if any.
    pub fn client_id(&self) -> Option<&str> {
        self.0.str_at("_id")
    }

    /// A thread reply has `tmid`.
    pub fn is_reply(&self) -> bool {
        self.0.contains_key("tmid")
    }

    pub fn tmid(&self) -> Option<&str> {
        self.0.str_at("tmid")
    }

    /// `parseUrls: false` leaves `urls` out.
    pub fn parse_urls(&self) -> bool {
        self.0.get("parseUrls") != Some(&Value::Bool(false))
    }

    /// `ts`, `u` and `rid`, as `sendMessage` adds them.
    pub fn stamp(&mut self, at: &str, sender: Value, rid: &str) {
        self.0.insert("ts".into(), at.into());
        self.0.insert("u".into(), sender);
        self.0.insert("rid".into(), rid.into());
    }

    pub fn set_content(&mut self, content: &ContentFields) {
        content.write_into(&mut self.0);
    }

    /// The document stored: `_id` first, then the fields, `_updatedAt` last.
    pub fn stored(&self, id: &str, at: &str) -> MessageDoc {
        let mut stored = Doc::new();
        stored.insert("_id".into(), id.into());
        for (k, v) in &self.0 {
            if k != "_id" {
                stored.insert(k.clone(), v.clone());
            }
        }
        stored.insert("_updatedAt".into(), at.into());
        MessageDoc(stored)
    }

    /// What the REST answer shows: the fields in the order they came, then `_updatedAt`
    /// when the client chose the id, else the new `_id`.
    pub fn into_response(mut self, id: &str, at: &str) -> Value {
        match self.client_id() {
            Some(_) => self.0.insert("_updatedAt".into(), at.into()),
            None => self.0.insert("_id".into(), id.into()),
        };
        Value::Object(self.0)
    }
}

/// What the server reads from a message's text: `urls` (absent when `parseUrls` is off),
/// `mentions`, `channels` and `md` (absent when the parser gives none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentFields {
    pub urls: Option<Vec<Value>>,
    pub mentions: Vec<Value>,
    pub channels: Vec<Value>,
    pub md: Option<Value>,
}

impl ContentFields {
    /// Writes the fields into a message, in the order `sendMessage` adds them.
    pub fn write_into(&self, doc: &mut Doc) {
        if let Some(urls) = &self.urls {
            doc.insert("urls".into(), urls.clone().into());
        }
        doc.insert("mentions".into(), self.mentions.clone().into());
        doc.insert("channels".into(), self.channels.clone().into());
        match &self.md {
            Some(md) => doc.insert("md".into(), md.clone()),
            None => doc.shift_remove("md"),
        };
    }
}

#[derive(Debug, Deserialize)]
pub struct MessageView<'a> {
    #[serde(rename = "_id", borrow)]
    pub id: Cow<'a, str>,
    /// Empty when the stored document has none (the room is then not found).
    #[serde(default, borrow)]
    pub rid: Cow<'a, str>,
    #[serde(default, borrow)]
    pub msg: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub t: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub tmid: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub u: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub mentions: Vec<MentionView<'a>>,
    #[serde(default)]
    pub attachments: Option<Vec<serde_json::Value>>,
    #[serde(default, borrow)]
    pub content: Option<&'a RawValue>,
}

impl<'a> MessageView<'a> {
    /// Reads a stored message's bytes in one pass, checking they are one JSON object.
    pub fn parse(json: &'a str) -> Result<MessageView<'a>, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The sender id (`u._id`).
    pub fn sender_id(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct U<'b> {
            #[serde(rename = "_id", borrow)]
            id: Cow<'b, str>,
        }
        serde_json::from_str::<U>(self.u?.get())
            .ok()
            .map(|u| u.id.into_owned())
    }
}

#[derive(Debug, Deserialize)]
pub struct MentionView<'a> {
    #[serde(rename = "_id", default, borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub username: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub name: Option<Cow<'a, str>>,
}
