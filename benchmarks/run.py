#!/usr/bin/env python3
"""rcpush benchmark suite: one command, reproducible.

Builds the release server, installs the load generator (oha, from crates.io), generates
databases of 1k to 1M messages, and for each one starts the real server and measures, with
the same load generator and connection count in the same run:

* cold start: process start to the first 200 from push.get, on a database at rest (the first
  start after generating replays sled's log of the whole generation; it is reported apart);
* saturation throughput of push.get (random public messages the caller may read, from a URL
  list: among the newest 10,000, as devices ask for what they were just notified of, and again
  among all of them) and of the bare baseline endpoint /api/info, and their ratio;
* server-side p50/p99 latency (read from the server's own /metrics histograms) at saturation
  and at a fixed 1,000 req/s;
* memory (VmRSS / VmHWM);
* for the 100k database, push.get p99 at 1,000 req/s while failing and succeeding logins run.

Results go to benchmarks/results.json; benchmarks/report (a small Rust program using the
plotters crate) turns them into BENCHMARKS.md and SVG plots. Numbers are reported, never
asserted: CI does not run this. What it shares with benchmarks/write.py (the write path) is in
benchmarks/benchlib.py.

    python3 benchmarks/run.py            # the whole suite (about 10 minutes)
    python3 benchmarks/run.py --quick    # 1k and 100k only, shorter runs
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import time

from benchlib import (BIN, ROOT, WORK, Server, ensure_tools, log, machine, oha, quantile,
                      report, run)

CALLER = ("U0000000", "bench-token-0")


def generator_version():
    """Changes whenever the code that shapes a generated database does."""
    h = hashlib.sha256()
    for f in ["src/generate.rs", "src/seed.rs", "src/store/trees.rs"]:
        h.update((ROOT / f).read_bytes())
    return h.hexdigest()[:10]


def dataset(messages):
    """A generated database of `messages` messages, made once and reused."""
    path = WORK / f"db-{messages}-{generator_version()}"
    summary_file = path / "summary.json"
    if summary_file.exists():
        return path / "db", json.loads(summary_file.read_text())
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    log(f"generating {messages} messages")
    env = dict(os.environ, RCPUSH_STORAGE_PATH=str(path / "db"), RCPUSH_SEED_FILE="")
    out = run([str(BIN), "generate", "--messages", str(messages), "--json"], cwd=ROOT, env=env,
              stdout=subprocess.PIPE).stdout
    summary = json.loads(out)
    # The first start replays sled's log of the generation and creates the admin account.
    first = Server(path / "db", "/api/info")
    summary["first_start_ms"] = first.cold_start_ms
    first.stop()
    summary_file.write_text(json.dumps(summary))
    return path / "db", summary


RECENT = 10_000


def push_get_urls(server, summary, path, recent):
    """A file of 100,000 push.get URLs on random public messages (`p<digits>` ids, numbered in
    time order): among the newest RECENT ones if `recent` (a device asks for the message it was
    just notified of), else among all of them (the worst case for the caches)."""
    rng = random.Random(summary["messages"])
    digits, count = summary["public_id_digits"], summary["public_messages"]
    low = max(0, count - RECENT) if recent else 0
    with open(path, "w") as f:
        for _ in range(100_000):
            f.write(f"{server.url}/api/v1/push.get?id=p{rng.randrange(low, count):0{digits}d}\n")
    return str(path)


ROUNDS = 3


def saturation(server, route, target, seconds, connections, **kw):
    """One saturation run: client throughput and the server's own p50/p99 for `route`."""
    before = server.histogram(route)
    run_ = oha(target, seconds, connections, **kw)
    after = server.histogram(route)
    assert run_["statuses"].get("200", 0) > 0 and len(run_["statuses"]) == 1, run_["statuses"]
    return {"rps": run_["rps"], "p50": quantile(before, after, 0.50),
            "p99": quantile(before, after, 0.99)}


def compare(server, push, auth, seconds, connections):
    """push.get and /api/info at saturation, alternating ROUNDS times so that both see the same
    machine (a shared two-core VM drifts by tens of percent): medians of the rounds."""
    pushes, bases = [], []
    for _ in range(ROUNDS):
        pushes.append(saturation(server, "/api/v1/push.get", push, seconds, connections,
                                 url_file=True, headers=auth))
        bases.append(saturation(server, "/api/info", server.url + "/api/info", seconds,
                                connections))
    median = lambda runs, k: statistics.median(r[k] for r in runs)
    return {
        "push_get_rps": median(pushes, "rps"),
        "saturation_p50_ms": median(pushes, "p50"),
        "saturation_p99_ms": median(pushes, "p99"),
        "baseline_rps": median(bases, "rps"),
        "baseline_p99_ms": median(bases, "p99"),
        "ratio": statistics.median(p["rps"] / b["rps"] for p, b in zip(pushes, bases)),
    }


