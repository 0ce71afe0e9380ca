//! The delivery log: one record per push attempt, written in the same durable write as the
//! attempt's outcome, so that what an admin reads is what the outbox did.

use serde::{Deserialize, Serialize};

use super::keys;
use super::trees::Tree;
use super::{decode, encode, Batch, Store, StoreResult};

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Sent,
    /// Failed for now; tried again at `nextAttempt`.
    Retrying,
    /// The provider said the token is dead; it was removed.
    Pruned,
    /// Given up: refused, misconfigured, or out of retries.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Pruned => "pruned",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        serde_json::from_value(serde_json::Value::String(s.into())).ok()
    }
}

/// One attempt as the log keeps it: the device only by the end of its token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    pub push_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When the attempt ended (ms since the epoch).
    pub ts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub user_id: String,
    /// `apn` or `gcm`.
    pub service: String,
    /// The last characters of the device token.
    pub token_tail: String,
    /// `gateway`, `fcm` or `apns`.
    pub transport: String,
    pub status: DeliveryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<i64>,
    /// The provider's HTTP status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl DeliveryRecord {
    fn key(&self) -> Vec<u8> {
        keys::due_id(self.ts, &format!("{}.{}", self.push_id, self.attempt))
    }
}

/// Which records `GET /api/rcpush/deliveries` wants; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub message_id: Option<String>,
    pub user_id: Option<String>,
    pub status: Option<DeliveryStatus>,
}

impl DeliveryFilter {
    fn is_empty(&self) -> bool {
        self.message_id.is_none() && self.user_id.is_none() && self.status.is_none()
    }

    fn matches(&self, r: &DeliveryRecord) -> bool {
        self.message_id
            .as_ref()
            .is_none_or(|m| r.message_id.as_ref() == Some(m))
            && self.user_id.as_ref().is_none_or(|u| *u == r.user_id)
            && self.status.is_none_or(|s| s == r.status)
    }
}

/// A page of the log, newest first, and how many records match in all.
pub struct DeliveryPage {
    pub records: Vec<DeliveryRecord>,
    pub total: usize,
}

impl Store {
    pub(super) fn put_delivery(batch: &mut Batch, record: &DeliveryRecord) {
        batch.put(Tree::TspushidDelivery, record.key(), encode(record));
    }

    /// The matching records, newest first, from `offset`, at most `count`. Unfiltered, it
    /// walks the log backwards and decodes only the page (the total is the backend's count
    /// of keys); a filter has to see every record to count the matches, so it walks all.
    pub fn deliveries(
        &self,
        filter: &DeliveryFilter,
        offset: usize,
        count: usize,
    ) -> StoreResult<DeliveryPage> {
        let end = offset.saturating_add(count);
        let unfiltered = filter.is_empty();
        let mut records = Vec::with_capacity(count.min(1024));
        let mut seen = 0;
        self.engine.visit_rev(Tree::TspushidDelivery, &mut |_, v| {
            if unfiltered && seen >= end {
                return Ok(false);
            }
            if unfiltered && seen < offset {
                seen += 1;
                return Ok(true);
            }
            let record: DeliveryRecord = decode(Tree::TspushidDelivery, v)?;
            if filter.matches(&record) {
                if (offset..end).contains(&seen) {
                    records.push(record);
                }
                seen += 1;
            }
            Ok(true)
        })?;
        let total = match unfiltered {
            true => self.engine.count(Tree::TspushidDelivery)?,
            false => seen,
        };
        Ok(DeliveryPage { records, total })
    }

