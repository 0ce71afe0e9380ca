//! The PyPI client `rocketchat-api==3.7.1` against the real server: `tests/python/setup-venv.sh`
//! creates the virtualenv (once), then `tests/python/client_check.py` drives the server.

use std::path::PathBuf;
use std::process::Command;

use crate::helpers::*;

#[test]
fn python_rocketchat_api_client_works_against_rcpush() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = match std::env::var_os("RCPUSH_PY_VENV").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => root.join(dir),
        None => root.join("target/py-venv"),
    };
    let setup = Command::new("bash")
        .arg(root.join("tests/python/setup-venv.sh"))
        .env("RCPUSH_PY_VENV", &venv)
        .output()
        .expect("run bash tests/python/setup-venv.sh");
    assert!(
        setup.status.success(),
        "setup-venv.sh failed ({}):\n{}{}",
        setup.status,
        String::from_utf8_lossy(&setup.stdout),
        String::from_utf8_lossy(&setup.stderr)
    );

    let app = spawn_app();
    let out = Command::new(venv.join("bin/python"))
        .arg(root.join("tests/python/client_check.py"))
        .env("RCPUSH_URL", &app.url)
        .env("RCPUSH_ADMIN_USER", "admin")
        .env("RCPUSH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        // Site_Url and uniqueID as config.toml sets them.
        .env("RCPUSH_SITE_URL", "http://localhost:3000")
        .env("RCPUSH_UNIQUE_ID", "E8A88JP-rcpush-demo")
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .expect("run the venv's python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "client_check.py failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(" passed, 0 failed"),
        "unexpected output:\n{stdout}\n{stderr}"
    );
}
