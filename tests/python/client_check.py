#!/usr/bin/env python3
"""Drives an rcpush server with the PyPI client rocketchat-api==3.7.1.

Environment:
  RCPUSH_URL             server base URL, e.g. http://127.0.0.1:3000 (required)
  RCPUSH_ADMIN_USER      admin username (default: admin)
  RCPUSH_ADMIN_PASSWORD  admin password (required)
  RCPUSH_SITE_URL        the server's Site_Url; when set, payload.host and gcm.image are
                         checked exactly (otherwise only their shape)
  RCPUSH_UNIQUE_ID       the server's uniqueID setting; when set, notId is checked against
                         Rocket.Chat's hash("<uniqueID>|<rid>")

rocketchat-api 3.x returns the decoded JSON body (not a Response) and raises
RocketApiException (with .status_code/.response_json) for error replies, so every client
object here gets a requests.Session whose response hook keeps the last HTTP response: the
checks read .status_code, the Content-Type header and .json() from it.

Prints `python client: N passed, 0 failed` on success; exits 1 at the first failed check.
"""

import json
import os
import secrets
import sys
import traceback

import requests
from rocketchat_API.APIExceptions.RocketExceptions import (
    RocketApiException,
    RocketAuthenticationException,
)
from rocketchat_API.rocketchat import RocketChat

URL = os.environ.get("RCPUSH_URL", "").rstrip("/")
ADMIN_USER = os.environ.get("RCPUSH_ADMIN_USER", "admin")
ADMIN_PASSWORD = os.environ.get("RCPUSH_ADMIN_PASSWORD", "")
SITE_URL = os.environ.get("RCPUSH_SITE_URL", "")
UNIQUE_ID = os.environ.get("RCPUSH_UNIQUE_ID", "")

NOTIFICATION_KEYS = [
    "from", "badge", "sound", "priority", "title", "text",
    "payload", "userId", "notId", "gcm", "apn",
]
NOT_ALLOWED = {"success": False, "error": "error-not-allowed"}
LOGGED_OUT = {
    "success": False,
    "error": "You must be logged in to do this.",
    "status": "error",
    "message": "You must be logged in to do this.",
}


class CheckFailed(Exception):
    pass


PASSED = 0
LAST = None  # the last HTTP response of any client, for unexpected failures


def check(cond, what, detail=None):
    """Counts a passed check, or stops the run with a clear message."""
    global PASSED
    if not cond:
        msg = what if detail is None else f"{what}\n    got: {detail}"
        raise CheckFailed(msg)
    PASSED += 1


def eq(actual, expected, what):
    check(actual == expected, f"{what}: expected {expected!r}", repr(actual))


def describe(resp):
    if resp is None:
        return "(no response recorded)"
    req = resp.request
    body = req.body.decode() if isinstance(req.body, bytes) else req.body
    return (
        f"{req.method} {req.url}\n    request body: {body}\n"
        f"    -> HTTP {resp.status_code} {resp.headers.get('Content-Type')!r}: {resp.text[:2000]}"
    )


