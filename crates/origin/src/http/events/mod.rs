// SPDX-License-Identifier: MIT OR Apache-2.0
//! `/api/events`: the HTTP edges of the event hub ([`crate::events`]), one URL, three ways.
//!
//! - **WebSocket** (RFC 6455) when the request asks for `Upgrade: websocket` ([`ws`]).
//! - **Server-Sent Events** (HTML Living Standard 9.2) when it accepts `text/event-stream`
//!   ([`sse`]).
//! - **Long-poll** otherwise: `?since=SEQ&timeout=25` holds until at least one matching
//!   event exists ([`Events::wait`], one watch channel, no task per request), then answers a
//!   JSON array (empty after the timeout) with `Cache-Control: no-store`.
//!
//! Query: `since=SEQ` (or SSE's `Last-Event-ID`), `stream=NAME` (repeatable),
//! `types=a,b`, `timeout=SECS` (long-poll, at most [`MAX_TIMEOUT_SECS`]). A query the hub
//! refuses (unknown types, `since` after the latest event) is a 400 naming the reason; an
//! `Origin` not in `--events-allowed-origins` is a 403.

mod runtime;
mod sse;
mod ws;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ORIGIN, UPGRADE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use percent_encoding::percent_decode_str;
use tokio::sync::Semaphore;

use crate::config::ServeConfig;
use crate::events::{session_id, Events, EventsError, Filter, Payload};
use crate::metrics::Metrics;
use crate::viewers::Viewers;

/// How often changed viewer counts become `stream.viewers` events (at most this often).
const VIEWERS_INTERVAL: Duration = Duration::from_secs(5);
/// Longest long-poll hold, in seconds.
pub(crate) const MAX_TIMEOUT_SECS: u64 = 60;
/// Long-poll hold when the request names none.
const DEFAULT_TIMEOUT_SECS: u64 = 25;
/// WebSocket connections the shutdown waits for (their 1001 close handshake): more than
/// can be open.
const SOCKET_SLOTS: u32 = 1 << 24;

/// What the `/api/events` edges share.
#[derive(Debug)]
pub(crate) struct EventsEdge {
    pub(crate) events: Events,
    /// `None`: any origin.
    allowed_origins: Option<Vec<String>>,
    /// Most WebSocket and SSE subscribers at once.
    max_subscribers: u64,
    /// Interval of WebSocket pings; a socket that misses two pongs is closed.
    ping_interval: Duration,
    /// Interval of SSE comment lines.
    sse_keepalive: Duration,
    /// One permit per open WebSocket; shutdown waits until all are back.
    sockets: Arc<Semaphore>,
    /// Where the WebSocket sessions run (`--events-threads`).
    sessions: runtime::Sessions,
    metrics: Arc<Metrics>,
    /// Viewer estimates per stream, reported by `/api/streams` and `stream.viewers`.
    pub(crate) viewers: Viewers,
    /// Signed URLs (the server's one policy; also used by the file routes): protected
    /// streams are hidden from subscribers without a token for them.
    pub(crate) signed: Option<Arc<crate::signing::Policy>>,
}

impl EventsEdge {
    pub(crate) fn new(config: &ServeConfig, events: Events, metrics: Arc<Metrics>) -> Self {
        let origins = &config.events_allowed_origins;
        EventsEdge {
            events,
            allowed_origins: (!origins.iter().any(|o| o == "*")).then(|| origins.clone()),
            max_subscribers: u64::try_from(config.events_max_subscribers).unwrap_or(u64::MAX),
            ping_interval: Duration::from_secs(config.events_ping_interval_secs.max(1)),
            sse_keepalive: Duration::from_secs(15),
            sockets: Arc::new(Semaphore::new(SOCKET_SLOTS as usize)),
            sessions: runtime::Sessions::new(config.events_threads),
            metrics,
            viewers: Viewers::default(),
            // An unusable configuration protects everything (`Server::bind` refuses it first).
            signed: config
                .signing()
                .unwrap_or_else(|_| Some(crate::signing::Policy::deny_all()))
                .map(Arc::new),
        }
    }

