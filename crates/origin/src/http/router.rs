// SPDX-License-Identifier: MIT OR Apache-2.0
//! Routes and the edge layer every response passes through (CORS, error caching, metrics,
//! access log).
//!
//! | route          | answer                                                         |
//! |----------------|----------------------------------------------------------------|
//! | `/`            | the player page (embedded HTML)                                 |
//! | `/api/streams` | `{"seq": 12, "streams": ["a/master.m3u8", "b.m3u8"]}` (`seq`: the    |
//! |                | latest event before the listing; follow `/api/events` from it),  |
//! |                | `entries`: per stream kind, state, duration, renditions           |
//! | `/api/events`  | the event channel: WebSocket, SSE or long-poll ([`super::events`]) |
//! | `/favicon.ico` | a 16×16 icon (embedded; browsers ask for it on every page load)  |
//! | `/_hlsorigin/hls.js-V/hls.min.js`, `…/LICENSE` | the embedded hls.js ([`super::hlsjs`]) |
//! | `/healthz`     | `ok`                                                            |
//! | `/metrics`     | Prometheus text exposition ([`crate::metrics`])                 |
//! | anything else  | the object under the root ([`super::files`])                    |

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ALLOW,
    CACHE_CONTROL, CONTENT_LENGTH, ORIGIN, USER_AGENT, WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;

use super::events::{api_events, EventsEdge};
use super::files::{
    plain, serve_object, typed, AppState, PlaylistCache, PlaylistPolicy, PolicyHeaders,
};
use super::hlsjs;
use super::hold::Holder;
use super::policy::route_kind;
use super::signed::{self, ClientAddr};
use crate::config::{self, ServeConfig};
use crate::events::Events;
use crate::metrics::Metrics;
use crate::source::hot::HotCache;
use crate::source::{FsSource, ObjectSource};
use crate::viewers::Viewers;

const INDEX_HTML: &str = include_str!("index.html");
/// A 16×16 play symbol (an ICO holding one PNG), so the page's favicon request is not a 404.
const FAVICON: &[u8] = include_bytes!("favicon.ico");
const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";

/// Header values of `config`, or the name of the first field that is not a valid header value.
pub(crate) fn header_values(
    config: &ServeConfig,
) -> Result<(PolicyHeaders, HeaderValue), &'static str> {
    let hv = |s: &str, name: &'static str| HeaderValue::from_str(s).map_err(|_| name);
    Ok((
        PolicyHeaders {
            cors_origin: hv(&config.cors_origin, "cors_origin")?,
            cache_segment: hv(&config.cache_segment, "cache_segment")?,
            cache_error: hv(&config.cache_error, "cache_error")?,
            cache_other: hv(&config.cache_other, "cache_other")?,
        },
        hv(&config.cache_vod_playlist, "cache_vod_playlist")?,
    ))
}

/// The origin's routes over the filesystem root of `config`.
///
/// A root that cannot be opened, or configured values that are not valid header values, are
/// reported by [`crate::serve`]; here they degrade (every object 404, default headers).
pub fn router(config: &ServeConfig) -> Router {
    let source = FsSource::new(&config.root).unwrap_or_else(|e| {
        tracing::warn!(root = %config.root.display(), error = %e, "cannot open root");
        FsSource::unchecked(&config.root)
    });
    router_with_source(config, source)
}

/// The origin's routes over any [`ObjectSource`].
pub fn router_with_source<S: ObjectSource>(config: &ServeConfig, source: S) -> Router {
    let metrics = Arc::new(Metrics::default());
    let events = source
        .live()
        .map_or_else(Events::default, |l| l.events().clone());
    let edge = Arc::new(EventsEdge::new(config, events, Arc::clone(&metrics)));
    build(config, source, metrics, edge).0
}