class Client:
    """A RocketChat object plus the last raw HTTP response it received."""

    def __init__(self, user=None, password=None):
        self.last = None
        self.count = 0
        session = requests.Session()
        session.hooks["response"].append(self._record)
        self.rc = RocketChat(user, password, server_url=URL, session=session, timeout=30)

    def _record(self, resp, *args, **kwargs):
        global LAST
        self.last = LAST = resp
        self.count += 1
        return resp

    def ok(self, result, what):
        """Checks the last reply: HTTP 200, JSON content type, success:true as the last key."""
        r = self.last
        ctx = describe(r)
        eq(r.status_code, 200, f"{what}: HTTP status\n    {ctx}")
        eq(r.headers.get("Content-Type"), "application/json", f"{what}: Content-Type")
        eq(r.json(), result, f"{what}: client result equals the response .json()")
        check(isinstance(result, dict), f"{what}: JSON object", ctx)
        eq(result.get("success"), True, f"{what}: success\n    {ctx}")
        eq(list(result)[-1], "success", f"{what}: success is the last key")
        return result

    def login_reply(self, what):
        """The constructor's POST login: HTTP 200, {"status":"success","data":{...}}."""
        r = self.last
        ctx = describe(r)
        eq(self.count, 1, f"{what}: the constructor makes exactly one request")
        eq(r.request.path_url, "/api/v1/login", f"{what}: path")
        eq(r.status_code, 200, f"{what}: HTTP status\n    {ctx}")
        eq(r.headers.get("Content-Type"), "application/json", f"{what}: Content-Type")
        body = r.json()
        eq(body.get("status"), "success", f"{what}: status\n    {ctx}")
        data = body.get("data", {})
        check(isinstance(data.get("userId"), str) and data["userId"], f"{what}: data.userId", ctx)
        check(isinstance(data.get("authToken"), str) and data["authToken"], f"{what}: data.authToken", ctx)
        eq(self.rc.headers.get("X-User-Id"), data["userId"], f"{what}: client stores X-User-Id")
        eq(self.rc.headers.get("X-Auth-Token"), data["authToken"], f"{what}: client stores X-Auth-Token")
        return body

    def api_error(self, fn, status, body, what):
        """Runs fn, which must fail with HTTP `status` and exactly `body`."""
        try:
            result = fn()
        except RocketApiException as e:
            ctx = describe(self.last)
            eq(e.status_code, status, f"{what}: HTTP status\n    {ctx}")
            eq(self.last.status_code, status, f"{what}: .status_code")
            eq(self.last.headers.get("Content-Type"), "application/json", f"{what}: Content-Type")
            eq(e.response_json, body, f"{what}: body\n    {ctx}")
            eq(self.last.json(), body, f"{what}: .json()")
            return
        raise CheckFailed(f"{what}: expected HTTP {status} {json.dumps(body)}, got success {result!r}\n    {describe(self.last)}")


def rc_hash(s):
    """Rocket.Chat's push notId hash: UTF-16 units from last to first, signed int32."""
    units = s.encode("utf-16-le")
    h = 0
    for i in range(len(units) - 2, -1, -2):
        c = units[i] | (units[i + 1] << 8)
        h = ((h << 5) - h + c) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def expected_host():
    return SITE_URL if SITE_URL.endswith("/") else SITE_URL + "/"


def check_push(client, mid, room, sender, expect, what):
    """push.get through call_api_get, checked field by field."""
    result = client.ok(client.rc.call_api_get("push.get", id=mid), what)
    eq(client.last.request.path_url, f"/api/v1/push.get?id={mid}", f"{what}: request path")
    eq(list(result), ["data", "success"], f"{what}: top-level keys")
    data = result["data"]
    eq(list(data), ["message", "notification"], f"{what}: data keys")

    msg = data["message"]
    eq(msg.get("_id"), mid, f"{what}: data.message._id")
    eq(msg.get("rid"), room["_id"], f"{what}: data.message.rid")
    eq(msg.get("msg"), expect["msg"], f"{what}: data.message.msg")
    eq(msg.get("u", {}).get("_id"), sender["_id"], f"{what}: data.message.u._id")
    eq(msg.get("u", {}).get("username"), sender["username"], f"{what}: data.message.u.username")

    n = data["notification"]
    eq(list(n), NOTIFICATION_KEYS, f"{what}: notification key order")
    eq(n["from"], "push", f"{what}: notification.from")
    check(type(n["badge"]) is int and n["badge"] >= 0, f"{what}: badge is a non-negative int", n["badge"])
    eq(n["sound"], "default", f"{what}: notification.sound")
    eq(n["priority"], 10, f"{what}: notification.priority")
    eq(n["title"], expect["title"], f"{what}: data.notification.title")
    eq(n["text"], expect["text"], f"{what}: data.notification.text")
    eq(n["userId"], sender["_id"], f"{what}: notification.userId is the sender")
    check(type(n["notId"]) is int, f"{what}: notId is an int", repr(n["notId"]))
    if UNIQUE_ID:
        eq(n["notId"], rc_hash(f"{UNIQUE_ID}|{room['_id']}"), f"{what}: notId = hash(uniqueID|rid)")
    eq(n["apn"], {"category": "MESSAGE"}, f"{what}: notification.apn")
    eq(n["gcm"].get("style"), "inbox", f"{what}: gcm.style")

    p = n["payload"]
    check(isinstance(p.get("host"), str) and p["host"].endswith("/"), f"{what}: payload.host is a URL ending in /", p.get("host"))
    if SITE_URL:
        eq(p["host"], expected_host(), f"{what}: payload.host")
        eq(n["gcm"].get("image"), expected_host() + "images/logo/android-chrome-192x192.png", f"{what}: gcm.image")
    eq(p.get("messageId"), mid, f"{what}: payload.messageId")
    eq(p.get("notificationType"), "message", f"{what}: payload.notificationType")
    eq(p.get("rid"), room["_id"], f"{what}: payload.rid")
    eq(p.get("type"), room["t"], f"{what}: payload.type")
    eq(p.get("sender"), msg.get("u"), f"{what}: payload.sender is message.u")
    eq(p.get("senderName"), sender["username"], f"{what}: payload.senderName")
    keys = ["host", "messageId", "notificationType", "rid", "sender", "senderName", "type"]
    if room["t"] != "d":
        keys.append("name")
        eq(p.get("name"), room["name"], f"{what}: payload.name")
    eq(list(p), keys, f"{what}: payload keys (DMs have no name)")
    return n