    /// Reports changed viewer counts as `stream.viewers` events every [`VIEWERS_INTERVAL`]
    /// until the hub's server stops (the task ends with `stop`).
    pub(crate) async fn report_viewers(
        self: Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let session = session_id();
        // The first report one interval after the start (an interval's first tick is at once).
        let start = tokio::time::Instant::now() + VIEWERS_INTERVAL;
        let mut tick = tokio::time::interval_at(start, VIEWERS_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            for (stream, viewers) in self.viewers.changes(std::time::Instant::now()) {
                self.events
                    .publish(&stream, &session, Payload::StreamViewers { viewers });
            }
        }
    }

    /// Waits (at most `timeout`) until every WebSocket has finished its closing handshake:
    /// call after [`Events::close_subscribers`].
    pub(crate) async fn sockets_closed(&self, timeout: Duration) -> bool {
        let all = self.sockets.acquire_many(SOCKET_SLOTS);
        matches!(tokio::time::timeout(timeout, all).await, Ok(Ok(_)))
    }

    fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let (Some(allowed), Some(origin)) = (&self.allowed_origins, headers.get(ORIGIN)) else {
            return true;
        };
        let origin = origin.to_str().unwrap_or("");
        allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
    }
}

/// Counts one connected subscriber (WebSocket or SSE) while alive.
struct SubscriberGauge(Arc<Metrics>);

impl SubscriberGauge {
    /// A place among the edge's subscribers, if fewer than its maximum hold one.
    fn reserve(edge: &EventsEdge) -> Result<Self, EventsError> {
        let max = edge.max_subscribers;
        let gauge = &edge.metrics.events.subscribers;
        match gauge.fetch_update(Relaxed, Relaxed, |n| (n < max).then_some(n + 1)) {
            Ok(_) => Ok(SubscriberGauge(Arc::clone(&edge.metrics))),
            Err(_) => Err(EventsError::TooManySubscribers(
                usize::try_from(max).unwrap_or(usize::MAX),
            )),
        }
    }

    fn sent(&self) {
        self.0.events.sent.fetch_add(1, Relaxed);
    }
}

impl Drop for SubscriberGauge {
    fn drop(&mut self) {
        let _ = self
            .0
            .events
            .subscribers
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
    }
}

/// A parsed `/api/events` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    pub(crate) since: Option<u64>,
    pub(crate) filter: Filter,
    pub(crate) timeout: Duration,
}

impl Query {
    /// Parses the query string (`application/x-www-form-urlencoded`); `last_event_id` is
    /// SSE's resume header, used when the query has no `since`.
    pub(crate) fn parse(query: Option<&str>, last_event_id: Option<&str>) -> Result<Self, String> {
        let mut since = None;
        let mut streams = Vec::new();
        let mut types: Option<String> = None;
        let mut timeout = DEFAULT_TIMEOUT_SECS;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value);
            match key {
                "since" => since = Some(number("since", &value)?),
                "stream" => streams.push(value),
                "types" => {
                    // Repeated `types` add up, like `types=a,b`.
                    let all = types.map_or(value.clone(), |t| format!("{t},{value}"));
                    types = Some(all);
                }
                "timeout" => timeout = number("timeout", &value)?,
                _ => {}
            }
        }
        if since.is_none() {
            if let Some(id) = last_event_id.map(str::trim).filter(|id| !id.is_empty()) {
                since = Some(number("Last-Event-ID", id)?);
            }
        }
        if timeout > MAX_TIMEOUT_SECS {
            return Err(format!(
                "timeout must be at most {MAX_TIMEOUT_SECS} seconds"
            ));
        }
        let filter = Filter::parse(streams.iter().map(String::as_str), types.as_deref())
            .map_err(|e| e.to_string())?;
        Ok(Query {
            since,
            filter,
            timeout: Duration::from_secs(timeout),
        })
    }
}

fn decode(value: &str) -> String {
    percent_decode_str(&value.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn number(name: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("{name} must be a non-negative integer, not {value:?}"))
}

/// A long-poll its connection held before hyper saw it (`http/cycle.rs`,
/// [`EventsEdge::hold`]): the `since` it waited from and when its timeout ends. The handler
/// answers from the same `since` and waits no longer than the deadline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    since: u64,
    deadline: tokio::time::Instant,
}

