//! The limit `benchmarks/write.py` measures rcpush's posts against: how many bare durable
//! sled transactions of a given size this machine makes per second, with as many writers
//! as the benchmark has posters, each applying one transaction and flushing it as one
//! acknowledged write must.
//!
//!     cargo run --release --example sled_limit -- --dir target/bench/limit \
//!         --writers 16 --seconds 10 --bytes 30000 --entries 100
//!
//! Prints `{"transactions_per_s": …, "transactions": …, "seconds": …}`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    dir: String,
    writers: usize,
    seconds: f64,
    bytes: usize,
    entries: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        dir: String::new(),
        writers: 16,
        seconds: 10.0,
        bytes: 1000,
        entries: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: std::num::ParseIntError| format!("{flag}: {e}");
        match flag.as_str() {
            "--dir" => a.dir = value,
            "--writers" => a.writers = value.parse().map_err(bad)?,
            "--seconds" => a.seconds = value.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--bytes" => a.bytes = value.parse().map_err(bad)?,
            "--entries" => a.entries = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if a.dir.is_empty() || a.writers == 0 || a.entries == 0 {
        return Err(
            "usage: sled_limit --dir PATH [--writers N] [--seconds S] [--bytes B] [--entries E]"
                .into(),
        );
    }
    Ok(a)
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let _ = std::fs::remove_dir_all(&a.dir);
    // As rcpush opens its database (store/sled.rs).
    let db = sled::Config::new()
        .path(&a.dir)
        .cache_capacity(32 * 1024 * 1024)
        .flush_every_ms(Some(1000))
        .open()
        .expect("open the database");
    let tree = db.open_tree("limit").expect("open a tree");
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let started = Instant::now();
    // Keys as long as rcpush's (user id ∙ room id); values make up the rest of the size.
    let key_len = 35;
    let value_len = (a.bytes / a.entries).saturating_sub(key_len).max(1);
    let threads: Vec<_> = (0..a.writers)
        .map(|w| {
            let (db, tree, done) = (db.clone(), tree.clone(), done.clone());
            let entries = a.entries;
            std::thread::spawn(move || {
                let value = vec![b'x'; value_len];
                let mut n = 0u64;
                while Instant::now() < deadline {
                    tree.transaction(|tx| {
                        for e in 0..entries {
                            let key = format!("{w:08}{n:016}{e:011}");
                            tx.insert(key.as_bytes(), value.as_slice())?;
                        }
                        Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                    })
                    .expect("transaction");
                    db.flush().expect("flush");
                    n += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer");
    }
    let seconds = started.elapsed().as_secs_f64();
    let transactions = done.load(Ordering::Relaxed);
    drop(tree);
    drop(db);
    let _ = std::fs::remove_dir_all(&a.dir);
    println!(
        "{{\"transactions_per_s\": {:.1}, \"transactions\": {transactions}, \"seconds\": {seconds:.3}}}",
        transactions as f64 / seconds
    );
}
