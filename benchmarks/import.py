#!/usr/bin/env python3
"""rcpush import benchmark: messages/s and peak RSS of `rcpush import` (issue 12).

Builds the release binary with `bench-data`, writes with `rcpush generate --rocketchat-dump`
a `mongodump --archive` of the small fixture workspace plus N generated messages (nine in ten
carry an `md`, as 7.x data does; one in ten is a system message), optionally gzipped, and
imports it into a fresh database under target/bench (not /tmp, which may be a tmpfs). Peak RSS
is the child's `ru_maxrss`. Figures are printed (and written to
benchmarks/import-results.json), never asserted: CI does not run this.

    python3 benchmarks/import.py                    # 100k and 1M messages
    python3 benchmarks/import.py --messages 10000 --gzip
"""

import argparse
import json
import os
import pathlib
import re
import resource
import shutil
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "rcpush"
WORK = ROOT / "target" / "bench" / "import"


def run(args, env=None):
    """Runs a command; its stdout, wall seconds and peak RSS (MB) of that child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss is the largest child so far: run the import after smaller children only.
    return out.stdout, seconds, max(peak, before) / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--gzip", action="store_true", help="gzip the archive (--archive --gzip)")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--features", "bench-data"], cwd=ROOT, check=True)
    results = []
    for n in args.messages:
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        dump = WORK / "rc.archive"
        subprocess.run([BIN, "generate", "--messages", str(n), "--rocketchat-dump", dump], check=True,
                       capture_output=True)
        if args.gzip:
            subprocess.run(["gzip", "-1", dump], check=True)
            dump = dump.with_suffix(".archive.gz")
        env = {k: v for k, v in os.environ.items() if not k.startswith("RCPUSH_")}
        env["RCPUSH_STORAGE_PATH"] = str(WORK / "db")
        out, seconds, peak = run([BIN, "import", dump], env)
        reported = re.search(r"imported (\d+) documents in ([\d.]+) s \((\d+) messages/s\)", out)
        db_bytes = sum(f.stat().st_size for f in (WORK / "db").rglob("*") if f.is_file())
        result = {
            "messages": n,
            "gzip": args.gzip,
            "dump_mb": round(dump.stat().st_size / 1e6, 1),
            "seconds": round(seconds, 1),
            "messages_per_second": round(n / seconds),
            "reported_messages_per_second": int(reported.group(3)) if reported else None,
            "peak_rss_mb": round(peak, 1),
            "database_mb": round(db_bytes / 1e6, 1),
        }
        print(json.dumps(result), flush=True)
        results.append(result)
    # One entry per message count: a run of one size keeps the others' figures.
    path = ROOT / "benchmarks" / "import-results.json"
    kept = [r for r in (json.loads(path.read_text()) if path.exists() else [])
            if (r["messages"], r["gzip"]) not in {(x["messages"], x["gzip"]) for x in results}]
    merged = sorted(kept + results, key=lambda r: (r["gzip"], r["messages"]))
    path.write_text(json.dumps(merged, indent=2) + "\n")


if __name__ == "__main__":
    main()
