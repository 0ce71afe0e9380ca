//! `GET /websocket`: the WebSocket under the DDP session (spec §1). The handshake's 400s are
//! sockjs' texts; client frames are decoded here (text, or binary taken as text, fragments
//! joined up to `realtime.max_frame_bytes`, beyond which the socket closes with 1009); WS
//! pings are answered; the server's heartbeat runs here (§2.4). What goes out leaves through
//! the connection's `Outbound` queue, which the response body drains.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_codec::{Decoder, Encoder};
use actix_http::ws::{CloseCode, CloseReason, Codec, Frame, Item, Message, ProtocolError};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::session::{classify, Call, Inbound, Phase, Session};
use super::{frames, ConnState, Out, Outbound, Realtime, SessionLogin};
use crate::model::id::Ids;
use crate::service::Services;

/// Calls read ahead of the one being processed; past this the socket is not read until
/// the session catches up (the client's own TCP window then holds it back).
const CALLS_AHEAD: usize = 64;

/// Heartbeat intervals a socket may stay open without `connect` (Meteor: a 45 s timeout).
const CONNECT_TICKS: u32 = 3;

/// `GET /websocket` and `/websocket/`.
pub async fn websocket(
    req: HttpRequest,
    payload: web::Payload,
    services: web::Data<Services>,
    hub: web::Data<Realtime>,
) -> HttpResponse {
    let accept = match handshake(&req) {
        Ok(accept) => accept,
        Err(text) => {
            return HttpResponse::BadRequest()
                .content_type("text/plain")
                .body(text)
        }
    };
    let hub = hub.get_ref().clone();
    let services = services.into_inner();
    let ids = services.ids().clone();
    let config = hub.config();
    let (outbound, queue) = Outbound::new(config.queue_frames, hub.metrics().clone());
    let conn = hub.next_conn();
    let ip = req
        .peer_addr()
        .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
    let (calls, pending) = mpsc::channel(CALLS_AHEAD);
    let session = Session {
        services,
        hub: hub.clone(),
        conn,
        ip,
        outbound: outbound.clone(),
        login: SessionLogin::new(hub.clone(), conn, outbound.clone()),
        subs: Vec::new(),
    };
    hub.metrics().open.inc();
    actix_web::rt::spawn(session.run(pending));
    let reader = Reader {
        phase: Phase::Connecting,
        codec: Codec::new().max_size(config.max_frame_bytes),
        max: config.max_frame_bytes,
        fragments: None,
        outbound: outbound.clone(),
        calls,
        ids,
        heard: false,
        pinged: false,
        ticks: 0,
    };
    actix_web::rt::spawn(reader.run(payload, hub.heartbeat(), hub.clone()));
    HttpResponse::build(StatusCode::SWITCHING_PROTOCOLS)
        .upgrade("websocket")
        .insert_header((header::SEC_WEBSOCKET_ACCEPT, accept))
        .streaming(Body {
            queue,
            state: outbound.state.clone(),
            codec: Codec::new(),
            done: false,
        })
}

/// The `Sec-WebSocket-Accept` for a valid upgrade request, or the 400's text (sockjs
/// 0.3.24's `trans-websocket`, spec §1.1).
fn handshake(req: &HttpRequest) -> Result<String, &'static str> {
    const NOT_WEBSOCKET: &str = "Not a valid websocket request";
    let h = req.headers();
    let has = |name: header::HeaderName, token: &str| {
        h.get_all(name).any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if !has(header::UPGRADE, "websocket") || !has(header::CONNECTION, "upgrade") {
        return Err(NOT_WEBSOCKET);
    }
    let version = h.get(header::SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes());
    if !matches!(version, Some(b"8") | Some(b"13")) {
        return Err("Only supported WebSocket protocol is RFC 6455.");
    }
    let key = h
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes())
        .ok_or(NOT_WEBSOCKET)?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(key);
    if decoded.map(|k| k.len()) != Ok(16) {
        return Err(NOT_WEBSOCKET);
    }
    let accept = actix_http::ws::hash_key(key);
    Ok(String::from_utf8_lossy(&accept).into_owned())
}

/// The reading half of a connection.
struct Reader {
    phase: Phase,
    codec: Codec,
    max: usize,
    /// A fragmented message being joined.
    fragments: Option<BytesMut>,
    outbound: Outbound,
    calls: mpsc::Sender<Box<Call>>,
    /// Where session ids come from (the services' ids: seeded in a deterministic run).
    ids: Ids,
    /// Whether anything arrived since the last heartbeat tick.
    heard: bool,
    /// Whether the server's ping is unanswered.
    pinged: bool,
    /// Ticks since the socket opened, while not connected.
    ticks: u32,
}

/// What reading one frame leaves the connection as.
enum Next {
    Open,
    Closed,
}

