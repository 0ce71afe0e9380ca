#!/usr/bin/env python3
"""rcpush write benchmark: chat.postMessage messages/s into a busy room.

Starts the release server (or `--binary PATH`, a prebuilt one, so that two builds can be
measured back to back) with the committed config.toml and its demo seed, on a fresh database
under target/bench (not /tmp, which may be a tmpfs where a flush costs nothing), and sets it up
over HTTP as an operator would:

* a loopback fake push gateway (a threaded Python HTTP server that answers 200 at once) in
  `Push_gateway`: the pushes each message queues are delivered, and none fails (a failure
  would be retried, which adds writes);
* MEMBERS (50) users (users.create as admin), each logged in and holding one registered push
  device (push.token, gcm), and a public channel of all of them (channels.create, members).

Then oha posts the same message with chat.postMessage as one user over N connections ("N
concurrent posters"), in the scenarios of issue 26: 16 posters and 1 poster into the 50-member
channel (each message queues a push for each of the 49 other members, in the message's own
flushed write), 16 posters (alice) into the 4-member demo channel `vb`, 16 posters into a
500-member channel (BIG_MEMBERS users, a device each), and 16 posters into the 50-member channel
on PostgreSQL (a private cluster, benchlib.Cluster). Each round runs on a fresh copy of the
set-up database (stopped, copied, restarted; `CREATE DATABASE … TEMPLATE` on PostgreSQL), so
that every round starts alike: the same rooms and an empty outbox. The server delivers pushes while the round runs, as it would in
production. The scenarios alternate for ROUNDS rounds so that all see the same drift of a
shared machine. Reported per scenario: the median messages/s (2xx answers per second),
server-side p50/p99 (the server's own /metrics histogram) and client-side p50/p99 (oha),
medians of the rounds; the answers that were not 2xx (there must be none: the script fails
otherwise); the pushes queued per message (`rcpush_pushes_queued_total` over the messages the
server answered) and delivered per second meanwhile.

The limit each figure is measured against: right after each round, the same machine's rate of
bare durable sled transactions (examples/sled_limit.rs: as many writers as posters, each
applying one transaction and flushing it) of the same total size per message as the round's —
the bytes and entries the server's store wrote per message answered, its own counters
(`rcpush_store_written_bytes_total`, `…_entries_total`; the pushes' deliveries included). The
rate is reported as a fraction of it. A build without those counters gets no limit.

Results are merged by --label (one entry per build) into benchmarks/write-results.json, and
BENCHMARKS.md is regenerated ("Write path", by benchmarks/report). Numbers are reported, never
asserted: CI does not run this.

    python3 benchmarks/write.py                                   # builds and measures this tree
    python3 benchmarks/write.py --binary /work/baseline/rcpush --label baseline
"""

import argparse
import datetime
import http.server
import json
import pathlib
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

from benchlib import (ADMIN_PASSWORD, BIN, ROOT, WORK, Cluster, Server, count, ensure_tools,
                      log, machine, oha, quantile, report, run)

ROUTE = "/api/v1/chat.postMessage"
TEXT = "write benchmark: the quick brown fox jumps over the lazy dog"
PASSWORD = "bench-password"
# The demo data (README): alice posts into the public channel vb (4 members).
ALICE = ("A7dm3kQzR9xYpW2bn", "alice-demo-token-kGq2Wm7Rt9XbZp4Ns8Yc3Hd6Jf")
VB = "iu7jtPAhvEeAS5tNq"
BIG_MEMBERS = 500
# room: "busy" (--members), "big" (BIG_MEMBERS) or "vb"; backend: "sled" or "postgres".
SCENARIOS = [
    {"name": "room-16", "posters": 16, "room": "busy", "backend": "sled"},
    {"name": "room-1", "posters": 1, "room": "busy", "backend": "sled"},
    {"name": "vb-16", "posters": 16, "room": "vb", "backend": "sled"},
    {"name": "big-16", "posters": 16, "room": "big", "backend": "sled"},
    {"name": "pg-16", "posters": 16, "room": "busy", "backend": "postgres"},
]
LIMIT = ROOT / "target" / "release" / "examples" / "sled_limit"


