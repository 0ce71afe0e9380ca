//! Messages (`rocketchat_message`). A message is kept as the exact JSON bytes it was stored
//! with, so push.get can return it without re-encoding (spec §1.5).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

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
#[derive(Debug, Clone)]
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
