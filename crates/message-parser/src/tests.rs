//! Differential tests against fixtures produced by the official parser (tools/md-oracle).

use super::{parse, references, Katex, Options};
use serde_json::Value;
use std::path::Path;

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Inputs listed in KNOWN_DIFFERENCES.md (as JSON strings in backticks on `- ` lines).
fn known_differences() -> Vec<String> {
    let text = std::fs::read_to_string(fixtures().join("KNOWN_DIFFERENCES.md")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("- `")?.split('`').next())
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect()
}

fn actual(input: &str, options: &Options) -> Value {
    serde_json::to_value(parse(input, options)).expect("AST serializes")
}

#[test]
fn matches_the_official_parser_on_the_corpus() {
    let skip = known_differences();
    let mut files: Vec<_> = std::fs::read_dir(fixtures())
        .expect("fixture directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("corpus-"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus files");
    let (mut total, mut failures) = (0, Vec::new());
    for file in files {
        let inputs: Vec<String> =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let expected_file = file.with_file_name(
            file.file_name()
                .unwrap()
                .to_string_lossy()
                .replace("corpus", "expected"),
        );
        let expected: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(expected_file).unwrap()).unwrap();
        assert_eq!(inputs.len(), expected.len(), "{}", file.display());
        for (input, want) in inputs.iter().zip(expected) {
            if skip.contains(input) {
                continue;
            }
            total += 1;
            let got = actual(input, &Options::default());
            if got != want {
                let cut = |s: String| s.chars().take(600).collect::<String>();
                failures.push(format!(
                    "input {}\n  want {}\n  got  {}",
                    cut(format!("{input:?}")),
                    cut(want.to_string()),
                    cut(got.to_string())
                ));
            }
        }
    }
    assert!(total >= 3000, "only {total} fixtures");
    assert!(
        failures.is_empty(),
        "{} of {total} differ:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn options_from(v: &Value) -> Options {
    let katex = v.get("katex").map(|k| Katex {
        dollar_syntax: k["dollarSyntax"].as_bool().unwrap_or(false),
        parenthesis_syntax: k["parenthesisSyntax"].as_bool().unwrap_or(false),
    });
    Options {
        colors: v["colors"].as_bool().unwrap_or(false),
        emoticons: v["emoticons"].as_bool().unwrap_or(false),
        custom_domains: v["customDomains"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        katex,
        now_ms: 0,
    }
}

#[test]
fn matches_the_official_parser_under_other_options() {
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("options.json")).unwrap())
            .unwrap();
    for case in cases {
        let input = case["input"].as_str().unwrap();
        let got = actual(input, &options_from(&case["options"]));
        assert_eq!(
            got, case["md"],
            "input {input:?} options {}",
            case["options"]
        );
    }
}

#[test]
fn serializes_with_the_key_order_of_the_javascript_objects() {
    let md = parse("- [x] **a** :) [l](https://x.com)", &Options::default()).unwrap();
    assert_eq!(
        serde_json::to_string(&md).unwrap(),
        r#"[{"type":"TASKS","value":[{"type":"TASK","status":true,"value":[{"type":"BOLD","value":[{"type":"PLAIN_TEXT","value":"a"}]},{"type":"PLAIN_TEXT","value":" "},{"type":"EMOJI","value":{"type":"PLAIN_TEXT","value":":)"},"shortCode":"slight_smile"},{"type":"PLAIN_TEXT","value":" "},{"type":"LINK","value":{"src":{"type":"PLAIN_TEXT","value":"https://x.com"},"label":[{"type":"PLAIN_TEXT","value":"l"}]}}]}]}]"#
    );
}

#[test]
fn empty_input_has_no_ast() {
    assert_eq!(parse("", &Options::default()), None);
}

