use super::keys;
use super::trees::Tree;
use super::{decode, encode, Batch, Store, StoreResult};
use crate::model::Subscription;

/// The badge's view of a subscription; values of other types are accepted and ignored.
#[derive(serde::Deserialize)]
struct Counters {
    #[serde(default)]
    unread: Option<Loose>,
    #[serde(default)]
    archived: Option<Loose>,
}

#[derive(serde::Deserialize, PartialEq)]
#[serde(untagged)]
enum Loose {
    Bool(bool),
    Number(serde_json::Number),
    Other(serde::de::IgnoredAny),
}

impl Store {
    pub fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>> {
        self.get_json(Tree::UserroomidSubscription, &keys::pair(user_id, room_id))
    }

    pub fn subscriptions_of_user(&self, user_id: &str) -> StoreResult<Vec<Subscription>> {
        self.engine
            .scan_prefix(Tree::UserroomidSubscription, &keys::prefix(user_id))?
            .into_iter()
            .map(|(_, v)| decode(Tree::UserroomidSubscription, &v))
            .collect()
    }

    pub fn room_member_ids(&self, room_id: &str) -> StoreResult<Vec<String>> {
        self.engine
            .scan_prefix(Tree::Roomuserids, &keys::prefix(room_id))?
            .into_iter()
            .map(|(k, _)| {
                keys::second(&k)
                    .map(str::to_string)
                    .ok_or_else(|| super::corrupt(Tree::Roomuserids, "key without user id"))
            })
            .collect()
    }

    /// `Subscriptions.getBadgeCount`: the sum of `unread` over non-archived subscriptions.
    /// Only the two counters are decoded: this runs on every push.get.
    pub fn badge(&self, user_id: &str) -> StoreResult<i64> {
        let mut total = 0i64;
        for (_, v) in self
            .engine
            .scan_prefix(Tree::UserroomidSubscription, &keys::prefix(user_id))?
        {
            let c: Counters = decode(Tree::UserroomidSubscription, &v)?;
            if c.archived != Some(Loose::Bool(true)) {
                total = total.saturating_add(match c.unread {
                    Some(Loose::Number(n)) => n
                        .as_i64()
                        .or_else(|| n.as_f64().map(|f| f as i64))
                        .unwrap_or(0),
                    _ => 0,
                });
            }
        }
        Ok(total)
    }

    /// Rewrites one subscription with `update` (nothing happens if it does not exist).
    pub fn update_subscription(
        &self,
        room_id: &str,
        user_id: &str,
        update: impl FnOnce(&mut Subscription),
    ) -> StoreResult<Option<Subscription>> {
        self.write(|store, batch| {
            let Some(mut sub) = store.subscription(room_id, user_id)? else {
                return Ok(None);
            };
            update(&mut sub);
            Self::put_subscription(batch, &sub);
            Ok(Some(sub))
        })
    }

    pub(super) fn put_subscription(batch: &mut Batch, sub: &Subscription) {
        batch.put(
            Tree::UserroomidSubscription,
            keys::pair(sub.user_id(), sub.rid()),
            encode(sub),
        );
        batch.put(Tree::Roomuserids, keys::pair(sub.rid(), sub.user_id()), "");
    }
}
