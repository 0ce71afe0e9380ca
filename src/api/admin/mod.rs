//! `/admin/push`, the admin page: server-rendered HTML (maud escapes every value it
//! interpolates, `page.rs`), no script, forms only. Sessions and what the page shows are the
//! service's (`service/admin.rs`); this file reads cookies and forms and answers.
//!
//! Security: the session cookie is `HttpOnly`, `SameSite=Strict`, `Path=/admin`, and `Secure`
//! when the request came over https (directly or, as the `Forwarded`/`X-Forwarded-Proto`
//! headers of a reverse proxy say, through it). Every POST form carries a CSRF token that the
//! service checks; every answer forbids framing, scripts, referrers and caching.

use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::future::LocalBoxFuture;
use maud::Markup;
use serde::de::DeserializeOwned;
use serde::Deserialize;

mod page;

use super::extract::client_ip;
use crate::error::ApiError;
use crate::service::admin::page::{AdminQuery, SESSION_TTL_MS};
use crate::service::auth::Login;
use crate::service::Services;
use crate::store::{DeliveryFilter, DeliveryStatus};

/// The session's login token.
const SESSION_COOKIE: &str = "rcpush_admin";
/// The login form's CSRF secret.
const CSRF_COOKIE: &str = "rcpush_admin_csrf";

/// No script at all, styles from our own stylesheet, forms posted only to this server, and
/// no framing (clickjacking).
const CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The headers of every answer under `/admin` (`Cache-Control: no-store` is the server's).
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Content-Type-Options", "nosniff"))
}

/// `GET /admin`: on to the page.
pub async fn index() -> HttpResponse {
    see_other("/admin/push").finish()
}

/// `GET /admin/admin.css`.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(include_str!("admin.css"))
}

/// `GET /admin/login[?failed=1|blocked=1]`: the login form, and its CSRF secret's cookie.
pub async fn login_get(
    req: HttpRequest,
    services: web::Data<Services>,
    Fields(q): Fields<LoginNotice>,
) -> HttpResponse {
    let form = services
        .admin()
        .admin_login_form(cookie_value(&req, CSRF_COOKIE).as_deref());
    let notice = match (q.failed.is_some(), q.blocked.is_some()) {
        (_, true) => Some("Too many failed attempts: try again in a few minutes."),
        (true, false) => Some("Wrong username, e-mail or password."),
        _ => None,
    };
    let mut ok = HttpResponse::Ok();
    ok.cookie(cookie(
        &req,
        CSRF_COOKIE,
        form.secret.clone(),
        SESSION_TTL_MS,
    ));
    html(ok, page::login(&form.csrf, notice))
}

/// Which failure the login form reports (fixed texts: nothing of the query is shown).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginNotice {
    failed: Option<String>,
    blocked: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginFields {
    user: String,
    password: String,
    csrf: String,
}

