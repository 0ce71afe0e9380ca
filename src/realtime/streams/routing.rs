//! The change feed's events, routed to the subscriptions they concern (§4.1–4.3).

use std::cell::OnceCell;
use std::sync::Arc;

use serde_json::{json, Value};

use super::{changed_frame, Hub, MemberEvent, Route};

/// The `stream-notify-logged` event of a user's status change.
const USER_STATUS: &str = "user-status";
use crate::error::ApiResult;
use crate::model::change::Event;
use crate::model::message::MessageDoc;
use crate::model::time::parse_iso;
use crate::model::{DocExt, Message, Room, Subscription};
use crate::realtime::frames::ejson;
use crate::realtime::ConnId;
use crate::rules::presence::{status_changed, user_status_args, ShownStatus};
use crate::rules::streams::{
    delete_message_args, desktop_notification_args, insertion_or_update, message_is_streamed,
    my_messages_meta, room_changed_args, room_event, room_removed_args, should_notify_desktop,
    subscription_changed_args, subscription_removed_args, user_event, Action, DesktopFacts,
    NotifiedMessage, Reader, Stream, MY_MESSAGES, NOTIFY_WITHIN_MS,
};
use crate::rules::text::{notification_message, FirstAttachment};

impl Hub {
    /// Routes one event; a failed read is logged and costs that event only.
    pub(super) fn handle(&self, event: &Event) {
        self.sync_permissions();
        if let Err(e) = self.route(event) {
            tracing::error!(error = %e, "streams: an event could not be routed");
        }
    }

    fn route(&self, event: &Event) -> ApiResult<()> {
        match event {
            Event::MessageInserted { message } => {
                let doc = parse(message)?;
                self.message(&doc)?;
                self.notify(&doc)
            }
            Event::MessageUpdated { message } => self.message(&parse(message)?),
            Event::MessageDeleted {
                room_id,
                message_id,
            } => {
                let event = room_event(room_id, "deleteMessage");
                let frame =
                    changed_frame(Stream::NotifyRoom, &event, delete_message_args(message_id));
                self.send_to_readers(Stream::NotifyRoom, &event, room_id, &frame, None);
                Ok(())
            }
            Event::SubscriptionChanged { subscription } => self.subscription(subscription),
            Event::SubscriptionRemoved {
                room_id,
                user_id,
                subscription_id,
            } => {
                self.decisions.lock().membership(room_id, user_id, false);
                let username = self.reads.identity(user_id)?;
                let username = username.as_ref().and_then(|u| u.username.as_deref());
                let args = subscription_removed_args(subscription_id, user_id, username, room_id);
                self.to_user(user_id, "subscriptions-changed", args);
                self.to_user(user_id, "rooms-changed", room_removed_args(room_id));
                Ok(())
            }
            Event::RoomChanged { room } => self.room(room),
            Event::RoomRemoved { room_id } => {
                self.decisions.lock().forget_room(room_id);
                Ok(())
            }
            Event::UserChanged { user_id } => {
                self.decisions.lock().forget_user(user_id);
                self.user_status(user_id)
            }
            // The session closes the connections of removed tokens.
            Event::LoginTokensRemoved { .. } => Ok(()),
            // Rare, and any room of the team may be affected.
            Event::TeamsChanged => {
                self.decisions.lock().forget_all();
                Ok(())
            }
            // Permissions are synced before every event (`sync_permissions`).
            Event::SettingsChanged => Ok(()),
            Event::Resync => {
                self.decisions.lock().forget_all();
                self.statuses.lock().clear();
                Ok(())
            }
        }
    }

    /// A user written: `user-status` to every logged-in subscriber when their shown status
    /// or its text moved (§4.4).
    fn user_status(&self, user_id: &str) -> ApiResult<()> {
        let Some(user) = self.reads.user(user_id)? else {
            self.statuses.lock().remove(user_id);
            return Ok(());
        };
        let now = ShownStatus::of(&user);
        let before = self
            .statuses
            .lock()
            .insert(user_id.to_string(), now.clone())
            .unwrap_or_else(ShownStatus::unseen);
        if status_changed(&before, &now) {
            self.to_logged_in(USER_STATUS, user_status_args(user_id, &user));
        }
        Ok(())
    }

