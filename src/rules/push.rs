//! Who gets a mobile push for a new message (spec §5.1).

/// What `shouldNotifyMobile` looks at for one member.
#[derive(Debug, Clone, Copy)]
pub struct MobileFacts<'a> {
    /// `Push_enable`.
    pub push_enabled: bool,
    /// The subscription's `mobilePushNotifications` (`all`, `mentions`, `nothing`, `default`).
    pub preference: Option<&'a str>,
    /// `Accounts_Default_User_Preferences_pushNotifications`.
    pub default_preference: &'a str,
    pub room_type: &'a str,
    pub mentions_member: bool,
    /// `@all` or `@here`.
    pub mentions_all: bool,
}

/// `shouldNotifyMobile` without presence (nobody is online here) or threads.
pub fn should_notify_mobile(f: &MobileFacts) -> bool {
    if !f.push_enabled {
        return false;
    }
    let preference = f.preference.filter(|p| !p.is_empty() && *p != "default");
    match preference {
        Some("nothing") => return false,
        None if f.default_preference == "all" => return true,
        None if f.default_preference == "nothing" => return false,
        _ => {}
    }
    f.room_type == "d" || f.mentions_all || f.mentions_member || preference == Some("all")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(
        pref: Option<&'static str>,
        t: &'static str,
        user: bool,
        all: bool,
    ) -> MobileFacts<'static> {
        MobileFacts {
            push_enabled: true,
            preference: pref,
            default_preference: "all",
            room_type: t,
            mentions_member: user,
            mentions_all: all,
        }
    }

    #[test]
    fn preferences_decide() {
        assert!(should_notify_mobile(&facts(None, "c", false, false)));
        assert!(!should_notify_mobile(&facts(
            Some("nothing"),
            "d",
            true,
            true
        )));
        assert!(!should_notify_mobile(&facts(
            Some("mentions"),
            "c",
            false,
            false
        )));
        assert!(should_notify_mobile(&facts(
            Some("mentions"),
            "c",
            true,
            false
        )));
        assert!(should_notify_mobile(&facts(
            Some("mentions"),
            "p",
            false,
            true
        )));
        assert!(should_notify_mobile(&facts(
            Some("mentions"),
            "d",
            false,
            false
        )));
        assert!(should_notify_mobile(&facts(Some("all"), "c", false, false)));
        let off = MobileFacts {
            push_enabled: false,
            ..facts(Some("all"), "d", true, true)
        };
        assert!(!should_notify_mobile(&off));
        let default_mentions = MobileFacts {
            default_preference: "mentions",
            ..facts(None, "c", false, false)
        };
        assert!(!should_notify_mobile(&default_mentions));
    }
}
