//! push.get (a message and its notification), device registration, push.info, push.test.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use parking_lot::RwLock;
use serde::Serialize;

use super::access::RoomAccess;
use super::auth::Caller;
use super::blocking::blocking_write;
use super::notification::{apn_category, needs_receiver_subscription, Inputs, Parts};
use super::permits::Permits;
use super::prepared::{MadeFrom, Prepared, PreparedCache};
use super::push_drafts::PushDrafts;
use crate::delivery::gateway::rules::test_push_body;
use crate::error::{ApiError, ApiResult};
use crate::model::id::{Ids, MessageId};
use crate::model::message::MessageView;
use crate::model::push_token::{PushToken, Service};
use crate::model::time::{self, Clock};
use crate::rules::notification::SharedNotification;
use crate::settings::{Settings, Snapshot, DEFAULT_PUSH_GATEWAY};
use crate::store::{OutboxRecord, PushView, QueuedBody, Receiver, Registration};

/// A device to register (`push.token`'s body, checked).
pub struct Device {
    pub id: Option<String>,
    pub service: Service,
    pub value: String,
    pub app_name: String,
}

/// `push.get`'s answer for one reader.
pub struct PushGetAnswer {
    prepared: Arc<Prepared>,
    badge: i64,
    category: &'static str,
}

impl PushGetAnswer {
    /// The stored message, exactly.
    pub fn message(&self) -> &[u8] {
        self.prepared.message.as_bytes()
    }

    /// Appends the reader's notification as JSON.
    pub fn write_notification(&self, out: &mut Vec<u8>) {
        self.prepared
            .notification
            .write(self.badge, self.category, out);
    }

    /// About how many bytes the two take.
    pub fn size_hint(&self) -> usize {
        self.prepared.message.len() + self.prepared.notification.byte_len() + 64
    }
}

/// `push.info`'s answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushInfo {
    /// As in Rocket.Chat, this reports `Push_enable`.
    pub push_gateway_enabled: bool,
    pub default_push_gateway: bool,
}

/// More users than this in push.test's limiter and it forgets those whose second is over.
const PUSH_TEST_LIMITER_KEYS: usize = 4096;

/// push.test's limiter, on the server's clock: testing mode's clock governs it too.
pub(super) type PushTestLimiter = RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    LimiterClock,
    NoOpMiddleware<std::time::Duration>,
>;

/// One call per second per user (push.test's `rateLimiterOptions`), a new limiter each
/// time (a testing reset forgets the calls made).
pub(super) fn push_test_limiter(clock: &Clock) -> PushTestLimiter {
    let once_a_second = Quota::per_second(NonZeroU32::MIN);
    RateLimiter::new(
        once_a_second,
        DefaultKeyedStateStore::default(),
        LimiterClock(clock.clone()),
    )
}

/// The server's clock as `governor` reads it: the time since the epoch.
pub(super) struct LimiterClock(Clock);

impl governor::clock::Clock for LimiterClock {
    type Instant = std::time::Duration;

    fn now(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::try_from(self.0.now()).unwrap_or(0))
    }
}

/// The push area: push.get, devices, push.test. Its pushes go to delivery through the
/// `PushDrafts` it shares with messages.
#[derive(Clone)]
pub struct Push {
    pub(super) store: PushView,
    pub(super) settings: Settings,
    pub(super) clock: Clock,
    pub(super) ids: Ids,
    pub(super) permits: Permits,
    pub(super) access: RoomAccess,
    pub(super) drafts: PushDrafts,
    /// push.get's messages prepared for all their readers.
    pub(super) prepared: Arc<PreparedCache>,
    /// push.test's one call per second per user (its `rateLimiterOptions`).
    pub(super) push_tests: Arc<RwLock<PushTestLimiter>>,
}

