//! A push gateway stand-in on loopback: records every request and answers with the statuses
//! it is told to. Its small HTTP server (`serve`) runs the other providers' fakes too.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("gateway body is JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
pub struct FakeGateway {
    pub url: String,
    received: Requests,
    /// Statuses for the next requests; 200 once they run out.
    script: Arc<Mutex<VecDeque<u16>>>,
    /// Fixed statuses for given device tokens, whatever the order of requests.
    by_token: Arc<Mutex<HashMap<String, u16>>>,
}

/// A scripted answer of a fake server.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::json(status, "")
    }

    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// An HTTP/1.1 server on a loopback port that answers each request (one per connection)
/// with what `answer` says; returns its base URL.
pub fn serve(answer: impl Fn(&Received) -> Reply + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let mut headers = Vec::new();
            let mut length = 0;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.trim().split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let received = Received {
                path,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let reply = answer(&received);
            let extra: String = reply
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {v}\r\n"))
                .collect();
            let _ = write!(
                stream,
                "HTTP/1.1 {} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{}",
                reply.status,
                reply.body.len(),
                reply.body
            );
        }
    });
    url
}

impl FakeGateway {
    pub fn start() -> FakeGateway {
        let gw = FakeGateway {
            url: String::new(),
            received: Requests::default(),
            script: Arc::default(),
            by_token: Arc::default(),
        };
        let g = gw.clone();
        let url = serve(move |received| {
            let token = serde_json::from_str::<serde_json::Value>(&received.body)
                .ok()
                .and_then(|b| b["token"].as_str().map(str::to_string))
                .unwrap_or_default();
            let fixed = g.by_token.lock().unwrap().get(&token).copied();
            let status =
                fixed.unwrap_or_else(|| g.script.lock().unwrap().pop_front().unwrap_or(200));
            g.received.push(received);
            Reply::status(status)
        });
        FakeGateway { url, ..gw }
    }

    /// Answers the next requests with these statuses.
    pub fn answer(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }

    /// Always answers `status` for pushes to this device token.
    pub fn answer_for_token(&self, token: &str, status: u16) {
        self.by_token
            .lock()
            .unwrap()
            .insert(token.to_string(), status);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.all()
    }

    /// Waits until `n` requests have arrived (panics after 10 s).
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        self.received.wait_for(n)
    }

    /// Asserts that nothing more than `n` requests arrives within a short while.
    pub fn settles_at(&self, n: usize) {
        self.received.settles_at(n)
    }
}

/// The requests a fake received, in order.
#[derive(Clone, Default)]
pub struct Requests(Arc<Mutex<Vec<Received>>>);

impl Requests {
    pub fn push(&self, r: &Received) {
        self.0.lock().unwrap().push(r.clone());
    }

    pub fn all(&self) -> Vec<Received> {
        self.0.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived. The bound (60 s) only ends a run that would
    /// never get there: 10 s ran out on a loaded two-core box.
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.all();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "expected {n} requests, got {}: {got:#?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Asserts that nothing more than `n` requests arrives within a short while.
    pub fn settles_at(&self, n: usize) {
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(self.all().len(), n, "{:#?}", self.all());
    }
}
