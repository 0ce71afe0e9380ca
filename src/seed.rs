//! Seed bundles: Rocket.Chat-shaped documents (`users`, `rooms`, `subscriptions`, `messages`,
//! `settings`, changed `permissions`, `teams`, `teamMembers`) loaded into the store in one
//! atomic write.
//!
//! Users may carry Meteor's `services.password.argon2` (a PHC string of the password's
//! SHA-256 hex digest) and `services.resume.loginTokens[{when, hashedToken}]`; these secrets
//! are moved out of the user document into their own trees. Raw tokens never appear.

use std::path::Path;

use anyhow::{bail, Context};
use message_parser as md;
use serde::Deserialize;
use serde_json::Value;

use crate::model::push_token::PushToken;
use crate::model::{time, Doc, DocExt, Message, Room, Subscription, Team, TeamMember, User};
use crate::store::{
    BundledPushes, Import, ImportedMessage, ImportedUser, LoginToken, OutboxRecord, Store,
};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Bundle {
    users: Vec<Doc>,
    rooms: Vec<Doc>,
    subscriptions: Vec<Doc>,
    messages: Vec<Doc>,
    settings: Vec<Doc>,
    permissions: Vec<Doc>,
    #[serde(rename = "pushTokens")]
    push_tokens: Vec<PushToken>,
    /// Outbox records; bundles written before schema 3 list one push per device.
    #[serde(rename = "pushOutbox")]
    push_outbox: Vec<BundledPushes>,
    teams: Vec<Doc>,
    #[serde(rename = "teamMembers")]
    team_members: Vec<Doc>,
}

/// Gives a message without `md` the AST Rocket.Chat would have stored (server defaults; none
/// for empty or end-to-end encrypted text), placed before `_updatedAt` as on save.
pub(crate) fn add_missing_md(doc: &mut Doc, ts: i64) {
    if doc.contains_key("md") || doc.str_at("t") == Some("e2e") {
        return;
    }
    let text = doc.str_at("msg").unwrap_or_default();
    let Some(value) = parse_md(text, ts) else {
        return;
    };
    let at = doc
        .keys()
        .position(|k| k == "_updatedAt")
        .unwrap_or(doc.len());
    doc.shift_insert(at, "md".into(), value);
}

/// The message parser's AST of `text` with the server's default options, as JSON; `None`
/// for empty text.
pub(crate) fn parse_md(text: &str, ts: i64) -> Option<Value> {
    let options = md::Options {
        now_ms: ts,
        ..md::Options::default()
    };
    let ast = md::parse(text, &options).filter(|_| !text.is_empty())?;
    serde_json::to_value(ast).ok()
}

/// Reads and checks a bundle file without touching any database.
pub fn read_file(path: &Path) -> anyhow::Result<Import> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read seed file {}", path.display()))?;
    parse(&text).with_context(|| format!("invalid seed file {}", path.display()))
}

/// Reads a bundle file and writes it to `store`. Returns how many documents were loaded.
pub fn load_file(store: &Store, path: &Path) -> anyhow::Result<usize> {
    let import = read_file(path)?;
    let count = import.document_count();
    store.import(&import)?;
    Ok(count)
}

