"""Writers for the realtime crash test (tests/system/realtime_clients.rs): one socket per
user of WRITERS (`<user id>:<token>,…`) logs in with `resume` and calls `sendMessage` into
ROOM_ID back to back, with its own message ids, printing `ACK <id>` the moment a `result`
names the stored message. It runs until the server goes away (the test kills it with -9),
then exits; whatever it printed was acknowledged before the crash.

Runs in the rocketchat-async virtualenv (tests/clients/setup.sh), with its `websockets`.
"""

import asyncio
import json
import os
import sys

import websockets


async def writer(url, rid, uid, token):
    async with websockets.connect(url) as ws:
        async def answer(want):
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("msg") == "ping":
                    await ws.send(json.dumps({"msg": "pong", **({"id": frame["id"]} if "id" in frame else {})}))
                elif frame.get("id") == want and frame.get("msg") in ("result", "connected"):
                    return frame
                elif want == "connect" and frame.get("msg") == "connected":
                    return frame

        await ws.send(json.dumps({"msg": "connect", "version": "1", "support": ["1"]}))
        await answer("connect")
        await ws.send(json.dumps({"msg": "method", "id": "login", "method": "login", "params": [{"resume": token}]}))
        login = await answer("login")
        if "error" in login:
            raise RuntimeError(f"login: {login}")
        n = 0
        while True:
            mid = f"crash-{uid}-{n:05d}"
            call = {"msg": "method", "id": str(n), "method": "sendMessage",
                    "params": [{"_id": mid, "rid": rid, "msg": f"crash {mid}"}]}
            await ws.send(json.dumps(call))
            result = await answer(str(n))
            n += 1
            if isinstance(result.get("result"), dict) and result["result"].get("_id") == mid:
                print(f"ACK {mid}", flush=True)
            elif "error" in result:
                # sendMessage's rate limit (5 a second per user): wait as told.
                wait = (result["error"].get("details") or {}).get("timeToReset", 200)
                await asyncio.sleep(wait / 1000)


async def main():
    url = os.environ["RCPUSH_URL"].replace("http", "ws", 1) + "/websocket"
    rid = os.environ["ROOM_ID"]
    users = [w.split(":", 1) for w in os.environ["WRITERS"].split(",")]
    results = await asyncio.gather(*(writer(url, rid, uid, token) for uid, token in users),
                                   return_exceptions=True)
    for r in results:
        print(f"END {type(r).__name__}: {r}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
