//! The push outbox: one record per message (or push.test call), written in the same atomic
//! write as the message, holding the body drafted once for the receivers it is the same for,
//! each receiver's badge as of that write, and each device with its own retry state. Delivery
//! fans a record out into one `PendingPush` per device and records each device's outcome;
//! the record leaves the outbox once its last device has a final answer.
//!
//! `Tree::Outbox` holds the records by the earliest due time of their devices;
//! `Tree::OutboxidDue` finds a record by its id when that time moves.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::keys;
use super::trees::Tree;
use super::{decode, encode, Badges, Batch, DeliveryRecord, Store, StoreResult};
use crate::rules::push::SharedBody;

/// One message's pushes, or one push.test call's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutboxRecord {
    /// The id of its first push: stable for the life of the record.
    pub id: String,
    /// The room of the message that caused it (none for push.test): deleting the room
    /// drops the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
    /// The bodies its receivers share, most often one.
    pub bodies: Vec<QueuedBody>,
    pub receivers: Vec<Receiver>,
}

/// A body as queued.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum QueuedBody {
    /// Completed per device (`SharedBody::render`).
    Shared(SharedBody),
    /// One device's body exactly, as queued before schema 3 or given by a bundle's
    /// per-device entry.
    Whole(String),
}

/// Who gets the record's pushes, with the badge they had once the record's write applied.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Receiver {
    pub user_id: String,
    pub badge: i64,
    /// Index of their body in `bodies`.
    pub body: usize,
    /// The devices still waiting for a final answer.
    pub devices: Vec<Device>,
}

/// One device's push and its retry state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Device {
    /// The push's id: stable, so that a duplicate after a crash can be recognised, and the
    /// delivery log's key.
    pub id: String,
    /// `apn` or `gcm`: the gateway path.
    pub service: String,
    pub token: String,
    /// The APNs topic (the app's name), for `apn` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (ms since the epoch).
    pub due: i64,
}

/// One gateway request waiting to be made: one device of an outbox record, as delivery
/// attempts it and as bundles and testing mode list it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingPush {
    /// Stable for the life of the push, so that a duplicate after a crash can be recognised.
    pub id: String,
    /// `apn` or `gcm`: the gateway path.
    pub service: String,
    /// The device token (for 406 pruning).
    pub token: String,
    /// The JSON body to post, `{"token":…,"options":{…}}`, fixed at queue time.
    pub body: String,
    pub user_id: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (ms since the epoch).
    pub due: i64,
    /// The room of the message that caused it (none for push.test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
    /// The id of the record it belongs to (a bundle's per-device entry: its own).
    #[serde(skip)]
    pub record: String,
}

/// A bundle's outbox entry: a record, or one device's push as bundles written before
/// schema 3 hold them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum BundledPushes {
    Record(OutboxRecord),
    Device(PendingPush),
}

impl From<BundledPushes> for OutboxRecord {
    fn from(entry: BundledPushes) -> OutboxRecord {
        match entry {
            BundledPushes::Record(record) => record,
            BundledPushes::Device(push) => OutboxRecord::of_one(push),
        }
    }
}

impl OutboxRecord {
    /// A record of one device's push, its body kept whole.
    fn of_one(push: PendingPush) -> OutboxRecord {
        OutboxRecord {
            id: push.id.clone(),
            rid: push.rid,
            bodies: vec![QueuedBody::Whole(push.body)],
            receivers: vec![Receiver {
                user_id: push.user_id,
                badge: 0,
                body: 0,
                devices: vec![Device {
                    id: push.id,
                    service: push.service,
                    token: push.token,
                    topic: None,
                    attempts: push.attempts,
                    due: push.due,
                }],
            }],
        }
    }

    /// When its first device falls due (`None`: no device left).
    fn due(&self) -> Option<i64> {
        self.devices().map(|(_, d)| d.due).min()
    }

    fn devices(&self) -> impl Iterator<Item = (&Receiver, &Device)> {
        self.receivers
            .iter()
            .flat_map(|r| r.devices.iter().map(move |d| (r, d)))
    }

