//! Real realtime clients against the real server (issue 25, item 6): a bot built on
//! `@rocket.chat/sdk` 0.2.9's driver (what hubot-rocketchat uses; its `asteroid` dependency is
//! the registry's asteroid 0.6.1 in place of GitHub's rocketchat/asteroid fork, see
//! tests/clients/package.json), one on `@rocket.chat/ddp-client` 1.1.2, and one on Python's
//! `rocketchat-async` 4.3.0, each as its users write bots. Versions are pinned by
//! tests/clients/package-lock.json and tests/clients/setup.sh, which installs them once.
//!
//! Each test starts `rcpush --ephemeral` (testing mode, the demo data) on the real clock, not
//! `--deterministic`: the sdk driver drops every message whose `ts` is not later than its own
//! clock at subscription. It creates a bot user, runs the bot script with a deadline, and
//! asserts on the one JSON line the script prints (what the bot and a second user's socket
//! saw) and on what REST and push.get then show: the bot joined the room, received alice's
//! message posted over REST, replied, reacted and edited, and rodriq's socket in the room got
//! the reply, the reaction and the edit.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::require::{available, Component};
use crate::support::{rcpush, root, spawn_owned, Server, ADMIN_PASSWORD, ALICE, RODRIQ};

/// The demo's public channel `vb`: every user may read it, the bot joins it.
const ROOM: (&str, &str) = ("iu7jtPAhvEeAS5tNq", "vb");
const BOT_PASSWORD: &str = "bot-password-Qm7x";
/// How long one script may take in all; each of its steps has `STEP_TIMEOUT_MS`.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(150);
const STEP_TIMEOUT_MS: &str = "30000";

