//! The HTTP layer: parse a typed request, call one service function, shape the response.
//! One file per Rocket.Chat namespace; every route is listed here, spelled as in the docs.

// The admin page is the `admin` feature's (default; the edge build leaves it out).
#[cfg(feature = "admin")]
mod admin;
mod auth;
mod chat;
mod deliveries;
pub mod extract;
pub mod json_depth;
mod method_call;
mod permissions;
mod push;
pub mod query;
pub mod respond;
mod rooms;
mod settings;
mod subscriptions;
mod teams;
mod testing;
mod users;

use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::model::room::Kind;

pub fn configure(cfg: &mut web::ServiceConfig) {
    #[cfg(feature = "admin")]
    cfg.service(
        web::scope("/admin")
            .wrap(admin::security_headers())
            .route("", web::get().to(admin::index))
            .route("/login", web::get().to(admin::login_get))
            .route("/login", web::post().to(admin::login_post))
            .route("/logout", web::post().to(admin::logout_post))
            .route("/push", web::get().to(admin::push_get))
            .route("/admin.css", web::get().to(admin::stylesheet)),
    );
    cfg.route("/api/info", web::get().to(settings::info))
        .route("/metrics", web::get().to(metrics))
        .route(
            "/websocket",
            web::get().to(crate::realtime::socket::websocket),
        )
        .route(
            "/websocket/",
            web::get().to(crate::realtime::socket::websocket),
        )
        .route(
            "/api/rcpush/deliveries",
            web::get().to(deliveries::deliveries_get),
        )
        .service(
            web::scope("/api/rcpush/testing")
                .guard(actix_web::guard::fn_guard(testing::in_testing_mode))
                .route("/pushes", web::get().to(testing::pushes_get))
                .route("/pushes", web::delete().to(testing::pushes_delete))
                .route("/clock", web::post().to(testing::clock_post))
                .route("/reset", web::post().to(testing::reset_post)),
        )
        .service(
            web::scope("/api/v1")
                .route("/login", web::post().to(auth::login))
                .route("/logout", web::post().to(auth::logout))
                .route("/logout", web::get().to(auth::logout))
                .route("/me", web::get().to(auth::me))
                .route("/push.get", web::get().to(push::push_get))
                .route(
                    "/method.call/{method}",
                    web::post().to(method_call::method_call),
                )
                .route(
                    "/method.callAnon/{method}",
                    web::post().to(method_call::method_call_anon),
                )
                .route("/push.token", web::post().to(push::push_token_post))
                .route("/push.token", web::delete().to(push::push_token_delete))
                .route("/push.info", web::get().to(push::push_info))
                .route("/push.test", web::post().to(push::push_test))
                .route("/teams.create", web::post().to(teams::teams_create))
                .route("/teams.info", web::get().to(teams::teams_info))
                .route("/teams.list", web::get().to(teams::teams_list))
                .route("/teams.listAll", web::get().to(teams::teams_list_all))
                .route("/teams.members", web::get().to(teams::teams_members))
                .route("/teams.listRooms", web::get().to(teams::teams_list_rooms))
                .route(
                    "/teams.addMembers",
                    web::post().to(teams::teams_add_members),
                )
                .route(
                    "/teams.removeMember",
                    web::post().to(teams::teams_remove_member),
                )
                .route("/teams.leave", web::post().to(teams::teams_leave))
                .route("/teams.addRooms", web::post().to(teams::teams_add_rooms))
                .route(
                    "/teams.removeRoom",
                    web::post().to(teams::teams_remove_room),
                )
                .route("/teams.delete", web::post().to(teams::teams_delete))
                .route("/users.create", web::post().to(users::users_create))
                .route("/users.info", web::get().to(users::users_info))
                .route("/users.update", web::post().to(users::users_update))
                .route(
                    "/users.setPreferences",
                    web::post().to(users::users_set_preferences),
                )
                .route(
                    "/users.getPreferences",
                    web::get().to(users::users_get_preferences),
                )
                .route(
                    "/channels.create",
                    web::post().to(|s, c, b| rooms::create(Kind::Channels, s, c, b)),
                )
                .route(
                    "/groups.create",
                    web::post().to(|s, c, b| rooms::create(Kind::Groups, s, c, b)),
                )
                .route("/im.create", web::post().to(rooms::im_create))
                .route("/dm.create", web::post().to(rooms::im_create))
                .route(
                    "/channels.invite",
                    web::post().to(|s, c, b| rooms::invite(Kind::Channels, s, c, b)),
                )
                .route(
                    "/groups.invite",
                    web::post().to(|s, c, b| rooms::invite(Kind::Groups, s, c, b)),
                )
                .route(
                    "/channels.kick",
                    web::post().to(|s, c, b| rooms::kick(Kind::Channels, s, c, b)),
                )
                .route(
                    "/groups.kick",
                    web::post().to(|s, c, b| rooms::kick(Kind::Groups, s, c, b)),
                )
                .route(
                    "/channels.leave",
                    web::post().to(|s, c, b| rooms::leave(Kind::Channels, s, c, b)),
                )
                .route(
                    "/groups.leave",
                    web::post().to(|s, c, b| rooms::leave(Kind::Groups, s, c, b)),
                )
                .route(
                    "/channels.info",
                    web::get().to(|s, c, q| rooms::info(Kind::Channels, s, c, q)),
                )
                .route(
                    "/groups.info",
                    web::get().to(|s, c, q| rooms::info(Kind::Groups, s, c, q)),
                )
                .route(
                    "/channels.delete",
                    web::post().to(|s, c, b| rooms::delete(Kind::Channels, s, c, b)),
                )
                .route(
                    "/groups.delete",
                    web::post().to(|s, c, b| rooms::delete(Kind::Groups, s, c, b)),
                )
                .route("/channels.rename", web::post().to(rooms::rename))
                .route("/chat.postMessage", web::post().to(chat::chat_post_message))
                .route("/chat.sendMessage", web::post().to(chat::chat_send_message))
                .route("/chat.getMessage", web::get().to(chat::chat_get_message))
                .route("/chat.update", web::post().to(chat::chat_update))
                .route("/chat.delete", web::post().to(chat::chat_delete))
                .route("/chat.react", web::post().to(chat::chat_react))
                .route(
                    "/subscriptions.get",
                    web::get().to(subscriptions::subscriptions_get),
                )
                .route(
                    "/subscriptions.getOne",
                    web::get().to(subscriptions::subscriptions_get_one),
                )
                .route(
                    "/subscriptions.read",
                    web::post().to(subscriptions::subscriptions_read),
                )
                .route(
                    "/permissions.listAll",
                    web::get().to(permissions::permissions_list_all),
                )
                .route(
                    "/permissions.update",
                    web::post().to(permissions::permissions_update),
                )
                .route("/settings/{id}", web::get().to(settings::settings_get))
                .route("/settings/{id}", web::post().to(settings::settings_post)),
        )
        .default_service(web::to(not_found));
}

/// `GET /metrics`: request latencies, push delivery counters and the outbox length, for
/// Prometheus.
async fn metrics(
    req: actix_web::HttpRequest,
    services: web::Data<crate::service::Services>,
) -> Result<HttpResponse, ApiError> {
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let text = services.metrics(bearer)?;
    Ok(HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(text))
}

/// Records how long each request took, under its route pattern.
pub async fn timed(
    latency: std::sync::Arc<crate::metrics::Latency>,
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let start = std::time::Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let res = next.call(req).await;
    latency.observe(&route, start.elapsed());
    res
}

/// Moves a deterministic run's clock as each request arrives (`Clock::tick`).
pub async fn tick(
    clock: crate::model::time::Clock,
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    clock.tick();
    next.call(req).await
}

/// Unknown routes and methods get Rocket.Chat's 404 body.
async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
