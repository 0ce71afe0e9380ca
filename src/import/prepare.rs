//! One Rocket.Chat document → what the store keeps of it (spec §2, §3). Each document is
//! rendered once as Rocket.Chat's JSON (`bson_json`) and kept verbatim, except for
//! the secrets that move to their own trees and the changes counted in the report.

use std::collections::{BTreeMap, HashMap, HashSet};

use bson::raw::RawBsonRef;
use bson::RawDocument;
use serde_json::Value;

use super::bson_json::{self, Oddities};
use crate::model::push_token::PushToken;
use crate::model::{time, Doc, DocExt, Message, Room, Subscription, Team, TeamMember, User};
use crate::rules::credentials::token_hash;
use crate::store::{ImportedMessage, ImportedUser, LoginToken};

/// The collections rcpush imports, in the order they are written (spec §1.6).
pub const ORDER: [&str; 8] = [
    SETTINGS,
    USERS,
    TEAMS,
    TEAM_MEMBERS,
    ROOMS,
    SUBSCRIPTIONS,
    MESSAGES,
    DEVICES,
];
pub const SETTINGS: &str = "rocketchat_settings";
pub const USERS: &str = "users";
/// Teams decide who reads their public rooms (push §1.4 validator 1): a dump imported
/// without them would open a private team's channels to every user.
pub const TEAMS: &str = "rocketchat_team";
pub const TEAM_MEMBERS: &str = "rocketchat_team_member";
pub const ROOMS: &str = "rocketchat_room";
pub const SUBSCRIPTIONS: &str = "rocketchat_subscription";
pub const MESSAGES: &str = "rocketchat_message";
pub const DEVICES: &str = "_raix_push_app_tokens";

/// Counts of one collection: documents skipped by reason, and facts worth reporting.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub read: u64,
    pub imported: u64,
    pub bytes: u64,
    pub skipped: BTreeMap<&'static str, u64>,
    pub facts: BTreeMap<&'static str, u64>,
    /// Values with no faithful JSON form (an error under `--strict`).
    pub unexpected_values: u64,
}

impl Tally {
    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    fn fact(&mut self, fact: &'static str) {
        *self.facts.entry(fact).or_default() += 1;
    }

    fn odd(&mut self, odd: Oddities) {
        for (n, fact) in [
            (
                odd.invalid_utf8,
                "strings with invalid UTF-8 (U+FFFD written)",
            ),
            (odd.binary, "binary values (written as base64)"),
            (
                odd.unexpected,
                "timestamp/decimal128/code/min-max values (written as null)",
            ),
        ] {
            if n > 0 {
                *self.facts.entry(fact).or_default() += u64::from(n);
            }
        }
        self.unexpected_values += u64::from(odd.unexpected);
    }
}

/// What documents of earlier collections decide about later ones.
#[derive(Debug, Default)]
pub struct Context {
    pub now: time::Millis,
    pub import_secrets: bool,
    /// `Accounts_LoginExpiration`, in days (spec §3.5).
    pub login_expiration_days: i64,
    pub users: HashSet<String>,
    /// Lower-cased usernames and e-mails seen, and those two users share: rcpush's index
    /// keeps one user per lower-cased name (spec §6.5 wants exact-case logins for both).
    pub names_seen: HashSet<String>,
    pub shared_names: HashSet<String>,
    pub rooms: HashSet<String>,
    pub teams: HashSet<String>,
    /// Token hashes seen so far, and those held by two users (kept by neither).
    pub token_owners: HashMap<String, String>,
    pub conflicting_tokens: HashSet<String>,
    /// The registration kept for each (device, app): the newest `updatedAt` wins.
    pub device_winners: HashMap<(String, String), (i64, String)>,
    pub site_url: Option<String>,
    pub unique_id: Option<String>,
}

impl Context {
    pub fn new(now: time::Millis, import_secrets: bool) -> Context {
        Context {
            now,
            import_secrets,
            login_expiration_days: 90,
            ..Context::default()
        }
    }
}

/// A document ready for the store.
pub enum Prepared {
    Setting(Doc),
    User(ImportedUser),
    Room(Room),
    Subscription(Subscription),
    Team(Team),
    TeamMember(TeamMember),
    Message(ImportedMessage),
    Device(PushToken),
}

