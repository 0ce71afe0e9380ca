//! The notification markdown filter (`filtered.ts`), on any text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = rcpush::rules::markdown_filter::filter_markdown(text);
});