/// Checks every document and separates secrets from user documents.
pub fn parse(text: &str) -> anyhow::Result<Import> {
    let bundle: Bundle = serde_json::from_str(text)?;
    let require_id = |kind: &str, d: &Doc| -> anyhow::Result<String> {
        match d.str_at("_id") {
            Some(id) if !id.is_empty() => Ok(id.to_string()),
            _ => bail!("a {kind} document has no string _id"),
        }
    };
    let mut import = Import::default();
    for mut doc in bundle.users {
        let id = require_id("user", &doc)?;
        let services = doc.shift_remove("services");
        let password_hash = services
            .as_ref()
            .and_then(|s| s.pointer("/password/argon2"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let tokens = services
            .as_ref()
            .and_then(|s| s.pointer("/resume/loginTokens"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|t| {
                        let hash = t.get("hashedToken")?.as_str()?.to_string();
                        let when = t.get("when").and_then(Value::as_str).unwrap_or_default();
                        Some((
                            hash,
                            LoginToken {
                                user_id: id.clone(),
                                when: when.to_string(),
                            },
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        import.users.push(ImportedUser {
            user: User(doc),
            password_hash,
            tokens,
        });
    }
    for doc in bundle.rooms {
        require_id("room", &doc)?;
        import.rooms.push(Room(doc));
    }
    for doc in bundle.subscriptions {
        let sub = Subscription(doc);
        if sub.rid().is_empty() || sub.user_id().is_empty() {
            bail!("a subscription document lacks rid or u._id");
        }
        import.subscriptions.push(sub);
    }
    for mut doc in bundle.messages {
        let id = require_id("message", &doc)?;
        let ts = doc
            .str_at("ts")
            .and_then(time::parse_iso)
            .with_context(|| format!("message {id} has no ISO ts"))?;
        add_missing_md(&mut doc, ts);
        let message = Message::from_json(serde_json::to_vec(&doc)?)?;
        import.messages.push(ImportedMessage { message, id });
    }
    for doc in bundle.settings {
        require_id("setting", &doc)?;
        import.settings.push(doc);
    }
    for doc in bundle.permissions {
        require_id("permission", &doc)?;
        import.permissions.push(doc);
    }
    for token in bundle.push_tokens {
        require_id("push token", &token.0)?;
        if token.device().is_none() {
            bail!("push token {} has no token.apn or token.gcm", token.id());
        }
        import.push_tokens.push(token);
    }
    import.pushes = bundle.push_outbox.into_iter().map(Into::into).collect();
    for doc in bundle.teams {
        require_id("team", &doc)?;
        import.teams.push(Team(doc));
    }
    for doc in bundle.team_members {
        let member = TeamMember(doc);
        if member.team_id().is_empty() || member.user_id().is_empty() {
            bail!("a team member document lacks teamId or userId");
        }
        import.team_members.push(member);
    }
    Ok(import)
}

/// The bundle `parse` reads back: secrets go back under each user's `services`, messages
/// are written as stored. `parse(&write(&x))` gives `x` again.
pub fn write(import: &Import) -> anyhow::Result<Vec<u8>> {
    #[derive(serde::Serialize)]
    struct Out<'a> {
        users: Vec<Doc>,
        rooms: &'a [Room],
        subscriptions: &'a [Subscription],
        messages: Vec<&'a serde_json::value::RawValue>,
        settings: &'a [Doc],
        #[serde(skip_serializing_if = "<[Doc]>::is_empty")]
        permissions: &'a [Doc],
        #[serde(rename = "pushTokens")]
        push_tokens: &'a [PushToken],
        #[serde(rename = "pushOutbox")]
        push_outbox: &'a [OutboxRecord],
        #[serde(skip_serializing_if = "<[Team]>::is_empty")]
        teams: &'a [Team],
        #[serde(
            rename = "teamMembers",
            skip_serializing_if = "<[TeamMember]>::is_empty"
        )]
        team_members: &'a [TeamMember],
    }
    let users = import
        .users
        .iter()
        .map(|u| {
            let mut doc = u.user.0.clone();
            let mut services = Doc::new();
            if let Some(hash) = &u.password_hash {
                services.insert("password".into(), serde_json::json!({ "argon2": hash }));
            }
            if !u.tokens.is_empty() {
                let tokens: Vec<Value> = u
                    .tokens
                    .iter()
                    .map(|(hash, t)| serde_json::json!({"when": t.when, "hashedToken": hash}))
                    .collect();
                services.insert(
                    "resume".into(),
                    serde_json::json!({ "loginTokens": tokens }),
                );
            }
            if !services.is_empty() {
                doc.insert("services".into(), Value::Object(services));
            }
            doc
        })
        .collect();
    Ok(serde_json::to_vec(&Out {
        users,
        rooms: &import.rooms,
        subscriptions: &import.subscriptions,
        messages: import.messages.iter().map(|m| m.message.raw()).collect(),
        settings: &import.settings,
        permissions: &import.permissions,
        push_tokens: &import.push_tokens,
        push_outbox: &import.pushes,
        teams: &import.teams,
        team_members: &import.team_members,
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_bundles_parse_back_to_the_same_documents() {
        let demo = std::fs::read_to_string("data/seed.json").unwrap();
        let first = write(&parse(&demo).unwrap()).unwrap();
        let again = write(&parse(std::str::from_utf8(&first).unwrap()).unwrap()).unwrap();
        assert_eq!(first, again);
        assert!(std::str::from_utf8(&first).unwrap().contains("hashedToken"));
    }
}
