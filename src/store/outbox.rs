//! The push outbox: one record per message (or push.test call), written in the same atomic
//! write as the message, holding the body drafted once for the receivers it is the same for,
//! each receiver's badge as of that write, and each device with its own retry state. Delivery
//! fans a record out into one `PendingPush` per device and records each device's outcome;
//! the record leaves the outbox once its last device has a final answer.
//!
//! `Tree::Outbox` holds the records by the earliest due time of their devices;
//! `Tree::OutboxidDue` finds a record by its id when that time moves.
//!
//! A message's record does not hold its receivers' devices: it refers to a snapshot of
//! the room's devices (`DeviceSnapshot`, in `Tree::SnapshotidDevices`), written once for
//! every message until a member's devices or the room's members change, and keeps only
//! each device's push id and retry state. A snapshot never changes (its id is a digest of
//! its bytes), so a device registered or removed after a message does not change that
//! message's pushes; it goes with the last record referring to it (`Tree::SnapshotidRefs`).
//! Records that hold their devices (schema 3 as first written, bundles, push.test) are read
//! and written as they are.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys;
use super::trees::Tree;
use super::{decode, encode, Badges, Batch, DeliveryRecord, Store, StoreResult};
use crate::model::push_token::{PushToken, Service};
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
    /// The snapshot its devices come from, when it is stored referring to one (bundles
    /// and exports hold the devices themselves).
    #[serde(skip)]
    pub shared: Option<Shared>,
}

/// The snapshot a record's devices come from, and the due time they all had when queued
/// (stored once, not per device).
#[derive(Debug, Clone, PartialEq)]
pub struct Shared {
    pub devices: Arc<RoomDevices>,
    pub due: i64,
}

/// The devices of a room's members as of one moment, members without one left out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceSnapshot {
    pub members: Vec<SnapshotMember>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapshotMember {
    pub user_id: String,
    pub devices: Vec<SnapshotDevice>,
}

/// A device as a push goes to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapshotDevice {
    /// `apn` or `gcm`: the gateway path.
    pub service: String,
    pub token: String,
    /// The APNs topic (the app's name), for `apn` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
}

impl SnapshotDevice {
    /// The device a registration pushes to; `None` for one without a token.
    pub fn of(t: &PushToken) -> Option<SnapshotDevice> {
        let (service, token) = t.device()?;
        Some(SnapshotDevice {
            service: service.code().into(),
            token: token.into(),
            topic: (service == Service::Apn).then(|| t.app_name().to_string()),
        })
    }
}

/// A snapshot with its id and stored bytes, shared by the records and drafts that use it.
#[derive(Debug)]
pub struct RoomDevices {
    pub id: String,
    pub snapshot: DeviceSnapshot,
    bytes: Vec<u8>,
    by_user: HashMap<String, usize>,
}

impl PartialEq for RoomDevices {
    fn eq(&self, other: &RoomDevices) -> bool {
        self.id == other.id
    }
}

impl RoomDevices {
    /// `snapshot`, named by a digest of its bytes: equal snapshots share one id.
    pub fn new(snapshot: DeviceSnapshot) -> RoomDevices {
        let bytes = encode(&snapshot);
        let id = hex::encode(&Sha256::digest(&bytes)[..16]);
        Self::with(id, snapshot, bytes)
    }

    fn with(id: String, snapshot: DeviceSnapshot, bytes: Vec<u8>) -> RoomDevices {
        let by_user = snapshot
            .members
            .iter()
            .enumerate()
            .map(|(at, m)| (m.user_id.clone(), at))
            .collect();
        RoomDevices {
            id,
            snapshot,
            bytes,
            by_user,
        }
    }

    /// The member `user_id` and their position, if they have a device.
    pub fn member(&self, user_id: &str) -> Option<(usize, &SnapshotMember)> {
        let at = *self.by_user.get(user_id)?;
        Some((at, self.snapshot.members.get(at)?))
    }
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
    /// Its place among its receiver's devices in the record's snapshot (`None`: the record
    /// holds it).
    #[serde(skip)]
    pub slot: Option<usize>,
}

impl Device {
    /// A first attempt at `device`, due at `due`.
    pub fn new(id: String, device: &SnapshotDevice, due: i64, slot: Option<usize>) -> Device {
        Device {
            id,
            service: device.service.clone(),
            token: device.token.clone(),
            topic: device.topic.clone(),
            attempts: 0,
            due,
            slot,
        }
    }
}

