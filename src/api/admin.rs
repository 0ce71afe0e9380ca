//! `/admin/push`, the admin page: server-rendered HTML (maud escapes every value it
//! interpolates), no script, forms only. Sessions and what the page shows are the service's
//! (`service/admin.rs`); this file reads cookies and forms and renders.
//!
//! Security: the session cookie is `HttpOnly`, `SameSite=Strict`, `Path=/admin`, and `Secure`
//! when the request came over https (directly or, as the `Forwarded`/`X-Forwarded-Proto`
//! headers of a reverse proxy say, through it). Every POST form carries a CSRF token that the
//! service checks; every answer forbids framing, scripts, referrers and caching.

use actix_web::cookie::{time::Duration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::extract::client_ip;
use crate::error::ApiError;
use crate::model::time;
use crate::rules::push::Transport;
use crate::rules::push_health::Credential;
use crate::service::admin::{AdminPage, AdminQuery, Health, PAGE_SIZE, SESSION_TTL_MS};
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

/// `GET /admin`: the page.
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
    web::Query(q): web::Query<LoginNotice>,
) -> HttpResponse {
    let form = services.admin_login_form(cookie_value(&req, CSRF_COOKIE).as_deref());
    let notice = match (q.failed.is_some(), q.blocked.is_some()) {
        (_, true) => Some("Too many failed attempts: try again in a few minutes."),
        (true, false) => Some("Wrong username, e-mail or password."),
        _ => None,
    };
    let body = html! {
        h1 { "rcpush · sign in" }
        @if let Some(notice) = notice { p.notice role="alert" { (notice) } }
        form method="post" action="/admin/login" {
            input type="hidden" name="csrf" value=(form.csrf);
            label { "Username or e-mail" input name="user" autocomplete="username" required; }
            label {
                "Password"
                input type="password" name="password" autocomplete="current-password" required;
            }
            button type="submit" { "Sign in" }
        }
        p.hint { "A Rocket.Chat account with the view-privileged-setting permission." }
    };
    HttpResponse::Ok()
        .cookie(cookie(&req, CSRF_COOKIE, form.secret, SESSION_TTL_MS))
        .content_type("text/html; charset=utf-8")
        .body(layout("Sign in", body).into_string())
}

/// Which failure the login form reports (fixed texts: nothing of the query is shown).
#[derive(Deserialize)]
pub struct LoginNotice {
    failed: Option<String>,
    blocked: Option<String>,
}

#[derive(Deserialize)]
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
    web::Form(f): web::Form<LoginFields>,
) -> HttpResponse {
    let who = match f.user.contains('@') {
        true => Login::Email(f.user),
        false => Login::Username(f.user),
    };
    let secret = cookie_value(&req, CSRF_COOKIE).unwrap_or_default();
    let ip = client_ip(&req);
    match services
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

#[derive(Deserialize)]
pub struct LogoutFields {
    csrf: String,
}

/// `POST /admin/logout`: ends the session and forgets its cookie.
pub async fn logout_post(
    req: HttpRequest,
    services: web::Data<Services>,
    web::Form(f): web::Form<LogoutFields>,
) -> HttpResponse {
    let session = cookie_value(&req, SESSION_COOKIE);
    match services.admin_logout(session.as_deref(), &f.csrf).await {
        Ok(()) | Err(ApiError::NotLoggedIn) => signed_out(&req),
        Err(e) => error_page(&req, e),
    }
}

/// The page's query: the delivery filters, the page, and whose devices to list. Empty fields
/// (a submitted form's blanks) mean no filter.
#[derive(Deserialize)]
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
    web::Query(params): web::Query<PushParams>,
) -> HttpResponse {
    let query = match params.parse() {
        Ok(q) => q,
        Err(why) => return message_page(StatusCode::BAD_REQUEST, "Bad request", why),
    };
    let session = cookie_value(&req, SESSION_COOKIE);
    match services.admin_push(session.as_deref(), query).await {
        Ok(page) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(push_page(&page).into_string()),
        Err(e) => error_page(&req, e),
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
            tracing::error!(error = ?other, "admin page failed");
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
    let body = html! {
        h1 { (title) }
        p { (text) }
        p { a href="/admin/push" { "Back to the admin page" } }
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(layout(title, body).into_string())
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

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · rcpush" }
                link rel="stylesheet" href="/admin/admin.css";
            }
            body { main { (body) } }
        }
    }
}

fn push_page(p: &AdminPage) -> Markup {
    let body = html! {
        header {
            h1 { "rcpush · push deliveries" }
            form method="post" action="/admin/logout" id="logout" {
                "Signed in as " strong { (p.username) } " "
                input type="hidden" name="csrf" value=(p.csrf);
                button type="submit" { "Sign out" }
            }
        }
        (health(&p.health, p.now))
        (outbox(p))
        (deliveries(p))
        (devices(p))
    };
    layout("Push deliveries", body)
}

fn credential(c: &Credential, now: i64) -> Markup {
    html! {
        @match c {
            Credential::Missing => span.muted { "not set" },
            Credential::Invalid(why) => span.bad { "invalid: " (why) },
            Credential::Valid { name, expires: Some(t) } if *t <= now => {
                span.bad { (name) ": expired " (time::iso(*t)) }
            }
            Credential::Valid { name, expires } => span.good {
                (name)
                @if let Some(t) = expires { ", expires " (time::iso(*t)) }
            },
        }
    }
}

