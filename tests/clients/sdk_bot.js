// A bot on @rocket.chat/sdk 0.2.9's driver, the base of hubot-rocketchat, run against rcpush
// by tests/system/realtime_clients.rs. Its `asteroid` dependency is the registry's
// asteroid 0.6.1 (package.json's override) instead of GitHub's rocketchat/asteroid fork of it,
// which cannot be fetched here; the driver calls the same API on either.
//
// It connects and logs in with a password, subscribes to its messages, joins the room by name
// (respondToMessages), receives the message another user posts over REST, replies, reacts to
// that message and edits its reply, while a second user's socket (lib.js's Watcher) watches
// the room. Prints one JSON line of what it observed.
"use strict";

const { driver } = require("@rocket.chat/sdk");
const { settings, within, postTrigger, watchOutcome, finish, fail } = require("./lib");

const observed = {
  client: "@rocket.chat/sdk 0.2.9 driver (asteroid 0.6.1 from the registry in place of GitHub's rocketchat/asteroid fork)",
};

async function main() {
  const s = settings();
  const ms = s.timeoutMs;
  const quiet = () => null;
  driver.useLog({ debug: quiet, info: quiet, warn: quiet, warning: quiet, error: (...a) => console.error(...a) });

  await within(ms, "driver.connect", driver.connect({ host: s.host, useSsl: false, timeout: ms }));
  observed.bot_id = await within(ms, "driver.login", driver.login({ username: s.bot.username, password: s.bot.password }));
  await within(ms, "driver.subscribeToMessages", driver.subscribeToMessages());

  const triggerText = `hello bot ${s.nonce}`;
  let received;
  const trigger = new Promise((resolve) => (received = resolve));
  await within(ms, "driver.respondToMessages to join the room", driver.respondToMessages(
    (err, message, meta) => {
      if (!err && message.msg === triggerText) received({ message, meta });
    },
    { rooms: [s.room.name], dm: false, livechat: false, edited: false, allPublic: false },
  ));
  observed.joined = driver.joinedIds;

  const { watcher, message } = await postTrigger(s, observed, triggerText, trigger);

  const replyText = `pong ${s.nonce}`;
  const editedText = `pong ${s.nonce} (edited)`;
  const reply = await within(ms, "sendToRoomId's result", driver.sendToRoomId(replyText, message.rid));
  observed.reply_result = { _id: reply._id, rid: reply.rid, msg: reply.msg, bot: reply.bot };
  await within(ms, "setReaction's result", driver.setReaction(":thumbsup:", message._id));
  await within(ms, "editMessage's result", driver.editMessage({ _id: reply._id, rid: reply.rid, msg: editedText }));

  observed.watcher = await watchOutcome(watcher, s, message._id, observed.bot_id, replyText, editedText);
  watcher.close();
  await within(ms, "driver.disconnect (unsubscribe, logout)", driver.disconnect());
  observed.logged_out = true;
  finish(observed);
}

// A client library's unhandled `error` event (a refused upgrade) ends the run the same way.
process.on("uncaughtException", (err) => fail(err, observed));
main().catch((err) => fail(err, observed));
