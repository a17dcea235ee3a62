// SPDX-License-Identifier: MIT OR Apache-2.0
//! Cleartext HTTP/1.1 connections that keep no hyper state between requests.
//!
//! hyper keeps an 8 KiB read buffer and an 8 KiB write buffer for as long as it serves a
//! connection (it has no option below 8 KiB): an idle keep-alive connection cost 14.2 KiB and
//! a held long-poll 14.8 KiB (BENCHMARKS.md, issue 15's target is ≤ 10 KiB per idle
//! subscriber). Here the connection's task reads each request head itself, into a small buffer
//! taken only once the socket is readable, and hands hyper that one request: hyper serves it,
//! then reads end-of-file (half-close on, so it reads nothing while the request runs and the
//! response keeps `keep-alive`) and gives the socket back. Between requests the task holds the
//! socket and nothing else. A request that waits — a long-poll (`GET /api/events` asking for
//! neither a WebSocket nor SSE), an LL-HLS blocking playlist reload (`_HLS_msn`) — is held
//! here, before hyper, until it can be answered ([`super::hold`]); hyper then answers it at
//! once.
//!
//! Requests that hyper must frame go to one hyper connection for the rest of the connection,
//! as all requests did before: a body (`Content-Length` other than 0, `Transfer-Encoding`),
//! `Expect`, `Upgrade` (the WebSocket), HTTP/1.0, and heads this parser does not accept
//! (malformed, more than [`MAX_HEADERS`] headers, longer than [`MAX_HEAD`]), so hyper answers
//! those as it always did.
//!
//! One difference: while hyper serves a request here it does not read the socket, so a client
//! that goes away during a long response is noticed at the next write, not at once; a client
//! that goes away while its request is held is noticed at once ([`gone`]).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use bytes::{Buf, Bytes, BytesMut};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::hold::{Held, Holder};
use super::server::{with_peer, Prefixed};
use super::signed::ClientAddr;

/// Request heads longer than this go to hyper (whose own bound is higher).
pub(super) const MAX_HEAD: usize = 16 * 1024;
/// Room a head is read into, taken when the socket turns readable.
const HEAD_BUF: usize = 1024;
/// Headers parsed here; a head with more goes to hyper (which takes 100).
pub(super) const MAX_HEADERS: usize = 64;

/// What to do with the bytes read so far on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Head {
    /// Not a whole head yet.
    Partial,
    /// One request of `len` bytes with no body: served by a hyper connection of its own.
    Single {
        len: usize,
        /// No `Connection: close`.
        keep_alive: bool,
        /// A request that may wait, to be held before hyper ([`super::hold`]): `GET
        /// /api/events` not asking for SSE (a WebSocket asks for `Upgrade`, so it is never
        /// `Single`), or `GET` of a playlist with `_HLS_msn`.
        held: bool,
    },
    /// hyper serves the rest of the connection.
    Hyper,
}

/// Classifies the bytes at the start of `buf` (RFC 9112 2, 6, 9.3).
pub(super) fn classify(buf: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Head::Partial,
        _ => return Head::Hyper,
    };
    if req.version != Some(1) {
        return Head::Hyper;
    }
    let mut keep_alive = true;
    let mut event_stream = false;
    for h in req.headers.iter() {
        let is = |name: &str| h.name.eq_ignore_ascii_case(name);
        if is("content-length") {
            if h.value.trim_ascii() != b"0" {
                return Head::Hyper;
            }
        } else if is("transfer-encoding") || is("expect") || is("upgrade") {
            return Head::Hyper;
        } else if is("connection") {
            for token in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    return Head::Hyper;
                }
            }
        } else if is("accept") {
            event_stream |= super::events::lists_event_stream(h.value);
        }
    }
    let target = req.path.unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let long_poll = path == "/api/events" && !event_stream;
    let reload = path.ends_with(".m3u8") && query.contains("_HLS_msn=");
    Head::Single {
        len,
        keep_alive,
        held: req.method == Some("GET") && (long_poll || reload),
    }
}

