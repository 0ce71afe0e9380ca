//! Narrow views of the store: each service area holds the view of its own data, so that
//! the code of one area cannot reach another's writes. A view is the same `Store` (same
//! transactions, caches and contract, see `mod.rs`); it only forwards its area's methods.

use std::sync::Arc;

use super::{
    DeliveryFilter, DeliveryPage, DeliveryRecord, Finish, LoginToken, PendingPush, Registration,
    Snapshot, Store, StoreResult,
};
use crate::model::push_token::PushToken;
use crate::model::user::{Identity, Names};
use crate::model::{Doc, Room, Subscription, User};

/// Declares a view: a struct over `Store`, the `Store` method that hands it out and the
/// methods it forwards (each with `Store`'s own signature and contract).
macro_rules! view {
    (
        $(#[$doc:meta])*
        $name:ident = Store::$getter:ident {
            $( fn $method:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Store);

        impl Store {
            $(#[$doc])*
            pub fn $getter(&self) -> $name {
                $name(self.clone())
            }
        }

        impl $name {
            $(
                pub fn $method(&self $(, $arg: $ty)*) -> $ret {
                    self.0.$method($($arg),*)
                }
            )*
        }
    };
}

view! {
    /// Testing mode's reset: the whole database back to its start-up state.
    SnapshotsView = Store::snapshots {
        fn restore(&self, snapshot: &Snapshot) -> StoreResult<()>;
    }
}

view! {
    /// Logging in and out: users' credentials and login tokens, and the push devices a
    /// session registered (which a logout forgets).
    AccountsView = Store::accounts {
        fn login_token(&self, token_hash: &str) -> StoreResult<Option<Arc<LoginToken>>>;
        fn user(&self, id: &str) -> StoreResult<Option<User>>;
        fn user_identity(&self, id: &str) -> StoreResult<Option<Arc<Identity>>>;
        fn user_id_by_username(&self, username: &str) -> StoreResult<Option<String>>;
        fn user_id_by_email(&self, email: &str) -> StoreResult<Option<String>>;
        fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>>;
        fn add_login_token(
            &self,
            token_hash: &str,
            token: &LoginToken,
            upgrade: Option<(&str, &str)>
        ) -> StoreResult<()>;
        fn remove_login_token(&self, token_hash: &str) -> StoreResult<bool>;
        fn delete_push_tokens_of_session(
            &self,
            user_id: &str,
            auth_token_hash: &str
        ) -> StoreResult<usize>;
    }
}

view! {
    /// Room access: rooms (a discussion's parents) and the caller's subscription.
    AccessView = Store::access {
        fn room(&self, id: &str) -> StoreResult<Option<Arc<Room>>>;
        fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>>;
    }
}

view! {
    /// The realtime streams: who a subscriber is and what they may read (rooms, their
    /// members and subscriptions).
    StreamsView = Store::streams {
        fn room(&self, id: &str) -> StoreResult<Option<Arc<Room>>>;
        fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>>;
        fn room_member_ids(&self, room_id: &str) -> StoreResult<Vec<String>>;
        fn user_identity(&self, id: &str) -> StoreResult<Option<Arc<Identity>>>;
    }
}

view! {
    /// Push: what push.get reads, devices, and the outbox pushes are queued in.
    PushView = Store::pushes {
        fn message_version(&self, id: &str) -> u64;
        fn message_json(&self, id: &str) -> StoreResult<Option<Box<str>>>;
        fn room_version(&self, id: &str) -> u64;
        fn user_version(&self, id: &str) -> u64;
        fn user_names(&self, id: &str) -> StoreResult<Option<Arc<Names>>>;
        fn user_identities(&self, ids: &[&str]) -> StoreResult<Vec<Option<Arc<Identity>>>>;
        fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>>;
        fn badge(&self, user_id: &str) -> StoreResult<i64>;
        fn register_push_token(&self, r: &Registration) -> StoreResult<PushToken>;
        fn delete_push_tokens_of_user_by_value(
            &self,
            user_id: &str,
            value: &str
        ) -> StoreResult<usize>;
        fn push_tokens_of_user(&self, user_id: &str) -> StoreResult<Vec<PushToken>>;
        fn push_tokens_of_users(&self, user_ids: &[&str]) -> StoreResult<Vec<Vec<PushToken>>>;
        fn enqueue_pushes(&self, pushes: &[PendingPush]) -> StoreResult<()>;
        fn finish_pushes(
            &self,
            outcomes: &[(&PendingPush, Finish)],
            records: &[DeliveryRecord]
        ) -> StoreResult<Vec<usize>>;
    }
}

view! {
    /// The permission changes admins make (`permissions.update`).
    PermissionsView = Store::permissions {
        fn put_permissions(&self, permissions: &[Doc]) -> StoreResult<()>;
    }
}

view! {
    /// The admin page: the outbox's head, the delivery log, a user's devices, its sessions.
    AdminView = Store::admin {
        fn login_token(&self, token_hash: &str) -> StoreResult<Option<Arc<LoginToken>>>;
        fn user(&self, id: &str) -> StoreResult<Option<User>>;
        fn user_identity(&self, id: &str) -> StoreResult<Option<Arc<Identity>>>;
        fn user_id_by_username(&self, username: &str) -> StoreResult<Option<String>>;
        fn push_tokens_of_user(&self, user_id: &str) -> StoreResult<Vec<PushToken>>;
        fn due_pushes(&self, now: i64, limit: usize) -> StoreResult<Vec<PendingPush>>;
        fn outbox_len(&self) -> StoreResult<usize>;
        fn deliveries(
            &self,
            filter: &DeliveryFilter,
            offset: usize,
            count: usize
        ) -> StoreResult<DeliveryPage>;
    }
}
