//! Which user and room names are accepted.

/// Rocket.Chat's default `UTF8_User_Names_Validation` and `UTF8_Channel_Names_Validation`,
/// both `[0-9a-zA-Z-_.]+`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `usernameIsBlocked`: `username` is one of the comma-separated `lists` entries (trimmed,
/// letter case ignored), from `Accounts_BlockedUsernameList` and
/// `Accounts_SystemBlockedUsernameList`.
pub fn username_is_blocked(username: &str, lists: &[&str]) -> bool {
    let username = username.trim();
    lists
        .iter()
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .any(|b| b.to_lowercase() == username.to_lowercase())
}

/// An approximation of `String.prototype.localeCompare` (ICU's root collation) good for
/// names: letters compare regardless of case first, then lower case before upper case.
pub fn display_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.to_lowercase()
        .cmp(&b.to_lowercase())
        .then_with(|| b.cmp(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_names_sort_without_regard_to_case() {
        let mut names = vec!["bob", "Alice Example", "carol", "Bea", "alice"];
        names.sort_by(|a, b| display_order(a, b));
        assert_eq!(names, ["alice", "Alice Example", "Bea", "bob", "carol"]);
    }

    #[test]
    fn blocked_usernames_match_whole_names_in_any_case() {
        let lists = ["admin,administrator,system,user", " Bot , "];
        for name in ["admin", "ADMIN", "User", "bot", "system"] {
            assert!(username_is_blocked(name, &lists), "{name}");
        }
        for name in ["admins", "user2", "rocket.cat", ""] {
            assert!(!username_is_blocked(name, &lists), "{name}");
        }
    }

    proptest! {
        /// A listed name is blocked in any letter case and with spaces around it in the list.
        #[test]
        fn a_listed_name_is_blocked_whatever_its_case(name in "[a-z][a-z0-9.]{0,10}", other in "[a-z]{1,5}") {
            let list = format!("{other}, {} ,x", name.to_uppercase());
            prop_assert!(username_is_blocked(&name, &[&list]));
            prop_assert_eq!(username_is_blocked(&format!("{name}z"), &[&list]), format!("{name}z") == other);
        }

        /// The order is total and consistent: sorting twice gives the same list.
        #[test]
        fn display_order_sorts_stably(mut names in prop::collection::vec("[a-zA-Z ]{0,6}", 0..8)) {
            names.sort_by(|a, b| display_order(a, b));
            let again = { let mut n = names.clone(); n.sort_by(|a, b| display_order(a, b)); n };
            prop_assert_eq!(&names, &again);
            for w in names.windows(2) {
                prop_assert!(display_order(&w[0], &w[1]) != std::cmp::Ordering::Greater);
            }
        }

        #[test]
        fn matches_the_default_pattern(s in "\\PC{0,12}") {
            let re = regex::Regex::new(r"^[0-9a-zA-Z\-_.]+$").unwrap();
            prop_assert_eq!(valid_name(&s), re.is_match(&s));
        }
    }
}
