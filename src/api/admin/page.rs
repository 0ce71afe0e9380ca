//! The admin page's HTML. maud escapes every value spliced in with `(…)`, so nothing a user
//! or a provider controls (names, ids, reasons, a certificate's subject) can become markup.

use maud::{html, Markup, DOCTYPE};

use crate::delivery::credentials::Credential;
use crate::delivery::gateway::rules::Transport;
use crate::model::time;
use crate::service::admin::page::{AdminPage, Health, PAGE_SIZE};
use crate::store::DeliveryStatus;

/// The login form, with its CSRF token and the notice of a failed attempt.
pub(super) fn login(csrf: &str, notice: Option<&str>) -> Markup {
    let body = html! {
        h1 { "rcpush · sign in" }
        @if let Some(notice) = notice { p.notice role="alert" { (notice) } }
        form method="post" action="/admin/login" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Username or e-mail" input name="user" autocomplete="username" required; }
            label {
                "Password"
                input type="password" name="password" autocomplete="current-password" required;
            }
            button type="submit" { "Sign in" }
        }
        p.hint { "A Rocket.Chat account with the view-privileged-setting permission." }
    };
    layout("Sign in", body)
}

/// A page that only says something (errors).
pub(super) fn message(title: &str, text: &str) -> Markup {
    let body = html! {
        h1 { (title) }
        p { (text) }
        p { a href="/admin/push" { "Back to the admin page" } }
    };
    layout(title, body)
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

/// `/admin/push` itself.
pub(super) fn push(p: &AdminPage) -> Markup {
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
                tr { th { "APNs token key (both)" } td { (credential(&h.apns_token, now)) } }
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
                        p { (count(d.devices.len(), "device")) " of " strong { (username) }
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

/// `1 device`, `2 devices`.
fn count(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}
