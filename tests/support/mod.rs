//! Running the `rcpush` binary in tests: a command with a free port and a private database,
//! and a server handle that never outlives its test. `tests/system` uses it all, `tests/api`
//! the demo users. `require` decides what a test does where PostgreSQL, Chromium or Python is
//! missing.
#![allow(dead_code)]

pub mod client;
pub mod ddp;
pub mod postgres;
pub mod require;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use client::Client;
use require::{available, Component};

pub const BIN: &str = env!("CARGO_BIN_EXE_rcpush");
pub const ADMIN_PASSWORD: &str = "cli-test-admin";
pub const RODRIQ: (&str, &str) = (
    "d26x6zSkaPSe5gCyy",
    "Zu-Z6eKzIIz7MCCRGeHi29bYkXZCJ4SxFC0JAasqm92",
);
pub const ALICE: (&str, &str) = (
    "A7dm3kQzR9xYpW2bn",
    "alice-demo-token-kGq2Wm7Rt9XbZp4Ns8Yc3Hd6Jf",
);
pub const BOB: (&str, &str) = (
    "B8fn4mRaS2yZqX3cp",
    "bob-demo-token-Tq8Lm3Xw6Zr2Pc9Kn4Vb7Yh5Dg1",
);

pub const GINA: (&str, &str) = (
    "G5hp6nTbT3zAsY4dq",
    "gina-demo-token-Hs5Nw2Qk8Xm4Rt7Zc3Pb6Yd9Jf",
);

/// A gateway address nothing listens on.
pub const CLOSED_GATEWAY: &str = "http://127.0.0.1:9";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `rcpush` with the committed config, a free port, a database in `db` and a known admin password.
pub fn rcpush(db: &Path) -> Command {
    rcpush_via(Command::new(BIN), db)
}

/// `rcpush(…)` on the PostgreSQL database `url`; `dir` only holds what a sled database
/// would (import staging).
pub fn rcpush_on_postgres(dir: &Path, url: &str) -> Command {
    let mut c = rcpush(&dir.join("unused"));
    c.env("RCPUSH_STORAGE_BACKEND", "postgres")
        .env("RCPUSH_STORAGE_URL", url);
    c
}

/// `c`, which runs `rcpush` (perhaps through a wrapper), with the environment of `rcpush(db)`.
pub fn rcpush_via(mut c: Command, db: &Path) -> Command {
    // The test runner's own settings (RCPUSH_CRASH_TRIALS, …) are not the server's.
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("RCPUSH_")) {
        c.env_remove(name);
    }
    c.current_dir(root())
        .env("RCPUSH_SERVER_BIND", "127.0.0.1:0")
        .env("RCPUSH_STORAGE_PATH", db)
        .env("RCPUSH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RCPUSH_LOG_LEVEL", "info")
        // Pushes, if any are queued, go to a closed loopback port, never off the machine.
        .env("RCPUSH_SETTINGS_Push_gateway", CLOSED_GATEWAY)
        .env_remove("RUST_LOG")
        .env_remove("RCPUSH_CONFIG");
    c
}

/// Serialises the tests that load the machine on their own (the crash trials, the hostile
/// generator). In one test binary they would otherwise run at once, and each one's timing
/// (printed, and compared in RELIABILITY.md) and request timeouts would depend on the other.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A failed test poisons the lock; the next one may still run.
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Spawns `cmd` (taking it: `cmd` is left as an empty command) so that the child dies with the
/// test process, however that ends (a panic, an abort, `process::exit`, a kill), even where no
/// `Drop` runs: the kernel sends it SIGKILL (`PR_SET_PDEATHSIG`). That signal follows the
/// *thread* that forked, and a test may start a server on a scoped thread and keep it, so one
/// spawner thread that lives as long as the process forks every child.
pub fn spawn_owned(cmd: &mut Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("child-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("the spawner thread starts");
        tx
    });
    let mut owned = std::mem::replace(cmd, Command::new(""));
    // SAFETY: prctl is async-signal-safe; it only sets the child's parent-death signal.
    unsafe {
        owned.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let (reply, child) = mpsc::channel();
    spawner
        .send((owned, reply))
        .expect("the spawner thread runs");
    child.recv().expect("the spawner thread answers")
}

