//! Every tree of the database, once, with its key layout. Names are `keyname_valuename`.
//! Composite keys join their parts with `0xFF` (never part of UTF-8), see `keys.rs`.

/// Bump when a key layout or document encoding changes, and add a migration.
pub const SCHEMA_VERSION: u32 = 3;

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
    /// user id ∙ room id → the fold marker of that subscription document, `{"q":seq}`: the
    /// document holds its room's records (`RoomseqBumps`) up to `seq` (absent: 0). Written
    /// with the document (`tails.rs`). Before room records, the member's own pending bumps
    /// (`rules::counters::PendingBumps`), still merged on read where a database has them.
    UserroomidCounters,
    /// room id ∙ sequence number (8 bytes, big-endian) → one plain message's bumps for the
    /// room's members (`rules::counters::RoomBump`, JSON), until a post folds them into the
    /// documents. Added without a schema bump: an older database simply has none.
    RoomseqBumps,
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
    /// first due time of its devices (8 bytes, order-preserving) ∙ record id → outbox
    /// record: one message's pushes, its body shared by its receivers' devices (since
    /// schema 3; before, one pending push per device), the devices inline or by reference
    /// to a snapshot (`SnapshotidDevices`).
    Outbox,
    /// outbox record id → the decimal due time it is filed under in `Outbox` (since
    /// schema 3).
    OutboxidDue,
    /// user id → decimal badge (`Subscriptions.getBadgeCount`), derived from the user's
    /// subscriptions in the batch that changes them (since schema 2).
    UseridBadge,
    /// permission id → `{"_id","roles","_updatedAt"}`: the roles an admin gave a permission
    /// through `permissions.update` (absent: the defaults and `[permissions]` apply).
    PermissionidPermission,
    /// time (8 bytes, order-preserving) ∙ push id ∙ attempt → delivery record: the
    /// delivery log, oldest first, trimmed by age and count.
    TspushidDelivery,
    /// team id → team document (`rocketchat_team`). Added without a schema bump: an older
    /// database simply has no teams.
    TeamidTeam,
    /// team id ∙ user id → team member document (`rocketchat_team_member`).
    TeamuseridMember,
    /// user id ∙ team id → empty: the teams of a user.
    Userteamids,
    /// team id ∙ room id → empty: the rooms of a team (rooms whose `teamId` it is), kept
    /// with the room documents.
    Teamroomids,
    /// snapshot id (a digest of its bytes) → the devices of a room's members as of one
    /// moment (`outbox::DeviceSnapshot`): what outbox records refer to instead of holding
    /// every device. Added without a schema bump: records holding their devices still read.
    SnapshotidDevices,
    /// snapshot id → decimal count of the outbox records that refer to it; the snapshot
    /// goes with the last.
    SnapshotidRefs,
}

impl Tree {
    pub const ALL: [Tree; 28] = [
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
        Tree::RoomseqBumps,
        Tree::Roomuserids,
        Tree::MessageidMessage,
        Tree::SettingidSetting,
        Tree::PushtokenidPushtoken,
        Tree::Pushtokenvaluepushtokenids,
        Tree::Useridpushtokenids,
        Tree::Outbox,
        Tree::OutboxidDue,
        Tree::UseridBadge,
        Tree::PermissionidPermission,
        Tree::TspushidDelivery,
        Tree::TeamidTeam,
        Tree::TeamuseridMember,
        Tree::Userteamids,
        Tree::Teamroomids,
        Tree::SnapshotidDevices,
        Tree::SnapshotidRefs,
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
            Tree::RoomseqBumps => "roomseq_bumps",
            Tree::Roomuserids => "roomuserids",
            Tree::MessageidMessage => "messageid_message",
            Tree::SettingidSetting => "settingid_setting",
            Tree::PushtokenidPushtoken => "pushtokenid_pushtoken",
            Tree::Pushtokenvaluepushtokenids => "pushtokenvaluepushtokenids",
            Tree::Useridpushtokenids => "useridpushtokenids",
            Tree::Outbox => "outbox",
            Tree::OutboxidDue => "outboxid_due",
            Tree::UseridBadge => "userid_badge",
            Tree::PermissionidPermission => "permissionid_permission",
            Tree::TspushidDelivery => "tspushid_delivery",
            Tree::TeamidTeam => "teamid_team",
            Tree::TeamuseridMember => "teamuserid_member",
            Tree::Userteamids => "userteamids",
            Tree::Teamroomids => "teamroomids",
            Tree::SnapshotidDevices => "snapshotid_devices",
            Tree::SnapshotidRefs => "snapshotid_refs",
        }
    }

    pub fn index(self) -> usize {
        Tree::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}