pub(crate) fn build<S: ObjectSource>(
    config: &ServeConfig,
    source: S,
    metrics: Arc<Metrics>,
    events: Arc<EventsEdge>,
) -> (Router, Arc<dyn Holder>) {
    let (headers, vod) = header_values(config).unwrap_or_else(|field| {
        tracing::warn!(
            field,
            "invalid header value in configuration; using defaults"
        );
        header_values(&ServeConfig::default()).unwrap_or_else(|_| unreachable_defaults())
    });
    let index = INDEX_HTML.replace("{{HLSJS_URL}}", &escape_html(&config.hlsjs_url));
    let state = Arc::new(AppState {
        source,
        headers,
        playlist_policy: PlaylistPolicy {
            vod,
            live_max_age: config.cache_live_playlist_max_age,
        },
        playlists: PlaylistCache::default(),
        hot: HotCache::new(
            config.hot_cache_mib.saturating_mul(1024 * 1024),
            Arc::clone(&metrics),
        ),
        metrics,
        index_html: Bytes::from(index),
        details: Default::default(),
        events,
        metrics_token: config.metrics_token.clone(),
    });
    let holder: Arc<dyn Holder> = Arc::clone(&state) as Arc<dyn Holder>;
    let router = Router::new()
        .route("/", get(index_page::<S>))
        .route("/api/streams", get(api_streams::<S>))
        .route("/api/events", get(events_route::<S>))
        .route("/favicon.ico", get(favicon))
        .route(hlsjs::SCRIPT_PATH, get(hlsjs::script))
        .route(hlsjs::LICENSE_PATH, get(hlsjs::license))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_page::<S>))
        .fallback(files::<S>)
        .layer(from_fn_with_state(Arc::clone(&state), edge::<S>))
        .with_state(state);
    (router, holder)
}

/// The built-in defaults are valid header values; this keeps `build` total without a panic.
fn unreachable_defaults() -> (PolicyHeaders, HeaderValue) {
    let s = HeaderValue::from_static;
    (
        PolicyHeaders {
            cors_origin: s(config::DEFAULT_CORS_ORIGIN),
            cache_segment: s(config::DEFAULT_CACHE_SEGMENT),
            cache_error: s(config::DEFAULT_CACHE_ERROR),
            cache_other: s(config::DEFAULT_CACHE_OTHER),
        },
        s(config::DEFAULT_CACHE_VOD_PLAYLIST),
    )
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn files<S: ObjectSource>(State(state): State<Arc<AppState<S>>>, req: Request) -> Response {
    let viewer = viewer(&state.events.viewers, &req);
    let res = match signed::gate(state.events.signed.as_deref(), &req) {
        Ok(token) => serve_object(&state, req, token.as_deref()).await,
        Err(why) => signed::denied(&state.metrics, why),
    };
    if let Some((path, client)) = viewer {
        if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
            let now = Instant::now();
            state.events.viewers.record(&path, client, now);
        }
    }
    res
}

/// The object path and client id a request counts as a viewer of (`None` without a peer
/// address: a router used without the server's accept loop).
fn viewer(viewers: &Viewers, req: &Request) -> Option<(String, u64)> {
    let ClientAddr(peer) = req.extensions().get::<ClientAddr>()?;
    let agent = req
        .headers()
        .get(USER_AGENT)
        .map_or(&b""[..], |v| v.as_bytes());
    let path = req.uri().path().trim_start_matches('/').to_owned();
    Some((path, viewers.client(peer.ip(), agent)))
}

async fn index_page<S: ObjectSource>(State(state): State<Arc<AppState<S>>>) -> Response {
    typed(
        state.index_html.clone(),
        "text/html; charset=utf-8",
        "no-cache",
    )
}

async fn events_route<S: ObjectSource>(
    State(state): State<Arc<AppState<S>>>,
    req: Request,
) -> Response {
    api_events(Arc::clone(&state.events), req).await
}

