#!/usr/bin/env python3
"""The small box's figures (issue 29), for two builds in the same run: memory, disk, push.get's
ratio and cold start, each beside its goal.

Both builds serve copies of the same generated databases (made once by `--generator`, a build
with the `bench-data` feature, and started once so that sled's log is replayed), scenario by
scenario, one build right after the other, so that both see the same machine:

* RSS (VmRSS after the load, and VmHWM, the peak) while push.get is served at saturation:
  100k messages, recent ones (among the newest 10,000), default config; 1M messages, any
  public message, at `cache_mb` 8, 32 (the default) and 64. The bound is 20 MB + `cache_mb`
  + 10 % (MiB, as the kernel counts);
* the database on disk: the 1M database after it was served, and a 200k-message Rocket.Chat
  `mongodump --archive` (`rcpush generate --rocketchat-dump`) imported with `rcpush import`,
  divided by the archive's size;
* push.get ÷ /api/info at saturation, recent and any message, 100k (benchmarks/run.py's
  comparison: medians of alternating rounds);
* cold start at 1M: process start to the first 200 of push.get, median of three starts.

    python3 benchmarks/memory.py --before OLD --after NEW [--generator BIN] [--seconds 5]

Figures are printed and written to benchmarks/memory-results.json, never asserted: CI does
not run this.
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import time

from benchlib import BIN, ROOT, WORK, Server, ensure_tools, log, machine, oha, run
from run import CALLER, compare, dataset, push_get_urls

HERE = WORK / "memory"
AUTH = [f"X-User-Id: {CALLER[0]}", f"X-Auth-Token: {CALLER[1]}"]
MIB = 1024


def copy(db, label):
    """A private copy of `db` for the build `label`."""
    HERE.mkdir(parents=True, exist_ok=True)
    target = HERE / f"{label}-{db.parent.name}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(db, target)
    return target


def du_mb(path):
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def bound_mib(cache_mb):
    return 20 + cache_mb * 1.1


def rss_under_load(binary, db, summary, cache_mb, recent, seconds, connections):
    """VmRSS after `seconds` of push.get at saturation, and the process's peak (MiB)."""
    probe = "/api/v1/push.get?id=p" + "0" * summary["public_id_digits"]
    server = Server(db, probe, cache_mb=cache_mb, auth=CALLER, binary=binary)
    try:
        urls = push_get_urls(server, summary, db.parent / f"urls-{db.name}-{recent}.txt", recent)
        load = oha(urls, seconds, connections, url_file=True, headers=AUTH)
        assert list(load["statuses"]) == ["200"], load["statuses"]
        rss = server.rss_kb()
    finally:
        server.stop()
    return {"rss_mib": round(rss["VmRSS"] / MIB, 1), "hwm_mib": round(rss["VmHWM"] / MIB, 1),
            "push_get_rps": round(load["rps"]), "bound_mib": bound_mib(cache_mb),
            "within_bound": rss["VmHWM"] / MIB <= bound_mib(cache_mb)}


def ratios(binary, db, summary, seconds, connections):
    """push.get ÷ /api/info at saturation, recent and any message."""
    probe = "/api/v1/push.get?id=p" + "0" * summary["public_id_digits"]
    server = Server(db, probe, auth=CALLER, binary=binary)
    out = {}
    try:
        for recent in (True, False):
            urls = push_get_urls(server, summary, db.parent / f"urls-ratio-{recent}.txt", recent)
            oha(urls, 2, connections, url_file=True, headers=AUTH)  # warm-up
            c = compare(server, urls, AUTH, seconds, connections)
            out["recent" if recent else "any"] = {
                "ratio": round(c["ratio"], 3), "push_get_rps": round(c["push_get_rps"]),
                "baseline_rps": round(c["baseline_rps"])}
    finally:
        server.stop()
    return out


def cold_start(binary, db, summary):
    probe = "/api/v1/push.get?id=p" + "0" * summary["public_id_digits"]
    starts = []
    for _ in range(3):
        server = Server(db, probe, auth=CALLER, binary=binary)
        starts.append(server.cold_start_ms)
        server.stop()
    return {"median_ms": round(statistics.median(starts), 1),
            "starts_ms": [round(s, 1) for s in starts]}


