//! The `mongodump --archive` format (spec §1.2, from mongo-tools `common/archive`): a magic
//! number, a prelude of BSON documents, then segments of documents of one namespace each,
//! every block closed by a `ff ff ff ff` terminator. Segments of different collections
//! interleave; a namespace ends with an `EOF` header carrying the CRC-64 of its documents.

use std::collections::HashMap;
use std::io::Read;

use anyhow::{bail, Context};
use bson::RawDocumentBuf;

use super::source::{is_rocketchat, read_document, read_word, At, Found, Sink};

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
    // The prelude lists every namespace with its size, up to a terminator.
    let mut namespaces: Vec<(String, String, u64)> = Vec::new();
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
                let size = doc
                    .get_i64("size")
                    .or_else(|_| doc.get_i32("size").map(i64::from))
                    .unwrap_or(0);
                namespaces.push((d, c, size.max(0) as u64));
            }
            None => bail!("{at}: truncated archive: the input ends inside the prelude"),
        }
    }
    let chosen = choose_db(&namespaces, db).with_context(|| label.to_string())?;
    found.size = Some(
        namespaces
            .iter()
            .filter(|(d, _, _)| *d == chosen)
            .map(|(_, _, s)| s)
            .sum(),
    );
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
fn choose_db(namespaces: &[(String, String, u64)], db: Option<&str>) -> anyhow::Result<String> {
    let mut dbs: Vec<&str> = namespaces.iter().map(|(d, _, _)| d.as_str()).collect();
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
                .filter(|(x, _, _)| x == d)
                .map(|(_, c, _)| c.as_str())
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
