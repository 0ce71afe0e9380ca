//! Narrow views of the store: each service area holds the view of its own data, so that
//! the code of one area cannot reach another's writes. A view is the same `Store` (same
//! transactions, caches and contract, see `mod.rs`); it only forwards its area's methods.

use std::sync::Arc;

use super::{
    Activation, DeliveryFilter, DeliveryPage, LoginToken, NewMessage, OutboxRecord, PendingPush,
    Registration, Removal, RoomDevices, Snapshot, Store, StoreResult, SystemMessage, TeamExit,
    WriteError,
};
use crate::model::push_token::PushToken;
use crate::model::user::{Identity, Names};
use crate::model::{Doc, Message, Room, Subscription, Team, TeamMember, User};
use crate::rules::message_changes::MessageMutation;
use crate::rules::presence::StatusChange;
use crate::rules::user_profile::ProfileChange;

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
    /// Room access: rooms (a discussion's parents), the caller's subscription, and the
    /// team of a public room with the caller's membership of it.
    AccessView = Store::access {
        fn room(&self, id: &str) -> StoreResult<Option<Arc<Room>>>;
        fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>>;
        fn team(&self, id: &str) -> StoreResult<Option<Team>>;
        fn team_member(&self, team_id: &str, user_id: &str) -> StoreResult<Option<TeamMember>>;
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
        fn user(&self, id: &str) -> StoreResult<Option<User>>;
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
        fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>>;
        fn badge(&self, user_id: &str) -> StoreResult<i64>;
        fn register_push_token(&self, r: &Registration) -> StoreResult<PushToken>;
        fn delete_push_tokens_of_user_by_value(
            &self,
            user_id: &str,
            value: &str
        ) -> StoreResult<usize>;
        fn push_tokens_of_user(&self, user_id: &str) -> StoreResult<Vec<PushToken>>;
        fn enqueue_pushes(&self, record: &OutboxRecord) -> StoreResult<()>;
    }
}

view! {
    /// A new message's pushes: the receivers' devices and roles, and the outbox entries
    /// that testing mode takes out again once captured.
    DraftsView = Store::drafts {
        fn user_identities(&self, ids: &[&str]) -> StoreResult<Vec<Option<Arc<Identity>>>>;
        fn room_devices(&self, rid: &str) -> StoreResult<Arc<RoomDevices>>;
        fn discard_pushes(&self, ids: &[&str]) -> StoreResult<()>;
    }
}

view! {
    /// Finding users and making the DMs between them (what rooms, users and messages share).
    DirectoryView = Store::directory {
        fn user(&self, id: &str) -> StoreResult<Option<User>>;
        fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
        fn room(&self, id: &str) -> StoreResult<Option<Arc<Room>>>;
        fn create_room(&self, room: &Room, subscriptions: &[Subscription]) -> Result<(), WriteError>;
    }
}

view! {
    /// Messages: posting with its counters and pushes, reading, editing and deleting, and
    /// the rooms, users and members a message is checked against and mentions.
    MessagesView = Store::messages {
        fn message(&self, id: &str) -> StoreResult<Option<Message>>;
        fn room(&self, id: &str) -> StoreResult<Option<Arc<Room>>>;
        fn room_by_name(&self, name: &str) -> StoreResult<Option<Arc<Room>>>;
        fn user(&self, id: &str) -> StoreResult<Option<User>>;
        fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
        fn user_identity(&self, id: &str) -> StoreResult<Option<Arc<Identity>>>;
        fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>>;
        fn room_member_ids(&self, room_id: &str) -> StoreResult<Vec<String>>;
        fn room_subscriptions(
            &self,
            room_id: &str,
            user_ids: &[&str]
        ) -> StoreResult<Vec<Subscription>>;
        fn insert_message(&self, new: &NewMessage) -> Result<Option<OutboxRecord>, WriteError>;
        fn room_messages(&self, room_id: &str) -> StoreResult<Vec<Message>>;
    }
}

/// Generic, so not declared through `view!`.
impl MessagesView {
    pub fn modify_message<M: MessageMutation>(
        &self,
        id: &str,
        mutation: &M,
    ) -> StoreResult<Option<M::Outcome>> {
        self.0.modify_message(id, mutation)
    }
}

