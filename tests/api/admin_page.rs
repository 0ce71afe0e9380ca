//! `/admin/push`, the admin page, over HTTP: login through its form (and its failures), the
//! session cookie, CSRF refusals, escaping, and what the page never shows (secrets, whole
//! device tokens).

use serde_json::json;

use crate::helpers::*;
use crate::push_delivery::DM;

/// A device token long enough that its tail is not the whole of it.
const DEVICE_TOKEN: &str = "gcm-token-of-rodriq-0123456789-SECRETPART-tail42";
const TAIL: &str = "tail42";

/// A client with a cookie jar that does not follow redirects, so that each step shows.
struct Browser {
    base: String,
    agent: ureq::Agent,
    cookies: Vec<(String, String)>,
}

/// An answer, with every cookie it sets.
struct Page {
    resp: Resp,
    set_cookies: Vec<String>,
}

impl std::ops::Deref for Page {
    type Target = Resp;

    fn deref(&self) -> &Resp {
        &self.resp
    }
}

impl Page {
    fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The `value` of the hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("a CSRF field")
            + 19;
        self.body[at..].split('"').next().unwrap().to_string()
    }

    fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser {
            base: app.url.clone(),
            agent: ureq::AgentBuilder::new().redirects(0).build(),
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn finish(&mut self, result: Result<ureq::Response, ureq::Error>) -> Page {
        let r = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("transport error: {e}"),
        };
        let set_cookies: Vec<String> = r.all("set-cookie").into_iter().map(String::from).collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != name);
            if !value.is_empty() {
                self.cookies.push((name.to_string(), value.to_string()));
            }
        }
        Page {
            resp: Resp::read(r).expect("the body"),
            set_cookies,
        }
    }

    fn get(&mut self, path: &str) -> Page {
        let req = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie_header());
        let result = req.call();
        self.finish(result)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie_header());
        let result = req.send_form(form);
        self.finish(result)
    }

    /// Fills and sends the login form.
    fn login(&mut self, user: &str, password: &str) -> Page {
        let csrf = self.get("/admin/login").csrf();
        self.post(
            "/admin/login",
            &[("user", user), ("password", password), ("csrf", &csrf)],
        )
    }
}

