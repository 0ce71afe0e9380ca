//! The Hypothesis example (`tests/python/hypothesis_check.py`): a Python test suite starts
//! `rcpush --ephemeral --deterministic` itself and drives it with random operations,
//! resetting between examples. The virtualenv comes from `tests/python/setup-venv.sh`.

use crate::support::{run_python, BIN};

#[test]
fn hypothesis_drives_the_binary_in_testing_mode() {
    let Some(out) = run_python("hypothesis_check.py", &[("RCPUSH_BIN", BIN)]) else {
        return;
    };
    assert!(out.contains("hypothesis: 1 passed, 0 failed"), "{out}");
}
