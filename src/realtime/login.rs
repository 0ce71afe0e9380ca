//! The `login` and `logout` methods (spec §3), through the same `Auth` service as REST:
//! the same token store and hashing, the same failed-login blocking.

use serde_json::{json, Map, Value};

use super::error::MeteorError;
use super::{frames, CallContext, Caller, SessionLogin};
use crate::error::ApiError;
use crate::model::time::Millis;
use crate::rules::credentials::{password_digest, token_hash};
use crate::rules::login_throttle::Blocked;
use crate::rules::text::js_truthy;
use crate::service::auth::{LoggedIn, Login};

/// `Accounts_LoginExpiration`'s default: a token's `tokenExpires` is its login + 90 days.
const LOGIN_EXPIRATION_MS: Millis = 90 * 86_400_000;

/// What `params[0]` of `login` asks for.
enum Request {
    Password {
        who: Login,
        digest: String,
    },
    Resume(String),
    /// Neither handler applies (Meteor: "Unrecognized options for login request").
    Unrecognized,
}

/// Reads `params[0]` as Meteor's login handlers do: `resume` when truthy, else the password
/// handler when `password` is truthy, with `check()`'s exact shapes (400 `Match failed`).
fn parse(params: &[Value]) -> Result<Request, MeteorError> {
    let Some(Value::Object(options)) = params.first() else {
        return Err(MeteorError::match_failed());
    };
    if let Some(resume) = options.get("resume").filter(|v| js_truthy(v)) {
        return match resume {
            Value::String(token) => Ok(Request::Resume(token.clone())),
            _ => Err(MeteorError::match_failed()),
        };
    }
    let Some(password) = options.get("password").filter(|v| js_truthy(v)) else {
        return Ok(Request::Unrecognized);
    };
    if options
        .keys()
        .any(|k| !matches!(k.as_str(), "user" | "password" | "code"))
    {
        return Err(MeteorError::match_failed());
    }
    let who = match options.get("user") {
        Some(Value::Object(user)) => user_query(user)?,
        _ => return Err(MeteorError::match_failed()),
    };
    let digest = match password {
        Value::String(plain) => password_digest(plain),
        Value::Object(o)
            if o.len() == 2 && o.get("algorithm").and_then(Value::as_str) == Some("sha-256") =>
        {
            match o.get("digest") {
                // A malformed digest is only a wrong password.
                Some(Value::String(d)) => d.clone(),
                _ => return Err(MeteorError::match_failed()),
            }
        }
        _ => return Err(MeteorError::match_failed()),
    };
    Ok(Request::Password { who, digest })
}

/// `user`: exactly one of `id`, `username`, `email`, a non-empty string.
fn user_query(user: &Map<String, Value>) -> Result<Login, MeteorError> {
    let mut entries = user.iter();
    match (entries.next(), entries.next()) {
        (Some((k, Value::String(v))), None) if !v.is_empty() => match k.as_str() {
            "id" => Ok(Login::Id(v.clone())),
            "username" => Ok(Login::Username(v.clone())),
            "email" => Ok(Login::Email(v.clone())),
            _ => Err(MeteorError::match_failed()),
        },
        _ => Err(MeteorError::match_failed()),
    }
}

/// What a failed login sends: Rocket.Chat's `loginErrorMessageOverride` makes every handler
/// error one 401 `User not found`; the validation hooks' errors (blocking) are kept.
fn login_error(e: ApiError) -> MeteorError {
    let validation = json!({"function": "Accounts.validateLoginAttempt"});
    match e {
        ApiError::LoginFailed | ApiError::NotLoggedIn => {
            MeteorError::numeric(401, "User not found")
        }
        ApiError::LoginBlocked(Blocked::User) => MeteorError::new(
            "error-login-blocked-for-user",
            "Login has been temporarily blocked For User",
        )
        .with_details(validation),
        ApiError::LoginBlocked(Blocked::Ip) => MeteorError::new(
            "error-login-blocked-for-ip",
            "Login has been temporarily blocked For IP",
        )
        .with_details(validation),
        other => MeteorError::from(other),
    }
}

