//! The delivery log, for admins.

use super::admin::Admin;
use super::auth::Caller;
use crate::error::ApiResult;
use crate::store::{DeliveryFilter, DeliveryPage};

impl Admin {
    /// `GET /api/rcpush/deliveries`: who may read settings may read the log.
    pub fn deliveries(
        &self,
        caller: &Caller,
        filter: &DeliveryFilter,
        offset: usize,
        count: usize,
    ) -> ApiResult<DeliveryPage> {
        self.permits.require(caller, "view-privileged-setting")?;
        Ok(self.store.deliveries(filter, offset, count)?)
    }
}
