//! A small DDP client for the realtime tests: a blocking WebSocket (`tungstenite`) to the
//! server's `/websocket`, typed just enough to connect, log in, call, subscribe and read the
//! next frame with a generous timeout (a loaded machine may be slow; a hung server must not
//! hang the run). Frames are compared as the server sent them, byte for byte, where a test
//! wants that (`next_text`).

use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::WebSocket;
use tungstenite::Message;

/// How long a test waits for a frame before failing.
pub const WAIT: Duration = Duration::from_secs(30);

/// What the server sent next.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A text frame (a DDP message).
    Text(String),
    /// A close frame: code and reason.
    Close(u16, String),
    /// The connection ended without a close frame (reset, or dropped).
    Gone,
}

pub struct Ddp {
    ws: WebSocket<TcpStream>,
    /// Method and subscription ids, from one counter as ddp.js does.
    next_id: u64,
}

impl Ddp {
    /// A WebSocket to `base`'s `/websocket` (`base`: `http://127.0.0.1:<port>`), before any
    /// DDP frame.
    pub fn open(base: &str) -> Ddp {
        Ddp::open_at(base, "/websocket")
    }

    /// `open` on another path of the server.
    pub fn open_at(base: &str, path: &str) -> Ddp {
        let url = format!("{}{path}", base.replacen("http://", "ws://", 1));
        let stream = TcpStream::connect(url.trim_start_matches("ws://").split('/').next().unwrap())
            .expect("connect to the server");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let request = url.into_client_request().unwrap();
        let (ws, response) = tungstenite::client(request, stream).expect("WebSocket handshake");
        assert_eq!(response.status(), 101);
        Ddp { ws, next_id: 0 }
    }

    /// `open`, then `connect` on DDP `1`: the `connected` frame's session id.
    pub fn connect(base: &str) -> (Ddp, String) {
        let mut ddp = Ddp::open(base);
        ddp.send(&json!({"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]}));
        let connected = ddp.next_json();
        assert_eq!(connected["msg"], "connected", "{connected}");
        let session = connected["session"].as_str().unwrap().to_string();
        (ddp, session)
    }

    /// Sends `frame` as a text frame.
    pub fn send(&mut self, frame: &Value) {
        self.send_text(&frame.to_string());
    }

    pub fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).expect("send a frame");
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.ws
            .send(Message::binary(data.to_vec()))
            .expect("send a frame");
    }

    /// Queues a frame without flushing it (a flood, or a client that writes and never
    /// reads); errors are ignored, since the server may have dropped the connection.
    pub fn write_quietly(&mut self, text: &str) {
        let _ = self.ws.write(Message::text(text));
    }

    pub fn flush_quietly(&mut self) {
        let _ = self.ws.flush();
    }

    /// The next frame (WS pings are answered by the client library).
    pub fn next(&mut self) -> Frame {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => return Frame::Text(t.to_string()),
                Ok(Message::Binary(b)) => return Frame::Text(String::from_utf8_lossy(&b).into()),
                Ok(Message::Close(Some(c))) => {
                    return Frame::Close(c.code.into(), c.reason.to_string())
                }
                Ok(Message::Close(None)) => return Frame::Close(1005, String::new()),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    panic!("no frame from the server within {WAIT:?}")
                }
                Err(_) => return Frame::Gone,
            }
        }
    }

    /// The next text frame as sent.
    pub fn next_text(&mut self) -> String {
        match self.next() {
            Frame::Text(t) => t,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next text frame, parsed.
    pub fn next_json(&mut self) -> Value {
        serde_json::from_str(&self.next_text()).expect("a JSON frame")
    }

    /// A new id from the client's counter.
    pub fn id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    /// Calls `method`: the `result` frame (as sent) after checking that exactly one
    /// `updated` for the call came with it.
    pub fn call(&mut self, method: &str, params: Value) -> String {
        let id = self.id();
        self.send(&json!({"msg": "method", "id": id, "method": method, "params": params}));
        self.answer(&id)
    }

    /// The `result` of call `id`, and its `updated` (before or after it); other frames
    /// (pings, `ready` again) are skipped.
    pub fn answer(&mut self, id: &str) -> String {
        let (mut result, mut updated) = (None, false);
        while result.is_none() || !updated {
            let text = self.next_text();
            let frame: Value = serde_json::from_str(&text).unwrap();
            match frame["msg"].as_str() {
                Some("result") if frame["id"] == id => result = Some(text),
                Some("updated") if frame["methods"] == json!([id]) => updated = true,
                _ => {}
            }
        }
        result.unwrap()
    }

    /// `login` with a plain password: the `result` value (id, token, tokenExpires, type).
    pub fn login(&mut self, username: &str, password: &str) -> Value {
        let text = self.call(
            "login",
            json!([{"user": {"username": username}, "password": password}]),
        );
        let frame: Value = serde_json::from_str(&text).unwrap();
        assert!(frame.get("error").is_none(), "login failed: {text}");
        frame["result"].clone()
    }

    /// Subscribes to `name`: the `ready` or `nosub` frame that answered it (frames before it,
    /// such as a stream's `added`, are returned first, in order).
    pub fn sub(&mut self, name: &str, params: Value) -> Vec<String> {
        let id = self.id();
        self.send(&json!({"msg": "sub", "id": id, "name": name, "params": params}));
        let mut frames = Vec::new();
        loop {
            let text = self.next_text();
            let frame: Value = serde_json::from_str(&text).unwrap();
            let done = match frame["msg"].as_str() {
                Some("ready") => frame["subs"]
                    .as_array()
                    .is_some_and(|s| s.contains(&json!(id))),
                Some("nosub") => frame["id"] == id,
                _ => false,
            };
            frames.push(text);
            if done {
                return frames;
            }
        }
    }

    /// Reads until the server closes or drops the connection: how it ended.
    pub fn until_closed(&mut self) -> Frame {
        loop {
            match self.next() {
                Frame::Text(_) => continue,
                ended => return ended,
            }
        }
    }
}
