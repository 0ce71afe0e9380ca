//! The method `stream-notify-room` (§4.3): a client's typing write, relayed to the other
//! subscribers of its event without a store write.

use serde_json::Value;

use super::{changed_frame, Streams};
use crate::realtime::error::MeteorError;
use crate::realtime::CallContext;
use crate::rules::streams::{activity_write, Stream};

impl Streams {
    /// Relays an allowed `user-activity` write to the other connections subscribed to its
    /// event whose users may read the room; a refused write is answered alike and relays
    /// nothing. The result is always empty.
    pub fn notify_room(
        &self,
        ctx: &CallContext<'_>,
        params: &[Value],
    ) -> Result<Option<Value>, MeteorError> {
        let Some(caller) = ctx.caller else {
            return Ok(None);
        };
        let user = self.hub.reads.identity(&caller.user_id)?;
        let username = user.as_ref().and_then(|u| u.username.as_deref());
        let Some(write) = activity_write(params, username) else {
            return Ok(None);
        };
        self.hub.sync_permissions();
        if !self.hub.reader(&caller.user_id, &write.rid).can_read() {
            return Ok(None);
        }
        let frame = changed_frame(Stream::NotifyRoom, &write.event, write.args);
        self.hub.send_to_readers(
            Stream::NotifyRoom,
            &write.event,
            &write.rid,
            &frame,
            Some(ctx.conn),
        );
        Ok(None)
    }
}
