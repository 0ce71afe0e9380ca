//! A push gateway stand-in on loopback: records every request and answers with the statuses
//! it is told to.

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
    received: Arc<Mutex<Vec<Received>>>,
    /// Statuses for the next requests; 200 once they run out.
    script: Arc<Mutex<VecDeque<u16>>>,
    /// Fixed statuses for given device tokens, whatever the order of requests.
    by_token: Arc<Mutex<HashMap<String, u16>>>,
}

impl FakeGateway {
    pub fn start() -> FakeGateway {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let gw = FakeGateway {
            url,
            received: Arc::default(),
            script: Arc::default(),
            by_token: Arc::default(),
        };
        let g = gw.clone();
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
                let token = serde_json::from_str::<serde_json::Value>(&received.body)
                    .ok()
                    .and_then(|b| b["token"].as_str().map(str::to_string))
                    .unwrap_or_default();
                let fixed = g.by_token.lock().unwrap().get(&token).copied();
                let status =
                    fixed.unwrap_or_else(|| g.script.lock().unwrap().pop_front().unwrap_or(200));
                g.received.lock().unwrap().push(received);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Scripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        gw
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
        self.received.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived (panics after 10 s).
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "expected {n} gateway requests, got {}: {got:#?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Asserts that nothing more than `n` requests arrives within a short while.
    pub fn settles_at(&self, n: usize) {
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(self.received().len(), n, "{:#?}", self.received());
    }
}
