//! Writes a set of collections in every form `rcpush import` reads, as `mongodump` and
//! `mongoexport` would: for the tests and the import benchmark (`bench-data` builds only).

use std::io::Write;
use std::path::{Path, PathBuf};

use bson::{doc, Bson, Document};
use flate2::write::GzEncoder;

use super::archive::{CRC, MAGIC, TERMINATOR};

/// The forms of a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `dump/<db>/<collection>.bson` (the parent folder is given to the importer).
    Directory,
    /// The same with `--gzip`: every file gzipped on its own.
    DirectoryGzip,
    /// `--archive`, segments of two documents, namespaces interleaved.
    Archive,
    /// `--archive --gzip`: the whole stream gzipped once.
    ArchiveGzip,
    /// `mongoexport --jsonFormat=canonical`, one document per line.
    ExportCanonical,
    /// `mongoexport` (relaxed) `--jsonArray --pretty`.
    ExportRelaxedArray,
}

impl Form {
    pub const ALL: [Form; 6] = [
        Form::Directory,
        Form::DirectoryGzip,
        Form::Archive,
        Form::ArchiveGzip,
        Form::ExportCanonical,
        Form::ExportRelaxedArray,
    ];
}

pub type Collections = [(&'static str, Vec<Document>)];

fn bytes(d: &Document) -> Vec<u8> {
    d.to_vec().unwrap_or_default()
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data)?;
    gz.finish()
}

/// Writes `collections` of database `db` in `form` under `dir`; returns the path to import.
pub fn write(
    dir: &Path,
    db: &str,
    collections: &Collections,
    form: Form,
) -> std::io::Result<PathBuf> {
    match form {
        Form::Directory | Form::DirectoryGzip => {
            let root = dir.join("dump");
            let folder = root.join(db);
            std::fs::create_dir_all(&folder)?;
            for (name, docs) in collections {
                let data: Vec<u8> = docs.iter().flat_map(bytes).collect();
                let meta = format!(
                    r#"{{"indexes":[],"uuid":"","collectionName":"{name}","type":"collection"}}"#
                );
                if form == Form::DirectoryGzip {
                    std::fs::write(folder.join(format!("{name}.bson.gz")), gzip(&data)?)?;
                    std::fs::write(
                        folder.join(format!("{name}.metadata.json.gz")),
                        gzip(meta.as_bytes())?,
                    )?;
                } else {
                    std::fs::write(folder.join(format!("{name}.bson")), data)?;
                    std::fs::write(folder.join(format!("{name}.metadata.json")), meta)?;
                }
            }
            Ok(root)
        }
        Form::Archive | Form::ArchiveGzip => {
            let data = archive(db, collections, 2);
            let (name, data) = if form == Form::ArchiveGzip {
                ("rc.archive.gz", gzip(&data)?)
            } else {
                ("rc.archive", data)
            };
            let path = dir.join(name);
            std::fs::write(&path, data)?;
            Ok(path)
        }
        Form::ExportCanonical | Form::ExportRelaxedArray => {
            let folder = dir.join("export");
            std::fs::create_dir_all(&folder)?;
            for (name, docs) in collections {
                let mut out = Vec::new();
                if form == Form::ExportCanonical {
                    for d in docs {
                        let v = Bson::Document(d.clone()).into_canonical_extjson();
                        writeln!(out, "{v}")?;
                    }
                } else {
                    let values: Vec<serde_json::Value> = docs
                        .iter()
                        .map(|d| Bson::Document(d.clone()).into_relaxed_extjson())
                        .collect();
                    out = serde_json::to_vec_pretty(&values)?;
                }
                std::fs::write(folder.join(format!("{name}.json")), out)?;
            }
            Ok(folder)
        }
    }
}

/// What `mongodump --archive` writes for these namespaces, each split into segments of
/// `per_segment` documents, interleaved round-robin as a parallel dump does.
pub fn archive(db: &str, collections: &Collections, per_segment: usize) -> Vec<u8> {
    let per_segment = per_segment.max(1);
    let mut out = MAGIC.to_vec();
    out.extend(bytes(&doc! {"concurrent_collections": 4, "version": "0.1",
    "server_version": "7.0.14", "tool_version": "100.10.0"}));
    for (c, docs) in collections {
        let size: usize = docs.iter().map(|d| bytes(d).len()).sum();
        out.extend(bytes(&doc! {"db": db, "collection": *c, "metadata": "{}",
        "size": size as i64, "type": "collection"}));
    }
    out.extend(TERMINATOR);
    let mut cursors = vec![0usize; collections.len()];
    loop {
        let mut progressed = false;
        for (i, (c, docs)) in collections.iter().enumerate() {
            if cursors[i] >= docs.len() {
                continue;
            }
            progressed = true;
            out.extend(bytes(
                &doc! {"db": db, "collection": *c, "EOF": false, "CRC": 0_i64},
            ));
            for d in docs.iter().skip(cursors[i]).take(per_segment) {
                out.extend(bytes(d));
            }
            cursors[i] += per_segment;
            out.extend(TERMINATOR);
        }
        if !progressed {
            break;
        }
    }
    for (c, docs) in collections {
        let mut digest = CRC.digest();
        docs.iter().for_each(|d| digest.update(&bytes(d)));
        out.extend(bytes(&doc! {"db": db, "collection": *c, "EOF": true,
        "CRC": digest.finalize() as i64}));
        out.extend(TERMINATOR);
    }
    out
}

/// The raw login tokens of the small workspace, as the phones hold them.
pub const ALICE_TOKEN: &str = "Zu-Z6eKzIIz7MCCRGeHi29bYkXZCJ4SxFC0JAasqm92";
pub const ALICE_EXPIRED_TOKEN: &str = "alice-token-of-last-year";
pub const ALICE_PAT: &str = "alice-personal-access-token";
pub const BOB_TOKEN: &str = "bob-phone-session-token";
pub const BOB_DEVICE: &str = "bob-apn-device-token";
/// `"correct horse"` under bcrypt, as Rocket.Chat stores it (spec §3.1 vector).
pub const BCRYPT_CORRECT_HORSE: &str =
    "$2b$10$abcdefghijklmnopqrstuuaDDmPWNRqhNyL44KvWaEPmBlBEVL/9W";
pub const ALICE: &str = "aB3dE5fG7hJ9kL2mN";
pub const BOB: &str = "bB4cD6eF8gH2jK3mP";
pub const DM: &str = "aB3dE5fG7hJ9kL2mNbB4cD6eF8gH2jK3mP";
/// A message in the public channel of a private team alice is in and bob is not.
pub const PRIVATE_TEAM_MESSAGE: &str = "CrewPlanMsg000001";
/// A message in the public channel of a public team neither is in.
pub const PUBLIC_TEAM_MESSAGE: &str = "OpenPlanMsg000001";

fn date(ms: i64) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(ms))
}