async fn api_streams<S: ObjectSource>(
    State(state): State<Arc<AppState<S>>>,
    req: Request,
) -> Response {
    let visibility = signed::visibility(state.events.signed.as_deref(), &req);
    // Taken before listing: an event after it may already show in the list (seen twice),
    // none can be missed.
    let seq = state.events.events.last_seq();
    let streams = match state.source.list_streams().await {
        Ok(mut s) => {
            if let Some(v) = &visibility {
                s.retain(|playlist| v.shows_path(&format!("/{playlist}")));
            }
            s
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot list streams");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot list streams\n");
        }
    };
    let mut entries = Vec::with_capacity(streams.len());
    let now = Instant::now();
    for playlist in &streams {
        let mut entry = state.details.entry(&state.source, playlist).await;
        if let Some(name) = entry["name"].as_str() {
            let viewers = &state.events.viewers;
            viewers.stream(name);
            entry["viewers"] = viewers.count(name, now).into();
        }
        entries.push(entry);
    }
    let body =
        serde_json::json!({ "seq": seq, "streams": streams, "entries": entries }).to_string();
    typed(body, "application/json", "no-cache")
}

async fn favicon() -> Response {
    typed(
        Bytes::from_static(FAVICON),
        "image/x-icon",
        "public, max-age=86400",
    )
}

async fn healthz() -> Response {
    let mut res = plain(StatusCode::OK, "ok");
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn metrics_page<S: ObjectSource>(
    State(state): State<Arc<AppState<S>>>,
    req: Request,
) -> Response {
    if let Some(want) = &state.metrics_token {
        if !signed::metrics_allowed(want, &req) {
            let mut res = plain(StatusCode::UNAUTHORIZED, "metrics need their token\n");
            let h = res.headers_mut();
            h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return res;
        }
    }
    let mut text = state.metrics.render();
    state.source.render_metrics(&mut text);
    typed(text, "text/plain; version=0.0.4; charset=utf-8", "no-store")
}

/// CORS preflight (Fetch standard, CORS protocol) or a plain `OPTIONS`.
fn options(req: &HeaderMap) -> Response {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    h.insert(ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
    if req.contains_key(ORIGIN) && req.contains_key(ACCESS_CONTROL_REQUEST_METHOD) {
        h.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        h.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Range, If-Range, If-None-Match, If-Modified-Since, If-Match"),
        );
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    }
    res
}

/// Wraps every route: answers `OPTIONS`, adds CORS headers, gives errors `cache_error`,
/// records metrics and writes the access log line.
async fn edge<S: ObjectSource>(
    State(state): State<Arc<AppState<S>>>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    // Owned copies, not a clone of the `Uri`: its bytes are a view of the connection's read
    // buffer, which a held request (long-poll, blocking reload) would otherwise keep alive
    // beside the one hyper reserves for the next read (memory per held request).
    let kind = route_kind(req.uri().path());
    let target: Box<str> = req
        .uri()
        .path_and_query()
        .map_or(req.uri().path(), |pq| pq.as_str())
        .into();
    let mut res = if method == Method::OPTIONS {
        options(req.headers())
    } else {
        next.run(req).await
    };
    let status = res.status();
    let h = res.headers_mut();
    h.insert(
        ACCESS_CONTROL_ALLOW_ORIGIN,
        state.headers.cors_origin.clone(),
    );
    h.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Content-Length, Content-Range, ETag, Age, Date"),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Errors get the short error lifetime, except those that must never be stored
    // (signed-URL refusals: another client's token may open the same URL).
    let no_store = h.get(CACHE_CONTROL).is_some_and(|v| v == "no-store");
    if (status.is_client_error() || status.is_server_error()) && !no_store {
        h.insert(CACHE_CONTROL, state.headers.cache_error.clone());
    }
    let bytes = if method == Method::HEAD {
        0
    } else {
        h.get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .or_else(|| HttpBody::size_hint(res.body()).exact())
            .unwrap_or(0)
    };
    let elapsed = start.elapsed();
    state.metrics.record(kind, status.as_u16(), bytes, elapsed);
    tracing::info!(
        target: "origin::access",
        method = %method,
        uri = %target,
        status = status.as_u16(),
        bytes,
        ms = elapsed.as_secs_f64() * 1000.0,
    );
    res
}
