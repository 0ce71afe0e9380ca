//! Every error rcpush sends, in one closed catalog (spec §1.3, §3.3, §4).
//!
//! Handlers and services name the error (`ApiError::RoomNotFound`); only this file knows its
//! status code and the exact bytes of its body, which clients compare byte for byte. A new
//! error is a variant and its arm in `ApiError::entry` (status and body together), and a row
//! in the table test, which fails naming any variant without one.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{json, Value};

use crate::model::room::Kind;
use crate::model::user::ProfileText;
use crate::rules::login_throttle::Blocked;
use crate::rules::message_fields::Rejection;
use crate::rules::user_profile::Edit;
use crate::store::StoreError;

/// A JSON response with Rocket.Chat's exact headers, for failures and successes alike.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body)
}

/// The 401 text of every authenticated route (spec §0.2).
const LOGGED_IN: &str = "You must be logged in to do this.";

/// The Meteor method `insertOrUpdateUser`, which raises every `users.create` error.
const INSERT_USER: &str = "insertOrUpdateUser";

/// One variant per error Rocket.Chat sends; `entry` gives each its status and body.
#[derive(Debug)]
// Lets the table test name the variants it has no row for.
#[cfg_attr(test, derive(strum::EnumDiscriminants))]
#[cfg_attr(
    test,
    strum_discriminants(name(Variant), derive(strum::EnumIter, PartialOrd, Ord))
)]
pub enum ApiError {
    // 401
    /// Any authenticated route: `X-User-Id` / `X-Auth-Token` missing or invalid (row A).
    NotLoggedIn,
    /// `login`: unknown user, wrong password or inactive account, told apart for no one (§3.3).
    LoginFailed,
    /// `login`: too many failures for the name or the address (spec §0.2).
    LoginBlocked(Blocked),

    // 403, 404, 429
    /// A route's `permissionsRequired` check: `error-unauthorized` (spec §4.2).
    PermissionDenied,
    /// `API.v1.forbidden()`: `channels.create` without `create-c`.
    Forbidden,
    /// `API.v1.notFound()`: unknown routes, and `DELETE push.token` of no registered token.
    NotFound,
    /// The rate limiter in front of `push.test`; echoes the seconds to wait.
    TooManyRequests { seconds: u128 },
    /// `GET /metrics` without the configured bearer token (rcpush's own endpoint).
    MetricsTokenRequired,
    /// `POST /api/rcpush/testing/clock` with neither a date in `now` nor a non-negative
    /// `advance_ms` (rcpush's own endpoint).
    InvalidClock,

    // Request parsing (the extractors)
    /// The body could not be read; echoes actix's reason.
    UnreadableBody(String),
    /// The body nests deeper than `limits.max_json_depth` (rcpush's own guard).
    TooDeep,
    /// The body did not arrive within `limits.body_timeout_ms` (a stalled or slow client).
    BodyTimeout,
    /// The body is not JSON (Rocket.Chat's body parser).
    InvalidJson,
    /// The body is JSON but not an object (`check(bodyParams, Object)`).
    BodyNotObject,
    /// The query string cannot be parsed the way `qs` does.
    InvalidQuery,
    /// `check()`: a required key is absent (row B).
    MissingKey(String),
    /// `check()`: a value of the wrong JS type (row C).
    Expected {
        what: &'static str,
        got: &'static str,
        key: String,
    },
    /// A typed route's ajv body validation: `invalid-params`.
    InvalidParams(Violation),
    /// A legacy route's ajv `oneOf` of two bodies, neither of which matched: each one's
    /// violation, then the `oneOf`'s own (`chat.react`).
    InvalidParamsOneOf(Violation, Violation),
    /// `method.call`: the `message` is not a DDP method frame.
    InvalidMethodCall,

