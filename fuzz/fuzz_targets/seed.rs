//! Seed bundles: any text parses or is refused; what parses is written back and parses
//! again to the same bundle (the backup round trip).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(import) = rcpush::seed::parse(text) {
        let written = rcpush::seed::write(&import).expect("a parsed bundle can be written");
        let again = rcpush::seed::parse(std::str::from_utf8(&written).unwrap())
            .expect("a written bundle parses");
        assert_eq!(rcpush::seed::write(&again).unwrap(), written);
    }
});
