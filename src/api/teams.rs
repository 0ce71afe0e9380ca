//! `teams.*`: teams and their members. Each handler checks the request as Rocket.Chat's
//! route does (`check()` or the typed route's ajv schema) and calls one `Teams` function.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::extract::{expected, js_type, JsonBody, Query};
use super::query::{Qs, QsValue};
use super::respond;
use crate::error::{ApiError, ApiResult, Violation};
use crate::model::team::TeamType;
use crate::service::auth::Caller;
use crate::service::teams::{CreateTeam, NewMember, RoomsFilter, TeamRef};
use crate::service::Services;

/// `getPaginationItems`' defaults: `API_Default_Count` and `API_Upper_Count_Limit`.
const DEFAULT_COUNT: usize = 50;
const MAX_COUNT: usize = 100;

/// `teamId`, else `teamName`, whichever is a non-empty string (`getTeamByIdOrName`).
fn team_ref_of(get: impl Fn(&str) -> Option<String>) -> Option<TeamRef> {
    match (get("teamId").filter(|s| !s.is_empty()), get("teamName")) {
        (Some(id), _) => Some(TeamRef::Id(id)),
        (None, Some(name)) if !name.is_empty() => Some(TeamRef::Name(name)),
        _ => None,
    }
}

fn query_text(q: &Qs, key: &str) -> Option<String> {
    match q.get(key) {
        Some(QsValue::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

/// `check(queryParams, Match.OneOf({teamId: String}, {teamName: String}))`.
fn query_team_ref(q: &Qs) -> ApiResult<Option<TeamRef>> {
    if query_text(q, "teamId").is_none() && query_text(q, "teamName").is_none() {
        return Err(ApiError::MatchFailed(None));
    }
    Ok(team_ref_of(|k| query_text(q, k)))
}

/// A typed route's `oneOf` of a body with `teamId` and one with `teamName`.
fn body_team_ref(body: &JsonBody) -> ApiResult<Option<TeamRef>> {
    let text = |k: &str| body.0.get(k).and_then(Value::as_str).map(str::to_string);
    if text("teamId").is_none() && text("teamName").is_none() {
        return Err(ApiError::InvalidParamsOneOf(
            Violation::Required("teamId"),
            Violation::Required("teamName"),
        ));
    }
    Ok(team_ref_of(text))
}

/// A typed route's required string property.
fn required_id(body: &JsonBody, key: &'static str) -> ApiResult<String> {
    match body.0.get(key) {
        Some(Value::String(id)) => Ok(id.clone()),
        Some(_) => Err(ApiError::InvalidParams(Violation::NotString)),
        None => Err(ApiError::InvalidParams(Violation::Required(key))),
    }
}

/// `offset` and `count` as `getPaginationItems` reads them.
fn page(q: &Qs) -> (usize, usize) {
    let number = |k: &str| query_text(q, k).and_then(|s| s.parse::<usize>().ok());
    let count = number("count").filter(|c| *c > 0).unwrap_or(DEFAULT_COUNT);
    (number("offset").unwrap_or(0), count.min(MAX_COUNT))
}

/// `check(bodyParams, Match.ObjectIncluding({name: String, type: Match.OneOf(0, 1),
/// members: Match.Maybe([String]), owner: Match.Maybe(String)}))`: the body's own keys in
/// order first, then the required ones it lacks.
fn create_body(body: &JsonBody) -> ApiResult<CreateTeam> {
    for (key, value) in &body.0 {
        match (key.as_str(), value) {
            ("name", Value::String(_)) => {}
            ("name", other) => return Err(expected("string", js_type(other), "name")),
            ("type", v) if v.as_i64().and_then(TeamType::of).is_none() => {
                return Err(ApiError::MatchFailed(Some("type")))
            }
            ("members", Value::Array(items)) if items.iter().all(Value::is_string) => {}
            ("members" | "owner", Value::Null) | ("owner", Value::String(_)) => {}
            ("members", _) => return Err(ApiError::MatchFailed(Some("members"))),
            ("owner", _) => return Err(ApiError::MatchFailed(Some("owner"))),
            _ => {}
        }
    }
    let name = body.string("name")?.to_string();
    let kind = match body.0.get("type").and_then(Value::as_i64) {
        Some(code) => TeamType::of(code).ok_or(ApiError::MatchFailed(Some("type")))?,
        None => return Err(ApiError::MissingKey("type".into())),
    };
    Ok(CreateTeam {
        name,
        kind,
        members: body.opt_strings("members")?,
    })
}

/// `POST teams.create {name, type, members?}` → `{team}`.
pub async fn teams_create(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let team = services.teams().create(&caller, create_body(&body)).await?;
    Ok(respond::success(json!({ "team": team })))
}

/// `GET teams.list?offset=&count=` → `{teams, total, count, offset}`: the caller's teams.
pub async fn teams_list(
    services: web::Data<Services>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let (offset, count) = page(&q);
    let (teams, total) = services.teams().list(&caller, offset, count)?;
    Ok(teams_page(teams, total, offset))
}

/// `GET teams.listAll?offset=&count=` → `{teams, total, count, offset}` (`view-all-teams`).
pub async fn teams_list_all(
    services: web::Data<Services>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let (offset, count) = page(&q);
    let (teams, total) = services.teams().list_all(&caller, offset, count)?;
    Ok(teams_page(teams, total, offset))
}

fn teams_page(teams: Vec<Value>, total: usize, offset: usize) -> HttpResponse {
    respond::success(json!({
        "teams": teams,
        "total": total,
        "count": teams.len(),
        "offset": offset,
    }))
}

/// `GET teams.info?teamId=|teamName=` → `{teamInfo}`.
pub async fn teams_info(
    services: web::Data<Services>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let team = services.teams().info(&caller, query_team_ref(&q)?)?;
    Ok(respond::success(json!({ "teamInfo": team })))
}

/// `GET teams.members?teamId=|teamName=&offset=&count=` → `{members, total, count, offset}`.
pub async fn teams_members(
    services: web::Data<Services>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let (offset, count) = page(&q);
    let team = query_team_ref(&q)?;
    let page = services.teams().members(&caller, team, offset, count)?;
    Ok(respond::success(json!({
        "members": page.members,
        "total": page.total,
        "count": page.members.len(),
        "offset": offset,
    })))
}

/// `GET teams.listRooms?teamId=|teamName=&filter=&type=&offset=&count=` →
/// `{rooms, total, count, offset}`.
pub async fn teams_list_rooms(
    services: web::Data<Services>,
    caller: Caller,
    Query(q): Query,
) -> ApiResult<HttpResponse> {
    let team = query_team_ref(&q)?;
    for key in ["filter", "type", "offset", "count"] {
        if let Some(v) = q.get(key).filter(|v| !matches!(v, QsValue::Str(_))) {
            return Err(expected("string", v.js_type(), key));
        }
    }
    let (offset, count) = page(&q);
    let filter = RoomsFilter {
        name: query_text(&q, "filter"),
        auto_join: query_text(&q, "type").as_deref() == Some("autoJoin"),
    };
    let (rooms, total) = services
        .teams()
        .list_rooms(&caller, team, &filter, offset, count)?;
    Ok(respond::success(json!({
        "rooms": rooms,
        "total": total,
        "count": rooms.len(),
        "offset": offset,
    })))
}

/// `members: [{userId, roles?}]`, at least one (`isTeamsAddMembersProps`).
fn new_members(body: &JsonBody) -> ApiResult<Vec<NewMember>> {
    let invalid = |v| ApiError::InvalidParams(v);
    let items = match body.0.get("members") {
        None => return Err(invalid(Violation::Required("members"))),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid(Violation::NotArray)),
    };
    items
        .iter()
        .map(|item| {
            let Value::Object(m) = item else {
                return Err(invalid(Violation::NotObject));
            };
            let user_id = match m.get("userId") {
                Some(Value::String(id)) => id.clone(),
                Some(_) => return Err(invalid(Violation::NotString)),
                None => return Err(invalid(Violation::Required("userId"))),
            };
            let roles = match m.get("roles") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(r)) => r
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or(invalid(Violation::NotString))?,
                Some(_) => return Err(invalid(Violation::NotArray)),
            };
            Ok(NewMember { user_id, roles })
        })
        .collect()
}

