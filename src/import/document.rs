//! What every form of dump shares (spec §1): where a document starts, what receives the
//! documents, and reading one length-prefixed BSON document.

use std::io::Read;

use anyhow::bail;
use bson::raw::RawBsonRef;
use bson::RawDocument;

/// The largest BSON document MongoDB stores.
pub const MAX_DOCUMENT: usize = 16 * 1024 * 1024;

/// Where a document starts, for one-line errors.
#[derive(Debug, Clone)]
pub struct At {
    pub file: String,
    pub offset: u64,
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: offset {}", self.file, self.offset)
    }
}

/// Receives the documents of the collections in a dump, in the order they are read.
pub trait Sink {
    /// Whether documents of `collection` are wanted (the others are read past).
    fn wants(&mut self, collection: &str) -> bool;
    fn document(&mut self, collection: &str, bytes: Vec<u8>, at: &At) -> anyhow::Result<()>;
    /// Called as input bytes are consumed (progress).
    fn read(&mut self, _bytes: u64) {}
}

/// Facts about the dump worth logging (spec §1.5).
#[derive(Debug, Default, Clone)]
pub struct Found {
    pub db: Option<String>,
    pub server_version: Option<String>,
}

/// `_id X` of a document, for error lines.
pub fn describe(raw: &RawDocument) -> String {
    match raw.get("_id") {
        Ok(Some(RawBsonRef::String(s))) => format!("_id {s}"),
        Ok(Some(RawBsonRef::ObjectId(o))) => format!("_id ObjectId({})", o.to_hex()),
        _ => "a document without _id".into(),
    }
}

/// Whether a set of collection names looks like a Rocket.Chat database.
pub fn is_rocketchat(names: &[&str]) -> bool {
    names.contains(&"users") && names.contains(&"rocketchat_settings")
}

/// Reads the rest of a BSON document whose length bytes were read already (`read_word`),
/// checking its length and final zero.
pub fn read_document(input: &mut dyn Read, length: [u8; 4], at: &At) -> anyhow::Result<Vec<u8>> {
    let len = i32::from_le_bytes(length);
    if !(5..=MAX_DOCUMENT as i32).contains(&len) {
        bail!("{at}: invalid BSON document length {len}");
    }
    let mut bytes = vec![0; len as usize];
    bytes[..4].copy_from_slice(&length);
    input
        .read_exact(&mut bytes[4..])
        .map_err(|_| anyhow::anyhow!("{at}: truncated: the input ends inside a document"))?;
    if bytes.last() != Some(&0) {
        bail!("{at}: corrupt BSON document (no final 0x00)");
    }
    Ok(bytes)
}

/// Reads 4 bytes; `Ok(None)` at a clean end, an error if the input ends among them.
pub fn read_word(input: &mut dyn Read, at: &At) -> anyhow::Result<Option<[u8; 4]>> {
    let mut word = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match input.read(&mut word[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => bail!("{at}: truncated: the input ends inside a document length"),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => bail!("{at}: cannot read: {e}"),
        }
    }
    Ok(Some(word))
}