/// A record as `Tree::Outbox` holds it: its devices inline (`receivers`, as schema 3 first
/// wrote them) or by reference to a snapshot (`shared`).
#[derive(Serialize, Deserialize)]
struct Stored {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rid: Option<String>,
    bodies: Vec<QueuedBody>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    receivers: Vec<Receiver>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shared: Option<StoredShared>,
}

/// The receivers of a record that refers to a snapshot.
#[derive(Serialize, Deserialize)]
struct StoredShared {
    snapshot: String,
    /// The due time of a device not yet attempted; each device's is kept as the
    /// difference from it (0 for most).
    due: i64,
    /// Per receiver: their position in the snapshot, badge, body, and their devices still
    /// waiting (`WaitingDevice`).
    receivers: Vec<(usize, i64, usize, Vec<WaitingDevice>)>,
}

/// A device of a record that refers to a snapshot: (push id, position among its
/// receiver's devices, attempts, due − the record's `due`).
type WaitingDevice = (String, usize, u32, i64);

impl Stored {
    /// How many devices wait in it, without reading its snapshot.
    fn len(&self) -> usize {
        match &self.shared {
            Some(shared) => shared.receivers.iter().map(|r| r.3.len()).sum(),
            None => self.receivers.iter().map(|r| r.devices.len()).sum(),
        }
    }
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
            shared: None,
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
                    slot: None,
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

    /// The record a message's write queues: the receivers still `members`; `None` if none
    /// is left.
    pub(super) fn for_members(&self, members: &BTreeSet<&str>) -> Option<OutboxRecord> {
        let receivers: Vec<Receiver> = self
            .receivers
            .iter()
            .filter(|r| members.contains(r.user_id.as_str()))
            .cloned()
            .collect();
        match receivers.is_empty() {
            true => None,
            false => Some(OutboxRecord {
                receivers,
                ..self.clone()
            }),
        }
    }

    /// Gives each receiver the badge they have once the write that queues it is applied.
    pub(super) fn set_badges(&mut self, badges: &Badges) {
        for r in &mut self.receivers {
            r.badge = badges.get(&r.user_id).copied().unwrap_or(0);
        }
    }

    /// Its stored form, referring to its snapshot where every device comes from it.
    fn stored(&self) -> Vec<u8> {
        match self.shared.as_ref().and_then(|s| self.by_reference(s)) {
            Some(stored) => encode(&stored),
            None => encode(self),
        }
    }

    fn by_reference(&self, shared: &Shared) -> Option<Stored> {
        let mut receivers = Vec::with_capacity(self.receivers.len());
        for r in &self.receivers {
            let (member, _) = shared.devices.member(&r.user_id)?;
            let devices = r
                .devices
                .iter()
                .map(|d| {
                    let delta = d.due.wrapping_sub(shared.due);
                    Some((d.id.clone(), d.slot?, d.attempts, delta))
                })
                .collect::<Option<Vec<_>>>()?;
            receivers.push((member, r.badge, r.body, devices));
        }
        Some(Stored {
            id: self.id.clone(),
            rid: self.rid.clone(),
            bodies: self.bodies.clone(),
            receivers: Vec::new(),
            shared: Some(StoredShared {
                snapshot: shared.devices.id.clone(),
                due: shared.due,
                receivers,
            }),
        })
    }
}

/// Snapshots in memory: by id (exact on any backend, as a snapshot never changes), and
/// each room's latest, for drafting (sled only: valid while neither any device
/// registration nor the room's members changed since it was read, `Store::room_devices`).
#[derive(Default)]
pub(super) struct SnapshotCache {
    /// With the bytes of the snapshots it holds.
    by_id: Mutex<(HashMap<String, Arc<RoomDevices>>, usize)>,
    rooms: Mutex<HashMap<String, (Stamp, Arc<RoomDevices>)>>,
}

/// The devices cache's epoch and the room's members' version when a room's devices were
/// read: equal now, they are still the room's devices.
type Stamp = (u64, u64);

/// Most snapshots and rooms kept; past that the cache starts over.
const SNAPSHOTS_KEPT: usize = 1024;

/// Most bytes of snapshots kept by id (a 500-member room's is about 100 KB).
const SNAPSHOT_BYTES_KEPT: usize = 16 << 20;