impl Push {
    /// `push.get`: the message and the notification `caller` would get for it. Errors in the
    /// order of spec §1.3: E message not found; F room not found; G not allowed; H sender not
    /// found. The reader-independent part comes from the prepared cache when it is current.
    pub fn push_get(&self, caller: &Caller, id: &MessageId) -> ApiResult<PushGetAnswer> {
        // Read before the message: an entry of this version saw the message as it is now.
        let version = self.store.message_version(id);
        let settings = self.settings.snapshot();
        let kept = self.prepared.get(id).filter(|p| p.version == version);
        let (prepared, category) = match kept {
            Some(p) => match self.reuse(caller, &p, &settings)? {
                Some(category) => (p, category),
                None => self.prepare(caller, id, version, settings)?,
            },
            None => self.prepare(caller, id, version, settings)?,
        };
        Ok(PushGetAnswer {
            badge: self.store.badge(caller.id())?,
            category,
            prepared,
        })
    }

    /// `caller`'s reply category if the prepared entry `p` still holds, else `None`. When
    /// neither the room nor the sender was written since `p` saw them, what it kept of them
    /// answers and neither is read.
    fn reuse(
        &self,
        caller: &Caller,
        p: &Prepared,
        settings: &Arc<Snapshot>,
    ) -> ApiResult<Option<&'static str>> {
        // Read before the room and the sender, as the entry's were.
        let room_version = self.store.room_version(&p.room_id);
        let sender_version = self.store.user_version(&p.sender_id);
        if p.unchanged(room_version, sender_version, settings) {
            return match self.access.can_read_known(
                &caller.identity,
                &p.room_id,
                p.made_from.room_facts(),
            )? {
                true => Ok(Some(p.made_from.category_for(&caller.identity))),
                false => Err(ApiError::NotAllowed),
            };
        }
        let room = self.access.readable_room(&caller.identity, &p.room_id)?;
        let sender = self
            .store
            .user_names(&p.sender_id)?
            .ok_or(ApiError::SenderNotFound)?;
        if !p.is_current(&room, &sender, settings) {
            return Ok(None);
        }
        p.made_from.confirm(room_version, sender_version);
        Ok(Some(apn_category(&room, &caller.identity)))
    }

    /// Reads the stored message and builds its notification for `caller`, then keeps it
    /// for the message's other readers unless its title is `caller`'s own (a group DM
    /// titled by the reader's subscription).
    fn prepare(
        &self,
        caller: &Caller,
        id: &MessageId,
        version: u64,
        settings: Arc<Snapshot>,
    ) -> ApiResult<(Arc<Prepared>, &'static str)> {
        let stored = self
            .store
            .message_json(id)?
            .ok_or(ApiError::MessageNotFound)?;
        let view = MessageView::parse(&stored).map_err(|e| {
            ApiError::Internal(anyhow::anyhow!("stored message {}: {e}", id.as_str()))
        })?;
        let room_version = self.store.room_version(&view.rid);
        let room = self.access.readable_room(&caller.identity, &view.rid)?;
        let sender_id = view.sender_id().ok_or(ApiError::SenderNotFound)?;
        let sender_version = self.store.user_version(&sender_id);
        let sender = self
            .store
            .user_names(&sender_id)?
            .ok_or(ApiError::SenderNotFound)?;
        let sender_doc = view.u.ok_or(ApiError::SenderNotFound)?;
        let personal = needs_receiver_subscription(&room);
        let subscription = match personal {
            true => self.store.subscription(room.id(), caller.id())?,
            false => None,
        };
        let parts = Parts {
            message: &view,
            sender_doc,
            sender_id: &sender_id,
            sender: &sender,
            room: &room,
            receiver: &caller.identity,
            receiver_subscription: subscription.as_ref(),
            badge: 0,
        };
        let notification = SharedNotification::new(&Inputs::of(&settings, &parts).notification())
            .map_err(|e| ApiError::Internal(e.into()))?;
        let room_id = view.rid.as_ref().into();
        let prepared = Arc::new(Prepared {
            message: stored,
            version,
            room_id,
            sender_id: sender_id.into_boxed_str(),
            notification,
            made_from: MadeFrom::of(&room, room_version, &sender, sender_version),
            settings,
        });
        if !personal {
            self.prepared.insert(id, prepared.clone());
        }
        Ok((prepared, apn_category(&room, &caller.identity)))
    }

    /// `POST push.token`: registers a device (re-registration by id or by token and app,
    /// de-duplication and ownership as the store's `register_push_token` states).
    pub async fn register_device(&self, caller: &Caller, device: Device) -> ApiResult<PushToken> {
        let (user_id, hash) = (caller.id().to_string(), caller.token_hash.clone());
        let now = self.clock.now();
        let id = device.id.clone().unwrap_or_else(|| self.ids.id());
        let registered = blocking_write(&self.store, move |s| {
            s.register_push_token(&Registration {
                id: &id,
                service: device.service,
                value: &device.value,
                app_name: &device.app_name,
                auth_token_hash: hash.as_str(),
                user_id: &user_id,
                now,
            })
        });
        Ok(registered.await?)
    }

    /// `DELETE push.token`: removes the caller's registrations of a device token; 404 when
    /// there were none.
    pub async fn delete_device(&self, caller: &Caller, token: String) -> ApiResult<()> {
        let user_id = caller.id().to_string();
        let removed = blocking_write(&self.store, move |s| {
            s.delete_push_tokens_of_user_by_value(&user_id, &token)
        })
        .await?;
        match removed {
            0 => Err(ApiError::NotFound),
            _ => Ok(()),
        }
    }

    pub fn push_info(&self) -> PushInfo {
        let settings = self.settings.snapshot();
        PushInfo {
            push_gateway_enabled: settings.push_enable,
            default_push_gateway: settings.push_gateway == DEFAULT_PUSH_GATEWAY,
        }
    }

    /// `push.test`: queues a test push to each of the caller's devices; returns how many
    /// devices they have.
    pub async fn push_test(&self, caller: &Caller) -> ApiResult<usize> {
        let roles = caller.identity.roles();
        if !self.permits.has("api-bypass-rate-limit", &roles) {
            let limiter = self.push_tests.read();
            if let Err(not_until) = limiter.check_key(&caller.id().to_string()) {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(limiter.clock()));
                let seconds = wait.as_millis().div_ceil(1000).max(1);
                return Err(ApiError::TooManyRequests { seconds });
            }
            if limiter.len() > PUSH_TEST_LIMITER_KEYS {
                limiter.retain_recent();
            }
        }
        if !self.permits.has("test-push-notifications", &roles) {
            return Err(ApiError::PermissionDenied);
        }
        let settings = self.settings.snapshot();
        if !settings.push_enable {
            return Err(ApiError::PushDisabled);
        }
        let tokens = self.store.push_tokens_of_user(caller.id())?;
        if tokens.is_empty() {
            return Err(ApiError::NoPushTokens);
        }
        let now = self.clock.now();
        let created_at = time::iso(now);
        let username = caller.identity.username.as_deref().unwrap_or_default();
        let body = test_push_body(username, &settings.unique_id, &created_at)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("push body not laid out")))?;
        let devices = self.drafts.devices(&tokens, now);
        let Some(first) = devices.first() else {
            return Ok(tokens.len());
        };
        let record = OutboxRecord {
            id: first.id.clone(),
            rid: None,
            shared: None,
            bodies: vec![QueuedBody::Shared(body)],
            receivers: vec![Receiver {
                user_id: caller.id().to_string(),
                badge: 0,
                body: 0,
                devices,
            }],
        };
        let record = blocking_write(&self.store, move |s| {
            s.enqueue_pushes(&record).map(|()| record)
        })
        .await?;
        self.drafts.queued(Some(record)).await?;
        Ok(tokens.len())
    }
}
