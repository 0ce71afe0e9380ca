//! The rules: plain functions over plain types, with no I/O, clock or randomness, so that
//! they can be tested and property-tested on their own.

pub mod access;
pub mod bad_words;
pub mod counters;
pub mod credentials;
pub mod ddp_rate;
pub mod e2e;
pub mod history;
pub mod js;
pub mod login_throttle;
pub mod markdown_filter;
pub mod mentions;
pub mod message_changes;
pub mod message_fields;
pub mod names;
pub mod not_id;
pub mod notification;
pub mod preferences;
pub mod presence;
pub mod push;
pub mod reactions;
pub mod streams;
pub mod text;
pub mod unread;
pub mod user_profile;