def fixed_rate(server, push, auth, seconds, connections):
    """push.get at 1,000 req/s, ROUNDS runs of twice `seconds`: medians of the server's own
    p50/p99 (an idle two-core VM's scheduling noise is of the order of the latencies)."""
    route = "/api/v1/push.get"
    runs = []
    for _ in range(ROUNDS):
        before = server.histogram(route)
        fixed = oha(push, 2 * seconds, connections, rate=1000, url_file=True, headers=auth)
        after = server.histogram(route)
        runs.append({"rps": fixed["rps"], "p50": quantile(before, after, 0.50),
                     "p99": quantile(before, after, 0.99), "client_p99": fixed["client_p99_ms"]})
    median = lambda k: statistics.median(r[k] for r in runs)
    return {
        "fixed_rate_rps": median("rps"),
        "fixed_p50_ms": median("p50"),
        "fixed_p99_ms": median("p99"),
        "fixed_client_p99_ms": median("client_p99"),
    }


def measure(messages, seconds, connections):
    db, summary = dataset(messages)
    first = "/api/v1/push.get?id=p" + "0" * summary["public_id_digits"]
    # Cold start: the median of a few starts (a single one swings by tens of milliseconds).
    starts = []
    for _ in range(ROUNDS - 1):
        probe = Server(db, first, auth=CALLER)
        starts.append(probe.cold_start_ms)
        probe.stop()
    server = Server(db, first, auth=CALLER)
    starts.append(server.cold_start_ms)
    auth = [f"X-User-Id: {CALLER[0]}", f"X-Auth-Token: {CALLER[1]}"]
    push = push_get_urls(server, summary, db.parent / "urls-recent.txt", recent=True)
    anywhere = push_get_urls(server, summary, db.parent / "urls-all.txt", recent=False)
    result = {"messages": messages, "generate_messages_per_s": summary["messages_per_second"],
              "first_start_ms": summary["first_start_ms"],
              "cold_start_ms": statistics.median(starts), "cold_starts_ms": starts}
    try:
        oha(push, 2, connections, url_file=True, headers=auth)  # warm-up
        result.update(compare(server, push, auth, seconds, connections))
        result.update(fixed_rate(server, push, auth, seconds, connections))
        # Memory while serving push.get, before the login test's password hashes (19 MiB each).
        result["serving_rss_kb"] = server.rss_kb()["VmRSS"]
        # The same over every public message: most reads miss the 32 MiB cache on large sets.
        oha(anywhere, 2, connections, url_file=True, headers=auth)  # warm-up
        spread = compare(server, anywhere, auth, seconds, connections)
        spread.update(fixed_rate(server, anywhere, auth, seconds, connections))
        result["all_messages"] = dict(spread, rss_kb=server.rss_kb()["VmRSS"])
        if messages == 100_000:
            result.update(with_logins(server, push, auth, seconds, connections))
            # The same load right after, without logins, for a comparison close in time.
            alone = fixed_rate(server, push, auth, seconds, connections)
            result["without_logins_p99_ms"] = alone["fixed_p99_ms"]
        result.update({f"{k.lower()}_kb": v for k, v in server.rss_kb().items()})
    finally:
        server.stop()
    log(json.dumps(result))
    return result


def with_logins(server, push, auth, seconds, connections):
    """push.get at 1,000 req/s (as `fixed_rate`) while 20 good and 20 bad logins per second run."""
    login = server.url + "/api/v1/login"
    length = ROUNDS * 2 * seconds + 4
    good = oha(login, length, 2, rate=20, method="POST",
               body=json.dumps({"user": "user1", "password": "bench-password"}), background=True)
    bad = oha(login, length, 2, rate=20, method="POST",
              body=json.dumps({"user": "user2", "password": "wrong"}), background=True)
    time.sleep(1)
    loaded = fixed_rate(server, push, auth, seconds, connections)
    good.wait()
    bad.wait()
    return {"with_logins_p50_ms": loaded["fixed_p50_ms"],
            "with_logins_p99_ms": loaded["fixed_p99_ms"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="1k and 100k only, 3 s runs")
    p.add_argument("--sizes", type=int, nargs="*", help="dataset sizes in messages")
    p.add_argument("--seconds", type=int, help="length of each measured run")
    p.add_argument("--connections", type=int, default=16)
    args = p.parse_args()
    sizes = args.sizes or ([1_000, 100_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000])
    seconds = args.seconds or (3 if args.quick else 5)
    ensure_tools()
    results = {"machine": machine(), "connections": args.connections, "seconds": seconds,
               "command": "python3 benchmarks/run.py" + (" --quick" if args.quick else ""),
               "runs": [measure(n, seconds, args.connections) for n in sizes]}
    out = ROOT / "benchmarks" / "results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")
    report()


if __name__ == "__main__":
    main()