impl EventsEdge {
    /// The query of an `/api/events` request, as the subscriber may see it (origin, query,
    /// signed-URL visibility, `since` not in the future), or the answer refusing it.
    fn query(&self, req: &Request) -> Result<Query, Box<Response>> {
        let headers = req.headers();
        if !self.origin_allowed(headers) {
            return Err(Box::new(text(
                StatusCode::FORBIDDEN,
                "origin not allowed\n".into(),
            )));
        }
        let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
        let mut query = Query::parse(req.uri().query(), last_event_id)
            .map_err(|reason| Box::new(text(StatusCode::BAD_REQUEST, format!("{reason}\n"))))?;
        if let Some(v) = super::signed::visibility(self.signed.as_deref(), req) {
            query.filter = query.filter.visible(v);
        }
        // `since` from the future is refused before anything else (a 400, not a close code).
        if let Some(since) = query.since {
            self.events
                .read(since, &query.filter, 0)
                .map_err(|e| Box::new(refused(&e)))?;
        }
        Ok(query)
    }

    /// Waits until the long-poll `req` has a matching event or its timeout passed, keeping
    /// nothing of the request. `None`: not a long-poll the hub holds (a refusal, a WebSocket,
    /// SSE), which the handler answers.
    pub(crate) async fn hold(&self, req: Request) -> Option<Held> {
        if wants_websocket(req.headers()) || accepts_event_stream(req.headers()) {
            return None;
        }
        let query = self.query(&req).ok()?;
        drop(req);
        let since = query.since.unwrap_or_else(|| self.events.last_seq());
        let deadline = tokio::time::Instant::now() + query.timeout;
        // The events themselves are read again by the handler.
        let _ = self.events.wait(since, &query.filter, query.timeout).await;
        Some(Held { since, deadline })
    }
}

/// `GET /api/events`.
pub(crate) async fn api_events(edge: Arc<EventsEdge>, req: Request) -> Response {
    let query = match edge.query(&req) {
        Ok(q) => q,
        Err(res) => return *res,
    };
    let headers = req.headers();
    if wants_websocket(headers) {
        // Boxed: the upgrade's states are large and would size every held long-poll's
        // future (memory per idle subscriber).
        return Box::pin(ws::upgrade(edge, req, query)).await;
    }
    if accepts_event_stream(headers) {
        return sse::stream(&edge, query);
    }
    let held = req.extensions().get::<Held>().copied();
    // A held long-poll keeps nothing of its request (headers, URI, extensions).
    drop(req);
    long_poll(&edge, query, held).await
}

/// `Upgrade: websocket` (RFC 6455 4.1; the token is case-insensitive).
fn wants_websocket(headers: &HeaderMap) -> bool {
    headers
        .get_all(UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
}

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .any(|v| lists_event_stream(v.as_bytes()))
}

/// Whether the value of an `Accept` header lists `text/event-stream` (whatever its
/// parameters): the request is for SSE (also read on the connection, before hyper).
pub(in crate::http) fn lists_event_stream(accept: &[u8]) -> bool {
    accept.split(|&b| b == b',').any(|t| {
        let media = t.split(|&b| b == b';').next().unwrap_or_default();
        media
            .trim_ascii()
            .eq_ignore_ascii_case(b"text/event-stream")
    })
}

async fn long_poll(edge: &EventsEdge, query: Query, held: Option<Held>) -> Response {
    let (since, timeout) = match held {
        Some(h) => (
            h.since,
            h.deadline - tokio::time::Instant::now().min(h.deadline),
        ),
        None => (
            query.since.unwrap_or_else(|| edge.events.last_seq()),
            query.timeout,
        ),
    };
    let items = match edge.events.wait(since, &query.filter, timeout).await {
        Ok(items) => items,
        Err(e) => return refused(&e),
    };
    let mut body = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&item.json());
    }
    body.push(']');
    edge.metrics
        .events
        .sent
        .fetch_add(items.len() as u64, Relaxed);
    let mut res = Response::new(Body::from(body));
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The answer to a request the hub refuses.
fn refused(e: &EventsError) -> Response {
    let status = match e {
        EventsError::TooManySubscribers(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    text(status, format!("{e}\n"))
}

fn text(status: StatusCode, body: String) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests;
