//! Pass 3 of an import: prepared documents into store batches of bounded size, and the
//! read-back of a sample of them (import spec §7).

use std::collections::HashMap;

use anyhow::bail;

use super::prepare::Prepared;
use crate::store::{Import, Store};

/// Documents per write (and flush). sled's memory grows with the size of its batches: for
/// 200k messages, 5,000 per batch peaked at 190 MB, 500 at 88 MB (debug build).
const BATCH_DOCUMENTS: usize = 500;
const BATCH_BYTES: usize = 1 << 20;

/// About how many messages, and how many users' tokens, are read back after the import.
const SELF_CHECK_MESSAGES: u64 = 1_000;
const SELF_CHECK_USERS: usize = 100;

/// Collects prepared documents into store batches of bounded size, and keeps a sample of
/// what it wrote to read back at the end (import spec §7).
pub(super) struct Writer<'a> {
    store: &'a Store,
    batch: Import,
    documents: usize,
    bytes: usize,
    /// Every `sample_every`-th message is sampled (a later duplicate `_id` replaces it).
    sample_every: u64,
    messages: u64,
    sampled_messages: HashMap<String, String>,
    sampled_tokens: Vec<(String, String)>,
}

impl<'a> Writer<'a> {
    /// A writer of an import of `messages` messages (which sets how many it samples).
    pub(super) fn new(store: &'a Store, messages: u64) -> Self {
        Writer {
            store,
            batch: Import::default(),
            documents: 0,
            bytes: 0,
            sample_every: (messages / SELF_CHECK_MESSAGES).max(1),
            messages: 0,
            sampled_messages: HashMap::new(),
            sampled_tokens: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, p: Prepared) -> anyhow::Result<()> {
        self.documents += 1;
        self.sample(&p);
        match p {
            Prepared::Setting(s) => self.batch.settings.push(s),
            Prepared::User(u) => self.batch.users.push(u),
            Prepared::Room(r) => self.batch.rooms.push(r),
            Prepared::Subscription(s) => self.batch.subscriptions.push(s),
            Prepared::Team(t) => self.batch.teams.push(t),
            Prepared::TeamMember(m) => self.batch.team_members.push(m),
            Prepared::Message(m) => {
                self.bytes += m.message.raw().get().len();
                self.batch.messages.push(m);
            }
            Prepared::Device(d) => self.batch.push_tokens.push(d),
        }
        if self.documents >= BATCH_DOCUMENTS || self.bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn sample(&mut self, p: &Prepared) {
        match p {
            Prepared::Message(m) => {
                let json = m.message.raw().get();
                if self.messages.is_multiple_of(self.sample_every)
                    || self.sampled_messages.contains_key(&m.id)
                {
                    self.sampled_messages.insert(m.id.clone(), json.to_string());
                }
                self.messages += 1;
            }
            Prepared::User(u) if self.sampled_tokens.len() < SELF_CHECK_USERS => {
                if let Some((hash, token)) = u.tokens.first() {
                    self.sampled_tokens
                        .push((hash.clone(), token.user_id.clone()));
                }
            }
            _ => {}
        }
    }

    /// Reads the sample back: each message as written, each token resolving to its user.
    pub(super) fn self_check(&self) -> anyhow::Result<(usize, usize)> {
        for (id, json) in &self.sampled_messages {
            let stored = self.store.message(id)?;
            if stored.as_ref().map(|m| m.raw().get()) != Some(json.as_str()) {
                bail!("self-check: message {id} does not read back as written; run the same command again");
            }
        }
        for (hash, user) in &self.sampled_tokens {
            if self
                .store
                .login_token(hash)?
                .map(|t| t.user_id.clone())
                .as_ref()
                != Some(user)
            {
                bail!("self-check: a login token of user {user} does not resolve to them; run the same command again");
            }
        }
        Ok((self.sampled_messages.len(), self.sampled_tokens.len()))
    }

    pub(super) fn flush(&mut self) -> anyhow::Result<()> {
        if self.documents > 0 {
            self.store.import(&std::mem::take(&mut self.batch))?;
            self.documents = 0;
            self.bytes = 0;
        }
        Ok(())
    }
}