class Gateway:
    """A push gateway stand-in on loopback: 200 `{}` to every request, at once. It counts
    requests and distinct pushes (a push's body is the same at every attempt): requests beyond
    the distinct ones sent a push again."""

    def __init__(self):
        self.received = 0
        self.distinct = set()
        self.unexpected = []
        lock = threading.Lock()
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    gateway.received += 1
                    gateway.distinct.add(hash(body))
                    if not self.path.startswith("/push/"):
                        gateway.unexpected.append(self.path)
                # One write: headers and body in separate small packets would wait for
                # delayed ACKs on a kept-alive connection.
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 2\r\n\r\n{}")

            def log_message(self, *_):
                pass

        class Quiet(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that closes its connection first is no error here

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def api(server, method, path, auth=None, body=None):
    """One REST call; the parsed answer, or SystemExit with the answer if it is not 2xx."""
    headers = {"Content-Type": "application/json"}
    if auth:
        headers.update({"X-User-Id": auth[0], "X-Auth-Token": auth[1]})
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path}: {e.code} {e.read().decode(errors='replace')}")


def login(server, user, password):
    data = api(server, "POST", "/api/v1/login", body={"user": user, "password": password})["data"]
    return data["userId"], data["authToken"]


def set_up(server, gateway, members):
    """The gateway setting, MEMBERS users with a device each, and their channel. Returns the
    poster's credentials and the channel id."""
    admin = login(server, "admin", ADMIN_PASSWORD)
    api(server, "POST", "/api/v1/settings/Push_gateway", admin, {"value": gateway.url})
    names = [f"writer{i}" for i in range(members)]
    for name in names:
        api(server, "POST", "/api/v1/users.create", admin,
            {"username": name, "email": f"{name}@bench.invalid", "name": name.title(),
             "password": PASSWORD})
    users = [login(server, name, PASSWORD) for name in names]
    for i, user in enumerate(users):
        api(server, "POST", "/api/v1/push.token", user,
            {"type": "gcm", "value": f"write-bench-device-{i:03}",
             "appName": "chat.rocket.android"})
    channel = api(server, "POST", "/api/v1/channels.create", users[0],
                  {"name": "write-bench", "members": names[1:]})["channel"]
    if channel.get("usersCount", members) != members:
        raise SystemExit(f"the channel has {channel.get('usersCount')} members, not {members}")
    return users[0], channel["_id"]


def post_round(start, gateway, poster, rid, posters, seconds):
    """One round on a fresh copy of the set-up database (`start()` makes it and starts the server
    on it, returning the server and a cleanup), so that every round starts alike (the same
    rooms, an empty outbox): oha posts for `seconds` over `posters` connections while the
    server delivers the pushes that queue up."""
    server, cleanup = start()
    try:
        before = server.histogram(ROUTE)
        written_before = written(server)
        result = oha(server.url + ROUTE, seconds, posters, method="POST",
                     headers=[f"X-User-Id: {poster[0]}", f"X-Auth-Token: {poster[1]}"],
                     body=json.dumps({"roomId": rid, "text": TEXT}))
        time.sleep(0.5)  # requests oha cut at its deadline finish on the server
        after = server.histogram(ROUTE)
        written_after = written(server)
        pushes = {k: int(server.counter(f"rcpush_pushes_{k}_total"))
                  for k in ("queued", "sent", "retried", "dropped")}
        rss_kb = server.rss_kb()["VmRSS"]
    finally:
        server.stop()
        cleanup()
    answered = count(before, after)
    ok = sum(n for code, n in result["statuses"].items() if code.startswith("2"))
    bad = {code: n for code, n in result["statuses"].items() if not code.startswith("2")}
    # oha cancels the requests still in flight when its time is up; those are not answers.
    errors = {e: n for e, n in result["errors"].items() if "deadline" not in e}
    weight = {k: (written_after[k] - written_before[k]) / answered
              if answered and written_after[k] is not None else None
              for k in written_after}
    return {
        "messages_per_s": ok / result["seconds"],
        "messages": ok,
        "non_2xx": sum(bad.values()) + sum(errors.values()),
        "non_2xx_detail": {**bad, **errors},
        "server_messages": answered,
        "server_p50_ms": quantile(before, after, 0.50),
        "server_p99_ms": quantile(before, after, 0.99),
        "client_p50_ms": result["client_p50_ms"],
        "client_p99_ms": result["client_p99_ms"],
        "pushes_queued": pushes["queued"],
        "pushes_per_message": pushes["queued"] / answered if answered else None,
        "pushes_delivered": pushes["sent"],
        "pushes_delivered_per_s": pushes["sent"] / result["seconds"],
        "pushes_failed": pushes["retried"] + pushes["dropped"],
        "bytes_per_message": weight["bytes"],
        "entries_per_message": weight["entries"],
        "commits_per_message": weight["commits"],
        "flushes_per_message": weight["flushes"],
        "rss_kb": rss_kb,
    }


