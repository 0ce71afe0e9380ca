//! Reading a dump (spec §1): a `mongodump` directory, a `mongodump --archive` stream, or
//! `mongoexport` files, gzipped or not. Every form is turned into one call of
//! `Sink::document` per BSON document, with the file and offset it came from.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use flate2::read::MultiGzDecoder;

use super::archive;
use super::document::{is_rocketchat, read_document, read_word, At, Found, Sink};

/// What was found at PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    DumpDirectory,
    Archive { gzip: bool },
    Export,
    BsonFile,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::DumpDirectory => "mongodump directory",
            Kind::Archive { gzip: true } => "mongodump archive (gzip)",
            Kind::Archive { gzip: false } => "mongodump archive",
            Kind::Export => "mongoexport files",
            Kind::BsonFile => "BSON file",
        })
    }
}

/// The files of one collection in a directory.
struct CollectionFile {
    collection: String,
    path: PathBuf,
}

/// Reads the dump at `path` (`-` is standard input) into `sink`.
pub fn read(path: &Path, db: Option<&str>, sink: &mut dyn Sink) -> anyhow::Result<(Kind, Found)> {
    if path == Path::new("-") {
        let stdin = std::io::stdin().lock();
        return read_stream(Box::new(BufReader::new(stdin)), "<stdin>", None, db, sink);
    }
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        return read_directory(path, db, sink);
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    read_stream(
        Box::new(BufReader::new(file)),
        &path.display().to_string(),
        collection_of(path).as_deref(),
        db,
        sink,
    )
}

/// Sniffs one file or stream: gzip, archive magic, Extended JSON, else BSON (spec §1).
fn read_stream(
    mut input: Box<dyn BufRead + '_>,
    label: &str,
    collection: Option<&str>,
    db: Option<&str>,
    sink: &mut dyn Sink,
) -> anyhow::Result<(Kind, Found)> {
    let head = peek(&mut input, label)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let mut inner: Box<dyn BufRead> = Box::new(BufReader::new(MultiGzDecoder::new(input)));
        let head = peek(&mut inner, label)?;
        if head.starts_with(&archive::MAGIC) {
            let found = archive::read(inner, label, db, sink)?;
            return Ok((Kind::Archive { gzip: true }, found));
        }
        return read_collection_stream(inner, head, label, collection, sink);
    }
    if head.starts_with(&archive::MAGIC) {
        let found = archive::read(input, label, db, sink)?;
        return Ok((Kind::Archive { gzip: false }, found));
    }
    read_collection_stream(input, head, label, collection, sink)
}

fn read_collection_stream(
    input: Box<dyn BufRead + '_>,
    head: Vec<u8>,
    label: &str,
    collection: Option<&str>,
    sink: &mut dyn Sink,
) -> anyhow::Result<(Kind, Found)> {
    let Some(collection) = collection else {
        bail!(
            "{label}: offset 0: not a dump (no archive magic number, and not a .bson or .json \
             collection file)"
        );
    };
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{' | b'[')) {
        read_extended_json(input, label, collection, sink)?;
        Ok((Kind::Export, Found::default()))
    } else {
        read_bson(input, label, collection, sink)?;
        Ok((Kind::BsonFile, Found::default()))
    }
}

/// The first bytes of a stream, without consuming them.
fn peek(input: &mut Box<dyn BufRead + '_>, label: &str) -> anyhow::Result<Vec<u8>> {
    let buf = input
        .fill_buf()
        .with_context(|| format!("{label}: cannot read"))?;
    Ok(buf[..buf.len().min(16)].to_vec())
}

/// `users.bson`, `users.bson.gz`, `users.json` → `users`; metadata files, and the top-level
/// `oplog.bson` and `prelude.json` of a full dump → `None`.
fn collection_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if name.contains(".metadata.json") || name.starts_with("oplog.") || name.starts_with("prelude.")
    {
        return None;
    }
    let base = name.strip_suffix(".gz").unwrap_or(name);
    base.strip_suffix(".bson")
        .or_else(|| base.strip_suffix(".json"))
        .map(str::to_string)
}