fn hashed(token: &str) -> String {
    crate::rules::credentials::token_hash(token).to_string()
}

/// A small Rocket.Chat workspace in the shapes of the import spec: its three §4 example
/// messages, users with bcrypt passwords, live, expired and personal access tokens, a
/// deactivated and a 2FA user, a bot, a device, the settings that matter, and a private
/// and a public team, each with a public channel. `now` dates the tokens.
pub fn workspace(now: i64) -> Vec<(&'static str, Vec<Document>)> {
    let day = 86_400_000;
    let u = |id: &str, name: &str, full: &str| doc! {"_id": id, "username": name, "name": full};
    let settings = vec![
        doc! {"_id": "Site_Url", "value": "https://chat.example.com", "type": "string", "public": true},
        doc! {"_id": "uniqueID", "value": "wkspc-unique-1", "type": "string"},
        doc! {"_id": "Accounts_LoginExpiration", "value": 90, "type": "int"},
        doc! {"_id": "Push_apn_passphrase", "value": "hunter2", "type": "password", "secret": true},
        doc! {"_id": "Push", "type": "group"},
        doc! {"_id": "Push_request_content_from_server", "value": true, "type": "boolean",
        "enterprise": true, "invalidValue": false},
    ];
    let password = doc! {"bcrypt": BCRYPT_CORRECT_HORSE};
    let users = vec![
        doc! {"_id": ALICE, "createdAt": date(now - 400 * day), "username": "alice",
        "emails": [{"address": "alice@example.com", "verified": true}], "type": "user",
        "status": "offline", "active": true, "name": "Alice Liddell", "roles": ["user", "admin"],
        "services": {"password": password.clone(), "resume": {"loginTokens": [
            {"when": date(now - day), "hashedToken": hashed(ALICE_TOKEN)},
            {"when": date(now - 200 * day), "hashedToken": hashed(ALICE_EXPIRED_TOKEN)},
            {"hashedToken": hashed(ALICE_PAT), "type": "personalAccessToken",
             "createdAt": date(now - 300 * day), "lastTokenPart": "oken", "name": "ci"},
        ]}, "email2fa": {"enabled": false}},
        "__rooms": ["GENERAL", DM], "utcOffset": 2},
        doc! {"_id": BOB, "username": "bob", "name": "Bob", "active": true, "roles": ["user"],
        "emails": [{"address": "bob@example.com", "verified": true}],
        "services": {"password": {"bcrypt": BCRYPT_CORRECT_HORSE.replacen("$2b$", "$2a$", 1)},
            "resume": {"loginTokens": [{"when": date(now - 2 * day), "hashedToken": hashed(BOB_TOKEN)}]}}},
        doc! {"_id": "rocket.cat", "username": "rocket.cat", "name": "Rocket.Cat", "type": "bot",
        "active": true, "roles": ["bot"]},
        doc! {"_id": "cArOlInactive1234", "username": "carol", "name": "Carol", "active": false,
        "services": {"password": password.clone(), "resume": {"loginTokens": [
            {"when": date(now - day), "hashedToken": hashed("carol-token")}]}}},
        doc! {"_id": "dAvE2faUser123456", "username": "dave", "name": "Dave", "active": true,
        "services": {"password": password, "totp": {"enabled": true, "secret": "JBSWY3DPEHPK3PXP",
            "hashedBackup": ["x"]}}},
    ];
    let rooms = vec![
        doc! {"_id": "GENERAL", "t": "c", "name": "general", "default": true, "msgs": 2,
        "usersCount": 3, "ts": date(now - 400 * day), "u": u("rocket.cat", "rocket.cat", "Rocket.Cat")},
        doc! {"_id": DM, "t": "d", "uids": [ALICE, BOB], "usernames": ["alice", "bob"], "msgs": 1,
        "usersCount": 2, "ts": date(now - 300 * day)},
        doc! {"_id": "CrewMainRoom00001", "t": "p", "name": "crew", "fname": "crew", "msgs": 0,
        "usersCount": 1, "ts": date(now - 50 * day), "u": u(ALICE, "alice", "Alice Liddell"),
        "teamMain": true, "teamId": "CrewTeam000000001"},
        doc! {"_id": "CrewPlansRoom0001", "t": "c", "name": "crew-plans", "fname": "crew-plans",
        "msgs": 1, "usersCount": 0, "ts": date(now - 50 * day),
        "u": u(ALICE, "alice", "Alice Liddell"), "teamId": "CrewTeam000000001"},
        doc! {"_id": "OpenPlansRoom0001", "t": "c", "name": "open-plans", "fname": "open-plans",
        "msgs": 1, "usersCount": 0, "ts": date(now - 50 * day),
        "u": u(ALICE, "alice", "Alice Liddell"), "teamId": "OpenTeam000000001"},
    ];
    let teams = vec![
        doc! {"_id": "CrewTeam000000001", "name": "crew", "type": 1, "createdAt": date(now - 50 * day),
        "createdBy": {"_id": ALICE, "username": "alice"}, "_updatedAt": date(now - 50 * day),
        "roomId": "CrewMainRoom00001"},
        doc! {"_id": "OpenTeam000000001", "name": "open", "type": 0, "createdAt": date(now - 50 * day),
        "createdBy": {"_id": ALICE, "username": "alice"}, "_updatedAt": date(now - 50 * day),
        "roomId": "OpenMainRoom00001"},
    ];
    let team_members = vec![
        doc! {"_id": "CrewMember0000001", "teamId": "CrewTeam000000001", "userId": ALICE,
        "roles": ["owner"], "createdAt": date(now - 50 * day),
        "createdBy": {"_id": ALICE, "username": "alice"}},
        doc! {"_id": "CrewMember0000002", "teamId": "CrewTeam000000001", "createdAt": date(now - 50 * day)},
    ];
    let sub = |id: &str, rid: &str, user: Document, unread: i32, name: &str, t: &str| {
        doc! {"_id": id, "rid": rid, "u": user, "t": t, "name": name, "unread": unread,
        "alert": unread > 0, "open": true, "ts": date(now - 300 * day)}
    };
    let subscriptions = vec![
        sub(
            "sA1",
            "GENERAL",
            doc! {"_id": ALICE, "username": "alice"},
            0,
            "general",
            "c",
        ),
        sub(
            "sB1",
            "GENERAL",
            doc! {"_id": BOB, "username": "bob"},
            3,
            "general",
            "c",
        ),
        sub(
            "sA2",
            DM,
            doc! {"_id": ALICE, "username": "alice"},
            0,
            "bob",
            "d",
        ),
        sub(
            "sB2",
            DM,
            doc! {"_id": BOB, "username": "bob"},
            2,
            "alice",
            "d",
        ),
        sub(
            "sC1",
            "GENERAL",
            doc! {"_id": "rocket.cat", "username": "rocket.cat"},
            0,
            "general",
            "c",
        ),
    ];
    let text = |t: &str| doc! {"type": "PLAIN_TEXT", "value": t};
    let image = doc! {"_id": "Fz8yX7wV6uT5sR4qP", "name": "IMG_0042.jpg", "type": "image/jpeg",
    "size": 284113, "format": "jpeg", "typeGroup": "image"};
    let messages = vec![
        doc! {"_id": "Xk9rM3pQ2aB7cD4eF", "rid": "GENERAL", "msg": "@bob café at 5? https://rocket.chat",
        "ts": date(1745671412345), "u": u(ALICE, "alice", "Alice Liddell"),
        "urls": [{"url": "https://rocket.chat"}],
        "mentions": [{"_id": BOB, "username": "bob", "name": "Bob", "type": "user"}], "channels": [],
        "md": [{"type": "PARAGRAPH", "value": [
            {"type": "MENTION_USER", "value": text("bob")}, text(" café at 5? "),
            {"type": "LINK", "value": {"src": text("https://rocket.chat"), "label": [text("https://rocket.chat")]}}]}],
        "_updatedAt": date(1745671412391)},
        doc! {"_id": "6630a1f2c4b0e81d2f9a7b31", "rid": DM, "ts": date(1745671500000),
        "tmid": "Xk9rM3pQ2aB7cD4eF", "msg": "", "groupable": false, "file": image.clone(),
        "files": [image, {"_id": "Tq2wE3rT4yU5iO6pA", "name": "thumb-IMG_0042.jpg", "type": "image/jpeg",
            "size": 20417, "format": "jpeg", "typeGroup": "image"}],
        "attachments": [{"title": "IMG_0042.jpg", "type": "file",
            "title_link": "/file-upload/Fz8yX7wV6uT5sR4qP/IMG_0042.jpg", "title_link_download": true,
            "image_url": "/file-upload/Tq2wE3rT4yU5iO6pA/IMG_0042.jpg", "image_type": "image/jpeg",
            "image_size": 284113, "fileId": "Fz8yX7wV6uT5sR4qP",
            "image_dimensions": {"width": 360, "height": 480}, "image_preview": "/9j/2wBDAAYEBQY…"}],
        "u": u(ALICE, "alice", "Alice Liddell"), "urls": [], "mentions": [], "channels": [],
        "_updatedAt": date(1745671500102)},
        doc! {"_id": "Pq7rS8tU9vW2xY3zA", "alias": "CI", "emoji": ":rocket:", "msg": "Build *#4821* passed",
        "attachments": [{"color": "#2de0a5", "title": "pipeline main", "ts": date(1745671388123),
            "fields": [{"short": true, "title": "Duration", "value": 93.0},
                {"short": true, "title": "Artifacts", "value": 4294967296_i64},
                {"short": false, "title": "Ratio", "value": 0.1}]}],
        "bot": {"i": "iNtEgRaTiOn12345"},
        "customFields": {"ticket": "OPS-7", "2": "two", "10": "ten", "01": "x"},
        "groupable": false, "ts": date(1745671590007), "u": {"_id": "rocket.cat", "username": "rocket.cat"},
        "rid": "GENERAL", "_updatedAt": date(1745671590007), "editedAt": Bson::Undefined},
        doc! {"_id": "NoMdMessage000001", "rid": "GENERAL", "msg": "hello **world**", "ts": date(1745671600000),
        "u": u(BOB, "bob", "Bob"), "_updatedAt": date(1745671600001)},
        doc! {"_id": PRIVATE_TEAM_MESSAGE, "rid": "CrewPlansRoom0001", "msg": "the plan",
        "ts": date(1745671700000), "u": u(ALICE, "alice", "Alice Liddell"),
        "_updatedAt": date(1745671700000)},
        doc! {"_id": PUBLIC_TEAM_MESSAGE, "rid": "OpenPlansRoom0001", "msg": "open plan",
        "ts": date(1745671800000), "u": u(ALICE, "alice", "Alice Liddell"),
        "_updatedAt": date(1745671800000)},
    ];
    let devices = vec![
        doc! {"_id": "dev-bob-1", "token": {"apn": BOB_DEVICE}, "authToken": hashed(BOB_TOKEN),
        "appName": "chat.rocket.reactnative", "userId": BOB, "enabled": true,
        "createdAt": date(now - 10 * day), "updatedAt": date(now - 10 * day), "metadata": {}},
        doc! {"_id": "dev-bob-old", "token": {"apn": BOB_DEVICE}, "authToken": "old",
        "appName": "chat.rocket.reactnative", "userId": BOB, "enabled": true,
        "createdAt": date(now - 90 * day), "updatedAt": date(now - 90 * day), "metadata": {}},
        doc! {"_id": "dev-none", "token": {}, "appName": "x", "userId": BOB},
        doc! {"_id": "dev-nobody", "token": {"gcm": "g1"}, "appName": "x", "userId": Bson::Null},
    ];
    vec![
        ("rocketchat_settings", settings),
        ("users", users),
        ("rocketchat_team", teams),
        ("rocketchat_team_member", team_members),
        ("rocketchat_room", rooms),
        ("rocketchat_subscription", subscriptions),
        ("rocketchat_message", messages),
        ("_raix_push_app_tokens", devices),
        (
            "rocketchat_sessions",
            vec![doc! {"_id": "s1", "userId": ALICE}],
        ),
        (
            "migrations",
            vec![doc! {"_id": "control", "version": 320, "locked": false}],
        ),
    ]
}

