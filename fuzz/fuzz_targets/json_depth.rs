//! The JSON nesting scan agrees with serde_json on every document serde_json accepts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rcpush::api::json_depth::too_deep;

/// The nesting depth of a parsed value.
fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|bytes: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let d = depth(&v);
        assert!(!too_deep(bytes, d));
        assert_eq!(too_deep(bytes, d.saturating_sub(1)), d > 0);
    } else {
        let _ = too_deep(bytes, 64);
    }
});
