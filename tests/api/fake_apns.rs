//! APNs on loopback, over HTTP/2 without TLS (h2c with prior knowledge, what rcpush speaks
//! to an `http://` `apns_url`): records every request (path, headers, body) and answers
//! from a script, 200 once it runs out. HTTP/2 only: an HTTP/1.1 client gets nothing.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::fake_gateway::{Received, Reply, Requests};

/// What `Push_apn_key_id` and `Push_apn_team_id` are in the tests.
pub const KEY_ID: &str = "ABC123DEFG";
pub const TEAM_ID: &str = "DEF123GHIJ";
/// The test `.p8` key and its public half, to check the provider token.
pub const AUTH_KEY: &str = include_str!("../fixtures/apns-test-auth-key.p8");
pub const AUTH_PUBLIC_KEY: &str = include_str!("../fixtures/apns-test-auth-key.pub.pem");
/// A self-signed certificate and its key encrypted (PKCS#8, AES-256-CBC) with `PASSPHRASE`.
pub const CERT: &str = include_str!("../fixtures/apns-test-cert.pem");
pub const ENCRYPTED_KEY: &str = include_str!("../fixtures/apns-test-cert-key.enc.pem");
pub const PASSPHRASE: &str = "rcpush-test-passphrase";

/// Apple's error body.
pub fn refusal(status: u16, reason: &str) -> Reply {
    Reply::json(status, &format!(r#"{{"reason":"{reason}"}}"#))
}

#[derive(Clone)]
pub struct FakeApns {
    pub url: String,
    pub sends: Requests,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl FakeApns {
    pub fn start() -> FakeApns {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let fake = FakeApns {
            url: format!("http://{}", listener.local_addr().unwrap()),
            sends: Requests::default(),
            script: Arc::default(),
        };
        let f = fake.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let f = f.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |r| {
                            let f = f.clone();
                            async move { Ok::<_, Infallible>(f.answer(r).await) }
                        });
                        let _ = http2::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        fake
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_string();
        let headers = request
            .headers()
            .iter()
            .map(|(k, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_string(), value)
            })
            .collect();
        let body = match request.into_body().collect().await {
            Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
            Err(_) => String::new(),
        };
        self.sends.push(&Received {
            path,
            headers,
            body,
        });
        let reply = self.script.lock().unwrap().pop_front();
        let reply = reply.unwrap_or_else(|| Reply::status(200));
        let mut response = Response::builder().status(reply.status);
        if !reply.body.is_empty() {
            response = response.header("content-type", "application/json");
        }
        for (k, v) in &reply.headers {
            response = response.header(k, v);
        }
        response.body(Full::new(Bytes::from(reply.body))).unwrap()
    }

    /// Answers the next requests with these replies.
    pub fn answer_with(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.lock().unwrap().extend(replies);
    }
}
