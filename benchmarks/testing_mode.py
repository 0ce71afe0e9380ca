#!/usr/bin/env python3
"""Testing mode's figures (issue 15): how fast `rcpush --ephemeral` answers after it is
started, and how long `POST /api/rcpush/testing/reset` takes.

* start to first answer: the time from spawning `rcpush --ephemeral` (committed config.toml,
  demo seed, a port chosen beforehand) to the first 200 of `GET /api/info`, polled every
  millisecond; median, 10th and 90th percentile of STARTS (20) starts, each on a new
  temporary database, and the 1-minute load average at the end (a shared box is never quiet). Beside it, the
  CPU time the server's threads had used by then (Linux's schedstat): on a busy machine the
  wall time mostly measures the wait for a core, the CPU time what start-up costs;
* reset latency: on one server, RESETS (1,000) times: alice posts a message to the demo DM
  (a write with a captured push, so that every reset has something to undo), then the reset
  is timed, client side, over a kept-alive connection; median and p99.

Usage: python3 benchmarks/testing_mode.py [--binary target/release/rcpush] [--compare OTHER]
    [--tmpdir DIR] [--starts N] [--resets N]
--compare OTHER times the starts of a second binary too, alternating with the first one
start by start, so that both see the same machine (a shared one is never quiet); --tmpdir
puts the temporary databases in DIR (TMPDIR), e.g. /dev/shm for a tmpfs; --resets 0 skips
the reset figure. Numbers are printed, never asserted: CI does not run this. Standard
library only.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALICE = ("A7dm3kQzR9xYpW2bn", "alice-demo-token-kGq2Wm7Rt9XbZp4Ns8Yc3Hd6Jf")
DM = "A7dm3kQzR9xYpW2bnd26x6zSkaPSe5gCyy"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, port, tmpdir=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCPUSH_")}
    env.update(RCPUSH_SERVER_BIND=f"127.0.0.1:{port}", RCPUSH_LOG_LEVEL="warn",
               RCPUSH_ADMIN_PASSWORD="bench-admin-password")
    if tmpdir:
        env["TMPDIR"] = tmpdir
    return subprocess.Popen([binary, "--ephemeral"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def first_answer(port, deadline_s=30):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/api/info")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.001)
    raise RuntimeError("no answer")


def cpu_ms(pid):
    """The CPU time of every thread of `pid` so far (ms), from /proc/PID/task/*/schedstat."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that ended meanwhile
    return total / 1e6


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/rcpush"))
    parser.add_argument("--compare", help="a second binary whose starts are timed too")
    parser.add_argument("--tmpdir", help="the folder of the temporary databases (TMPDIR)")
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--resets", type=int, default=1000)
    args = parser.parse_args()

    binaries = [args.binary] + ([args.compare] if args.compare else [])
    starts = {b: [] for b in binaries}
    cpu = {b: [] for b in binaries}
    for _ in range(args.starts):
        for binary in binaries:
            port = free_port()
            t0 = time.monotonic()
            proc = start(binary, port, args.tmpdir)
            first_answer(port)
            starts[binary].append((time.monotonic() - t0) * 1e3)
            cpu[binary].append(cpu_ms(proc.pid))
            proc.terminate()
            proc.wait()
    figures = {"start_to_first_answer_ms": {
        b: {"median": round(statistics.median(v), 1),
            "p10": round(percentile(v, 10), 1), "p90": round(percentile(v, 90), 1),
            "cpu_median": round(statistics.median(cpu[b]), 1), "runs": len(v),
            "load_average": os.getloadavg()[0]}
        for b, v in starts.items()}}
    if args.resets > 0:
        figures["reset_ms"] = resets(args)
    print(json.dumps(figures, indent=2))


def resets(args):
    """Median and p99 of `args.resets` resets, each after a post with a captured push."""
    port = free_port()
    proc = start(args.binary, port, args.tmpdir)
    first_answer(port)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    auth = {"X-User-Id": ALICE[0], "X-Auth-Token": ALICE[1], "Content-Type": "application/json"}
    post = json.dumps({"roomId": DM, "text": "to be undone"})
    times = []
    try:
        for _ in range(args.resets):
            c.request("POST", "/api/v1/chat.postMessage", post, auth)
            r = c.getresponse()
            assert r.status == 200, r.read()
            r.read()
            t0 = time.perf_counter()
            c.request("POST", "/api/rcpush/testing/reset")
            r = c.getresponse()
            body = r.read()
            times.append((time.perf_counter() - t0) * 1e3)
            assert body == b'{"success":true}', body
    finally:
        proc.terminate()
        proc.wait()

    return {"median": round(statistics.median(times), 2),
            "p99": round(percentile(times, 99), 2), "runs": len(times)}


if __name__ == "__main__":
    main()