/// The request of a whole `head`, with no body, as the router would see it (for
/// [`Holder::hold`]).
fn request_of(head: &[u8], peer: SocketAddr) -> Option<Request> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    parsed.parse(head).ok()?;
    let mut builder = Request::builder().method(parsed.method?).uri(parsed.path?);
    for h in parsed.headers.iter() {
        builder = builder.header(h.name, h.value);
    }
    let mut req = builder.body(Body::empty()).ok()?;
    req.extensions_mut().insert(ClientAddr(peer));
    Some(req)
}

/// What a cycling connection needs.
pub(super) struct Cycle {
    pub(super) router: Router,
    pub(super) holder: Arc<dyn Holder>,
    pub(super) draining: watch::Receiver<bool>,
    pub(super) header_read_timeout: Duration,
    pub(super) peer: SocketAddr,
}

/// How a connection served by [`Cycle::run`] ended.
pub(super) enum Ended {
    /// Closed (by the client, an error, a timeout, `Connection: close` or the shutdown).
    Closed,
    /// hyper is to serve the rest: the socket and the bytes read from it.
    Hyper(TcpStream, BytesMut),
}

impl Cycle {
    /// Serves requests one at a time from `stream`, whose first bytes are in `buf`, until the
    /// connection closes or a request needs hyper for the rest of it.
    pub(super) async fn run(mut self, mut stream: TcpStream, mut buf: BytesMut) -> Ended {
        loop {
            // RFC 9112 9.3: the next head within the header read timeout (idle keep-alive
            // included), unless the server is shutting down.
            let head = tokio::select! {
                head = tokio::time::timeout(self.header_read_timeout, read_head(&stream, &mut buf)) => head,
                _ = self.draining.wait_for(|d| *d) => return Ended::Closed,
            };
            let (len, keep_alive, held) = match head {
                Ok(Ok(Head::Single {
                    len,
                    keep_alive,
                    held,
                })) => (len, keep_alive, held),
                Ok(Ok(_)) => return Ended::Hyper(stream, buf),
                Ok(Err(e)) => {
                    tracing::debug!(peer = %self.peer, error = %e, "connection closed");
                    return Ended::Closed;
                }
                Err(_) => {
                    tracing::debug!(peer = %self.peer, "no request within the header read timeout");
                    return Ended::Closed;
                }
            };
            // The head alone, in a buffer of its size; the read buffer is let go unless
            // pipelined bytes follow (a held long-poll keeps only its head).
            let head = Bytes::copy_from_slice(buf.get(..len).unwrap_or_default());
            buf.advance(len);
            if buf.is_empty() {
                buf = BytesMut::new();
            }
            let held = if held {
                self.hold(&stream, &head).await
            } else {
                None
            };
            if matches!(held, Some(None)) {
                return Ended::Closed; // the client went away while held
            }
            let Some(back) = Box::pin(single(
                &self.router,
                stream,
                head,
                self.peer,
                held.flatten(),
            ))
            .await
            else {
                return Ended::Closed;
            };
            if !keep_alive || *self.draining.borrow() {
                return Ended::Closed;
            }
            stream = back;
        }
    }

    /// Holds a request that waits until it can be answered (or the server shuts down).
    /// `None`: not one that waits (hyper answers it); `Some(None)`: the client closed the
    /// connection meanwhile.
    async fn hold(&mut self, stream: &TcpStream, head: &[u8]) -> Option<Option<Held>> {
        let req = request_of(head, self.peer)?;
        let mut held = self.holder.hold(req);
        let mut watch_socket = true;
        loop {
            tokio::select! {
                held = &mut held => return held.map(Some),
                _ = self.draining.wait_for(|d| *d) => return None,
                gone = gone(stream), if watch_socket => {
                    if gone {
                        return Some(None);
                    }
                    // Pipelined bytes: read after this request.
                    watch_socket = false;
                }
            }
        }
    }
}

/// Waits until `stream` is readable: `true` when the client closed it (or it failed),
/// `false` when bytes wait.
async fn gone(stream: &TcpStream) -> bool {
    let mut one = [0u8; 1];
    // `peek` waits for readability and consumes nothing.
    matches!(stream.peek(&mut one).await, Ok(0) | Err(_))
}