fn health(h: &Health, now: i64) -> Markup {
    html! {
        section #health {
            h2 { "Push settings" }
            table {
                tr { th { "Push" } td { @if h.push_enabled { "enabled" } @else { "disabled" } } }
                tr {
                    th { "Transport in force" }
                    td {
                        @match h.transport {
                            Transport::Gateway => { "gateway " code { (h.gateway) } }
                            Transport::Direct => "direct (FCM and APNs)",
                        }
                    }
                }
                tr { th { "FCM service account" } td { (credential(&h.fcm, now)) } }
                tr {
                    th { "FCM access token" }
                    td {
                        @match h.fcm_token_age_ms {
                            Some(ms) => { "granted " (ms / 1000) " s ago (this process)" }
                            None => span.muted { "none cached in this process" },
                        }
                    }
                }
                @let trio = if h.apns_production { "production" } else { "development" };
                tr { th { "APNs certificate (" (trio) ")" } td { (credential(&h.apns_cert, now)) } }
                tr { th { "APNs key (" (trio) ")" } td { (credential(&h.apns_key, now)) } }
            }
        }
    }
}

fn outbox(p: &AdminPage) -> Markup {
    html! {
        section #outbox {
            h2 { "Outbox" }
            p { (p.outbox.total) " pushes waiting" @if p.outbox.total > p.outbox.head.len() {
                ", the " (p.outbox.head.len()) " due first shown" } "." }
            @if !p.outbox.head.is_empty() {
                table {
                    tr {
                        th { "Push" } th { "User" } th { "Device" } th { "Message" }
                        th { "State" } th { "Next attempt" }
                    }
                    @for e in &p.outbox.head {
                        tr {
                            td { code { (e.push_id) } }
                            td { code { (e.user_id) } }
                            td { (e.service) " …" code { (e.token_tail) } }
                            td { code { (e.message_id.as_deref().unwrap_or("")) } }
                            td { @if e.attempts == 0 { "pending" } @else {
                                "retrying (" (e.attempts) " failed)" } }
                            td { (time::iso(e.due)) }
                        }
                    }
                }
            }
        }
    }
}

fn deliveries(p: &AdminPage) -> Markup {
    let f = &p.query.filter;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let page = &p.deliveries;
    let status = f.status.map(DeliveryStatus::as_str).unwrap_or("");
    html! {
        section #deliveries {
            h2 { "Delivery log" }
            form.filters method="get" action="/admin/push" {
                label { "Message id" input name="messageId" value=(text(&f.message_id)); }
                label { "User id" input name="userId" value=(text(&f.user_id)); }
                label {
                    "Status"
                    select name="status" {
                        @for s in ["", "sent", "retrying", "pruned", "failed"] {
                            option value=(s) selected[s == status] {
                                @if s.is_empty() { "any" } @else { (s) }
                            }
                        }
                    }
                }
                button type="submit" { "Filter" }
            }
            p #delivery-count {
                (page.total) " attempts match"
                @if !page.records.is_empty() {
                    "; " (p.query.offset + 1) "–" (p.query.offset + page.records.len()) " shown"
                } "."
            }
            @if !page.records.is_empty() {
                table {
                    tr {
                        th { "Time" } th { "Message" } th { "User" } th { "Device" }
                        th { "Transport" } th { "Attempt" } th { "Status" }
                        th { "Next attempt" } th { "Provider" }
                    }
                    @for r in &page.records {
                        tr {
                            td { (time::iso(r.ts)) }
                            td { code { (r.message_id.as_deref().unwrap_or("")) } }
                            td { code { (r.user_id) } }
                            td { (r.service) " …" code { (r.token_tail) } }
                            td { (r.transport) }
                            td { (r.attempt) }
                            td class=(r.status.as_str()) { (r.status.as_str()) }
                            td { @if let Some(t) = r.next_attempt { (time::iso(t)) } }
                            td {
                                @if let Some(s) = r.provider_status { (s) " " }
                                (r.reason.as_deref().unwrap_or(""))
                            }
                        }
                    }
                }
            }
            nav {
                @if p.query.offset > 0 {
                    (page_button(p, p.query.offset.saturating_sub(PAGE_SIZE), "Newer"))
                }
                @if p.query.offset + page.records.len() < page.total {
                    (page_button(p, p.query.offset + PAGE_SIZE, "Older"))
                }
            }
        }
    }
}

/// A form that asks for another page of the log with the same filters (a form, so that the
/// values travel escaped as fields, not pasted into a URL).
fn page_button(p: &AdminPage, offset: usize, label: &str) -> Markup {
    let f = &p.query.filter;
    html! {
        form.page method="get" action="/admin/push" {
            @if let Some(m) = &f.message_id { input type="hidden" name="messageId" value=(m); }
            @if let Some(u) = &f.user_id { input type="hidden" name="userId" value=(u); }
            @if let Some(s) = f.status { input type="hidden" name="status" value=(s.as_str()); }
            input type="hidden" name="offset" value=(offset);
            button type="submit" { (label) }
        }
    }
}

fn devices(p: &AdminPage) -> Markup {
    html! {
        section #devices {
            h2 { "Devices of a user" }
            form method="get" action="/admin/push" {
                label {
                    "Username or user id"
                    input name="user" value=(p.devices.as_ref().map_or("", |d| d.asked.as_str()));
                }
                button type="submit" { "Show devices" }
            }
            @if let Some(d) = &p.devices {
                @match &d.user {
                    None => p.notice { "No user " code { (d.asked) } "." },
                    Some((id, username)) => {
                        p { (d.devices.len()) " devices of " strong { (username) }
                            " (" code { (id) } ")." }
                        @if !d.devices.is_empty() {
                            table {
                                tr { th { "App" } th { "Platform" } th { "Token" } th { "Enabled" } }
                                @for dev in &d.devices {
                                    tr {
                                        td { (dev.app) }
                                        td { (dev.service) }
                                        td { "…" code { (dev.token_tail) } }
                                        td { @if dev.enabled { "yes" } @else { "no" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