/// The `i`-th of a stream of generated messages: channel and DM text of a few kinds, with
/// and without `md` (benchmarks and the crash test).
pub fn message(i: u64) -> Document {
    let ts = 1_745_000_000_000 + i as i64 * 1_000;
    let (rid, sender) = if i.is_multiple_of(3) {
        (DM, doc! {"_id": BOB, "username": "bob", "name": "Bob"})
    } else {
        (
            "GENERAL",
            doc! {"_id": ALICE, "username": "alice", "name": "Alice Liddell"},
        )
    };
    let mut d = doc! {"_id": format!("gen{i:014}"), "rid": rid,
    "msg": format!("message {i}: see **https://rocket.chat/{i}** and @bob"), "ts": date(ts),
    "u": sender, "urls": [{"url": format!("https://rocket.chat/{i}")}],
    "mentions": [{"_id": BOB, "username": "bob", "name": "Bob", "type": "user"}],
    "channels": [], "_updatedAt": date(ts + 41)};
    match i % 10 {
        // Older messages have no md: the importer parses them.
        3 => {}
        7 => {
            d.insert("t", "uj");
            d.insert("msg", "alice");
            d.insert("groupable", false);
        }
        _ => {
            let text = d.get_str("msg").unwrap_or_default().to_string();
            let md = doc! {"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": text}]};
            d.insert("md", vec![md]);
        }
    }
    d
}