fn collection_files(dir: &Path) -> anyhow::Result<Vec<CollectionFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            if let Some(collection) = collection_of(&path) {
                files.push(CollectionFile { collection, path });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The database folder itself, or its parent (`dump/`) holding one Rocket.Chat database.
fn read_directory(
    path: &Path,
    db: Option<&str>,
    sink: &mut dyn Sink,
) -> anyhow::Result<(Kind, Found)> {
    let here = collection_files(path)?;
    let (dir, files) = if here.is_empty() {
        let mut candidates = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let sub = entry?.path();
            if !sub.is_dir() {
                continue;
            }
            let files = collection_files(&sub)?;
            let names: Vec<&str> = files.iter().map(|f| f.collection.as_str()).collect();
            let name = sub.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if db.map_or(is_rocketchat(&names), |want| want == name) {
                candidates.push((sub.clone(), files));
            }
        }
        match candidates.len() {
            1 => candidates.remove(0),
            0 => bail!(
                "{}: no Rocket.Chat database found (a folder with users and rocketchat_settings)",
                path.display()
            ),
            _ => bail!(
                "{}: several Rocket.Chat databases ({}); choose one with --db",
                path.display(),
                candidates
                    .iter()
                    .filter_map(|(d, _)| d.file_name()?.to_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    } else {
        (path.to_path_buf(), here)
    };
    let found = Found {
        db: dir.file_name().and_then(|n| n.to_str()).map(str::to_string),
        server_version: None,
    };
    let mut kind = Kind::DumpDirectory;
    for f in &files {
        if !sink.wants(&f.collection) {
            continue;
        }
        let label = f.path.display().to_string();
        let file = File::open(&f.path).with_context(|| format!("cannot open {label}"))?;
        let mut input: Box<dyn BufRead> = Box::new(BufReader::new(file));
        if peek(&mut input, &label)?.starts_with(&[0x1f, 0x8b]) {
            input = Box::new(BufReader::new(MultiGzDecoder::new(input)));
        }
        let head = peek(&mut input, &label)?;
        if let (Kind::Export, _) =
            read_collection_stream(input, head, &label, Some(&f.collection), sink)?
        {
            kind = Kind::Export;
        }
    }
    Ok((kind, found))
}

/// BSON documents back to back (a `.bson` file).
fn read_bson(
    mut input: Box<dyn BufRead + '_>,
    label: &str,
    collection: &str,
    sink: &mut dyn Sink,
) -> anyhow::Result<()> {
    let mut at = At {
        file: label.to_string(),
        offset: 0,
    };
    while let Some(length) = read_word(&mut input, &at)? {
        let bytes = read_document(&mut input, length, &at)?;
        let len = bytes.len() as u64;
        sink.document(collection, bytes, &at)?;
        sink.read(len);
        at.offset += len;
    }
    Ok(())
}

/// `mongoexport` output: documents one per line (or `--pretty`), or one `--jsonArray`, in
/// Extended JSON v2 (canonical or relaxed) or v1. Read one document at a time.
fn read_extended_json(
    input: Box<dyn BufRead + '_>,
    label: &str,
    collection: &str,
    sink: &mut dyn Sink,
) -> anyhow::Result<()> {
    let mut counted = CountingReader {
        inner: input,
        count: 0,
    };
    let in_array = skip_whitespace(&mut counted)? == Some(b'[');
    if in_array {
        counted.consume_byte();
    }
    let mut index = 0u64;
    loop {
        let next = skip_whitespace(&mut counted)?;
        let at = At {
            file: label.to_string(),
            offset: counted.count,
        };
        match next {
            None if in_array => bail!("{at}: truncated: the JSON array is not closed"),
            None => return Ok(()),
            Some(b']') if in_array => {
                counted.consume_byte();
                if skip_whitespace(&mut counted)?.is_some() {
                    bail!("{at}: unexpected data after the JSON array");
                }
                return Ok(());
            }
            Some(b',') if in_array && index > 0 => {
                counted.consume_byte();
                continue;
            }
            Some(b'{') => {}
            Some(_) => bail!("{at}: expected a JSON document"),
        }
        let before = counted.count;
        let value: serde_json::Value = {
            let mut de = serde_json::Deserializer::from_reader(&mut counted);
            serde::Deserialize::deserialize(&mut de)
                .map_err(|e| anyhow::anyhow!("{at}: invalid JSON: {e}"))?
        };
        let doc = match bson::Bson::try_from(value) {
            Ok(bson::Bson::Document(d)) => d,
            Ok(_) => bail!("{at}: expected a JSON document"),
            Err(e) => bail!("{at}: invalid Extended JSON: {e}"),
        };
        let bytes = doc
            .to_vec()
            .map_err(|e| anyhow::anyhow!("{at}: cannot encode as BSON: {e}"))?;
        sink.document(collection, bytes, &at)?;
        sink.read(counted.count - before);
        index += 1;
    }
}

/// Counts the bytes read through it (offsets in error messages).
struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: BufRead> CountingReader<R> {
    fn consume_byte(&mut self) {
        self.inner.consume(1);
        self.count += 1;
    }
}

impl<R: BufRead> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Skips whitespace; the next byte, left unread, or `None` at the end.
fn skip_whitespace<R: BufRead>(r: &mut CountingReader<R>) -> anyhow::Result<Option<u8>> {
    loop {
        let buf = r.inner.fill_buf()?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        if !b.is_ascii_whitespace() {
            return Ok(Some(b));
        }
        r.consume_byte();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::bson_json;

    #[derive(Default)]
    struct Collect(Vec<String>);

    impl Sink for Collect {
        fn wants(&mut self, _: &str) -> bool {
            true
        }
        fn document(&mut self, _: &str, bytes: Vec<u8>, _: &At) -> anyhow::Result<()> {
            let raw = bson::RawDocument::from_bytes(&bytes)?;
            let mut odd = bson_json::Oddities::default();
            self.0.push(bson_json::render(raw, &mut odd)?);
            Ok(())
        }
    }

    fn json_file(text: &str) -> anyhow::Result<Vec<String>> {
        let mut sink = Collect::default();
        read_stream(
            Box::new(text.as_bytes()),
            "m.json",
            Some("rocketchat_message"),
            None,
            &mut sink,
        )?;
        Ok(sink.0)
    }

    const RENDERED: &str =
        r#"{"_id":"a","ts":"2025-04-26T12:43:32.580Z","n":7,"d":93,"big":4294967296,"b":{}}"#;

    #[test]
    fn every_extended_json_dialect_gives_the_same_document() {
        for text in [
            // v2 canonical, one per line.
            r#"{"_id":"a","ts":{"$date":{"$numberLong":"1745671412580"}},"n":{"$numberInt":"7"},"d":{"$numberDouble":"93.0"},"big":{"$numberLong":"4294967296"},"b":{}}"#,
            // v2 relaxed, `.58Z` (trailing zero dropped), `--pretty`.
            "{\n  \"_id\": \"a\",\n  \"ts\": {\"$date\": \"2025-04-26T12:43:32.58Z\"},\n  \"n\": 7,\n  \"d\": 93.0,\n  \"big\": 4294967296,\n  \"b\": {}\n}\n",
            // v1: dates as milliseconds, `$numberLong`.
            r#"{"_id":"a","ts":{"$date":1745671412580},"n":7,"d":93.0,"big":{"$numberLong":"4294967296"},"b":{}}"#,
            // --jsonArray.
            " [ {\"_id\":\"a\",\"ts\":{\"$date\":\"2025-04-26T12:43:32.580Z\"},\"n\":7,\"d\":93.0,\"big\":4294967296,\"b\":{}} ] ",
        ] {
            assert_eq!(json_file(text).unwrap(), [RENDERED], "{text}");
        }
        let two = json_file("[{\"_id\":\"a\"},\n{\"_id\":\"b\"}]").unwrap();
        assert_eq!(two, [r#"{"_id":"a"}"#, r#"{"_id":"b"}"#]);
        assert!(json_file("[]").unwrap().is_empty());
    }

    #[test]
    fn broken_exports_name_the_file_and_offset() {
        let e = |text: &str| format!("{:#}", json_file(text).unwrap_err());
        assert!(e("[{\"_id\":\"a\"},").contains("m.json: offset 13: truncated"));
        assert!(e("{\"_id\":\"a\"}\n{\"_id\": ").contains("m.json: offset 12: invalid JSON"));
        assert!(e("{\"_id\":\"a\"}\n7\n").contains("m.json: offset 12: expected a JSON document"));
        assert!(e(r#"{"ts":{"$date":"yesterday"}}"#).contains("invalid Extended JSON"));
    }

    #[test]
    fn bson_files_stop_at_a_truncated_document() {
        let doc = bson::doc! {"_id": "a"}.to_vec().unwrap();
        let mut bytes = doc.clone();
        bytes.extend(&doc[..doc.len() - 2]);
        let mut sink = Collect::default();
        let e = read_stream(
            Box::new(&bytes[..]),
            "u.bson",
            Some("users"),
            None,
            &mut sink,
        )
        .unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            format!(
                "u.bson: offset {}: truncated: the input ends inside a document",
                doc.len()
            )
        );
        assert_eq!(sink.0.len(), 1);
    }
}