impl SnapshotCache {
    /// The one snapshot in memory with `devices`' id (`devices` if none yet).
    fn intern(&self, devices: Arc<RoomDevices>) -> Arc<RoomDevices> {
        let (by_id, bytes) = &mut *self.by_id.lock();
        if let Some(found) = by_id.get(&devices.id) {
            return found.clone();
        }
        if by_id.len() >= SNAPSHOTS_KEPT || *bytes >= SNAPSHOT_BYTES_KEPT {
            by_id.clear();
            *bytes = 0;
        }
        *bytes += devices.bytes.len();
        by_id.insert(devices.id.clone(), devices.clone());
        devices
    }

    fn get(&self, id: &str) -> Option<Arc<RoomDevices>> {
        self.by_id.lock().0.get(id).cloned()
    }

    fn room(&self, rid: &str, stamp: Stamp) -> Option<Arc<RoomDevices>> {
        let rooms = self.rooms.lock();
        let (kept, devices) = rooms.get(rid)?;
        (*kept == stamp).then(|| devices.clone())
    }

    fn keep_room(&self, rid: &str, stamp: Stamp, devices: Arc<RoomDevices>) {
        let mut rooms = self.rooms.lock();
        if rooms.len() >= SNAPSHOTS_KEPT {
            rooms.clear();
        }
        rooms.insert(rid.to_string(), (stamp, devices));
    }
}

