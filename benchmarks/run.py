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
asserted: CI does not run this.

    python3 benchmarks/run.py            # the whole suite (about 10 minutes)
    python3 benchmarks/run.py --quick    # 1k and 100k only, shorter runs
"""

import argparse
import hashlib
import json
import math
import os
import random
import pathlib
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"
BIN = TARGET / "release" / "rcpush"
TOOLS = TARGET / "bench-tools"
OHA = TOOLS / "bin" / "oha"
WORK = TARGET / "bench"
OHA_VERSION = "1.16.0"
CALLER = ("U0000000", "bench-token-0")


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def ensure_tools():
    log("building the release server (with the bench-data feature: `rcpush generate`)")
    run(["cargo", "build", "--release", "--quiet", "--features", "bench-data"], cwd=ROOT)
    if not OHA.exists():
        log(f"installing oha {OHA_VERSION} (once)")
        run(["cargo", "install", "oha", "--locked", "--version", OHA_VERSION, "--root", str(TOOLS)])


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
    first = Server(path / "db", "/api/info", auth=False)
    summary["first_start_ms"] = first.cold_start_ms
    first.stop()
    summary_file.write_text(json.dumps(summary))
    return path / "db", summary


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, db, probe, cache_mb=32, auth=True):
        """Starts the server and times it until `probe` (a path) answers 200 to the caller."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, RCPUSH_SERVER_BIND=f"127.0.0.1:{self.port}",
                   RCPUSH_STORAGE_PATH=str(db), RCPUSH_STORAGE_CACHE_MB=str(cache_mb),
                   RCPUSH_SEED_FILE="", RCPUSH_ADMIN_PASSWORD="bench-admin-password",
                   RCPUSH_LOG_LEVEL="warn")
        env.pop("RUST_LOG", None)
        started = time.perf_counter()
        self.proc = subprocess.Popen([str(BIN)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        while True:
            try:
                headers = {"X-User-Id": CALLER[0], "X-Auth-Token": CALLER[1]} if auth else {}
                req = urllib.request.Request(self.url + probe, headers=headers)
                with urllib.request.urlopen(req, timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit("the server exited during start-up")
                time.sleep(0.0005)
        self.cold_start_ms = (time.perf_counter() - started) * 1000

    def rss_kb(self):
        fields = {}
        for line in pathlib.Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
        return fields

    def histogram(self, route):
        """Cumulative (upper bound in s, count) pairs of the server's latency histogram."""
        with urllib.request.urlopen(self.url + "/metrics") as r:
            text = r.read().decode()
        marker = f'rcpush_http_request_duration_seconds_bucket{{route="{route}",le="'
        out = []
        for line in text.splitlines():
            if line.startswith(marker):
                le = line[len(marker):].split('"')[0]
                out.append((math.inf if le == "+Inf" else float(le), int(line.rsplit(" ", 1)[1])))
        return out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def quantile(before, after, q):
    """The q-quantile (ms) of the requests between two histogram readings."""
    b = dict(before)
    delta = [(le, n - b.get(le, 0)) for le, n in after]
    total = delta[-1][1] if delta else 0
    if total == 0:
        return None
    rank = q * total
    lower, seen = 0.0, 0
    for le, cum in delta:
        if cum >= rank:
            if math.isinf(le):
                return lower * 1000
            inside = cum - seen
            frac = (rank - seen) / inside if inside else 1.0
            return (lower + (le - lower) * frac) * 1000
        lower, seen = le, cum
    return None


def oha(target, seconds, connections, rate=None, url_file=False, headers=(), method="GET",
        body=None, background=False):
    cmd = [str(OHA), "-z", f"{seconds}s", "-c", str(connections), "--no-tui",
           "--output-format", "json"]
    if rate:
        cmd += ["-q", str(rate), "--latency-correction"]
    if url_file:
        cmd += ["--urls-from-file"]
    for h in headers:
        cmd += ["-H", h]
    if method != "GET":
        cmd += ["-m", method]
    if body is not None:
        cmd += ["-d", body, "-T", "application/json"]
    cmd.append(target)
    if background:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    data = json.loads(out)
    return {"rps": data["summary"]["requestsPerSec"], "success": data["summary"]["successRate"],
            "statuses": data.get("statusCodeDistribution", {}),
            "client_p99_ms": data["latencyPercentiles"]["p99"] * 1000}


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
        probe = Server(db, first)
        starts.append(probe.cold_start_ms)
        probe.stop()
    server = Server(db, first)
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


def machine():
    cpu = "unknown"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(pathlib.Path("/proc/meminfo").read_text().split()[1])
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "oha": OHA_VERSION}


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
    run(["cargo", "run", "--release", "--quiet", "--manifest-path",
         str(ROOT / "benchmarks" / "report" / "Cargo.toml"), "--", str(out), str(ROOT)],
        env=dict(os.environ, CARGO_TARGET_DIR=str(TARGET / "bench-report")))


if __name__ == "__main__":
    main()