/// `POST teams.addMembers {teamId|teamName, members}` → `{}`.
pub async fn teams_add_members(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let team = body_team_ref(&body)?;
    let members = new_members(&body)?;
    services.teams().add_members(&caller, team, members).await?;
    Ok(respond::success(json!({})))
}

/// `POST teams.addRooms {teamId|teamName, rooms}` → `{rooms}`.
pub async fn teams_add_rooms(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    // `check(bodyParams, Match.OneOf({teamId: String, rooms: [String]}, {teamName, rooms}))`
    let text = |k: &str| body.0.get(k).is_some_and(Value::is_string);
    let rooms_ok =
        matches!(body.0.get("rooms"), Some(Value::Array(r)) if r.iter().all(Value::is_string));
    if !(rooms_ok && (text("teamId") || text("teamName"))) {
        return Err(ApiError::MatchFailed(None));
    }
    let team = body_team_ref(&body)?;
    let rooms = body.opt_strings("rooms")?;
    let rooms = services.teams().add_rooms(&caller, team, rooms).await?;
    Ok(respond::success(json!({ "rooms": rooms })))
}

/// `POST teams.removeRoom {teamId|teamName, roomId}` → `{room}`.
pub async fn teams_remove_room(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let team = body_team_ref(&body)?;
    let room_id = required_id(&body, "roomId")?;
    let room = services
        .teams()
        .remove_room(&caller, team, &room_id)
        .await?;
    Ok(respond::success(json!({ "room": room })))
}

/// `POST teams.removeMember {teamId|teamName, userId, rooms?}` → `{}`.
pub async fn teams_remove_member(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let team = body_team_ref(&body)?;
    let user_id = required_id(&body, "userId")?;
    let rooms = body.opt_strings("rooms")?;
    services
        .teams()
        .remove_member(&caller, team, &user_id, rooms)
        .await?;
    Ok(respond::success(json!({})))
}

/// `POST teams.leave {teamId|teamName}` → `{}`.
pub async fn teams_leave(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let team = body_team_ref(&body)?;
    services.teams().leave(&caller, team).await?;
    Ok(respond::success(json!({})))
}

/// `POST teams.delete {teamId|teamName, roomsToRemove?}` → `{}`.
pub async fn teams_delete(
    services: web::Data<Services>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<HttpResponse> {
    let team = body_team_ref(&body)?;
    let rooms = body.opt_strings("roomsToRemove")?;
    services.teams().delete(&caller, team, rooms).await?;
    Ok(respond::success(json!({})))
}
