//! End-to-end encryption, the server's part: encryption happens on the clients; the server
//! only marks new rooms `encrypted` by default and, when the workspace asks for it, refuses
//! plain messages in encrypted rooms (Rocket.Chat's `prepareCreateRoomCallback` and
//! `executeSendMessage`). Encrypted messages (`t: "e2e"`) are stored as sent, without an
//! `md` (the server cannot read them), and pushed as "Encrypted message".

use crate::model::RoomType;

/// The message type of an end-to-end encrypted message, the one type a client may set.
pub const E2E_MESSAGE: &str = "e2e";

/// `E2E_Enable`, `E2E_Allow_Unencrypted_Messages`, `E2E_Enabled_Default_PrivateRooms` and
/// `E2E_Enabled_Default_DirectRooms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct E2eSettings {
    pub enabled: bool,
    pub allow_unencrypted_messages: bool,
    pub default_private_rooms: bool,
    pub default_direct_rooms: bool,
}

impl E2eSettings {
    /// Whether a new room of `room_type` is created encrypted: the client's own choice
    /// (`extraData.encrypted`) stands, and only private groups and DMs get the workspace's
    /// default, and only while end-to-end encryption is on.
    pub fn new_room_encrypted(&self, room_type: RoomType, asked: Option<bool>) -> Option<bool> {
        let default = self.enabled
            && match room_type {
                RoomType::Group => self.default_private_rooms,
                RoomType::Direct => self.default_direct_rooms,
                _ => false,
            };
        match (asked, default) {
            (Some(asked), _) => Some(asked),
            (None, true) => Some(true),
            (None, false) => None,
        }
    }

    /// Whether a message of type `t` is refused in a room whose `encrypted` flag is
    /// `room_encrypted`: only when encryption is on and plain messages are not allowed,
    /// and then everything but an encrypted message.
    pub fn refuses(&self, room_encrypted: bool, t: Option<&str>) -> bool {
        room_encrypted && self.enabled && !self.allow_unencrypted_messages && t != Some(E2E_MESSAGE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn settings() -> impl Strategy<Value = E2eSettings> {
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c, d)| {
            E2eSettings {
                enabled: a,
                allow_unencrypted_messages: b,
                default_private_rooms: c,
                default_direct_rooms: d,
            }
        })
    }

    fn room_type() -> impl Strategy<Value = RoomType> {
        prop::sample::select(vec![
            RoomType::Channel,
            RoomType::Group,
            RoomType::Direct,
            RoomType::Livechat,
        ])
    }

    #[test]
    fn plain_messages_are_refused_only_when_the_workspace_says_so() {
        let strict = E2eSettings {
            enabled: true,
            ..E2eSettings::default()
        };
        assert!(strict.refuses(true, None));
        assert!(strict.refuses(true, Some("uj")));
        assert!(!strict.refuses(true, Some("e2e")));
        assert!(!strict.refuses(false, None));
        let lenient = E2eSettings {
            allow_unencrypted_messages: true,
            ..strict
        };
        assert!(!lenient.refuses(true, None));
        assert!(!E2eSettings::default().refuses(true, None));
    }

    #[test]
    fn private_groups_and_dms_are_encrypted_by_default_when_asked_to() {
        let on = E2eSettings {
            enabled: true,
            default_private_rooms: true,
            ..E2eSettings::default()
        };
        assert_eq!(on.new_room_encrypted(RoomType::Group, None), Some(true));
        assert_eq!(
            on.new_room_encrypted(RoomType::Group, Some(false)),
            Some(false)
        );
        assert_eq!(on.new_room_encrypted(RoomType::Channel, None), None);
        assert_eq!(on.new_room_encrypted(RoomType::Direct, None), None);
        let off = E2eSettings {
            enabled: false,
            ..on
        };
        assert_eq!(off.new_room_encrypted(RoomType::Group, None), None);
    }

    proptest! {
        /// An encrypted message is never refused, and a room that is not encrypted refuses
        /// nothing.
        #[test]
        fn encrypted_messages_and_plain_rooms_pass(s in settings(), encrypted in any::<bool>(), t in proptest::option::of("[a-z0-9-]{0,6}")) {
            prop_assert!(!s.refuses(encrypted, Some(E2E_MESSAGE)));
            prop_assert!(!s.refuses(false, t.as_deref()));
            prop_assert_eq!(
                s.refuses(true, t.as_deref()),
                s.enabled && !s.allow_unencrypted_messages && t.as_deref() != Some(E2E_MESSAGE)
            );
        }

        /// The client's choice always stands; without one, only groups and DMs are ever
        /// marked, never with encryption off, and never `false`.
        #[test]
        fn the_default_only_fills_in(s in settings(), t in room_type(), asked in proptest::option::of(any::<bool>())) {
            let got = s.new_room_encrypted(t, asked);
            match asked {
                Some(a) => prop_assert_eq!(got, Some(a)),
                None => {
                    prop_assert!(got != Some(false));
                    if got == Some(true) {
                        prop_assert!(s.enabled && matches!(t, RoomType::Group | RoomType::Direct));
                    }
                }
            }
        }
    }
}