/// How many references to each snapshot a write lets go of.
type Released = HashMap<String, u64>;

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
            batch.put(Tree::Outbox, keys::due_id(due, &record.id), record.stored());
            batch.put(Tree::OutboxidDue, record.id.as_str(), due.to_string());
        }
    }

    /// Counts a new record's reference to its snapshot (in `batch`, before the record is
    /// filed): the snapshot is written with its first. One per batch (read, then counted).
    pub(super) fn refer_snapshot(
        &self,
        batch: &mut Batch,
        record: &OutboxRecord,
    ) -> StoreResult<()> {
        if let (Some(shared), false) = (&record.shared, record.is_empty()) {
            let id = shared.devices.id.as_str();
            self.engine.lock(&[super::Lock::Snapshot(id)])?;
            let count = self.snapshot_refs(id)?;
            if count == 0 {
                batch.put(Tree::SnapshotidDevices, id, shared.devices.bytes.clone());
            }
            batch.put(Tree::SnapshotidRefs, id, (count + 1).to_string());
        }
        Ok(())
    }

    /// How many records refer to the snapshot `id`.
    fn snapshot_refs(&self, id: &str) -> StoreResult<u64> {
        Ok(
            match self.get_string(Tree::SnapshotidRefs, id.as_bytes())? {
                None => 0,
                Some(n) => n
                    .parse()
                    .map_err(|_| super::corrupt(Tree::SnapshotidRefs, format!("count of {id}")))?,
            },
        )
    }

    /// Lets go of the references `released` (in `batch`): a snapshot goes with its last.
    fn release_snapshots(&self, batch: &mut Batch, released: Released) -> StoreResult<()> {
        for (id, n) in released {
            match self.snapshot_refs(&id)?.saturating_sub(n) {
                0 => {
                    batch.delete(Tree::SnapshotidDevices, id.as_str());
                    batch.delete(Tree::SnapshotidRefs, id.as_str());
                }
                left => batch.put(Tree::SnapshotidRefs, id.as_str(), left.to_string()),
            }
        }
        Ok(())
    }

    /// Takes a filed record out, noting the snapshot it referred to.
    fn remove_record(batch: &mut Batch, due: i64, record: &OutboxRecord, released: &mut Released) {
        batch.delete(Tree::Outbox, keys::due_id(due, &record.id));
        batch.delete(Tree::OutboxidDue, record.id.as_str());
        if let Some(shared) = &record.shared {
            *released.entry(shared.devices.id.clone()).or_default() += 1;
        }
    }

    /// Writes `record`, changed from what was filed at `due`, back: moved if its first due
    /// time moved, removed with its last device.
    fn refile_record(
        batch: &mut Batch,
        due: i64,
        record: &mut OutboxRecord,
        released: &mut Released,
    ) {
        record.receivers.retain(|r| !r.devices.is_empty());
        match record.due() {
            None => Self::remove_record(batch, due, record, released),
            Some(now) => {
                if now != due {
                    batch.delete(Tree::Outbox, keys::due_id(due, &record.id));
                }
                Self::put_record(batch, record);
            }
        }
    }

    /// A record as stored, with the devices of its snapshot.
    pub(super) fn read_record(&self, bytes: &[u8]) -> StoreResult<OutboxRecord> {
        let stored: Stored = decode(Tree::Outbox, bytes)?;
        let Some(by_reference) = stored.shared else {
            return Ok(OutboxRecord {
                id: stored.id,
                rid: stored.rid,
                bodies: stored.bodies,
                receivers: stored.receivers,
                shared: None,
            });
        };
        let devices = self.device_snapshot(&by_reference.snapshot)?;
        let missing = || super::corrupt(Tree::Outbox, format!("{} past its snapshot", stored.id));
        let mut receivers = Vec::with_capacity(by_reference.receivers.len());
        for (member, badge, body, waiting) in by_reference.receivers {
            let member = devices.snapshot.members.get(member).ok_or_else(missing)?;
            let mut list = Vec::with_capacity(waiting.len());
            for (id, slot, attempts, delta) in waiting {
                let device = member.devices.get(slot).ok_or_else(missing)?;
                let due = by_reference.due.wrapping_add(delta);
                list.push(Device {
                    attempts,
                    ..Device::new(id, device, due, Some(slot))
                });
            }
            receivers.push(Receiver {
                user_id: member.user_id.clone(),
                badge,
                body,
                devices: list,
            });
        }
        Ok(OutboxRecord {
            id: stored.id,
            rid: stored.rid,
            bodies: stored.bodies,
            receivers,
            shared: Some(Shared {
                devices,
                due: by_reference.due,
            }),
        })
    }

    /// The snapshot `id`, from memory or the database.
    fn device_snapshot(&self, id: &str) -> StoreResult<Arc<RoomDevices>> {
        let cache = &self.caches.snapshots;
        if let Some(found) = cache.get(id) {
            return Ok(found);
        }
        let bytes = self
            .engine
            .get(Tree::SnapshotidDevices, id.as_bytes())?
            .ok_or_else(|| super::corrupt(Tree::SnapshotidDevices, format!("{id} is missing")))?;
        let snapshot = decode(Tree::SnapshotidDevices, &bytes)?;
        Ok(cache.intern(Arc::new(RoomDevices::with(id.to_string(), snapshot, bytes))))
    }

    /// The devices of the room `rid`'s members now, for drafting a message's pushes. On a
    /// database of its own, kept per room until a registration or the room's members
    /// change, so that a busy room's messages do not gather every member's devices again.
    pub fn room_devices(&self, rid: &str) -> StoreResult<Arc<RoomDevices>> {
        let cache = &self.caches.snapshots;
        let kept = !self.engine.is_shared();
        // Read before what they stand for: a write after them moves them.
        let stamp = (
            self.caches.devices.epoch(),
            self.caches.versions.of(Tree::Roomuserids, rid.as_bytes()),
        );
        if kept {
            if let Some(found) = cache.room(rid, stamp) {
                return Ok(found);
            }
        }
        let members = self.room_member_ids(rid)?;
        let ids: Vec<&str> = members.iter().map(String::as_str).collect();
        let tokens = self.push_tokens_of_users(&ids)?;
        let members = members
            .into_iter()
            .zip(tokens)
            .map(|(user_id, tokens)| SnapshotMember {
                user_id,
                devices: tokens.iter().filter_map(SnapshotDevice::of).collect(),
            })
            .filter(|m| !m.devices.is_empty())
            .collect();
        let devices = cache.intern(Arc::new(RoomDevices::new(DeviceSnapshot { members })));
        if kept {
            cache.keep_room(rid, stamp, devices.clone());
        }
        Ok(devices)
    }

    /// Every snapshot is referred to by as many records as its count says, and every
    /// record's snapshot exists (`check_consistency`).
    pub(super) fn check_snapshots(&self, problems: &mut Vec<String>) -> StoreResult<()> {
        let mut referred: HashMap<String, u64> = HashMap::new();
        for (_, value) in self.engine.scan_prefix(Tree::Outbox, b"")? {
            let stored: Stored = decode(Tree::Outbox, &value)?;
            if let Some(shared) = stored.shared {
                *referred.entry(shared.snapshot).or_default() += 1;
            }
        }
        for (key, value) in self.engine.scan_prefix(Tree::SnapshotidRefs, b"")? {
            let id = String::from_utf8_lossy(&key).into_owned();
            let count = String::from_utf8_lossy(&value).parse::<u64>().ok();
            if count != Some(referred.remove(&id).unwrap_or(0)) {
                problems.push(format!(
                    "snapshot {id} counts {count:?} references, wrongly"
                ));
            }
            if self.engine.get(Tree::SnapshotidDevices, &key)?.is_none() {
                problems.push(format!("snapshot {id} is counted but missing"));
            }
        }
        for id in referred.into_keys() {
            problems.push(format!("snapshot {id} is referred to but not counted"));
        }
        for (key, _) in self.engine.scan_prefix(Tree::SnapshotidDevices, b"")? {
            if self.engine.get(Tree::SnapshotidRefs, &key)?.is_none() {
                problems.push(format!(
                    "snapshot {} is kept without a reference",
                    String::from_utf8_lossy(&key)
                ));
            }
        }
        Ok(())
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
                filed.insert(id, (due, self.read_record(&bytes)?));
            }
        }
        Ok(filed)
    }

    /// Queues a record on its own (push.test); message records go with the message.
    pub fn enqueue_pushes(&self, record: &OutboxRecord) -> StoreResult<()> {
        self.write(|store, batch| {
            store.refer_snapshot(batch, record)?;
            Self::put_record(batch, record);
            Ok(())
        })
    }

    /// Takes records out of the outbox unsent (testing mode, once it has captured them).
    pub fn discard_pushes(&self, ids: &[&str]) -> StoreResult<()> {
        self.write(|store, batch| {
            let mut released = Released::new();
            for (due, record) in store.filed_records(ids)?.values() {
                Self::remove_record(batch, *due, record, &mut released);
            }
            store.release_snapshots(batch, released)
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
                let record = self.read_record(value)?;
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
                let record = self.read_record(value)?;
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
            .map(|(_, v)| self.read_record(&v))
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
                let mut released = Released::new();
                for (due, record) in filed.values_mut() {
                    Self::refile_record(batch, *due, record, &mut released);
                }
                store.release_snapshots(batch, released)?;
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
                n += decode::<Stored>(Tree::Outbox, value)?.len();
                Ok(true)
            })?;
        Ok(n)
    }

    /// Records the outcomes of attempts, and their delivery log `records`, in one write
    /// that rewrites each record once. Not durable: it rides the next flush of any write,
    /// and a crash before that only sends its pushes once more (nothing queued is lost).
    /// Returns, for each outcome, how many device registrations it pruned (a token pruned
    /// twice in one batch counts once).
    pub fn finish_pushes(
        &self,
        outcomes: &[(&PendingPush, Finish)],
        records: &[DeliveryRecord],
    ) -> StoreResult<Vec<usize>> {
        self.write_then(
            |store, batch| {
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
                let mut released = Released::new();
                for (due, record) in filed.values_mut() {
                    Self::refile_record(batch, *due, record, &mut released);
                }
                store.release_snapshots(batch, released)?;
                Ok(pruned)
            },
            |_, _, pruned| pruned,
            false,
        )
    }

    /// Drops the records of `rooms` (in `batch`); returns how many pushes went.
    pub(super) fn drop_room_pushes(
        &self,
        batch: &mut Batch,
        rooms: &std::collections::BTreeSet<&str>,
    ) -> StoreResult<usize> {
        let mut dropped = 0;
        let mut released = Released::new();
        for (key, value) in self.engine.scan_prefix(Tree::Outbox, b"")? {
            let record: Stored = decode(Tree::Outbox, &value)?;
            if record.rid.as_deref().is_some_and(|rid| rooms.contains(rid)) {
                batch.delete(Tree::Outbox, key);
                batch.delete(Tree::OutboxidDue, record.id.as_str());
                dropped += record.len();
                if let Some(shared) = record.shared {
                    *released.entry(shared.snapshot).or_default() += 1;
                }
            }
        }
        self.release_snapshots(batch, released)?;
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

    /// The devices of three members with three devices each, which every record `shared`
    /// refers to.
    fn room_devices() -> Arc<RoomDevices> {
        let members = (0..3)
            .map(|j| SnapshotMember {
                user_id: format!("u{j}"),
                devices: (0..3)
                    .map(|k| SnapshotDevice {
                        service: "gcm".into(),
                        token: format!("t{j}{k}"),
                        topic: None,
                    })
                    .collect(),
            })
            .collect();
        Arc::new(RoomDevices::new(DeviceSnapshot { members }))
    }

    /// Record `r` referring to `room_devices()`: receiver `j` has its first `shape[j]`
    /// devices, all due at 0.
    fn shared(r: usize, shape: &[usize]) -> OutboxRecord {
        let devices = room_devices();
        let mut record = record(r, shape);
        for (j, receiver) in record.receivers.iter_mut().enumerate() {
            for (k, d) in receiver.devices.iter_mut().enumerate() {
                let kept = d.id.clone();
                *d = Device::new(kept, &devices.snapshot.members[j].devices[k], 0, Some(k));
            }
        }
        record.shared = Some(Shared { devices, due: 0 });
        record
    }

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
                        slot: None,
                    })
                    .collect(),
            })
            .collect();
        OutboxRecord {
            id: receivers[0].devices[0].id.clone(),
            rid: Some("room".into()),
            bodies: vec![QueuedBody::Whole("{}".into())],
            receivers,
            shared: None,
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
            shapes in vec((vec(1usize..4, 1..4), any::<bool>()), 1..4),
            steps in vec(vec((0usize..64, 0u8..3, 0i64..50), 1..6), 1..6),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&dir.path().join("db"), 4).unwrap();
            let mut model = Model::new();
            for (r, (shape, by_reference)) in shapes.iter().enumerate() {
                let record = match by_reference {
                    true => shared(r, shape),
                    false => record(r, shape),
                };
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
            prop_assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
            // The snapshot goes with the last record that refers to it.
            let snapshots = store.engine.scan_prefix(Tree::SnapshotidDevices, b"").unwrap();
            let referring = store.outbox_records().unwrap().iter().any(|r| r.shared.is_some());
            prop_assert_eq!(snapshots.len(), usize::from(referring));
        }
    }

    /// A record as schema 3 wrote it (devices inline), byte for byte: read, delivered and
    /// written back as it was.
    #[test]
    fn a_record_holding_its_devices_is_read_and_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 4).unwrap();
        let bytes = concat!(
            r#"{"id":"p1","rid":"r1","bodies":[{"shared":{"head":"\"createdAt\":\"2026-01-01T00:00:00.000Z\","#,
            r#"","tail":{"body":",\"x\":1}}","slot":null}}}],"receivers":[{"user_id":"u1","badge":3,"body":0,"#,
            r#""devices":[{"id":"p1","service":"gcm","token":"tok1","attempts":0,"due":5},"#,
            r#"{"id":"p2","service":"apn","token":"tok2","topic":"chat.app","attempts":2,"due":9}]}]}"#
        );
        store
            .write(|_, batch| {
                batch.put(
                    Tree::Outbox,
                    keys::due_id(5, "p1"),
                    bytes.as_bytes().to_vec(),
                );
                batch.put(Tree::OutboxidDue, "p1", "5");
                Ok(())
            })
            .unwrap();
        let (pushes, _) = store.due_pushes(i64::MAX, 10, &HashSet::new()).unwrap();
        let bodies: Vec<(&str, &str, u32, i64)> = pushes
            .iter()
            .map(|p| (p.id.as_str(), p.body.as_str(), p.attempts, p.due))
            .collect();
        assert_eq!(
            bodies,
            [
                (
                    "p1",
                    r#"{"token":"tok1","options":{"createdAt":"2026-01-01T00:00:00.000Z","userId":"u1","x":1}}"#,
                    0,
                    5
                ),
                (
                    "p2",
                    r#"{"token":"tok2","options":{"topic":"chat.app","createdAt":"2026-01-01T00:00:00.000Z","userId":"u1","x":1}}"#,
                    2,
                    9
                ),
            ]
        );
        store
            .finish_pushes(&[(&pushes[0], Finish::Done)], &[])
            .unwrap();
        let left = store.engine.scan_prefix(Tree::Outbox, b"").unwrap();
        let expected = bytes.replace(
            r#"{"id":"p1","service":"gcm","token":"tok1","attempts":0,"due":5},"#,
            "",
        );
        assert_eq!(left, [(keys::due_id(9, "p1"), expected.into_bytes())]);
        assert_eq!(store.check_consistency().unwrap(), Vec::<String>::new());
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