#[test]
fn references_list_mentions_channels_and_link_targets() {
    let md = parse(
        "@ana and @all in #dev: see https://x.com/a, www.y.com, [z **@bo**](http://z.org) and @ana a@b.com\n\
         | https://t.com |\n|---|",
        &Options::default(),
    )
    .unwrap();
    let refs = references(&md);
    assert_eq!(refs.users, ["ana", "all", "bo"]);
    assert_eq!(refs.channels, ["dev"]);
    assert_eq!(
        refs.urls,
        [
            "https://x.com/a",
            "//www.y.com",
            "http://z.org",
            "mailto:a@b.com"
        ]
    );
}

mod properties {
    use super::super::parser::work;
    use super::super::{parse, Options};
    use proptest::prelude::*;

    /// A bound on the parser's work that only a runaway rule (backtracking that explodes) can
    /// break: these inputs measure up to ~850 units of work per unit of text. Linearity itself
    /// is checked on long inputs below.
    const WORK_PER_UNIT: u64 = 4_000;
    const WORK_FLOOR: u64 = 10_000;

    fn markup() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            Just("*"),
            Just("**"),
            Just("_"),
            Just("~"),
            Just("`"),
            Just("```"),
            Just("||"),
            Just("["),
            Just("]"),
            Just("("),
            Just(")"),
            Just("]("),
            Just("<"),
            Just(">"),
            Just("|"),
            Just("\\"),
            Just(":"),
            Just("#"),
            Just("@"),
            Just("!["),
            Just("-"),
            Just("+"),
            Just("."),
            Just("$"),
            Just("\\("),
            Just("\\)"),
            Just("\\["),
            Just("<t:"),
            Just("\n"),
            Just("\r"),
            Just(" "),
            Just("\t"),
            Just("color:#"),
            Just(":)"),
            Just("-_-"),
            Just(":a:"),
            Just("😀"),
            Just("\u{200d}"),
            Just("\u{fe0f}"),
            Just("é"),
            Just("https://"),
            Just("x.com"),
            Just("a@b.com"),
            Just("+55119999"),
            Just("1. "),
            Just("- [x] "),
            Just("> "),
            Just("# "),
            Just("---"),
            Just("a"),
            Just("1")
        ];
        prop::collection::vec(atom, 0..400).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn never_panics_and_stays_linear_on_markup(s in markup()) {
            work::take();
            let _ = parse(&s, &Options::default());
            let units = s.encode_utf16().count() as u64;
            let done = work::take();
            prop_assert!(done <= WORK_PER_UNIT * units + WORK_FLOOR, "{done} units of work on {units}: {s:?}");
        }

        #[test]
        fn never_panics_on_arbitrary_text(s in any::<String>()) {
            let _ = parse(&s, &Options::default());
        }
    }

    #[test]
    fn long_adversarial_inputs_take_linear_work() {
        let mut slow = Vec::new();
        for unit in [
            "*", "_", "~", "[", "|", "\\(", "*a ", "_a ", "[a", "a.", ":)", ":-", "x@", "**a", "`",
            "<t:", "(", "![", "[a](", "_a", "*_~", "a_", "~~a", "[*a", "-_-", ":):", "a.b", "@a",
            "#a", "> ", "- ", "1. ", "|a", "\\[", "+1", "<a|",
        ] {
            // A quadratic rule does 100 times the work on ten times the input, a linear one 10.
            let work_of = |text: &str| {
                work::take();
                let _ = parse(text, &Options::default());
                work::take()
            };
            let small = work_of(&unit.repeat(2_000));
            let big = work_of(&unit.repeat(20_000));
            if big > small * 15 {
                slow.push(format!(
                    "{unit:?}: {small} units of work for 2k, {big} for 20k"
                ));
            }
        }
        assert!(slow.is_empty(), "{}", slow.join("\n"));
    }
}

#[test]
fn hour_timestamps_take_their_date_from_the_caller() {
    // 2024-05-31T12:00:00Z: `<t:10:30>` is 10:30 UTC that day.
    let options = Options {
        now_ms: 1_717_156_800_000,
        ..Options::default()
    };
    let ast = parse("<t:10:30>", &options).unwrap();
    let json = serde_json::to_string(&ast).unwrap();
    assert!(json.contains(r#""timestamp":"1717151400""#), "{json}");
}
