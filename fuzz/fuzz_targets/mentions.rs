//! @user and #channel mentions and URLs found in a message, on any text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rcpush::rules::mentions;

fuzz_target!(|text: &str| {
    let _ = mentions::mentioned_usernames(text);
    let _ = mentions::mentioned_channels(text);
    let _ = mentions::urls(text);
});
