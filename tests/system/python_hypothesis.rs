//! The Hypothesis example (`tests/python/hypothesis_check.py`): a Python test suite starts
//! `rcpush --ephemeral --deterministic` itself and drives it with random operations,
//! resetting between examples. The virtualenv comes from `tests/python/setup-venv.sh`.

use std::process::Command;

use crate::support::{python_venv, root, BIN};

#[test]
fn hypothesis_drives_the_binary_in_testing_mode() {
    let out = Command::new(python_venv())
        .arg(root().join("tests/python/hypothesis_check.py"))
        .current_dir(root())
        .env("RCPUSH_BIN", BIN)
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .expect("run the venv's python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("hypothesis: 1 passed, 0 failed"),
        "hypothesis_check.py failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}