/// The rendered document as an ordered JSON object.
fn json_doc(raw: &RawDocument, tally: &mut Tally) -> Result<Doc, String> {
    let mut odd = Oddities::default();
    let json = bson_json::render(raw, &mut odd).map_err(|e| format!("corrupt BSON: {e}"))?;
    tally.odd(odd);
    serde_json::from_str(&json).map_err(|e| format!("rendered JSON does not parse back: {e}"))
}

/// The string `_id`; `Err` if there is none at all, `Ok(None)` for other types.
fn string_id(raw: &RawDocument) -> Result<Option<&str>, String> {
    match raw.get("_id") {
        Ok(Some(RawBsonRef::String(s))) => Ok(Some(s)),
        Ok(Some(_)) => Ok(None),
        Ok(None) => Err("document without _id".into()),
        Err(e) => Err(format!("corrupt BSON: {e}")),
    }
}

/// What the staging pass checks of a document of a small collection: an `_id`, and BSON
/// that renders.
pub fn check(raw: &RawDocument) -> Result<(), String> {
    string_id(raw)?;
    bson_json::render(raw, &mut Oddities::default())
        .map(|_| ())
        .map_err(|e| format!("corrupt BSON: {e}"))
}

/// Learns from a document what later ones need (first pass over each collection).
pub fn observe(collection: &str, raw: &RawDocument, ctx: &mut Context) -> Result<(), String> {
    let Some(id) = string_id(raw)? else {
        return Ok(());
    };
    match collection {
        SETTINGS => {
            let value = raw.get("value").ok().flatten();
            match (id, value) {
                ("Accounts_LoginExpiration", Some(v)) => {
                    let days = match v {
                        RawBsonRef::Int32(n) => i64::from(n),
                        RawBsonRef::Int64(n) => n,
                        RawBsonRef::Double(d) => d as i64,
                        _ => 0,
                    };
                    ctx.login_expiration_days = if days > 0 { days } else { 90 };
                }
                ("Site_Url", Some(RawBsonRef::String(s))) => ctx.site_url = Some(s.into()),
                ("uniqueID", Some(RawBsonRef::String(s))) => ctx.unique_id = Some(s.into()),
                _ => {}
            }
        }
        USERS => {
            ctx.users.insert(id.to_string());
            for name in login_names(raw) {
                if !ctx.names_seen.insert(name.clone()) {
                    ctx.shared_names.insert(name);
                }
            }
            let mut seen_here = HashSet::new();
            for hash in token_hashes(raw) {
                if !seen_here.insert(hash.clone()) {
                    continue;
                }
                match ctx.token_owners.get(&hash) {
                    Some(owner) if owner != id => {
                        ctx.conflicting_tokens.insert(hash);
                    }
                    Some(_) => {}
                    None => {
                        ctx.token_owners.insert(hash, id.to_string());
                    }
                }
            }
        }
        ROOMS => {
            ctx.rooms.insert(id.to_string());
        }
        TEAMS => {
            ctx.teams.insert(id.to_string());
        }
        DEVICES => {
            let mut scratch = Tally::default();
            let doc = json_doc(raw, &mut scratch)?;
            let token = PushToken(doc);
            if let Some((service, value)) = token.device() {
                let key = (
                    format!("{}:{value}", service.code()),
                    token.app_name().to_string(),
                );
                let updated = token
                    .0
                    .str_at("updatedAt")
                    .and_then(time::parse_iso)
                    .unwrap_or(i64::MIN);
                let newer = ctx
                    .device_winners
                    .get(&key)
                    .is_none_or(|(at, _)| updated >= *at);
                if newer {
                    ctx.device_winners.insert(key, (updated, id.to_string()));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// A user's username and e-mail addresses, lower-cased (as rcpush indexes them).
fn login_names(raw: &RawDocument) -> Vec<String> {
    let mut names: Vec<String> = raw
        .get_str("username")
        .ok()
        .map(|u| format!("username {}", u.to_lowercase()))
        .into_iter()
        .collect();
    if let Ok(emails) = raw.get_array("emails") {
        names.extend(emails.into_iter().filter_map(|e| {
            let address = e.ok()?.as_document()?.get_str("address").ok()?;
            Some(format!("e-mail {}", address.to_lowercase()))
        }));
    }
    names.sort();
    names.dedup();
    names
}

/// The hashes of a user's login tokens, legacy raw tokens hashed.
fn token_hashes(raw: &RawDocument) -> Vec<String> {
    let tokens = raw
        .get_document("services")
        .and_then(|s| s.get_document("resume"))
        .and_then(|r| r.get_array("loginTokens"));
    let Ok(tokens) = tokens else {
        return Vec::new();
    };
    tokens
        .into_iter()
        .filter_map(|t| {
            let t = t.ok()?.as_document()?;
            if let Ok(h) = t.get_str("hashedToken") {
                return Some(h.to_string());
            }
            t.get_str("token")
                .ok()
                .map(|raw| token_hash(raw).to_string())
        })
        .collect()
}

/// Turns one document into what the store keeps; `Ok(None)` when it is skipped (counted),
/// `Err` when it cannot be imported at all.
pub fn prepare(
    collection: &str,
    raw: &RawDocument,
    ctx: &Context,
    tally: &mut Tally,
) -> Result<Option<Prepared>, String> {
    tally.read += 1;
    tally.bytes += raw.as_bytes().len() as u64;
    if collection == MESSAGES {
        return message(raw, tally).map(|m| Some(Prepared::Message(m)));
    }
    if string_id(raw)?.is_none() {
        tally.skip("ObjectId _id (unreachable in Rocket.Chat)");
        return Ok(None);
    }
    if collection == USERS
        && login_names(raw)
            .iter()
            .any(|n| ctx.shared_names.contains(n))
    {
        tally.fact(
            "users sharing a username or e-mail up to case (the last imported answers to it)",
        );
    }
    let doc = json_doc(raw, tally)?;
    let prepared = match collection {
        SETTINGS => setting(doc, ctx, tally).map(Prepared::Setting),
        USERS => Some(Prepared::User(user(doc, ctx, tally))),
        TEAMS => Some(Prepared::Team(team(doc, tally))),
        TEAM_MEMBERS => team_member(doc, ctx, tally).map(Prepared::TeamMember),
        ROOMS => Some(Prepared::Room(room(doc, ctx, tally))),
        SUBSCRIPTIONS => subscription(doc, ctx, tally).map(Prepared::Subscription),
        DEVICES => device(doc, ctx, tally).map(Prepared::Device),
        _ => None,
    };
    if prepared.is_some() {
        tally.imported += 1;
    }
    Ok(prepared)
}

/// Secrets rcpush can use for delivery, kept with `--import-secrets`.
const DELIVERY_SECRETS: [&str; 2] = ["Push_", "Cloud_Workspace_"];
/// Settings holding credentials, whatever their `type` says.
const SECRET_PREFIXES: [&str; 9] = [
    "Cloud_Workspace_",
    "Push_apn_",
    "Push_gcm_",
    "Push_google_api_credentials",
    "SMTP_",
    "LDAP_",
    "SAML_",
    "Accounts_OAuth_",
    "CROWD_",
];

fn setting(mut doc: Doc, ctx: &Context, tally: &mut Tally) -> Option<Doc> {
    let id = doc.str_at("_id").unwrap_or_default().to_string();
    if doc.str_at("type") == Some("group") {
        tally.skip("setting groups (no value)");
        return None;
    }
    let secret = doc.str_at("type") == Some("password")
        || doc.bool_at("secret")
        || SECRET_PREFIXES.iter().any(|p| id.starts_with(p));
    if secret {
        if ctx.import_secrets && DELIVERY_SECRETS.iter().any(|p| id.starts_with(p)) {
            tally.fact("secrets kept (--import-secrets)");
        } else {
            tally.skip("secrets (only push and cloud secrets, with --import-secrets)");
            return None;
        }
    }
    if doc.bool_at("enterprise") {
        if let Some(invalid) = doc.get("invalidValue").cloned() {
            doc.insert("value".into(), invalid);
            tally.fact("enterprise settings set to their invalidValue (no licence)");
        }
    }
    Some(doc)
}

fn user(mut doc: Doc, ctx: &Context, tally: &mut Tally) -> ImportedUser {
    let id = doc.str_at("_id").unwrap_or_default().to_string();
    let active = doc.get("active") != Some(&Value::Bool(false));
    if !active {
        tally.fact("inactive users (login refused)");
    }
    let mut password_hash = None;
    let mut tokens = Vec::new();
    if let Some(Value::Object(services)) = doc.get_mut("services") {
        if let Some(Value::Object(password)) = services.shift_remove("password") {
            let argon2 = password.get("argon2").and_then(Value::as_str);
            let bcrypt = password
                .get("bcrypt")
                .and_then(Value::as_str)
                .filter(|h| h.starts_with("$2"));
            password_hash = match (argon2, bcrypt) {
                (Some(h), _) => {
                    tally.fact("passwords: argon2");
                    Some(h.to_string())
                }
                (None, Some(h)) => {
                    tally.fact("passwords: bcrypt");
                    Some(h.to_string())
                }
                (None, None) => None,
            };
        }
        if let Some(resume) = services.shift_remove("resume") {
            tokens = login_tokens(&resume, &id, active, ctx, tally);
        }
        let two_factor = ["totp", "email2fa"]
            .iter()
            .any(|k| services.get(*k).and_then(|s| s.get("enabled")) == Some(&Value::Bool(true)));
        if two_factor {
            tally.fact("2FA users (password login refused, tokens work)");
        }
        // rcpush has no TOTP: the secret and backup codes would only be a liability.
        if let Some(Value::Object(totp)) = services.get_mut("totp") {
            if totp.shift_remove("secret").is_some() | totp.shift_remove("hashedBackup").is_some() {
                tally.fact("TOTP secrets dropped");
            }
        }
    }
    if password_hash.is_none() {
        tally.fact("users without a password");
    }
    ImportedUser {
        user: User(doc),
        password_hash,
        tokens,
    }
}

fn login_tokens(
    resume: &Value,
    user_id: &str,
    active: bool,
    ctx: &Context,
    tally: &mut Tally,
) -> Vec<(String, LoginToken)> {
    let list = resume
        .get("loginTokens")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let oldest = ctx.now - ctx.login_expiration_days * 86_400_000;
    let mut kept = Vec::new();
    for t in list {
        let hash = match (
            t.get("hashedToken").and_then(Value::as_str),
            t.get("token").and_then(Value::as_str),
        ) {
            (Some(h), _) => h.to_string(),
            (None, Some(raw)) => {
                tally.fact("legacy unhashed tokens (hashed)");
                token_hash(raw).to_string()
            }
            (None, None) => continue,
        };
        let pat = t.get("type").and_then(Value::as_str) == Some("personalAccessToken");
        let when = if pat {
            t.get("createdAt")
                .and_then(Value::as_str)
                .and_then(time::parse_iso)
        } else {
            match t.get("when") {
                Some(Value::String(s)) => time::parse_iso(s),
                Some(Value::Number(n)) => n.as_f64().map(|f| f as i64),
                _ => None,
            }
        };
        let outcome = if !active {
            "tokens of inactive users dropped"
        } else if ctx.conflicting_tokens.contains(&hash) {
            "tokens held by two users dropped"
        } else if pat {
            "personal access tokens kept"
        } else {
            match when {
                None => "session tokens without a date dropped",
                Some(w) if w < oldest => "session tokens expired (dropped)",
                Some(_) => "session tokens kept",
            }
        };
        tally.fact(outcome);
        if outcome.ends_with("kept") {
            let when = when.map(time::iso).unwrap_or_default();
            kept.push((
                hash,
                LoginToken {
                    user_id: user_id.to_string(),
                    when,
                },
            ));
        }
    }
    kept
}

fn subscription(doc: Doc, ctx: &Context, tally: &mut Tally) -> Option<Subscription> {
    let sub = Subscription(doc);
    if sub.rid().is_empty() || sub.user_id().is_empty() {
        tally.skip("subscriptions without rid or u._id");
        return None;
    }
    if !ctx.rooms.contains(sub.rid()) {
        tally.fact("subscriptions to a room not in the dump (kept)");
    }
    if !ctx.users.contains(sub.user_id()) {
        tally.fact("subscriptions of a user not in the dump (kept)");
    }
    Some(sub)
}

fn team(doc: Doc, tally: &mut Tally) -> Team {
    let team = Team(doc);
    tally.fact(match team.is_public() {
        true => "teams: public",
        false => "teams: private (their public rooms readable by members only)",
    });
    team
}

fn team_member(doc: Doc, ctx: &Context, tally: &mut Tally) -> Option<TeamMember> {
    let member = TeamMember(doc);
    if member.team_id().is_empty() || member.user_id().is_empty() {
        tally.skip("team members without teamId or userId");
        return None;
    }
    if !ctx.teams.contains(member.team_id()) {
        tally.fact("team members of a team not in the dump (kept)");
    }
    if !ctx.users.contains(member.user_id()) {
        tally.fact("team members who are not users in the dump (kept)");
    }
    Some(member)
}

fn room(doc: Doc, ctx: &Context, tally: &mut Tally) -> Room {
    let room = Room(doc);
    if let Some(team) = room.team_id() {
        tally.fact(match ctx.teams.contains(team) {
            true => "rooms in a team",
            // Rocket.Chat treats a missing team as private: only subscribers read them.
            false => "rooms of a team not in the dump (readable by their members only)",
        });
    }
    room
}

fn device(doc: Doc, ctx: &Context, tally: &mut Tally) -> Option<PushToken> {
    let token = PushToken(doc);
    let Some((service, value)) = token.device() else {
        tally.skip("devices without token.apn or token.gcm");
        return None;
    };
    if !ctx.users.contains(token.user_id()) {
        tally.skip("devices of no imported user (userId null or unknown)");
        return None;
    }
    let key = (
        format!("{}:{value}", service.code()),
        token.app_name().to_string(),
    );
    if ctx.device_winners.get(&key).map(|(_, id)| id.as_str()) != Some(token.id()) {
        tally.skip("devices registered again later (older duplicate)");
        return None;
    }
    tally.fact(match service.code() {
        "apn" => "devices: apn",
        _ => "devices: gcm",
    });
    Some(token)
}

/// A message as push.get will serve it: rendered once, with `md` added where Rocket.Chat
/// would have stored one.
fn message(raw: &RawDocument, tally: &mut Tally) -> Result<ImportedMessage, String> {
    let id = match raw.get("_id") {
        Ok(Some(RawBsonRef::String(s))) => s.to_string(),
        Ok(Some(RawBsonRef::ObjectId(oid))) => {
            tally.fact("messages with an ObjectId _id (stored as oid:<hex>, unreachable)");
            format!("oid:{}", oid.to_hex())
        }
        Ok(_) => return Err("message without a string _id".into()),
        Err(e) => return Err(format!("corrupt BSON: {e}")),
    };
    let ts = match raw.get("ts") {
        Ok(Some(RawBsonRef::DateTime(d))) => Some(d.timestamp_millis()),
        _ => {
            tally.fact("messages whose ts is not a date (kept as stored)");
            None
        }
    };
    let mut odd = Oddities::default();
    let mut entries =
        bson_json::entries(raw, &mut odd).map_err(|e| format!("corrupt BSON: {e}"))?;
    tally.odd(odd);
    if let Some(md) = missing_md(raw, ts.unwrap_or(0)) {
        let at = entries.get_index_of("_updatedAt").unwrap_or(entries.len());
        entries.shift_insert(at, "md".into(), Some(md));
        tally.fact("messages given an md from the parser");
    }
    let message = Message::from_json(bson_json::join(&entries).into_bytes())
        .map_err(|e| format!("rendered JSON does not parse back: {e}"))?;
    tally.imported += 1;
    Ok(ImportedMessage { message, id })
}

/// The parsed `md` of a message that lacks one, for the kinds Rocket.Chat parses when it
/// saves: user text messages. System messages (`t`), integration messages (`bot`),
/// end-to-end encrypted and empty ones get none there, so none here.
fn missing_md(raw: &RawDocument, ts: i64) -> Option<String> {
    let has = |k: &str| raw.get(k).ok().flatten().is_some();
    if has("md") || has("t") || has("bot") {
        return None;
    }
    let text = raw.get_str("msg").ok().filter(|t| !t.is_empty())?;
    let ast = crate::seed::parse_md(text, ts)?;
    serde_json::to_string(&ast).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, Bson, Document, RawDocumentBuf};

    const NOW: i64 = 1_750_000_000_000;
    const DAY: i64 = 86_400_000;

    fn raw(d: Document) -> RawDocumentBuf {
        RawDocumentBuf::try_from(&d).unwrap()
    }

    /// Observes then prepares `docs` of `collection`, as the plan pass does.
    fn run(collection: &str, docs: &[Document], ctx: &mut Context) -> (Vec<Prepared>, Tally) {
        let docs: Vec<RawDocumentBuf> = docs.iter().cloned().map(raw).collect();
        for d in &docs {
            observe(collection, d, ctx).unwrap();
        }
        let mut tally = Tally::default();
        let kept = docs
            .iter()
            .filter_map(|d| prepare(collection, d, ctx, &mut tally).unwrap())
            .collect();
        (kept, tally)
    }

    fn tokens(p: &Prepared) -> Vec<(String, String)> {
        match p {
            Prepared::User(u) => u
                .tokens
                .iter()
                .map(|(h, t)| (h.clone(), t.when.clone()))
                .collect(),
            _ => panic!("not a user"),
        }
    }

    #[test]
    fn login_tokens_follow_meteor_expiry_and_are_never_shared() {
        let date = |ms: i64| Bson::DateTime(bson::DateTime::from_millis(ms));
        let users = [
            doc! {"_id": "u1", "services": {"resume": {"loginTokens": [
                {"when": NOW - DAY, "token": "legacy-raw"},
                {"when": date(NOW - 31 * DAY), "hashedToken": "old"},
                {"when": date(NOW - DAY), "hashedToken": "shared"},
                {"hashedToken": "pat", "type": "personalAccessToken", "createdAt": date(0)},
            ]}}},
            doc! {"_id": "u2", "services": {"resume": {"loginTokens": [
            {"when": date(NOW - DAY), "hashedToken": "shared"}]}}},
        ];
        let settings = [doc! {"_id": "Accounts_LoginExpiration", "value": 30}];
        let mut ctx = Context::new(NOW, false);
        run(SETTINGS, &settings, &mut ctx);
        let (users, tally) = run(USERS, &users, &mut ctx);
        assert_eq!(
            tokens(&users[0]),
            [
                (token_hash("legacy-raw").to_string(), time::iso(NOW - DAY)),
                ("pat".to_string(), time::iso(0)),
            ]
        );
        assert!(tokens(&users[1]).is_empty());
        assert_eq!(tally.facts["tokens held by two users dropped"], 2);
        assert_eq!(tally.facts["session tokens expired (dropped)"], 1);
        assert_eq!(tally.facts["legacy unhashed tokens (hashed)"], 1);
    }

    #[test]
    fn usernames_and_emails_shared_up_to_case_are_reported() {
        let users = [
            doc! {"_id": "a", "username": "Ann", "emails": [{"address": "ann@x.org"}]},
            doc! {"_id": "b", "username": "ann"},
            doc! {"_id": "c", "username": "cid", "emails": [{"address": "ANN@x.org"}]},
            doc! {"_id": "d", "username": "dan"},
        ];
        let (_, tally) = run(USERS, &users, &mut Context::new(NOW, false));
        assert_eq!(
            tally.facts
                ["users sharing a username or e-mail up to case (the last imported answers to it)"],
            3
        );
    }

    #[test]
    fn secrets_stay_out_unless_asked_and_then_only_for_delivery() {
        let settings = [
            doc! {"_id": "Push_gcm_api_key", "value": "k", "type": "string"},
            doc! {"_id": "SMTP_Password", "value": "p", "type": "password"},
            doc! {"_id": "Site_Url", "value": "https://x"},
            doc! {"_id": "Anything", "value": "s", "secret": true},
        ];
        let ids = |p: &[Prepared]| -> Vec<String> {
            p.iter()
                .map(|p| match p {
                    Prepared::Setting(d) => d.str_at("_id").unwrap().to_string(),
                    _ => panic!(),
                })
                .collect()
        };
        let (kept, _) = run(SETTINGS, &settings, &mut Context::new(NOW, false));
        assert_eq!(ids(&kept), ["Site_Url"]);
        let (kept, _) = run(SETTINGS, &settings, &mut Context::new(NOW, true));
        assert_eq!(ids(&kept), ["Push_gcm_api_key", "Site_Url"]);
    }

    #[test]
    fn documents_without_a_string_id() {
        let oid = bson::oid::ObjectId::from_bytes([1; 12]);
        let (kept, tally) = run(
            ROOMS,
            &[doc! {"_id": oid, "t": "c"}],
            &mut Context::default(),
        );
        assert!(kept.is_empty());
        assert_eq!(
            tally.skipped["ObjectId _id (unreachable in Rocket.Chat)"],
            1
        );
        let mut tally = Tally::default();
        let m = raw(doc! {"_id": oid, "rid": "r", "msg": "", "ts": "yesterday"});
        let Some(Prepared::Message(m)) =
            prepare(MESSAGES, &m, &Context::default(), &mut tally).unwrap()
        else {
            panic!()
        };
        assert_eq!(m.id, "oid:010101010101010101010101");
        assert_eq!(
            tally.facts["messages whose ts is not a date (kept as stored)"],
            1
        );
        let e = prepare(
            USERS,
            &raw(doc! {"name": "x"}),
            &Context::default(),
            &mut tally,
        );
        assert_eq!(e.err().unwrap(), "document without _id");
    }
}
