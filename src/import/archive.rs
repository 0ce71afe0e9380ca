//! The `mongodump --archive` format (spec §1.2, from mongo-tools `common/archive`): a magic
//! number, a prelude of BSON documents, then segments of documents of one namespace each,
//! every block closed by a `ff ff ff ff` terminator. Segments of different collections
//! interleave; a namespace ends with an `EOF` header carrying the CRC-64 of its documents.

use std::collections::HashMap;
use std::io::Read;

use anyhow::{bail, Context};
use bson::RawDocumentBuf;

use super::document::{is_rocketchat, read_document, read_word, At, Found, Sink};

/// `0x8199e26d`, little-endian.
pub const MAGIC: [u8; 4] = [0x6d, 0xe2, 0x99, 0x81];
pub const TERMINATOR: [u8; 4] = [0xff; 4];

/// Go's `crc64.ECMA` table with its `Update` convention is CRC-64/XZ.
pub static CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_XZ);

/// One read step: a document or a terminator.
enum Block {
    Document(Vec<u8>),
    Terminator,
}

struct Reader<'a> {
    input: Box<dyn Read + 'a>,
    at: At,
}

impl Reader<'_> {
    /// The next block; `None` at a clean end of input.
    fn next(&mut self) -> anyhow::Result<Option<Block>> {
        let Some(word) = read_word(&mut self.input, &self.at)? else {
            return Ok(None);
        };
        if word == TERMINATOR {
            self.at.offset += 4;
            return Ok(Some(Block::Terminator));
        }
        let bytes = read_document(&mut self.input, word, &self.at)?;
        self.at.offset += bytes.len() as u64;
        Ok(Some(Block::Document(bytes)))
    }

    fn expect_document(&mut self, what: &str) -> anyhow::Result<RawDocumentBuf> {
        let at = self.at.clone();
        match self.next()? {
            Some(Block::Document(bytes)) => RawDocumentBuf::from_bytes(bytes)
                .map_err(|e| anyhow::anyhow!("{at}: corrupt {what}: {e}")),
            Some(Block::Terminator) => bail!(
                "{at}: corrupt archive: a terminator where {what} was expected (headerless block)"
            ),
            None => bail!("{at}: truncated archive: the input ends where {what} was expected"),
        }
    }
}

fn text(doc: &RawDocumentBuf, key: &str) -> Option<String> {
    doc.get_str(key).ok().map(str::to_string)
}