/// Runs `tests/clients/setup.sh <part>`; `Err` says why the clients are not there.
fn setup(part: &str) -> Result<(), String> {
    let out = Command::new("bash")
        .arg(root().join("tests/clients/setup.sh"))
        .arg(part)
        .current_dir(root())
        .output()
        .map_err(|e| format!("bash tests/clients/setup.sh {part}: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "tests/clients/setup.sh {part} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Where the Node clients are installed, or `None` (skipped, or failed where required).
fn node_clients() -> Option<PathBuf> {
    available(Component::Node, setup("node"))?;
    let dir = std::env::var_os("RCPUSH_NODE_CLIENTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/node-clients"));
    Some(root().join(dir).join("node_modules"))
}

/// The Python of the rocketchat-async virtualenv, or `None`.
fn python_clients() -> Option<PathBuf> {
    available(Component::Python, setup("python"))?;
    let venv = std::env::var_os("RCPUSH_RT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/rt-venv"));
    Some(root().join(venv).join("bin/python"))
}

/// A server in testing mode with the demo data, and a bot user `username` made by the admin.
fn server_with_bot(dir: &Path, username: &str) -> Server {
    let server = Server::start(rcpush(&dir.join("unused")).arg("--ephemeral"));
    let client = server.client();
    // Before any client: a server without the realtime API fails here, saying so, rather
    // than as a client's connection timeout.
    let probe = client.get("/websocket", None);
    assert_ne!(
        probe.status, 404,
        "GET /websocket is a 404: this server has no realtime API (issue 25)"
    );
    let admin = client.login("admin", ADMIN_PASSWORD);
    let body = json!({"email": format!("{username}@example.com"), "name": format!("Bot {username}"),
        "password": BOT_PASSWORD, "username": username});
    let r = client.post("/api/v1/users.create", Some((&admin.0, &admin.1)), &body);
    assert_eq!(r.status, 200, "users.create {username}: {}", r.body);
    server
}

/// The scenario's settings for a bot script (tests/clients/lib.js reads them).
fn scenario_env(server: &Server, bot: &str, nonce: &str) -> Vec<(String, String)> {
    [
        ("RCPUSH_URL", server.url("")),
        ("BOT_USERNAME", bot.to_string()),
        ("BOT_PASSWORD", BOT_PASSWORD.to_string()),
        ("POSTER_ID", ALICE.0.to_string()),
        ("POSTER_TOKEN", ALICE.1.to_string()),
        ("WATCHER_TOKEN", RODRIQ.1.to_string()),
        ("ROOM_ID", ROOM.0.to_string()),
        ("ROOM_NAME", ROOM.1.to_string()),
        ("NONCE", nonce.to_string()),
        ("STEP_TIMEOUT_MS", STEP_TIMEOUT_MS.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Runs `cmd` (a bot script) to its end or `SCRIPT_DEADLINE` (then kills it): the JSON
/// observation on its last line. Panics, with everything it and the server printed, when it
/// failed, ran out of time or printed no observation.
fn run_script(mut cmd: Command, server: &Server) -> Value {
    let mut child = spawn_owned(
        cmd.current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .expect("start the bot script");
    let stdout = drain(&mut child, true);
    let stderr = drain(&mut child, false);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the script's status") {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let observed = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str::<Value>(l).ok());
    let context = || {
        format!(
            "status {status:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server log\n{}",
            server.drain_log().join("\n")
        )
    };
    match (status, observed) {
        (Some(s), Some(observed)) if s.success() && observed.get("error").is_none() => observed,
        (None, _) => panic!("the bot script ran past {SCRIPT_DEADLINE:?}: {}", context()),
        _ => panic!("the bot script failed: {}", context()),
    }
}

/// Reads the child's stdout (or stderr) to its end on a thread.
fn drain(child: &mut Child, stdout: bool) -> std::thread::JoinHandle<String> {
    let mut pipe: Box<dyn Read + Send> = match stdout {
        true => Box::new(child.stdout.take().unwrap()),
        false => Box::new(child.stderr.take().unwrap()),
    };
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// What every bot scenario must have observed, and what REST and push.get must show after.
fn assert_scenario(server: &Server, seen: &Value, bot: &str, nonce: &str) {
    let (trigger, reply, edited) = (
        format!("hello bot {nonce}"),
        format!("pong {nonce}"),
        format!("pong {nonce} (edited)"),
    );
    let bot_id = seen["bot_id"]
        .as_str()
        .expect("the bot's user id")
        .to_string();
    let trigger_id = seen["trigger_id"]
        .as_str()
        .expect("the posted id")
        .to_string();

    // The bot received alice's message, with its date in EJSON.
    let received = &seen["received"];
    assert_eq!(received["_id"], trigger_id.as_str(), "{seen}");
    assert_eq!(received["msg"], trigger.as_str(), "{seen}");
    assert_eq!(received["rid"], ROOM.0, "{seen}");
    // Its reply: the method's result names it.
    let reply_id = seen["reply_result"]["_id"]
        .as_str()
        .unwrap_or_else(|| panic!("the reply's id: {seen}"))
        .to_string();
    assert_eq!(seen["reply_result"]["msg"], reply.as_str(), "{seen}");

    // rodriq's socket in the room got the reply, the reaction and the edit.
    let watched = &seen["watcher"];
    assert_eq!(watched["reply"]["_id"], reply_id.as_str(), "{seen}");
    assert_eq!(watched["reply"]["rid"], ROOM.0, "{seen}");
    assert_eq!(watched["reply"]["u"]["username"], bot, "{seen}");
    assert_eq!(watched["reply"]["ts_is_date"], true, "{seen}");
    assert_eq!(
        watched["reaction"]["reactions"],
        json!({":thumbsup:": {"usernames": [bot]}}),
        "{seen}"
    );
    assert_eq!(watched["edit"]["msg"], edited.as_str(), "{seen}");
    assert_eq!(watched["edit"]["editedAt_is_date"], true, "{seen}");
    assert_eq!(watched["edit"]["editedBy"]["username"], bot, "{seen}");

    // Over REST: the bot is a member of the room now, its reply is edited, alice's message
    // carries its reaction.
    let client = server.client();
    let bot_auth = client.login(bot, BOT_PASSWORD);
    assert_eq!(bot_auth.0, bot_id);
    let r = client.get(
        &format!("/api/v1/subscriptions.getOne?roomId={}", ROOM.0),
        Some((&bot_auth.0, &bot_auth.1)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["subscription"]["rid"], ROOM.0, "{}", r.body);
    let get = |id: &str| {
        let r = client.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(ALICE));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["message"].clone()
    };
    let stored_reply = get(&reply_id);
    assert_eq!(stored_reply["msg"], edited.as_str(), "{stored_reply}");
    assert_eq!(stored_reply["u"]["_id"], bot_id.as_str(), "{stored_reply}");
    assert!(stored_reply["editedAt"].is_string(), "{stored_reply}");
    let stored_trigger = get(&trigger_id);
    assert_eq!(
        stored_trigger["reactions"],
        json!({":thumbsup:": {"usernames": [bot]}}),
        "{stored_trigger}"
    );

    // And in what rodriq's phone fetches after a push.
    let (status, body) = server.push_get(&reply_id);
    assert_eq!(status, 200, "{body}");
    let pushed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(pushed["data"]["message"]["msg"], edited.as_str(), "{body}");
    let (status, body) = server.push_get(&trigger_id);
    assert_eq!(status, 200, "{body}");
    let pushed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        pushed["data"]["message"]["reactions"],
        json!({":thumbsup:": {"usernames": [bot]}}),
        "{body}"
    );
}

/// Runs the Node bot `script` as the new user `bot` through the common scenario; what it
/// observed, or `None` where Node is missing (skipped).
fn node_bot(script: &str, bot: &str) -> Option<Value> {
    let modules = node_clients()?;
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_bot(dir.path(), bot);
    let nonce = format!("{bot}-{}", std::process::id());
    let mut cmd = Command::new("node");
    cmd.arg(root().join("tests/clients").join(script))
        .env("NODE_PATH", &modules)
        .envs(scenario_env(&server, bot, &nonce));
    let seen = run_script(cmd, &server);
    assert_scenario(&server, &seen, bot, &nonce);
    Some(seen)
}

#[test]
fn a_bot_on_the_rocket_chat_sdk_driver_joins_receives_replies_reacts_and_edits() {
    let Some(seen) = node_bot("sdk_bot.js", "sdkbot") else {
        return;
    };
    // The driver keeps the room it joined by name, and hands the message on with the meta
    // its filters read (a participant of a channel).
    assert_eq!(seen["joined"], json!([ROOM.0]), "{seen}");
    assert_eq!(seen["received"]["ts_is_date"], true, "{seen}");
    assert_eq!(seen["received"]["meta"]["roomType"], "c", "{seen}");
    assert_eq!(seen["received"]["meta"]["roomParticipant"], true, "{seen}");
    // sendMessage kept the driver's `bot` field.
    assert_eq!(
        seen["reply_result"]["bot"],
        json!({"i": "js.SDK"}),
        "{seen}"
    );
    assert_eq!(seen["logged_out"], true, "{seen}");
}

#[test]
fn a_bot_on_ddp_client_joins_receives_replies_reacts_and_edits() {
    let Some(seen) = node_bot("ddp_client_bot.js", "ddpbot") else {
        return;
    };
    assert_eq!(seen["room_id"], ROOM.0, "{seen}");
    // A user who was not in the room is added: `true`.
    assert_eq!(seen["join_result"], true, "{seen}");
    assert_eq!(seen["received"]["ts_is_date"], true, "{seen}");
    assert_eq!(seen["logged_out"], true, "{seen}");
}

#[test]
fn a_bot_on_rocketchat_async_joins_receives_replies_reacts_and_edits() {
    let Some(python) = python_clients() else {
        return;
    };
    let bot = "pybot";
    let dir = tempfile::tempdir().unwrap();
    let server = server_with_bot(dir.path(), bot);
    let nonce = format!("{bot}-{}", std::process::id());
    let mut cmd = Command::new(python);
    cmd.arg(root().join("tests/clients/rocketchat_async_bot.py"))
        .env("PYTHONIOENCODING", "utf-8")
        .envs(scenario_env(&server, bot, &nonce));
    let seen = run_script(cmd, &server);
    // rooms/get lists the rooms the bot is in: #general (every new user joins it), then also
    // the channel it joined.
    assert_eq!(seen["rooms_before_join"], json!(["GENERAL"]), "{seen}");
    assert_eq!(
        seen["rooms_after_join"],
        json!(["GENERAL", ROOM.0]),
        "{seen}"
    );
    assert_eq!(seen["join_result"], true, "{seen}");
    assert_eq!(seen["typing_answered"], true, "{seen}");
    // The library hands on the sender's id only.
    assert_eq!(seen["received"]["u"], ALICE.0, "{seen}");
    assert_scenario(&server, &seen, bot, &nonce);
}

/// Issue 25's crash rule for the socket: `kill -9` of the server while sockets are calling
/// `sendMessage` loses no message whose `result` had arrived (a result is sent only after the
/// write is durable). Three users' sockets (tests/clients/crash_writer.py) write into `vb`
/// back to back; the server is killed once they have been acknowledged a few dozen times,
/// then started again on the same database, where every acknowledged message must be.
#[test]
fn kill_9_with_sockets_open_loses_no_acknowledged_send_message() {
    let Some(python) = python_clients() else {
        return;
    };
    let _heavy = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let server = Server::start(&mut rcpush(&db));
    let probe = server.client().get("/websocket", None);
    assert_ne!(
        probe.status, 404,
        "GET /websocket is a 404: this server has no realtime API (issue 25)"
    );
    let writers = [ALICE, crate::support::BOB, RODRIQ]
        .iter()
        .map(|(id, token)| format!("{id}:{token}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut child = spawn_owned(
        Command::new(python)
            .arg(root().join("tests/clients/crash_writer.py"))
            .current_dir(root())
            .env("RCPUSH_URL", server.url(""))
            .env("ROOM_ID", ROOM.0)
            .env("WRITERS", &writers)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .expect("start the writers");
    let stderr = drain(&mut child, false);
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });

    // Kill once enough results have arrived (or the writers stalled: then fail below).
    let mut printed = Vec::new();
    let started = Instant::now();
    while printed
        .iter()
        .filter(|l: &&String| l.starts_with("ACK "))
        .count()
        < 40
        && started.elapsed() < Duration::from_secs(60)
    {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            printed.push(line);
        }
    }
    server.kill_hard();
    // The writers end when their sockets close; what they printed was acknowledged before.
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    printed.extend(lines.try_iter());
    let acked: Vec<&str> = printed
        .iter()
        .filter_map(|l| l.strip_prefix("ACK "))
        .collect();
    let stderr = stderr.join().unwrap();
    assert!(
        acked.len() >= 10,
        "the writers were acknowledged {} times before the kill:\n{}\n--- stderr\n{stderr}",
        acked.len(),
        printed.join("\n")
    );

    let server = Server::start(&mut rcpush(&db));
    let client = server.client();
    for id in &acked {
        let r = client.get(&format!("/api/v1/chat.getMessage?msgId={id}"), Some(ALICE));
        assert_eq!(r.status, 200, "acknowledged {id} is lost: {}", r.body);
        assert_eq!(
            r.json()["message"]["msg"],
            format!("crash {id}"),
            "{}",
            r.body
        );
    }
    println!(
        "{} acknowledged sendMessage results, all found after kill -9",
        acked.len()
    );
}