    /// How many devices wait in it.
    pub fn len(&self) -> usize {
        self.receivers.iter().map(|r| r.devices.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One device's push as it is sent.
    fn push(&self, receiver: &Receiver, device: &Device) -> PendingPush {
        let body = match self.bodies.get(receiver.body) {
            Some(QueuedBody::Shared(shared)) => shared.render(
                &device.token,
                device.topic.as_deref(),
                &receiver.user_id,
                receiver.badge,
            ),
            Some(QueuedBody::Whole(body)) => body.clone(),
            // Only a hand-made bundle can point past its bodies: the push is sent empty and
            // the gateway refuses it.
            None => String::new(),
        };
        PendingPush {
            id: device.id.clone(),
            service: device.service.clone(),
            token: device.token.clone(),
            body,
            user_id: receiver.user_id.clone(),
            attempts: device.attempts,
            due: device.due,
            rid: self.rid.clone(),
            record: self.id.clone(),
        }
    }

    /// Every device's push, receiver by receiver, in the order they were drafted.
    pub fn pushes(&self) -> Vec<PendingPush> {
        self.devices().map(|(r, d)| self.push(r, d)).collect()
    }

    /// The record a message's write queues: the receivers still `members`, each with their
    /// badge as of that write; `None` if none is left.
    pub(super) fn for_members(
        &self,
        members: &BTreeSet<&str>,
        badges: &Badges,
    ) -> Option<OutboxRecord> {
        let receivers: Vec<Receiver> = self
            .receivers
            .iter()
            .filter(|r| members.contains(r.user_id.as_str()))
            .map(|r| Receiver {
                badge: badges.get(&r.user_id).copied().unwrap_or(0),
                ..r.clone()
            })
            .collect();
        match receivers.is_empty() {
            true => None,
            false => Some(OutboxRecord {
                receivers,
                ..self.clone()
            }),
        }
    }
}

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Delivered, or given up: remove it.
    Done,
    /// Try again at this time.
    RetryAt(i64),
    /// The gateway does not know the token (406): remove it and every registration of it.
    PruneToken,
}

/// A record as stored: the due time it is filed under, and the record.
type Filed = (i64, OutboxRecord);

impl Store {
    /// Files `record` under its first due time (a record with no device left is not filed).
    pub(super) fn put_record(batch: &mut Batch, record: &OutboxRecord) {
        if let Some(due) = record.due() {
            batch.put(Tree::Outbox, keys::due_id(due, &record.id), encode(record));
            batch.put(Tree::OutboxidDue, record.id.as_str(), due.to_string());
        }
    }

    /// Takes a filed record out.
    fn remove_record(batch: &mut Batch, due: i64, id: &str) {
        batch.delete(Tree::Outbox, keys::due_id(due, id));
        batch.delete(Tree::OutboxidDue, id);
    }

    /// Writes `record`, changed from what was filed at `due`, back: moved if its first due
    /// time moved, removed with its last device.
    fn refile_record(batch: &mut Batch, due: i64, record: &mut OutboxRecord) {
        record.receivers.retain(|r| !r.devices.is_empty());
        if record.due() != Some(due) {
            Self::remove_record(batch, due, &record.id);
        }
        Self::put_record(batch, record);
    }

