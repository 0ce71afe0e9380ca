#!/usr/bin/env python3
"""rcpush realtime benchmark: idle sockets, fan-out latency and throughput, across instances.

Starts the release server (or `--binary PATH`) on a copy of a generated database (run.py's
`rcpush generate` world of 100,000 messages: 1,000 users, each logging in with the token
`bench-token-<i>`) and measures, in one run:

* idle: N (default 10,000) sockets, each connected and logged in (`login` with `resume`) as
  user i mod 1,000, then left idle (answering the server's pings): the server's RSS growth per
  socket (VmRSS before and after, over N), and push.get saturation throughput (oha, random
  public messages among the newest 10,000, as run.py) with the sockets connected against none
  (medians of rounds, the "none" rounds before the sockets open and after they close);
* fan-out: a public channel with F (default 1,000) sockets subscribed to its
  `stream-room-messages`, each a different user; messages posted over REST (chat.postMessage,
  one at a time): the time from the post's acknowledgement (its HTTP answer read) until the
  last socket has the message's frame, p50/p99 (negative when every frame came before the
  answer: reported as is); then 16 concurrent posters for a while: frames delivered per
  second (all sockets' frames of those messages, over the time from the first post to the
  last frame);
* two instances on PostgreSQL (benchlib.Cluster, a world of 10,000 messages: 100 users): the
  same sequential fan-out with the sockets on instance B and the posts on A, against sockets
  and posts both on A; the difference of the p99s is the added latency of crossing instances.

The sockets are plain asyncio protocols speaking WebSocket (RFC 6455, no compression) and DDP
with the standard library only, so that one Python process on this 2-core machine holds 10,000
of them: a frame is matched by the message id it carries (the stored document's `_id` comes
first), never parsed as JSON. The client shares the two cores with the server, so latencies
include the client's own turn on the CPU and throughput is a lower bound of the server's.

Results go to benchmarks/realtime-results.json. Numbers are reported, never asserted: CI does
not run this.

    python3 benchmarks/realtime.py             # about 10 minutes (the first run also builds)
    python3 benchmarks/realtime.py --quick     # 2,000 idle sockets, 200 fan-out sockets, short runs
    python3 benchmarks/realtime.py --binary target/release/rcpush --no-postgres
    python3 benchmarks/realtime.py --only idle --idle-sockets 5000
"""

import argparse
import asyncio
import base64
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import time

import run as push_suite
from benchlib import (ADMIN_PASSWORD, BIN, OHA, ROOT, WORK, Cluster, Server, ensure_tools, log,
                      machine, run)

GENERATED = 100_000
PG_GENERATED = 10_000
CALLER = ("U0000000", "bench-token-0")


def now_ms():
    return time.monotonic_ns() / 1e6