def written(server):
    """The store's write counters (None where the build has none)."""
    text = server.metrics()
    values = {}
    for key in ("bytes", "entries", "commits", "flushes"):
        name = {"bytes": "rcpush_store_written_bytes_total",
                "entries": "rcpush_store_written_entries_total",
                "commits": "rcpush_store_commits_total",
                "flushes": "rcpush_store_flushes_total"}[key]
        values[key] = next((float(line.split()[1]) for line in text.splitlines()
                            if line.startswith(name + " ")), None)
    return values


def limit(writers, seconds, bytes_per_message, entries_per_message):
    """Bare durable sled transactions per second of this size, with `writers` writers."""
    if not bytes_per_message:
        return None
    out = run([str(LIMIT), "--dir", str(WORK / "limit"), "--writers", str(writers),
               "--seconds", str(seconds), "--bytes", str(round(bytes_per_message)),
               "--entries", str(max(1, round(entries_per_message)))],
              stdout=subprocess.PIPE).stdout
    return json.loads(out)["transactions_per_s"]


def summarise(scenario, members, rounds):
    median = lambda k: statistics.median(r[k] for r in rounds if r[k] is not None)
    room_members = {"busy": members, "big": BIG_MEMBERS, "vb": 4}[scenario["room"]]
    title = (f"{scenario['posters']} poster{'s' if scenario['posters'] > 1 else ''} → "
             + (f"{room_members}-member channel, a device each" if scenario["room"] != "vb"
                else "demo channel vb (4 members)")
             + (" (PostgreSQL)" if scenario["backend"] == "postgres" else ""))
    limits = [r["limit_per_s"] for r in rounds if r["limit_per_s"]]
    return {
        "name": scenario["name"], "title": title, "posters": scenario["posters"],
        "room_members": room_members,
        "messages_per_s": median("messages_per_s"),
        "server_p50_ms": median("server_p50_ms"), "server_p99_ms": median("server_p99_ms"),
        "client_p50_ms": median("client_p50_ms"), "client_p99_ms": median("client_p99_ms"),
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "pushes_queued": sum(r["pushes_queued"] for r in rounds),
        "pushes_delivered_per_s": median("pushes_delivered_per_s"),
        "pushes_per_message": (sum(r["pushes_queued"] for r in rounds)
                               / max(1, sum(r["server_messages"] for r in rounds))),
        "backend": scenario["backend"],
        "bytes_per_message": median("bytes_per_message") if limits else None,
        "entries_per_message": median("entries_per_message") if limits else None,
        "flushes_per_message": median("flushes_per_message") if limits else None,
        "limit_per_s": statistics.median(limits) if limits else None,
        "fraction_of_limit": (statistics.median(r["messages_per_s"] / r["limit_per_s"]
                                                for r in rounds if r["limit_per_s"])
                              if limits else None),
        "rounds": rounds,
    }


