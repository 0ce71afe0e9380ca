#!/usr/bin/env python3
"""rcpush on PostgreSQL: the same measurements on sled and on PostgreSQL, and one against two
instances on one database.

Starts a private PostgreSQL cluster from the installed binaries (benchlib.Cluster, under
target/bench/pg: on disk, commits flushed) and the release server, and measures in one run:

* push.get at 100,000 messages (`rcpush generate`, the same generated world on each backend;
  random public messages among the newest 10,000, as benchmarks/run.py does): req/s and the
  server's p50/p99 at saturation, against /api/info in alternating rounds (medians);
* chat.postMessage with 16 concurrent posters into a 50-member channel where every member has
  a push device (benchmarks/write.py's set-up and round, a fresh copy of the set-up database
  each round: a directory copy on sled, `CREATE DATABASE … TEMPLATE` on PostgreSQL);
* one against two instances on one PostgreSQL database: the same two loads, with the load
  generator's connections split over two rcpush processes (two oha processes at once, their
  throughputs summed);
* the database round trips per push.get (`rcpush_store_round_trips_total` and the read
  fence's `rcpush_read_fences_total` of /metrics, over the requests counted by the server):
  warm with one connection, and under the saturating load;
* the time from a chat.update acknowledged by one instance until another serves the edit in
  push.get (p50/p99 over EDITS edits, each polled on the other at once after the ack), and
  how many reads that took at most (the read fence makes it 1).

Results go to benchmarks/postgres-results.json and into BENCHMARKS.md ("PostgreSQL and several
instances", by benchmarks/report). Numbers are reported, never asserted: CI does not run this.

    python3 benchmarks/postgres.py            # about 6 minutes
    python3 benchmarks/postgres.py --only push-get --no-build --compare OLD_BINARY --no-report
        # push.get alone, this build and OLD_BINARY alternately in one run (before/after)
"""

import argparse
import http.client
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import run as push_suite
import write as write_suite
from benchlib import (BIN, ROOT, WORK, Cluster, Server, count, ensure_tools, log, machine,
                      oha, quantile, run, save)

MESSAGES = 100_000
ROUNDS = 3
PUSH_ROUTE = "/api/v1/push.get"
POST_ROUTE = write_suite.ROUTE
EDITS = 300
ROUND_TRIPS = "rcpush_store_round_trips_total"
FENCES = "rcpush_read_fences_total"


def pg_dataset(cluster, messages):
    """The generated world of `messages` messages in a PostgreSQL database (made once per
    cluster), with the summary `rcpush generate` printed."""
    name = f"gen{messages}"
    work = WORK / f"pg-{name}"
    work.mkdir(parents=True, exist_ok=True)
    log(f"generating {messages} messages into PostgreSQL")
    cluster.sql(f"DROP DATABASE IF EXISTS {name}")
    cluster.sql(f"CREATE DATABASE {name}")
    env = dict(os.environ, RCPUSH_SEED_FILE="", **cluster.env(name))
    out = run([str(BIN), "generate", "--messages", str(messages), "--json"], cwd=ROOT, env=env,
              stdout=subprocess.PIPE).stdout
    summary = json.loads(out)
    first = Server(work / "unused", "/api/info", env=cluster.env(name))
    first.stop()
    return name, summary


