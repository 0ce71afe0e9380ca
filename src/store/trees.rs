//! Every tree of the database, once, with its key layout. Names are `keyname_valuename`.
//! Composite keys join their parts with `0xFF` (never part of UTF-8), see `keys.rs`.

/// Bump when a key layout or document encoding changes, and add a migration.
pub const SCHEMA_VERSION: u32 = 2;

/// Trees of earlier schemas, dropped by the migrations: `roomtsmessageids` (schema 1) indexed
/// messages by room and time for no reader, and cost start-up time in proportion.
pub const RETIRED: [&str; 1] = ["roomtsmessageids"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tree {
    /// `"schema_version"` → decimal version.
    Meta,
    /// user id → user document (Rocket.Chat shape, without `services`).
    UseridUser,
    /// lower-cased username → user id.
    UsernameUserid,
    /// lower-cased e-mail address → user id.
    EmailUserid,
    /// user id → argon2id PHC string of the password's SHA-256 hex digest.
    UseridPassword,
    /// `base64(sha256(token))` → `{"userId","when"}`.
    TokenhashToken,
    /// room id → room document.
    RoomidRoom,
    /// room name → room id (rooms with a `name` only).
    RoomnameRoomid,
    /// user id ∙ room id → subscription document.
    UserroomidSubscription,
    /// user id ∙ room id → the bumps not yet merged into that subscription document
    /// (`rules::counters::PendingBumps`, JSON): absent, the document holds. Every read of a
    /// subscription merges them; every write of the document drops them.
    UserroomidCounters,
    /// room id ∙ user id → empty: the members of a room.
    Roomuserids,
    /// message id → message document, verbatim as served.
    MessageidMessage,
    /// setting id → setting document `{"_id","value",…}`.
    SettingidSetting,
    /// push token id → push token document (`_raix_push_app_tokens` shape).
    PushtokenidPushtoken,
    /// device token value ∙ push token id → empty (lookups by token, 406 pruning).
    Pushtokenvaluepushtokenids,
    /// user id ∙ push token id → empty (a user's devices).
    Useridpushtokenids,
    /// due time (8 bytes, order-preserving) ∙ push id → pending gateway push.
    Outbox,
    /// user id → decimal badge (`Subscriptions.getBadgeCount`), derived from the user's
    /// subscriptions in the batch that changes them (since schema 2).
    UseridBadge,
    /// permission id → `{"_id","roles","_updatedAt"}`: the roles an admin gave a permission
    /// through `permissions.update` (absent: the defaults and `[permissions]` apply).
    PermissionidPermission,
    /// time (8 bytes, order-preserving) ∙ push id ∙ attempt → delivery record: the
    /// delivery log, oldest first, trimmed by age and count.
    TspushidDelivery,
}

impl Tree {
    pub const ALL: [Tree; 20] = [
        Tree::Meta,
        Tree::UseridUser,
        Tree::UsernameUserid,
        Tree::EmailUserid,
        Tree::UseridPassword,
        Tree::TokenhashToken,
        Tree::RoomidRoom,
        Tree::RoomnameRoomid,
        Tree::UserroomidSubscription,
        Tree::UserroomidCounters,
        Tree::Roomuserids,
        Tree::MessageidMessage,
        Tree::SettingidSetting,
        Tree::PushtokenidPushtoken,
        Tree::Pushtokenvaluepushtokenids,
        Tree::Useridpushtokenids,
        Tree::Outbox,
        Tree::UseridBadge,
        Tree::PermissionidPermission,
        Tree::TspushidDelivery,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tree::Meta => "meta",
            Tree::UseridUser => "userid_user",
            Tree::UsernameUserid => "username_userid",
            Tree::EmailUserid => "email_userid",
            Tree::UseridPassword => "userid_password",
            Tree::TokenhashToken => "tokenhash_token",
            Tree::RoomidRoom => "roomid_room",
            Tree::RoomnameRoomid => "roomname_roomid",
            Tree::UserroomidSubscription => "userroomid_subscription",
            Tree::UserroomidCounters => "userroomid_counters",
            Tree::Roomuserids => "roomuserids",
            Tree::MessageidMessage => "messageid_message",
            Tree::SettingidSetting => "settingid_setting",
            Tree::PushtokenidPushtoken => "pushtokenid_pushtoken",
            Tree::Pushtokenvaluepushtokenids => "pushtokenvaluepushtokenids",
            Tree::Useridpushtokenids => "useridpushtokenids",
            Tree::Outbox => "outbox",
            Tree::UseridBadge => "userid_badge",
            Tree::PermissionidPermission => "permissionid_permission",
            Tree::TspushidDelivery => "tspushid_delivery",
        }
    }

    pub fn index(self) -> usize {
        Tree::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}