    // chat.*, push.get
    /// `chat.postMessage`: `roomId` / `channel` names no room.
    InvalidChannel,
    /// `chat.sendMessage`: `message.rid` names no room.
    InvalidRoom,
    /// `chat.postMessage` (`processWebhookMessage`): text over `Message_MaxAllowedSize`.
    MessageTooLong,
    /// `chat.sendMessage` (the `sendMessage` method): text over `Message_MaxAllowedSize`.
    MessageSizeExceeded,
    /// `chat.sendMessage`: the message sets `t`.
    SystemMessage,
    /// `validateMessage` (`sendMessage.ts`): a field of the wrong type, a refused URL, an
    /// incomplete attachment field, `alias`/`avatar` without `message-impersonate`.
    MessageRejected(Rejection),
    /// `chat.sendMessage`: `message.rid` missing or empty.
    RidMissing,
    /// `canSendMessage` / `push.get`'s `canAccessRoom`: the caller may not read the room (row G).
    NotAllowed,
    /// `sendMessage`: a plain message into an encrypted room while `E2E_Enable` is on and
    /// `E2E_Allow_Unencrypted_Messages` off.
    UnencryptedMessage,
    /// `canSendMessage`: a read-only room and no `post-readonly`.
    RoomReadOnly,
    /// `canSendMessage`: the sender is muted in the room.
    Muted,
    /// `sendMessage`: a message with the client's `_id` exists.
    MessageExists,
    /// `chat.update` / `chat.delete`: no message with that id; echoes it.
    NoMessageWithId(String),
    /// `chat.update` / `chat.delete`: the message is in another room than `roomId`.
    RoomMismatch,
    /// `chat.update`: `content` for a message that is not end-to-end encrypted.
    OnlyEncryptedContent,
    /// `updateMessage`: not the sender and no `edit-message`.
    EditNotAllowed,
    /// `deleteMessageValidatingPermission`: `canDeleteMessage` said no.
    DeleteNotAllowed,
    /// `chat.delete` with `asUser` for another's message, without `force-delete-message`.
    ForceDeleteRequired,
    /// `canDeleteMessage`: a read-only room, and the sender was not unmuted.
    DeleteReadOnly,
    /// `chat.getMessage`: `API.v1.failure()` for a missing message or room.
    MessageUnavailable,
    /// `push.get`: no message with that id (row E).
    MessageNotFound,
    /// `chat.react`: no message with that `messageId`.
    MessageIdNotFound,
    /// `chat.react`: `emoji` (or `reaction`) is empty.
    EmojiParamNotProvided,
    /// `setReaction`: not a shortname of the emoji list (nor a custom emoji).
    InvalidEmoji,
    /// `setReaction`: the caller may not read the message's room.
    NotAuthorizedIn { method: &'static str },
    /// `setReaction`: the caller is muted in the room (the method answers `false` instead).
    ReactionMuted { room_id: String },
    /// `push.get`: the message's room is gone (row F).
    RoomNotFound,
    /// `push.get`: the message's sender is unknown (row H).
    SenderNotFound,

    // channels.*, groups.*, im.create
    /// `channels.create` / `groups.create`: no `name` (each namespace words it its own way).
    NameRequired(Kind),
    /// `channels.create` / `groups.create`: `members` given but not an array.
    MembersNotArray,
    /// `getValidRoomName`: the name fails `UTF8_Channel_Names_Validation`; echoes it.
    InvalidRoomName(String),
    /// `getValidRoomName`: a room of that name exists; echoes it.
    DuplicateChannelName(String),
    /// `channels.*` / `groups.*`: neither `roomId` nor `roomName`.
    RoomParamNotProvided,
    /// `findChannelByIdOrName` / `findPrivateGroupByIdOrName`: no such room of the kind.
    RoomNotFoundIn(Kind),
    /// `channels.invite` (a typed failure) / `groups.invite` (a Meteor error): no known user.
    EmptyInviteList(Kind),
    /// `createDirectMessage`: a named user does not exist.
    InvalidUser,
    /// `removeUserFromRoom`: the user is not a member.
    UserNotInRoom,
    /// `leaveRoom`: the caller is not a member.
    NotInRoom,
    /// `removeUserFromRoom` / `leaveRoom`: the user is the room's last owner.
    LastOwner { method: &'static str },
    /// `eraseRoom`: the caller may not read the room.
    InvalidRoomIn { method: &'static str },
    /// `channels.rename`: no `name`.
    NameParamRequired,
    /// `channels.rename`: the room has that name already.
    SameName,
    /// `saveRoomSettings`: no `edit-room`.
    EditRoomNotAllowed,
    /// A Meteor method's own permission check: `error-not-allowed` naming the method.
    NotAllowedIn { method: &'static str },
    /// `createChannel` / `createPrivateGroup` with a `teamId` that names no team.
    TeamNotFoundIn { method: &'static str },

    // subscriptions.*
    /// `subscriptions.get`: `updatedSince` is not a date.
    InvalidUpdatedSince,
    /// `subscriptions.getOne`: no `roomId`.
    RoomIdRequired,
    /// `subscriptions.read` (`readMessages`): the caller has no subscription to the room.
    InvalidSubscription,
    /// The `readMessages` method: no such room.
    RoomDoesNotExist,
    /// The `updateMessage` method: the client changed a key it may not; names it.
    InvalidUpdateKey(String),

    // users.*
    /// `users.info`: neither `userId` nor `username` (ajv `oneOf`, sent as a plain error).
    UserParamRequired,
    /// `users.info`: no such user.
    UserNotFound,
    /// `insertOrUpdateUser`: the caller lacks `create-user`.
    AddingUserNotAllowed,
    /// `insertOrUpdateUser`: a required field is empty; names it (`Username`, `Password`).
    FieldRequired(&'static str),
    /// `insertOrUpdateUser`: the username fails `UTF8_User_Names_Validation`; echoes it.
    InvalidUsername(String),
    /// `insertOrUpdateUser`: a malformed e-mail; echoes it.
    InvalidEmail(String),
    /// `insertOrUpdateUser`: a role that does not exist.
    InvalidRole,
    /// `checkUsernameAvailability`: the username is on a blocked list; echoes it.
    BlockedUsername(String),
    /// `insertOrUpdateUser`: the username or e-mail is taken; echoes it.
    AlreadyInUse(String),
    /// `users.update` (`validateUserData`): a user marks their own address verified.
    OwnEmailVerification,
    /// `users.update` (`validateUserData`): another user, without `edit-other-user-info`.
    EditingUserNotAllowed,
    /// `users.update`: `admin` among the roles, without `assign-admin-role`.
    AssignAdminNotAllowed,
    /// `users.update` (`validateUserEditing`): no such user.
    UpdatedUserNotFound,
    /// `users.update`: the roles change, without `assign-roles`.
    AssignRolesNotAllowed,
    /// `users.update`: an `Accounts_Allow*Change` setting forbids the change.
    ProfileEditNotAllowed(Edit),
    /// `users.update` (`saveUserIdentity`): the new username is taken, or the name blank.
    IdentityNotSaved,
    /// `users.update`: `bio` or `nickname` over its limit.
    ProfileTextTooLong(ProfileText),
    /// `users.update` (`validateEmailDomain`): a malformed address; echoes it.
    InvalidNewEmail(String),
    /// `users.update` (`setEmail`): the address belongs to another user; echoes it.
    EmailUnavailable(String),
    /// `users.update` (`setUserActiveStatus`): without `edit-other-user-active-status`.
    ActiveStatusNotAllowed,
    /// `users.update` (`setUserActiveStatus`): deactivating the last active admin.
    LastAdmin,
    /// `users.setPreferences`: another user's, without `edit-other-user-info`.
    EditingOtherPreferencesNotAllowed,
    /// `users.setPreferences`: `userId` names no user.
    PreferencesUserNotFound,
    /// `users.getPreferences`: the user has no `settings` at all.
    PreferencesNotAvailable,
    /// `saveUserPreferences`: `idleTimeLimit` under a minute.
    InvalidIdleTimeLimit,

    // push.token, push.test
    /// `POST push.token`: `id` given but not a string.
    InvalidPushId,
    /// `POST push.token`: `type` missing or not `apn` / `gcm`.
    InvalidPushType,
    /// `POST push.token`: `value` missing or not a string.
    InvalidPushValue,
    /// `POST push.token`: `appName` missing or not a string.
    InvalidPushAppName,
    /// `DELETE push.token`: `token` missing or empty.
    InvalidPushToken,
    /// `push.test`: `Push_enable` is off.
    PushDisabled,
    /// `push.test`: the caller has no registered device.
    NoPushTokens,

    // permissions.*
    /// `permissions.listAll`: `updatedSince` is not a date.
    InvalidPermissionsUpdatedSince,
    /// `permissions.update`: an unknown (or repeated) permission id.
    InvalidPermission,
    /// `permissions.update`: a role that does not exist.
    InvalidPermissionRole,

    // teams.*
    /// `API.v1.unauthorized()` (7.x: a 401): a team call without its permission.
    Unauthorized,
    /// `teams.addRooms` without `add-team-channel`: `unauthorized` with its own text.
    TeamChannelNotAllowed,
    /// `check()`: a `Match.OneOf` / `Match.Maybe` failed, in the named field if any.
    MatchFailed(Option<&'static str>),
    /// A team call's failure (`API.v1.failure(text)` or an `Error` the team service throws).
    Team(TeamFailure),

    // settings
    /// `GET|POST settings/:_id`: no such setting (`API.v1.failure()`).
    SettingNotFound,
    /// `POST settings/:_id`: no value, or one of another JSON type.
    InvalidSettingValue,

    /// A fault of ours: opaque 500, cause logged.
    Internal(anyhow::Error),
}

/// The texts of the team calls' failures, each a plain 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamFailure {
    /// `getTeamByIdOrName` found nothing.
    DoesNotExist,
    /// `teams.info`: no such team.
    NotFound,
    /// `teams.info`: the team's main room is gone.
    MainRoomNotFound,
    /// `Team.create`: a user holds the name (`checkUsernameAvailability`).
    NameTaken,
    /// `Team.create`: a room holds the name.
    RoomNameTaken,
    /// `Team.create`: the main room could not be made (an invalid name).
    Creation,
    /// `teams.removeMember`: no active user with that id.
    InvalidUser,
    /// `Team.removeMembers`: neither a member nor in the main room.
    MemberDoesNotExist,
    /// `Team.removeMembers`: the team's only owner.
    LastOwner,
    /// `Team.addRooms`: a room that does not exist or the caller may not read.
    InvalidRoom,
    /// `Team.addRooms`: a room already in a team.
    RoomAlreadyOnTeam,
    /// `Team.addRooms`: the caller does not own the room.
    NotRoomOwner,
    /// `Team.listRooms`: a private team the caller is not in (without `view-all-teams`).
    NotOnPrivateTeam,
    /// `Team.removeRoom`: the room is in another team, or none.
    RoomNotOnThatTeam,
}

impl TeamFailure {
    fn text(self) -> &'static str {
        match self {
            TeamFailure::DoesNotExist => "team-does-not-exist",
            TeamFailure::NotFound => "Team not found",
            TeamFailure::MainRoomNotFound => "Room not found",
            TeamFailure::NameTaken => "team-name-already-exists",
            TeamFailure::RoomNameTaken => "room-name-already-exists",
            TeamFailure::Creation => "error-team-creation",
            TeamFailure::InvalidUser => "invalid-user",
            TeamFailure::MemberDoesNotExist => "member-does-not-exist",
            TeamFailure::LastOwner => "last-owner-can-not-be-removed",
            TeamFailure::InvalidRoom => "invalid-room",
            TeamFailure::RoomAlreadyOnTeam => "room-already-on-team",
            TeamFailure::NotRoomOwner => "error-no-owner-channel",
            TeamFailure::NotOnPrivateTeam => "user-not-on-private-team",
            TeamFailure::RoomNotOnThatTeam => "room-not-on-that-team",
        }
    }
}

/// Which ajv rule a typed route's body broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// `required`: names the property.
    Required(&'static str),
    /// `additionalProperties: false`.
    AdditionalProperties,
    /// `type: "object"`.
    NotObject,
    /// `type: "string"` on a property.
    NotString,
    /// `type: "array"` on a property.
    NotArray,
    /// `type: "boolean"` on a property.
    NotBoolean,
    /// `type: "number"` on a property.
    NotNumber,
    /// `enum` on a property.
    NotAllowedValue,
    /// `minLength: 1` on a property.
    Empty,
    /// `uniqueItems`: items `.0` and `.1` (the earlier) are equal.
    DuplicateItems(usize, usize),
}

impl Violation {
    /// ajv's message for the rule.
    fn text(self) -> Cow<'static, str> {
        match self {
            Violation::Required(name) => format!("must have required property '{name}'").into(),
            Violation::AdditionalProperties => "must NOT have additional properties".into(),
            Violation::NotObject => "must be object".into(),
            Violation::NotString => "must be string".into(),
            Violation::NotArray => "must be array".into(),
            Violation::NotBoolean => "must be boolean".into(),
            Violation::NotNumber => "must be number".into(),
            Violation::NotAllowedValue => "must be equal to one of the allowed values".into(),
            Violation::Empty => "must NOT have fewer than 1 characters".into(),
            Violation::DuplicateItems(later, earlier) => format!(
                "must NOT have duplicate items (items ## {later} and {earlier} are identical)"
            )
            .into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

/// How Rocket.Chat raised the error, which decides the body's layout.
enum Shape {
    /// A plain JS `Error(msg)` or `API.v1.failure(msg)`: `{"success":false,"error":msg}`.
    Plain(Cow<'static, str>),
    /// `Meteor.Error(code, reason, details)`: `"reason [code]"`, `errorType`, `details`.
    Meteor {
        code: &'static str,
        reason: Cow<'static, str>,
        details: Option<Value>,
    },
    /// `API.v1.failure(error, errorType)` with free texts in both places.
    Typed {
        error: &'static str,
        error_type: &'static str,
    },
    /// `API.v1.failure()`: `{"success":false}`.
    Bare,
    /// A 7.x 401: the new `success`/`error` and the old `status`/`message` pair.
    Legacy { error: Value, message: &'static str },
}

/// A catalog entry: the status and the body's shape, which `ApiError::entry` gives together.
/// The functions below build one for each shape.
type Entry = (StatusCode, Shape);

fn plain(status: StatusCode, msg: impl Into<Cow<'static, str>>) -> Entry {
    (status, Shape::Plain(msg.into()))
}

fn meteor(status: StatusCode, code: &'static str, reason: impl Into<Cow<'static, str>>) -> Entry {
    meteor_with(status, code, reason, None)
}

fn meteor_with(
    status: StatusCode,
    code: &'static str,
    reason: impl Into<Cow<'static, str>>,
    details: impl Into<Option<Value>>,
) -> Entry {
    let (reason, details) = (reason.into(), details.into());
    (
        status,
        Shape::Meteor {
            code,
            reason,
            details,
        },
    )
}

fn typed(status: StatusCode, error: &'static str, error_type: &'static str) -> Entry {
    (status, Shape::Typed { error, error_type })
}

fn bare(status: StatusCode) -> Entry {
    (status, Shape::Bare)
}

fn legacy(status: StatusCode, error: impl Into<Value>, message: &'static str) -> Entry {
    let error = error.into();
    (status, Shape::Legacy { error, message })
}

impl Shape {
    /// The `error` text (for logs too).
    fn text(&self) -> Cow<'_, str> {
        match self {
            Shape::Plain(msg) => Cow::Borrowed(msg),
            // Meteor prints `[code]` alone when an error has no reason.
            Shape::Meteor { code, reason, .. } if reason.is_empty() => format!("[{code}]").into(),
            Shape::Meteor { code, reason, .. } => format!("{reason} [{code}]").into(),
            Shape::Typed { error, .. } => Cow::Borrowed(error),
            Shape::Bare => Cow::Borrowed("failure"),
            Shape::Legacy { message, .. } => Cow::Borrowed(message),
        }
    }
}

/// `check()`'s text for a failed `Match.OneOf`, `Match.Maybe` or `Match.Optional`.
const MATCH_ONE_OF: &str =
    "Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation";

impl ApiError {
    /// The catalog: each variant's status and body, side by side in one arm, so that adding
    /// an error is one arm here (the compiler refuses a variant without one).
    fn entry(&self) -> Entry {
        use ApiError as E;
        use StatusCode as S;
        match self {
            E::NotLoggedIn => legacy(S::UNAUTHORIZED, LOGGED_IN, LOGGED_IN),
            E::LoginFailed => legacy(S::UNAUTHORIZED, 401, "Incorrect login or password"),
            E::LoginBlocked(Blocked::User) => legacy(
                S::UNAUTHORIZED,
                "error-login-blocked-for-user",
                "Login has been temporarily blocked For User",
            ),
            E::LoginBlocked(Blocked::Ip) => legacy(
                S::UNAUTHORIZED,
                "error-login-blocked-for-ip",
                "Login has been temporarily blocked For IP",
            ),
            E::PermissionDenied => plain(
                S::FORBIDDEN,
                "User does not have the permissions required for this action \
                [error-unauthorized]",
            ),
            E::Forbidden => plain(S::FORBIDDEN, "unauthorized"),
            E::NotFound => plain(S::NOT_FOUND, "Resource not found"),
            E::MetricsTokenRequired => plain(S::UNAUTHORIZED, "unauthorized"),
            E::InvalidClock => plain(
                S::BAD_REQUEST,
                "Give {\"now\": \"<ISO date>\"} or {\"advance_ms\": <non-negative integer>} \
                [error-invalid-clock]",
            ),
            E::TooManyRequests { seconds } => plain(
                S::TOO_MANY_REQUESTS,
                format!(
                    "Error, too many requests. Please slow down. You must wait {seconds} \
                    seconds before trying this endpoint again. [error-too-many-requests]"
                ),
            ),

            E::UnreadableBody(reason) => {
                plain(S::BAD_REQUEST, format!("Invalid request body: {reason}"))
            }
            E::TooDeep => plain(S::BAD_REQUEST, "Request body is nested too deeply"),
            E::BodyTimeout => plain(S::REQUEST_TIMEOUT, "Request body not received in time"),
            E::InvalidJson => plain(S::BAD_REQUEST, "Invalid JSON in request body"),
            E::BodyNotObject => plain(S::BAD_REQUEST, "Match error: Expected object"),
            E::InvalidQuery => plain(S::BAD_REQUEST, "Invalid query parameters"),
            E::MissingKey(key) => {
                plain(S::BAD_REQUEST, format!("Match error: Missing key '{key}'"))
            }
            E::Expected { what, got, key } => plain(
                S::BAD_REQUEST,
                format!("Match error: Expected {what}, got {got} in field {key}"),
            ),
            E::InvalidParams(violation) => {
                meteor(S::BAD_REQUEST, "invalid-params", violation.text())
            }
            E::InvalidParamsOneOf(first, second) => meteor(
                S::BAD_REQUEST,
                "invalid-params",
                format!(
                    "{}\n {}\n must match exactly one schema in oneOf",
                    first.text(),
                    second.text()
                ),
            ),
            E::InvalidMethodCall => plain(S::BAD_REQUEST, "Invalid method call"),

            E::InvalidChannel => meteor(S::BAD_REQUEST, "invalid-channel", ""),
            E::InvalidRoom => plain(S::BAD_REQUEST, "error-invalid-room"),
            E::MessageTooLong => plain(S::BAD_REQUEST, "error-message-size-exceeded"),
            E::MessageSizeExceeded => meteor(
                S::BAD_REQUEST,
                "error-message-size-exceeded",
                "Message size exceeds Message_MaxAllowedSize",
            ),
            E::SystemMessage => plain(
                S::BAD_REQUEST,
                "Cannot send system messages using 'chat.sendMessage'",
            ),
            E::RidMissing => plain(
                S::BAD_REQUEST,
                "The 'rid' property on the message object is missing.",
            ),
            E::MessageRejected(why) => plain(S::BAD_REQUEST, why.text()),
            E::NotAllowed => plain(S::BAD_REQUEST, "error-not-allowed"),
            E::UnencryptedMessage => meteor_with(
                S::BAD_REQUEST,
                "error-not-allowed",
                "Not allowed to send un-encrypted messages in an encrypted room",
                json!({"method": "sendMessage"}),
            ),
            E::RoomReadOnly => plain(
                S::BAD_REQUEST,
                "You can't send messages because the room is readonly.",
            ),
            E::Muted => plain(S::BAD_REQUEST, "You_have_been_muted"),
            E::MessageExists => plain(S::BAD_REQUEST, "error-message-already-exists"),
            E::Unauthorized => plain(S::UNAUTHORIZED, "unauthorized"),
            E::TeamChannelNotAllowed => plain(S::UNAUTHORIZED, "error-no-permission-team-channel"),
            E::MatchFailed(field) => plain(
                S::BAD_REQUEST,
                match field {
                    Some(f) => format!("{MATCH_ONE_OF} in field {f}"),
                    None => MATCH_ONE_OF.to_string(),
                },
            ),
            E::Team(failure) => plain(S::BAD_REQUEST, failure.text()),
            E::MessageUnavailable | E::SettingNotFound | E::InvalidSettingValue => {
                bare(S::BAD_REQUEST)
            }
            E::MessageNotFound => plain(S::BAD_REQUEST, "error-message-not-found"),
            E::MessageIdNotFound => meteor(
                S::BAD_REQUEST,
                "error-message-not-found",
                "The provided \"messageId\" does not match any existing message.",
            ),
            E::EmojiParamNotProvided => meteor(
                S::BAD_REQUEST,
                "error-emoji-param-not-provided",
                "The required \"emoji\" param is missing.",
            ),
            E::InvalidEmoji => meteor_with(
                S::BAD_REQUEST,
                "error-not-allowed",
                "Invalid emoji provided.",
                json!({"method": "setReaction"}),
            ),
            E::NotAuthorizedIn { method } => meteor_with(
                S::BAD_REQUEST,
                "not-authorized",
                "Not Authorized",
                json!({ "method": method }),
            ),
            E::ReactionMuted { room_id } => meteor_with(
                S::BAD_REQUEST,
                "error-not-allowed",
                "You have been muted and cannot speak in this room",
                json!({ "rid": room_id }),
            ),
            E::NoMessageWithId(id) => plain(
                S::BAD_REQUEST,
                format!("No message found with the id of \"{id}\"."),
            ),
            E::RoomMismatch => plain(
                S::BAD_REQUEST,
                "The room id provided does not match where the message is from.",
            ),
            E::OnlyEncryptedContent => plain(
                S::BAD_REQUEST,
                "Only encrypted messages can have content updated.",
            ),
            E::EditNotAllowed => meteor_with(
                S::BAD_REQUEST,
                "error-action-not-allowed",
                "Message editing not allowed",
                json!({"method": "updateMessage", "action": "Message_editing"}),
            ),
            E::DeleteNotAllowed => meteor_with(
                S::BAD_REQUEST,
                "error-action-not-allowed",
                "Not allowed",
                json!({"method": "deleteMessage", "action": "Delete_message"}),
            ),
            E::ForceDeleteRequired => plain(
                S::BAD_REQUEST,
                "Unauthorized. You must have the permission \"force-delete-message\" \
                to delete other's message as them.",
            ),
            E::DeleteReadOnly => plain(
                S::BAD_REQUEST,
                "You can't delete messages because the room is readonly.",
            ),
            E::RoomNotFound => plain(S::BAD_REQUEST, "error-room-not-found"),
            E::SenderNotFound => plain(S::BAD_REQUEST, "Message sender not found"),

            E::NameRequired(Kind::Channels) => plain(S::BAD_REQUEST, "Param \"name\" is required"),
            E::NameRequired(Kind::Groups) => {
                plain(S::BAD_REQUEST, "Body param \"name\" is required")
            }
            E::MembersNotArray => plain(
                S::BAD_REQUEST,
                "Param \"members\" must be an array if provided",
            ),
            E::InvalidRoomName(name) => meteor_with(
                S::BAD_REQUEST,
                "error-invalid-room-name",
                format!("{name} is not a valid room name"),
                room_name_details(name),
            ),
            E::DuplicateChannelName(name) => meteor_with(
                S::BAD_REQUEST,
                "error-duplicate-channel-name",
                format!("A channel with name '{name}' exists"),
                room_name_details(name),
            ),
            E::RoomParamNotProvided => meteor(
                S::BAD_REQUEST,
                "error-roomid-param-not-provided",
                "The parameter \"roomId\" or \"roomName\" is required",
            ),
            E::RoomNotFoundIn(kind) => meteor(
                S::BAD_REQUEST,
                "error-room-not-found",
                format!(
                    "The required \"roomId\" or \"roomName\" param provided does not match any {}",
                    kind.key()
                ),
            ),
            E::EmptyInviteList(Kind::Channels) => typed(
                S::BAD_REQUEST,
                "invalid-user-invite-list",
                "Cannot invite if no users are provided",
            ),
            E::EmptyInviteList(Kind::Groups) => meteor(
                S::BAD_REQUEST,
                "error-empty-invite-list",
                "Cannot invite if no valid users are provided",
            ),
            E::InvalidUser => meteor_with(
                S::BAD_REQUEST,
                "error-invalid-user",
                "Invalid user",
                json!({"method": "createDirectMessage"}),
            ),
            E::UserNotInRoom => meteor_with(
                S::BAD_REQUEST,
                "error-user-not-in-room",
                "User is not in this room",
                json!({"method": "removeUserFromRoom"}),
            ),
            E::NotInRoom => meteor_with(
                S::BAD_REQUEST,
                "error-user-not-in-room",
                "You are not in this room",
                json!({"method": "leaveRoom"}),
            ),
            E::LastOwner { method } => meteor_with(
                S::BAD_REQUEST,
                "error-you-are-last-owner",
                "You are the last owner. Please set new owner before leaving the room.",
                json!({ "method": method }),
            ),
            E::InvalidRoomIn { method } => meteor_with(
                S::BAD_REQUEST,
                "error-invalid-room",
                "Invalid room",
                json!({ "method": method }),
            ),
            E::NameParamRequired => plain(S::BAD_REQUEST, "The bodyParam \"name\" is required"),
            E::SameName => plain(
                S::BAD_REQUEST,
                "The channel name is the same as what it would be renamed to.",
            ),
            E::EditRoomNotAllowed => meteor_with(
                S::BAD_REQUEST,
                "error-action-not-allowed",
                "Editing room is not allowed",
                json!({"method": "saveRoomSettings", "action": "Editing_room"}),
            ),
            E::NotAllowedIn { method } => meteor_with(
                S::BAD_REQUEST,
                "error-not-allowed",
                "Not allowed",
                json!({ "method": method }),
            ),
            E::TeamNotFoundIn { method } => meteor_with(
                S::BAD_REQUEST,
                "error-team-not-found",
                "The \"teamId\" param provided does not match any team",
                json!({ "method": method }),
            ),

            E::InvalidUpdatedSince => meteor(
                S::BAD_REQUEST,
                "error-roomId-param-invalid",
                "The \"lastUpdate\" query parameter must be a valid date.",
            ),
            E::RoomIdRequired => plain(S::BAD_REQUEST, "The 'roomId' param is required"),
            E::InvalidSubscription => plain(S::BAD_REQUEST, "error-invalid-subscription"),
            E::RoomDoesNotExist => meteor_with(
                S::BAD_REQUEST,
                "error-room-does-not-exist",
                "This room does not exist",
                json!({"method": "readMessages"}),
            ),
            E::InvalidUpdateKey(key) => meteor_with(
                S::BAD_REQUEST,
                "error-invalid-update-key",
                format!("Cannot update the message {key}"),
                json!({"method": "updateMessage"}),
            ),

            E::UserParamRequired => plain(
                S::BAD_REQUEST,
                "must have required property 'userId'\n \
                must have required property 'username'\n \
                must match exactly one schema in oneOf",
            ),
            E::UserNotFound => plain(S::BAD_REQUEST, "User not found."),
            E::AddingUserNotAllowed => meteor_with(
                S::BAD_REQUEST,
                "error-action-not-allowed",
                "Adding user is not allowed",
                json!({"method": INSERT_USER, "action": "Adding_user"}),
            ),
            E::FieldRequired(field) => meteor_with(
                S::BAD_REQUEST,
                "error-the-field-is-required",
                format!("The field {field} is required"),
                json!({"method": INSERT_USER, "field": field}),
            ),
            E::InvalidUsername(username) => meteor_with(
                S::BAD_REQUEST,
                "error-input-is-not-a-valid-field",
                format!("{} is not a valid username", escape(username)),
                json!({"method": INSERT_USER, "input": username, "field": "Username"}),
            ),
            E::InvalidEmail(email) => meteor_with(
                S::BAD_REQUEST,
                "error-invalid-email",
                format!("Invalid email {}", escape(email)),
                json!({"method": INSERT_USER, "email": email}),
            ),
            E::InvalidRole => meteor_with(
                S::BAD_REQUEST,
                "error-action-not-allowed",
                "The field Roles consist invalid role id",
                json!({"method": INSERT_USER, "action": "Assign_role"}),
            ),
            E::BlockedUsername(username) => meteor_with(
                S::BAD_REQUEST,
                "error-blocked-username",
                format!("{} is blocked and can't be used!", escape(username)),
                json!({"method": "checkUsernameAvailability", "field": username}),
            ),
            // Rocket.Chat names the taken value itself as the field.
            E::AlreadyInUse(value) => meteor_with(
                S::BAD_REQUEST,
                "error-field-unavailable",
                format!("{} is already in use :(", escape(value)),
                json!({"method": INSERT_USER, "field": value}),
            ),

            E::OwnEmailVerification => meteor_with(
                S::BAD_REQUEST,
                "error-action-not-allowed",
                "Editing email verification is not allowed",
                json!({"method": INSERT_USER, "action": "Editing_user"}),
            ),
            E::EditingUserNotAllowed => meteor_with(
                S::BAD_REQUEST,
                "error-action-not-allowed",
                "Editing user is not allowed",
                json!({"method": INSERT_USER, "action": "Editing_user"}),
            ),
            E::AssignAdminNotAllowed => meteor_with(
                S::BAD_REQUEST,
                "error-action-not-allowed",
                "Assigning admin is not allowed",
                json!({"method": INSERT_USER, "action": "Assign_admin"}),
            ),
            E::UpdatedUserNotFound => meteor(S::BAD_REQUEST, "error-invalid-user", "Invalid user"),
            E::AssignRolesNotAllowed => meteor_with(
                S::BAD_REQUEST,
                "error-action-not-allowed",
                "Assign roles is not allowed",
                json!({"method": INSERT_USER, "action": "Assign_role"}),
            ),
            E::ProfileEditNotAllowed(edit) => meteor_with(
                S::BAD_REQUEST,
                "error-action-not-allowed",
                match edit {
                    Edit::Profile => "Edit user profile is not allowed",
                    Edit::Username => "Edit username is not allowed",
                    Edit::StatusText => "Edit user status is not allowed",
                    Edit::RealName => "Edit user real name is not allowed",
                    Edit::Email => "Edit user email is not allowed",
                    Edit::Password => "Edit user password is not allowed",
                },
                json!({"method": INSERT_USER, "action": "Update_user"}),
            ),
            E::IdentityNotSaved => meteor_with(
                S::BAD_REQUEST,
                "error-could-not-save-identity",
                "Could not save user identity",
                json!({"method": "saveUser"}),
            ),
            E::ProfileTextTooLong(ProfileText::Bio) => meteor_with(
                S::BAD_REQUEST,
                "error-bio-size-exceeded",
                "Bio size exceeds 260 characters",
                json!({"method": "saveUserProfile"}),
            ),
            E::ProfileTextTooLong(ProfileText::Nickname) => meteor_with(
                S::BAD_REQUEST,
                "error-nickname-size-exceeded",
                "Nickname size exceeds 120 characters",
                json!({"method": "saveUserProfile"}),
            ),
            E::InvalidNewEmail(email) => meteor_with(
                S::BAD_REQUEST,
                "error-invalid-email",
                format!("Invalid email {email}"),
                json!({"function": "RocketChat.validateEmailDomain", "email": email}),
            ),
            E::EmailUnavailable(email) => meteor_with(
                S::BAD_REQUEST,
                "error-field-unavailable",
                format!("{email} is already in use :("),
                json!({"function": "_setEmail", "field": email}),
            ),
            E::ActiveStatusNotAllowed => meteor_with(
                S::BAD_REQUEST,
                "error-not-allowed",
                "Not allowed",
                json!({"method": "setUserActiveStatus"}),
            ),
            E::LastAdmin => meteor_with(
                S::BAD_REQUEST,
                "error-action-not-allowed",
                "Leaving the app without an active admin is not allowed",
                json!({"method": "removeUserFromRole", "action": "Remove_last_admin"}),
            ),
            E::EditingOtherPreferencesNotAllowed => meteor(
                S::BAD_REQUEST,
                "error-action-not-allowed",
                "Editing user is not allowed",
            ),
            E::PreferencesUserNotFound => meteor(
                S::BAD_REQUEST,
                "error-invalid-user",
                "The optional \"userId\" param provided does not match any users",
            ),
            E::PreferencesNotAvailable => plain(
                S::BAD_REQUEST,
                "FAILED TO RETRIEVE USER PREFERENCES BECAUSE THEY HAVEN'T BEEN SET UP BY THE USER YET",
            ),
            E::InvalidIdleTimeLimit => meteor(
                S::BAD_REQUEST,
                "invalid-idle-time-limit-value",
                "Invalid idleTimeLimit",
            ),

            E::InvalidPushId => meteor(
                S::BAD_REQUEST,
                "error-id-param-not-valid",
                "The required \"id\" body param is invalid.",
            ),
            E::InvalidPushType => meteor(
                S::BAD_REQUEST,
                "error-type-param-not-valid",
                "The required \"type\" body param is missing or invalid.",
            ),
            E::InvalidPushValue => meteor(
                S::BAD_REQUEST,
                "error-token-param-not-valid",
                "The required \"value\" body param is missing or invalid.",
            ),
            E::InvalidPushAppName => meteor(
                S::BAD_REQUEST,
                "error-appName-param-not-valid",
                "The required \"appName\" body param is missing or invalid.",
            ),
            E::InvalidPushToken => meteor(
                S::BAD_REQUEST,
                "error-token-param-not-valid",
                "The required \"token\" body param is missing or invalid.",
            ),
            E::PushDisabled => meteor_with(
                S::BAD_REQUEST,
                "error-push-disabled",
                "Push is disabled",
                json!({"method": "push_test"}),
            ),
            E::NoPushTokens => meteor_with(
                S::BAD_REQUEST,
                "error-no-tokens-for-this-user",
                "There are no tokens for this user",
                json!({"method": "push_test"}),
            ),

            E::InvalidPermissionsUpdatedSince => meteor(
                S::BAD_REQUEST,
                "error-roomId-param-invalid",
                "The \"updatedSince\" query parameter must be a valid date.",
            ),
            E::InvalidPermission => typed(
                S::BAD_REQUEST,
                "Invalid permission",
                "error-invalid-permission",
            ),
            E::InvalidPermissionRole => typed(S::BAD_REQUEST, "Invalid role", "error-invalid-role"),

            E::Internal(_) => plain(S::INTERNAL_SERVER_ERROR, "Internal server error"),
        }
    }
}

/// `getValidRoomName`'s details: the function and the name as given.
fn room_name_details(name: &str) -> Value {
    json!({"function": "RocketChat.getValidRoomName", "channel_name": name})
}

/// lodash `escape`, which Rocket.Chat applies to names it echoes in errors.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

impl ApiError {
    /// The `Meteor.Error` this error was raised as (`error`, `reason`, `details`), for the
    /// realtime API's error objects; `None` for the errors Rocket.Chat raises otherwise
    /// (plain `Error`s, REST-only failures), which a DDP client sees as the generic 500.
    pub fn meteor_parts(&self) -> Option<(&'static str, String, Option<Value>)> {
        match self.entry().1 {
            Shape::Meteor {
                code,
                reason,
                details,
            } => Some((code, reason.into_owned(), details)),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Internal(_) => f.write_str("internal error"),
            other => f.write_str(&other.entry().1.text()),
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ApiError::Internal(cause) => Some(cause.as_ref()),
            _ => None,
        }
    }
}

/// The layouts a failure body can take; field order is the wire order.
#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a> {
    Failure {
        success: bool,
        error: &'a str,
        #[serde(rename = "errorType", skip_serializing_if = "Option::is_none")]
        error_type: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        details: Option<&'a Value>,
    },
    Bare {
        success: bool,
    },
    Legacy {
        success: bool,
        error: &'a Value,
        status: &'a str,
        message: &'a str,
    },
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.entry().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, shape) = self.entry();
        match self {
            // The cause chain on one line; `?` would add a backtrace under RUST_BACKTRACE.
            ApiError::Internal(cause) => {
                tracing::error!(error = %format_args!("{cause:#}"), "request failed")
            }
            other => tracing::debug!(error = %other, status = status.as_u16(), "request rejected"),
        }
        let text = shape.text();
        let body = match &shape {
            Shape::Plain(_) => Body::Failure {
                success: false,
                error: &text,
                error_type: None,
                details: None,
            },
            Shape::Meteor { code, details, .. } => Body::Failure {
                success: false,
                error: &text,
                error_type: Some(code),
                details: details.as_ref(),
            },
            Shape::Typed { error, error_type } => Body::Failure {
                success: false,
                error,
                error_type: Some(error_type),
                details: None,
            },
            Shape::Bare => Body::Bare { success: false },
            Shape::Legacy { error, message } => Body::Legacy {
                success: false,
                error,
                status: "error",
                message,
            },
        };
        json_response(status, serde_json::to_vec(&body).unwrap_or_default())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;
    use strum::IntoEnumIterator;

    use super::*;

    /// Every variant (and every form a parameter switches between) → status, exact body.
    fn catalog() -> Vec<(ApiError, u16, &'static str)> {
        use ApiError as E;
        vec![
            (
                E::NotLoggedIn,
                401,
                r#"{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}"#,
            ),
            (
                E::LoginFailed,
                401,
                r#"{"success":false,"error":401,"status":"error","message":"Incorrect login or password"}"#,
            ),
            (
                E::LoginBlocked(Blocked::User),
                401,
                r#"{"success":false,"error":"error-login-blocked-for-user","status":"error","message":"Login has been temporarily blocked For User"}"#,
            ),
            (
                E::LoginBlocked(Blocked::Ip),
                401,
                r#"{"success":false,"error":"error-login-blocked-for-ip","status":"error","message":"Login has been temporarily blocked For IP"}"#,
            ),
            (
                E::PermissionDenied,
                403,
                r#"{"success":false,"error":"User does not have the permissions required for this action [error-unauthorized]"}"#,
            ),
            (
                E::Forbidden,
                403,
                r#"{"success":false,"error":"unauthorized"}"#,
            ),
            (
                E::NotFound,
                404,
                r#"{"success":false,"error":"Resource not found"}"#,
            ),
            (
                E::TooManyRequests { seconds: 7 },
                429,
                r#"{"success":false,"error":"Error, too many requests. Please slow down. You must wait 7 seconds before trying this endpoint again. [error-too-many-requests]"}"#,
            ),
            (
                E::UnreadableBody("Payload reached size limit.".into()),
                400,
                r#"{"success":false,"error":"Invalid request body: Payload reached size limit."}"#,
            ),
            (
                E::TooDeep,
                400,
                r#"{"success":false,"error":"Request body is nested too deeply"}"#,
            ),
            (
                E::MetricsTokenRequired,
                401,
                r#"{"success":false,"error":"unauthorized"}"#,
            ),
            (
                E::InvalidClock,
                400,
                r#"{"success":false,"error":"Give {\"now\": \"<ISO date>\"} or {\"advance_ms\": <non-negative integer>} [error-invalid-clock]"}"#,
            ),
            (
                E::BodyTimeout,
                408,
                r#"{"success":false,"error":"Request body not received in time"}"#,
            ),
            (
                E::InvalidJson,
                400,
                r#"{"success":false,"error":"Invalid JSON in request body"}"#,
            ),
            (
                E::BodyNotObject,
                400,
                r#"{"success":false,"error":"Match error: Expected object"}"#,
            ),
            (
                E::InvalidQuery,
                400,
                r#"{"success":false,"error":"Invalid query parameters"}"#,
            ),
            (
                E::MissingKey("id".into()),
                400,
                r#"{"success":false,"error":"Match error: Missing key 'id'"}"#,
            ),
            (
                E::Expected {
                    what: "string",
                    got: "object",
                    key: "id".into(),
                },
                400,
                r#"{"success":false,"error":"Match error: Expected string, got object in field id"}"#,
            ),
            (
                E::InvalidParams(Violation::Required("rid")),
                400,
                r#"{"success":false,"error":"must have required property 'rid' [invalid-params]","errorType":"invalid-params"}"#,
            ),
            (
                E::InvalidParams(Violation::AdditionalProperties),
                400,
                r#"{"success":false,"error":"must NOT have additional properties [invalid-params]","errorType":"invalid-params"}"#,
            ),
            (
                E::InvalidParams(Violation::NotObject),
                400,
                r#"{"success":false,"error":"must be object [invalid-params]","errorType":"invalid-params"}"#,
            ),
            (
                E::InvalidParamsOneOf(Violation::Required("emoji"), Violation::Empty),
                400,
                r#"{"success":false,"error":"must have required property 'emoji'\n must NOT have fewer than 1 characters\n must match exactly one schema in oneOf [invalid-params]","errorType":"invalid-params"}"#,
            ),
            (
                E::InvalidMethodCall,
                400,
                r#"{"success":false,"error":"Invalid method call"}"#,
            ),
            (
                E::InvalidChannel,
                400,
                r#"{"success":false,"error":"[invalid-channel]","errorType":"invalid-channel"}"#,
            ),
            (
                E::InvalidRoom,
                400,
                r#"{"success":false,"error":"error-invalid-room"}"#,
            ),
            (
                E::MessageTooLong,
                400,
                r#"{"success":false,"error":"error-message-size-exceeded"}"#,
            ),
            (
                E::MessageRejected(Rejection::Href),
                400,
                r#"{"success":false,"error":"Invalid href value provided"}"#,
            ),
            (
                E::NoMessageWithId("x1".into()),
                400,
                r#"{"success":false,"error":"No message found with the id of \"x1\"."}"#,
            ),
            (
                E::RoomMismatch,
                400,
                r#"{"success":false,"error":"The room id provided does not match where the message is from."}"#,
            ),
            (
                E::OnlyEncryptedContent,
                400,
                r#"{"success":false,"error":"Only encrypted messages can have content updated."}"#,
            ),
            (
                E::EditNotAllowed,
                400,
                r#"{"success":false,"error":"Message editing not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"updateMessage","action":"Message_editing"}}"#,
            ),
            (
                E::DeleteNotAllowed,
                400,
                r#"{"success":false,"error":"Not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"deleteMessage","action":"Delete_message"}}"#,
            ),
            (
                E::ForceDeleteRequired,
                400,
                r#"{"success":false,"error":"Unauthorized. You must have the permission \"force-delete-message\" to delete other's message as them."}"#,
            ),
            (
                E::InvalidRoomIn {
                    method: "eraseRoom",
                },
                400,
                r#"{"success":false,"error":"Invalid room [error-invalid-room]","errorType":"error-invalid-room","details":{"method":"eraseRoom"}}"#,
            ),
            (
                E::NameParamRequired,
                400,
                r#"{"success":false,"error":"The bodyParam \"name\" is required"}"#,
            ),
            (
                E::SameName,
                400,
                r#"{"success":false,"error":"The channel name is the same as what it would be renamed to."}"#,
            ),
            (
                E::EditRoomNotAllowed,
                400,
                r#"{"success":false,"error":"Editing room is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"saveRoomSettings","action":"Editing_room"}}"#,
            ),
            (
                E::BlockedUsername("System".into()),
                400,
                r#"{"success":false,"error":"System is blocked and can't be used! [error-blocked-username]","errorType":"error-blocked-username","details":{"method":"checkUsernameAvailability","field":"System"}}"#,
            ),
            (
                E::InvalidPermissionsUpdatedSince,
                400,
                r#"{"success":false,"error":"The \"updatedSince\" query parameter must be a valid date. [error-roomId-param-invalid]","errorType":"error-roomId-param-invalid"}"#,
            ),
            (
                E::InvalidPermission,
                400,
                r#"{"success":false,"error":"Invalid permission","errorType":"error-invalid-permission"}"#,
            ),
            (
                E::InvalidPermissionRole,
                400,
                r#"{"success":false,"error":"Invalid role","errorType":"error-invalid-role"}"#,
            ),
            (
                E::InvalidParams(Violation::DuplicateItems(1, 0)),
                400,
                r#"{"success":false,"error":"must NOT have duplicate items (items ## 1 and 0 are identical) [invalid-params]","errorType":"invalid-params"}"#,
            ),
            (
                E::DeleteReadOnly,
                400,
                r#"{"success":false,"error":"You can't delete messages because the room is readonly."}"#,
            ),
            (
                E::MessageRejected(Rejection::Impersonation),
                400,
                r#"{"success":false,"error":"Not enough permission"}"#,
            ),
            (
                E::MessageSizeExceeded,
                400,
                r#"{"success":false,"error":"Message size exceeds Message_MaxAllowedSize [error-message-size-exceeded]","errorType":"error-message-size-exceeded"}"#,
            ),
            (
                E::SystemMessage,
                400,
                r#"{"success":false,"error":"Cannot send system messages using 'chat.sendMessage'"}"#,
            ),
            (
                E::RidMissing,
                400,
                r#"{"success":false,"error":"The 'rid' property on the message object is missing."}"#,
            ),
            (
                E::NotAllowed,
                400,
                r#"{"success":false,"error":"error-not-allowed"}"#,
            ),
            (
                E::UnencryptedMessage,
                400,
                r#"{"success":false,"error":"Not allowed to send un-encrypted messages in an encrypted room [error-not-allowed]","errorType":"error-not-allowed","details":{"method":"sendMessage"}}"#,
            ),
            (
                E::RoomReadOnly,
                400,
                r#"{"success":false,"error":"You can't send messages because the room is readonly."}"#,
            ),
            (
                E::Muted,
                400,
                r#"{"success":false,"error":"You_have_been_muted"}"#,
            ),
            (
                E::MessageExists,
                400,
                r#"{"success":false,"error":"error-message-already-exists"}"#,
            ),
            (E::MessageUnavailable, 400, r#"{"success":false}"#),
            (
                E::MessageNotFound,
                400,
                r#"{"success":false,"error":"error-message-not-found"}"#,
            ),
            (
                E::MessageIdNotFound,
                400,
                r#"{"success":false,"error":"The provided \"messageId\" does not match any existing message. [error-message-not-found]","errorType":"error-message-not-found"}"#,
            ),
            (
                E::EmojiParamNotProvided,
                400,
                r#"{"success":false,"error":"The required \"emoji\" param is missing. [error-emoji-param-not-provided]","errorType":"error-emoji-param-not-provided"}"#,
            ),
            (
                E::InvalidEmoji,
                400,
                r#"{"success":false,"error":"Invalid emoji provided. [error-not-allowed]","errorType":"error-not-allowed","details":{"method":"setReaction"}}"#,
            ),
            (
                E::NotAuthorizedIn {
                    method: "setReaction",
                },
                400,
                r#"{"success":false,"error":"Not Authorized [not-authorized]","errorType":"not-authorized","details":{"method":"setReaction"}}"#,
            ),
            (
                E::ReactionMuted {
                    room_id: "GENERAL".into(),
                },
                400,
                r#"{"success":false,"error":"You have been muted and cannot speak in this room [error-not-allowed]","errorType":"error-not-allowed","details":{"rid":"GENERAL"}}"#,
            ),
            (
                E::RoomNotFound,
                400,
                r#"{"success":false,"error":"error-room-not-found"}"#,
            ),
            (
                E::SenderNotFound,
                400,
                r#"{"success":false,"error":"Message sender not found"}"#,
            ),
            (
                E::NameRequired(Kind::Channels),
                400,
                r#"{"success":false,"error":"Param \"name\" is required"}"#,
            ),
            (
                E::NameRequired(Kind::Groups),
                400,
                r#"{"success":false,"error":"Body param \"name\" is required"}"#,
            ),
            (
                E::MembersNotArray,
                400,
                r#"{"success":false,"error":"Param \"members\" must be an array if provided"}"#,
            ),
            (
                E::InvalidRoomName("a b".into()),
                400,
                r#"{"success":false,"error":"a b is not a valid room name [error-invalid-room-name]","errorType":"error-invalid-room-name","details":{"function":"RocketChat.getValidRoomName","channel_name":"a b"}}"#,
            ),
            (
                E::DuplicateChannelName("general".into()),
                400,
                r#"{"success":false,"error":"A channel with name 'general' exists [error-duplicate-channel-name]","errorType":"error-duplicate-channel-name","details":{"function":"RocketChat.getValidRoomName","channel_name":"general"}}"#,
            ),
            (
                E::RoomParamNotProvided,
                400,
                r#"{"success":false,"error":"The parameter \"roomId\" or \"roomName\" is required [error-roomid-param-not-provided]","errorType":"error-roomid-param-not-provided"}"#,
            ),
            (
                E::RoomNotFoundIn(Kind::Channels),
                400,
                r#"{"success":false,"error":"The required \"roomId\" or \"roomName\" param provided does not match any channel [error-room-not-found]","errorType":"error-room-not-found"}"#,
            ),
            (
                E::RoomNotFoundIn(Kind::Groups),
                400,
                r#"{"success":false,"error":"The required \"roomId\" or \"roomName\" param provided does not match any group [error-room-not-found]","errorType":"error-room-not-found"}"#,
            ),
            (
                E::EmptyInviteList(Kind::Channels),
                400,
                r#"{"success":false,"error":"invalid-user-invite-list","errorType":"Cannot invite if no users are provided"}"#,
            ),
            (
                E::EmptyInviteList(Kind::Groups),
                400,
                r#"{"success":false,"error":"Cannot invite if no valid users are provided [error-empty-invite-list]","errorType":"error-empty-invite-list"}"#,
            ),
            (
                E::InvalidUser,
                400,
                r#"{"success":false,"error":"Invalid user [error-invalid-user]","errorType":"error-invalid-user","details":{"method":"createDirectMessage"}}"#,
            ),
            (
                E::UserNotInRoom,
                400,
                r#"{"success":false,"error":"User is not in this room [error-user-not-in-room]","errorType":"error-user-not-in-room","details":{"method":"removeUserFromRoom"}}"#,
            ),
            (
                E::NotInRoom,
                400,
                r#"{"success":false,"error":"You are not in this room [error-user-not-in-room]","errorType":"error-user-not-in-room","details":{"method":"leaveRoom"}}"#,
            ),
            (
                E::LastOwner {
                    method: "leaveRoom",
                },
                400,
                r#"{"success":false,"error":"You are the last owner. Please set new owner before leaving the room. [error-you-are-last-owner]","errorType":"error-you-are-last-owner","details":{"method":"leaveRoom"}}"#,
            ),
            (
                E::NotAllowedIn {
                    method: "getSingleMessage",
                },
                400,
                r#"{"success":false,"error":"Not allowed [error-not-allowed]","errorType":"error-not-allowed","details":{"method":"getSingleMessage"}}"#,
            ),
            (
                E::TeamNotFoundIn {
                    method: "createChannel",
                },
                400,
                r#"{"success":false,"error":"The \"teamId\" param provided does not match any team [error-team-not-found]","errorType":"error-team-not-found","details":{"method":"createChannel"}}"#,
            ),
            (
                E::InvalidUpdatedSince,
                400,
                r#"{"success":false,"error":"The \"lastUpdate\" query parameter must be a valid date. [error-roomId-param-invalid]","errorType":"error-roomId-param-invalid"}"#,
            ),
            (
                E::RoomIdRequired,
                400,
                r#"{"success":false,"error":"The 'roomId' param is required"}"#,
            ),
            (
                E::InvalidSubscription,
                400,
                r#"{"success":false,"error":"error-invalid-subscription"}"#,
            ),
            (
                E::RoomDoesNotExist,
                400,
                r#"{"success":false,"error":"This room does not exist [error-room-does-not-exist]","errorType":"error-room-does-not-exist","details":{"method":"readMessages"}}"#,
            ),
            (
                E::InvalidUpdateKey("ts".into()),
                400,
                r#"{"success":false,"error":"Cannot update the message ts [error-invalid-update-key]","errorType":"error-invalid-update-key","details":{"method":"updateMessage"}}"#,
            ),
            (
                E::UserParamRequired,
                400,
                r#"{"success":false,"error":"must have required property 'userId'\n must have required property 'username'\n must match exactly one schema in oneOf"}"#,
            ),
            (
                E::UserNotFound,
                400,
                r#"{"success":false,"error":"User not found."}"#,
            ),
            (
                E::AddingUserNotAllowed,
                400,
                r#"{"success":false,"error":"Adding user is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Adding_user"}}"#,
            ),
            (
                E::FieldRequired("Password"),
                400,
                r#"{"success":false,"error":"The field Password is required [error-the-field-is-required]","errorType":"error-the-field-is-required","details":{"method":"insertOrUpdateUser","field":"Password"}}"#,
            ),
            (
                E::InvalidUsername("<b>&'x\"".into()),
                400,
                r#"{"success":false,"error":"&lt;b&gt;&amp;&#39;x&quot; is not a valid username [error-input-is-not-a-valid-field]","errorType":"error-input-is-not-a-valid-field","details":{"method":"insertOrUpdateUser","input":"<b>&'x\"","field":"Username"}}"#,
            ),
            (
                E::InvalidEmail("a<b".into()),
                400,
                r#"{"success":false,"error":"Invalid email a&lt;b [error-invalid-email]","errorType":"error-invalid-email","details":{"method":"insertOrUpdateUser","email":"a<b"}}"#,
            ),
            (
                E::InvalidRole,
                400,
                r#"{"success":false,"error":"The field Roles consist invalid role id [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Assign_role"}}"#,
            ),
            (
                E::AlreadyInUse("o'neil".into()),
                400,
                r#"{"success":false,"error":"o&#39;neil is already in use :( [error-field-unavailable]","errorType":"error-field-unavailable","details":{"method":"insertOrUpdateUser","field":"o'neil"}}"#,
            ),
            (
                E::OwnEmailVerification,
                400,
                r#"{"success":false,"error":"Editing email verification is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Editing_user"}}"#,
            ),
            (
                E::EditingUserNotAllowed,
                400,
                r#"{"success":false,"error":"Editing user is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Editing_user"}}"#,
            ),
            (
                E::AssignAdminNotAllowed,
                400,
                r#"{"success":false,"error":"Assigning admin is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Assign_admin"}}"#,
            ),
            (
                E::UpdatedUserNotFound,
                400,
                r#"{"success":false,"error":"Invalid user [error-invalid-user]","errorType":"error-invalid-user"}"#,
            ),
            (
                E::AssignRolesNotAllowed,
                400,
                r#"{"success":false,"error":"Assign roles is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Assign_role"}}"#,
            ),
            (
                E::ProfileEditNotAllowed(Edit::RealName),
                400,
                r#"{"success":false,"error":"Edit user real name is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"insertOrUpdateUser","action":"Update_user"}}"#,
            ),
            (
                E::IdentityNotSaved,
                400,
                r#"{"success":false,"error":"Could not save user identity [error-could-not-save-identity]","errorType":"error-could-not-save-identity","details":{"method":"saveUser"}}"#,
            ),
            (
                E::ProfileTextTooLong(ProfileText::Bio),
                400,
                r#"{"success":false,"error":"Bio size exceeds 260 characters [error-bio-size-exceeded]","errorType":"error-bio-size-exceeded","details":{"method":"saveUserProfile"}}"#,
            ),
            (
                E::InvalidNewEmail("x".into()),
                400,
                r#"{"success":false,"error":"Invalid email x [error-invalid-email]","errorType":"error-invalid-email","details":{"function":"RocketChat.validateEmailDomain","email":"x"}}"#,
            ),
            (
                E::EmailUnavailable("a@b.c".into()),
                400,
                r#"{"success":false,"error":"a@b.c is already in use :( [error-field-unavailable]","errorType":"error-field-unavailable","details":{"function":"_setEmail","field":"a@b.c"}}"#,
            ),
            (
                E::ActiveStatusNotAllowed,
                400,
                r#"{"success":false,"error":"Not allowed [error-not-allowed]","errorType":"error-not-allowed","details":{"method":"setUserActiveStatus"}}"#,
            ),
            (
                E::LastAdmin,
                400,
                r#"{"success":false,"error":"Leaving the app without an active admin is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"removeUserFromRole","action":"Remove_last_admin"}}"#,
            ),
            (
                E::EditingOtherPreferencesNotAllowed,
                400,
                r#"{"success":false,"error":"Editing user is not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed"}"#,
            ),
            (
                E::PreferencesUserNotFound,
                400,
                r#"{"success":false,"error":"The optional \"userId\" param provided does not match any users [error-invalid-user]","errorType":"error-invalid-user"}"#,
            ),
            (
                E::PreferencesNotAvailable,
                400,
                r#"{"success":false,"error":"FAILED TO RETRIEVE USER PREFERENCES BECAUSE THEY HAVEN'T BEEN SET UP BY THE USER YET"}"#,
            ),
            (
                E::InvalidIdleTimeLimit,
                400,
                r#"{"success":false,"error":"Invalid idleTimeLimit [invalid-idle-time-limit-value]","errorType":"invalid-idle-time-limit-value"}"#,
            ),
            (
                E::InvalidPushId,
                400,
                r#"{"success":false,"error":"The required \"id\" body param is invalid. [error-id-param-not-valid]","errorType":"error-id-param-not-valid"}"#,
            ),
            (
                E::InvalidPushType,
                400,
                r#"{"success":false,"error":"The required \"type\" body param is missing or invalid. [error-type-param-not-valid]","errorType":"error-type-param-not-valid"}"#,
            ),
            (
                E::InvalidPushValue,
                400,
                r#"{"success":false,"error":"The required \"value\" body param is missing or invalid. [error-token-param-not-valid]","errorType":"error-token-param-not-valid"}"#,
            ),
            (
                E::InvalidPushAppName,
                400,
                r#"{"success":false,"error":"The required \"appName\" body param is missing or invalid. [error-appName-param-not-valid]","errorType":"error-appName-param-not-valid"}"#,
            ),
            (
                E::InvalidPushToken,
                400,
                r#"{"success":false,"error":"The required \"token\" body param is missing or invalid. [error-token-param-not-valid]","errorType":"error-token-param-not-valid"}"#,
            ),
            (
                E::PushDisabled,
                400,
                r#"{"success":false,"error":"Push is disabled [error-push-disabled]","errorType":"error-push-disabled","details":{"method":"push_test"}}"#,
            ),
            (
                E::NoPushTokens,
                400,
                r#"{"success":false,"error":"There are no tokens for this user [error-no-tokens-for-this-user]","errorType":"error-no-tokens-for-this-user","details":{"method":"push_test"}}"#,
            ),
            (E::SettingNotFound, 400, r#"{"success":false}"#),
            (
                E::Unauthorized,
                401,
                r#"{"success":false,"error":"unauthorized"}"#,
            ),
            (
                E::TeamChannelNotAllowed,
                401,
                r#"{"success":false,"error":"error-no-permission-team-channel"}"#,
            ),
            (
                E::MatchFailed(Some("type")),
                400,
                r#"{"success":false,"error":"Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation in field type"}"#,
            ),
            (
                E::MatchFailed(None),
                400,
                r#"{"success":false,"error":"Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation"}"#,
            ),
            (
                E::Team(TeamFailure::DoesNotExist),
                400,
                r#"{"success":false,"error":"team-does-not-exist"}"#,
            ),
            (
                E::Team(TeamFailure::LastOwner),
                400,
                r#"{"success":false,"error":"last-owner-can-not-be-removed"}"#,
            ),
            (E::InvalidSettingValue, 400, r#"{"success":false}"#),
            (
                E::Internal(anyhow::anyhow!("disk on fire")),
                500,
                r#"{"success":false,"error":"Internal server error"}"#,
            ),
        ]
    }

    #[test]
    fn every_variant_renders_rocket_chats_bytes() {
        let mut seen = std::collections::BTreeSet::new();
        for (error, status, body) in catalog() {
            seen.insert(Variant::from(&error));
            let response = error.error_response();
            assert_eq!(response.status().as_u16(), status, "{error:?}");
            assert_eq!(
                response.headers().get(header::CONTENT_TYPE).unwrap(),
                "application/json"
            );
            let bytes = response.into_body().try_into_bytes().unwrap();
            assert_eq!(std::str::from_utf8(&bytes).unwrap(), body, "{error:?}");
        }
        let missing: Vec<Variant> = Variant::iter().filter(|v| !seen.contains(v)).collect();
        assert!(
            missing.is_empty(),
            "variants without a row in the table: {missing:?}"
        );
    }

    #[test]
    fn internal_causes_stay_out_of_the_body_and_display() {
        let e = ApiError::from(anyhow::anyhow!("secret path /var/x"));
        assert_eq!(e.to_string(), "internal error");
        assert!(std::error::Error::source(&e).is_some());
    }

    /// An outage logs one line per failed request: its cause chain once, never a backtrace
    /// (what `{:?}` of the cause adds under `RUST_BACKTRACE`, after a multi-line chain).
    #[test]
    fn a_fault_is_logged_on_one_line_with_its_causes() {
        let cause = anyhow::anyhow!("connection refused").context("cannot read the user");
        let text = crate::telemetry::capture::logged(|| {
            ApiError::Internal(cause).error_response();
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains("request failed error=cannot read the user: connection refused"),
            "{text}"
        );
    }
}