def run():
    if not URL or not ADMIN_PASSWORD:
        raise CheckFailed("set RCPUSH_URL and RCPUSH_ADMIN_PASSWORD")
    for s, h in [("", 0), ("a", 97), ("abc", 98274), ("X7yQ3bPz2kMhT8aLc|iu7jtPAhvEeAS5tNq", -469732132), ("😀|x", 5511233)]:
        eq(rc_hash(s), h, f"hash vector {s!r}")

    # Login as admin (the constructor makes exactly one request: POST login).
    admin = Client(ADMIN_USER, ADMIN_PASSWORD)
    login = admin.login_reply("login admin")
    eq(json.loads(admin.last.request.body), {"password": ADMIN_PASSWORD, "username": ADMIN_USER}, "login admin: body")
    admin_id = login["data"]["userId"]
    eq(login["data"].get("me", {}).get("username"), ADMIN_USER, "login admin: data.me.username")

    me = admin.ok(admin.rc.me(), "me (admin)")
    # call_api_get builds "me?", but requests drops an empty query: the wire has GET /api/v1/me.
    eq((admin.last.request.method, admin.last.request.path_url), ("GET", "/api/v1/me"), "me: request")
    eq(me.get("_id"), admin_id, "me: _id")
    eq(me.get("username"), ADMIN_USER, "me: username")
    check("admin" in me.get("roles", []), "me: admin role", me.get("roles"))

    # Three new users: a sender, a member of every room, an outsider.
    sfx = secrets.token_hex(4)
    users = {}
    for role in ("send", "memb", "outs"):
        username = f"py{role}{sfx}"
        password = f"pw-{role}-{secrets.token_hex(8)}"
        res = admin.ok(
            admin.rc.users_create(f"{username}@example.com", f"Py {role.title()} {sfx}", password, username),
            f"users_create {username}",
        )
        body = json.loads(admin.last.request.body)
        eq(body.get("password"), password, "users_create: password is sent as password (not pass)")
        u = res.get("user", {})
        eq(u.get("username"), username, "users_create: user.username")
        check(isinstance(u.get("_id"), str) and u["_id"], "users_create: user._id", u)
        check(password not in admin.last.text, "users_create: reply does not echo the password")
        users[role] = {"_id": u["_id"], "username": username, "password": password}
    sender, member, outsider = users["send"], users["memb"], users["outs"]

    # Log in as the new users with their own RocketChat objects.
    s = Client(sender["username"], sender["password"])
    login = s.login_reply("login sender")
    eq(login["data"]["userId"], sender["_id"], "login sender: userId")
    eq(s.ok(s.rc.me(), "me (sender)").get("username"), sender["username"], "me (sender): username")
    m = Client(f"{member['username']}@example.com", member["password"])
    eq(json.loads(m.last.request.body).get("user"), f"{member['username']}@example.com", "email login sends user")
    eq(m.login_reply("login member by email")["data"]["userId"], member["_id"], "login member by email: userId")
    o = Client(outsider["username"], outsider["password"])
    o.login_reply("login outsider")

    # Wrong password: HTTP 401 -> RocketAuthenticationException.
    try:
        Client(sender["username"], sender["password"] + "-wrong")
        raise CheckFailed("wrong password: expected RocketAuthenticationException, login succeeded")
    except RocketAuthenticationException:
        check(True, "wrong password raises RocketAuthenticationException")
    eq(LAST.status_code, 401, f"wrong password: HTTP status\n    {describe(LAST)}")
    eq(LAST.json(), {"success": False, "error": 401, "status": "error", "message": "Incorrect login or password"},
       "wrong password: body")

    # Rooms created by the sender, with the member.
    chan = s.ok(s.rc.channels_create(f"py-chan-{sfx}", members=[member["username"]]), "channels_create")["channel"]
    eq(json.loads(s.last.request.body), {"name": f"py-chan-{sfx}", "members": [member["username"]]}, "channels_create: body")
    eq(chan.get("t"), "c", "channels_create: channel.t")
    eq(chan.get("name"), f"py-chan-{sfx}", "channels_create: channel.name")
    grp = s.ok(s.rc.groups_create(f"py-grp-{sfx}", members=[member["username"]]), "groups_create")["group"]
    eq(grp.get("t"), "p", "groups_create: group.t")
    eq(grp.get("name"), f"py-grp-{sfx}", "groups_create: group.name")
    dm = s.ok(s.rc.dm_create(member["username"]), "dm_create")["room"]
    eq(s.last.request.path_url, "/api/v1/dm.create", "dm_create: path")
    eq(dm.get("t"), "d", "dm_create: room.t")
    check(isinstance(dm.get("_id"), str) and dm["_id"], "dm_create: room._id", dm)

    # Messages with a mention and a shortname emoji.
    text = f"hello @{member['username']} :smile:"
    rendered = f"hello @{member['username']} \U0001F604"
    mids = {}
    for key, room in (("c", chan), ("p", grp), ("d", dm)):
        res = s.ok(s.rc.chat_post_message(text, room_id=room["_id"]), f"chat_post_message ({key})")
        eq(json.loads(s.last.request.body), {"roomId": room["_id"], "text": text}, "chat_post_message: body")
        msg = res.get("message", {})
        check(isinstance(msg.get("_id"), str) and msg["_id"], f"chat_post_message ({key}): message._id", res)
        eq(msg.get("rid"), room["_id"], f"chat_post_message ({key}): message.rid")
        eq(msg.get("msg"), text, f"chat_post_message ({key}): message.msg")
        mentions = [x.get("username") for x in msg.get("mentions", [])]
        eq(mentions, [member["username"]], f"chat_post_message ({key}): mentions")
        mids[key] = msg["_id"]

    # push.get via call_api_get, as the sender and as another member.
    group_text = {"msg": text, "text": f"{sender['username']}: {rendered}"}
    for who, client in (("sender", s), ("member", m)):
        check_push(client, mids["c"], chan, sender, dict(group_text, title=f"#{chan['name']}"), f"push.get channel as {who}")
        check_push(client, mids["p"], grp, sender, dict(group_text, title=f"#{grp['name']}"), f"push.get group as {who}")
        check_push(client, mids["d"], dm, sender, {"msg": text, "title": sender["username"], "text": rendered}, f"push.get dm as {who}")

    # A public channel is readable without joining (view-c-room).
    check_push(o, mids["c"], chan, sender, dict(group_text, title=f"#{chan['name']}"), "push.get channel as outsider")

    # Access denied: non-members of a private group or DM, admins included.
    for who, client in (("outsider", o), ("admin", admin)):
        for key in ("p", "d"):
            client.api_error(
                lambda: client.rc.call_api_get("push.get", id=mids[key]),
                400, NOT_ALLOWED, f"push.get {key} as non-member {who}",
            )

    # Unknown message, and no credentials.
    s.api_error(
        lambda: s.rc.call_api_get("push.get", id=f"nosuchmessage{sfx}"),
        400, {"success": False, "error": "error-message-not-found"}, "push.get unknown id",
    )
    anon = Client()
    anon.api_error(lambda: anon.rc.call_api_get("push.get", id=mids["c"]), 401, LOGGED_OUT, "push.get without login")


def main():
    try:
        run()
    except CheckFailed as e:
        print(f"FAIL: {e}", file=sys.stderr)
        print(f"python client: {PASSED} passed, 1 failed", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # an unexpected client exception: show the exchange behind it
        traceback.print_exc()
        print(f"FAIL: unexpected {type(e).__name__}: {e}\n    last exchange: {describe(LAST)}", file=sys.stderr)
        print(f"python client: {PASSED} passed, 1 failed", file=sys.stderr)
        sys.exit(1)
    print(f"python client: {PASSED} passed, 0 failed")


if __name__ == "__main__":
    main()
