//! The staging folder's files. Each collection but the messages is spooled as its BSON
//! documents, back to back as in a `.bson` file; the messages, already rendered, as records
//! of a little-endian `u32` length and the bytes: the id, then the JSON.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use anyhow::Context as _;
use bson::{RawDocument, RawDocumentBuf};

use super::document::{self, At};
use super::prepare::MESSAGES;
use crate::model::Message;
use crate::store::ImportedMessage;

/// Appends a rendered message to the messages' spool.
pub(super) fn write_message(out: &mut impl Write, id: &str, json: &str) -> std::io::Result<()> {
    write_record(out, id.as_bytes())?;
    write_record(out, json.as_bytes())
}

fn write_record(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(&(bytes.len() as u32).to_le_bytes())?;
    out.write_all(bytes)
}

fn read_record(input: &mut impl Read) -> anyhow::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let mut bytes = vec![0; u32::from_le_bytes(len) as usize];
    input.read_exact(&mut bytes)?;
    Ok(Some(bytes))
}

/// Calls `each` for every staged document of `collection` (none if the dump had none).
pub(super) fn each_staged(
    dir: &Path,
    collection: &str,
    mut each: impl FnMut(&RawDocument) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let path = dir.join(collection);
    if !path.exists() {
        return Ok(());
    }
    let mut input = BufReader::new(File::open(&path)?);
    let at = At {
        file: path.display().to_string(),
        offset: 0,
    };
    while let Some(word) = document::read_word(&mut input, &at)? {
        let bytes = document::read_document(&mut input, word, &at)?;
        let raw = RawDocumentBuf::from_bytes(bytes)?;
        each(&raw)?;
    }
    Ok(())
}

/// Calls `each` for every staged message, in the order of the dump.
pub(super) fn each_prepared_message(
    dir: &Path,
    mut each: impl FnMut(ImportedMessage) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut input = BufReader::new(File::open(dir.join(MESSAGES))?);
    while let Some(id) = read_record(&mut input)? {
        let json = read_record(&mut input)?.context("staged messages end early")?;
        let id = String::from_utf8(id)?;
        let message = Message::from_json(json)?;
        each(ImportedMessage { message, id })?;
    }
    Ok(())
}