/// A device of rodriq's, and a push to it that the closed gateway makes wait: one outbox
/// entry and one `retrying` record in the log. Returns the message id.
fn one_retrying_push(app: &TestApp) -> String {
    app.register_token(RODRIQ, "gcm", DEVICE_TOKEN, "chat.rocket.android");
    let mid = app.post_message(ALICE, DM, "hello admin page").id;
    let admin = app.admin();
    let start = std::time::Instant::now();
    while app.get("/api/rcpush/deliveries", auth(&admin)).json()["total"] == 0 {
        assert!(start.elapsed().as_secs() < 10, "no delivery recorded");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    mid
}

#[test]
fn an_admin_signs_in_and_sees_the_outbox_the_log_devices_and_health() {
    let app = spawn_app!();
    let mid = one_retrying_push(&app);
    let mut b = Browser::new(&app);

    let r = b.login("admin", ADMIN_PASSWORD);
    assert_eq!((r.status, r.location()), (303, Some("/admin/push")));
    let session = r.set_cookie("rcpush_admin").expect("a session cookie");
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/admin",
        "Max-Age=28800",
    ] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("Secure"), "plain http: {session}");

    let page = b.get("/admin/push");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("script-src"), "no script allowed: {csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let body = &page.body;
    assert!(
        body.contains("Signed in as <strong>admin</strong>"),
        "{body}"
    );
    // Health: the gateway is in force, no direct credentials.
    assert!(
        body.contains("gateway <code>http://127.0.0.1:9</code>"),
        "{body}"
    );
    assert!(body.contains("none cached in this process"));
    // The outbox and the log: the waiting push, by its token's tail only.
    assert!(body.contains("1 pushes waiting"), "{body}");
    assert!(body.contains("retrying (1 failed)"), "{body}");
    assert!(body.contains(&format!("<code>{TAIL}</code>")));
    assert!(body.contains(&mid));
    assert!(
        body.contains(r#"<td class="retrying">retrying</td>"#),
        "{body}"
    );
    assert!(!body.contains(DEVICE_TOKEN) && !body.contains("SECRETPART"));

    // Filters.
    let sent = b.get("/admin/push?status=sent&messageId=&userId=");
    assert!(sent.body.contains("0 attempts match"), "{}", sent.body);
    assert!(sent.body.contains(r#"<option value="sent" selected>"#));
    let by_message = b.get(&format!("/admin/push?messageId={mid}&status=retrying"));
    assert!(by_message.body.contains("1 attempts match"));
    let by_user = b.get("/admin/push?userId=nobody");
    assert!(by_user.body.contains("0 attempts match"));
    assert_eq!(b.get("/admin/push?status=lost").status, 400);
    assert_eq!(b.get("/admin/push?offset=x").status, 400);

    // Devices, by username or id.
    let devices = b.get("/admin/push?user=rodriq");
    assert!(
        devices.body.contains("1 device of <strong>rodriq</strong>"),
        "{}",
        devices.body
    );
    assert!(devices
        .body
        .contains("<td>chat.rocket.android</td><td>gcm</td>"));
    assert!(!devices.body.contains("SECRETPART"));
    let by_id = b.get(&format!("/admin/push?user={}", RODRIQ.0));
    assert!(by_id.body.contains("1 device of <strong>rodriq</strong>"));
    let none = b.get("/admin/push?user=bob");
    assert!(
        none.body.contains("0 devices of <strong>bob</strong>"),
        "{}",
        none.body
    );

    // Signing out ends the session for good, even if its cookie is sent again.
    let stolen = b.cookies.clone();
    let csrf = page.csrf();
    let r = b.post("/admin/logout", &[("csrf", &csrf)]);
    assert_eq!((r.status, r.location()), (303, Some("/admin/login")));
    assert!(r.set_cookie("rcpush_admin").unwrap().contains("Max-Age=0"));
    b.cookies = stolen;
    let r = b.get("/admin/push");
    assert_eq!((r.status, r.location()), (303, Some("/admin/login")));
}

#[test]
fn no_session_leads_to_the_login_form() {
    let app = spawn_app!();
    let mut b = Browser::new(&app);
    for path in ["/admin/push", "/admin/push?status=sent"] {
        let r = b.get(path);
        assert_eq!((r.status, r.location()), (303, Some("/admin/login")));
    }
    b.cookies
        .push(("rcpush_admin".into(), "not-a-session".into()));
    let r = b.get("/admin/push");
    assert_eq!((r.status, r.location()), (303, Some("/admin/login")));
    // A user's API token in the cookie gives no more than its user may see.
    let (_, alice_token) = app.login("alice", "alice-demo");
    b.cookies = vec![("rcpush_admin".into(), alice_token)];
    assert_eq!(b.get("/admin/push").status, 403);
    let form = b.get("/admin/login");
    assert_eq!(form.status, 200);
    assert!(form.body.contains(r#"type="password""#));
    let csrf = form.set_cookie("rcpush_admin_csrf").unwrap();
    assert!(
        csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"),
        "{csrf}"
    );
    assert_eq!(b.get("/admin").location(), Some("/admin/push"));
}

#[test]
fn a_wrong_password_and_an_unknown_user_fail_alike_and_are_throttled() {
    let app = spawn_app_with!(|c| c.limits.login_failures_per_user = 3);
    let mut b = Browser::new(&app);
    let wrong = b.login("admin", "wrong");
    let unknown = b.login("nobody-here", "wrong");
    for r in [&wrong, &unknown] {
        assert_eq!(
            (r.status, r.location()),
            (303, Some("/admin/login?failed=1"))
        );
        assert!(r.set_cookie("rcpush_admin").is_none());
    }
    assert!(b
        .get("/admin/login?failed=1")
        .body
        .contains("Wrong username, e-mail or password."));
    b.login("admin", "wrong");
    b.login("admin", "wrong");
    // The same throttle as the API's login: now even the right password waits.
    let r = b.login("admin", ADMIN_PASSWORD);
    assert_eq!(r.location(), Some("/admin/login?blocked=1"));
    assert!(app
        .post(
            "/api/v1/login",
            None,
            &json!({"user": "admin", "password": ADMIN_PASSWORD})
        )
        .body
        .contains("error-login-blocked"));
}

#[test]
fn a_user_without_the_permission_gets_a_403_and_no_session() {
    let app = spawn_app!();
    let mut b = Browser::new(&app);
    let r = b.login("alice", "alice-demo");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("view-privileged-setting"));
    assert!(r.set_cookie("rcpush_admin").is_none());
    // By e-mail, the same.
    assert_eq!(b.login("alice@example.com", "alice-demo").status, 403);
}

#[test]
fn forms_without_their_csrf_token_are_refused() {
    let app = spawn_app!();
    let mut b = Browser::new(&app);
    b.get("/admin/login");
    let creds = [("user", "admin"), ("password", ADMIN_PASSWORD)];
    let r = b.post("/admin/login", &[creds[0], creds[1], ("csrf", "forged")]);
    assert_eq!(r.status, 403);
    assert!(r.set_cookie("rcpush_admin").is_none());
    // Without the field: the page's 403, as for a wrong token (not a parser's 400).
    let r = b.post("/admin/login", &creds);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.content_type.starts_with("text/html"),
        "{}",
        r.content_type
    );
    assert!(r.body.contains("Form refused"), "{}", r.body);
    // A token of another browser's form (its cookie not sent) is refused too.
    let mut other = Browser::new(&app);
    let theirs = other.get("/admin/login").csrf();
    let r = b.post("/admin/login", &[creds[0], creds[1], ("csrf", &theirs)]);
    assert_eq!(r.status, 403);

    assert_eq!(b.login("admin", ADMIN_PASSWORD).status, 303);
    let page = b.get("/admin/push");
    let login_csrf = b.get("/admin/login").csrf();
    for forged in ["", "forged", login_csrf.as_str()] {
        let r = b.post("/admin/logout", &[("csrf", forged)]);
        assert_eq!(r.status, 403, "logout with {forged:?}");
    }
    assert_eq!(
        b.post("/admin/logout", &[]).status,
        403,
        "logout without csrf"
    );
    assert_eq!(b.get("/admin/push").status, 200, "still signed in");
    assert_eq!(
        b.post("/admin/logout", &[("csrf", &page.csrf())]).status,
        303
    );
}

/// Forms and queries the page cannot read get its 400 page, never a parser's plain text.
#[test]
fn malformed_forms_and_queries_get_the_page_s_400() {
    let app = spawn_app!();
    let mut b = Browser::new(&app);
    let csrf = b.get("/admin/login").csrf();
    let json_body = Resp::of(
        ureq::post(&format!("{}/admin/login", app.url))
            .set("Cookie", &b.cookie_header())
            .send_json(json!({"user": "admin", "password": ADMIN_PASSWORD, "csrf": csrf})),
    );
    let twice = b.post(
        "/admin/login",
        &[
            ("user", "admin"),
            ("user", "root"),
            ("password", "x"),
            ("csrf", &csrf),
        ],
    );
    let oversized = "x".repeat(64 * 1024);
    let too_long = b.post(
        "/admin/login",
        &[("user", oversized.as_str()), ("csrf", &csrf)],
    );
    let query = b.get("/admin/login?failed=1&failed=2");
    assert_eq!(b.login("admin", ADMIN_PASSWORD).status, 303);
    let page_query = b.get("/admin/push?offset=1&offset=2");
    for (what, r) in [
        ("a JSON body", &json_body),
        ("a field twice", &twice.resp),
        ("an oversized form", &too_long.resp),
        ("a query field twice", &query.resp),
        ("the page's query twice", &page_query.resp),
    ] {
        assert_eq!(r.status, 400, "{what}: {}", r.body);
        assert!(
            r.content_type.starts_with("text/html"),
            "{what}: {}",
            r.content_type
        );
        assert!(
            r.body.contains("The form could not be read"),
            "{what}: {}",
            r.body
        );
        assert!(!r.body.contains("Parse error"), "{what}: {}", r.body);
        assert!(!r.body.contains("deserialize"), "{what}: {}", r.body);
    }
}

#[test]
fn hostile_strings_are_escaped_and_secrets_never_shown() {
    let key = include_str!("../fixtures/fcm-test-key.pem");
    let account = json!({
        "type": "service_account",
        "client_email": "push@example.iam.gserviceaccount.com",
        "project_id": "<b>project</b>",
        "private_key_id": "private-key-id-SECRET",
        "private_key": key,
    })
    .to_string();
    let apn_key = include_str!("../fixtures/admin-test-key.pem");
    let app = spawn_app_with!(|c| {
        let s = &mut c.settings;
        s.insert("Push_enable_gateway".into(), json!(false));
        s.insert("Push_google_api_credentials".into(), json!(account));
        s.insert(
            "Push_apn_cert".into(),
            json!(include_str!("../fixtures/admin-test-cert.pem")),
        );
        s.insert("Push_apn_key".into(), json!(apn_key));
        s.insert("Push_apn_passphrase".into(), json!("passphrase-SECRET"));
    });
    let mut b = Browser::new(&app);
    assert_eq!(b.login("admin", ADMIN_PASSWORD).status, 303);
    let hostile = "<script>alert(1)</script>\"'&";
    let encoded = "%3Cscript%3Ealert(1)%3C%2Fscript%3E%22'%26";
    let page = b.get(&format!(
        "/admin/push?messageId={encoded}&userId={encoded}&user={encoded}"
    ));
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    assert!(
        !body.contains("<script") && !body.contains(hostile),
        "{body}"
    );
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;"),
        "{body}"
    );
    assert!(body.contains("No user <code>&lt;script&gt;"), "{body}");
    // Health, from the settings: direct mode, both credentials readable.
    assert!(body.contains("direct (FCM and APNs)"));
    assert!(
        body.contains("project &lt;b&gt;project&lt;/b&gt;"),
        "{body}"
    );
    assert!(
        body.contains("Apple Push Services: &lt;img src=x onerror=alert(1)&gt;, expires 2036-11-27T09:19:48.000Z"),
        "{body}"
    );
    assert!(!body.contains("<img"));
    for secret in [
        "PRIVATE KEY",
        "private-key-id-SECRET",
        "passphrase-SECRET",
        "BEGIN CERTIFICATE",
    ] {
        assert!(!body.contains(secret), "{secret} shown");
    }
}

#[test]
fn an_admin_session_expires() {
    if crate::BACKEND == rcpush::config::Backend::Postgres {
        return; // the clock moves in testing mode, which is sled-only
    }
    let app = spawn_app_with!(|c| c.testing.enabled = true);
    let mut b = Browser::new(&app);
    assert_eq!(b.login("admin", ADMIN_PASSWORD).status, 303);
    assert_eq!(b.get("/admin/push").status, 200);
    let (_, token) = b
        .cookies
        .iter()
        .find(|(k, _)| k == "rcpush_admin")
        .cloned()
        .unwrap();
    let r = app.post(
        "/api/rcpush/testing/clock",
        None,
        &json!({"advance_ms": 8 * 3600 * 1000 + 1}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = b.get("/admin/push");
    assert_eq!((r.status, r.location()), (303, Some("/admin/login")));
    // The expired session's login token is gone, for the API too.
    let (admin_id, _) = app.admin();
    assert_eq!(app.get("/api/v1/me", Some((&admin_id, &token))).status, 401);
}

/// Arbitrary query strings and form bodies, with a session or without, never get a 5xx,
/// and what they carry never comes back as markup.
#[test]
fn malformed_queries_and_forms_never_get_a_5xx() {
    use proptest::test_runner::{Config, TestRunner};
    let app = spawn_app!();
    let mut b = Browser::new(&app);
    assert_eq!(b.login("admin", ADMIN_PASSWORD).status, 303);
    let session = b.cookies.clone();
    // The runner's closure is `Fn`.
    let browser = std::cell::RefCell::new(b);
    let text = "[a-zA-Z0-9=&%<>\"' ;/._+-]{0,60}";
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(
            &(text, text, proptest::bool::ANY),
            |(query, form, signed_in)| {
                let mut b = browser.borrow_mut();
                b.cookies = if signed_in {
                    session.clone()
                } else {
                    Vec::new()
                };
                let mut answers = vec![
                    b.get(&format!("/admin/push?{query}")),
                    b.get(&format!("/admin/login?{query}")),
                ];
                for path in ["/admin/login", "/admin/logout"] {
                    let result = b
                        .agent
                        .post(&format!("{}{path}", b.base))
                        .set("Cookie", &b.cookie_header())
                        .set("Content-Type", "application/x-www-form-urlencoded")
                        .send_string(&form);
                    answers.push(b.finish(result));
                }
                for r in answers {
                    proptest::prop_assert!(r.status < 500, "{query:?} {form:?}: {}", r.status);
                    proptest::prop_assert!(!r.body.contains("<script"), "{}", r.body);
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    // The session survived every forged logout.
    let mut b = browser.into_inner();
    b.cookies = session;
    assert_eq!(b.get("/admin/push").status, 200);
}
