//! The configuration loader: any `config.toml` text and `RCPUSH_*` variable give a
//! configuration or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str, &str)| {
    let (text, name, value) = input;
    let env = vec![(format!("RCPUSH_{name}"), value.to_string())];
    let _ = rcpush::config::Config::parse(text, env);
});
