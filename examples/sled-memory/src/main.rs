//! The RSS of a bare sled process over a copy of a database: opened with `CACHE_MB` of
//! `cache_capacity`, every tree scanned (one key in eight kept as a sample), then `READS` random
//! reads of the sampled keys in two threads. Prints VmRSS and VmHWM (MiB) after each step and
//! after `malloc_trim(0)`, which tells the allocator's retained memory from live data.
//!
//!     cargo run --release -- COPY_OF_A_DATABASE CACHE_MB READS
//!
//! `MALLOC_ARENA_MAX=1` in the environment gives glibc one arena, as rcpush sets. README
//! "Storage" has the figures. sled may rewrite the copy's snapshot: never point it at a
//! database in use.

use std::time::Instant;
fn rss() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let f = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            / 1024
    };
    (f("VmRSS:"), f("VmHWM:"))
}
fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 4 {
        eprintln!("usage: rcpush-sled-memory DATABASE CACHE_MB READS");
        std::process::exit(2);
    }
    let path = &a[1];
    let cache_mb: u64 = a[2].parse().unwrap();
    let gets: usize = a[3].parse().unwrap();
    let db = sled::Config::new()
        .path(path)
        .cache_capacity(cache_mb << 20)
        .open()
        .unwrap();
    println!("open rss {:?}", rss());
    // a sample of keys over every tree (1 in 8), kept compactly
    let mut buf: Vec<u8> = Vec::new();
    let mut ends: Vec<(u16, u32)> = Vec::new();
    let names = db.tree_names();
    let trees: Vec<sled::Tree> = names.iter().map(|n| db.open_tree(n).unwrap()).collect();
    let mut n = 0u64;
    let t = Instant::now();
    for (ti, tree) in trees.iter().enumerate() {
        for kv in tree.iter() {
            let (k, _v) = kv.unwrap();
            n += 1;
            if n % 8 == 0 {
                buf.extend_from_slice(&k);
                ends.push((ti as u16, buf.len() as u32));
            }
        }
    }
    println!(
        "scanned {} entries in {:?}; rss {:?}; sample {} keys {} KB",
        n,
        t.elapsed(),
        rss(),
        ends.len(),
        (buf.len() + ends.len() * 8) / 1024
    );
    let t = Instant::now();
    let threads = 2;
    std::thread::scope(|s| {
        for th in 0..threads {
            let (trees, buf, ends) = (&trees, &buf, &ends);
            s.spawn(move || {
                let mut x: u64 = 0x9E3779B97F4A7C15 ^ th as u64;
                for _ in 0..gets / threads {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let i = (x % ends.len() as u64) as usize;
                    let start = if i == 0 { 0 } else { ends[i - 1].1 as usize };
                    let (ti, end) = ends[i];
                    let v = trees[ti as usize].get(&buf[start..end as usize]).unwrap();
                    assert!(v.is_some());
                }
            });
        }
    });
    println!("{} random gets in {:?}; rss {:?}", gets, t.elapsed(), rss());
    unsafe {
        libc::malloc_trim(0);
    }
    println!("after malloc_trim rss {:?}", rss());
}
