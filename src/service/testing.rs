//! Testing mode's controls (`/api/rcpush/testing/*`): captured pushes, the clock, reset.
//! Outside testing mode each answers the API's 404, as if the route did not exist.

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use serde_json::value::RawValue;

use super::blocking::blocking_write;
use super::push::{push_test_limiter, PushTestLimiter};
use crate::delivery::Delivery;
use crate::error::{ApiError, ApiResult};
use crate::model::id::Ids;
use crate::model::time::{self, Clock, Millis};
use crate::rules::login_throttle::LoginThrottle;
use crate::settings::Settings;
use crate::store::{PendingPush, Snapshot, SnapshotsView};

/// A push as the server would have sent it to the gateway. Testing mode captures the body
/// queued for every push; in direct mode FCM and APNs would get their requests made from
/// that same body, so it is what a test checks in either mode.
#[derive(Serialize)]
pub struct CapturedPush {
    /// `gateway`: a request to the push gateway.
    pub transport: &'static str,
    /// The request's path at the gateway.
    pub path: String,
    /// The exact request body.
    pub body: Box<RawValue>,
}

impl CapturedPush {
    fn from_pending(push: PendingPush) -> ApiResult<CapturedPush> {
        Ok(CapturedPush {
            transport: "gateway",
            path: format!("/push/{}/send", push.service),
            body: RawValue::from_string(push.body).map_err(anyhow::Error::from)?,
        })
    }
}

/// How the clock endpoint moves the clock.
pub enum ClockChange {
    Set(Millis),
    Advance(Millis),
}

/// The testing area: it resets what the other areas hold (the login blocks, push.test's
/// limiter), so it shares those handles, and nothing else of theirs.
#[derive(Clone)]
pub struct Testing {
    pub(super) store: SnapshotsView,
    pub(super) settings: Settings,
    pub(super) delivery: Delivery,
    pub(super) clock: Clock,
    pub(super) ids: Ids,
    pub(super) throttle: Arc<Mutex<LoginThrottle>>,
    pub(super) push_tests: Arc<RwLock<PushTestLimiter>>,
    /// The database right after start-up, which a reset restores. `None` outside testing
    /// mode, where the testing endpoints do not exist.
    pub(super) start_state: Option<Arc<Snapshot>>,
}

impl Testing {
    /// The database as start-up left it; `None` outside testing mode.
    fn start_state(&self) -> ApiResult<&Snapshot> {
        self.start_state.as_deref().ok_or(ApiError::NotFound)
    }

    /// Whether the testing endpoints exist.
    pub fn testing_mode(&self) -> bool {
        self.start_state.is_some()
    }

    /// `GET` / `DELETE /api/rcpush/testing/pushes`: the pushes captured since start or
    /// reset, in order; `clear` empties the list.
    pub fn captured_pushes(&self, clear: bool) -> ApiResult<Vec<CapturedPush>> {
        self.start_state()?;
        self.delivery
            .captured(clear)
            .into_iter()
            .map(CapturedPush::from_pending)
            .collect()
    }

    /// `POST /api/rcpush/testing/clock`: returns the new time.
    pub fn change_clock(&self, change: ClockChange) -> ApiResult<String> {
        self.start_state()?;
        match change {
            ClockChange::Set(at) => self.clock.set(at),
            ClockChange::Advance(by) => self.clock.advance(by),
        };
        Ok(time::iso(self.clock.now()))
    }

    /// `POST /api/rcpush/testing/reset`: the database back to its state right after
    /// start-up, the captured pushes and the login blocks cleared, the clock and the id
    /// generator back where start-up left them.
    pub async fn reset(&self) -> ApiResult<()> {
        let start = self.start_state.clone().ok_or(ApiError::NotFound)?;
        blocking_write(&self.store, move |s| s.restore(&start)).await?;
        self.settings.reload()?;
        self.delivery.captured(true);
        self.clock.restart();
        self.ids.restart();
        *self.throttle.lock() = LoginThrottle::default();
        *self.push_tests.write() = push_test_limiter(&self.clock);
        Ok(())
    }
}