view! {
    /// Rooms and their members: creating, finding, joining, leaving, renaming, erasing.
    RoomsView = Store::rooms {
        fn room(&self, id: &str) -> StoreResult<Option<Arc<Room>>>;
        fn room_by_name(&self, name: &str) -> StoreResult<Option<Arc<Room>>>;
        fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
        fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>>;
        fn create_room(&self, room: &Room, subscriptions: &[Subscription]) -> Result<(), WriteError>;
        fn team(&self, id: &str) -> StoreResult<Option<Team>>;
        fn create_team_room(
            &self,
            room: &Room,
            subscriptions: &[Subscription],
            notes: &[SystemMessage],
            at: &str
        ) -> Result<bool, WriteError>;
        fn add_members(
            &self,
            room_id: &str,
            subscriptions: &[(Subscription, SystemMessage)],
            at: &str
        ) -> StoreResult<Option<Room>>;
        fn remove_member(
            &self,
            room_id: &str,
            user_id: &str,
            at: &str,
            note: &SystemMessage
        ) -> StoreResult<Option<Removal>>;
        fn rename_room(
            &self,
            room_id: &str,
            name: &str,
            at: &str,
            note: &SystemMessage
        ) -> Result<Option<Room>, WriteError>;
        fn erase_room(&self, room_id: &str) -> StoreResult<Option<usize>>;
        fn subscriptions_of_user(&self, user_id: &str) -> StoreResult<Vec<Subscription>>;
    }
}

view! {
    /// Teams: their documents and memberships, and the rooms and members of their rooms
    /// that creating, joining, leaving and deleting a team changes.
    TeamsView = Store::teams_view {
        fn team(&self, id: &str) -> StoreResult<Option<Team>>;
        fn team_by_name(&self, name: &str) -> StoreResult<Option<Team>>;
        fn team_member(&self, team_id: &str, user_id: &str) -> StoreResult<Option<TeamMember>>;
        fn team_members(&self, team_id: &str) -> StoreResult<Vec<TeamMember>>;
        fn team_room_ids(&self, team_id: &str) -> StoreResult<Vec<String>>;
        fn teams(&self) -> StoreResult<Vec<Team>>;
        fn user_team_ids(&self, user_id: &str) -> StoreResult<Vec<String>>;
        fn user(&self, id: &str) -> StoreResult<Option<User>>;
        fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
        fn room(&self, id: &str) -> StoreResult<Option<Arc<Room>>>;
        fn room_by_name(&self, name: &str) -> StoreResult<Option<Arc<Room>>>;
        fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>>;
        fn create_team(
            &self,
            team: &Team,
            room: &Room,
            subscriptions: &[Subscription],
            members: &[TeamMember]
        ) -> Result<(), WriteError>;
        fn add_team_members(
            &self,
            team_id: &str,
            subscriptions: &[(Subscription, SystemMessage)],
            members: &[TeamMember],
            at: &str
        ) -> StoreResult<Option<usize>>;
        fn remove_team_member(
            &self,
            team_id: &str,
            user_id: &str,
            note: &SystemMessage,
            rooms: &[(String, SystemMessage)],
            at: &str
        ) -> StoreResult<TeamExit>;
        fn unset_room_team(
            &self,
            room_id: &str,
            notes: &[SystemMessage],
            at: &str
        ) -> StoreResult<Option<Room>>;
        fn set_rooms_team(
            &self,
            room_ids: &[&str],
            team_id: &str,
            notes: &[SystemMessage],
            at: &str
        ) -> StoreResult<Vec<Room>>;
        fn delete_team(&self, team_id: &str, erase: &[String]) -> StoreResult<Option<usize>>;
    }
}

view! {
    /// Users: creating one (joined to the default rooms), and the rooms `users.info` lists.
    UsersView = Store::users {
        fn default_rooms(&self) -> StoreResult<Vec<Room>>;
        fn create_user(
            &self,
            user: &User,
            password_hash: Option<&str>,
            joins: &[(Subscription, Option<SystemMessage>)]
        ) -> Result<(), WriteError>;
        fn subscriptions_of_user(&self, user_id: &str) -> StoreResult<Vec<Subscription>>;
        fn change_user_status(&self, id: &str, change: &StatusChange) -> StoreResult<Option<bool>>;
        fn user(&self, id: &str) -> StoreResult<Option<User>>;
        fn save_user(
            &self,
            id: &str,
            change: &ProfileChange,
            password_hash: Option<&str>
        ) -> Result<Option<User>, WriteError>;
        fn save_preferences(&self, id: &str, prefs: &Doc, at: &str) -> StoreResult<Option<User>>;
        fn set_user_active(&self, id: &str, active: bool, at: &str) -> StoreResult<Activation>;
    }
}

view! {
    /// A user's own subscriptions, and marking a room read (the room, for its read check).
    SubscriptionsView = Store::subscriptions {
        fn room(&self, id: &str) -> StoreResult<Option<Arc<Room>>>;
        fn subscriptions_of_user(&self, user_id: &str) -> StoreResult<Vec<Subscription>>;
        fn subscription(&self, room_id: &str, user_id: &str) -> StoreResult<Option<Subscription>>;
        fn mark_read(
            &self,
            room_id: &str,
            user_id: &str,
            at: &str,
            read_threads: bool
        ) -> StoreResult<Option<()>>;
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
        fn pending_pushes(&self, limit: usize) -> StoreResult<Vec<PendingPush>>;
        fn outbox_len(&self) -> StoreResult<usize>;
        fn deliveries(
            &self,
            filter: &DeliveryFilter,
            offset: usize,
            count: usize
        ) -> StoreResult<DeliveryPage>;
    }
}
