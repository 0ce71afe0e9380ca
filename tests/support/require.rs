//! What a test does when an outside component it needs (PostgreSQL, Chromium, Python, Node) is
//! missing: skip, saying so where plain `cargo test` shows it, or fail where the run demands
//! the component.
//!
//! libtest has no "skipped" outcome, so a skipped test returns early and passes. It must never
//! end the process (that stops every other test of the binary and leaves their servers
//! running), and it must not pass silently: libtest captures `print!`/`eprint!` of a test, but
//! not writes to the `std::io::stderr()` handle, so the notice goes there.
//!
//! `RCPUSH_TEST_REQUIRE` lists the components a run demands (`.ci/run`:
//! `postgres,chromium,python,node`; `all` for every one): a test that would skip for one of them
//! fails instead, so CI can never pass by skipping.

use std::io::Write;
use std::sync::Mutex;

/// The variable that turns a skip into a failure.
pub const REQUIRE_VAR: &str = "RCPUSH_TEST_REQUIRE";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Postgres,
    Chromium,
    Python,
    Node,
}

impl Component {
    const ALL: [Component; 4] = [
        Component::Postgres,
        Component::Chromium,
        Component::Python,
        Component::Node,
    ];

    /// The name `RCPUSH_TEST_REQUIRE` uses.
    pub fn name(self) -> &'static str {
        match self {
            Component::Postgres => "postgres",
            Component::Chromium => "chromium",
            Component::Python => "python",
            Component::Node => "node",
        }
    }
}

/// Whether `RCPUSH_TEST_REQUIRE` lists `component`. A name it does not know fails the test:
/// a typo must not quietly turn a requirement off.
fn required(component: Component) -> bool {
    let listed = std::env::var(REQUIRE_VAR).unwrap_or_default();
    let mut found = false;
    for name in listed.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match Component::ALL.iter().find(|c| c.name() == name) {
            Some(&c) => found |= c == component,
            None if name == "all" => found = true,
            None => panic!(
                "{REQUIRE_VAR}={listed:?}: unknown component {name:?} (known: postgres, \
                 chromium, python, node, all)"
            ),
        }
    }
    found
}

/// `Some(found)` where the component is there; else `None` after saying so (the caller
/// returns, and its test passes), or a panic (the test fails) where `RCPUSH_TEST_REQUIRE`
/// lists `component`. `missing` says what is missing and how to get it.
pub fn available<T>(component: Component, found: Result<T, String>) -> Option<T> {
    let missing = match found {
        Ok(found) => return Some(found),
        Err(missing) => missing,
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let name = component.name();
    if required(component) {
        panic!("{test} needs {name}, which {REQUIRE_VAR} requires: {missing}");
    }
    // The whole explanation once per component and process, then one line per test (a
    // property test returns once per case).
    static SAID: Mutex<Vec<(Component, String)>> = Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
    if said.contains(&(component, test.clone())) {
        return None;
    }
    let first = !said.iter().any(|(c, _)| *c == component);
    said.push((component, test.clone()));
    drop(said);
    let mut notice = String::new();
    if first {
        notice = format!(
            "\n*** SKIPPING the tests that need {name}: {missing}\n*** \
             ({REQUIRE_VAR}={name} makes them fail instead, as in CI)\n"
        );
    }
    notice.push_str(&format!("SKIPPED {test}: no {name}\n"));
    let _ = std::io::stderr().write_all(notice.as_bytes());
    None
}