def raise_fd_limit():
    """Every socket is a descriptor on both sides (the server inherits this limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---------------------------------------------------------------------------------------------
# A WebSocket + DDP client socket on asyncio's protocol layer.

class Tracker:
    """Arrival times of the stream frames of the messages being measured, by message id."""

    MARK = b'"args":[{"_id":"'

    def __init__(self):
        self.count = {}
        self.last = {}
        self.frames = 0
        self.waiters = {}

    def frame(self, payload, at):
        i = payload.find(self.MARK)
        if i < 0:
            return
        start = i + len(self.MARK)
        mid = payload[start:payload.index(b'"', start)].decode()
        self.frames += 1
        self.count[mid] = self.count.get(mid, 0) + 1
        self.last[mid] = at
        waiter = self.waiters.get(mid)
        if waiter and self.count[mid] >= waiter[0] and not waiter[1].done():
            waiter[1].set_result(at)

    async def all_of(self, mid, expected, timeout):
        """The time the `expected`-th frame of `mid` arrived (None after `timeout` s)."""
        if self.count.get(mid, 0) >= expected:
            return self.last[mid]
        fut = asyncio.get_running_loop().create_future()
        self.waiters[mid] = (expected, fut)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            self.waiters.pop(mid, None)


class DDPSocket(asyncio.Protocol):
    """One client: the WebSocket handshake, frames in and out, answers to pings, and during
    set-up the DDP answers it waits for."""

    def __init__(self, host, tracker=None):
        self.host = host
        self.tracker = tracker
        self.buf = bytearray()
        self.upgraded = False
        self.opened = asyncio.get_running_loop().create_future()
        self.inbox = asyncio.Queue()
        self.closed = False
        self.transport = None
        self.next_id = 0

    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET /websocket HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                         f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n").encode())

    def connection_lost(self, exc):
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during the handshake: {exc}"))
        self.inbox.put_nowait(None)

    def data_received(self, data):
        at = now_ms()
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buf[:self.buf.find(b"\r\n")])
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(f"no upgrade: {status.decode()}"))
                self.transport.close()
                return
            del self.buf[:end + 4]
            self.upgraded = True
            self.opened.set_result(True)
        while len(self.buf) >= 2:
            b0, b1 = self.buf[0], self.buf[1]
            length, off = b1 & 0x7F, 2
            if length == 126:
                if len(self.buf) < 4:
                    return
                length, off = int.from_bytes(self.buf[2:4], "big"), 4
            elif length == 127:
                if len(self.buf) < 10:
                    return
                length, off = int.from_bytes(self.buf[2:10], "big"), 10
            if len(self.buf) < off + length:
                return
            payload = bytes(self.buf[off:off + length])
            del self.buf[:off + length]
            opcode = b0 & 0x0F
            if opcode in (1, 2):
                self.text(payload, at)
            elif opcode == 9:
                self.send(payload, opcode=0xA)
            elif opcode == 8:
                self.transport.close()

    def text(self, payload, at):
        if payload.startswith(b'{"msg":"ping"'):
            ping = json.loads(payload)
            pong = {"msg": "pong"} if "id" not in ping else {"msg": "pong", "id": ping["id"]}
            self.send(json.dumps(pong).encode())
        elif payload.startswith(b'{"msg":"changed"'):
            if self.tracker:
                self.tracker.frame(payload, at)
        else:
            self.inbox.put_nowait(payload)

    def send(self, payload, opcode=1):
        if self.closed:
            return
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(head + mask + masked)

    async def expect(self, pred, what, timeout=30):
        """The first set-up frame (parsed) for which `pred` holds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what}")
            payload = await asyncio.wait_for(self.inbox.get(), left)
            if payload is None:
                raise ConnectionError(f"closed while waiting for {what}")
            frame = json.loads(payload)
            if pred(frame):
                return frame

    async def call(self, frame, what):
        fid = str(self.next_id)
        self.next_id += 1
        self.send(json.dumps({**frame, "id": fid}).encode())
        answer = await self.expect(
            lambda f: f.get("id") == fid or fid in f.get("subs", []), what)
        if "error" in answer or answer.get("msg") == "nosub":
            raise RuntimeError(f"{what}: {answer}")
        return answer

    async def start(self, token, rid=None):
        """connect, log in with `token`, and subscribe to `rid`'s messages if given."""
        await asyncio.wait_for(self.opened, 30)
        self.send(b'{"msg":"connect","version":"1","support":["1"]}')
        await self.expect(lambda f: f.get("msg") == "connected", "connected")
        await self.call({"msg": "method", "method": "login", "params": [{"resume": token}]},
                        "login")
        if rid:
            await self.call({"msg": "sub", "name": "stream-room-messages",
                             "params": [rid, {"useCollection": False, "args": []}]}, "ready")

    def close(self):
        if self.transport and not self.closed:
            self.transport.close()