    /// The records `ids` as filed now (absent ones left out).
    fn filed_records(&self, ids: &[&str]) -> StoreResult<HashMap<String, Filed>> {
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| id.as_bytes().to_vec()).collect();
        let dues = self.engine.get_many(Tree::OutboxidDue, &keys)?;
        let mut found = Vec::new();
        for (id, due) in ids.iter().zip(dues) {
            let Some(due) = due else { continue };
            let due: i64 = std::str::from_utf8(&due)
                .ok()
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| super::corrupt(Tree::OutboxidDue, format!("due of {id}")))?;
            found.push((id.to_string(), due));
        }
        let keys: Vec<Vec<u8>> = found
            .iter()
            .map(|(id, due)| keys::due_id(*due, id))
            .collect();
        let records = self.engine.get_many(Tree::Outbox, &keys)?;
        let mut filed = HashMap::with_capacity(found.len());
        for ((id, due), record) in found.into_iter().zip(records) {
            if let Some(bytes) = record {
                filed.insert(id, (due, decode(Tree::Outbox, &bytes)?));
            }
        }
        Ok(filed)
    }

    /// Queues a record on its own (push.test); message records go with the message.
    pub fn enqueue_pushes(&self, record: &OutboxRecord) -> StoreResult<()> {
        self.write(|_, batch| {
            Self::put_record(batch, record);
            Ok(())
        })
    }

    /// Takes records out of the outbox unsent (testing mode, once it has captured them).
    pub fn discard_pushes(&self, ids: &[&str]) -> StoreResult<()> {
        self.write(|store, batch| {
            for (id, (due, _)) in store.filed_records(ids)? {
                Self::remove_record(batch, due, &id);
            }
            Ok(())
        })
    }

    /// Up to `limit` pushes due at `now` that `busy` does not hold, earliest record first,
    /// and the earliest later due time seen (a hint for when to look again).
    pub fn due_pushes(
        &self,
        now: i64,
        limit: usize,
        busy: &HashSet<String>,
    ) -> StoreResult<(Vec<PendingPush>, Option<i64>)> {
        let mut ready = Vec::new();
        let mut later: Option<i64> = None;
        self.engine
            .visit_prefix(Tree::Outbox, b"", &mut |_, value| {
                let record: OutboxRecord = decode(Tree::Outbox, value)?;
                let Some(first) = record.due() else {
                    return Ok(true);
                };
                if first > now {
                    later = Some(later.map_or(first, |l| l.min(first)));
                    return Ok(false);
                }
                for (r, d) in record.devices() {
                    if d.due > now {
                        later = Some(later.map_or(d.due, |l| l.min(d.due)));
                    } else if ready.len() < limit && !busy.contains(&d.id) {
                        ready.push(record.push(r, d));
                    }
                }
                Ok(ready.len() < limit)
            })?;
        Ok((ready, later))
    }

    /// The first `limit` pushes waiting, in the order they fall due (the admin page). A
    /// record is filed under its first device's due time, but its others may fall due later
    /// than a later record's: records are read until none can hold an earlier push.
    pub fn pending_pushes(&self, limit: usize) -> StoreResult<Vec<PendingPush>> {
        let by_due = |a: &PendingPush, b: &PendingPush| (a.due, &a.id).cmp(&(b.due, &b.id));
        let mut head: Vec<PendingPush> = Vec::new();
        self.engine
            .visit_prefix(Tree::Outbox, b"", &mut |_, value| {
                let record: OutboxRecord = decode(Tree::Outbox, value)?;
                if head.len() >= limit {
                    head.sort_by(by_due);
                    head.truncate(limit);
                    let last = head.last().map_or(i64::MIN, |p| p.due);
                    if record.due().is_none_or(|first| first > last) {
                        return Ok(false);
                    }
                }
                head.extend(record.pushes());
                Ok(true)
            })?;
        head.sort_by(by_due);
        head.truncate(limit);
        Ok(head)
    }

    /// Every record, in the order they fall due (exports).
    pub(super) fn outbox_records(&self) -> StoreResult<Vec<OutboxRecord>> {
        self.engine
            .scan_prefix(Tree::Outbox, b"")?
            .into_iter()
            .map(|(_, v)| decode(Tree::Outbox, &v))
            .collect()
    }

    /// Claims `pushes` for this process before it attempts them, when other processes share
    /// the outbox: each device still waiting at its due time moves to `until`, so no other
    /// process takes it meanwhile; one claimed by a process that dies falls due again at
    /// `until`. Returns the pushes claimed, as now stored. On a database of its own a
    /// process claims nothing (its scheduler knows what it has in flight) and gets `pushes`
    /// back.
    pub fn claim_pushes(
        &self,
        pushes: Vec<PendingPush>,
        until: i64,
    ) -> StoreResult<Vec<PendingPush>> {
        if !self.engine.is_shared() || pushes.is_empty() {
            return Ok(pushes);
        }
        // Not durable: a claim lost in a crash only lets the push be sent once more.
        self.write_then(
            |store, batch| {
                let ids: Vec<&str> = pushes.iter().map(|p| p.record.as_str()).collect();
                let mut filed = store.filed_records(&ids)?;
                let mut claimed = Vec::with_capacity(pushes.len());
                for mut push in pushes {
                    let Some((_, record)) = filed.get_mut(&push.record) else {
                        continue;
                    };
                    let Some(device) = device_at(record, &push) else {
                        continue;
                    };
                    device.due = until;
                    push.due = until;
                    claimed.push(push);
                }
                for (due, record) in filed.values_mut() {
                    Self::refile_record(batch, *due, record);
                }
                Ok(claimed)
            },
            |_, _, claimed| claimed,
            false,
        )
    }

    /// How many pushes wait in the outbox (walks it: for start-up and the admin page).
    pub fn outbox_len(&self) -> StoreResult<usize> {
        let mut n = 0;
        self.engine
            .visit_prefix(Tree::Outbox, b"", &mut |_, value| {
                n += decode::<OutboxRecord>(Tree::Outbox, value)?.len();
                Ok(true)
            })?;
        Ok(n)
    }

    /// Records the outcomes of attempts, and their delivery log `records`, durably, in one
    /// write. Returns, for each outcome, how many device registrations it pruned (a token
    /// pruned twice in one batch counts once).
    pub fn finish_pushes(
        &self,
        outcomes: &[(&PendingPush, Finish)],
        records: &[DeliveryRecord],
    ) -> StoreResult<Vec<usize>> {
        self.write(|store, batch| {
            for r in records {
                Self::put_delivery(batch, r);
            }
            let ids: Vec<&str> = outcomes.iter().map(|(p, _)| p.record.as_str()).collect();
            let mut filed = store.filed_records(&ids)?;
            let mut pruned_tokens = HashSet::new();
            let mut pruned = Vec::with_capacity(outcomes.len());
            for (push, finish) in outcomes {
                // A push no longer where it was (its room deleted while it was in flight, or
                // claimed again by another process after this one's claim lapsed) is not
                // brought back; a dead token is pruned all the same.
                if let Some((_, record)) = filed.get_mut(&push.record) {
                    match finish {
                        Finish::RetryAt(due) => {
                            if let Some(device) = device_at(record, push) {
                                device.attempts = push.attempts + 1;
                                device.due = *due;
                            }
                        }
                        Finish::Done | Finish::PruneToken => {
                            for r in &mut record.receivers {
                                r.devices.retain(|d| !is_device_of(d, push));
                            }
                        }
                    }
                }
                pruned.push(match finish {
                    Finish::PruneToken if pruned_tokens.insert(push.token.as_str()) => {
                        store.prune_push_token_value(batch, &push.token)?
                    }
                    _ => 0,
                });
            }
            for (due, record) in filed.values_mut() {
                Self::refile_record(batch, *due, record);
            }
            Ok(pruned)
        })
    }

    /// Drops the records of `rooms` (in `batch`); returns how many pushes went.
    pub(super) fn drop_room_pushes(
        &self,
        batch: &mut Batch,
        rooms: &std::collections::BTreeSet<&str>,
    ) -> StoreResult<usize> {
        let mut dropped = 0;
        for (key, value) in self.engine.scan_prefix(Tree::Outbox, b"")? {
            let record: OutboxRecord = decode(Tree::Outbox, &value)?;
            if record.rid.as_deref().is_some_and(|rid| rooms.contains(rid)) {
                batch.delete(Tree::Outbox, key);
                batch.delete(Tree::OutboxidDue, record.id.as_str());
                dropped += record.len();
            }
        }
        Ok(dropped)
    }

    /// Schema 3: each pending push of schema 2 (one entry per device, its body whole)
    /// becomes a record of its own, at the same key, and is indexed by its id.
    pub(super) fn migrate_outbox_to_3(&self, batch: &mut Batch) -> StoreResult<()> {
        for (_, value) in self.engine.scan_prefix(Tree::Outbox, b"")? {
            let push: PendingPush = decode(Tree::Outbox, &value)?;
            Self::put_record(batch, &OutboxRecord::of_one(push));
        }
        Ok(())
    }
}