/// Reads a whole archive into `sink`, checking terminators and each namespace's CRC.
pub fn read(
    input: Box<dyn Read + '_>,
    label: &str,
    db: Option<&str>,
    sink: &mut dyn Sink,
) -> anyhow::Result<Found> {
    let mut r = Reader {
        input,
        at: At {
            file: label.to_string(),
            offset: 0,
        },
    };
    let mut magic = [0u8; 4];
    r.input
        .read_exact(&mut magic)
        .with_context(|| format!("{}: not a mongodump archive (too short)", r.at))?;
    if magic != MAGIC {
        bail!("{}: not a mongodump archive (bad magic number)", r.at);
    }
    r.at.offset = 4;

    let header = r.expect_document("the archive header")?;
    let mut found = Found {
        server_version: text(&header, "server_version"),
        ..Found::default()
    };
    // The prelude lists every namespace, up to a terminator.
    let mut namespaces: Vec<(String, String)> = Vec::new();
    loop {
        let at = r.at.clone();
        match r.next()? {
            Some(Block::Terminator) => break,
            Some(Block::Document(bytes)) => {
                let doc = RawDocumentBuf::from_bytes(bytes)
                    .map_err(|e| anyhow::anyhow!("{at}: corrupt prelude: {e}"))?;
                let (Some(d), Some(c)) = (text(&doc, "db"), text(&doc, "collection")) else {
                    bail!("{at}: corrupt prelude: a collection entry without db or collection");
                };
                namespaces.push((d, c));
            }
            None => bail!("{at}: truncated archive: the input ends inside the prelude"),
        }
    }
    let chosen = choose_db(&namespaces, db).with_context(|| label.to_string())?;
    found.db = Some(chosen.clone());

    let mut crcs: HashMap<(String, String), crc::Digest<'static, u64>> = HashMap::new();
    loop {
        let at = r.at.clone();
        let header = match r.next()? {
            None => break,
            Some(Block::Terminator) => {
                bail!("{at}: corrupt archive: two terminators in a row (headerless block)")
            }
            Some(Block::Document(bytes)) => RawDocumentBuf::from_bytes(bytes)
                .map_err(|e| anyhow::anyhow!("{at}: corrupt namespace header: {e}"))?,
        };
        let (Some(d), Some(c)) = (text(&header, "db"), text(&header, "collection")) else {
            bail!("{at}: corrupt archive: a namespace header without db or collection");
        };
        let eof = header.get_bool("EOF").unwrap_or(false);
        let ns = (d, c);
        let wanted = ns.0 == chosen && sink.wants(&ns.1);
        if eof {
            match r.next()? {
                Some(Block::Terminator) => {}
                _ => bail!(
                    "{at}: corrupt archive: no terminator after the end of {}.{}",
                    ns.0,
                    ns.1
                ),
            }
            let expected = header.get_i64("CRC").unwrap_or(0) as u64;
            let actual = crcs
                .remove(&ns)
                .map_or(CRC.digest().finalize(), |d| d.finalize());
            if expected != 0 && expected != actual {
                bail!(
                    "{at}: corrupt archive: CRC mismatch for {}.{} (expected {expected:#x}, computed {actual:#x})",
                    ns.0,
                    ns.1
                );
            }
            continue;
        }
        loop {
            let at = r.at.clone();
            match r.next()? {
                Some(Block::Terminator) => break,
                Some(Block::Document(bytes)) => {
                    crcs.entry(ns.clone())
                        .or_insert_with(|| CRC.digest())
                        .update(&bytes);
                    sink.read(bytes.len() as u64);
                    if wanted {
                        sink.document(&ns.1, bytes, &at)?;
                    }
                }
                None => bail!(
                    "{at}: truncated archive: the input ends inside a segment of {}.{}",
                    ns.0,
                    ns.1
                ),
            }
        }
    }
    if let Some(((d, c), _)) = crcs.into_iter().next() {
        bail!("{}: truncated archive: {d}.{c} has no end marker", r.at);
    }
    Ok(found)
}

