//! Testing mode's controls (`/api/rcpush/testing/*`): captured pushes, the clock, reset.
//! Outside testing mode each answers the API's 404, as if the route did not exist.

use serde::Serialize;
use serde_json::value::RawValue;

use super::Services;
use crate::error::{ApiError, ApiResult};
use crate::model::time::{self, Millis};
use crate::rules::login_throttle::LoginThrottle;
use crate::store::{PendingPush, Snapshot};

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

impl Services {
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
        Ok(time::iso(self.now()))
    }

    /// `POST /api/rcpush/testing/reset`: the database back to its state right after
    /// start-up, the captured pushes and the login blocks cleared, the clock and the id
    /// generator back where start-up left them.
    pub async fn reset(&self) -> ApiResult<()> {
        let start = self.start_state.clone().ok_or(ApiError::NotFound)?;
        self.write(move |s| s.restore(&start)).await?;
        self.settings.reload()?;
        self.delivery.captured(true);
        self.clock.restart();
        self.ids.restart();
        *self.throttle.lock() = LoginThrottle::default();
        *self.push_tests.write() = super::push_test_limiter(&self.clock);
        Ok(())
    }
}
