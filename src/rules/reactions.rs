//! Reactions on a message, as Rocket.Chat's `executeSetReaction` decides them
//! (`app/reactions/server/setReaction.ts`): the emoji's name, whether it is one, and
//! whether a call adds or removes the caller's reaction.

/// The name a reaction is stored under: every `:` dropped, then one on each side
/// (`thumbsup`, `:thumbsup:` and `thumbs:up` all give `:thumbsup:`).
pub fn shortname(reaction: &str) -> String {
    format!(":{}:", reaction.replace(':', ""))
}

/// Whether `shortname` (as `shortname` makes it) names an emoji of Rocket.Chat's list
/// (JoyPixels' names and their alternates, exact and lower case). rcpush has no custom
/// emoji, so no other name is one.
pub fn is_known_emoji(shortname: &str) -> bool {
    // The converter replaces exactly the names of the list and nothing else, and a
    // shortname holds no other `:` to start a name at.
    !shortname.is_empty() && emoji::shortname_to_unicode(shortname) != shortname
}

/// What the caller asked for: `shouldReact` absent (or `null`) toggles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wish {
    Toggle,
    Set(bool),
}

impl Wish {
    /// `shouldReact` as given.
    pub fn of(should_react: Option<bool>) -> Wish {
        should_react.map_or(Wish::Toggle, Wish::Set)
    }
}

/// What becomes of the caller's reaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Add,
    Remove,
}

/// `already`: whether the caller reacted so, `None` when the message has no reactions at
/// all. `None` for nothing to do.
///
/// Rocket.Chat compares `shouldReact` with `message.reactions && …`, which is `undefined`
/// on a message without reactions, so an explicit `shouldReact: false` there does not stop
/// the call, which then adds the reaction. rcpush keeps that: a client written against
/// Rocket.Chat sees the same message.
pub fn decide(already: Option<bool>, wish: Wish) -> Option<Step> {
    if let Wish::Set(wanted) = wish {
        if already == Some(wanted) {
            return None;
        }
    }
    match already {
        Some(true) => Some(Step::Remove),
        _ => Some(Step::Add),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_lose_every_colon_and_gain_two() {
        assert_eq!(shortname("thumbsup"), ":thumbsup:");
        assert_eq!(shortname(":thumbsup:"), ":thumbsup:");
        assert_eq!(shortname("::thumbs:up"), ":thumbsup:");
        assert_eq!(shortname(""), "::");
    }

    #[test]
    fn known_emoji_are_the_lists_exact_names() {
        for name in [":thumbsup:", ":+1:", ":thumbup:", ":smile:", ":+1_tone3:"] {
            assert!(is_known_emoji(name), "{name}");
        }
        for name in ["::", ":THUMBSUP:", ":party_parrot:", ":smile :", ":<img>:"] {
            assert!(!is_known_emoji(name), "{name}");
        }
    }

    #[test]
    fn the_calls_decisions() {
        use Step::*;
        use Wish::*;
        let table = [
            (None, Toggle, Some(Add)),
            (Some(false), Toggle, Some(Add)),
            (Some(true), Toggle, Some(Remove)),
            (None, Set(true), Some(Add)),
            (Some(false), Set(true), Some(Add)),
            (Some(true), Set(true), None),
            // Rocket.Chat's `undefined === false` is false: it goes on and adds.
            (None, Set(false), Some(Add)),
            (Some(false), Set(false), None),
            (Some(true), Set(false), Some(Remove)),
        ];
        for (already, wish, step) in table {
            assert_eq!(decide(already, wish), step, "{already:?} {wish:?}");
        }
    }

    proptest! {
        /// A name is a fixed point: normalising twice changes nothing.
        #[test]
        fn shortname_is_idempotent(s in ".{0,12}") {
            let once = shortname(&s);
            prop_assert_eq!(shortname(&once), once.clone());
            prop_assert!(once.starts_with(':') && once.ends_with(':'));
        }

        /// Whenever a reaction exists (the message has some), asking for a state ends in
        /// that state.
        #[test]
        fn an_explicit_wish_is_met(already: bool, wanted: bool) {
            let after = match decide(Some(already), Wish::Set(wanted)) {
                None => already,
                Some(Step::Add) => true,
                Some(Step::Remove) => false,
            };
            prop_assert_eq!(after, wanted);
        }
    }
}
