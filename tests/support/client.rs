//! The one HTTP client of the tests (`tests/api` and `tests/system`): a server's base URL and
//! the calls the tests make (login, post a message, push.get, register a device, read a
//! metric), each answering whatever the status.

use std::time::Duration;

use serde_json::{json, Value};

/// `(X-User-Id, X-Auth-Token)`, or none.
pub type Auth<'a> = Option<(&'a str, &'a str)>;

/// An answer, whatever its status.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    /// Reads `resp` to its end.
    pub fn read(resp: ureq::Response) -> std::io::Result<Resp> {
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
            .collect();
        Ok(Resp {
            status: resp.status(),
            content_type: resp.header("content-type").unwrap_or_default().to_string(),
            headers,
            body: resp.into_string()?,
        })
    }

    /// The answer a raw `ureq` call got, whatever its status (a test that sends what the
    /// client's typed calls cannot: a malformed body, a form); a failed connection panics.
    pub fn of(result: Result<ureq::Response, ureq::Error>) -> Resp {
        match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => Resp::read(r).expect("the body"),
            Err(e) => panic!("transport error: {e}"),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A message `chat.postMessage` stored.
pub struct Posted {
    pub id: String,
    /// The message as the answer gave it.
    pub message: Value,
}

#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the server at `base` (`http://127.0.0.1:<port>`). Each request opens a
    /// new connection: a pooled one may be closed by the server while idle, and a test must
    /// not read that as the server's answer. The timeout only keeps a hung server from
    /// hanging the test run.
    pub fn new(base: impl Into<String>) -> Client {
        Client::with(base, ureq::AgentBuilder::new().max_idle_connections(0))
    }

    /// A client that keeps its connections open between requests (its clones share them),
    /// for writers that send requests back to back, so that a connection never idles long
    /// enough for the server to close it.
    pub fn pooled(base: impl Into<String>) -> Client {
        Client::with(base, ureq::AgentBuilder::new())
    }

    fn with(base: impl Into<String>, agent: ureq::AgentBuilder) -> Client {
        Client {
            base: base.into(),
            agent: agent.timeout(Duration::from_secs(60)).build(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The answer to `method path` with an optional JSON body, or `Err` (what went wrong)
    /// when the connection failed: the server is gone, or going.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        auth: Auth,
        body: Option<&Value>,
    ) -> Result<Resp, String> {
        let mut req = self.agent.request(method, &self.url(path));
        if let Some((uid, token)) = auth {
            req = req.set("X-User-Id", uid).set("X-Auth-Token", token);
        }
        let result = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(format!("{method} {path}: {e}")),
        };
        Resp::read(resp).map_err(|e| format!("{method} {path}: the body: {e}"))
    }

    /// The answer; a failed connection panics.
    fn answer(&self, method: &str, path: &str, auth: Auth, body: Option<&Value>) -> Resp {
        self.call(method, path, auth, body)
            .unwrap_or_else(|e| panic!("transport error: {e}"))
    }

    pub fn get(&self, path: &str, auth: Auth) -> Resp {
        self.answer("GET", path, auth, None)
    }

    pub fn post(&self, path: &str, auth: Auth, body: &Value) -> Resp {
        self.answer("POST", path, auth, Some(body))
    }

    pub fn delete(&self, path: &str, auth: Auth, body: &Value) -> Resp {
        self.answer("DELETE", path, auth, Some(body))
    }

    /// Logs in and returns `(userId, authToken)`.
    pub fn login(&self, user: &str, password: &str) -> (String, String) {
        let r = self.post(
            "/api/v1/login",
            None,
            &json!({"user": user, "password": password}),
        );
        assert_eq!(r.status, 200, "login failed: {}", r.body);
        let j = r.json();
        (
            j["data"]["userId"].as_str().unwrap().to_string(),
            j["data"]["authToken"].as_str().unwrap().to_string(),
        )
    }

    /// `GET /api/v1/push.get?id=…` as `who`.
    pub fn push_get(&self, id: &str, who: (&str, &str)) -> Resp {
        self.get(&format!("/api/v1/push.get?id={id}"), Some(who))
    }

    /// Posts `text` to the room `rid` as `who`; panics unless it is stored.
    pub fn post_message(&self, who: (&str, &str), rid: &str, text: &str) -> Posted {
        let r = self.post(
            "/api/v1/chat.postMessage",
            Some(who),
            &json!({"roomId": rid, "text": text}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let message = r.json()["message"].clone();
        Posted {
            id: message["_id"].as_str().expect("a message id").to_string(),
            message,
        }
    }

    /// Registers a device token (`kind`: `gcm` or `apn`) for `who`.
    pub fn register_token(&self, who: (&str, &str), kind: &str, value: &str, app: &str) -> Resp {
        let r = self.post(
            "/api/v1/push.token",
            Some(who),
            &json!({"type": kind, "value": value, "appName": app}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r
    }

    /// The value of the Prometheus metric `name` (metrics on, without a token).
    pub fn metric(&self, name: &str) -> i64 {
        let r = self.get("/metrics", None);
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{}", r.body))
            .parse()
            .unwrap()
    }
}
