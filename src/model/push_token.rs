//! Device registrations for pushes (`_raix_push_app_tokens`, Rocket.Chat's `AppsTokens`).

use serde_json::{json, Value};

use super::{document, object, time, DocExt};

document!(
    /// A push token document in Rocket.Chat's shape:
    /// `{_id, token:{apn|gcm}, authToken, appName, userId, enabled, createdAt, updatedAt, metadata, _updatedAt}`.
    PushToken
);

/// The two push services a device token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Apn,
    Gcm,
}

impl Service {
    pub fn parse(s: &str) -> Option<Service> {
        match s {
            "apn" => Some(Service::Apn),
            "gcm" => Some(Service::Gcm),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Service::Apn => "apn",
            Service::Gcm => "gcm",
        }
    }
}

impl PushToken {
    /// The service and device token (`token.apn` or `token.gcm`).
    pub fn device(&self) -> Option<(Service, &str)> {
        let token = self.0.get("token")?;
        [Service::Apn, Service::Gcm]
            .into_iter()
            .find_map(|s| Some((s, token.get(s.code())?.as_str()?)))
    }

    pub fn app_name(&self) -> &str {
        self.0.str_at("appName").unwrap_or_default()
    }

    pub fn user_id(&self) -> &str {
        self.0.str_at("userId").unwrap_or_default()
    }

    /// Only an explicit `enabled: false` turns a device off: imported documents may lack
    /// the field.
    pub fn enabled(&self) -> bool {
        self.0.get("enabled") != Some(&Value::Bool(false))
    }

    /// `base64(sha256(login token))` of the session that registered it.
    pub fn auth_token_hash(&self) -> &str {
        self.0.str_at("authToken").unwrap_or_default()
    }
}

/// A new registration, in `pushUpdate`'s insertion order (`_id` and `_updatedAt` last, as the
/// in-memory document the REST answer shows).
pub fn new_push_token(
    id: &str,
    service: Service,
    value: &str,
    auth_token_hash: &str,
    app_name: &str,
    user_id: &str,
    now: time::Millis,
) -> PushToken {
    let now = time::iso(now);
    PushToken(object(json!({
        "token": { service.code(): value },
        "authToken": auth_token_hash,
        "appName": app_name,
        "userId": user_id,
        "enabled": true,
        "createdAt": now,
        "updatedAt": now,
        "metadata": {},
        "_id": id,
        "_updatedAt": now,
    })))
}

/// The stored form: Mongo keeps `_id` first.
pub fn stored_order(doc: &PushToken) -> PushToken {
    let mut out = super::Doc::new();
    if let Some(id) = doc.0.get("_id") {
        out.insert("_id".into(), id.clone());
    }
    for (k, v) in &doc.0 {
        if k != "_id" {
            out.insert(k.clone(), v.clone());
        }
    }
    PushToken(out)
}

/// `$set {updatedAt, token, authToken}` plus the new owner (ownership moves to the newest user).
pub fn reregister(
    doc: &PushToken,
    service: Service,
    value: &str,
    auth_token_hash: &str,
    user_id: &str,
    now: time::Millis,
) -> PushToken {
    let mut d = doc.clone();
    let now = time::iso(now);
    for (k, v) in [
        ("updatedAt", Value::from(now.clone())),
        ("token", json!({ service.code(): value })),
        ("authToken", auth_token_hash.into()),
        ("userId", user_id.into()),
        ("_updatedAt", now.into()),
    ] {
        d.0.insert(k.into(), v);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_explicit_false_disables_a_device() {
        let token = |v: Value| PushToken(object(v));
        assert!(token(json!({"_id": "t1"})).enabled());
        assert!(token(json!({"enabled": true})).enabled());
        assert!(token(json!({"enabled": null})).enabled());
        assert!(!token(json!({"enabled": false})).enabled());
    }
}
