//! Identifiers in Rocket.Chat's formats (spec §6.1), drawn from `rand`'s thread-local CSPRNG
//! (ChaCha, seeded and reseeded from the OS): drawing each character from the OS instead
//! cost a system call per character, hundreds per posted message.

use rand::Rng;

/// `Random.id()`'s alphabet: 55 characters without the look-alikes `0 1 I O U V l`.
const ID_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
/// `Random.secret()`'s alphabet (base64url).
const SECRET_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

fn draw(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
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

/// A 17-character document id, as `Random.id()` makes them.
pub fn new_id() -> String {
    draw(ID_ALPHABET, 17)
}

/// A 43-character login token, as `Random.secret()` makes them.
pub fn new_secret() -> String {
    draw(SECRET_ALPHABET, 43)
}

/// A random UUIDv4 string, the shape of Rocket.Chat's `uniqueID` setting.
pub fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::thread_rng().gen();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_rocket_chat_shapes() {
        let id = new_id();
        assert_eq!(id.len(), 17);
        assert!(id.bytes().all(|c| ID_ALPHABET.contains(&c)));
        let s = new_secret();
        assert_eq!(s.len(), 43);
        assert!(s.bytes().all(|c| SECRET_ALPHABET.contains(&c)));
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
