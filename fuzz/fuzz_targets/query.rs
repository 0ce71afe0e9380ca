//! The `qs`-style query-string parser: any input parses or is refused, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &str| {
    if let Ok(q) = rcpush::api::query::Qs::parse(query) {
        let _ = rcpush::api::extract::query_string(&q, "id");
    }
});