/// A running server and the port it reported.
pub struct Server {
    pub child: Child,
    pub port: u16,
    /// What the server logged before it was ready.
    pub startup_log: Vec<String>,
    /// Everything it logs afterwards.
    pub log: mpsc::Receiver<String>,
}

impl Drop for Server {
    /// A failed assertion must not leave a server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(cmd: &mut Command) -> Server {
        let mut child =
            spawn_owned(cmd.stdout(Stdio::null()).stderr(Stdio::piped())).expect("spawn rcpush");
        let stderr = child.stderr.take().unwrap();
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut server = Server {
            child,
            port: 0,
            startup_log: Vec::new(),
            log,
        };
        loop {
            let line = server
                .log
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("rcpush reports its port: {:?}", server.startup_log));
            if line.contains("rcpush listening") {
                if let Some(rest) = line.split("port=").nth(1) {
                    server.port = rest.split_whitespace().next().unwrap().parse().unwrap();
                    return server;
                }
            }
            server.startup_log.push(line);
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A client of this server.
    pub fn client(&self) -> Client {
        Client::new(self.url(""))
    }

    /// `(status, body)` of push.get of `id`, as rodriq.
    pub fn push_get(&self, id: &str) -> (u16, String) {
        let r = self.client().push_get(id, RODRIQ);
        (r.status, r.body)
    }

    pub fn kill_hard(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends `signal` (`TERM`, `INT`) without waiting.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        self.child.wait().unwrap()
    }

    /// SIGTERM, then the exit status and everything logged after start-up, to the end.
    pub fn terminate_with_log(mut self) -> (std::process::ExitStatus, Vec<String>) {
        self.signal("TERM");
        let status = self.child.wait().unwrap();
        // The reader thread ends at end of file, which closes the channel.
        let log = std::iter::from_fn(|| self.log.recv_timeout(Duration::from_secs(10)).ok());
        (status, log.collect())
    }

    /// The log lines written so far.
    pub fn drain_log(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }
}

/// Asserts a failed run (exit status 1) that printed exactly one `rcpush: …` line and no
/// panic; returns it.
pub fn one_line_failure(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "should fail with status 1");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    assert!(lines[0].starts_with("rcpush: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Runs `tests/python/<script>` with the virtualenv's Python (`$RCPUSH_PY_VENV`, else
/// `target/py-venv`, created by `tests/python/setup-venv.sh` the first time) and `env`, from
/// the repository's root; asserts that it succeeded and printed ` passed, 0 failed`, and
/// returns what it printed. `None` where the virtualenv cannot be made (no Python, no venv
/// module, no package index), as `require::available` decides.
pub fn run_python(script: &str, env: &[(&str, &str)]) -> Option<String> {
    let venv = match std::env::var_os("RCPUSH_PY_VENV").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => root().join(dir),
        None => root().join("target/py-venv"),
    };
    let setup = Command::new("bash")
        .arg(root().join("tests/python/setup-venv.sh"))
        .env("RCPUSH_PY_VENV", &venv)
        .output()
        .expect("run bash tests/python/setup-venv.sh");
    let made = match setup.status.success() {
        true => Ok(()),
        false => Err(format!(
            "tests/python/setup-venv.sh failed ({}): {}",
            setup.status,
            String::from_utf8_lossy(&setup.stderr).trim()
        )),
    };
    available(Component::Python, made)?;
    let python = spawn_owned(
        Command::new(venv.join("bin/python"))
            .arg(root().join("tests/python").join(script))
            .current_dir(root())
            .envs(env.iter().copied())
            .env("PYTHONIOENCODING", "utf-8")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .expect("run the venv's python");
    let out = python.wait_with_output().expect("python's output");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    Some(stdout)
}