/// The database holding Rocket.Chat's collections, or the one asked for.
fn choose_db(namespaces: &[(String, String)], db: Option<&str>) -> anyhow::Result<String> {
    let mut dbs: Vec<&str> = namespaces.iter().map(|(d, _)| d.as_str()).collect();
    dbs.sort_unstable();
    dbs.dedup();
    if let Some(want) = db {
        if dbs.contains(&want) {
            return Ok(want.to_string());
        }
        bail!(
            "the archive has no database {want} (it has: {})",
            dbs.join(", ")
        );
    }
    let rc: Vec<&str> = dbs
        .iter()
        .copied()
        .filter(|d| {
            let names: Vec<&str> = namespaces
                .iter()
                .filter(|(x, _)| x == d)
                .map(|(_, c)| c.as_str())
                .collect();
            is_rocketchat(&names)
        })
        .collect();
    match rc.as_slice() {
        [one] => Ok(one.to_string()),
        [] => bail!("no Rocket.Chat database in the archive (a database with users and rocketchat_settings)"),
        many => bail!("several Rocket.Chat databases ({}); choose one with --db", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::fixture;

    #[derive(Default)]
    struct Collect(Vec<(String, Vec<u8>)>);

    impl Sink for Collect {
        fn wants(&mut self, _: &str) -> bool {
            true
        }
        fn document(&mut self, c: &str, bytes: Vec<u8>, _: &At) -> anyhow::Result<()> {
            self.0.push((c.to_string(), bytes));
            Ok(())
        }
    }

    fn collections() -> Vec<(&'static str, Vec<bson::Document>)> {
        let docs = |n: i32| {
            (0..n)
                .map(|i| bson::doc! {"_id": format!("d{i}"), "n": i})
                .collect()
        };
        vec![
            ("users", docs(3)),
            ("rocketchat_settings", docs(1)),
            ("rocketchat_message", docs(5)),
        ]
    }

    fn read_bytes(bytes: Vec<u8>) -> anyhow::Result<Collect> {
        let mut sink = Collect::default();
        read(
            Box::new(std::io::Cursor::new(bytes)),
            "rc.archive",
            None,
            &mut sink,
        )?;
        Ok(sink)
    }

    fn error(bytes: Vec<u8>) -> String {
        format!("{:#}", read_bytes(bytes).err().expect("an error"))
    }

    #[test]
    fn interleaved_segments_reach_their_collections_in_order() {
        let sink = read_bytes(fixture::archive("rocketchat", &collections(), 2)).unwrap();
        let messages: Vec<i32> = sink
            .0
            .iter()
            .filter(|(c, _)| c == "rocketchat_message")
            .map(|(_, b)| {
                bson::RawDocument::from_bytes(b)
                    .unwrap()
                    .get_i32("n")
                    .unwrap()
            })
            .collect();
        assert_eq!(messages, [0, 1, 2, 3, 4]);
        assert_eq!(sink.0.len(), 9);
        // The first segments alternate between namespaces.
        assert_eq!(sink.0[2].0, "rocketchat_settings");
    }

    #[test]
    fn corrupt_archives_are_refused_with_their_offset() {
        let good = fixture::archive("rocketchat", &collections(), 2);
        let mut bad_magic = good.clone();
        bad_magic[0] = 0;
        assert!(error(bad_magic).contains("rc.archive: offset 0: not a mongodump archive"));

        let header_len = u32::from_le_bytes(good[4..8].try_into().unwrap()) as usize;
        let mut short = good.clone();
        short[4..8].copy_from_slice(&4u32.to_le_bytes());
        assert!(error(short).contains("offset 4: invalid BSON document length 4"));
        let mut huge = good.clone();
        huge[4..8].copy_from_slice(&(16 * 1024 * 1024 + 1_u32).to_le_bytes());
        assert!(error(huge).contains("invalid BSON document length 16777217"));
        let mut no_zero = good.clone();
        no_zero[4 + header_len - 1] = 1;
        assert!(error(no_zero).contains("offset 4: corrupt BSON document (no final 0x00)"));

        // A terminator right after the prelude's terminator.
        let prelude_end = good.windows(4).position(|w| w == TERMINATOR).unwrap() + 4;
        let mut two = good[..prelude_end].to_vec();
        two.extend(TERMINATOR);
        two.extend(&good[prelude_end..]);
        assert!(error(two).contains("two terminators in a row"));

        let cut = good[..good.len() - 40].to_vec();
        let e = error(cut);
        assert!(e.contains("truncated"), "{e}");

        // A flipped byte inside a document's value: the CRC catches it.
        let at = good.windows(2).rposition(|w| w == b"d4").unwrap();
        let mut flipped = good.clone();
        flipped[at + 1] = b'5';
        assert!(error(flipped).contains("CRC mismatch for rocketchat.rocketchat_message"));
    }

    #[test]
    fn the_rocketchat_database_is_found_or_asked_for() {
        let mut two = collections();
        two.truncate(2);
        let only_other = fixture::archive("other", &two[..1], 2);
        assert!(error(only_other).contains("no Rocket.Chat database in the archive"));
        let mut sink = Collect::default();
        let bytes = fixture::archive("parties", &two, 2);
        let found = read(Box::new(std::io::Cursor::new(bytes)), "x", None, &mut sink).unwrap();
        assert_eq!(found.db.as_deref(), Some("parties"));
        assert_eq!(found.server_version.as_deref(), Some("7.0.14"));
    }
}
