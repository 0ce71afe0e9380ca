//! Which user and room names are accepted.

/// Rocket.Chat's default `UTF8_User_Names_Validation` and `UTF8_Channel_Names_Validation`,
/// both `[0-9a-zA-Z-_.]+`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_the_default_pattern(s in "\\PC{0,12}") {
            let re = regex::Regex::new(r"^[0-9a-zA-Z\-_.]+$").unwrap();
            prop_assert_eq!(valid_name(&s), re.is_match(&s));
        }
    }
}