def imported(binary, dump, label):
    """`rcpush import` of the archive into a new database: its size ÷ the archive's."""
    db = HERE / f"{label}-import"
    shutil.rmtree(db, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCPUSH_")}
    env["RCPUSH_STORAGE_PATH"] = str(db)
    started = time.monotonic()
    run([str(binary), "import", str(dump)], env=env, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    size = du_mb(db)
    shutil.rmtree(db)
    return {"database_mb": round(size, 1), "dump_mb": round(dump.stat().st_size / 1e6, 1),
            "ratio": round(size / (dump.stat().st_size / 1e6), 2), "seconds": round(seconds, 1)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", type=pathlib.Path, required=True, help="the build before")
    p.add_argument("--after", type=pathlib.Path, default=BIN, help="the build after")
    p.add_argument("--generator", type=pathlib.Path,
                   help="a build with `bench-data` that generates the data (default: --after)")
    p.add_argument("--seconds", type=int, default=5, help="length of each load")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--skip", action="append", default=[],
                   choices=["rss", "disk", "import", "ratio", "cold"], help="leave a figure out")
    p.add_argument("--out", type=pathlib.Path,
                   default=ROOT / "benchmarks" / "memory-results.json")
    args = p.parse_args()
    ensure_tools(build=False)
    generator = args.generator or args.after
    builds = {"before": args.before, "after": args.after}
    small, small_summary = dataset(100_000, generator)
    large, large_summary = dataset(1_000_000, generator)
    copies = {label: (copy(small, label), copy(large, label)) for label in builds}
    results = {label: {"binary": str(b)} for label, b in builds.items()}
    seconds, conns = args.seconds, args.connections

    def each(name, figure):
        for label, binary in builds.items():
            results[label][name] = figure(label, binary)
            log(f"{label} {name}: {json.dumps(results[label][name])}")

    if "cold" not in args.skip:
        each("cold_start_1m", lambda l, b: cold_start(b, copies[l][1], large_summary))
    if "rss" not in args.skip:
        each("rss_100k_recent_cache32",
             lambda l, b: rss_under_load(b, copies[l][0], small_summary, 32, True, seconds, conns))
        for cache in (8, 32, 64):
            each(f"rss_1m_any_cache{cache}",
                 lambda l, b, c=cache: rss_under_load(b, copies[l][1], large_summary, c, False,
                                                      seconds, conns))
    if "ratio" not in args.skip:
        each("push_get_over_info_100k",
             lambda l, b: ratios(b, copies[l][0], small_summary, seconds, conns))
    if "disk" not in args.skip:
        each("disk_1m_mb", lambda l, b: round(du_mb(copies[l][1]), 1))
    if "import" not in args.skip:
        dump = HERE / "rc-200k.archive"
        if not dump.exists():
            run([str(generator), "generate", "--messages", "200000", "--rocketchat-dump",
                 str(dump)], stdout=subprocess.DEVNULL)
        each("import_200k", lambda l, b: imported(b, dump, l))
    for label in builds:
        for db in copies[label]:
            shutil.rmtree(db, ignore_errors=True)
    results = {"machine": machine(), "seconds": seconds, "connections": conns,
               "command": "python3 benchmarks/memory.py --before B --after A", **results}
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {args.out}")
    print(table(results))


GOALS = [
    ("rss_100k_recent_cache32", "RSS, 100k recent, default config (MiB)", "hwm_mib", "≤ 40"),
    ("rss_1m_any_cache8", "RSS, 1M any, cache_mb 8 (MiB)", "hwm_mib", "≤ 28.8"),
    ("rss_1m_any_cache32", "RSS, 1M any, default cache_mb 32 (MiB)", "hwm_mib", "≤ 55.2"),
    ("rss_1m_any_cache64", "RSS, 1M any, cache_mb 64 (MiB)", "hwm_mib", "≤ 90.4"),
    ("disk_1m_mb", "database on disk, 1M (MB)", None, "≤ 450"),
    ("import_200k", "import of 200k: database ÷ mongodump", "ratio", "≤ 2"),
    ("cold_start_1m", "cold start, 1M (ms)", "median_ms", "≤ 100"),
]


def table(results):
    """A Markdown table: each figure for both builds beside its goal."""
    rows = ["| figure | before | after | goal |", "|---|---:|---:|---:|"]

    def cell(label, key, field):
        value = results[label].get(key)
        if value is None:
            return "—"
        return str(value[field] if field else value)

    for key, name, field, goal in GOALS:
        rows.append(f"| {name} | {cell('before', key, field)} | {cell('after', key, field)} "
                    f"| {goal} |")
    for which in ("recent", "any"):
        got = [results[label].get("push_get_over_info_100k", {}).get(which, {}).get("ratio", "—")
               for label in ("before", "after")]
        rows.append(f"| push.get ÷ /api/info, {which}, 100k | {got[0]} | {got[1]} "
                    f"| no worse |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
