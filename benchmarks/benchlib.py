"""What the benchmark scripts share: paths, the release build and the load generator (oha),
starting and stopping a real server on a free port, reading its /metrics, and the report.

Used by benchmarks/run.py (push.get) and benchmarks/write.py (chat.postMessage).
"""

import json
import math
import os
import pathlib
import platform
import signal
import socket
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
ADMIN_PASSWORD = "bench-admin-password"


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def ensure_tools(build=True):
    """Builds the release server (unless `build` is false: a prebuilt binary is measured) and
    installs oha into target/bench-tools once."""
    if build:
        log("building the release server (with the bench-data feature: `rcpush generate`)")
        run(["cargo", "build", "--release", "--quiet", "--features", "bench-data"], cwd=ROOT)
    if not OHA.exists():
        log(f"installing oha {OHA_VERSION} (once)")
        run(["cargo", "install", "oha", "--locked", "--version", OHA_VERSION, "--root", str(TOOLS)])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A private PostgreSQL cluster for the benchmarks, from the installed binaries, under
    target/bench/pg (a disk, not a tmpfs: commits are flushed as in production), on a free
    port; run as the postgres user when the script runs as root (PostgreSQL refuses root)."""

    def __init__(self):
        bins = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/postgres"))
        if not bins:
            raise SystemExit("no PostgreSQL binaries under /usr/lib/postgresql: install postgresql")
        self.bin = bins[-1].parent
        self.dir = WORK / "pg"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.dir.exists():
            self._sh(["pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "stop"], check=False)
        subprocess.run(["rm", "-rf", str(self.dir)], check=True)
        self.dir.mkdir(parents=True)
        if self.as_postgres:
            run(["chown", "postgres", str(self.dir)])
        self._sh(["initdb", "-A", "trust", "-U", "postgres", "-E", "UTF8", "-D",
                  str(self.dir / "data")], stdout=subprocess.DEVNULL)
        self._sh(["pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                  "-c max_connections=200 -c shared_buffers=128MB", "start"],
                 stdout=subprocess.DEVNULL)

    def _sh(self, cmd, check=True, **kw):
        cmd = [str(self.bin / cmd[0])] + cmd[1:]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, check=check, cwd="/", **kw)

    def url(self, database):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement):
        self._sh(["psql", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-d", "postgres", "-c", statement], stdout=subprocess.DEVNULL)

    def exists(self, database):
        out = self._sh(["psql", "-tA", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-d", "postgres", "-c",
                        f"SELECT 1 FROM pg_database WHERE datname = '{database}'"],
                       stdout=subprocess.PIPE).stdout
        return out.strip() == b"1"

    def copy(self, template, database):
        """A new database with the contents of `template` (which nobody may be connected to)."""
        self.sql(f"DROP DATABASE IF EXISTS {database}")
        self.sql(f"CREATE DATABASE {database} TEMPLATE {template}")

    def env(self, database):
        """The variables that point rcpush at `database`."""
        return {"RCPUSH_STORAGE_BACKEND": "postgres", "RCPUSH_STORAGE_URL": self.url(database)}

    def stop(self):
        self._sh(["pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "stop"],
                 stdout=subprocess.DEVNULL)


class Server:
    def __init__(self, db, probe, cache_mb=32, auth=None, binary=BIN, seed=False, config=None,
                 env=None):
        """Starts `binary` on the database directory `db` and times it until `probe` (a path)
        answers 200 (to `auth`, a `(user id, token)` pair, if given). The configuration is
        ROOT's config.toml (the working directory is ROOT) or `config`; `seed` keeps its seed
        file (loaded into an empty database), else none is loaded. `env` adds variables (e.g.
        `Cluster.env`, to serve from PostgreSQL instead)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, RCPUSH_SERVER_BIND=f"127.0.0.1:{self.port}",
                   RCPUSH_STORAGE_PATH=str(db), RCPUSH_STORAGE_CACHE_MB=str(cache_mb),
                   RCPUSH_ADMIN_PASSWORD=ADMIN_PASSWORD, RCPUSH_LOG_LEVEL="warn",
                   **(env or {}))
        if not seed:
            env["RCPUSH_SEED_FILE"] = ""
        if config is None:
            # The suites read /metrics, which is off by default. (Builds from before the
            # [metrics] section had it always on and refuse the variable: they are measured
            # with a configuration of their own, `config`.)
            env["RCPUSH_METRICS_ENABLED"] = "true"
        env.pop("RUST_LOG", None)
        cmd = [str(binary)] + (["--config", str(config)] if config else [])
        started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        while True:
            try:
                headers = {"X-User-Id": auth[0], "X-Auth-Token": auth[1]} if auth else {}
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

    def metrics(self):
        """The text of GET /metrics."""
        with urllib.request.urlopen(self.url + "/metrics") as r:
            return r.read().decode()

    def counter(self, name):
        """A counter or gauge without labels from /metrics (0 when absent)."""
        for line in self.metrics().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def histogram(self, route):
        """Cumulative (upper bound in s, count) pairs of the server's latency histogram."""
        marker = f'rcpush_http_request_duration_seconds_bucket{{route="{route}",le="'
        out = []
        for line in self.metrics().splitlines():
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


def count(before, after):
    """The number of requests between two histogram readings."""
    return (after[-1][1] if after else 0) - (before[-1][1] if before else 0)


def oha(target, seconds, connections, rate=None, url_file=False, headers=(), method="GET",
        body=None, background=False, output=None):
    """One oha run: its summary, or (`background`) the running process, whose JSON report goes
    to the file `output` if given."""
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
        out = open(output, "w") if output else subprocess.DEVNULL
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
    out = run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    data = json.loads(out)
    percentiles = data["latencyPercentiles"]
    return {"rps": data["summary"]["requestsPerSec"], "success": data["summary"]["successRate"],
            "seconds": data["summary"]["total"],
            "statuses": data.get("statusCodeDistribution", {}),
            "errors": data.get("errorDistribution", {}),
            "client_p50_ms": (percentiles["p50"] or 0) * 1000,
            "client_p99_ms": (percentiles["p99"] or 0) * 1000}


def machine():
    cpu = "unknown"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(pathlib.Path("/proc/meminfo").read_text().split()[1])
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "oha": OHA_VERSION}


def report():
    """Regenerates BENCHMARKS.md and its plots from benchmarks/results.json (push.get, from
    run.py) and benchmarks/write-results.json (chat.postMessage, from write.py) if present."""
    run(["cargo", "run", "--release", "--quiet", "--manifest-path",
         str(ROOT / "benchmarks" / "report" / "Cargo.toml"), "--",
         str(ROOT / "benchmarks" / "results.json"), str(ROOT)],
        env=dict(os.environ, CARGO_TARGET_DIR=str(TARGET / "bench-report")))


def save(results, out, regenerate_report):
    """Writes `results` as JSON to `out`, then regenerates BENCHMARKS.md if asked."""
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")
    if regenerate_report:
        report()
