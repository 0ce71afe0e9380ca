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

pub struct Cluster {
    bin: PathBuf,
    port: u16,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

const DIR_PREFIX: &str = "rcpush-test-pg-";

/// The directory of `initdb` and `postgres`: `$RCPUSH_TEST_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian's layout), else `pg_config --bindir`.
fn binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("RCPUSH_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
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
        return Some(bin);
    }
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let bin = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    bin.join("postgres").exists().then_some(bin)
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
    fn start() -> Option<Cluster> {
        let bin = binaries()?;
        let owner = run_as();
        let tmp = std::env::temp_dir();
        remove_stale_clusters(&tmp);
        let dir = tmp.join(format!("{DIR_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster directory");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown cluster dir");
        }
        let data = dir.join("data");
        let mut initdb = as_owner(Command::new(bin.join("initdb")), owner);
        let out = initdb
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .arg("-D")
            .arg(&data)
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut server = as_owner(Command::new(bin.join("postgres")), owner);
        server
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.display()))
            .args(["-c", "max_connections=400", "-c", "shared_buffers=32MB"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).expect("log file"));
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
                let _ = tx.send(());
                let _ = child.wait();
            })
            .expect("cluster thread");
        rx.recv().expect("postgres spawned");
        let cluster = Cluster { bin, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cluster.ready() {
            assert!(
                Instant::now() < deadline,
                "postgres did not start: see {}",
                dir.join("log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(cluster)
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

/// The test process's cluster, started at the first call; `None` where PostgreSQL is not
/// installed (said once, loudly: `.ci/run` installs it, so CI always has it).
pub fn cluster() -> Option<&'static Cluster> {
    CLUSTER
        .get_or_init(|| {
            let cluster = Cluster::start();
            if cluster.is_none() {
                eprintln!(
                    "\n*** SKIPPING the PostgreSQL tests: no PostgreSQL binaries found \
                     (install postgresql, or set RCPUSH_TEST_PG_BIN) ***\n"
                );
            }
            cluster
        })
        .as_ref()
}

/// A new database's URL, or — where PostgreSQL is not installed — the end of this test
/// process, successfully, after saying so (a test can only pass or fail, not skip).
pub fn database_or_skip() -> String {
    match cluster() {
        Some(c) => c.database(),
        None => std::process::exit(0),
    }
}
