//! A room's bump records (`Tree::RoomseqBumps`): a plain message's counter changes, one
//! entry per message whatever the number of members (`rules::counters::RoomBump`).
//!
//! A subscription's document holds the records of its room up to the sequence number its
//! fold marker names (`Tree::UserroomidCounters`, absent: 0); the records after it are its
//! unfolded tail, added on every read. Every write of a document is made from such a read,
//! so the write moves the marker to the room's last record (`derive_markers`); a new member
//! starts there too, which is what keeps older records from reaching them. When a room has
//! `FOLD_AT` records, the next post folds them into every member's document and drops them:
//! a read adds at most `FOLD_AT` records, and a post costs about `members / FOLD_AT`
//! document writes on average.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::engine::Entries;
use super::trees::Tree;
use super::{decode, encode, keys, Batch, Store, StoreResult};
use crate::rules::counters::{PendingBumps, RoomBump};

/// Records a room keeps before a post folds them into the documents (few in unit tests,
/// so that their random steps reach folds).
pub(super) const FOLD_AT: usize = if cfg!(test) { 5 } else { 32 };

/// A room's records, in order: sequence number and record.
pub(super) type Tail = Vec<(u64, RoomBump)>;

/// The tails of several rooms, by room id (absent: none).
pub(super) type Tails = HashMap<String, Arc<Tail>>;

/// Rooms' tails loaded for several reads: each room's read and decoded once.
#[derive(Default)]
pub(super) struct TailMemo {
    loaded: std::collections::HashSet<String>,
    pub(super) tails: Tails,
}

/// A `Tree::UserroomidCounters` entry.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub(super) enum Folded {
    /// Written by rcpush before room records: the member's own pending bumps, on top of
    /// the document (and below any record, which are all newer).
    Pending(PendingBumps),
    /// The document holds its room's records up to `q`.
    Through { q: u64 },
}

impl Folded {
    /// The entry's pending bumps and marker.
    pub(super) fn of(stored: Option<&[u8]>) -> StoreResult<(Option<PendingBumps>, u64)> {
        match stored
            .map(|s| decode(Tree::UserroomidCounters, s))
            .transpose()?
        {
            None => Ok((None, 0)),
            Some(Folded::Pending(p)) => Ok((Some(p), 0)),
            Some(Folded::Through { q }) => Ok((None, q)),
        }
    }
}

/// The key of a room's record `seq` (big-endian: records sort in order).
pub(super) fn record_key(room_id: &str, seq: u64) -> Vec<u8> {
    let mut key = keys::prefix(room_id);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn parse_tail(entries: Entries) -> StoreResult<Tail> {
    entries
        .into_iter()
        .map(|(k, v)| {
            let seq = k
                .len()
                .checked_sub(8)
                .and_then(|at| k[at..].try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| super::corrupt(Tree::RoomseqBumps, "key without a sequence"))?;
            Ok((seq, decode(Tree::RoomseqBumps, &v)?))
        })
        .collect()
}

/// The bumps of `tail` after `q` that reach `user`, in order.
pub(super) fn reaching<'t>(
    tail: &'t Tail,
    q: u64,
    user: &'t str,
) -> impl Iterator<Item = (crate::rules::unread::Bump, &'t str)> + 't {
    tail.iter()
        .filter(move |(seq, _)| *seq > q)
        .filter_map(move |(_, r)| Some((r.for_member(user)?, r.at())))
}

/// The database as a batch leaves it, for the reads that derive what the batch implies
/// (its last write of a key wins).
pub(super) struct Overlay<'b> {
    written: HashMap<Tree, BTreeMap<&'b [u8], Option<&'b [u8]>>>,
}

impl<'b> Overlay<'b> {
    pub(super) fn of(batch: &'b Batch) -> Overlay<'b> {
        let mut written: HashMap<Tree, BTreeMap<&[u8], Option<&[u8]>>> = HashMap::new();
        for (tree, key, value) in &batch.writes {
            written
                .entry(*tree)
                .or_default()
                .insert(key.as_slice(), value.as_deref());
        }
        Overlay { written }
    }

    /// Nothing written: the database as stored.
    pub(super) fn none() -> Overlay<'static> {
        Overlay {
            written: HashMap::new(),
        }
    }

