use std::sync::Arc;

use super::keys;
use super::trees::Tree;
use super::{encode, Batch, Store, StoreResult};
use crate::model::push_token::{new_push_token, reregister, stored_order, PushToken, Service};

/// What a device asks to register (`POST push.token`).
pub struct Registration<'a> {
    /// The client's device id, or a new random one.
    pub id: &'a str,
    pub service: Service,
    pub value: &'a str,
    pub app_name: &'a str,
    pub auth_token_hash: &'a str,
    pub user_id: &'a str,
    pub now: i64,
}

impl Store {
    pub fn push_token(&self, id: &str) -> StoreResult<Option<PushToken>> {
        self.get_json(Tree::PushtokenidPushtoken, id.as_bytes())
    }

    fn push_tokens_under(&self, tree: Tree, part: &str) -> StoreResult<Vec<PushToken>> {
        let mut out = Vec::new();
        for (k, _) in self.engine.scan_prefix(tree, &keys::prefix(part))? {
            let id = keys::second(&k)
                .ok_or_else(|| super::corrupt(tree, "key without push token id"))?;
            if let Some(t) = self.push_token(id)? {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// The registered devices of each of `user_ids`, in their order: cached per user until a
    /// registration of theirs changes (`cache.rs`), so that a busy room's messages do not
    /// read every member's devices again; the users not cached in two reads for all.
    pub fn push_tokens_of_users(&self, user_ids: &[&str]) -> StoreResult<Vec<Arc<Vec<PushToken>>>> {
        let keys: Vec<&[u8]> = user_ids.iter().map(|u| u.as_bytes()).collect();
        self.caches.devices.get_many_or_load(&keys, |missing| {
            let missing: Vec<&str> = missing.iter().map(|at| user_ids[*at]).collect();
            self.read_push_tokens_of_users(&missing)
        })
    }

    fn read_push_tokens_of_users(&self, user_ids: &[&str]) -> StoreResult<Vec<Vec<PushToken>>> {
        let tree = Tree::Useridpushtokenids;
        let prefixes: Vec<Vec<u8>> = user_ids.iter().map(|u| keys::prefix(u)).collect();
        let listed = self.engine.scan_prefixes(tree, &prefixes)?;
        let mut ids = Vec::new();
        for (k, _) in listed.iter().flatten() {
            let id =
                keys::second(k).ok_or_else(|| super::corrupt(tree, "key without push token id"))?;
            ids.push(id.as_bytes().to_vec());
        }
        let mut documents = self
            .engine
            .get_many(Tree::PushtokenidPushtoken, &ids)?
            .into_iter();
        let mut out = Vec::with_capacity(user_ids.len());
        for entries in &listed {
            let mut tokens = Vec::with_capacity(entries.len());
            for stored in documents.by_ref().take(entries.len()).flatten() {
                tokens.push(super::decode(Tree::PushtokenidPushtoken, &stored)?);
            }
            out.push(tokens);
        }
        Ok(out)
    }

    /// A user's registered devices.
    pub fn push_tokens_of_user(&self, user_id: &str) -> StoreResult<Vec<PushToken>> {
        self.push_tokens_under(Tree::Useridpushtokenids, user_id)
    }

    /// Every registration of a device token, whatever its service and app.
    fn push_tokens_with_value(&self, value: &str) -> StoreResult<Vec<PushToken>> {
        self.push_tokens_under(Tree::Pushtokenvaluepushtokenids, value)
    }

    /// `pushUpdate`: finds the registration by id, else by token and app; updates it (the new
    /// caller becomes its owner) or creates it; removes other registrations of the same token
    /// and app. Returns the document as it was before the update, or the new one.
    pub fn register_push_token(&self, r: &Registration) -> StoreResult<PushToken> {
        self.write(|store, batch| {
            let found = match store.push_token(r.id)? {
                Some(t) => Some(t),
                None => store
                    .push_tokens_with_value(r.value)?
                    .into_iter()
                    .find(|t| {
                        t.device() == Some((r.service, r.value)) && t.app_name() == r.app_name
                    }),
            };
            let (kept, result) = match found {
                Some(old) => {
                    let new = reregister(
                        &old,
                        r.service,
                        r.value,
                        r.auth_token_hash,
                        r.user_id,
                        r.now,
                    );
                    Self::delete_push_token(batch, &old);
                    Self::put_push_token(batch, &new);
                    (new, old)
                }
                None => {
                    let new = new_push_token(
                        r.id,
                        r.service,
                        r.value,
                        r.auth_token_hash,
                        r.app_name,
                        r.user_id,
                        r.now,
                    );
                    Self::put_push_token(batch, &stored_order(&new));
                    (new.clone(), new)
                }
            };
            for other in store.push_tokens_with_value(r.value)? {
                if other.id() != kept.id()
                    && other.device() == kept.device()
                    && other.app_name() == kept.app_name()
                {
                    Self::delete_push_token(batch, &other);
                }
            }
            Ok(result)
        })
    }

    /// `DELETE push.token`: removes the caller's registrations of a device token.
    pub fn delete_push_tokens_of_user_by_value(
        &self,
        user_id: &str,
        value: &str,
    ) -> StoreResult<usize> {
        self.delete_push_tokens_where(|store| {
            Ok(store
                .push_tokens_with_value(value)?
                .into_iter()
                .filter(|t| t.user_id() == user_id)
                .collect())
        })
    }

    /// Logout: removes the registrations made with that login token.
    pub fn delete_push_tokens_of_session(
        &self,
        user_id: &str,
        auth_token_hash: &str,
    ) -> StoreResult<usize> {
        self.delete_push_tokens_where(|store| {
            Ok(store
                .push_tokens_of_user(user_id)?
                .into_iter()
                .filter(|t| t.auth_token_hash() == auth_token_hash)
                .collect())
        })
    }

    fn delete_push_tokens_where(
        &self,
        select: impl FnOnce(&Store) -> StoreResult<Vec<PushToken>>,
    ) -> StoreResult<usize> {
        self.write(|store, batch| {
            let doomed = select(store)?;
            for t in &doomed {
                Self::delete_push_token(batch, t);
            }
            Ok(doomed.len())
        })
    }

    /// The gateway said 406: every registration of the token goes, whoever owns it.
    pub(super) fn prune_push_token_value(
        &self,
        batch: &mut Batch,
        value: &str,
    ) -> StoreResult<usize> {
        let doomed = self.push_tokens_with_value(value)?;
        for t in &doomed {
            Self::delete_push_token(batch, t);
        }
        Ok(doomed.len())
    }

    pub(super) fn put_push_token(batch: &mut Batch, t: &PushToken) {
        batch.put(Tree::PushtokenidPushtoken, t.id(), encode(t));
        if let Some((_, value)) = t.device() {
            batch.put(
                Tree::Pushtokenvaluepushtokenids,
                keys::pair(value, t.id()),
                "",
            );
        }
        batch.put(
            Tree::Useridpushtokenids,
            keys::pair(t.user_id(), t.id()),
            "",
        );
    }

    pub(super) fn delete_push_token(batch: &mut Batch, t: &PushToken) {
        batch.delete(Tree::PushtokenidPushtoken, t.id());
        if let Some((_, value)) = t.device() {
            batch.delete(Tree::Pushtokenvaluepushtokenids, keys::pair(value, t.id()));
        }
        batch.delete(Tree::Useridpushtokenids, keys::pair(t.user_id(), t.id()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The cached devices of users are always what the database holds: whatever
        /// registrations, re-registrations (a device changing owner) and removals came
        /// between two reads.
        #[test]
        fn cached_devices_are_the_stored_ones(
            ops in proptest::collection::vec((0u8..3, 0u8..3, 0u8..4, 0u8..2), 1..30),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&dir.path().join("db"), 4).unwrap();
            let users = ["u0", "u1", "u2"];
            for (n, (op, user, value, app)) in ops.into_iter().enumerate() {
                let (user, value) = (users[user as usize], format!("tok{value}"));
                match op {
                    0 | 1 => {
                        let id = match op {
                            0 => format!("id{n}"),
                            _ => format!("id-{value}"),
                        };
                        store
                            .register_push_token(&Registration {
                                id: &id,
                                service: Service::Gcm,
                                value: &value,
                                app_name: ["a", "b"][app as usize],
                                auth_token_hash: "h",
                                user_id: user,
                                now: n as i64,
                            })
                            .unwrap();
                    }
                    _ => {
                        store.delete_push_tokens_of_user_by_value(user, &value).unwrap();
                    }
                }
                let cached: Vec<Vec<PushToken>> = store
                    .push_tokens_of_users(&users)
                    .unwrap()
                    .into_iter()
                    .map(|d| (*d).clone())
                    .collect();
                prop_assert_eq!(cached, store.read_push_tokens_of_users(&users).unwrap());
            }
        }
    }
}
