//! Identifiers in Rocket.Chat's formats (spec §6.1), drawn from `rand`'s thread-local CSPRNG
//! (ChaCha, seeded and reseeded from the OS): drawing each character from the OS instead
//! cost a system call per character, hundreds per posted message. In deterministic testing
//! mode (`--deterministic SEED`) the server draws them from a generator of that seed instead
//! (`Ids`), so that two runs make the same ids and login tokens.

use std::sync::Arc;

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

/// `Random.id()`'s alphabet: 55 characters without the look-alikes `0 1 I O U V l`.
const ID_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
/// `Random.secret()`'s alphabet (base64url).
const SECRET_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

fn draw(rng: &mut impl RngCore, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// Where a server's new ids and login tokens come from: the thread-local CSPRNG, or a
/// generator seeded for a deterministic test run. Cheap to clone; clones share the generator.
#[derive(Clone, Default)]
pub struct Ids {
    seeded: Option<Arc<Mutex<Seeded>>>,
}

struct Seeded {
    rng: StdRng,
    /// The generator as `mark_start` found it, which `restart` goes back to.
    start: StdRng,
}

impl Ids {
    /// Ids from a generator of `seed`: the same seed, the same sequence (for one build of
    /// rcpush; `rand`'s `StdRng` may change between its versions).
    pub fn seeded(seed: u64) -> Ids {
        let rng = StdRng::seed_from_u64(seed);
        Ids {
            seeded: Some(Arc::new(Mutex::new(Seeded {
                start: rng.clone(),
                rng,
            }))),
        }
    }

    fn draw(&self, alphabet: &[u8], len: usize) -> String {
        match &self.seeded {
            Some(s) => draw(&mut s.lock().rng, alphabet, len),
            None => draw(&mut rand::thread_rng(), alphabet, len),
        }
    }

    /// A 17-character document id, as `Random.id()` makes them.
    pub fn id(&self) -> String {
        self.draw(ID_ALPHABET, 17)
    }

    /// A 43-character login token, as `Random.secret()` makes them.
    pub fn secret(&self) -> String {
        self.draw(SECRET_ALPHABET, 43)
    }

    /// A random UUIDv4 string, the shape of Rocket.Chat's `uniqueID` setting.
    pub fn uuid(&self) -> String {
        let mut b = [0u8; 16];
        match &self.seeded {
            Some(s) => s.lock().rng.fill_bytes(&mut b),
            None => rand::thread_rng().fill_bytes(&mut b),
        }
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// Remembers the generator's state now (once start-up is done) for `restart`.
    pub fn mark_start(&self) {
        if let Some(s) = &self.seeded {
            let mut s = s.lock();
            s.start = s.rng.clone();
        }
    }

    /// Back to the state `mark_start` kept (a testing reset).
    pub fn restart(&self) {
        if let Some(s) = &self.seeded {
            let mut s = s.lock();
            s.rng = s.start.clone();
        }
    }
}

/// Declares a document id type: a string that says which collection it points into, so
/// that a room id cannot be passed where a user id is meant.
macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A user's `_id`.
    UserId
);
id_type!(
    /// A room's `_id` (also a subscription's `rid`).
    RoomId
);
id_type!(
    /// A message's `_id`.
    MessageId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_rocket_chat_shapes() {
        let ids = Ids::default();
        let id = ids.id();
        assert_eq!(id.len(), 17);
        assert!(id.bytes().all(|c| ID_ALPHABET.contains(&c)));
        let s = ids.secret();
        assert_eq!(s.len(), 43);
        assert!(s.bytes().all(|c| SECRET_ALPHABET.contains(&c)));
        let u = ids.uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }

    #[test]
    fn a_seed_gives_the_same_ids_again_and_restart_repeats_them() {
        let (a, b) = (Ids::seeded(7), Ids::seeded(7));
        let first: Vec<String> = (0..3).map(|_| a.id()).collect();
        assert_eq!(first, (0..3).map(|_| b.id()).collect::<Vec<_>>());
        assert_ne!(first[0], Ids::seeded(8).id());
        a.mark_start();
        let after = (a.secret(), a.uuid());
        a.restart();
        assert_eq!(after, (a.secret(), a.uuid()));
    }
}
