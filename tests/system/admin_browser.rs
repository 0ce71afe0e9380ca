//! The admin page end to end in a real browser: headless Chromium (Debian's `chromium`),
//! driven over WebDriver by `chromedriver` (Debian's `chromium-driver`), both started here.
//! Without them the test skips or fails as `support::require` decides; `.ci/run` installs them.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::backup::post;
use crate::support::require::{available, Component};
use crate::support::{rcpush, spawn_owned, Server, ADMIN_PASSWORD, ALICE, RODRIQ};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const DM: &str = "A7dm3kQzR9xYpW2bnd26x6zSkaPSe5gCyy";

/// chromedriver on a free loopback port, in a process group of its own with the Chromium it
/// starts: the whole group is killed with the test (a failed test never closes its session,
/// and killing chromedriver alone would leave Chromium running).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

impl Driver {
    fn start() -> (Driver, String) {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = spawn_owned(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .process_group(0)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("chromedriver starts");
        let driver = Driver(child);
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while ureq::get(&format!("{url}/status")).call().is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver answers"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        (driver, url)
    }
}

/// Headless Chromium in a new profile, as the README's flags say.
async fn browser(driver: &str, profile: &Path) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .map(String::from)
    .into_iter()
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver)
        .await
        .expect("a Chromium session")
}

/// Waits until the browser's URL (path and query) satisfies `wanted`: a form's answer
/// arrives after the click returns.
async fn wait_for_url(client: &Client, what: &str, wanted: impl Fn(&str) -> bool) {
    let start = Instant::now();
    loop {
        let url = client.current_url().await.unwrap();
        let at = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        if wanted(&at) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "at {url}, not {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_path(client: &Client, path: &str) {
    wait_for_url(client, path, |at| at == path).await;
}

/// Waits until the element's text satisfies `wanted`; returns it.
async fn wait_for_text(client: &Client, selector: &str, wanted: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let text = text_of(client, selector).await;
        if wanted(&text) {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{selector} says {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn fill(client: &Client, selector: &str, text: &str) {
    let field = client.find(Locator::Css(selector)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(client: &Client, selector: &str) {
    client
        .find(Locator::Css(selector))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The element's text, or "" while it is not there (a page still loading).
async fn text_of(client: &Client, selector: &str) -> String {
    match client.find(Locator::Css(selector)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[test]
fn an_admin_signs_in_filters_and_signs_out_in_headless_chromium() {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    let installed = match missing.is_empty() {
        true => Ok(()),
        false => Err(format!(
            "{} not installed (apt-get install chromium chromium-driver)",
            missing.join(" and ")
        )),
    };
    if available(Component::Chromium, installed).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&mut rcpush(&dir.path().join("db")));
    // A push that the closed gateway makes wait: an outbox entry and a log record.
    post(
        &server,
        "/api/v1/push.token",
        RODRIQ,
        json!({"type": "gcm", "value": "browser-test-device-token-END123", "appName": "chat.rocket.android"}),
    );
    post(
        &server,
        "/api/v1/chat.postMessage",
        ALICE,
        json!({"roomId": DM, "text": "seen in the browser"}),
    );
    let (_driver, driver_url) = Driver::start();
    let profile = dir.path().join("chromium-profile");
    let base = server.url("");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = browser(&driver_url, &profile).await;

        // No session: the page sends the browser to the login form.
        client.goto(&format!("{base}/admin/push")).await.unwrap();
        wait_for_path(&client, "/admin/login").await;
        fill(&client, "input[name=user]", "admin").await;
        fill(&client, "input[name=password]", "not the password").await;
        click(&client, "button[type=submit]").await;
        wait_for_url(&client, "failed", |at| at.ends_with("failed=1")).await;
        wait_for_text(&client, ".notice", |t| t.contains("Wrong username")).await;

        fill(&client, "input[name=user]", "admin").await;
        fill(&client, "input[name=password]", ADMIN_PASSWORD).await;
        click(&client, "button[type=submit]").await;
        wait_for_path(&client, "/admin/push").await;
        let cookies = client.get_all_cookies().await.unwrap();
        let session = cookies
            .iter()
            .find(|c| c.name() == "rcpush_admin")
            .expect("a session cookie");
        assert_eq!(session.http_only(), Some(true));
        assert_eq!(format!("{:?}", session.same_site()), "Some(Strict)");

        assert!(text_of(&client, "#health").await.contains("gateway"));
        let start = Instant::now();
        loop {
            let log = text_of(&client, "#deliveries").await;
            if log.contains("retrying") {
                assert!(log.contains("…END123") && !log.contains("browser-test-device"));
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no record: {log}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            client.refresh().await.unwrap();
        }
        assert!(text_of(&client, "#outbox")
            .await
            .contains("1 pushes waiting"));

        // Filters: a status with no record, then the user of the one there is.
        let status = client
            .find(Locator::Css("select[name=status]"))
            .await
            .unwrap();
        status.select_by_value("sent").await.unwrap();
        click(&client, "form.filters button").await;
        wait_for_url(&client, "status=sent", |at| at.contains("status=sent")).await;
        wait_for_text(&client, "#delivery-count", |t| t.starts_with("0 attempts")).await;
        let status = client
            .find(Locator::Css("select[name=status]"))
            .await
            .unwrap();
        status.select_by_value("").await.unwrap();
        fill(&client, "input[name=userId]", RODRIQ.0).await;
        click(&client, "form.filters button").await;
        wait_for_url(&client, "userId", |at| at.contains(RODRIQ.0)).await;
        wait_for_text(&client, "#delivery-count", |t| t.starts_with("1 attempts")).await;

        fill(&client, "input[name=user]", "rodriq").await;
        click(&client, "#devices button").await;
        wait_for_text(&client, "#devices", |t| t.contains("1 device of rodriq")).await;
        assert!(!text_of(&client, "#devices")
            .await
            .contains("browser-test-device"));

        // Signing out: back at the form, and the page needs a login again.
        click(&client, "#logout button").await;
        wait_for_path(&client, "/admin/login").await;
        client.goto(&format!("{base}/admin/push")).await.unwrap();
        wait_for_path(&client, "/admin/login").await;
        client.close().await.unwrap();
    });
}
