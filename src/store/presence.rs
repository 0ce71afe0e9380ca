//! A user's chosen status, changed inside one write on the user as stored.

use super::{Store, StoreResult};
use crate::rules::presence::StatusChange;

impl Store {
    /// Applies `change` to the user `id`: whether a status field changed, `None` if there
    /// is no such user.
    pub fn change_user_status(&self, id: &str, change: &StatusChange) -> StoreResult<Option<bool>> {
        self.write(|store, batch| {
            let Some(mut user) = store.user(id)? else {
                return Ok(None);
            };
            let changed = change.apply(&mut user);
            if changed {
                Self::put_user(batch, &user, None);
            }
            Ok(Some(changed))
        })
    }
}
