//! How a new message changes the other members' subscriptions (`notifyUsersOnMessage`):
//! `alert`/`open` always, `unread` according to `Unread_Count` / `Unread_Count_DM`, and the
//! `userMentions` / `groupMentions` counters.

use crate::model::RoomType;

/// `Unread_Count` / `Unread_Count_DM`: which messages a member's `unread` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnreadCount {
    AllMessages,
    UserMentionsOnly,
    GroupMentionsOnly,
    UserAndGroupMentionsOnly,
    /// Any other value: Rocket.Chat then counts only direct messages.
    #[default]
    Other,
}

impl UnreadCount {
    pub fn parse(value: &str) -> UnreadCount {
        match value {
            "all_messages" => UnreadCount::AllMessages,
            "user_mentions_only" => UnreadCount::UserMentionsOnly,
            "group_mentions_only" => UnreadCount::GroupMentionsOnly,
            "user_and_group_mentions_only" => UnreadCount::UserAndGroupMentionsOnly,
            _ => UnreadCount::Other,
        }
    }
}

/// The counters to add to one member's subscription; stored as `[unread, userMentions,
/// groupMentions]` in a room's bump records (`counters::RoomBump`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(from = "[i64; 3]", into = "[i64; 3]")]
pub struct Bump {
    pub unread: i64,
    pub user_mentions: i64,
    pub group_mentions: i64,
}

impl From<[i64; 3]> for Bump {
    fn from([unread, user_mentions, group_mentions]: [i64; 3]) -> Bump {
        Bump {
            unread,
            user_mentions,
            group_mentions,
        }
    }
}

impl From<Bump> for [i64; 3] {
    fn from(b: Bump) -> [i64; 3] {
        [b.unread, b.user_mentions, b.group_mentions]
    }
}

/// What the rule needs to know about the message and one receiving member.
pub struct Facts {
    pub room_type: RoomType,
    /// `Unread_Count` for c/p rooms, `Unread_Count_DM` for DMs.
    pub unread_setting: UnreadCount,
    pub mentions_member: bool,
    pub mentions_all_or_here: bool,
}

/// The bump for a member who is not the sender.
pub fn bump(f: &Facts) -> Bump {
    let direct_like = matches!(f.room_type, RoomType::Direct | RoomType::Livechat);
    let counts = |kind: UnreadCount| {
        direct_like
            || matches!(
                f.unread_setting,
                UnreadCount::AllMessages | UnreadCount::UserAndGroupMentionsOnly
            )
            || f.unread_setting == kind
    };
    if f.mentions_member {
        return Bump {
            unread: counts(UnreadCount::UserMentionsOnly) as i64,
            user_mentions: 1,
            group_mentions: 0,
        };
    }
    if f.mentions_all_or_here {
        return Bump {
            unread: counts(UnreadCount::GroupMentionsOnly) as i64,
            user_mentions: 0,
            group_mentions: 1,
        };
    }
    Bump {
        unread: (f.unread_setting == UnreadCount::AllMessages) as i64,
        ..Bump::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn facts(t: &str, s: &str, user: bool, group: bool) -> Facts {
        Facts {
            room_type: RoomType::of(t),
            unread_setting: UnreadCount::parse(s),
            mentions_member: user,
            mentions_all_or_here: group,
        }
    }

    #[test]
    fn defaults() {
        let plain_channel = bump(&facts("c", "user_and_group_mentions_only", false, false));
        assert_eq!(plain_channel.unread, 0);
        assert_eq!(bump(&facts("d", "all_messages", false, false)).unread, 1);
        let mention = bump(&facts("c", "user_and_group_mentions_only", true, true));
        assert_eq!(
            (
                mention.unread,
                mention.user_mentions,
                mention.group_mentions
            ),
            (1, 1, 0)
        );
        let all = bump(&facts("p", "user_and_group_mentions_only", false, true));
        assert_eq!((all.unread, all.group_mentions), (1, 1));
        assert_eq!(
            bump(&facts("c", "group_mentions_only", true, false)).unread,
            0
        );
    }

    proptest! {
        #[test]
        fn unread_grows_by_at_most_one(
            t in prop::sample::select(vec!["c", "p", "d", "l"]),
            s in prop::sample::select(vec!["all_messages", "user_mentions_only", "group_mentions_only", "user_and_group_mentions_only", "mentions_only"]),
            user: bool, group: bool,
        ) {
            let b = bump(&facts(t, s, user, group));
            prop_assert!((0..=1).contains(&b.unread));
            prop_assert!(b.user_mentions + b.group_mentions <= 1);
            if s == "all_messages" { prop_assert_eq!(b.unread, 1); }
        }
    }
}