def set_up_database(start, gateway, members):
    """Sets a database up (`start()` starts a seeded server on it) with `members` users and
    their channel; returns the poster's credentials and the channel id."""
    server = start()
    try:
        return set_up(server, gateway, members)
    finally:
        server.stop()


def measure(binary, config, members, seconds, rounds, only):
    WORK.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix="write-", dir=WORK))
    scenarios = [s for s in SCENARIOS if not only or s["name"] in only]
    cluster = Cluster() if any(s["backend"] == "postgres" for s in scenarios) else None
    gateway = Gateway()
    try:
        sizes = {"busy": members, "big": BIG_MEMBERS}
        targets = {("sled", "vb"): (ALICE, VB)}
        starts = {}
        for backend, room in sorted({(s["backend"], s["room"]) for s in scenarios}):
            name = f"{backend}-{room}"
            if backend == "sled":
                setup_db = work / name
                if room != "vb":
                    log(f"setting up {sizes[room]} users with a device each and their channel")
                    targets[(backend, room)] = set_up_database(
                        lambda: Server(setup_db, "/api/info", binary=binary, seed=True,
                                       config=config), gateway, sizes[room])
                else:  # the demo seed alone
                    Server(setup_db, "/api/info", binary=binary, seed=True,
                           config=config).stop()

                def start(setup_db=setup_db):
                    db = work / "round"
                    shutil.rmtree(db, ignore_errors=True)
                    shutil.copytree(setup_db, db)
                    return (Server(db, "/api/info", binary=binary, config=config),
                            lambda: shutil.rmtree(db, ignore_errors=True))
            else:
                log(f"setting up {sizes[room]} users and their channel on PostgreSQL")
                cluster.sql(f"DROP DATABASE IF EXISTS {name.replace('-', '_')}")
                cluster.sql(f"CREATE DATABASE {name.replace('-', '_')}")
                env = cluster.env(name.replace("-", "_"))
                targets[(backend, room)] = set_up_database(
                    lambda: Server(work / "unused", "/api/info", binary=binary, seed=True,
                                   config=config, env=env), gateway, sizes[room])

                def start(name=name.replace("-", "_")):
                    cluster.copy(name, "wround")
                    return (Server(work / "unused", "/api/info", binary=binary, config=config,
                                   env=cluster.env("wround")), lambda: None)
            starts[(backend, room)] = start
        runs = {s["name"]: [] for s in scenarios}
        for n in range(rounds):
            for s in scenarios:
                who, rid = targets[(s["backend"], s["room"])]
                r = post_round(starts[(s["backend"], s["room"])], gateway, who, rid,
                               s["posters"], seconds)
                r["limit_per_s"] = limit(s["posters"], seconds, r["bytes_per_message"],
                                         r["entries_per_message"])
                log(f"round {n + 1} {s['name']}: {r['messages_per_s']:.0f} messages/s, "
                    f"p50/p99 {r['server_p50_ms']:.2f}/{r['server_p99_ms']:.2f} ms, "
                    f"{r['pushes_per_message']:.1f} pushes per message, "
                    f"{r['pushes_delivered']} delivered, non-2xx {r['non_2xx']}"
                    + (f", {r['bytes_per_message']:.0f} bytes in "
                       f"{r['entries_per_message']:.0f} entries per message, "
                       f"{r['flushes_per_message']:.2f} flushes per message, limit "
                       f"{r['limit_per_s']:.0f}/s" if r["limit_per_s"] else ""))
                if r["non_2xx"]:
                    raise SystemExit(f"{s['name']}: answers that are not 2xx: "
                                     f"{r['non_2xx_detail']}")
                if r["pushes_failed"] or gateway.unexpected:
                    raise SystemExit(f"{s['name']}: push deliveries failed (retries add "
                                     f"writes): {r}, gateway paths {gateway.unexpected[:5]}")
                runs[s["name"]].append(r)
    finally:
        gateway.stop()
        if cluster:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    delivery = {"gateway_requests": gateway.received,
                "gateway_distinct_pushes": len(gateway.distinct),
                "sent_more_than_once": gateway.received - len(gateway.distinct)}
    return [summarise(s, members, runs[s["name"]]) for s in scenarios], delivery