impl Reader {
    async fn run(mut self, mut payload: web::Payload, heartbeat: Duration, hub: Realtime) {
        let mut buf = BytesMut::new();
        let start = tokio::time::Instant::now() + heartbeat;
        let mut ticks = tokio::time::interval_at(start, heartbeat);
        'read: loop {
            loop {
                match self.codec.decode(&mut buf) {
                    Ok(Some(frame)) => {
                        if let Next::Closed = self.frame(frame).await {
                            break 'read;
                        }
                    }
                    Ok(None) => break,
                    Err(ProtocolError::Overflow) => {
                        self.outbound
                            .close_with(1009, "WebSocket frame length too large");
                        break 'read;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "realtime: WebSocket protocol error");
                        self.outbound.close_with(1002, "Protocol error");
                        break 'read;
                    }
                }
            }
            tokio::select! {
                chunk = payload.next() => match chunk {
                    Some(Ok(bytes)) => buf.extend_from_slice(&bytes),
                    // The client went away.
                    _ => break,
                },
                _ = ticks.tick() => {
                    if let Next::Closed = self.tick() {
                        break;
                    }
                }
                _ = self.outbound.closed() => break,
                _ = hub.stopping() => {
                    self.outbound.close();
                    break;
                }
            }
        }
        self.outbound.state.closed.send_replace(true);
        hub.metrics().open.dec();
    }

    /// A heartbeat tick (§2.4): ping a silent client, close one that stayed silent after
    /// the ping; before `connect`, close a socket that never sent it.
    fn tick(&mut self) -> Next {
        let heard = std::mem::take(&mut self.heard);
        if self.phase == Phase::Connecting {
            self.ticks += 1;
            if self.ticks >= CONNECT_TICKS {
                self.outbound.close();
                return Next::Closed;
            }
            return Next::Open;
        }
        if !self.phase.heartbeats() || heard {
            return Next::Open;
        }
        if self.pinged {
            self.outbound.close();
            return Next::Closed;
        }
        self.pinged = true;
        self.outbound.send(frames::heartbeat("ping", None));
        Next::Open
    }

    async fn frame(&mut self, frame: Frame) -> Next {
        self.heard = true;
        self.pinged = false;
        match frame {
            Frame::Text(data) | Frame::Binary(data) => self.message(&data).await,
            Frame::Continuation(Item::FirstText(data) | Item::FirstBinary(data)) => {
                self.fragments = Some(BytesMut::from(&data[..]));
                Next::Open
            }
            Frame::Continuation(Item::Continue(data)) => self.join(&data),
            Frame::Continuation(Item::Last(data)) => {
                if let Next::Closed = self.join(&data) {
                    return Next::Closed;
                }
                match self.fragments.take() {
                    Some(whole) => self.message(&whole).await,
                    None => Next::Open,
                }
            }
            Frame::Ping(data) => {
                self.outbound.push(Out::Pong(data));
                Next::Open
            }
            Frame::Pong(_) => Next::Open,
            Frame::Close(_) => {
                self.outbound.close();
                Next::Closed
            }
        }
    }

    /// Adds a fragment to the message being joined, within the size limit.
    fn join(&mut self, data: &[u8]) -> Next {
        let Some(joined) = self.fragments.as_mut() else {
            return Next::Open;
        };
        if joined.len() + data.len() > self.max {
            self.fragments = None;
            self.outbound
                .close_with(1009, "WebSocket frame length too large");
            return Next::Closed;
        }
        joined.extend_from_slice(data);
        Next::Open
    }

    /// One whole client message: text, or binary read as text (§1.3).
    async fn message(&mut self, data: &[u8]) -> Next {
        let Ok(text) = std::str::from_utf8(data) else {
            self.outbound.send(frames::error("Bad request", None));
            return Next::Open;
        };
        match classify(self.phase, text) {
            Inbound::Reply(frame) => {
                self.outbound.send(frame);
            }
            Inbound::Connect(version) => {
                self.phase = Phase::Connected(version);
                let session = self.ids.id();
                self.outbound.send(frames::connected(&session));
            }
            Inbound::Fail(version) => {
                self.outbound.send(frames::failed(version));
                self.outbound.close();
                return Next::Closed;
            }
            Inbound::Call(call) => {
                if self.calls.send(Box::new(call)).await.is_err() {
                    return Next::Closed;
                }
            }
            Inbound::Ignore => {}
        }
        Next::Open
    }
}

/// The response body: the connection's queue, encoded as WebSocket frames. A connection
/// dropped for not reading ends it with an error, which makes actix drop the TCP
/// connection without flushing what is queued.
struct Body {
    queue: mpsc::Receiver<Out>,
    state: Arc<ConnState>,
    codec: Codec,
    done: bool,
}

impl futures_util::Stream for Body {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if this.state.aborted.load(std::sync::atomic::Ordering::SeqCst) {
            this.done = true;
            return Poll::Ready(Some(Err(std::io::Error::other(
                "the client stopped reading",
            ))));
        }
        let out = match this.queue.poll_recv(cx) {
            Poll::Ready(Some(out)) => out,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        let message = match out {
            Out::Frame(text) => Message::Text(bytestring::ByteString::from(&*text)),
            Out::Pong(data) => Message::Pong(data),
            Out::Close(code, reason) => {
                this.done = true;
                Message::Close(Some(CloseReason {
                    code: CloseCode::from(code),
                    description: Some(reason.to_string()),
                }))
            }
        };
        let mut buf = BytesMut::new();
        match this.codec.encode(message, &mut buf) {
            Ok(()) => Poll::Ready(Some(Ok(buf.freeze()))),
            Err(e) => {
                this.done = true;
                Poll::Ready(Some(Err(std::io::Error::other(e.to_string()))))
            }
        }
    }
}