/// Reads into `buf` until it starts with a whole head (or with bytes hyper is to judge).
/// `buf` gets room only once the socket is readable: an idle connection holds none.
async fn read_head(stream: &TcpStream, buf: &mut BytesMut) -> io::Result<Head> {
    loop {
        if !buf.is_empty() {
            match classify(buf) {
                Head::Partial => {}
                done => return Ok(done),
            }
        }
        stream.readable().await?;
        if buf.capacity() - buf.len() < HEAD_BUF / 2 {
            buf.reserve(HEAD_BUF);
        }
        match stream.try_read_buf(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// Serves the one request in `head` with a hyper connection of its own and gives the socket
/// back; `None` when the connection cannot go on (an error, or hyper closed it).
async fn single(
    router: &Router,
    stream: TcpStream,
    head: Bytes,
    peer: SocketAddr,
    held: Option<Held>,
) -> Option<TcpStream> {
    let io = TokioIo::new(Prefixed::single(head, stream));
    let service = TowerToHyperService::new(with_peer(router.clone(), peer, held));
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Half-close: hyper reads nothing while the request runs, so the end of the head is not
    // taken for a client gone mid-request (which would answer `Connection: close`).
    builder.half_close(true).header_read_timeout(None);
    match builder
        .serve_connection(io, service)
        .without_shutdown()
        .await
    {
        Ok(parts) => Some(parts.io.into_inner().into_inner()),
        Err(e) => {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which heads are served one at a time, which go to hyper, which need more bytes.
    #[test]
    fn heads_are_classified() {
        // A head served on its own: `Single` with its whole length.
        let one = |text: &str, keep_alive, held| {
            let head = Head::Single {
                len: text.len(),
                keep_alive,
                held,
            };
            (text.to_owned(), head)
        };
        let get = "GET /a.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n";
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS + 1)
        );
        let hyper = |text: &str| (text.to_owned(), Head::Hyper);
        let cases: Vec<(&str, (String, Head))> = vec![
            ("plain GET", one(get, true, false)),
            (
                "pipelined: the first head only",
                (format!("{get}{get}"), one(get, true, false).1),
            ),
            ("partial", ("GET /a HTTP/1.1\r\nHo".into(), Head::Partial)),
            (
                "long-poll",
                one(
                    "GET /api/events?since=3&timeout=25 HTTP/1.1\r\nHost: x\r\n\r\n",
                    true,
                    true,
                ),
            ),
            (
                "SSE is not a long-poll",
                one(
                    "GET /api/events HTTP/1.1\r\nAccept: text/html, text/event-stream;q=1\r\n\r\n",
                    true,
                    false,
                ),
            ),
            (
                "another path",
                one("GET /api/eventsx HTTP/1.1\r\n\r\n", true, false),
            ),
            (
                "HEAD of the channel",
                one("HEAD /api/events HTTP/1.1\r\n\r\n", true, false),
            ),
            (
                "close",
                one(
                    "GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n",
                    false,
                    false,
                ),
            ),
            (
                "empty body",
                one("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", true, false),
            ),
            (
                "a body",
                hyper("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"),
            ),
            (
                "chunked",
                hyper("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ),
            (
                "expect",
                hyper("GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"),
            ),
            (
                "WebSocket",
                hyper(
                    "GET /api/events HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
                ),
            ),
            ("HTTP/1.0", hyper("GET / HTTP/1.0\r\n\r\n")),
            ("malformed", hyper("GET / HTTP/1.1\r\nBad Header\r\n\r\n")),
            ("longer than MAX_HEAD", (long, Head::Hyper)),
            ("more than MAX_HEADERS", (many, Head::Hyper)),
        ];
        for (what, (bytes, want)) in cases {
            assert_eq!(classify(bytes.as_bytes()), want, "{what}");
        }
    }

    /// The request built for a held long-poll carries the head's target, headers and peer.
    #[test]
    fn a_held_request_is_the_head() {
        let peer: SocketAddr = "127.0.0.9:4000".parse().unwrap();
        let head = b"GET /api/events?since=7&token=t HTTP/1.1\r\nOrigin: https://a\r\n\r\n";
        let req = request_of(head, peer).unwrap();
        assert_eq!(req.uri().query(), Some("since=7&token=t"));
        assert_eq!(req.headers()["origin"], "https://a");
        assert_eq!(req.extensions().get::<ClientAddr>().unwrap().0, peer);
    }
}
