//! The user methods (spec §5.12): `getUserRoles`.

use serde_json::{json, Value};

use super::super::error::MeteorError;
use super::super::CallContext;
use super::params;

/// `getUserRoles []` (deprecated in 7.x, gone in 8.0): the users holding a public role.
/// rcpush has no public roles (the spec lets it answer `[]`); the login is still required.
pub async fn get_user_roles(
    ctx: &CallContext<'_>,
    _params: &[Value],
) -> Result<Option<Value>, MeteorError> {
    params::caller(ctx, "getUserRoles")?;
    Ok(Some(json!([])))
}
