// A bot on @rocket.chat/ddp-client 1.1.2 (Rocket.Chat's own DDP SDK), run against rcpush by
// tests/system/realtime_clients.rs. Node 20 has no global WebSocket: `ws` (pinned) is it.
//
// It connects, logs in (the SDK sends the password's SHA-256 digest, as Rocket.Chat's web
// client does), finds the room by name and joins it, streams its messages, receives the
// message another user posts over REST, replies, reacts to that message and edits its reply,
// while a second user's socket (lib.js's Watcher) watches the room. Prints one JSON line of
// what it observed.
"use strict";

globalThis.WebSocket = require("ws");
const crypto = require("crypto");
const { DDPSDK } = require("@rocket.chat/ddp-client");
const { settings, within, postTrigger, watchOutcome, finish, fail } = require("./lib");

const observed = { client: "@rocket.chat/ddp-client 1.1.2" };

async function main() {
  const s = settings();
  const ms = s.timeoutMs;
  // The SDK adds `/websocket` to the server's URL itself.
  const sdk = await within(ms, "DDPSDK.createAndConnect", DDPSDK.createAndConnect(s.url));
  const digest = crypto.createHash("sha256").update(s.bot.password).digest("hex");
  await within(ms, "account.loginWithPassword", sdk.account.loginWithPassword(s.bot.username, digest));
  observed.bot_id = sdk.account.uid;

  const rid = await within(ms, "getRoomIdByNameOrId", sdk.call("getRoomIdByNameOrId", s.room.name));
  observed.room_id = rid;
  observed.join_result = (await within(ms, "joinRoom", sdk.call("joinRoom", rid))) ?? null;

  const triggerText = `hello bot ${s.nonce}`;
  let received;
  const trigger = new Promise((resolve) => (received = resolve));
  const stream = sdk.stream("room-messages", rid, (message, meta) => {
    if (message && message.msg === triggerText) received({ message, meta });
  });
  await within(ms, "the room stream's ready", stream.ready());

  const { watcher, message } = await postTrigger(s, observed, triggerText, trigger);

  const replyText = `pong ${s.nonce}`;
  const editedText = `pong ${s.nonce} (edited)`;
  const reply = await within(ms, "sendMessage's result", sdk.call("sendMessage", { rid, msg: replyText }));
  observed.reply_result = { _id: reply._id, rid: reply.rid, msg: reply.msg };
  await within(ms, "setReaction's result", sdk.call("setReaction", ":thumbsup:", message._id));
  await within(ms, "updateMessage's result", sdk.call("updateMessage", { _id: reply._id, rid, msg: editedText }));

  observed.watcher = await watchOutcome(watcher, s, message._id, observed.bot_id, replyText, editedText);
  watcher.close();
  stream.stop();
  await within(ms, "account.logout", sdk.account.logout());
  observed.logged_out = true;
  sdk.connection.close();
  finish(observed);
}

// A client library's unhandled `error` event (a refused upgrade) ends the run the same way.
process.on("uncaughtException", (err) => fail(err, observed));
main().catch((err) => fail(err, observed));
