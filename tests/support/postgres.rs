//! A private PostgreSQL cluster for the tests: `initdb` and `postgres` from the installed
//! binaries, in a temporary directory, on a free loopback port; one per test process, started
//! at the first use, with a new database for each caller.
//!
//! PostgreSQL refuses to run as root, and CI runs as root: then the cluster runs as the
//! `postgres` user. The server is started by a thread that lives as long as the test process
//! and asks the kernel to stop it (SIGINT, a fast shutdown) when that thread ends, so no
//! cluster outlives its test run; directories left by killed runs are removed at the next.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::require::{available, Component};

pub struct Cluster {
    bin: PathBuf,
    port: u16,
    dir: PathBuf,
    owner: Option<(u32, u32)>,
    /// The running postmaster's process id (0 when stopped).
    pid: std::sync::atomic::AtomicU32,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);
static CLUSTERS: AtomicUsize = AtomicUsize::new(0);

const DIR_PREFIX: &str = "rcpush-test-pg-";

/// The directory of `initdb` and `postgres`: `$RCPUSH_TEST_PG_BIN` (only it, when set: a
/// directory without PostgreSQL hides the installed one), else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian's layout), else `pg_config --bindir`. The error
/// says what is missing, for `require::available`.
fn binaries() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("RCPUSH_TEST_PG_BIN") {
        let dir = PathBuf::from(dir);
        return match dir.join("postgres").exists() {
            true => Ok(dir),
            false => Err(format!(
                "RCPUSH_TEST_PG_BIN={} holds no `postgres` binary",
                dir.display()
            )),
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|dir| PathBuf::from(dir.trim()))
        .filter(|bin| bin.join("postgres").exists())
        .ok_or_else(|| {
            "no PostgreSQL server binaries found in /usr/lib/postgresql/*/bin or by \
             `pg_config --bindir` (install postgresql, or set RCPUSH_TEST_PG_BIN)"
                .to_string()
        })
}

/// `(uid, gid)` of the `postgres` user when running as root (PostgreSQL refuses root).
fn run_as() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").arg(flag).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    if id("-u")? != 0 {
        return None;
    }
    let pg = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    Some((
        pg("-u").expect("running as root needs a `postgres` user for the test cluster"),
        pg("-g")?,
    ))
}

fn as_owner(mut c: Command, owner: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = owner {
        c.uid(uid).gid(gid);
    }
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn log_file(dir: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("log"))
        .expect("log file")
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes the clusters of test processes that were killed before they could.
fn remove_stale_clusters(tmp: &Path) {
    for entry in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|n| n.split('-').next())
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if !process_alive(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Cluster {
    /// A cluster of its own (the shared one is `cluster()`), for tests that stop it; an
    /// error only where PostgreSQL is not installed.
    fn private() -> Result<Cluster, String> {
        let bin = binaries()?;
        let owner = run_as();
        let tmp = std::env::temp_dir();
        remove_stale_clusters(&tmp);
        let dir = tmp.join(format!(
            "{DIR_PREFIX}{}-{}",
            std::process::id(),
            CLUSTERS.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster directory");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown cluster dir");
        }
        let mut initdb = as_owner(Command::new(bin.join("initdb")), owner);
        let out = initdb
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .arg("-D")
            .arg(dir.join("data"))
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = Cluster {
            bin,
            port: free_port(),
            dir,
            owner,
            pid: std::sync::atomic::AtomicU32::new(0),
        };
        cluster.run();
        Ok(cluster)
    }

    /// Starts the postmaster and waits until it accepts connections.
    pub fn run(&self) {
        let mut server = as_owner(Command::new(self.bin.join("postgres")), self.owner);
        server
            .arg("-D")
            .arg(self.dir.join("data"))
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.dir.display()))
            .args(["-c", "max_connections=400", "-c", "shared_buffers=32MB"])
            .stdout(Stdio::null())
            .stderr(log_file(&self.dir));
        // SAFETY: prctl is async-signal-safe; it only sets this child's parent-death signal.
        unsafe {
            server.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT);
                Ok(())
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("postgres-cluster".into())
            .spawn(move || {
                let mut child = server.spawn().expect("postgres starts");
                let _ = tx.send(child.id());
                let _ = child.wait();
            })
            .expect("cluster thread");
        let pid = rx.recv().expect("postgres spawned");
        self.pid.store(pid, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.ready() {
            assert!(
                Instant::now() < deadline,
                "postgres did not start: see {}",
                self.dir.join("log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the postmaster (a fast shutdown: sessions are cut) and waits until it is gone.
    pub fn stop(&self) {
        let pid = self.pid.swap(0, Ordering::SeqCst);
        if pid == 0 {
            return;
        }
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while process_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ready(&self) -> bool {
        Command::new(self.bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// A new, empty database; returns its URL.
    pub fn database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::SeqCst)
        );
        let out = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", &name])
            .output()
            .expect("createdb runs");
        assert!(
            out.status.success(),
            "createdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(&name)
    }

    /// Runs `sql` in the database of `url`.
    pub fn psql(&self, url: &str, sql: &str) {
        let out = Command::new(self.bin.join("psql"))
            .args(["-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Everything a database holds, as `pg_dump` prints it (`bytea` in hex).
    pub fn dump(&self, url: &str) -> Vec<u8> {
        let out = Command::new(self.bin.join("pg_dump"))
            .args(["--data-only", url])
            .output()
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The test process's cluster, started at the first call; `None` where PostgreSQL is not
/// installed and the run does not require it (`require::available`: the caller's test
/// returns, having said so).
pub fn cluster() -> Option<&'static Cluster> {
    let cluster = CLUSTER.get_or_init(Cluster::private).as_ref();
    available(Component::Postgres, cluster.map_err(Clone::clone))
}

/// A new database's URL, or `None` as `cluster()`.
pub fn database_or_skip() -> Option<String> {
    cluster().map(Cluster::database)
}

/// A cluster of the test's own, or `None` as `cluster()`.
pub fn private_cluster_or_skip() -> Option<Cluster> {
    available(Component::Postgres, Cluster::private())
}