    /// A message inserted or updated: to its room's subscribers and to `__my_messages__`
    /// (with the meta element), each to those who may read the room now.
    fn message(&self, message: &MessageDoc) -> ApiResult<()> {
        let doc = &message.0;
        let rid = doc.str_at("rid").unwrap_or_default().to_string();
        let by_room = self.routes.lock().targets(Stream::RoomMessages, &rid);
        let mine = self
            .routes
            .lock()
            .targets(Stream::RoomMessages, MY_MESSAGES);
        if by_room.is_empty() && mine.is_empty() {
            return Ok(());
        }
        let Some(room) = self.reads.room(&rid)? else {
            return Ok(());
        };
        if !message_is_streamed(message, &room) {
            return Ok(());
        }
        let shown = ejson(&Value::Object(doc.clone()));
        if !by_room.is_empty() {
            let frame = changed_frame(Stream::RoomMessages, &rid, json!([shown]));
            for route in &by_room {
                self.send_if_reader(route, &rid, &frame);
            }
        }
        let frames: [OnceCell<Arc<str>>; 2] = Default::default();
        let frame = |participant: bool| {
            frames[usize::from(participant)]
                .get_or_init(|| {
                    let meta = my_messages_meta(&room, participant);
                    changed_frame(Stream::RoomMessages, MY_MESSAGES, json!([shown, meta]))
                })
                .clone()
        };
        for route in &mine {
            let Some(user) = &route.user else {
                continue;
            };
            match self.reader(user, &rid) {
                Reader::Denied => {}
                Reader::Visitor => {
                    route.outbound.send(frame(false));
                }
                Reader::Member => {
                    route.outbound.send(frame(true));
                }
            }
        }
        Ok(())
    }

    /// A subscription inserted or updated: `subscriptions-changed` to its user, and the
    /// room as `rooms-changed` `inserted` when it is new.
    fn subscription(&self, subscription: &Subscription) -> ApiResult<()> {
        let (uid, rid) = (subscription.user_id(), subscription.rid());
        self.decisions.lock().membership(rid, uid, true);
        let action = insertion_or_update(&subscription.0);
        let args = subscription_changed_args(action, &subscription.0);
        self.to_user(uid, "subscriptions-changed", args);
        if action == Action::Inserted {
            if let Some(room) = self.reads.room(rid)? {
                let args = room_changed_args(Action::Inserted, &room.0);
                self.to_user(uid, "rooms-changed", args);
            }
        }
        Ok(())
    }

    /// A room updated: `rooms-changed` `updated` to its members (a new room reaches them
    /// as `inserted` with their new subscriptions). Decisions about it are dropped only
    /// when its type or parent changed (it changes with every message).
    fn room(&self, room: &Room) -> ApiResult<()> {
        let rid = room.id();
        let facts = (room.t().to_string(), room.prid().map(str::to_string));
        {
            let mut d = self.decisions.lock();
            if d.facts.get(rid) != Some(&facts) {
                d.forget_room(rid);
                d.facts.insert(rid.to_string(), facts);
            }
        }
        if insertion_or_update(&room.0) == Action::Inserted
            || !self.routes.lock().has_any(MemberEvent::RoomsChanged)
        {
            return Ok(());
        }
        let frame: OnceCell<Value> = OnceCell::new();
        for uid in self.reads.members(rid)? {
            let event = user_event(&uid, "rooms-changed");
            let routes = self.routes.lock().targets(Stream::NotifyUser, &event);
            if routes.is_empty() {
                continue;
            }
            let args = frame.get_or_init(|| ejson(&room_changed_args(Action::Updated, &room.0)));
            let bytes = changed_frame(Stream::NotifyUser, &event, args.clone());
            for route in routes {
                route.outbound.send(bytes.clone());
            }
        }
        Ok(())
    }