    fn patch(&self, tree: Tree, prefix: &[u8], stored: Entries) -> Entries {
        let Some(written) = self.written.get(&tree) else {
            return stored;
        };
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = stored.into_iter().collect();
        let under = written
            .range(prefix..)
            .take_while(|(k, _)| k.starts_with(prefix));
        for (k, v) in under {
            match v {
                Some(v) => merged.insert(k.to_vec(), v.to_vec()),
                None => merged.remove(*k),
            };
        }
        merged.into_iter().collect()
    }

    pub(super) fn scan_prefixes(
        &self,
        store: &Store,
        tree: Tree,
        prefixes: &[Vec<u8>],
    ) -> StoreResult<Vec<Entries>> {
        let stored = store.engine.scan_prefixes(tree, prefixes)?;
        Ok(prefixes
            .iter()
            .zip(stored)
            .map(|(p, s)| self.patch(tree, p, s))
            .collect())
    }
}

impl Store {
    /// The tails of `rooms` as `overlay` leaves them.
    pub(super) fn room_tails<'r>(
        &self,
        rooms: impl IntoIterator<Item = &'r str>,
        overlay: &Overlay,
    ) -> StoreResult<Tails> {
        let rooms: std::collections::BTreeSet<&str> = rooms.into_iter().collect();
        let prefixes: Vec<Vec<u8>> = rooms.iter().map(|r| keys::prefix(r)).collect();
        let mut tails = Tails::new();
        for (room, entries) in
            rooms
                .into_iter()
                .zip(overlay.scan_prefixes(self, Tree::RoomseqBumps, &prefixes)?)
        {
            if !entries.is_empty() {
                tails.insert(room.to_string(), Arc::new(parse_tail(entries)?));
            }
        }
        Ok(tails)
    }

    /// Adds the tails of those of `rooms` not in `memo` yet.
    pub(super) fn load_tails<'r>(
        &self,
        rooms: impl IntoIterator<Item = &'r str>,
        overlay: &Overlay,
        memo: &mut TailMemo,
    ) -> StoreResult<()> {
        let missing: std::collections::BTreeSet<&str> = rooms
            .into_iter()
            .filter(|r| !memo.loaded.contains(*r))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let tails = self.room_tails(missing.iter().copied(), overlay)?;
        memo.loaded.extend(missing.into_iter().map(str::to_string));
        memo.tails.extend(tails);
        Ok(())
    }

    /// Every room's tail (whole-database reads).
    pub(super) fn all_tails(&self) -> StoreResult<Tails> {
        let mut by_room: HashMap<String, Entries> = HashMap::new();
        for (k, v) in self.engine.scan_prefix(Tree::RoomseqBumps, b"")? {
            let room = String::from_utf8_lossy(keys::first(&k)).into_owned();
            by_room.entry(room).or_default().push((k, v));
        }
        by_room
            .into_iter()
            .map(|(room, entries)| Ok((room, Arc::new(parse_tail(entries)?))))
            .collect()
    }

    /// Points the fold marker of every subscription `batch` writes at its room's last
    /// record as the batch leaves it (the document was written from a read that added
    /// them all, or is new), and drops the marker of every subscription it deletes.
    pub(super) fn derive_markers(&self, batch: &mut Batch) -> StoreResult<()> {
        let overlay = Overlay::of(batch);
        let Some(written) = overlay.written.get(&Tree::UserroomidSubscription) else {
            return Ok(());
        };
        let keys: Vec<Vec<u8>> = written.keys().map(|k| k.to_vec()).collect();
        let rooms: Vec<&str> = keys.iter().filter_map(|k| keys::second(k)).collect();
        let tails = self.room_tails(rooms, &overlay)?;
        let markers = self.engine.get_many(Tree::UserroomidCounters, &keys)?;
        let mut writes = Vec::new();
        for (key, marker) in keys.into_iter().zip(markers) {
            let last = keys::second(&key)
                .and_then(|room| tails.get(room))
                .and_then(|tail| tail.last())
                .map_or(0, |(seq, _)| *seq);
            match written.get(key.as_slice()) {
                Some(Some(_)) if last > 0 => {
                    writes.push((key, Some(encode(&Folded::Through { q: last }))))
                }
                _ if marker.is_some() => writes.push((key, None)),
                _ => {}
            }
        }
        for (key, value) in writes {
            match value {
                Some(value) => batch.put(Tree::UserroomidCounters, key, value),
                None => batch.delete(Tree::UserroomidCounters, key),
            }
        }
        Ok(())
    }
}
