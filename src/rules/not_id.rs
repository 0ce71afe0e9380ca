//! `notId`: the signed 32-bit hash Rocket.Chat sends with every push, `hash` of
//! `${uniqueID}|${rid}` (PushNotification.ts `hash` and `getNotificationId`,
//! rocketchat-push.md §2.4).
//!
//! JavaScript strings are UTF-16, so the hash runs over UTF-16 code units, last to first, with
//! 32-bit wrapping arithmetic; this reproduces that exactly.

/// The `hash` of PushNotification.ts: `h = (h << 5) - h + unit` over the UTF-16 code units from
/// the last to the first, wrapping to a signed 32-bit integer at every step.
pub fn js_hash(s: &str) -> i32 {
    hash_units(utf16_backwards(s))
}

/// `notId`: the hash of `${uniqueID}|${rid}` (PushNotification.ts `getNotificationId`), computed
/// without building the joined string.
pub fn not_id(unique_id: &str, rid: &str) -> i32 {
    let joined_backwards = utf16_backwards(rid)
        .chain(std::iter::once(u16::from(b'|')))
        .chain(utf16_backwards(unique_id));
    hash_units(joined_backwards)
}

/// The UTF-16 code units of `s`, last first (`encode_utf16` cannot run backwards).
fn utf16_backwards(s: &str) -> impl Iterator<Item = u16> + '_ {
    s.chars().rev().flat_map(|c| {
        let mut units = [0u16; 2];
        let len = c.encode_utf16(&mut units).len();
        units.into_iter().take(len).rev()
    })
}

fn hash_units(units: impl Iterator<Item = u16>) -> i32 {
    units.fold(0i32, |h, unit| {
        h.wrapping_shl(5)
            .wrapping_sub(h)
            .wrapping_add(i32::from(unit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference notId hash: UTF-16 units in a vector, 64-bit arithmetic, explicit wrap.
    fn reference_hash(s: &str) -> i32 {
        let units: Vec<u16> = s.encode_utf16().collect();
        let mut h: i64 = 0;
        let mut i = units.len();
        while i > 0 {
            i -= 1;
            h = h * 31 + i64::from(units[i]);
            h = h.rem_euclid(1 << 32);
            if h >= 1 << 31 {
                h -= 1 << 32;
            }
        }
        i32::try_from(h).unwrap()
    }

    #[test]
    fn js_hash_matches_the_spec_vectors() {
        let vectors = [
            ("", 0),
            ("a", 97),
            ("abc", 98274),
            ("ba", 3105),
            (
                "4fec3c2d-0b4c-4d6d-9a3b-2f1e6f2c9a10|GENERAL",
                -1_605_295_764,
            ),
            ("X7yQ3bPz2kMhT8aLc|iu7jtPAhvEeAS5tNq", -469_732_132),
            ("\u{1F600}|x", 5_511_233),
            ("E8A88JP-rcpush-demo|iu7jtPAhvEeAS5tNq", 654_494_840),
        ];
        for (input, expected) in vectors {
            assert_eq!(js_hash(input), expected, "{input:?}");
        }
        assert_eq!(
            not_id("E8A88JP-rcpush-demo", "iu7jtPAhvEeAS5tNq"),
            654_494_840
        );
        assert_eq!(
            not_id("X7yQ3bPz2kMhT8aLc", "iu7jtPAhvEeAS5tNq"),
            -469_732_132
        );
    }

    proptest! {
        #[test]
        fn js_hash_equals_the_reference(s in any::<String>()) {
            prop_assert_eq!(js_hash(&s), reference_hash(&s));
        }

        #[test]
        fn not_id_hashes_the_joined_string(unique_id in any::<String>(), rid in any::<String>()) {
            prop_assert_eq!(not_id(&unique_id, &rid), reference_hash(&format!("{unique_id}|{rid}")));
        }
    }
}
