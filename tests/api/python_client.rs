//! The PyPI client `rocketchat-api==3.7.1` against the real server: `tests/python/setup-venv.sh`
//! creates the virtualenv (once), then `tests/python/client_check.py` drives the server.

use std::path::PathBuf;
use std::process::Command;

use crate::helpers::*;

#[test]
fn python_rocketchat_api_client_works_against_rcpush() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = crate::support::python_venv();
    let app = spawn_app();
    let out = Command::new(python)
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