/// The device of `record` that `push` was made from, if it still waits where `push` found
/// it (`is_device_of`).
fn device_at<'a>(record: &'a mut OutboxRecord, push: &PendingPush) -> Option<&'a mut Device> {
    record
        .receivers
        .iter_mut()
        .flat_map(|r| r.devices.iter_mut())
        .find(|d| is_device_of(d, push))
}

/// `push` was made from `device` as it waits now: same push, same due time (not claimed
/// since by another process, whose claim moved it).
fn is_device_of(device: &Device, push: &PendingPush) -> bool {
    device.id == push.id && device.due == push.due
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Record `r`: receiver `j` has `shape[j]` devices, all due at 0.
    fn record(r: usize, shape: &[usize]) -> OutboxRecord {
        let receivers: Vec<Receiver> = shape
            .iter()
            .enumerate()
            .map(|(j, n)| Receiver {
                user_id: format!("u{j}"),
                badge: j as i64,
                body: 0,
                devices: (0..*n)
                    .map(|k| Device {
                        id: format!("r{r}u{j}d{k}"),
                        service: "gcm".into(),
                        token: format!("t{r}{j}{k}"),
                        topic: None,
                        attempts: 0,
                        due: 0,
                    })
                    .collect(),
            })
            .collect();
        OutboxRecord {
            id: receivers[0].devices[0].id.clone(),
            rid: Some("room".into()),
            bodies: vec![QueuedBody::Whole("{}".into())],
            receivers,
        }
    }

    /// push id → (attempts, due), as a per-device outbox would hold them.
    type Model = BTreeMap<String, (u32, i64)>;

    fn held(store: &Store) -> Model {
        let (pushes, _) = store
            .due_pushes(i64::MAX, usize::MAX, &HashSet::new())
            .unwrap();
        pushes
            .into_iter()
            .map(|p| (p.id, (p.attempts, p.due)))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Finishing any of a record's pushes, in any order and any batches, leaves what a
        /// per-device outbox would hold: each device with its own attempts and due time,
        /// a record filed under its first due device and gone with its last one.
        #[test]
        fn each_device_keeps_its_own_state(
            shapes in vec(vec(1usize..4, 1..4), 1..4),
            steps in vec(vec((0usize..64, 0u8..3, 0i64..50), 1..6), 1..6),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&dir.path().join("db"), 4).unwrap();
            let mut model = Model::new();
            for (r, shape) in shapes.iter().enumerate() {
                let record = record(r, shape);
                for p in record.pushes() {
                    model.insert(p.id, (0, 0));
                }
                store.enqueue_pushes(&record).unwrap();
            }
            for step in steps {
                prop_assert_eq!(held(&store), model.clone());
                let (pushes, _) = store.due_pushes(i64::MAX, usize::MAX, &HashSet::new()).unwrap();
                if pushes.is_empty() {
                    break;
                }
                let mut picked = BTreeMap::new();
                for (at, kind, due) in step {
                    let push = &pushes[at % pushes.len()];
                    let finish = match kind {
                        0 => Finish::Done,
                        1 => Finish::RetryAt(due),
                        _ => Finish::PruneToken,
                    };
                    picked.entry(push.id.clone()).or_insert((push, finish));
                }
                let outcomes: Vec<(&PendingPush, Finish)> = picked.values().copied().collect();
                store.finish_pushes(&outcomes, &[]).unwrap();
                for (push, finish) in outcomes {
                    match finish {
                        Finish::RetryAt(due) => {
                            model.insert(push.id.clone(), (push.attempts + 1, due));
                        }
                        _ => {
                            model.remove(&push.id);
                        }
                    }
                }
                prop_assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
            }
            prop_assert_eq!(held(&store), model.clone());
            prop_assert_eq!(store.outbox_len().unwrap(), model.len());
        }
    }

    #[test]
    fn the_admin_page_lists_the_pushes_due_first_across_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 4).unwrap();
        let (first, second) = (record(0, &[2]), record(1, &[1]));
        store.enqueue_pushes(&first).unwrap();
        let pushes = first.pushes();
        store
            .finish_pushes(&[(&pushes[1], Finish::RetryAt(100))], &[])
            .unwrap();
        let mut later = second;
        later.receivers[0].devices[0].due = 50;
        store.enqueue_pushes(&later).unwrap();
        // The first record is filed at 0 but holds a push due at 100, after the second's.
        let head: Vec<(String, i64)> = store
            .pending_pushes(2)
            .unwrap()
            .into_iter()
            .map(|p| (p.id, p.due))
            .collect();
        assert_eq!(head, [("r0u0d0".into(), 0), ("r1u0d0".into(), 50)]);
    }

    #[test]
    fn a_push_that_moved_since_it_was_read_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 4).unwrap();
        let record = record(0, &[2]);
        store.enqueue_pushes(&record).unwrap();
        let pushes = record.pushes();
        store
            .finish_pushes(&[(&pushes[0], Finish::RetryAt(10))], &[])
            .unwrap();
        // A stale copy of the first push (due 0, now due 10) changes nothing.
        store
            .finish_pushes(&[(&pushes[0], Finish::Done)], &[])
            .unwrap();
        let model: Model = [("r0u0d0".into(), (1, 10)), ("r0u0d1".into(), (0, 0))].into();
        assert_eq!(held(&store), model);
        // Due pushes: only the second now; the first falls due at 10.
        let (due, later) = store.due_pushes(5, 10, &HashSet::new()).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(later, Some(10));
    }
}
