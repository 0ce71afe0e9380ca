#!/usr/bin/env python3
"""rcpush as a test double for a Python test suite, with Hypothesis: the same property as
tests/api/testing_property.rs, from another language. It starts the binary itself, as any
language would:

    rcpush --ephemeral --deterministic 15     (with RCPUSH_SERVER_BIND=127.0.0.1:0)

reads the port from the `rcpush listening ... port=N` log line, then for each example resets
the server (POST /api/rcpush/testing/reset), registers a device per demo user, and sends a
random sequence of posts, reads and membership changes; after each, every captured push
(DELETE /api/rcpush/testing/pushes) must carry its receiver's badge: the sum of their unread
counts.

Environment:
  RCPUSH_BIN       the rcpush binary (required)
  RCPUSH_EXAMPLES  Hypothesis examples (default 32)

Prints `hypothesis: N passed, 0 failed` and the examples per second; exits 1 on a failure
(Hypothesis prints the shrunk sequence of operations).
"""

import ctypes
import os
import re
import signal
import subprocess
import sys
import time

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# The demo users of data/seed.json and their login tokens.
USERS = [
    ("d26x6zSkaPSe5gCyy", "Zu-Z6eKzIIz7MCCRGeHi29bYkXZCJ4SxFC0JAasqm92", "rodriq"),
    ("A7dm3kQzR9xYpW2bn", "alice-demo-token-kGq2Wm7Rt9XbZp4Ns8Yc3Hd6Jf", "alice"),
    ("B8fn4mRaS2yZqX3cp", "bob-demo-token-Tq8Lm3Xw6Zr2Pc9Kn4Vb7Yh5Dg1", "bob"),
    ("G5hp6nTbT3zAsY4dq", "gina-demo-token-Hs5Nw2Qk8Xm4Rt7Zc3Pb6Yd9Jf", "gina"),
]
VB = "iu7jtPAhvEeAS5tNq"  # a channel; rodriq owns it
CORE_TEAM = "PrvGrp8sKq3mZ7wTx"  # a private group; alice owns it
DM = "A7dm3kQzR9xYpW2bnd26x6zSkaPSe5gCyy"
ROOMS = [VB, CORE_TEAM, DM]


def die_with_parent():
    """In the child: SIGKILL when this script ends, however it ends (Linux's PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def start_rcpush():
    """The binary in testing mode; returns the process and its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCPUSH_")}
    env.update(RCPUSH_SERVER_BIND="127.0.0.1:0", RCPUSH_LOG_LEVEL="info")
    proc = subprocess.Popen(
        [os.environ["RCPUSH_BIN"], "--ephemeral", "--deterministic", "15"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent,
    )
    for line in proc.stderr:
        found = re.search(r"rcpush listening.* port=(\d+)", line)
        if found:
            return proc, f"http://127.0.0.1:{found.group(1)}"
    raise RuntimeError("rcpush exited before listening")


PROC, URL = start_rcpush()
HTTP = requests.Session()


def call(user, method, path, body=None):
    uid, token, _ = USERS[user]
    headers = {"X-User-Id": uid, "X-Auth-Token": token}
    return HTTP.request(method, f"{URL}/api/v1/{path}", json=body, headers=headers).json()


def control(method, name):
    return HTTP.request(method, f"{URL}/api/rcpush/testing/{name}").json()


def unread_sum(user):
    return sum(s.get("unread", 0) for s in call(user, "GET", "subscriptions.get")["update"])


user = st.integers(0, len(USERS) - 1)
room = st.integers(0, len(ROOMS) - 1)
op = st.one_of(
    st.tuples(st.just("post"), user, room),
    st.tuples(st.just("read"), user, room),
    st.tuples(st.just("leave"), user, st.just(0)),
    st.tuples(st.just("invite"), user, st.just(0)),
    st.tuples(st.just("group_invite"), user, st.just(0)),
    st.tuples(st.just("group_kick"), user, st.just(0)),
)


def apply(kind, who, where):
    if kind == "post":
        call(who, "POST", "chat.postMessage", {"roomId": ROOMS[where], "text": "hi"})
    elif kind == "read":
        call(who, "POST", "subscriptions.read", {"rid": ROOMS[where]})
    elif kind == "leave":
        call(who, "POST", "channels.leave", {"roomId": VB})
    elif kind == "invite":
        call(0, "POST", "channels.invite", {"roomId": VB, "userId": USERS[who][0]})
    elif kind == "group_invite":
        call(1, "POST", "groups.invite", {"roomId": CORE_TEAM, "userId": USERS[who][0]})
    else:
        call(1, "POST", "groups.kick", {"roomId": CORE_TEAM, "username": USERS[who][2]})


CHECKED = 0


@settings(
    max_examples=int(os.environ.get("RCPUSH_EXAMPLES", "32")),
    deadline=None,
    # The same examples every run (CI), as the server's seed gives the same ids.
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(op, min_size=1, max_size=15))
def test_every_push_badge_is_the_sum_of_its_receivers_unread_counts(ops):
    global CHECKED
    assert control("POST", "reset") == {"success": True}
    for i in range(len(USERS)):
        device = {"type": "gcm", "value": f"device-{i}", "appName": "app"}
        call(i, "POST", "push.token", device)
    for kind, who, where in ops:
        apply(kind, who, where)
        for push in control("DELETE", "pushes")["pushes"]:
            options = push["body"]["options"]
            receiver = next(i for i, u in enumerate(USERS) if u[0] == options["userId"])
            assert options["badge"] == unread_sum(receiver), (push, kind, who, where)
            CHECKED += 1


def main():
    examples = int(os.environ.get("RCPUSH_EXAMPLES", "32"))
    start = time.monotonic()
    try:
        test_every_push_badge_is_the_sum_of_its_receivers_unread_counts()
    except Exception:  # noqa: BLE001 - Hypothesis has printed the falsifying example
        import traceback

        traceback.print_exc()
        print("hypothesis: 0 passed, 1 failed")
        return 1
    finally:
        PROC.terminate()
        PROC.wait()
    seconds = time.monotonic() - start
    if CHECKED == 0:
        print("hypothesis: no push was checked")
        print("hypothesis: 0 passed, 1 failed")
        return 1
    print(f"{examples} examples, {CHECKED} pushes checked, {examples / seconds:.1f} examples/s")
    print("hypothesis: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