def describe_tree():
    out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                         stdout=subprocess.PIPE, text=True)
    return out.stdout.strip() or "unknown"


def table(scenarios):
    lines = ["| scenario | messages/s | server p50 / p99 (ms) | client p50 / p99 (ms) "
             "| non-2xx | pushes queued per message | pushes delivered/s meanwhile "
             "| bytes / entries / flushes per message | limit (bare sled tx/s) | of the limit |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in scenarios:
        lines.append(f"| {s['title']} | {s['messages_per_s']:.0f} "
                     f"| {s['server_p50_ms']:.2f} / {s['server_p99_ms']:.2f} "
                     f"| {s['client_p50_ms']:.2f} / {s['client_p99_ms']:.2f} "
                     f"| {s['non_2xx']} | {s['pushes_per_message']:.2f} "
                     f"| {s['pushes_delivered_per_s']:.0f} "
                     + (f"| {s['bytes_per_message']:.0f} / {s['entries_per_message']:.0f} / "
                        f"{s['flushes_per_message']:.2f} | {s['limit_per_s']:.0f} "
                        f"| {s['fraction_of_limit']:.2f} |" if s["limit_per_s"] else "| — | — | — |"))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", help="a prebuilt release rcpush to measure (default: build "
                   "this tree's and measure target/release/rcpush)")
    p.add_argument("--config", help="configuration file for the server (default: the "
                   "committed config.toml)")
    p.add_argument("--label", help="name of this build in the results (default: the git "
                   "description of this tree, or the binary's path)")
    p.add_argument("--note", default="", help="shown beside the figures in BENCHMARKS.md")
    p.add_argument("--seconds", type=int, default=10, help="length of each round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--members", type=int, default=50, help="members of the busy channel")
    p.add_argument("--only", action="append", default=[],
                   help="measure only this scenario (repeatable): "
                   + ", ".join(s["name"] for s in SCENARIOS))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "write-results.json"))
    p.add_argument("--no-report", action="store_true", help="do not regenerate BENCHMARKS.md")
    args = p.parse_args()
    ensure_tools(build=args.binary is None)
    log("building the limit's bare sled writer (examples/sled_limit.rs)")
    run(["cargo", "build", "--release", "--quiet", "--example", "sled_limit"], cwd=ROOT)
    # The server runs in ROOT: paths given relative to here must not change meaning there.
    binary = str(pathlib.Path(args.binary).resolve()) if args.binary else str(BIN)
    config = str(pathlib.Path(args.config).resolve()) if args.config else None
    label = args.label or (binary if args.binary else describe_tree())
    scenarios, delivery = measure(binary, config, args.members, args.seconds, args.rounds,
                                  args.only)
    build = {
        "label": label, "binary": binary, "benchmark_tree": describe_tree(), "note": args.note,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(), "seconds": args.seconds, "rounds": args.rounds,
        "members": args.members,
        "config": config or str(ROOT / "config.toml"),
        "command": "python3 benchmarks/write.py"
                   + (f" --binary {args.binary}" if args.binary else "")
                   + "".join(f" --only {o}" for o in args.only),
        "delivery": delivery, "scenarios": scenarios,
    }
    out = pathlib.Path(args.out).resolve()
    try:
        with open(out) as f:
            results = json.load(f)
    except FileNotFoundError:
        results = {"builds": []}
    results["builds"] = [b for b in results["builds"] if b["label"] != label] + [build]
    with open(out, "w") as f:
        f.write(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")
    print(f"\n{label} ({binary})\n\n{table(scenarios)}\n")
    if not args.no_report and out == ROOT / "benchmarks" / "write-results.json":
        report()


if __name__ == "__main__":
    main()