def saturation_split(servers, route, targets, seconds, connections, **kw):
    """`connections` spread over `servers` (one oha each, at once): summed req/s, and each
    server's p50/p99 (their histograms are separate)."""
    per = max(1, connections // len(servers))
    before = [s.histogram(route) for s in servers]
    outs = [pathlib.Path(tempfile.mktemp(prefix="oha-", dir=WORK)) for _ in servers]
    procs = []
    for target, out in zip(targets, outs):
        procs.append(oha(target, seconds, per, background=True, output=out, **kw))
    for p in procs:
        p.wait()
    rps = sum(json.loads(o.read_text())["summary"]["requestsPerSec"] for o in outs)
    statuses = {}
    for o in outs:
        for code, n in json.loads(o.read_text()).get("statusCodeDistribution", {}).items():
            statuses[code] = statuses.get(code, 0) + n
        o.unlink()
    after = [s.histogram(route) for s in servers]
    return {"rps": rps, "statuses": statuses,
            "p50": statistics.median(quantile(b, a, 0.50) for b, a in zip(before, after)),
            "p99": max(quantile(b, a, 0.99) for b, a in zip(before, after))}


def per_request(servers, route, load):
    """Runs `load()`; returns its result and the database round trips and read-fence queries
    per request of `route` it cost, summed over `servers` (0 on sled, which has neither)."""
    def reading():
        return [(s.counter(ROUND_TRIPS), s.counter(FENCES), s.histogram(route)) for s in servers]
    before = reading()
    result = load()
    after = reading()
    requests = sum(count(b[2], a[2]) for b, a in zip(before, after))
    per = lambda i: round(sum(a[i] - b[i] for b, a in zip(before, after)) / max(requests, 1), 3)
    return result, {"round_trips": per(0), "fences": per(1), "requests": requests}


def push_get(servers, summary, seconds, connections):
    """push.get on recent messages vs /api/info, alternating ROUNDS times, on `servers`; with
    the round trips per push.get warm (one connection) and under the load."""
    auth = [f"X-User-Id: {push_suite.CALLER[0]}", f"X-Auth-Token: {push_suite.CALLER[1]}"]
    urls = [push_suite.push_get_urls(s, summary, WORK / f"urls-{s.port}.txt", recent=True)
            for s in servers]
    for u in urls:
        oha(u, 2, connections, url_file=True, headers=auth)  # warm-up
    pushes, bases, loaded = [], [], []
    for _ in range(ROUNDS):
        pushed, trips = per_request(servers, PUSH_ROUTE, lambda: saturation_split(
            servers, PUSH_ROUTE, urls, seconds, connections, url_file=True, headers=auth))
        pushes.append(pushed)
        loaded.append(trips)
        bases.append(saturation_split(servers, "/api/info",
                                      [s.url + "/api/info" for s in servers], seconds,
                                      connections))
    # After the loaded rounds, which have read (and prepared) every message of the URLs.
    _, warm = per_request(servers, PUSH_ROUTE, lambda: saturation_split(
        servers, PUSH_ROUTE, urls, seconds, len(servers), url_file=True, headers=auth))
    for p in pushes + bases:
        assert list(p["statuses"]) == ["200"], p["statuses"]
    median = lambda runs, k: statistics.median(r[k] for r in runs)
    return {"push_get_rps": median(pushes, "rps"), "p50_ms": median(pushes, "p50"),
            "p99_ms": median(pushes, "p99"), "baseline_rps": median(bases, "rps"),
            "rss_kb": sum(s.rss_kb()["VmRSS"] for s in servers),
            "round_trips_warm": warm["round_trips"], "fences_warm": warm["fences"],
            "round_trips_loaded": median(loaded, "round_trips"),
            "fences_loaded": median(loaded, "fences")}


def visibility(a, b, poster, rid, edits):
    """Edits one message `edits` times on `a`; after each acknowledgement, reads it on `b`
    until `b` serves the edit: the time from the ack to that answer (ms), and the reads it
    took at most."""
    auth = {"X-User-Id": poster[0], "X-Auth-Token": poster[1],
            "Content-Type": "application/json"}
    to_a = http.client.HTTPConnection("127.0.0.1", a.port)
    to_b = http.client.HTTPConnection("127.0.0.1", b.port)

    def ask(conn, method, path, body=None):
        conn.request(method, path, body=json.dumps(body) if body else None, headers=auth)
        r = conn.getresponse()
        text = r.read().decode()
        if r.status != 200:
            raise SystemExit(f"{method} {path}: {r.status} {text}")
        return text

    posted = json.loads(ask(to_a, "POST", POST_ROUTE, {"roomId": rid, "text": "edit -1"}))
    mid = posted["message"]["_id"]
    ask(to_b, "GET", f"{PUSH_ROUTE}?id={mid}")  # b's caches hold it
    times, reads = [], []
    for i in range(edits):
        text = f"edit {i}"
        ask(to_a, "POST", "/api/v1/chat.update", {"roomId": rid, "msgId": mid, "text": text})
        acked = time.perf_counter()
        n = 0
        while True:
            n += 1
            if f'"msg":"{text}"' in ask(to_b, "GET", f"{PUSH_ROUTE}?id={mid}"):
                break
        times.append((time.perf_counter() - acked) * 1000)
        reads.append(n)
    times.sort()
    at = lambda q: round(times[min(len(times) - 1, int(q * len(times)))], 2)
    return {"edits": edits, "p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": round(times[-1], 2),
            "reads_needed_max": max(reads)}


def post(servers, poster, rid, seconds, connections):
    """chat.postMessage for `seconds` over `connections`, spread over `servers`."""
    headers = [f"X-User-Id: {poster[0]}", f"X-Auth-Token: {poster[1]}"]
    body = json.dumps({"roomId": rid, "text": write_suite.TEXT})
    r = saturation_split(servers, POST_ROUTE, [s.url + POST_ROUTE for s in servers], seconds,
                         connections, method="POST", headers=headers, body=body)
    bad = {c: n for c, n in r["statuses"].items() if not c.startswith("2")}
    if bad:
        raise SystemExit(f"answers that are not 2xx: {bad}")
    return r


def write_rounds(start_round, gateway, poster, rid, seconds, connections, instances):
    """ROUNDS rounds, each on a fresh copy of the set-up database (`start_round(i)` makes the
    copy and starts `instances` servers on it, returning them and a cleanup)."""
    rounds = []
    for i in range(ROUNDS):
        servers, cleanup = start_round(i, instances)
        try:
            rounds.append(post(servers, poster, rid, seconds, connections))
            time.sleep(0.5)
        finally:
            for s in servers:
                s.stop()
            cleanup()
    median = lambda k: statistics.median(r[k] for r in rounds)
    return {"messages_per_s": median("rps"), "p50_ms": median("p50"), "p99_ms": median("p99")}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=5, help="length of each measured run")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--messages", type=int, default=MESSAGES,
                   help="size of the generated world push.get reads")
    p.add_argument("--build", action=argparse.BooleanOptionalAction, default=True,
                   help="build the release server first (--no-build: measure the one there)")
    p.add_argument("--members", type=int, default=50)
    p.add_argument("--note", default="", help="shown beside the figures in BENCHMARKS.md")
    p.add_argument("--out", type=pathlib.Path,
                   default=ROOT / "benchmarks" / "postgres-results.json")
    p.add_argument("--no-report", action="store_true", help="do not regenerate BENCHMARKS.md")
    p.add_argument("--only", choices=["push-get"],
                   help="measure only this (quicker, while iterating)")
    p.add_argument("--binary", type=pathlib.Path, default=BIN,
                   help="the server measured (datasets are generated by this tree's build)")
    p.add_argument("--compare", type=pathlib.Path,
                   help="another server binary whose push.get is measured in the same run")
    args = p.parse_args()
    ensure_tools(args.build)
    WORK.mkdir(parents=True, exist_ok=True)
    cluster = Cluster()
    gateway = write_suite.Gateway()
    work = pathlib.Path(tempfile.mkdtemp(prefix="pg-bench-", dir=WORK))
    results = {"machine": machine(), "messages": args.messages, "seconds": args.seconds,
               "connections": args.connections, "members": args.members,
               "command": " ".join(["python3 benchmarks/postgres.py"] + sys.argv[1:]), "note": args.note,
               "date": time.strftime("%Y-%m-%d")}
    try:
        # push.get at 100k: sled, PostgreSQL, PostgreSQL with two instances.
        sled_db, summary = push_suite.dataset(args.messages)
        pg_db, _ = pg_dataset(cluster, args.messages)
        first = "/api/v1/push.get?id=p" + "0" * summary["public_id_digits"]
        # The measured binary, and the one it is compared with (if any), one after the other
        # on each backend: their ratios come from the same minutes of the same box.
        binaries = {"": args.binary}
        if args.compare:
            binaries["compared"] = args.compare
        reads = {name: {} for name in binaries}
        for label, instances, env, db in [("sled", 1, {}, sled_db),
                                          ("postgres", 1, cluster.env(pg_db), work / "x"),
                                          ("postgres-2", 2, cluster.env(pg_db), work / "x")]:
            for name, binary in binaries.items():
                servers = [Server(db, first, auth=push_suite.CALLER, env=env, binary=binary)
                           for _ in range(instances)]
                try:
                    reads[name][label] = push_get(servers, summary, args.seconds,
                                                  args.connections)
                finally:
                    for s in servers:
                        s.stop()
                log(f"push.get {label} {name or 'measured'}: {json.dumps(reads[name][label])}")
        ratio = lambda read: round(
            read["postgres"]["push_get_rps"] / read["sled"]["push_get_rps"], 3)
        results["push_get"] = reads[""]
        results["push_get_postgres_vs_sled"] = ratio(reads[""])
        if args.compare:
            results["compared"] = {"binary": str(args.compare), "push_get": reads["compared"],
                                   "push_get_postgres_vs_sled": ratio(reads["compared"])}
            log(f"postgres / sled: measured {ratio(reads[''])}, "
                f"compared {ratio(reads['compared'])}")
        if args.only != "push-get":
            # chat.postMessage, 16 posters into the busy channel.
            setup_sled = work / "setup"
            server = Server(setup_sled, "/api/info", seed=True, binary=args.binary)
            try:
                poster, rid = write_suite.set_up(server, gateway, args.members)
            finally:
                server.stop()
            cluster.sql("DROP DATABASE IF EXISTS wsetup")
            cluster.sql("CREATE DATABASE wsetup")
            server = Server(work / "x", "/api/info", seed=True, env=cluster.env("wsetup"),
                            binary=args.binary)
            try:
                pg_poster, pg_rid = write_suite.set_up(server, gateway, args.members)
            finally:
                server.stop()

            def sled_round(i, instances):
                db = work / "round"
                shutil.rmtree(db, ignore_errors=True)
                shutil.copytree(setup_sled, db)
                servers = [Server(db, "/api/info", binary=args.binary)]
                return servers, lambda: shutil.rmtree(db, ignore_errors=True)

            def pg_round(i, instances):
                cluster.copy("wsetup", "wround")
                env = cluster.env("wround")
                servers = [Server(work / "x", "/api/info", env=env, binary=args.binary)
                           for _ in range(instances)]
                return servers, lambda: None

            # An edit on one instance, served by the other.
            servers, _ = pg_round(0, 2)
            try:
                results["edit_visible_on_other_instance"] = visibility(
                    servers[0], servers[1], pg_poster, pg_rid, EDITS)
            finally:
                for s in servers:
                    s.stop()
            log(f"edit seen on the other instance: {results['edit_visible_on_other_instance']}")

            writes = {
                "sled": write_rounds(sled_round, gateway, poster, rid, args.seconds,
                                     args.connections, 1),
                "postgres": write_rounds(pg_round, gateway, pg_poster, pg_rid, args.seconds,
                                         args.connections, 1),
                "postgres-2": write_rounds(pg_round, gateway, pg_poster, pg_rid, args.seconds,
                                           args.connections, 2),
            }
            for label, w in writes.items():
                log(f"chat.postMessage {label}: {json.dumps(w)}")
            results["post_message"] = writes
    finally:
        gateway.stop()
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    save(results, args.out, not args.no_report)


if __name__ == "__main__":
    main()