/// Streams an archive of the small `collections` and `messages` generated messages into
/// `out`, without holding them (segments of 1,000 documents, as one dump thread writes).
pub fn stream_archive(
    mut out: impl Write,
    db: &str,
    collections: &Collections,
    messages: u64,
) -> std::io::Result<()> {
    let mut namespaces: Vec<&str> = collections.iter().map(|(c, _)| *c).collect();
    namespaces.push("rocketchat_message");
    out.write_all(&MAGIC)?;
    out.write_all(&bytes(
        &doc! {"concurrent_collections": 1, "version": "0.1",
        "server_version": "7.0.14", "tool_version": "100.10.0"},
    ))?;
    for c in &namespaces {
        out.write_all(&bytes(&doc! {"db": db, "collection": *c, "metadata": "{}",
        "size": 0_i64, "type": "collection"}))?;
    }
    out.write_all(&TERMINATOR)?;
    let header = |c: &str, eof: bool, crc: u64| {
        bytes(&doc! {"db": db, "collection": c, "EOF": eof, "CRC": crc as i64})
    };
    for (c, docs) in collections {
        let mut digest = CRC.digest();
        out.write_all(&header(c, false, 0))?;
        for d in docs {
            let b = bytes(d);
            digest.update(&b);
            out.write_all(&b)?;
        }
        out.write_all(&TERMINATOR)?;
        out.write_all(&header(c, true, digest.finalize()))?;
        out.write_all(&TERMINATOR)?;
    }
    let mut digest = CRC.digest();
    for start in (0..messages).step_by(1_000) {
        out.write_all(&header("rocketchat_message", false, 0))?;
        for i in start..(start + 1_000).min(messages) {
            let b = bytes(&message(i));
            digest.update(&b);
            out.write_all(&b)?;
        }
        out.write_all(&TERMINATOR)?;
    }
    out.write_all(&header("rocketchat_message", true, digest.finalize()))?;
    out.write_all(&TERMINATOR)?;
    out.flush()
}