    /// A new message's desktop notifications (`<uid>/notification`, §4.2), to the members
    /// other than the sender who listen for them and whose preferences ask for one. System
    /// messages notify nobody (Rocket.Chat stores them without the after-save callbacks),
    /// nor thread replies not shown in the room, nor messages older than a minute.
    fn notify(&self, message: &MessageDoc) -> ApiResult<()> {
        let doc = &message.0;
        if !self.routes.lock().has_any(MemberEvent::Notification) {
            return Ok(());
        }
        let system = doc.str_at("t").is_some_and(|t| t != "e2e");
        let hidden_reply = doc.contains_key("tmid") && !doc.bool_at("tshow");
        let ts = doc.str_at("ts").and_then(parse_iso);
        let recent = ts.is_some_and(|ts| (self.reads.now() - ts).abs() <= NOTIFY_WITHIN_MS);
        if system || hidden_reply || !recent {
            return Ok(());
        }
        let rid = doc.str_at("rid").unwrap_or_default();
        let Some(room) = self.reads.room(rid)? else {
            return Ok(());
        };
        if !message_is_streamed(message, &room) {
            return Ok(());
        }
        let sender_id = doc.str_in("u", "_id").unwrap_or_default();
        let sender = doc.str_in("u", "username").unwrap_or_default();
        let mentions: Vec<&str> = doc
            .get("mentions")
            .and_then(Value::as_array)
            .map(|m| m.iter().filter_map(|m| m.get("_id")?.as_str()).collect())
            .unwrap_or_default();
        let group_mention = mentions.iter().any(|m| *m == "all" || *m == "here");
        let first_attachment = doc
            .get("attachments")
            .and_then(|a| a.get(0))
            .and_then(FirstAttachment::from_json);
        let text = notification_message(
            doc.str_at("msg").unwrap_or_default(),
            doc.str_at("t"),
            first_attachment,
            &[],
            false,
        );
        for uid in self.reads.members(rid)? {
            if uid == sender_id {
                continue;
            }
            let event = user_event(&uid, MemberEvent::Notification.name());
            let routes = self.routes.lock().targets(Stream::NotifyUser, &event);
            if routes.is_empty() {
                continue;
            }
            let Some(sub) = self.reads.subscription(rid, &uid)? else {
                continue;
            };
            let wanted = should_notify_desktop(&DesktopFacts {
                room_type: room.room_type(),
                preference: sub.0.str_at("desktopNotifications"),
                disabled: sub.disable_notifications(),
                ignores_sender: sub.ignores(sender_id),
                mentioned: mentions.contains(&uid.as_str()),
                group_mention,
                mute_group_mentions: sub.mute_group_mentions(),
            });
            if !wanted || !self.reader(&uid, rid).can_read() {
                continue;
            }
            let args = desktop_notification_args(&NotifiedMessage {
                message,
                room: &room,
                sender,
                text: &text,
                receiver_room_name: sub.name(),
            });
            let frame = changed_frame(Stream::NotifyUser, &event, args);
            for route in routes {
                route.outbound.send(frame.clone());
            }
        }
        Ok(())
    }

    /// `<uid>/<event>` to that user's subscriptions (their read check made them the user's).
    pub(super) fn to_user(&self, uid: &str, event: &str, args: Value) {
        let event = user_event(uid, event);
        let routes = self.routes.lock().targets(Stream::NotifyUser, &event);
        if routes.is_empty() {
            return;
        }
        let frame = changed_frame(Stream::NotifyUser, &event, ejson(&args));
        for route in routes {
            route.outbound.send(frame.clone());
        }
    }

    /// `frame` to the subscriptions of `event` whose user may read `room_id` now, except
    /// those of connection `except` (a client's own write is not echoed to it).
    pub(super) fn send_to_readers(
        &self,
        stream: Stream,
        event: &str,
        room_id: &str,
        frame: &Arc<str>,
        except: Option<ConnId>,
    ) {
        let routes = self.routes.lock().targets(stream, event);
        for route in routes {
            if Some(route.conn) != except {
                self.send_if_reader(&route, room_id, frame);
            }
        }
    }

    fn send_if_reader(&self, route: &Route, room_id: &str, frame: &Arc<str>) {
        let Some(user) = &route.user else {
            return;
        };
        if self.reader(user, room_id).can_read() {
            route.outbound.send(frame.clone());
        }
    }
}

/// The stored message as an ordered document.
fn parse(message: &Message) -> ApiResult<MessageDoc> {
    Ok(MessageDoc::parse(message).map_err(anyhow::Error::from)?)
}
