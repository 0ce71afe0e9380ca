"""A bot on rocketchat-async 4.3.0 (Python, websockets 10.4), run against rcpush by
tests/system/realtime_clients.rs with the virtualenv tests/clients/setup.sh makes.

It starts (connect and a digest login in one go, without waiting for `connected`), lists its
rooms (rooms/get), streams the room's messages, receives the message another user posts over
REST, replies, reacts to that message, sends a typing event, and edits its reply, while a
second user's rocketchat-async connection (resumed with a token) watches the room. The
library has no call for joinRoom or updateMessage: those go through its own dispatcher, as
its methods do. Prints one JSON line of what it observed.
"""

import asyncio
import json
import os
import sys
import urllib.request

from rocketchat_async import RocketChat

observed = {"client": "rocketchat-async 4.3.0"}


def env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set")
    return value


def is_ejson_date(v):
    return isinstance(v, dict) and list(v) == ["$date"] and isinstance(v["$date"], int)


def rest_post(url, path, who, body):
    req = urllib.request.Request(
        url + path, data=json.dumps(body).encode(), method="POST",
        headers={"X-User-Id": who[0], "X-Auth-Token": who[1], "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


async def call(rc, method, *params):
    """A method the library has no call for, through its dispatcher (as its own calls go)."""
    msg_id = f"rcpush-{method}"
    frame = {"msg": "method", "method": method, "id": msg_id, "params": list(params)}
    return await rc._dispatcher.call_method(frame, msg_id)


class Seen:
    """Messages a stream delivered, and waiting for one."""

    def __init__(self):
        self.messages = []
        self.changed = asyncio.Event()

    def add(self, message):
        self.messages.append(message)
        self.changed.set()

    async def wait_for(self, what, timeout, pred):
        async def find():
            while True:
                for m in self.messages:
                    if pred(m):
                        return m
                self.changed.clear()
                await self.changed.wait()
        try:
            return await asyncio.wait_for(find(), timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}") from None


async def main():
    url = env("RCPUSH_URL")
    ws = url.replace("http", "ws", 1) + "/websocket"
    rid, nonce = env("ROOM_ID"), env("NONCE")
    poster = (env("POSTER_ID"), env("POSTER_TOKEN"))
    timeout = int(os.environ.get("STEP_TIMEOUT_MS", "20000")) / 1000

    bot = RocketChat()
    await asyncio.wait_for(bot.start(ws, env("BOT_USERNAME"), env("BOT_PASSWORD")), timeout)
    observed["bot_id"] = bot.user_id
    observed["rooms_before_join"] = sorted(c for c, _ in await asyncio.wait_for(bot.get_channels(), timeout))
    joined = await asyncio.wait_for(call(bot, "joinRoom", rid), timeout)
    observed["join_result"] = joined.get("result")
    if "error" in joined:
        raise RuntimeError(f"joinRoom: {joined['error']}")
    observed["rooms_after_join"] = sorted(c for c, _ in await asyncio.wait_for(bot.get_channels(), timeout))

    trigger_text, reply_text = f"hello bot {nonce}", f"pong {nonce}"
    edited_text = f"pong {nonce} (edited)"
    bot_seen = Seen()
    await bot.subscribe_to_channel_messages(
        rid, lambda channel_id, sender_id, msg_id, thread_id, msg, qualifier, unread, repeated:
        bot_seen.add({"_id": msg_id, "rid": channel_id, "u": sender_id, "msg": msg}))

    watcher = RocketChat()
    await asyncio.wait_for(watcher.resume(ws, "watcher", env("WATCHER_TOKEN")), timeout)
    watched = Seen()
    await watcher.subscribe_to_channel_messages_raw(rid, watched.add)
    # rocketchat-async does not wait for `ready`: a round trip on each connection after the
    # `sub` (frames of one connection are handled in order) makes sure both are subscribed.
    await asyncio.wait_for(watcher.get_channels(), timeout)
    await asyncio.wait_for(bot.get_channels(), timeout)

    posted = rest_post(url, "/api/v1/chat.postMessage", poster, {"roomId": rid, "text": trigger_text})
    trigger_id = posted["message"]["_id"]
    observed["trigger_id"] = trigger_id
    message = await bot_seen.wait_for("the bot to receive the message", timeout,
                                      lambda m: m["msg"] == trigger_text)
    observed["received"] = message

    await asyncio.wait_for(bot.send_message(reply_text, rid), timeout)
    reply = await bot_seen.wait_for("the bot's own reply on its stream", timeout,
                                    lambda m: m["msg"] == reply_text)
    observed["reply_result"] = {"_id": reply["_id"], "rid": rid, "msg": reply_text}
    await bot.send_reaction(trigger_id, ":thumbsup:")
    # The library waits for the method's `result` (and returns nothing of it).
    await asyncio.wait_for(bot.send_typing_event(rid), timeout)
    observed["typing_answered"] = True
    edit = await asyncio.wait_for(call(bot, "updateMessage", {"_id": reply["_id"], "rid": rid, "msg": edited_text}), timeout)
    if "error" in edit:
        raise RuntimeError(f"updateMessage: {edit['error']}")

    w_reply = await watched.wait_for("the bot's reply", timeout,
                                     lambda m: m.get("u", {}).get("_id") == bot.user_id and m.get("msg") == reply_text)
    w_reaction = await watched.wait_for("the reaction on the trigger", timeout,
                                        lambda m: m.get("_id") == trigger_id and m.get("reactions"))
    w_edit = await watched.wait_for("the edited reply", timeout,
                                    lambda m: m.get("_id") == reply["_id"] and m.get("msg") == edited_text)
    observed["watcher"] = {
        "reply": {"_id": w_reply["_id"], "msg": w_reply["msg"], "rid": w_reply["rid"], "u": w_reply["u"],
                  "ts_is_date": is_ejson_date(w_reply.get("ts"))},
        "reaction": {"_id": w_reaction["_id"], "reactions": w_reaction["reactions"]},
        "edit": {"_id": w_edit["_id"], "msg": w_edit["msg"],
                 "editedAt_is_date": is_ejson_date(w_edit.get("editedAt")), "editedBy": w_edit.get("editedBy")},
    }
    print(json.dumps(observed), flush=True)
    # Done: the library has no close call, and its sockets' closing handshakes need not be
    # waited for.
    os._exit(0)


def run():
    try:
        asyncio.run(main())
    except BaseException as err:  # noqa: BLE001 - reported as the observation, then failed
        observed["error"] = f"{type(err).__name__}: {err!r}"
    print(json.dumps(observed), flush=True)
    os._exit(1)


if __name__ == "__main__":
    run()
