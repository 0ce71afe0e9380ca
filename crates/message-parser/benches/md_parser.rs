//! Throughput of the parser over the differential-test corpus (tests/fixtures).
//! Compare with the official parser on the same sets (from the repository root):
//! `cd tools/md-oracle && TZ=UTC node oracle.mjs --bench`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use message_parser::{parse, Options};
use std::path::Path;

fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("corpus-"))
        })
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            serde_json::from_str::<Vec<String>>(&std::fs::read_to_string(f).unwrap()).unwrap()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let messages = corpus();
    // The corpus ends with long adversarial inputs; chat-sized messages are measured apart.
    let chat: Vec<String> = messages
        .iter()
        .filter(|m| m.encode_utf16().count() < 3000)
        .cloned()
        .collect();
    let options = Options::default();
    let mut group = c.benchmark_group("md_parser");
    for (name, set) in [
        ("whole corpus", &messages),
        ("messages under 3000 UTF-16 units", &chat),
    ] {
        group.throughput(Throughput::Elements(set.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for m in set {
                    std::hint::black_box(parse(m, &options));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
