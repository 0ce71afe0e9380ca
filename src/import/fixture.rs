//! Writes a set of collections in every form `rcpush import` reads, as `mongodump` and
//! `mongoexport` would: for the tests and the import benchmark (`bench-data` builds only).

use std::io::Write;
use std::path::{Path, PathBuf};

use bson::{doc, Bson, Document};
use flate2::write::GzEncoder;

use super::archive::{CRC, MAGIC, TERMINATOR};

/// The forms of a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `dump/<db>/<collection>.bson` (the parent folder is given to the importer).
    Directory,
    /// The same with `--gzip`: every file gzipped on its own.
    DirectoryGzip,
    /// `--archive`, segments of two documents, namespaces interleaved.
    Archive,
    /// `--archive --gzip`: the whole stream gzipped once.
    ArchiveGzip,
    /// `mongoexport --jsonFormat=canonical`, one document per line.
    ExportCanonical,
    /// `mongoexport` (relaxed) `--jsonArray --pretty`.
    ExportRelaxedArray,
}

impl Form {
    pub const ALL: [Form; 6] = [
        Form::Directory,
        Form::DirectoryGzip,
        Form::Archive,
        Form::ArchiveGzip,
        Form::ExportCanonical,
        Form::ExportRelaxedArray,
    ];
}

pub type Collections = [(&'static str, Vec<Document>)];

fn bytes(d: &Document) -> Vec<u8> {
    d.to_vec().unwrap_or_default()
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data)?;
    gz.finish()
}

/// Writes `collections` of database `db` in `form` under `dir`; returns the path to import.
pub fn write(dir: &Path, db: &str, collections: &Collections, form: Form) -> std::io::Result<PathBuf> {
    match form {
        Form::Directory | Form::DirectoryGzip => {
            let root = dir.join("dump");
            let folder = root.join(db);
            std::fs::create_dir_all(&folder)?;
            for (name, docs) in collections {
                let data: Vec<u8> = docs.iter().flat_map(bytes).collect();
                let meta = format!(r#"{{"indexes":[],"uuid":"","collectionName":"{name}","type":"collection"}}"#);
                if form == Form::DirectoryGzip {
                    std::fs::write(folder.join(format!("{name}.bson.gz")), gzip(&data)?)?;
                    std::fs::write(folder.join(format!("{name}.metadata.json.gz")), gzip(meta.as_bytes())?)?;
                } else {
                    std::fs::write(folder.join(format!("{name}.bson")), data)?;
                    std::fs::write(folder.join(format!("{name}.metadata.json")), meta)?;
                }
            }
            Ok(root)
        }
        Form::Archive | Form::ArchiveGzip => {
            let data = archive(db, collections, 2);
            let (name, data) = if form == Form::ArchiveGzip {
                ("rc.archive.gz", gzip(&data)?)
            } else {
                ("rc.archive", data)
            };
            let path = dir.join(name);
            std::fs::write(&path, data)?;
            Ok(path)
        }
        Form::ExportCanonical | Form::ExportRelaxedArray => {
            let folder = dir.join("export");
            std::fs::create_dir_all(&folder)?;
            for (name, docs) in collections {
                let mut out = Vec::new();
                if form == Form::ExportCanonical {
                    for d in docs {
                        let v = Bson::Document(d.clone()).into_canonical_extjson();
                        writeln!(out, "{v}")?;
                    }
                } else {
                    let values: Vec<serde_json::Value> = docs
                        .iter()
                        .map(|d| Bson::Document(d.clone()).into_relaxed_extjson())
                        .collect();
                    out = serde_json::to_vec_pretty(&values)?;
                }
                std::fs::write(folder.join(format!("{name}.json")), out)?;
            }
            Ok(folder)
        }
    }
}

/// What `mongodump --archive` writes for these namespaces, each split into segments of
/// `per_segment` documents, interleaved round-robin as a parallel dump does.
pub fn archive(db: &str, collections: &Collections, per_segment: usize) -> Vec<u8> {
    let per_segment = per_segment.max(1);
    let mut out = MAGIC.to_vec();
    out.extend(bytes(&doc! {"concurrent_collections": 4, "version": "0.1",
        "server_version": "7.0.14", "tool_version": "100.10.0"}));
    for (c, docs) in collections {
        let size: usize = docs.iter().map(|d| bytes(d).len()).sum();
        out.extend(bytes(&doc! {"db": db, "collection": *c, "metadata": "{}",
            "size": size as i64, "type": "collection"}));
    }
    out.extend(TERMINATOR);
    let mut cursors = vec![0usize; collections.len()];
    loop {
        let mut progressed = false;
        for (i, (c, docs)) in collections.iter().enumerate() {
            if cursors[i] >= docs.len() {
                continue;
            }
            progressed = true;
            out.extend(bytes(&doc! {"db": db, "collection": *c, "EOF": false, "CRC": 0_i64}));
            for d in docs.iter().skip(cursors[i]).take(per_segment) {
                out.extend(bytes(d));
            }
            cursors[i] += per_segment;
            out.extend(TERMINATOR);
        }
        if !progressed {
            break;
        }
    }
    for (c, docs) in collections {
        let mut digest = CRC.digest();
        docs.iter().for_each(|d| digest.update(&bytes(d)));
        out.extend(bytes(&doc! {"db": db, "collection": *c, "EOF": true,
            "CRC": digest.finalize() as i64}));
        out.extend(TERMINATOR);
    }
    out
}