async def open_sockets(port, n, users, rid=None, tracker=None, parallel=200):
    """`n` logged-in sockets (user i mod `users`), subscribed to `rid` if given."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(parallel)
    failures = []

    async def one(i):
        async with gate:
            try:
                _, sock = await loop.create_connection(
                    lambda: DDPSocket(f"127.0.0.1:{port}", tracker), "127.0.0.1", port)
                await sock.start(f"bench-token-{i % users}", rid)
                return sock
            except Exception as e:  # noqa: BLE001 - counted and reported
                failures.append(repr(e))
                return None

    started = time.monotonic()
    socks = [s for s in await asyncio.gather(*(one(i) for i in range(n))) if s]
    if failures:
        log(f"{len(failures)} of {n} sockets failed, e.g. {failures[0]}")
    if not socks:
        raise SystemExit(f"no socket could connect and log in: {failures[0] if failures else '?'}")
    return socks, time.monotonic() - started, len(failures)


# ---------------------------------------------------------------------------------------------
# REST over one kept-alive connection.

class Rest:
    def __init__(self, port, auth):
        self.port, self.auth = port, auth
        self.reader = self.writer = None

    async def post(self, path, body):
        """(status, parsed body, the time the answer's head arrived)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        data = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"X-User-Id: {self.auth[0]}\r\nX-Auth-Token: {self.auth[1]}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
        self.writer.write(head.encode() + data)
        status_line = await self.reader.readline()
        at = now_ms()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        payload = await self.reader.readexactly(length)
        return int(status_line.split()[1]), json.loads(payload), at

    def close(self):
        if self.writer:
            self.writer.close()


async def admin_login(port):
    rest = Rest(port, ("", ""))
    status, body, _ = await rest.post("/api/v1/login", {"user": "admin", "password": ADMIN_PASSWORD})
    rest.close()
    assert status == 200, body
    return body["data"]["userId"], body["data"]["authToken"]


async def channel(port, admin, name):
    rest = Rest(port, admin)
    status, body, _ = await rest.post("/api/v1/channels.create", {"name": name})
    rest.close()
    assert status == 200, body
    return body["channel"]["_id"]


# ---------------------------------------------------------------------------------------------
# The measurements.

def percentile(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


async def oha_rps(url_file, seconds, connections):
    """push.get req/s at saturation (oha in a subprocess: the sockets keep answering pings)."""
    cmd = [str(OHA), "-z", f"{seconds}s", "-c", str(connections), "--no-tui", "--output-format",
           "json", "--urls-from-file", "-H", f"X-User-Id: {CALLER[0]}", "-H",
           f"X-Auth-Token: {CALLER[1]}", url_file]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE,
                                                stderr=subprocess.DEVNULL)
    out, _ = await proc.communicate()
    data = json.loads(out)
    statuses = data.get("statusCodeDistribution", {})
    assert list(statuses) == ["200"], statuses
    return data["summary"]["requestsPerSec"]


async def idle(server, summary, sockets, seconds, rounds):
    urls = push_suite.push_get_urls(server, summary, WORK / "realtime-urls.txt", recent=True)
    none = [await oha_rps(urls, seconds, 16) for _ in range(rounds)]
    await asyncio.sleep(1)
    before = server.rss_kb()["VmRSS"]
    socks, took, failed = await open_sockets(server.port, sockets, summary["users"])
    await asyncio.sleep(2)
    after = server.rss_kb()["VmRSS"]
    log(f"{len(socks)} idle sockets in {took:.1f} s; RSS {before} -> {after} KiB")
    with_sockets = [await oha_rps(urls, seconds, 16) for _ in range(rounds)]
    still_open = sum(not s.closed for s in socks)
    for s in socks:
        s.close()
    await asyncio.sleep(2)
    none += [await oha_rps(urls, seconds, 16) for _ in range(rounds)]
    none_rps, with_rps = statistics.median(none), statistics.median(with_sockets)
    return {
        "sockets": len(socks), "failed": failed, "open_seconds": round(took, 1),
        "still_open_after_load": still_open,
        "rss_before_kib": before, "rss_after_kib": after,
        "rss_per_socket_bytes": round((after - before) * 1024 / max(1, len(socks))),
        "push_get_rps_none": round(none_rps), "push_get_rps_with_sockets": round(with_rps),
        "push_get_with_vs_none": round(with_rps / none_rps, 3),
        "rounds": {"none": [round(r) for r in none], "with": [round(r) for r in with_sockets]},
    }


async def sequential_fanout(post_port, admin, rid, tracker, expected, posts):
    """`posts` messages one at a time: acknowledgement → last socket's frame (ms) each."""
    rest = Rest(post_port, admin)
    ack_to_last, send_to_last, lost = [], [], 0
    for i in range(posts):
        sent = now_ms()
        status, body, acked = await rest.post("/api/v1/chat.postMessage",
                                              {"roomId": rid, "text": f"fan-out {i}"})
        assert status == 200, body
        last = await tracker.all_of(body["message"]["_id"], expected, 10)
        if last is None:
            lost += 1
            continue
        ack_to_last.append(last - acked)
        send_to_last.append(last - sent)
    rest.close()
    return {
        "posts": posts, "incomplete": lost,
        "ack_to_last_p50_ms": round(percentile(ack_to_last, 0.5), 2) if ack_to_last else None,
        "ack_to_last_p99_ms": round(percentile(ack_to_last, 0.99), 2) if ack_to_last else None,
        "send_to_last_p50_ms": round(percentile(send_to_last, 0.5), 2) if send_to_last else None,
        "send_to_last_p99_ms": round(percentile(send_to_last, 0.99), 2) if send_to_last else None,
    }


async def concurrent_fanout(port, admin, rid, tracker, expected, posters, seconds):
    """`posters` posting at once for `seconds`: frames of their messages delivered per second."""
    ids, started = [], now_ms()
    stop_at = time.monotonic() + seconds

    async def poster(p):
        rest = Rest(port, admin)
        n = 0
        while time.monotonic() < stop_at:
            status, body, _ = await rest.post("/api/v1/chat.postMessage",
                                              {"roomId": rid, "text": f"poster {p} #{n}"})
            assert status == 200, body
            ids.append(body["message"]["_id"])
            n += 1
        rest.close()

    frames_before = tracker.frames
    await asyncio.gather(*(poster(p) for p in range(posters)))
    posted_at = now_ms()
    lasts = [await tracker.all_of(mid, expected, 30) for mid in ids]
    done = [t for t in lasts if t is not None]
    end = max(done) if done else posted_at
    frames = tracker.frames - frames_before
    return {
        "posters": posters, "seconds": seconds, "messages": len(ids),
        "messages_per_second": round(len(ids) / ((posted_at - started) / 1000), 1),
        "frames": frames, "frames_expected": len(ids) * expected,
        "frames_per_second": round(frames / ((end - started) / 1000)),
        "incomplete_messages": len(ids) - len(done),
    }


async def fanout(server, summary, sockets, posts, seconds):
    admin = await admin_login(server.port)
    rid = await channel(server.port, admin, "fanout")
    tracker = Tracker()
    socks, took, failed = await open_sockets(server.port, sockets, summary["users"], rid, tracker)
    log(f"{len(socks)} subscribed sockets in {took:.1f} s")
    result = {"sockets": len(socks), "failed": failed}
    result["sequential"] = await sequential_fanout(server.port, admin, rid, tracker, len(socks),
                                                   posts)
    result["concurrent"] = await concurrent_fanout(server.port, admin, rid, tracker, len(socks),
                                                   16, seconds)
    for s in socks:
        s.close()
    return result


async def cross_instance(a, b, users, sockets, posts):
    admin = await admin_login(a.port)
    out = {}
    for label, socket_server in (("same_instance", a), ("across_instances", b)):
        rid = await channel(a.port, admin, f"fanout-{label.replace('_', '-')}")
        tracker = Tracker()
        socks, took, failed = await open_sockets(socket_server.port, sockets, users, rid, tracker)
        log(f"{label}: {len(socks)} subscribed sockets in {took:.1f} s")
        out[label] = {"sockets": len(socks), "failed": failed,
                      **await sequential_fanout(a.port, admin, rid, tracker, len(socks), posts)}
        for s in socks:
            s.close()
        await asyncio.sleep(1)
    same, across = out["same_instance"], out["across_instances"]
    if same["ack_to_last_p99_ms"] is not None and across["ack_to_last_p99_ms"] is not None:
        out["added_p99_ms"] = round(across["ack_to_last_p99_ms"] - same["ack_to_last_p99_ms"], 2)
    return out


def scratch_copy(db, name):
    """A copy of a generated database to serve (the measurements write into it)."""
    copy = WORK / f"realtime-{name}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(db, copy)
    return copy


def serve(binary, db, config):
    return Server(db, "/api/info", binary=binary, config=config)


def postgres_part(args, sockets, posts):
    cluster = Cluster()
    try:
        name = f"rt{PG_GENERATED}"
        cluster.sql(f"DROP DATABASE IF EXISTS {name}")
        cluster.sql(f"CREATE DATABASE {name}")
        env = dict(os.environ, RCPUSH_SEED_FILE="", **cluster.env(name))
        summary = json.loads(run([str(BIN), "generate", "--messages", str(PG_GENERATED), "--json"],
                                 cwd=ROOT, env=env, stdout=subprocess.PIPE).stdout)
        work = WORK / "realtime-pg"
        work.mkdir(parents=True, exist_ok=True)
        a = Server(work / "a", "/api/info", binary=args.binary, config=args.config,
                   env=cluster.env(name))
        b = Server(work / "b", "/api/info", binary=args.binary, config=args.config,
                   env=cluster.env(name))
        try:
            return {"generated_messages": PG_GENERATED, "users": summary["users"],
                    **asyncio.run(cross_instance(a, b, summary["users"], sockets, posts))}
        finally:
            a.stop()
            b.stop()
    finally:
        cluster.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="2,000 idle and 200 fan-out sockets, fewer posts, shorter runs")
    p.add_argument("--idle-sockets", type=int, help="idle sockets (default 10,000)")
    p.add_argument("--fanout-sockets", type=int, help="sockets in the fan-out room (default 1,000)")
    p.add_argument("--posts", type=int, help="sequential posts measured (default 200)")
    p.add_argument("--seconds", type=int, help="length of each load run (default 5)")
    p.add_argument("--binary", type=pathlib.Path, default=BIN,
                   help="a prebuilt release rcpush to serve with (the database is still "
                        "generated by this tree's build)")
    p.add_argument("--config", type=pathlib.Path, help="configuration for the serving binary")
    p.add_argument("--no-postgres", action="store_true", help="skip the two-instance part")
    p.add_argument("--only", choices=["idle", "fanout", "postgres"], help="one part alone")
    p.add_argument("--out", type=pathlib.Path,
                   default=ROOT / "benchmarks" / "realtime-results.json")
    args = p.parse_args()
    idle_n = args.idle_sockets or (2_000 if args.quick else 10_000)
    fan_n = args.fanout_sockets or (200 if args.quick else 1_000)
    posts = args.posts or (50 if args.quick else 200)
    seconds = args.seconds or (3 if args.quick else 5)
    rounds = 2 if args.quick else 3
    limit = raise_fd_limit()
    if limit < idle_n + 1_000:
        raise SystemExit(f"the open-files limit ({limit}) is below {idle_n} sockets: raise it")
    # A prebuilt `--binary` is measured without building this tree again, where its build
    # (which generates the database) is already there.
    ensure_tools(build=args.binary == BIN or not BIN.exists())
    push_suite.SERVE, push_suite.SERVE_CONFIG = args.binary, args.config
    db, summary = push_suite.dataset(GENERATED)

    results = {"machine": machine(),
               "command": "python3 benchmarks/realtime.py" + (" --quick" if args.quick else "")
               + (f" --only {args.only}" if args.only else ""),
               "generated_messages": GENERATED, "users": summary["users"]}
    if args.binary != BIN:
        results["binary"] = str(args.binary)

    wanted = lambda part: args.only in (None, part)
    if wanted("idle"):
        log(f"idle: {idle_n} logged-in sockets")
        server = serve(args.binary, scratch_copy(db, "idle"), args.config)
        try:
            results["idle"] = asyncio.run(idle(server, summary, idle_n, seconds, rounds))
        finally:
            server.stop()

    if wanted("fanout"):
        log(f"fan-out: {fan_n} sockets in one room")
        server = serve(args.binary, scratch_copy(db, "fanout"), args.config)
        try:
            results["fanout"] = asyncio.run(fanout(server, summary, fan_n, posts, seconds))
        finally:
            server.stop()

    if wanted("postgres") and not args.no_postgres:
        log(f"PostgreSQL: {fan_n} sockets on instance B, posts on A")
        results["postgres_two_instances"] = postgres_part(args, fan_n, posts)

    args.out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {args.out}")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
