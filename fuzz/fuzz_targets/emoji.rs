//! Emoji shortnames to Unicode, on any text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = emoji::shortname_to_unicode(text);
});
