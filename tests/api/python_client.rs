//! The PyPI client `rocketchat-api==3.7.1` against the real server: `tests/python/setup-venv.sh`
//! creates the virtualenv (once), then `tests/python/client_check.py` drives the server.

use crate::helpers::*;

#[test]
fn python_rocketchat_api_client_works_against_rcpush() {
    let app = spawn_app!();
    crate::support::run_python(
        "client_check.py",
        &[
            ("RCPUSH_URL", &app.url),
            ("RCPUSH_ADMIN_USER", "admin"),
            ("RCPUSH_ADMIN_PASSWORD", ADMIN_PASSWORD),
            // Site_Url and uniqueID as config.toml sets them.
            ("RCPUSH_SITE_URL", "http://localhost:3000"),
            ("RCPUSH_UNIQUE_ID", "E8A88JP-rcpush-demo"),
        ],
    );
}