/// `POST /admin/login`: on success the session cookie and the page; a failure, whether the
/// user exists or not, is the same "wrong username or password".
pub async fn login_post(
    req: HttpRequest,
    services: web::Data<Services>,
    Fields(f): Fields<LoginFields>,
) -> HttpResponse {
    let who = match f.user.contains('@') {
        true => Login::Email(f.user),
        false => Login::Username(f.user),
    };
    let secret = cookie_value(&req, CSRF_COOKIE).unwrap_or_default();
    let ip = client_ip(&req);
    match services
        .admin()
        .admin_login(who, &f.password, (&secret, &f.csrf), &ip)
        .await
    {
        Ok(token) => see_other("/admin/push")
            .cookie(cookie(&req, SESSION_COOKIE, token, SESSION_TTL_MS))
            .finish(),
        Err(ApiError::LoginFailed) => see_other("/admin/login?failed=1").finish(),
        Err(ApiError::LoginBlocked(_)) => see_other("/admin/login?blocked=1").finish(),
        Err(e) => error_page(&req, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogoutFields {
    csrf: String,
}

/// `POST /admin/logout`: ends the session and forgets its cookie.
pub async fn logout_post(
    req: HttpRequest,
    services: web::Data<Services>,
    Fields(f): Fields<LogoutFields>,
) -> HttpResponse {
    let session = cookie_value(&req, SESSION_COOKIE);
    match services
        .admin()
        .admin_logout(session.as_deref(), &f.csrf)
        .await
    {
        Ok(()) | Err(ApiError::NotLoggedIn) => signed_out(&req),
        Err(e) => error_page(&req, e),
    }
}

/// The page's query: the delivery filters, the page, and whose devices to list. Empty fields
/// (a submitted form's blanks) mean no filter.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PushParams {
    #[serde(rename = "messageId")]
    message_id: Option<String>,
    #[serde(rename = "userId")]
    user_id: Option<String>,
    status: Option<String>,
    offset: Option<String>,
    user: Option<String>,
}

impl PushParams {
    fn parse(self) -> Result<AdminQuery, &'static str> {
        let given = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let status = match given(self.status) {
            None => None,
            Some(s) => Some(DeliveryStatus::parse(&s).ok_or("unknown status")?),
        };
        let offset = match given(self.offset) {
            None => 0,
            Some(s) => s.parse().map_err(|_| "offset is not a number")?,
        };
        Ok(AdminQuery {
            filter: DeliveryFilter {
                message_id: given(self.message_id),
                user_id: given(self.user_id),
                status,
            },
            offset,
            devices_of: given(self.user),
        })
    }
}

/// `GET /admin/push`: the page, or the login form for a request without a valid session.
pub async fn push_get(
    req: HttpRequest,
    services: web::Data<Services>,
    Fields(params): Fields<PushParams>,
) -> HttpResponse {
    let query = match params.parse() {
        Ok(q) => q,
        Err(why) => return message_page(StatusCode::BAD_REQUEST, "Bad request", why),
    };
    let session = cookie_value(&req, SESSION_COOKIE);
    match services.admin().admin_push(session.as_deref(), query).await {
        Ok(page) => html(HttpResponse::Ok(), page::push(&page)),
        Err(e) => error_page(&req, e),
    }
}

/// The fields of a form of the page: from the query of a GET, the body of a POST. A missing
/// field reads as empty (each struct has `#[serde(default)]`), so that a form without its
/// `csrf` gets the 403 of a wrong one; anything unreadable (another content type, a duplicate
/// field, an oversized body) gets the page's 400, never actix's plain-text parser message.
pub struct Fields<T>(T);

impl<T: DeserializeOwned + 'static> FromRequest for Fields<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = match *req.method() {
            Method::GET | Method::HEAD => None,
            _ => Some(web::Form::<T>::from_request(req, payload)),
        };
        let query = req.query_string().to_string();
        Box::pin(async move {
            let fields = match body {
                Some(form) => form.await.map(web::Form::into_inner),
                None => web::Query::<T>::from_query(&query)
                    .map(web::Query::into_inner)
                    .map_err(Into::into),
            };
            fields.map(Fields).map_err(|e| {
                let page = message_page(
                    StatusCode::BAD_REQUEST,
                    "Bad request",
                    "The form could not be read: reload the page and try again.",
                );
                InternalError::from_response(e, page).into()
            })
        })
    }
}

/// Failures as pages: no session leads to the login form, the rest say what went wrong
/// without detail.
fn error_page(req: &HttpRequest, e: ApiError) -> HttpResponse {
    match e {
        ApiError::NotLoggedIn => signed_out(req),
        ApiError::PermissionDenied => message_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "This account lacks the view-privileged-setting permission.",
        ),
        ApiError::Forbidden => message_page(
            StatusCode::FORBIDDEN,
            "Form refused",
            "The form did not come from this page or has expired: reload it and try again.",
        ),
        other => {
            // The cause chain on one line; `?` would add a backtrace under RUST_BACKTRACE.
            let cause = match &other {
                ApiError::Internal(cause) => format!("{cause:#}"),
                other => other.to_string(),
            };
            tracing::error!(error = %cause, "admin page failed");
            message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
                "The server could not answer; see its log.",
            )
        }
    }
}

/// To the login form, without the session cookie.
fn signed_out(req: &HttpRequest) -> HttpResponse {
    let mut gone = cookie(req, SESSION_COOKIE, String::new(), 0);
    gone.make_removal();
    see_other("/admin/login").cookie(gone).finish()
}

fn see_other(location: &str) -> HttpResponseBuilder {
    let mut r = HttpResponse::SeeOther();
    r.insert_header((header::LOCATION, location));
    r
}

fn message_page(status: StatusCode, title: &str, text: &str) -> HttpResponse {
    html(HttpResponse::build(status), page::message(title, text))
}

fn html(mut answer: HttpResponseBuilder, markup: Markup) -> HttpResponse {
    answer
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(name).map(|c| c.value().to_string())
}

/// A cookie of the admin page (see the module's doc).
fn cookie(
    req: &HttpRequest,
    name: &'static str,
    value: String,
    max_age_ms: i64,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(Duration::milliseconds(max_age_ms))
        .finish()
}