/// `login` (spec §3.1, §3.2): `{id, token, tokenExpires, type}`; the connection, if there is
/// one, is logged in with the token.
pub async fn login(ctx: &CallContext<'_>, params: &[Value]) -> Result<Option<Value>, MeteorError> {
    let auth = ctx.services.auth();
    let (logged_in, kind) = match parse(params)? {
        Request::Password { who, digest } => (
            auth.login(who, digest, &ctx.ip.to_string())
                .await
                .map_err(login_error)?,
            "password",
        ),
        Request::Resume(token) => (auth.resume_login(&token).map_err(login_error)?, "resume"),
        Request::Unrecognized => return Err(login_error(ApiError::LoginFailed)),
    };
    let LoggedIn {
        user_id,
        auth_token,
        me,
    } = logged_in;
    let hash = token_hash(&auth_token).as_str().to_string();
    // Removed between the login and now: as good as a wrong password.
    let since = auth
        .session_start(&user_id, &hash)?
        .ok_or_else(|| login_error(ApiError::LoginFailed))?;
    if let Some(session) = ctx.session {
        let before = session.caller();
        session
            .set(Some(Caller {
                user_id: user_id.clone(),
                token_hash: hash,
            }))
            .write(ctx.services)
            .await;
        publish_user(session, before.as_ref(), Some((&user_id, &me)));
    }
    Ok(Some(json!({
        "id": user_id,
        "token": auth_token,
        "tokenExpires": {"$date": since.saturating_add(LOGIN_EXPIRATION_MS)},
        "type": kind,
    })))
}

/// Meteor's accounts package publishes the logged-in user's own document on collection
/// `users` (`username`, and `emails` / `profile` when set; `@rocket.chat/ddp-client` reads
/// the username from it): `added` when a user logs in, `removed` when they log out or
/// another logs in on the socket (spec §3.4).
fn publish_user(session: &SessionLogin, before: Option<&Caller>, now: Option<(&str, &Value)>) {
    let before = before.map(|c| c.user_id.as_str());
    if before == now.map(|(id, _)| id) {
        return;
    }
    if let Some(old) = before {
        session.send(frames::data("removed", "users", old, json!({})));
    }
    if let Some((id, me)) = now {
        let fields: Map<String, Value> = ["username", "emails", "profile"]
            .iter()
            .filter_map(|k| Some((k.to_string(), me.get(*k)?.clone())))
            .collect();
        session.send(frames::data("added", "users", id, Value::Object(fields)));
    }
}

/// `logout` (spec §3.5): removes the connection's token (closing the other connections that
/// use it) and logs this one out, which stays open. Without a login it does nothing.
pub async fn logout(ctx: &CallContext<'_>) -> Result<Option<Value>, MeteorError> {
    let Some(caller) = ctx.caller else {
        return Ok(None);
    };
    // Out of the hub's index first, so that the token's removal does not close this socket.
    if let Some(session) = ctx.session {
        session.set(None).write(ctx.services).await;
        publish_user(session, Some(caller), None);
    }
    ctx.services
        .auth()
        .end_session(&caller.user_id, &caller.token_hash)
        .await?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(v: Value) -> Result<&'static str, MeteorError> {
        parse(&[v]).map(|r| match r {
            Request::Password {
                who: Login::Username(_),
                ..
            } => "username",
            Request::Password {
                who: Login::Email(_),
                ..
            } => "email",
            Request::Password {
                who: Login::Id(_), ..
            } => "id",
            Request::Resume(_) => "resume",
            Request::Unrecognized => "unrecognized",
        })
    }

    #[test]
    fn login_options_are_checked_as_meteor_checks_them() {
        let digest = json!({"digest": "5e88", "algorithm": "sha-256"});
        assert_eq!(
            parsed(json!({"user": {"username": "bot"}, "password": "pass"})),
            Ok("username")
        );
        assert_eq!(
            parsed(json!({"user": {"email": "a@b.c"}, "password": digest})),
            Ok("email")
        );
        assert_eq!(
            parsed(json!({"user": {"id": "u1"}, "password": "p", "code": "1"})),
            Ok("id")
        );
        assert_eq!(parsed(json!({"resume": "tok"})), Ok("resume"));
        assert_eq!(parsed(json!({"resume": "", "foo": 1})), Ok("unrecognized"));
        assert_eq!(parsed(json!({})), Ok("unrecognized"));
        for bad in [
            json!("bot"),
            json!({"resume": 5}),
            json!({"user": {"username": "bot", "email": "a@b.c"}, "password": "p"}),
            json!({"user": {"username": ""}, "password": "p"}),
            json!({"user": {"name": "bot"}, "password": "p"}),
            json!({"user": "bot", "password": "p"}),
            json!({"user": {"username": "bot"}, "password": "p", "extra": 1}),
            json!({"user": {"username": "bot"}, "password": {"digest": "x", "algorithm": "md5"}}),
            json!({"user": {"username": "bot"}, "password": {"digest": 5, "algorithm": "sha-256"}}),
        ] {
            assert_eq!(
                parsed(bad.clone()),
                Err(MeteorError::match_failed()),
                "{bad}"
            );
        }
        assert_eq!(parse(&[]).err(), Some(MeteorError::match_failed()));
    }
}
