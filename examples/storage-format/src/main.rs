//! Issue 29's format candidates, measured over a real database and changing nothing in it:
//! the messages of `messageid_message` compressed with zstd, without and with a dictionary
//! trained on a sample of them, one message at a time or in blocks of consecutive ones.
//! For each: bytes, ratio, and the decode cost a push.get would pay (one message, or the
//! whole block that holds it). Then what the database on disk would become if sled's space
//! amplification (bytes on disk ÷ live keys and values) stayed as it is.
//!
//!     cargo run --release -- COPY_OF_A_DATABASE [--level 3] [--dict-kib 112]
//!
//! Opens the database read-write as sled does (its snapshot may be rewritten): point it at a
//! copy.

use std::time::Instant;

const MESSAGES: &str = "messageid_message";

struct Args {
    path: String,
    level: i32,
    dict_bytes: usize,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut out = Args {
        path: String::new(),
        level: 3,
        dict_bytes: 112 * 1024,
    };
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--level" => out.level = value()?.parse().map_err(|e| format!("--level: {e}"))?,
            "--dict-kib" => {
                out.dict_bytes = 1024
                    * value()?
                        .parse::<usize>()
                        .map_err(|e| format!("--dict-kib: {e}"))?
            }
            _ if out.path.is_empty() && !a.starts_with('-') => out.path = a,
            _ => return Err(format!("unexpected argument {a}")),
        }
    }
    if out.path.is_empty() {
        return Err("usage: rcpush-storage-format DATABASE [--level N] [--dict-kib N]".into());
    }
    Ok(out)
}

fn du(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => du(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// One candidate's figures.
struct Outcome {
    name: String,
    bytes: usize,
    /// Mean time to get one message back, as push.get would.
    decode_ns: f64,
}

fn per_message(
    messages: &[Vec<u8>],
    level: i32,
    dict: &[u8],
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let mut c = zstd::bulk::Compressor::with_dictionary(level, dict)?;
    let frames = messages
        .iter()
        .map(|m| c.compress(m))
        .collect::<Result<Vec<_>, _>>()?;
    let mut d = zstd::bulk::Decompressor::with_dictionary(dict)?;
    let started = Instant::now();
    for (frame, m) in frames.iter().zip(messages) {
        let back = d.decompress(frame, m.len())?;
        assert_eq!(back.len(), m.len());
    }
    let name = if dict.is_empty() {
        "zstd per message, no dictionary"
    } else {
        "zstd per message, trained dictionary"
    };
    Ok(Outcome {
        name: name.into(),
        bytes: frames.iter().map(Vec::len).sum::<usize>() + dict.len(),
        decode_ns: started.elapsed().as_nanos() as f64 / messages.len() as f64,
    })
}

fn per_block(
    messages: &[Vec<u8>],
    level: i32,
    dict: &[u8],
    block: usize,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let mut c = zstd::bulk::Compressor::with_dictionary(level, dict)?;
    let mut frames = Vec::new();
    for chunk in messages.chunks(block) {
        let raw: Vec<u8> = chunk.concat();
        frames.push((c.compress(&raw)?, raw.len()));
    }
    let mut d = zstd::bulk::Decompressor::with_dictionary(dict)?;
    let started = Instant::now();
    for (frame, len) in &frames {
        assert_eq!(d.decompress(frame, *len)?.len(), *len);
    }
    Ok(Outcome {
        name: format!("zstd blocks of {block}, trained dictionary"),
        bytes: frames.iter().map(|(f, _)| f.len()).sum::<usize>() + dict.len(),
        // A push.get decodes the whole block of the message it serves.
        decode_ns: started.elapsed().as_nanos() as f64 / frames.len() as f64,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let path = std::path::Path::new(&args.path);
    let on_disk = du(path);
    let db = sled::Config::new().path(path).open()?;
    let mut live = 0u64;
    for name in db.tree_names() {
        for kv in db.open_tree(&name)?.iter() {
            let (k, v) = kv?;
            live += (k.len() + v.len()) as u64;
        }
    }
    let tree = db.open_tree(MESSAGES)?;
    let mut messages = Vec::new();
    let mut keys = 0usize;
    for kv in tree.iter() {
        let (k, v) = kv?;
        keys += k.len();
        messages.push(v.to_vec());
    }
    let raw: usize = messages.iter().map(Vec::len).sum();
    println!(
        "database {}: {:.1} MB on disk, {:.1} MB live keys and values (amplification {:.2})",
        args.path,
        on_disk as f64 / 1e6,
        live as f64 / 1e6,
        on_disk as f64 / live as f64
    );
    println!(
        "{} messages: {:.1} MB of documents ({:.0} B each), {:.1} MB of keys",
        messages.len(),
        raw as f64 / 1e6,
        raw as f64 / messages.len() as f64,
        keys as f64 / 1e6
    );

    // The dictionary learns from one message in 50 (at most 20,000), spread over the tree.
    let step = (messages.len() / 20_000).max(50);
    let sample: Vec<&Vec<u8>> = messages.iter().step_by(step).collect();
    let started = Instant::now();
    let dict = zstd::dict::from_samples(&sample, args.dict_bytes)?;
    println!(
        "dictionary: {} B from {} samples in {:.1} s (level {})",
        dict.len(),
        sample.len(),
        started.elapsed().as_secs_f64(),
        args.level
    );

    let mut outcomes = vec![
        per_message(&messages, args.level, &[])?,
        per_message(&messages, args.level, &dict)?,
    ];
    for block in [8, 32, 128] {
        outcomes.push(per_block(&messages, args.level, &dict, block)?);
    }
    println!("| candidate | messages' bytes (MB) | ratio | decode per push.get (µs) | database on disk, projected (MB) |");
    println!("|---|---:|---:|---:|---:|");
    let amplification = on_disk as f64 / live as f64;
    println!(
        "| as stored (JSON) | {:.1} | 1.00 | 0 | {:.1} |",
        raw as f64 / 1e6,
        on_disk as f64 / 1e6
    );
    for o in outcomes {
        let projected = amplification * (live as f64 - raw as f64 + o.bytes as f64);
        println!(
            "| {} | {:.1} | {:.2} | {:.2} | {:.1} |",
            o.name,
            o.bytes as f64 / 1e6,
            raw as f64 / o.bytes as f64,
            o.decode_ns / 1e3,
            projected / 1e6
        );
    }
    Ok(())
}