    /// Removes the records older than `before` and then the oldest beyond `max`; returns how
    /// many it removed. Counting walks the log: call it now and then, not per write.
    pub fn trim_deliveries(&self, before: i64, max: usize) -> StoreResult<usize> {
        let old = self.engine.scan_until(
            Tree::TspushidDelivery,
            &keys::due_upper_bound(before.saturating_sub(1)),
            usize::MAX,
        )?;
        let remaining = self.engine.count(Tree::TspushidDelivery)? - old.len();
        let excess = remaining.saturating_sub(max);
        let surplus = match excess {
            0 => Vec::new(),
            n => self.engine.scan_until(
                Tree::TspushidDelivery,
                &keys::due_upper_bound(i64::MAX),
                old.len() + n,
            )?,
        };
        let doomed = if surplus.len() > old.len() {
            surplus
        } else {
            old
        };
        if doomed.is_empty() {
            return Ok(0);
        }
        // Not durable: a trim lost in a crash is done again by the next one.
        self.write_then(
            |_, batch| {
                for (key, _) in &doomed {
                    batch.delete(Tree::TspushidDelivery, key.clone());
                }
                Ok(doomed.len())
            },
            |_, _, n| n,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ts: i64, user: &str, status: DeliveryStatus) -> DeliveryRecord {
        DeliveryRecord {
            push_id: format!("p{ts}"),
            attempt: 1,
            ts,
            message_id: None,
            user_id: user.into(),
            service: "gcm".into(),
            token_tail: "ABCDEF".into(),
            transport: "fcm".into(),
            status,
            next_attempt: None,
            provider_status: None,
            reason: None,
        }
    }

    #[test]
    fn the_log_pages_newest_first_and_is_trimmed_by_age_then_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 4).unwrap();
        let records: Vec<DeliveryRecord> = (1..=10)
            .map(|ts| {
                let status = match ts % 2 {
                    0 => DeliveryStatus::Sent,
                    _ => DeliveryStatus::Failed,
                };
                record(ts, if ts <= 5 { "a" } else { "b" }, status)
            })
            .collect();
        store.finish_pushes(&[], &records).unwrap();
        let ts = |page: &DeliveryPage| page.records.iter().map(|r| r.ts).collect::<Vec<_>>();
        let all = DeliveryFilter::default();
        let page = store.deliveries(&all, 2, 3).unwrap();
        assert_eq!((ts(&page), page.total), (vec![8, 7, 6], 10));
        let b_sent = DeliveryFilter {
            user_id: Some("b".into()),
            status: Some(DeliveryStatus::Sent),
            ..DeliveryFilter::default()
        };
        let page = store.deliveries(&b_sent, 0, 50).unwrap();
        assert_eq!((ts(&page), page.total), (vec![10, 8, 6], 3));
        assert_eq!(store.deliveries(&all, 0, 0).unwrap().total, 10);

        // Older than 4 goes (1..=3), then all but the newest 5.
        assert_eq!(store.trim_deliveries(4, 100).unwrap(), 3);
        assert_eq!(store.trim_deliveries(4, 5).unwrap(), 2);
        assert_eq!(
            ts(&store.deliveries(&all, 0, 50).unwrap()),
            [10, 9, 8, 7, 6]
        );
        assert_eq!(store.trim_deliveries(0, 5).unwrap(), 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// A page of the backward walk, filtered or not, is the same slice of the whole log
        /// sorted newest first, and the total counts every match.
        #[test]
        fn a_page_is_the_slice_of_the_whole_log_newest_first(
            log in proptest::collection::vec((0i64..40, 0u8..2, 0u8..4), 0..40),
            user in proptest::option::of(0u8..2),
            status in proptest::option::of(0u8..4),
            offset in 0usize..12,
            count in 0usize..12,
        ) {
            const STATUSES: [DeliveryStatus; 4] = [
                DeliveryStatus::Sent,
                DeliveryStatus::Retrying,
                DeliveryStatus::Pruned,
                DeliveryStatus::Failed,
            ];
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&dir.path().join("db"), 4).unwrap();
            let records: Vec<DeliveryRecord> = log
                .iter()
                .enumerate()
                .map(|(i, (ts, u, s))| DeliveryRecord {
                    push_id: format!("p{i}"),
                    ..record(*ts, &format!("u{u}"), STATUSES[*s as usize])
                })
                .collect();
            store.finish_pushes(&[], &records).unwrap();
            let filter = DeliveryFilter {
                user_id: user.map(|u| format!("u{u}")),
                status: status.map(|s| STATUSES[s as usize]),
                ..DeliveryFilter::default()
            };
            let mut expected: Vec<&DeliveryRecord> =
                records.iter().filter(|r| filter.matches(r)).collect();
            expected.sort_by_key(|r| std::cmp::Reverse(r.key()));
            let page = store.deliveries(&filter, offset, count).unwrap();
            let want: Vec<&DeliveryRecord> =
                expected.iter().skip(offset).take(count).copied().collect();
            proptest::prop_assert_eq!(page.records.iter().collect::<Vec<_>>(), want);
            proptest::prop_assert_eq!(page.total, expected.len());
        }
    }
}
