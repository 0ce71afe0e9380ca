//! The rules of `support::require`, checked on this test binary itself: it is run again as a
//! subprocess (`std::env::current_exe()`), on one small test, with PostgreSQL's binaries
//! hidden (`RCPUSH_TEST_PG_BIN` naming a directory without them), with and without
//! `RCPUSH_TEST_REQUIRE`; and `support::spawn_owned`'s promise that no server outlives its
//! test process, even one that ends without unwinding.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::{rcpush, Server};

/// A PostgreSQL test that skips at once where PostgreSQL is missing.
const PG_TEST: &str = "scale_out::a_database_of_a_newer_schema_is_refused_with_one_line";

/// Set in the subprocess of `a_server_dies_with_its_test_process`.
const CHILD_PIDFILE: &str = "RCPUSH_TEST_CHILD_PIDFILE";

/// This binary on `test` alone (plain, without `--nocapture`), with PostgreSQL hidden and
/// `RCPUSH_TEST_REQUIRE` set to `require` (or unset).
fn run_hiding_postgres(test: &str, require: Option<&str>) -> (Output, String) {
    let hidden = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact"])
        .env("RCPUSH_TEST_PG_BIN", hidden.path())
        .env_remove("RCPUSH_TEST_REQUIRE");
    if let Some(require) = require {
        cmd.env("RCPUSH_TEST_REQUIRE", require);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

#[test]
fn a_missing_postgresql_is_a_visible_skip_unless_required() {
    let (out, text) = run_hiding_postgres(PG_TEST, None);
    assert!(out.status.success(), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("*** SKIPPING the tests that need postgres: RCPUSH_TEST_PG_BIN=")
            && stderr.contains("RCPUSH_TEST_REQUIRE=postgres makes them fail instead")
            && stderr.contains(&format!("SKIPPED {PG_TEST}: no postgres")),
        "{text}"
    );
    assert!(
        text.contains("test result: ok. 1 passed; 0 failed"),
        "{text}"
    );

    // Another component's requirement changes nothing.
    let (out, text) = run_hiding_postgres(PG_TEST, Some("chromium,python"));
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("SKIPPED {PG_TEST}")), "{text}");

    for require in ["postgres", "chromium, postgres", "all"] {
        let (out, text) = run_hiding_postgres(PG_TEST, Some(require));
        assert_eq!(out.status.code(), Some(101), "{require}: {text}");
        assert!(
            text.contains(&format!(
                "{PG_TEST} needs postgres, which RCPUSH_TEST_REQUIRE requires: \
                 RCPUSH_TEST_PG_BIN="
            )) && text.contains("test result: FAILED. 0 passed; 1 failed"),
            "{require}: {text}"
        );
        assert!(!text.contains("SKIPPED"), "{text}");
    }

    // A misspelt component fails rather than quietly requiring nothing.
    let (out, text) = run_hiding_postgres(PG_TEST, Some("postgresql"));
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(text.contains("unknown component \"postgresql\""), "{text}");
}

fn alive(pid: u32) -> bool {
    // A zombie (dead, not yet reaped by the init process) counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// In the subprocess: starts a server, writes its process id, and ends the process without
/// unwinding (no `Drop` runs), as an abort or a kill would.
fn start_a_server_and_exit(pidfile: &Path) -> ! {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut rcpush(&dir.path().join("db")));
    std::fs::write(pidfile, server.child.id().to_string()).unwrap();
    std::process::exit(3)
}

#[test]
fn a_server_dies_with_its_test_process() {
    if let Some(pidfile) = std::env::var_os(CHILD_PIDFILE) {
        start_a_server_and_exit(Path::new(&pidfile));
    }
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["skip_rules::a_server_dies_with_its_test_process", "--exact"])
        .env(CHILD_PIDFILE, &pidfile)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid: u32 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    // The kernel's signal is asynchronous: wait for it, with a bound far above its latency.
    let start = Instant::now();
    while alive(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "rcpush {pid} outlived its test process"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
