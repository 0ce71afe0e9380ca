//! The message parser (`md`), on any text with the server's options: it must not panic, and
//! what it finds must be serialisable and yield references.
#![no_main]
use libfuzzer_sys::fuzz_target;
use message_parser::{parse, references, Options};

fuzz_target!(|text: &str| {
    if let Some(ast) = parse(text, &Options::default()) {
        let _ = references(&ast);
        let _ = serde_json::to_string(&ast).expect("an AST always serialises");
    }
});
